/*
 * json.c - the JSON writing base (json.h): shortest round-trip doubles
 * and the comma-placing emitter.
 *
 * Numbers: the text of a double is the shortest of its 15-, 16- and
 * 17-significant-digit forms that strtod reads back to the same double,
 * byte for byte what "%.15g", "%.16g" or "%.17g" would print.  One printf
 * per candidate would dominate the cost of an answer, so the 17 digits
 * come from one long double product when the platform has a 64-bit
 * mantissa (digits17) and the shorter candidates are rounded from them;
 * printf and strtod decide only the cases that the error bounds below
 * leave open.
 *
 * The emitter writes into one growing buffer; a per-depth "first" flag
 * places the commas, so callers only say what comes next.
 */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

/* ---- numbers -------------------------------------------------------- */

/*
 * Write digits dig[0..nd-1] (no trailing zeros) of a value d.ddd * 10^x
 * the way printf's %.<prec>g does: exponential when x < -4 or x >= prec.
 */
static size_t
put_g(char *buf, int neg, const char *dig, int nd, int x, int prec)
{
	char *p = buf;
	int i;

	if (neg)
		*p++ = '-';
	if (x < -4 || x >= prec) {
		*p++ = dig[0];
		if (nd > 1) {
			*p++ = '.';
			memcpy(p, dig + 1, (size_t)(nd - 1));
			p += nd - 1;
		}
		*p++ = 'e';
		*p++ = x < 0 ? '-' : '+';
		if (x < 0)
			x = -x;
		if (x >= 100)
			*p++ = (char)('0' + x / 100);
		*p++ = (char)('0' + x / 10 % 10);
		*p++ = (char)('0' + x % 10);
	} else if (x >= 0) {
		for (i = 0; i <= x; i++)
			*p++ = i < nd ? dig[i] : '0';
		if (nd > x + 1) {
			*p++ = '.';
			memcpy(p, dig + x + 1, (size_t)(nd - x - 1));
			p += nd - x - 1;
		}
	} else {
		*p++ = '0';
		*p++ = '.';
		for (i = 0; i < -x - 1; i++)
			*p++ = '0';
		memcpy(p, dig, (size_t)nd);
		p += nd;
	}
	*p = '\0';
	return (size_t)(p - buf);
}

/*
 * 1 when long double really carries a 64-bit mantissa at run time (it
 * does not under valgrind, which computes x87 arithmetic in double).
 */
static int
ld_exact(void)
{
	volatile long double big = 9223372036854775808.0L; /* 2^63 */
	volatile long double one = 1.0L;

	return LDBL_MANT_DIG >= 64 && (big + one) - big == one;
}

/*
 * Fast path for the 17 significant digits of v > 0 (the integer m17 in
 * [1e16, 1e17) and the decimal exponent x): v * 10^(16-x) in long double
 * (64-bit mantissa where available) is within 0.02 of the exact product,
 * so rounding it is exact unless the fraction lies near one half; those
 * cases, and exponents outside [-20, 20], return -1 for printf to do.
 * *vu receives that product (v in units of the 17th digit) and
 * *half_gap half the distance to the neighbouring doubles in those units
 * (0 when unknown).
 */
static int
digits17(double v, uint64_t *m17, int *x, long double *vu,
    long double *half_gap)
{
	static const long double p10[] = { 1e0L, 1e1L, 1e2L, 1e3L, 1e4L, 1e5L,
		1e6L, 1e7L, 1e8L, 1e9L, 1e10L, 1e11L, 1e12L, 1e13L, 1e14L,
		1e15L, 1e16L, 1e17L, 1e18L, 1e19L, 1e20L, 1e21L, 1e22L, 1e23L,
		1e24L, 1e25L, 1e26L, 1e27L, 1e28L, 1e29L, 1e30L, 1e31L, 1e32L,
		1e33L, 1e34L, 1e35L, 1e36L, 1e37L };
	long double p, fl, fr;
	int e, k, tries;

	if (!ld_exact() || !(v >= 1e-20 && v < 1e20))
		return -1;
	e = (int)floor(log10(v));
	for (tries = 0; tries < 3; tries++) {
		k = 16 - e;
		if (k < -3 || k > 37)
			return -1;
		p = k >= 0 ? (long double)v * p10[k] : (long double)v / p10[-k];
		if (p >= 1e17L)
			e++;
		else if (p < 1e16L)
			e--;
		else
			break;
	}
	if (tries == 3)
		return -1;
	fl = floorl(p);
	fr = p - fl;
	if (fr > 0.45L && fr < 0.55L)
		return -1;
	*m17 = (uint64_t)fl + (fr >= 0.5L ? 1 : 0);
	if (*m17 >= 100000000000000000ULL)
		return -1;
	*x = e;
	*vu = p;
	/* half the gap between doubles around v, in the same units */
	if (frexp(v, &e) == 0.5)
		*half_gap = 0; /* a power of two: the gaps differ */
	else
		*half_gap = k >= 0 ? ldexpl(1.0L, e - 54) * p10[k]
		                   : ldexpl(1.0L, e - 54) / p10[-k];
	return 0;
}

