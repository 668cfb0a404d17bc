/*
 * rng.c - random streams of the Monte Carlo engine.
 *
 * Design
 * ------
 * Generator: xoshiro256** (Blackman and Vigna, "Scrambled linear
 * pseudorandom number generators", 2018), period 2^256 - 1, state seeded
 * with four outputs of splitmix64.  A stream is identified by (seed,
 * stream); the splitmix64 start is splitmix64(seed) xor a splitmix64 image
 * of the stream number, so chunk streams of one seed are unrelated and the
 * state is never all zero in practice (a zero state is patched anyway).
 *
 * Uniforms: (k + 1/2) 2^-53 with k the top 53 bits: never 0, never 1.
 *
 * Normals: Doornik's ZIGNOR ("An improved ziggurat method to generate
 * normal random samples", 2005), C = 128 layers of equal area V under
 * f(x) = exp(-x^2/2), R = 3.442619855899, V = 9.91256303526217e-3:
 *   x[0] = V / f(R), x[1] = R, x[i] = sqrt(-2 ln(V / x[i-1] + f(x[i-1]))),
 *   x[C] = 0, r[i] = x[i+1] / x[i].
 * Draw u uniform in (-1, 1) and a layer i; |u| < r[i] accepts u x[i]
 * (about 98.8% of draws).  Otherwise layer 0 samples the tail beyond R by
 * Marsaglia's method (x = -ln(U1)/R, y = -ln(U2), accept 2y > x^2), and
 * other layers accept x = u x[i] in the wedge when
 *   f(x[i+1]) + U (f(x[i]) - f(x[i+1])) < f(x).
 * The method is exact.  Layer index (low 7 bits) and u (top 53 bits) come
 * from disjoint bits of one draw.
 *
 * Gamma(a, 1), a >= 1: Marsaglia and Tsang, "A simple method for
 * generating gamma variables", ACM TOMS 26(3), 2000: d = a - 1/3,
 * c = 1/sqrt(9d), v = (1 + c N)^3 > 0, accept d v when
 * U < 1 - 0.0331 N^4 or ln U < N^2/2 + d (1 - v + ln v).  a < 1:
 * Gamma(a + 1) U^(1/a).  Chi-square(nu) = 2 Gamma(nu/2).
 */
#include "cascade/rng.h"

#include <math.h>

#define ZIG_R 3.442619855899
#define ZIG_V 9.91256303526217e-3

static uint64_t
splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

void
lc_rng_seed(struct lc_rng *g, uint64_t seed, uint64_t stream)
{
	uint64_t a = seed, b = stream ^ 0x6a09e667f3bcc909ULL;
	uint64_t x = splitmix64(&a) ^ lc_rng_rotl(splitmix64(&b), 17);
	int i;

	for (i = 0; i < 4; i++)
		g->s[i] = splitmix64(&x);
	if ((g->s[0] | g->s[1] | g->s[2] | g->s[3]) == 0)
		g->s[0] = 1;
}

void
lc_ziggurat_init(struct lc_ziggurat *z)
{
	double f = exp(-0.5 * ZIG_R * ZIG_R);
	int i;

	z->x[0] = ZIG_V / f;
	z->x[1] = ZIG_R;
	z->x[LC_ZIG_C] = 0.0;
	for (i = 2; i < LC_ZIG_C; i++) {
		z->x[i] = sqrt(-2.0 * log(ZIG_V / z->x[i - 1] + f));
		f = exp(-0.5 * z->x[i] * z->x[i]);
	}
	for (i = 0; i < LC_ZIG_C; i++)
		z->r[i] = z->x[i + 1] / z->x[i];
}

static double
zig_tail(struct lc_rng *g, int negative)
{
	double x, y;

	do {
		x = log(lc_rng_uniform(g)) / ZIG_R;
		y = log(lc_rng_uniform(g));
	} while (-2.0 * y < x * x);
	return negative ? x - ZIG_R : ZIG_R - x;
}

double
lc_rng_normal_slow(struct lc_rng *g, const struct lc_ziggurat *z,
    uint64_t bits)
{
	for (;;) {
		unsigned i = (unsigned)(bits & (LC_ZIG_C - 1));
		double u = ((double)(int64_t)(bits >> 11) + 0.5) *
		    (2.0 / 9007199254740992.0) - 1.0;
		double x, f0, f1;

		if (fabs(u) < z->r[i])
			return u * z->x[i];
		if (i == 0)
			return zig_tail(g, u < 0.0);
		x = u * z->x[i];
		f0 = exp(-0.5 * (z->x[i] * z->x[i] - x * x));
		f1 = exp(-0.5 * (z->x[i + 1] * z->x[i + 1] - x * x));
		if (f1 + lc_rng_uniform(g) * (f0 - f1) < 1.0)
			return x;
		bits = lc_rng_next(g);
	}
}

double
lc_rng_gamma(struct lc_rng *g, const struct lc_ziggurat *z, double shape)
{
	double d, c, x, v, u;

	if (!(shape > 0.0))
		return NAN;
	if (shape < 1.0) {
		double y = lc_rng_gamma(g, z, shape + 1.0);

		return y * pow(lc_rng_uniform(g), 1.0 / shape);
	}
	d = shape - 1.0 / 3.0;
	c = 1.0 / sqrt(9.0 * d);
	for (;;) {
		do {
			x = lc_rng_normal(g, z);
			v = 1.0 + c * x;
		} while (v <= 0.0);
		v = v * v * v;
		u = lc_rng_uniform(g);
		if (u < 1.0 - 0.0331 * (x * x) * (x * x))
			return d * v;
		if (log(u) < 0.5 * x * x + d * (1.0 - v + log(v)))
			return d * v;
	}
}

double
lc_rng_chisq(struct lc_rng *g, const struct lc_ziggurat *z, double nu)
{
	return 2.0 * lc_rng_gamma(g, z, 0.5 * nu);
}

void
lc_rng_normals(struct lc_rng *g, const struct lc_ziggurat *z, double *out,
    size_t n, size_t stride)
{
	/* the state in locals: it stays in registers on the fast path */
	uint64_t s[4] = { g->s[0], g->s[1], g->s[2], g->s[3] };
	size_t k, j;

	for (k = 0; k < n; k++) {
		uint64_t bits = lc_rng_step(s);
		double x;

		if (lc_zig_fast(z, bits, &x)) {
			out[k * stride] = x;
			continue;
		}
		for (j = 0; j < 4; j++)
			g->s[j] = s[j];
		out[k * stride] = lc_rng_normal_slow(g, z, bits);
		for (j = 0; j < 4; j++)
			s[j] = g->s[j];
	}
	for (j = 0; j < 4; j++)
		g->s[j] = s[j];
}
