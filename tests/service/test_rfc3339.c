/*
 * test_rfc3339.c - the RFC 3339 module (rfc3339.h): hand-checked times
 * (offsets, fractions, lower-case separators), a table of rejects, every
 * calendar day of the leap-year edge years against libc's timegm/gmtime_r,
 * parse of random times with random offsets against timegm, format of
 * random instants against gmtime_r, and parse(format(t)) == t.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <check.h>

#include "rfc3339.h"
#include "splitmix.h"

/* 0000-01-01T00:00:00Z and 9999-12-31T23:59:59Z. */
#define SEC_YEAR0 (-62167219200LL)
#define SEC_Y9999 253402300799LL

static int
parse(const char *s, struct rfc3339_time *t)
{
	return rfc3339_parse(s, strlen(s), t);
}

/*
 * The reference of the calendar: libc's timegm of the broken-down time,
 * -1 and *valid = 0 when timegm had to normalise it (no such day).
 */
static int64_t
ref_timegm(int64_t y, int mo, int d, int h, int mi, int s, int *valid)
{
	struct tm tm;
	time_t t;

	memset(&tm, 0, sizeof(tm));
	tm.tm_year = (int)(y - 1900);
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = s;
	t = timegm(&tm);
	*valid = tm.tm_year == (int)(y - 1900) && tm.tm_mon == mo - 1 &&
	    tm.tm_mday == d;
	return (int64_t)t;
}

/* ---- fixed cases ---------------------------------------------------- */

START_TEST(test_known)
{
	static const struct {
		const char *in;
		const char *out;
		int64_t sec;
		int32_t nsec;
		int digits;
	} cases[] = {
		{ "2026-11-26T00:00:00Z", "2026-11-26T00:00:00Z", 1795651200,
		    0, 0 },
		{ "2026-11-26T01:30:00.250+01:30", "2026-11-26T00:00:00.250Z",
		    1795651200, 250000000, 3 },
		{ "2024-02-29t23:00:00-02:00", "2024-03-01T01:00:00Z",
		    1709254800, 0, 0 },
		{ "1970-01-01T00:00:00Z", "1970-01-01T00:00:00Z", 0, 0, 0 },
		{ "1970-01-01T00:00:00+00:00", "1970-01-01T00:00:00Z", 0, 0,
		    0 },
		{ "1970-01-01T00:00:00-00:00", "1970-01-01T00:00:00Z", 0, 0,
		    0 },
		{ "1969-12-31T23:59:59.999999999z",
		    "1969-12-31T23:59:59.999999999Z", -1, 999999999, 9 },
		{ "1970-01-01T00:00:00.5+00:01", "1969-12-31T23:59:00.5Z", -60,
		    500000000, 1 },
		/* fractions: kept as given, cut (not rounded) at 9 digits */
		{ "2000-01-01T00:00:00.000Z", "2000-01-01T00:00:00.000Z",
		    946684800, 0, 3 },
		{ "2000-01-01T00:00:00.0000000019999Z",
		    "2000-01-01T00:00:00.000000001Z", 946684800, 1, 9 },
		{ "2000-01-01T00:00:00.1234567899Z",
		    "2000-01-01T00:00:00.123456789Z", 946684800, 123456789, 9 },
		{ "2000-01-01T00:00:00.010-00:00", "2000-01-01T00:00:00.010Z",
		    946684800, 10000000, 3 },
		/* offsets at their limits carry across days and years */
		{ "1999-12-31T23:59:59-23:59", "2000-01-01T23:58:59Z",
		    946684800 + 86339, 0, 0 },
		{ "2000-01-01T00:00:00+23:59", "1999-12-31T00:01:00Z",
		    946684800 - 86340, 0, 0 },
		{ "2000-03-01T00:30:00+01:00", "2000-02-29T23:30:00Z",
		    951867000, 0, 0 },
		{ "2100-03-01T00:30:00+01:00", "2100-02-28T23:30:00Z",
		    4107540600, 0, 0 },
		{ "0000-01-01T00:00:00Z", "0000-01-01T00:00:00Z", SEC_YEAR0, 0,
		    0 },
		{ "9999-12-31T23:59:59Z", "9999-12-31T23:59:59Z", SEC_Y9999, 0,
		    0 },
	};
	char buf[RFC3339_MAX];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct rfc3339_time t;
		size_t n;

		ck_assert_msg(parse(cases[i].in, &t) == 0, "%s rejected",
		    cases[i].in);
		ck_assert_msg(t.sec == cases[i].sec, "%s: sec %lld, want %lld",
		    cases[i].in, (long long)t.sec, (long long)cases[i].sec);
		ck_assert_int_eq(t.nsec, cases[i].nsec);
		ck_assert_int_eq(t.digits, cases[i].digits);
		n = rfc3339_format(buf, sizeof(buf), &t);
		ck_assert_str_eq(buf, cases[i].out);
		ck_assert_uint_eq(n, strlen(cases[i].out));
	}
}
END_TEST