/*
 * The 17 correctly rounded significant digits come from digits17() or
 * one printf; the 15- and 16-digit candidates are rounded from them.
 * With R17 within half a unit of the 17th digit of v, rounding R17 to 15
 * or 16 digits equals rounding v itself unless the dropped digits are
 * exactly "50" / "5" (then printf decides from v).  Every candidate is
 * checked (from the error bounds or with strtod), so the result is the
 * shortest of the 15/16/17-digit forms, byte for byte what "%.15g",
 * "%.16g" or "%.17g" gives (the unit test compares against that
 * definition on random doubles).
 */
size_t
json_format_double(char *buf, double v)
{
	char e17[40], d17[18], dig[18];
	int n, x, prec, nd, i, neg, e2;
	uint64_t m17;
	long double vu, half_gap, slack;

	if (!isfinite(v)) {
		memcpy(buf, "null", 5);
		return 4;
	}
	if (v == 0.0) {
		memcpy(buf, "0", 2);
		return 1;
	}
	if (v == floor(v) && fabs(v) < 9007199254740992.0) {
		n = snprintf(buf, 32, "%lld", (long long)v);
		return (size_t)n;
	}
	neg = v < 0;
	if (digits17(fabs(v), &m17, &x, &vu, &half_gap) == 0) {
		slack = 0.03L; /* |vu - exact| <= 0.02 */
	} else {
		/* "d.dddddddddddddddde[+-]xx", correctly rounded by libc */
		snprintf(e17, sizeof(e17), "%.16e", fabs(v));
		x = (int)strtol(e17 + 19, NULL, 10);
		m17 = 0;
		d17[0] = e17[0];
		memcpy(d17 + 1, e17 + 2, 16);
		for (i = 0; i < 17; i++)
			m17 = m17 * 10 + (uint64_t)(d17[i] - '0');
		vu = (long double)m17;
		slack = 0.5L; /* rounded to the 17th digit */
		half_gap = 0;
		if (x > -290 && x < 290 && frexp(fabs(v), &e2) != 0.5)
			half_gap = (long double)(ldexp(1.0, e2 - 54) /
			    pow(10.0, (double)(x - 16)));
	}
	{
		uint64_t t = m17;

		for (i = 16; i >= 0; i--) {
			d17[i] = (char)('0' + t % 10);
			t /= 10;
		}
	}
	for (prec = 15; prec <= 17; prec++) {
		int ex = x, ok;
		uint64_t mp = 0, scale = prec == 15 ? 100 : 10;

		/*
		 * The digits beyond prec are a tie only as far as 17 digits
		 * show ("5" or "50"): the exact value may lie on either side,
		 * so let printf round that (rare) case from the binary value.
		 */
		if ((prec == 16 && d17[16] == '5') ||
		    (prec == 15 && d17[15] == '5' && d17[16] == '0')) {
			n = snprintf(buf, 32, "%.*g", prec, v);
			if (strtod(buf, NULL) == v)
				break;
			continue;
		}
		memcpy(dig, d17, (size_t)prec);
		if (prec < 17 && d17[prec] >= '5') {
			for (i = prec - 1; i >= 0 && dig[i] == '9'; i--)
				dig[i] = '0';
			if (i >= 0) {
				dig[i]++;
			} else {
				dig[0] = '1'; /* 9.99..e+x -> 1.00..e+(x+1) */
				ex++;
			}
		}
		nd = prec;
		while (nd > 1 && dig[nd - 1] == '0')
			nd--;
		n = (int)put_g(buf, neg, dig, nd, ex, prec);
		if (prec == 17)
			break;
		/*
		 * v lies within `slack` of vu; the candidate reads back
		 * iff it lies within the half gap of v.  Decide from integers
		 * when the margin is clear, else ask strtod.
		 */
		for (i = 0; i < prec; i++)
			mp = mp * 10 + (uint64_t)(dig[i] - '0');
		if (ex != x)
			mp = 1;
		mp *= ex != x ? 100000000000000000ULL : scale;
		{
			/* the fallback's diff is an exact integer */
			long double diff = slack < 0.5L
			    ? fabsl(vu - (long double)mp)
			    : (long double)(mp > m17 ? mp - m17 : m17 - mp);

			if (half_gap > 0 &&
			    diff + slack < half_gap * (1 - 1e-9L))
				ok = 1;
			else if (half_gap > 0 &&
			    diff - slack > half_gap * (1 + 1e-9L))
				ok = 0;
			else
				ok = strtod(buf, NULL) == v;
		}
		if (ok)
			break;
	}
	return (size_t)n;
}

