/*
 * marketdata.c - the raw market data set (marketdata.h): lifecycle and
 * symbol lookup.  A linear scan is enough here: a market_data is what the
 * store loads or a write edits, never the request path (requests read the
 * snapshot, whose symbol index is sorted).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "marketdata.h"

void
market_data_init(struct market_data *md)
{
	memset(md, 0, sizeof(*md));
}

void
md_asset_release(struct md_asset *a)
{
	size_t k;

	if (a == NULL)
		return;
	for (k = 0; k < a->ncurves && a->curves != NULL; k++)
		lc_curve_release(&a->curves[k].curve);
	free(a->curves);
	free(a->levels);
	free(a->packed);
	free(a->batches);
	a->curves = NULL;
	a->levels = NULL;
	a->packed = NULL;
	a->batches = NULL;
	a->ncurves = a->nlevels = a->npacked = a->nbatches = 0;
}

void
market_data_release(struct market_data *md)
{
	size_t i;

	if (md == NULL)
		return;
	for (i = 0; i < md->nassets && md->assets != NULL; i++)
		md_asset_release(&md->assets[i]);
	free(md->assets);
	free(md->corr);
	free(md->hcorr);
	market_data_init(md);
}

long
market_data_find(const struct market_data *md, const char *symbol)
{
	size_t i;

	if (md == NULL || symbol == NULL)
		return -1;
	for (i = 0; i < md->nassets; i++)
		if (strcmp(md->assets[i].symbol, symbol) == 0)
			return (long)i;
	return -1;
}

void
md_corr_set(struct md_corr *c, const char *a, const char *b, double rho)
{
	if (strcmp(a, b) > 0) {
		const char *t = a;

		a = b;
		b = t;
	}
	snprintf(c->a, sizeof(c->a), "%s", a);
	snprintf(c->b, sizeof(c->b), "%s", b);
	c->rho = rho;
}