static const char *const rejects[] = {
	"",
	"2026-11-26",
	"2026-11-26T00:00:00",        /* no offset */
	"2026-11-26 00:00:00Z",       /* space for T */
	"2026-11-26X00:00:00Z",
	"2026/11/26T00:00:00Z",
	"2026-11-26T00-00-00Z",
	"26-11-26T00:00:00Z",
	"+2026-11-26T00:00:00Z",
	"2026-1-26T00:00:00Z",
	"2026-11-26T0:00:00Z",
	"2026-11-26T00:00:0Z",
	"2026-11-26T00:00:00ZZ",
	"2026-11-26T00:00:00Zx",
	"2026-11-26T00:00:00z ",
	" 2026-11-26T00:00:00Z",
	"2026-11-26T00:00:00.Z",      /* empty fraction */
	"2026-11-26T00:00:00.",
	"2026-11-26T00:00:00,5Z",
	"2026-11-26T00:00:00.5",
	"2026-11-26T00:00:00.5x",
	"2026-11-26T00:00:00+0100",   /* offsets need the colon */
	"2026-11-26T00:00:00+01",
	"2026-11-26T00:00:00+1:00",
	"2026-11-26T00:00:00+01:0",
	"2026-11-26T00:00:00+01:000",
	"2026-11-26T00:00:00+24:00",
	"2026-11-26T00:00:00-24:00",
	"2026-11-26T00:00:00+01:60",
	"2026-11-26T00:00:00+a1:00",
	"2026-11-26T00:00:00 +01:00",
	"2026-00-26T00:00:00Z",
	"2026-13-26T00:00:00Z",
	"2026-11-00T00:00:00Z",
	"2026-11-31T00:00:00Z",
	"2026-04-31T00:00:00Z",
	"2026-01-32T00:00:00Z",
	"2026-11-26T24:00:00Z",
	"2026-11-26T23:60:00Z",
	"2026-12-31T23:59:60Z",       /* leap second */
	"2016-12-31T23:59:60Z",       /* even a real one */
	"2026-02-29T00:00:00Z",
	"2023-02-29T00:00:00Z",
	"1900-02-29T00:00:00Z",       /* divisible by 100, not 400 */
	"2100-02-29T00:00:00Z",
	"2024-02-30T00:00:00Z",
	"2026-11-26T-1:00:00Z",
	"2026-1a-26T00:00:00Z",
	"2026-11-26T00:00:00Z\n",
};

START_TEST(test_reject)
{
	struct rfc3339_time t = { 42, 7, 1 };
	const char *s = rejects[_i];

	ck_assert_msg(rfc3339_parse(s, strlen(s), &t) == -1, "'%s' accepted",
	    s);
	/* *out untouched on failure */
	ck_assert_int_eq(t.sec, 42);
	ck_assert_int_eq(t.nsec, 7);
	ck_assert_int_eq(t.digits, 1);
}
END_TEST

/* len bounds the text: the bytes after it are never read. */
START_TEST(test_length)
{
	const char *s = "2026-11-26T00:00:00Z+garbage";
	struct rfc3339_time t;

	ck_assert_int_eq(rfc3339_parse(s, 20, &t), 0);
	ck_assert_int_eq(t.sec, 1795651200);
	ck_assert_int_eq(rfc3339_parse(s, 19, &t), -1);
	ck_assert_int_eq(rfc3339_parse(s, 21, &t), -1);
	ck_assert_int_eq(rfc3339_parse("2026-11-26T00:00:00.25Z", 22, &t),
	    -1);
}
END_TEST