/* ---- the emitter ---------------------------------------------------- */

void
json_buf_init(struct json_buf *b, size_t cap)
{
	memset(b, 0, sizeof(*b));
	b->p = malloc(cap > 0 ? cap : 256);
	if (b->p == NULL)
		b->oom = 1;
	else
		b->cap = cap > 0 ? cap : 256;
	b->first[0] = 1;
}

void
json_buf_free(struct json_buf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}

char *
json_buf_take(struct json_buf *b)
{
	char *p;

	if (b->oom || b->p == NULL) {
		json_buf_free(b);
		return NULL;
	}
	b->p[b->len] = '\0';
	p = b->p;
	b->p = NULL;
	b->len = b->cap = 0;
	return p;
}

/* Make room for n more bytes and the final NUL. */
static int
reserve(struct json_buf *b, size_t n)
{
	char *p;
	size_t ncap;

	if (b->oom)
		return -1;
	if (b->len + n + 1 <= b->cap)
		return 0;
	ncap = b->cap * 2;
	while (ncap < b->len + n + 1)
		ncap *= 2;
	p = realloc(b->p, ncap);
	if (p == NULL) {
		b->oom = 1;
		return -1;
	}
	b->p = p;
	b->cap = ncap;
	return 0;
}

static void
raw(struct json_buf *b, const char *s, size_t n)
{
	if (reserve(b, n) != 0)
		return;
	memcpy(b->p + b->len, s, n);
	b->len += n;
}

/* Comma before a value in an array (an object's value follows its key). */
static void
pre_value(struct json_buf *b)
{
	if (b->after_key) {
		b->after_key = 0;
		return;
	}
	if (!b->first[b->depth])
		raw(b, ",", 1);
	b->first[b->depth] = 0;
}

void
json_buf_begin(struct json_buf *b, char open)
{
	pre_value(b);
	raw(b, &open, 1);
	if (b->depth + 1 < JSON_BUF_DEPTH)
		b->depth++;
	b->first[b->depth] = 1;
}

void
json_buf_end(struct json_buf *b, char close)
{
	raw(b, &close, 1);
	if (b->depth > 0)
		b->depth--;
}

static void
str_body(struct json_buf *b, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	const char *run = s;

	raw(b, "\"", 1);
	for (; *s != '\0'; s++) {
		unsigned char ch = (unsigned char)*s;
		char esc[6];

		if (ch >= 0x20 && ch != '"' && ch != '\\')
			continue;
		raw(b, run, (size_t)(s - run));
		run = s + 1;
		if (ch == '"' || ch == '\\') {
			esc[0] = '\\';
			esc[1] = (char)ch;
			raw(b, esc, 2);
		} else {
			memcpy(esc, "\\u00", 4);
			esc[4] = hex[ch >> 4];
			esc[5] = hex[ch & 15];
			raw(b, esc, 6);
		}
	}
	raw(b, run, (size_t)(s - run));
	raw(b, "\"", 1);
}

void
json_buf_key(struct json_buf *b, const char *key)
{
	if (!b->first[b->depth])
		raw(b, ",", 1);
	b->first[b->depth] = 0;
	str_body(b, key);
	raw(b, ":", 1);
	b->after_key = 1;
}

void
json_buf_num(struct json_buf *b, double v)
{
	char tmp[32];
	size_t n;

	pre_value(b);
	n = json_format_double(tmp, v);
	raw(b, tmp, n);
}

void
json_buf_int(struct json_buf *b, int64_t v)
{
	char tmp[32];
	int n;

	pre_value(b);
	n = snprintf(tmp, sizeof(tmp), "%lld", (long long)v);
	raw(b, tmp, (size_t)n);
}

void
json_buf_str(struct json_buf *b, const char *s)
{
	pre_value(b);
	str_body(b, s);
}

void
json_buf_bool(struct json_buf *b, int v)
{
	pre_value(b);
	if (v)
		raw(b, "true", 4);
	else
		raw(b, "false", 5);
}

void
json_buf_null(struct json_buf *b)
{
	pre_value(b);
	raw(b, "null", 4);
}
