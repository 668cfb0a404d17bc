/*
 * test_digest.c - SHA-256 against the FIPS 180-4 examples (NIST CSRC
 * "Examples with intermediate values", SHA256.pdf, and the one-million
 * 'a' message of FIPS 180-2 appendix B.3), the salted form against the
 * digest of the concatenation, and the constant-time comparison.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "digest.h"

static void
expect_hex(const char *msg, size_t len, const char *want)
{
	char hex[DIGEST_SHA256_HEX_LEN + 1];

	memset(hex, 'x', sizeof(hex));
	digest_sha256_hex(msg, len, hex);
	ck_assert_uint_eq(strlen(hex), DIGEST_SHA256_HEX_LEN);
	ck_assert_str_eq(hex, want);
}

START_TEST(abc)
{
	expect_hex("abc", 3, "ba7816bf8f01cfea414140de5dae2223"
	    "b00361a396177a9cb410ff61f20015ad");
}
END_TEST

START_TEST(empty)
{
	expect_hex("", 0, "e3b0c44298fc1c149afbf4c8996fb924"
	    "27ae41e4649b934ca495991b7852b855");
	expect_hex(NULL, 0, "e3b0c44298fc1c149afbf4c8996fb924"
	    "27ae41e4649b934ca495991b7852b855");
}
END_TEST

START_TEST(two_blocks_448_bits)
{
	static const char m[] =
	    "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";

	ck_assert_uint_eq(strlen(m) * 8, 448);
	expect_hex(m, strlen(m), "248d6a61d20638b8e5c026930c3e6039"
	    "a33ce45964ff2167f6ecedd419db06c1");
}
END_TEST

START_TEST(one_million_a)
{
	size_t n = 1000000;
	char *m = malloc(n);

	ck_assert_ptr_nonnull(m);
	memset(m, 'a', n);
	expect_hex(m, n, "cdc76e5c9914fb9281a1c7e284d73e67"
	    "f1809a48a497200e046d39ccc7112cd0");
	free(m);
}
END_TEST

START_TEST(salted_is_the_concatenation)
{
	unsigned char a[DIGEST_SHA256_LEN], b[DIGEST_SHA256_LEN];
	static const char m[] =
	    "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
	size_t cut;

	/* every split of the 448-bit message, the block edge included */
	digest_sha256(m, strlen(m), a);
	for (cut = 0; cut <= strlen(m); cut++) {
		digest_sha256_salted(m, cut, m + cut, strlen(m) - cut, b);
		ck_assert_mem_eq(a, b, sizeof(a));
	}
	/* and the raw digest is the hex one, byte for byte ("abc") */
	digest_sha256_salted("ab", 2, "c", 1, b);
	ck_assert_uint_eq(b[0], 0xba);
	ck_assert_uint_eq(b[1], 0x78);
	ck_assert_uint_eq(b[31], 0xad);
}
END_TEST

START_TEST(equal_in_constant_time)
{
	unsigned char x[DIGEST_SHA256_LEN], y[DIGEST_SHA256_LEN];

	digest_sha256("abc", 3, x);
	memcpy(y, x, sizeof(y));
	/* equal */
	ck_assert_int_eq(digest_equal(x, sizeof(x), y, sizeof(y)), 1);
	ck_assert_int_eq(digest_equal("", 0, "", 0), 1);
	/* differ in the first byte, one bit */
	y[0] ^= 0x01;
	ck_assert_int_eq(digest_equal(x, sizeof(x), y, sizeof(y)), 0);
	y[0] ^= 0x01;
	/* differ in the last byte, the top bit */
	y[sizeof(y) - 1] ^= 0x80;
	ck_assert_int_eq(digest_equal(x, sizeof(x), y, sizeof(y)), 0);
	y[sizeof(y) - 1] ^= 0x80;
	ck_assert_int_eq(digest_equal(x, sizeof(x), y, sizeof(y)), 1);
	/* different lengths: a prefix is not equal, either way round */
	ck_assert_int_eq(digest_equal(x, sizeof(x) - 1, y, sizeof(y)), 0);
	ck_assert_int_eq(digest_equal(x, sizeof(x), y, sizeof(y) - 1), 0);
	ck_assert_int_eq(digest_equal(x, 0, y, sizeof(y)), 0);
	ck_assert_int_eq(digest_equal("k2", 2, "k2x", 3), 0);
}
END_TEST

static Suite *
digest_suite(void)
{
	Suite *s = suite_create("digest");
	TCase *tc = tcase_create("sha256");

	tcase_add_test(tc, abc);
	tcase_add_test(tc, empty);
	tcase_add_test(tc, two_blocks_448_bits);
	tcase_add_test(tc, one_million_a);
	tcase_add_test(tc, salted_is_the_concatenation);
	suite_add_tcase(s, tc);
	tc = tcase_create("compare");
	tcase_add_test(tc, equal_in_constant_time);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(digest_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
