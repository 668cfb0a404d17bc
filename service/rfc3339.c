/*
 * rfc3339.c - RFC 3339 date-times (rfc3339.h).
 *
 * Day numbers: the proleptic Gregorian calendar repeats every 400 years
 * (an "era" of 146097 days).  Counting years from March 1 puts the leap
 * day last, so with the day of the year doy counted from March 1 and
 * the shifted month mp in 0..11 (March = 0),
 *
 *   doy = (153 * mp + 2) / 5 + d - 1
 *
 * (the month lengths 31 30 31 30 31 repeat with period 5 months / 153
 * days), and with yoe the year of the era (0..399),
 *
 *   day of era  doe = 365 yoe + yoe/4 - yoe/100 + doy
 *   days since 1970-01-01 = 146097 era + doe - 719468
 *
 * (719468 = days from 0000-03-01 to 1970-01-01).  The inverse takes the
 * same steps backwards: yoe = (doe - doe/1460 + doe/36524 - doe/146096)
 * / 365 removes the leap days before dividing by 365.  All divisions are
 * on non-negative numbers but the era's, which floors explicitly.  These
 * are H. Hinnant's days_from_civil / civil_from_days ("chrono-compatible
 * low-level date algorithms"), exact for every int64 day that fits.
 */
#include <stdio.h>
#include <time.h>

#include "rfc3339.h"

static int64_t
days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static void
civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
	int64_t era, doe, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}

static int
read_digits(const char *s, size_t n, int *out)
{
	size_t i;
	int v = 0;

	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 0;
}

int
rfc3339_parse(const char *s, size_t len, struct rfc3339_time *out)
{
	static const int mdays[12] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31,
		30, 31 };
	int y, mo, d, h, mi, sec, oh = 0, om = 0, leap, nfrac = 0, k;
	int32_t nsec = 0;
	size_t i = 19;

	if (len < 20 || s[4] != '-' || s[7] != '-' ||
	    (s[10] != 'T' && s[10] != 't') || s[13] != ':' || s[16] != ':' ||
	    read_digits(s, 4, &y) || read_digits(s + 5, 2, &mo) ||
	    read_digits(s + 8, 2, &d) || read_digits(s + 11, 2, &h) ||
	    read_digits(s + 14, 2, &mi) || read_digits(s + 17, 2, &sec))
		return -1;
	if (mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || sec > 59)
		return -1;
	leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	if (d > mdays[mo - 1] || (mo == 2 && d == 29 && !leap))
		return -1;
	if (s[i] == '.') {
		size_t start = ++i;

		for (; i < len && s[i] >= '0' && s[i] <= '9'; i++) {
			if (i - start < 9) /* nanoseconds at most */
				nsec = nsec * 10 + (s[i] - '0');
		}
		if (i == start)
			return -1;
		nfrac = i - start < 9 ? (int)(i - start) : 9;
		for (k = nfrac; k < 9; k++)
			nsec *= 10;
	}
	if (i < len && (s[i] == 'Z' || s[i] == 'z')) {
		i++;
	} else if (i < len && (s[i] == '+' || s[i] == '-')) {
		if (len - i < 6 || s[i + 3] != ':' ||
		    read_digits(s + i + 1, 2, &oh) ||
		    read_digits(s + i + 4, 2, &om) || oh > 23 || om > 59)
			return -1;
		if (s[i] == '-') {
			oh = -oh;
			om = -om;
		}
		i += 6;
	} else {
		return -1;
	}
	if (i != len)
		return -1;
	out->sec = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 +
	    sec - (oh * 3600 + om * 60);
	out->nsec = nsec;
	out->digits = nfrac;
	return 0;
}

size_t
rfc3339_format(char *out, size_t cap, const struct rfc3339_time *t)
{
	static const int32_t scale[10] = { 1000000000, 100000000, 10000000,
		1000000, 100000, 10000, 1000, 100, 10, 1 };
	int64_t day, rem, y;
	int m, d, nd = t->digits < 0 ? 0 : t->digits > 9 ? 9 : t->digits, n;

	/* floor division: times before 1970 fall on the previous day */
	day = t->sec / 86400;
	rem = t->sec % 86400;
	if (rem < 0) {
		rem += 86400;
		day--;
	}
	civil_from_days(day, &y, &m, &d);
	/* "%.0ld" of 0 prints nothing: no fraction when nd is 0 */
	n = snprintf(out, cap, "%04lld-%02d-%02dT%02d:%02d:%02d%s%.*ldZ",
	    (long long)y, m, d, (int)(rem / 3600), (int)(rem / 60 % 60),
	    (int)(rem % 60), nd > 0 ? "." : "", nd,
	    nd > 0 ? (long)(t->nsec / scale[nd]) : 0L);
	if (n < 0)
		return 0;
	return (size_t)n < cap ? (size_t)n : cap > 0 ? cap - 1 : 0;
}

/* rfc3339_pin_now(): this thread's fixed "now", when pinned */
static _Thread_local int pinned;
static _Thread_local int64_t pinned_sec;

void
rfc3339_pin_now(const struct rfc3339_time *t)
{
	pinned = t != NULL;
	pinned_sec = t != NULL ? t->sec : 0;
}

void
rfc3339_now(struct rfc3339_time *out, int digits)
{
	struct timespec ts;

	if (pinned) {
		out->sec = pinned_sec;
		out->nsec = 0;
		out->digits = digits;
		return;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	out->sec = (int64_t)ts.tv_sec;
	out->nsec = (int32_t)ts.tv_nsec;
	out->digits = digits;
}
