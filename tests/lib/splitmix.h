/*
 * splitmix.h - the seeded generator of the model test suites (splitmix64,
 * Steele, Lea and Flood 2014): random markets and curves that the same
 * seed rebuilds.  Header-only, so the model suites still link nothing but
 * libcascade, Check and libm.
 */
#ifndef CASCADED_SPLITMIX_H
#define CASCADED_SPLITMIX_H

#include <stddef.h>
#include <stdint.h>

static inline uint64_t
rng_next(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* Uniform in [0, 1). */
static inline double
rng_unif(uint64_t *s)
{
	return (double)(rng_next(s) >> 11) * 0x1p-53;
}

/* Uniform in 0 .. n-1 (n > 0). */
static inline size_t
rng_below(uint64_t *s, size_t n)
{
	return (size_t)(rng_next(s) % (uint64_t)n);
}

#endif
