/*
 * hash.h - 64-bit FNV-1a, the one content hash of the service: the
 * snapshot's content tag (snapshot.c) and the ETags of the read answers
 * (api_markets.c) are built with it.
 *
 * FNV-1a: h_0 = 14695981039346656037, h_{i+1} = (h_i XOR byte_i) *
 * 1099511628211 mod 2^64.  hash_fnv_word() folds a whole 64-bit word in
 * one step (not byte-compatible with hash_fnv over its bytes, but as
 * stable).  Not a cryptographic hash: tags only detect change.
 *
 * Everything is static inline; no state, no allocation.
 */
#ifndef CASCADED_HASH_H
#define CASCADED_HASH_H

#include <inttypes.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define HASH_FNV_INIT 14695981039346656037ULL
#define HASH_FNV_PRIME 1099511628211ULL
/* "\"<16 hex>\"" and its NUL */
#define HASH_ETAG_SIZE 19

static inline uint64_t
hash_fnv(uint64_t h, const void *p, size_t n)
{
	const unsigned char *c = p;
	size_t i;

	for (i = 0; i < n; i++) {
		h ^= c[i];
		h *= HASH_FNV_PRIME;
	}
	return h;
}

static inline uint64_t
hash_fnv_word(uint64_t h, uint64_t w)
{
	h ^= w;
	return h * HASH_FNV_PRIME;
}

/* The string with its NUL, so "ab","c" and "a","bc" differ. */
static inline uint64_t
hash_fnv_str(uint64_t h, const char *s)
{
	return hash_fnv(h, s, strlen(s) + 1);
}

static inline uint64_t
hash_fnv_dbl(uint64_t h, double v)
{
	return hash_fnv(h, &v, sizeof(v));
}

/* An HTTP entity tag of h: "\"%016x\"" into out[HASH_ETAG_SIZE]. */
static inline void
hash_etag(uint64_t h, char *out)
{
	snprintf(out, HASH_ETAG_SIZE, "\"%016" PRIx64 "\"", h);
}

#endif