/* ---- the calendar against libc -------------------------------------- */

/*
 * Every (month, day 1-31) of the years around the leap-rule edges:
 * accepted exactly when timegm keeps the date, at timegm's seconds.
 */
START_TEST(test_calendar_edges)
{
	static const int years[] = { 0, 1, 4, 96, 100, 1600, 1700, 1800,
		1896, 1900, 1904, 1969, 1970, 1972, 1999, 2000, 2001, 2023,
		2024, 2100, 2400, 9996, 9999 };
	char s[64], buf[RFC3339_MAX];
	size_t k;
	int mo, d, nvalid = 0;

	for (k = 0; k < sizeof(years) / sizeof(years[0]); k++) {
		for (mo = 1; mo <= 12; mo++) {
			for (d = 1; d <= 31; d++) {
				struct rfc3339_time t;
				int valid, rc;
				int64_t ref;

				ref = ref_timegm(years[k], mo, d, 12, 34, 56,
				    &valid);
				snprintf(s, sizeof(s),
				    "%04d-%02d-%02dT12:34:56Z", years[k], mo,
				    d);
				rc = parse(s, &t);
				ck_assert_msg(rc == (valid ? 0 : -1),
				    "%s: rc %d, libc says %s", s, rc,
				    valid ? "valid" : "invalid");
				if (!valid)
					continue;
				nvalid++;
				ck_assert_msg(t.sec == ref, "%s: %lld != %lld",
				    s, (long long)t.sec, (long long)ref);
				rfc3339_format(buf, sizeof(buf), &t);
				ck_assert_str_eq(buf, s);
			}
		}
	}
	/* 11 leap years: 0 4 96 1600 1896 1904 1972 2000 2024 2400 9996 */
	ck_assert_int_eq(nvalid, 365 * 23 + 11);
}
END_TEST

/* Random dates, times and offsets: sec = timegm(local) - offset. */
START_TEST(test_parse_random)
{
	uint64_t seed = 0x3339ULL;
	int iter;

	for (iter = 0; iter < 20000; iter++) {
		int64_t y = (int64_t)rng_below(&seed, 10000), ref;
		int mo = 1 + (int)rng_below(&seed, 12);
		int d = 1 + (int)rng_below(&seed, 28);
		int h = (int)rng_below(&seed, 24);
		int mi = (int)rng_below(&seed, 60);
		int sec = (int)rng_below(&seed, 60);
		int oh = (int)rng_below(&seed, 24);
		int om = (int)rng_below(&seed, 60);
		int sign = rng_below(&seed, 2) ? 1 : -1, valid;
		char s[64];
		struct rfc3339_time t;

		ref = ref_timegm(y, mo, d, h, mi, sec, &valid);
		ck_assert(valid);
		snprintf(s, sizeof(s),
		    "%04lld-%02d-%02dT%02d:%02d:%02d%c%02d:%02d", (long long)y,
		    mo, d, h, mi, sec, sign > 0 ? '+' : '-', oh, om);
		ck_assert_msg(parse(s, &t) == 0, "%s rejected", s);
		ck_assert_msg(t.sec == ref - sign * (oh * 3600 + om * 60),
		    "%s: %lld", s, (long long)t.sec);
		ck_assert_int_eq(t.nsec, 0);
		ck_assert_int_eq(t.digits, 0);
	}
}
END_TEST

/*
 * Random instants of years 0-9999 with random fractions: the text is
 * gmtime_r's fields and the fraction's leading digits, and parses back
 * to the same instant (nanoseconds cut to the digits shown).
 */
