/* metrics_read.c - see metrics_read.h. */
#include <stdlib.h>
#include <string.h>

#include "metrics_read.h"

double
metrics_read_value(const char *text, const char *series)
{
	const char *p = text;
	size_t n = strlen(series);

	while ((p = strstr(p, series)) != NULL) {
		if ((p == text || p[-1] == '\n') && p[n] == ' ')
			return strtod(p + n + 1, NULL);
		p += n;
	}
	return -1;
}
