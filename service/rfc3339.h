/*
 * rfc3339.h - RFC 3339 date-times: parse with any UTC offset, format in
 * UTC, read the clock.  The one time module of the service: the codecs'
 * as_of, the snapshot's curve ages, the log lines and the seed all go
 * through it.
 *
 * Accepted (RFC 3339 section 5.6 "date-time"):
 *   YYYY-MM-DD ('T' | 't') hh:mm:ss ['.' 1*DIGIT]
 *   ('Z' | 'z' | '+' hh:mm | '-' hh:mm)
 * with a real calendar date (proleptic Gregorian, February 29 only in leap
 * years), hh 00-23, mm 00-59, ss 00-59 (leap seconds, :60, are rejected),
 * offsets up to 23:59.  A fraction keeps its first 9 digits (nanoseconds);
 * further digits are read and dropped, not rounded.  The whole text must
 * be the date-time: nothing may follow it.
 *
 * Formatted: "YYYY-MM-DDThh:mm:ss[.f]Z", always UTC, the fraction with
 * exactly `digits` digits (truncated, never rounded; none when 0).  Years
 * print with at least 4 digits.
 *
 * Calendar arithmetic is done here (no TZ, locale or libc conversion), so
 * every function is reentrant; only rfc3339_now() reads the clock
 * (CLOCK_REALTIME).  No allocation; text goes to caller buffers.
 */
#ifndef CASCADED_RFC3339_H
#define CASCADED_RFC3339_H

#include <stddef.h>
#include <stdint.h>

/* Room for any formatted time of this module and its NUL. */
#define RFC3339_MAX 40

struct rfc3339_time {
	int64_t sec;  /* seconds since 1970-01-01T00:00:00Z */
	int32_t nsec; /* nanoseconds, [0, 1e9) */
	int digits;   /* fraction digits to print: 0 (none) to 9 */
};

/*
 * Parse s[0..len) (need not be NUL-terminated).  0 with *out set (digits
 * = the fraction's digits as given, at most 9), -1 when s is not a valid
 * date-time (*out untouched).
 */
int rfc3339_parse(const char *s, size_t len, struct rfc3339_time *out);

/*
 * Write t as UTC text into out (cap bytes, RFC3339_MAX always suffices;
 * truncated like snprintf otherwise).  Returns the length written.
 */
size_t rfc3339_format(char *out, size_t cap, const struct rfc3339_time *t);

/* The current time, to be printed with `digits` fraction digits (0-9). */
void rfc3339_now(struct rfc3339_time *out, int digits);
/*
 * Pin what rfc3339_now() answers in the calling thread to t's second
 * (NULL: the clock again).  A write applied from the bus runs with the
 * time of the replica that took it, so its defaults (as_of) are the same
 * on every replica.
 */
void rfc3339_pin_now(const struct rfc3339_time *t);

#endif
