/*
 * digest.h - SHA-256 (FIPS 180-4) through nettle, and a comparison of
 * secrets whose time does not depend on their content.
 *
 * Nothing here is hand-written cryptography: the hash is nettle's
 * sha256_* and the comparison nettle's memeql_sec.  The server uses these
 * for API keys (server.c): a salted digest of every key, compared in
 * constant time, and a key id made of the first hex digits of the
 * unsalted digest.
 *
 * Ownership: every input is borrowed; outputs are caller-provided
 * arrays of the stated sizes.  Thread-safe (no state).
 */
#ifndef CASCADED_DIGEST_H
#define CASCADED_DIGEST_H

#include <stddef.h>

#define DIGEST_SHA256_LEN 32
#define DIGEST_SHA256_HEX_LEN 64

/* SHA-256 of data (len bytes; data may be NULL when len is 0). */
void digest_sha256(const void *data, size_t len,
    unsigned char out[DIGEST_SHA256_LEN]);
/* SHA-256 of salt || data, without building the concatenation. */
void digest_sha256_salted(const void *salt, size_t salt_len,
    const void *data, size_t len, unsigned char out[DIGEST_SHA256_LEN]);
/* Lower-case hex of SHA-256(data), NUL-terminated (65 bytes). */
void digest_sha256_hex(const void *data, size_t len,
    char out[DIGEST_SHA256_HEX_LEN + 1]);

/*
 * 1 when a (alen bytes) and b (blen bytes) are equal, else 0.  Every byte
 * of the common length is compared whatever differs, so the time depends
 * on the lengths only, never on where the first difference is.  Lengths
 * that differ give 0 (the lengths themselves are not secret: the server
 * compares fixed-size digests).
 */
int digest_equal(const void *a, size_t alen, const void *b, size_t blen);

#endif
