/*
 * rng.h - random streams for the Monte Carlo engine: xoshiro256** seeded by
 * splitmix64 from (seed, stream), uniforms in (0, 1), standard normals by
 * Doornik's ZIGNOR ziggurat (exact), gamma and chi-square variates by
 * Marsaglia and Tsang (2000).
 *
 * Ownership: every struct here is a plain value owned by the caller.  A
 * struct lc_rng is one stream and must not be shared between threads; the
 * ziggurat tables (struct lc_ziggurat) are filled once by
 * lc_ziggurat_init() and then only read, so one table may serve any number
 * of streams and threads.  No globals: the library stays reentrant.
 */
#ifndef CASCADE_RNG_H
#define CASCADE_RNG_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>

/* Layers of the ziggurat (Doornik 2005: 128 layers, R, V below). */
#define LC_ZIG_C 128

struct lc_rng {
	uint64_t s[4];
};

struct lc_ziggurat {
	double x[LC_ZIG_C + 1];	/* layer abscissae, x[0] = V / f(R) */
	double r[LC_ZIG_C];	/* x[i + 1] / x[i] */
};

/*
 * Seed one stream: the xoshiro256** state is four outputs of splitmix64
 * started from a mix of seed and stream, so distinct (seed, stream) pairs
 * give unrelated streams (Blackman and Vigna's recommended seeding).
 */
void lc_rng_seed(struct lc_rng *g, uint64_t seed, uint64_t stream);

static inline uint64_t
lc_rng_rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

/*
 * xoshiro256** (Blackman and Vigna 2018): next 64 random bits of the state
 * s[0..3] (a struct's, or a caller's locals that can stay in registers).
 */
static inline uint64_t
lc_rng_step(uint64_t *s)
{
	uint64_t r = lc_rng_rotl(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = lc_rng_rotl(s[3], 45);
	return r;
}

static inline uint64_t
lc_rng_next(struct lc_rng *g)
{
	return lc_rng_step(g->s);
}

/* Uniform double in the open interval (0, 1): (k + 1/2) 2^-53. */
static inline double
lc_rng_uniform(struct lc_rng *g)
{
	return ((double)(int64_t)(lc_rng_next(g) >> 11) + 0.5) *
	    (1.0 / 9007199254740992.0);
}

void lc_ziggurat_init(struct lc_ziggurat *z);

/* Slow path of the ziggurat (tail and wedges); use lc_rng_normal. */
double lc_rng_normal_slow(struct lc_rng *g, const struct lc_ziggurat *z,
    uint64_t bits);

/*
 * Standard normal, exact (ZIGNOR with the layer index and the uniform
 * taken from disjoint bits of one 64-bit draw, which removes the
 * correlation Doornik warns about when both come from one 32-bit word).
 */
/* The ziggurat's fast path: 1 and *x when the draw bits land inside. */
static inline int
lc_zig_fast(const struct lc_ziggurat *z, uint64_t bits, double *x)
{
	unsigned i = (unsigned)(bits & (LC_ZIG_C - 1));
	/* u uniform in (-1, 1) from the top 53 bits */
	double u = ((double)(int64_t)(bits >> 11) + 0.5) *
	    (2.0 / 9007199254740992.0) - 1.0;

	if (!(fabs(u) < z->r[i]))
		return 0;
	*x = u * z->x[i];
	return 1;
}

static inline double
lc_rng_normal(struct lc_rng *g, const struct lc_ziggurat *z)
{
	uint64_t bits = lc_rng_next(g);
	double x;

	if (lc_zig_fast(z, bits, &x))
		return x;
	return lc_rng_normal_slow(g, z, bits);
}

/*
 * n standard normals into out[0], out[stride], ...: the same numbers as n
 * calls of lc_rng_normal(), faster in bulk.
 */
void lc_rng_normals(struct lc_rng *g, const struct lc_ziggurat *z,
    double *out, size_t n, size_t stride);

/* Gamma(shape, 1) for shape > 0 (shape < 1 by the U^(1/shape) boost). */
double lc_rng_gamma(struct lc_rng *g, const struct lc_ziggurat *z,
    double shape);

/* Chi-square with nu > 0 (real) degrees of freedom: 2 Gamma(nu / 2). */
double lc_rng_chisq(struct lc_rng *g, const struct lc_ziggurat *z, double nu);

#endif
