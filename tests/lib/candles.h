/*
 * candles.h - seeded price paths for the backtest suites: hourly candles
 * of a driftless Brownian log price (the model's law with a normal tail)
 * whose lows and highs are drawn from the Brownian bridge between each
 * candle's open and close, so a run of candles has the exact running
 * minimum and maximum of the continuous path (each taken alone).
 * Header-only, on splitmix.h.
 *
 * Bridge extremes over a step of variance s^2 from x0 to x1 (the
 * inverse of P(min <= m) = exp(-2 (x0 - m)(x1 - m) / s^2), U uniform):
 *   min = (x0 + x1 - sqrt((x1 - x0)^2 - 2 s^2 ln U)) / 2,  max likewise
 *   with + and an independent U'.
 */
#ifndef CASCADED_CANDLES_H
#define CASCADED_CANDLES_H

#include <math.h>
#include <stdlib.h>

#include "cascade/backtest.h"
#include "splitmix.h"

/* Standard normal (Box-Muller). */
static inline double
rng_gauss(uint64_t *s)
{
	double u1 = rng_unif(s), u2 = rng_unif(s);

	if (u1 <= 0.0)
		u1 = 0x1p-60;
	return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

/*
 * n hourly candles from t0 (unix seconds), starting at price p0, annual
 * volatility sigma; malloc'd (the caller frees), NULL without memory.
 */
static inline struct lc_candle *
gbm_candles(uint64_t seed, int64_t t0, double p0, double sigma, size_t n)
{
	struct lc_candle *c = malloc(n * sizeof(*c));
	double s = sigma * sqrt(1.0 / (365.0 * 24.0)), x0 = log(p0);
	uint64_t st = seed;
	size_t i;

	if (c == NULL)
		return NULL;
	for (i = 0; i < n; i++) {
		double x1 = x0 + s * rng_gauss(&st), d = x1 - x0;
		double lo = 0.5 * (x0 + x1 - sqrt(d * d - 2.0 * s * s *
		    log(1.0 - rng_unif(&st))));
		double hi = 0.5 * (x0 + x1 + sqrt(d * d - 2.0 * s * s *
		    log(1.0 - rng_unif(&st))));

		c[i].t = t0 + (int64_t)i * 3600;
		c[i].open = exp(x0);
		c[i].close = exp(x1);
		c[i].low = fmin(exp(lo), fmin(c[i].open, c[i].close));
		c[i].high = fmax(exp(hi), fmax(c[i].open, c[i].close));
		x0 = x1;
	}
	return c;
}

#endif
