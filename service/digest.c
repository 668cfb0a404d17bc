/*
 * digest.c - SHA-256 and constant-time comparison, by nettle (see
 * digest.h).  nettle_sha256_update takes any length, so a salted digest
 * is two updates of one context.
 */
#include <stdint.h>

#include <nettle/memops.h>
#include <nettle/sha2.h>

#include "digest.h"

void
digest_sha256_salted(const void *salt, size_t salt_len, const void *data,
    size_t len, unsigned char out[DIGEST_SHA256_LEN])
{
	struct sha256_ctx ctx;

	sha256_init(&ctx);
	if (salt_len > 0)
		sha256_update(&ctx, salt_len, salt);
	if (len > 0)
		sha256_update(&ctx, len, data);
	sha256_digest(&ctx, DIGEST_SHA256_LEN, out);
}

void
digest_sha256(const void *data, size_t len,
    unsigned char out[DIGEST_SHA256_LEN])
{
	digest_sha256_salted(NULL, 0, data, len, out);
}

void
digest_sha256_hex(const void *data, size_t len,
    char out[DIGEST_SHA256_HEX_LEN + 1])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char d[DIGEST_SHA256_LEN];
	size_t i;

	digest_sha256(data, len, d);
	for (i = 0; i < DIGEST_SHA256_LEN; i++) {
		out[2 * i] = hex[d[i] >> 4];
		out[2 * i + 1] = hex[d[i] & 0xf];
	}
	out[DIGEST_SHA256_HEX_LEN] = '\0';
}

int
digest_equal(const void *a, size_t alen, const void *b, size_t blen)
{
	size_t n = alen < blen ? alen : blen;
	int same;

	same = n == 0 || memeql_sec(a, b, n);
	return same & (alen == blen);
}