START_TEST(test_format_random)
{
	uint64_t seed = 0xf0f0ULL;
	int iter;

	for (iter = 0; iter < 20000; iter++) {
		struct rfc3339_time t, back;
		char got[RFC3339_MAX], ref[64], frac[16];
		struct tm tm;
		time_t tt;
		int32_t cut = 1000000000;
		int k;

		t.sec = SEC_YEAR0 + (int64_t)rng_below(&seed,
		                        (size_t)(SEC_Y9999 - SEC_YEAR0 + 1));
		if (iter < 64)
			t.sec = iter % 2 ? SEC_Y9999 - iter : SEC_YEAR0 + iter;
		t.nsec = (int32_t)rng_below(&seed, 1000000000);
		t.digits = (int)rng_below(&seed, 10);
		tt = (time_t)t.sec;
		ck_assert_ptr_nonnull(gmtime_r(&tt, &tm));
		snprintf(frac, sizeof(frac), ".%09d", (int)t.nsec);
		frac[t.digits > 0 ? t.digits + 1 : 0] = '\0';
		snprintf(ref, sizeof(ref), "%04d-%02d-%02dT%02d:%02d:%02d%sZ",
		    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		    tm.tm_min, tm.tm_sec, frac);
		ck_assert_uint_eq(rfc3339_format(got, sizeof(got), &t),
		    strlen(ref));
		ck_assert_str_eq(got, ref);

		ck_assert_int_eq(parse(got, &back), 0);
		ck_assert_int_eq(back.sec, t.sec);
		ck_assert_int_eq(back.digits, t.digits);
		for (k = 0; k < t.digits; k++)
			cut /= 10;
		ck_assert_int_eq(back.nsec, t.nsec - t.nsec % cut);
	}
}
END_TEST

/* A short buffer gets a truncated, NUL-terminated prefix. */
START_TEST(test_format_short)
{
	struct rfc3339_time t = { 1795651200, 250000000, 3 };
	char buf[8];

	ck_assert_uint_eq(rfc3339_format(buf, sizeof(buf), &t), 7);
	ck_assert_str_eq(buf, "2026-11");
	/* out-of-range digits are clamped to 0..9 */
	t.digits = 12;
	{
		char big[RFC3339_MAX];

		rfc3339_format(big, sizeof(big), &t);
		ck_assert_str_eq(big, "2026-11-26T00:00:00.250000000Z");
		t.digits = -3;
		rfc3339_format(big, sizeof(big), &t);
		ck_assert_str_eq(big, "2026-11-26T00:00:00Z");
	}
}
END_TEST

/* The clock, checked against CLOCK_REALTIME read around it. */
START_TEST(test_now)
{
	static const int widths[] = { 20, 22, 23, 24, 25, 26, 27, 28, 29, 30 };
	struct timespec before, after;
	int digits;

	for (digits = 0; digits <= 9; digits++) {
		struct rfc3339_time t, back;
		char buf[RFC3339_MAX];

		clock_gettime(CLOCK_REALTIME, &before);
		rfc3339_now(&t, digits);
		clock_gettime(CLOCK_REALTIME, &after);
		ck_assert_int_eq(t.digits, digits);
		ck_assert(t.nsec >= 0 && t.nsec < 1000000000);
		ck_assert(t.sec > (int64_t)before.tv_sec ||
		    (t.sec == (int64_t)before.tv_sec &&
		        t.nsec >= before.tv_nsec));
		ck_assert(t.sec < (int64_t)after.tv_sec ||
		    (t.sec == (int64_t)after.tv_sec &&
		        t.nsec <= after.tv_nsec));
		ck_assert_uint_eq(rfc3339_format(buf, sizeof(buf), &t),
		    (size_t)widths[digits]);
		ck_assert_int_eq(parse(buf, &back), 0);
		ck_assert_int_eq(back.sec, t.sec);
	}
}
END_TEST

static Suite *
rfc3339_suite(void)
{
	Suite *s = suite_create("rfc3339");
	TCase *tc;

	tc = tcase_create("parse");
	tcase_add_test(tc, test_known);
	tcase_add_loop_test(tc, test_reject, 0,
	    (int)(sizeof(rejects) / sizeof(rejects[0])));
	tcase_add_test(tc, test_length);
	suite_add_tcase(s, tc);

	tc = tcase_create("calendar");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_calendar_edges);
	tcase_add_test(tc, test_parse_random);
	tcase_add_test(tc, test_format_random);
	tcase_add_test(tc, test_format_short);
	suite_add_tcase(s, tc);

	tc = tcase_create("clock");
	tcase_add_test(tc, test_now);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(rfc3339_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
