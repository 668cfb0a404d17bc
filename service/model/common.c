/*
 * common.c - status strings of the model library.
 */
#include "cascade/common.h"

const char *
lc_status_str(enum lc_status st)
{
	switch (st) {
	case LC_OK:
		return "ok";
	case LC_EINVAL:
		return "invalid argument";
	case LC_EDOMAIN:
		return "out of domain";
	case LC_ELIMIT:
		return "limit exceeded";
	case LC_ENOMEM:
		return "out of memory";
	}
	return "unknown status";
}
