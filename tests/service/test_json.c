/*
 * test_json.c - the JSON writing base (json.h): number formatting against
 * its definition (the shortest of printf's %.15g, %.16g, %.17g that
 * strtod reads back) on fixed and random doubles, and the emitter's
 * output against hand-written documents, independently built strings and
 * cJSON's parser.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <cjson/cJSON.h>

#include "json.h"
#include "splitmix.h"

/* ---- numbers -------------------------------------------------------- */

START_TEST(test_format_double)
{
	static const struct {
		double v;
		const char *s;
	} cases[] = {
		{ 0.0, "0" },
		{ -0.0, "0" },
		{ 2.0, "2" },
		{ -7.0, "-7" },
		{ 1e15, "1000000000000000" },
		{ 0.1, "0.1" },
		{ 0.3, "0.3" },
		{ 0.1 + 0.2, "0.30000000000000004" },
		{ 1.0 / 3.0, "0.3333333333333333" },
		{ 1887.7551020408164, "1887.7551020408164" },
		{ 1e-300, "1e-300" },
		{ 5e-324, "4.94065645841247e-324" },
		{ 1.7976931348623157e308, "1.7976931348623157e+308" },
		{ 123456789012345680.0, "1.2345678901234568e+17" },
		{ 0.5, "0.5" },
		{ -12.5, "-12.5" },
	};
	char buf[32];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_format_double(buf, cases[i].v);
		ck_assert_msg(strcmp(buf, cases[i].s) == 0,
		    "%.17g -> %s, "
		    "want %s",
		    cases[i].v, buf, cases[i].s);
	}
	json_format_double(buf, NAN);
	ck_assert_str_eq(buf, "null");
	json_format_double(buf, -INFINITY);
	ck_assert_str_eq(buf, "null");
}
END_TEST

/* The definition: the smallest of 15, 16, 17 digits that reads back. */
static void
format_reference(char *buf, double v)
{
	int prec;

	if (v == floor(v) && fabs(v) < 9007199254740992.0) {
		snprintf(buf, 32, "%lld", (long long)v);
		return;
	}
	for (prec = 15; prec < 17; prec++) {
		snprintf(buf, 32, "%.*g", prec, v);
		if (strtod(buf, NULL) == v)
			return;
	}
	snprintf(buf, 32, "%.17g", v);
}

START_TEST(test_format_roundtrip)
{
	char ref[32];
	uint64_t x = 0x9e3779b97f4a7c15ULL;
	char buf[32];
	int i, n17 = 0;

	for (i = 0; i < 100000; i++) {
		double v;
		size_t len;

		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		if (i % 2 == 0) {
			memcpy(&v, &x, sizeof(v));
			if (!isfinite(v))
				continue;
		} else if (i % 4 == 1) {
			v = (double)(x >> 11) / 9007199254740992.0 * 1e4;
		} else {
			/* short decimals and values near 15/16-digit ties */
			v = (double)(int64_t)(x % 100000000000000ULL) /
			    pow(10.0, (double)(x >> 58));
			if (i % 8 == 3)
				v = nextafter(v, INFINITY);
		}
		if (i % 16 == 5)
			v /= 1e4; /* probabilities */
		len = json_format_double(buf, v);
		ck_assert_uint_eq(len, strlen(buf));
		ck_assert_msg(strtod(buf, NULL) == v ||
		        (v == 0 && strtod(buf, NULL) == 0),
		    "%.17g -> %s", v, buf);
		if (v != 0) {
			format_reference(ref, v);
			ck_assert_msg(strcmp(buf, ref) == 0,
			    "%.17g -> %s, "
			    "reference %s",
			    v, buf, ref);
		}
		n17 += len >= 22;
	}
	/* the point of the shortest form: most values need < 17 digits */
	ck_assert_int_lt(n17, 100000);
}
END_TEST

/* ---- the emitter ---------------------------------------------------- */

START_TEST(test_emit_document)
{
	struct json_buf b;
	char *out;

	json_buf_init(&b, 0);
	json_buf_begin(&b, '{');
	json_buf_key(&b, "a");
	json_buf_num(&b, 1.5);
	json_buf_key(&b, "b");
	json_buf_begin(&b, '[');
	json_buf_int(&b, -3);
	json_buf_str(&b, "x");
	json_buf_bool(&b, 1);
	json_buf_bool(&b, 0);
	json_buf_null(&b);
	json_buf_begin(&b, '{');
	json_buf_end(&b, '}');
	json_buf_begin(&b, '[');
	json_buf_end(&b, ']');
	json_buf_num(&b, 0.1 + 0.2);
	json_buf_num(&b, NAN);
	json_buf_int(&b, INT64_MIN);
	json_buf_end(&b, ']');
	json_buf_key(&b, "k\"\\/\n");
	json_buf_str(&b, "q\"b\\s\x01\x1f\x7f\t\xc3\xa9");
	json_buf_key(&b, "o");
	json_buf_begin(&b, '{');
	json_buf_key(&b, "n");
	json_buf_begin(&b, '[');
	json_buf_begin(&b, '[');
	json_buf_int(&b, 1);
	json_buf_end(&b, ']');
	json_buf_int(&b, 2);
	json_buf_end(&b, ']');
	json_buf_key(&b, "e");
	json_buf_str(&b, "");
	json_buf_end(&b, '}');
	json_buf_end(&b, '}');
	out = json_buf_take(&b);
	ck_assert_ptr_nonnull(out);
	ck_assert_str_eq(out,
	    "{\"a\":1.5,\"b\":[-3,\"x\",true,false,null,{},[],"
	    "0.30000000000000004,null,-9223372036854775808],"
	    "\"k\\\"\\\\/\\u000a\":"
	    "\"q\\\"b\\\\s\\u0001\\u001f\x7f\\u0009\xc3\xa9\","
	    "\"o\":{\"n\":[[1],2],\"e\":\"\"}}");
	/* the buffer was handed over: a second take has nothing */
	ck_assert_ptr_null(json_buf_take(&b));
	free(out);
}
END_TEST

/* Growth from a 1-byte buffer: a long array equals its snprintf text. */
START_TEST(test_emit_growth)
{
	struct json_buf b;
	char *out, *ref;
	size_t len = 0, cap = 16 * 20000 + 16;
	int64_t i;

	ref = malloc(cap);
	ck_assert_ptr_nonnull(ref);
	len += (size_t)snprintf(ref + len, cap - len, "[");
	json_buf_init(&b, 1);
	json_buf_begin(&b, '[');
	for (i = 0; i < 20000; i++) {
		int64_t v = (i % 2 ? -1 : 1) * i * 1000003;

		json_buf_int(&b, v);
		len += (size_t)snprintf(ref + len, cap - len, "%s%lld",
		    i > 0 ? "," : "", (long long)v);
	}
	json_buf_end(&b, ']');
	snprintf(ref + len, cap - len, "]");
	out = json_buf_take(&b);
	ck_assert_ptr_nonnull(out);
	ck_assert_str_eq(out, ref);
	free(out);
	free(ref);
}
END_TEST

/*
 * The deepest nesting the emitter keeps track of: JSON_BUF_DEPTH - 1
 * containers, alternately objects and arrays, two members each level.
 */
START_TEST(test_emit_depth)
{
	struct json_buf b;
	char ref[JSON_BUF_DEPTH * 16], *out;
	size_t len = 0;
	int d, n = JSON_BUF_DEPTH - 1;

	json_buf_init(&b, 0);
	for (d = 0; d < n; d++) {
		if (d % 2 == 0) {
			json_buf_begin(&b, '{');
			json_buf_key(&b, "v");
			json_buf_int(&b, d);
			json_buf_key(&b, "c");
			len += (size_t)snprintf(ref + len, sizeof(ref) - len,
			    "{\"v\":%d,\"c\":", d);
		} else {
			json_buf_begin(&b, '[');
			json_buf_int(&b, d);
			len += (size_t)snprintf(ref + len, sizeof(ref) - len,
			    "[%d,", d);
		}
	}
	json_buf_null(&b);
	len += (size_t)snprintf(ref + len, sizeof(ref) - len, "null");
	for (d = n - 1; d >= 0; d--) {
		json_buf_end(&b, d % 2 == 0 ? '}' : ']');
		len += (size_t)snprintf(ref + len, sizeof(ref) - len, "%c",
		    d % 2 == 0 ? '}' : ']');
	}
	out = json_buf_take(&b);
	ck_assert_ptr_nonnull(out);
	ck_assert_str_eq(out, ref);
	free(out);
}
END_TEST

/* Random strings of every byte 1..255 read back unchanged by cJSON. */
START_TEST(test_emit_strings)
{
	uint64_t seed = 0x5eed0001ULL;
	int iter;

	for (iter = 0; iter < 2000; iter++) {
		struct json_buf b;
		char s[64], *out;
		size_t i, n = rng_below(&seed, sizeof(s) - 1);
		cJSON *doc;

		for (i = 0; i < n; i++)
			s[i] = (char)(1 + rng_below(&seed, 255));
		s[n] = '\0';
		json_buf_init(&b, 0);
		json_buf_begin(&b, '{');
		json_buf_key(&b, s);
		json_buf_str(&b, s);
		json_buf_end(&b, '}');
		out = json_buf_take(&b);
		ck_assert_ptr_nonnull(out);
		/* cJSON reads bytes >= 0x80 as they are, UTF-8 or not */
		doc = cJSON_Parse(out);
		ck_assert_msg(doc != NULL, "not JSON: %s", out);
		ck_assert_ptr_nonnull(doc->child);
		ck_assert_str_eq(doc->child->string, s);
		ck_assert_str_eq(doc->child->valuestring, s);
		ck_assert_ptr_null(doc->child->next);
		cJSON_Delete(doc);
		free(out);
	}
}
END_TEST

static Suite *
json_suite(void)
{
	Suite *s = suite_create("json");
	TCase *tc;

	tc = tcase_create("numbers");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_format_double);
	tcase_add_test(tc, test_format_roundtrip);
	suite_add_tcase(s, tc);

	tc = tcase_create("emitter");
	tcase_add_test(tc, test_emit_document);
	tcase_add_test(tc, test_emit_growth);
	tcase_add_test(tc, test_emit_depth);
	tcase_add_test(tc, test_emit_strings);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(json_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
