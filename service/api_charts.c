/*
 * api_charts.c - the pictures of docs/model.md section 10 as use cases
 * (api.h): SVG documents drawn by chart.h from the numbers the JSON
 * routes answer, never from a second computation.
 *
 *   cascade.svg       api_cascade_eval(), the evaluation behind
 *                     GET /v1/markets/{asset}/cascade: final price and
 *                     fired volume against the shocked price, the
 *                     price P and the cascade trigger price marked.
 *   liquidations.svg  the stored, not stale levels of the snapshot (those
 *                     the cascade and the score use), summed per price
 *                     bin of [P (1 - range), P (1 + range)] and stacked
 *                     by source, P marked.
 *   position picture  api_score_decode() and api_score_eval(), the steps
 *                     of POST /v1/score: the position's static and
 *                     effective liquidation prices over its asset's
 *                     liquidation map, and p_liquidation at the horizons
 *                     of api_chart_horizons (and the request's own).
 *
 * Binning (liquidations.svg): lo = P (1 - range), w = 2 P range / bins;
 * a level at price p in [lo, lo + bins w] goes to bin
 * min(floor((p - lo) / w), bins - 1).  Quantities are in the asset's
 * units, as stored.
 *
 * Every answer: content_type image/svg+xml, an ETag that is an FNV-1a
 * hash of the bytes (304 when If-None-Match names it), and the as_of of
 * the market (its updated_at) in the heading and the <desc>: the bytes
 * depend on the data only.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "api_int.h"
#include "cascade/score.h"
#include "chart.h"
#include "codec.h"
#include "hash.h"
#include "snapshot.h"
#include "svg.h"

_Static_assert(SNAPSHOT_MAX_SOURCES <= CHART_MAX_SERIES,
    "every source of an asset is one stack");

const double api_chart_horizons[API_CHART_NHORIZONS] = { 1, 3, 7, 14, 30,
	90 };

#define MAX_BINS 500
/* Most query parameters of a chart: width, height, theme + 2 own. */
static const char *const chart_names[] = { "width", "height", "theme",
	NULL };

/* ---- helpers -------------------------------------------------------- */

/* A whole number in [lo, hi] (decimal digits only) into *out. */
static void
query_int(struct problem *err, const char *name, const char *s, long lo,
    long hi, int *out)
{
	const char *p;
	long v = 0;

	if (s == NULL)
		return;
	for (p = s; *p >= '0' && *p <= '9' && v <= hi; p++)
		v = v * 10 + (*p - '0');
	if (*s == '\0' || *p != '\0' || v < lo || v > hi) {
		char msg[96];

		snprintf(msg, sizeof(msg), "must be a whole number in "
		    "%ld..%ld", lo, hi);
		api_query_error(err, name, msg);
		return;
	}
	*out = (int)v;
}

/*
 * The chart parameters of the query into *o (defaults first, height
 * min_height at least); with own (NULL-terminated, may be NULL) every
 * other name is checked too: unknown or repeated, 422 at /query/<name>.
 * own_v[k] gets own[k]'s value (NULL absent).
 */
static void
chart_query(const struct api_param *query, size_t n,
    const char *const *own, const char **own_v, int min_height,
    struct chart_opts *o, struct problem *err)
{
	const char *v[3] = { NULL, NULL, NULL };
	size_t i, k, nown = 0;
	unsigned seen = 0;

	chart_opts_init(o);
	if (o->height < 2 * min_height - min_height / 4)
		o->height = 2 * min_height - min_height / 4; /* two charts */
	if (min_height <= CHART_MIN_SIZE)
		o->height = CHART_DEFAULT_HEIGHT;
	while (own != NULL && own[nown] != NULL)
		own_v[nown++] = NULL;
	for (i = 0; i < n; i++) {
		const char *val = query[i].value != NULL ? query[i].value : "";

		for (k = 0; k < 3; k++)
			if (strcmp(query[i].name, chart_names[k]) == 0)
				break;
		if (k < 3) {
			if (seen & (1u << k))
				api_query_error(err, query[i].name,
				    "given more than once");
			seen |= 1u << k;
			v[k] = val;
			continue;
		}
		for (k = 0; k < nown; k++)
			if (strcmp(query[i].name, own[k]) == 0)
				break;
		if (own == NULL)
			continue; /* someone else checks the rest */
		if (k == nown)
			api_query_error(err, query[i].name,
			    "unknown query parameter");
		else if (own_v[k] != NULL)
			api_query_error(err, query[i].name,
			    "given more than once");
		else
			own_v[k] = val;
	}
	query_int(err, "width", v[0], CHART_MIN_SIZE, CHART_MAX_SIZE,
	    &o->width);
	query_int(err, "height", v[1], min_height, CHART_MAX_SIZE,
	    &o->height);
	if (v[2] != NULL && chart_theme_parse(v[2], &o->theme) != 0)
		api_query_error(err, "theme", "must be light or dark");
}

/* A rendered document (owned from here) as the answer, or 304. */
static int
svg_answer(struct api_answer *ans, enum chart_status st, char *doc,
    size_t len, const char *inm)
{
	if (st != CHART_OK || doc == NULL) {
		free(doc);
		if (st == CHART_ENOMEM)
			return api_oom(ans);
		problem_set(&ans->err, 500, "internal", "Internal server error",
		    "the chart could not be drawn");
		ans->status = 500;
		return 500;
	}
	hash_etag(hash_fnv(HASH_FNV_INIT, doc, len), ans->etag);
	if (api_etag_matches(inm, ans->etag)) {
		free(doc);
		ans->status = 304;
		return 304;
	}
	ans->body = doc;
	ans->content_type = API_SVG_TYPE;
	ans->status = 200;
	return 200;
}

/* ---- cascade.svg ---------------------------------------------------- */

int
api_get_cascade_svg(struct app *app, const char *asset,
    const struct api_param *query, size_t n, const char *inm,
    struct api_answer *ans)
{
	struct snapshot *snap = api_current(app, ans);
	struct api_cascade_eval ev;
	struct chart_opts o;
	struct chart_line c;
	struct chart_series s[3];
	struct chart_marker m[2];
	double *x = NULL, *fin, *vol;
	char title[96], ylab[64], desc[512], reason[160], trig[32];
	const struct codec_cascade *cc = &ev.out;
	const char *side, *sym;
	char *doc = NULL;
	size_t k, len = 0;
	enum chart_status st;

	memset(&ev, 0, sizeof(ev));
	if (snap == NULL)
		return ans->status;
	chart_query(query, n, NULL, NULL, CHART_MIN_SIZE, &o, &ans->err);
	if (api_cascade_eval(snap, asset, query, n, chart_names, &ev,
	    ans) != 0 || api_query_failed(ans) != 0)
		goto out;
	sym = ev.sa->symbol;
	side = cc->dir == LC_DOWN ? "bid" : "ask";
	x = malloc(3 * cc->npoints * sizeof(*x) + 1);
	if (x == NULL) {
		api_oom(ans);
		goto out;
	}
	fin = x + cc->npoints;
	vol = fin + cc->npoints;
	for (k = 0; k < cc->npoints; k++) {
		x[k] = cc->points[k].shocked_price;
		fin[k] = cc->points[k].final_price;
		vol[k] = cc->points[k].volume;
	}
	snprintf(title, sizeof(title), "Cascade curve of %s (%s)", sym,
	    cc->dir == LC_DOWN ? "down" : "up");
	snprintf(ylab, sizeof(ylab), "fired volume (%s)", sym);
	memset(&c, 0, sizeof(c));
	memset(s, 0, sizeof(s));
	memset(m, 0, sizeof(m));
	s[0] = (struct chart_series){ "final price", x, fin, cc->npoints, 0,
		0, 0, 0 };
	s[1] = (struct chart_series){ "shocked price (no cascade)", x, x,
		cc->npoints, 0, 0, 1, 0 };
	s[2] = (struct chart_series){ "fired volume", x, vol, cc->npoints, 1,
		0, 0, 0 };
	m[0] = (struct chart_marker){ CHART_MARK_X, cc->price, "price", 0 };
	c.nmarkers = 1;
	if (cc->has_trigger) {
		m[1] = (struct chart_marker){ CHART_MARK_X, cc->trigger_price,
			"cascade trigger", 0 };
		c.nmarkers = 2;
	}
	reason[0] = '\0';
	if (cc->nlevels == 0)
		snprintf(reason, sizeof(reason), "%s has no stored %s levels "
		    "in reach: nothing fires", sym,
		    cc->dir == LC_DOWN ? "sell" : "buy");
	else if (ev.curve_n == 0)
		snprintf(reason, sizeof(reason), "%s has no %s depth: forced "
		    "%s do not move the price", sym, side,
		    cc->dir == LC_DOWN ? "sales" : "purchases");
	if (cc->has_trigger)
		snprintf(trig, sizeof(trig), "%.10g", cc->trigger_price);
	else
		snprintf(trig, sizeof(trig), "none");
	snprintf(desc, sizeof(desc),
	    "Final price and fired volume of the %s cascade against the "
	    "shocked price, from %zu stored level(s) over the %s depth; "
	    "price %.10g, cascade trigger price %s (threshold %.10g bps)%s%s.",
	    sym, cc->nlevels, side, cc->price, trig, cc->threshold_bps,
	    reason[0] != '\0' ? "; " : "", reason);
	c.frame = (struct chart_frame){ title, desc, ev.sa->updated_at,
		"shocked price (USD)", "price (USD)", reason };
	c.y2_label = ylab;
	c.series = s;
	c.nseries = reason[0] != '\0' ? 0 : 3;
	c.markers = m;
	st = chart_line_svg(&c, &o, &doc, &len);
	svg_answer(ans, st, doc, len, inm);
out:
	free(x);
	api_cascade_eval_release(&ev);
	snapshot_unref(snap);
	return ans->status;
}

/* ---- liquidations.svg ----------------------------------------------- */

/* A liquidation map: bins of qty per source. */
struct liqmap {
	double lo, hi, w;
	size_t nbins;
	double *edges;		/* nbins + 1 */
	double *qty;		/* nsrc x nbins */
	size_t nsrc;
	size_t nlevels;		/* levels in the range */
	struct chart_stack stacks[SNAPSHOT_MAX_SOURCES];
	size_t nstacks;
};

static void
liqmap_release(struct liqmap *m)
{
	free(m->edges);
	free(m->qty);
	memset(m, 0, sizeof(*m));
}

/* The source's legend name. */
static const char *
source_name(const struct snapshot_asset *sa, size_t k)
{
	if (k >= sa->nsources || sa->sources[k][0] == '\0')
		return "(no source)";
	return sa->sources[k];
}

/* Bin the not stale levels of sa within +-range of P; 0 or -1 (ENOMEM). */
static int
liqmap_build(const struct snapshot_asset *sa, double range, size_t nbins,
    struct liqmap *m)
{
	double P = sa->price;
	size_t k, i, d, b, nsrc = sa->nsources > 0 ? sa->nsources : 1;

	memset(m, 0, sizeof(*m));
	m->nbins = nbins;
	m->lo = P * (1 - range);
	m->hi = P * (1 + range);
	m->w = (m->hi - m->lo) / (double)nbins;
	m->nsrc = nsrc;
	m->edges = malloc((nbins + 1) * sizeof(double));
	m->qty = calloc(nsrc * nbins, sizeof(double));
	if (m->edges == NULL || m->qty == NULL)
		return -1;
	for (k = 0; k <= nbins; k++)
		m->edges[k] = m->lo + (double)k * m->w;
	m->edges[nbins] = m->hi;
	for (d = 0; d < 2; d++) {
		const struct snapshot_levels *lv = &sa->levels[d];

		/* the stale levels lead the cascade order */
		for (i = lv->nstale; i < lv->n; i++) {
			double p = lv->price[i];
			size_t s = lv->src != NULL ? lv->src[i] : 0;

			if (!(p >= m->lo && p <= m->hi))
				continue;
			b = (size_t)floor((p - m->lo) / m->w);
			if (b >= nbins)
				b = nbins - 1;
			m->qty[(s < nsrc ? s : nsrc - 1) * nbins + b] +=
			    lv->qty[i];
			m->nlevels++;
		}
	}
	for (k = 0; k < nsrc; k++) {
		for (b = 0; b < nbins && m->qty[k * nbins + b] == 0; b++)
			;
		if (b == nbins)
			continue; /* nothing of this source in range */
		m->stacks[m->nstacks].name = source_name(sa, k);
		m->stacks[m->nstacks++].qty = m->qty + k * nbins;
	}
	return 0;
}

/*
 * The bars of the liquidation map of sa, with the markers given (P
 * first), into *c; strings into title/desc/ylab/reason of the caller.
 */
static void
liqmap_chart(const struct snapshot_asset *sa, const struct liqmap *m,
    double range, struct chart_bars *c, char *title, size_t ntitle,
    char *desc, size_t ndesc, char *ylab, size_t nylab, char *reason,
    size_t nreason)
{
	snprintf(title, ntitle, "Liquidation map of %s", sa->symbol);
	snprintf(ylab, nylab, "level quantity (%s)", sa->symbol);
	reason[0] = '\0';
	if (m->nlevels == 0)
		snprintf(reason, nreason, "%s has no stored liquidation "
		    "levels within %.4g%% of its price", sa->symbol,
		    100 * range);
	snprintf(desc, ndesc,
	    "Quantity of the stored liquidation levels of %s (sell below, "
	    "buy above the price) in %zu bins of price within %.4g%% of the "
	    "price %.10g, stacked by source: %zu level(s) from %zu "
	    "source(s)%s%s.", sa->symbol, m->nbins, 100 * range, sa->price,
	    m->nlevels, m->nstacks, reason[0] != '\0' ? "; " : "", reason);
	memset(c, 0, sizeof(*c));
	c->frame = (struct chart_frame){ title, desc, sa->updated_at,
		"price (USD)", ylab, reason };
	c->edges = m->edges;
	c->nbins = m->nbins;
	c->stacks = m->stacks;
	c->nstacks = m->nstacks;
}

enum { L_RANGE, L_BINS, L_N };
static const char *const liq_names[] = { "range", "bins", NULL };

/* range and bins of the query (defaults 0.5 and 50) into the answer. */
static void
liq_query(const char *v[L_N], double *range, int *bins, struct problem *err)
{
	*range = 0.5;
	*bins = 50;
	if (api_query_num(err, "range", v[L_RANGE], range) == 0 &&
	    !(*range > 0 && *range <= 1))
		api_query_error(err, "range", "must be in (0, 1]");
	query_int(err, "bins", v[L_BINS], 1, MAX_BINS, bins);
}

int
api_get_liquidations_svg(struct app *app, const char *asset,
    const struct api_param *query, size_t n, const char *inm,
    struct api_answer *ans)
{
	struct snapshot *snap = api_current(app, ans);
	const struct snapshot_asset *sa;
	const char *v[L_N];
	struct chart_opts o;
	struct chart_bars c;
	struct chart_marker mk;
	struct liqmap m;
	char title[96], ylab[64], desc[512], reason[160];
	char *doc = NULL;
	size_t len = 0;
	enum chart_status st;
	double range;
	int bins;
	long i;

	memset(&m, 0, sizeof(m));
	if (snap == NULL)
		return ans->status;
	i = api_find_stored(snap, asset);
	if (i < 0) {
		api_not_found(ans, asset);
		goto out;
	}
	chart_query(query, n, liq_names, v, CHART_MIN_SIZE, &o, &ans->err);
	liq_query(v, &range, &bins, &ans->err);
	if (api_query_failed(ans) != 0)
		goto out;
	sa = &snap->assets[i];
	if (liqmap_build(sa, range, (size_t)bins, &m) != 0) {
		api_oom(ans);
		goto out;
	}
	liqmap_chart(sa, &m, range, &c, title, sizeof(title), desc,
	    sizeof(desc), ylab, sizeof(ylab), reason, sizeof(reason));
	mk = (struct chart_marker){ CHART_MARK_X, sa->price, "price", 0 };
	c.markers = &mk;
	c.nmarkers = 1;
	st = chart_bars_svg(&c, &o, &doc, &len);
	svg_answer(ans, st, doc, len, inm);
out:
	liqmap_release(&m);
	snapshot_unref(snap);
	return ans->status;
}

/* ---- the position picture ------------------------------------------- */

/*
 * Two charts in one document: each inner <svg> keeps its own <title> and
 * <desc>, placed one above the other under the outer title and desc.
 */
static char *
stack_docs(const char *title, const char *desc, int width, const char *a,
    int ha, const char *b, int hb, size_t *len)
{
	const char *pa = strstr(a, "<svg"), *pb = strstr(b, "<svg");
	char *out = NULL, *et = NULL, *ed = NULL;
	size_t cap, net, ned;
	int n;

	if (pa == NULL || pb == NULL)
		return NULL;
	net = svg_escape(NULL, 0, title) + 1;
	ned = svg_escape(NULL, 0, desc) + 1;
	et = malloc(net);
	ed = malloc(ned);
	cap = strlen(a) + strlen(b) + net + ned + 512;
	out = malloc(cap);
	if (et == NULL || ed == NULL || out == NULL) {
		free(out);
		out = NULL;
		goto done;
	}
	svg_escape(et, net, title);
	svg_escape(ed, ned, desc);
	n = snprintf(out, cap,
	    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	    "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" "
	    "height=\"%d\" viewBox=\"0 0 %d %d\"><title>%s</title>"
	    "<desc>%s</desc>\n<svg x=\"0\" y=\"0\"%s\n<svg x=\"0\" y=\"%d\"%s"
	    "</svg>\n", width, ha + hb, width, ha + hb, et, ed, pa + 4, ha,
	    pb + 4);
	if (n < 0 || (size_t)n >= cap) {
		free(out);
		out = NULL;
		goto done;
	}
	*len = (size_t)n;
done:
	free(et);
	free(ed);
	return out;
}

/* %.10g of a price, "none" for null (NaN). */
static void
fmt_price(char *buf, size_t cap, double v)
{
	if (isfinite(v))
		snprintf(buf, cap, "%.10g", v);
	else
		snprintf(buf, cap, "none");
}

/* The liquidation map of the position's asset with its prices marked. */
static enum chart_status
position_map(const struct snapshot_asset *sa, const struct lc_liq_result *lp,
    const struct chart_opts *o, char **doc, size_t *len)
{
	struct liqmap m;
	struct chart_bars c;
	struct chart_marker mk[3];
	char title[96], ylab[64], desc[512], reason[224];
	double range = 0.5, d;
	enum chart_status st;

	/* wide enough to show the liquidation prices, at most the whole */
	if (lp != NULL && isfinite(lp->price) && sa->price > 0) {
		d = fabs(lp->price / sa->price - 1) * 1.25;
		if (d > range)
			range = d < 1 ? d : 1;
	}
	if (liqmap_build(sa, range, 50, &m) != 0) {
		liqmap_release(&m);
		return CHART_ENOMEM;
	}
	liqmap_chart(sa, &m, range, &c, title, sizeof(title), desc,
	    sizeof(desc), ylab, sizeof(ylab), reason, sizeof(reason));
	if (reason[0] != '\0' && lp != NULL) {
		/* nothing to draw the markers on: the reason says the prices */
		char sp[32], ep[32];
		size_t l = strlen(reason);

		fmt_price(sp, sizeof(sp), lp->price);
		fmt_price(ep, sizeof(ep), lp->effective_price);
		snprintf(reason + l, sizeof(reason) - l, "; liquidation price "
		    "%s, effective %s", sp, ep);
	}
	mk[0] = (struct chart_marker){ CHART_MARK_X, sa->price, "price", 0 };
	c.nmarkers = 1;
	if (lp != NULL && isfinite(lp->price))
		mk[c.nmarkers++] = (struct chart_marker){ CHART_MARK_X,
			lp->price, "static liquidation", 0 };
	if (lp != NULL && isfinite(lp->effective_price))
		mk[c.nmarkers++] = (struct chart_marker){ CHART_MARK_X,
			lp->effective_price, "effective liquidation", 0 };
	c.markers = mk;
	st = chart_bars_svg(&c, o, doc, len);
	liqmap_release(&m);
	return st;
}

/* p_liquidation (in %) against the horizon. */
static enum chart_status
position_curve(const double *h, const double *p, const double *ps,
    size_t n, double horizon, const char *as_of, const struct chart_opts *o,
    char **doc, size_t *len)
{
	struct chart_line c;
	struct chart_series s[2];
	struct chart_marker mk;

	memset(&c, 0, sizeof(c));
	s[0] = (struct chart_series){ "p_liquidation (with the cascade)", h,
		p, n, 0, 1, 0, 0 };
	s[1] = (struct chart_series){ "p_liquidation_static", h, ps, n, 0, 1,
		1, 0 };
	mk = (struct chart_marker){ CHART_MARK_X, horizon, "horizon", 0 };
	c.frame = (struct chart_frame){ "Probability of liquidation",
		"p_liquidation and p_liquidation_static of the position "
		"against the horizon, as POST /v1/score answers them.", as_of,
		"horizon (days)", "p_liquidation (%)", "no probability" };
	c.series = s;
	c.nseries = 2;
	c.markers = &mk;
	c.nmarkers = 1;
	return chart_line_svg(&c, o, doc, len);
}

int
api_score_svg(struct app *app, const char *body, size_t len,
    const struct api_param *query, size_t n, const char *inm,
    struct api_answer *ans)
{
	struct snapshot *snap = NULL;
	struct score_request req;
	struct lc_score_result res;
	struct lc_market mkt;
	void *own = NULL;
	const struct lc_liq_result *lp = NULL;
	const struct snapshot_asset *sa;
	struct chart_opts o, oa, ob;
	double h[API_CHART_NHORIZONS + 1], p[API_CHART_NHORIZONS + 1];
	double ps[API_CHART_NHORIZONS + 1], horizon, sp = NAN, ep = NAN;
	char title[128], desc[512], spt[32], ept[32];
	char *da = NULL, *db = NULL, *doc = NULL;
	size_t la = 0, lb = 0, dl = 0, k, nh = 0;
	enum chart_status st;
	uint32_t asset;
	int done = 0;

	codec_request_init(&req);
	lc_score_result_init(&res);
	chart_query(query, n, (const char *const[]){ NULL }, NULL,
	    2 * CHART_MIN_SIZE, &o, &ans->err);
	if (api_query_failed(ans) != 0)
		goto out;
	snap = api_score_decode(app, body, len, &req, &mkt, &own, ans);
	if (snap == NULL)
		goto out;
	if (req.npos != 1) {
		api_fail_field(ans, "/positions",
		    "the picture of a position takes exactly one position");
		goto out;
	}
	horizon = req.lc.params.horizon_days;
	/* the horizons of the curve, the request's own in its place */
	for (k = 0; k <= API_CHART_NHORIZONS; k++) {
		double hk = k < API_CHART_NHORIZONS ? api_chart_horizons[k]
		                                    : (double)INFINITY;

		if (!done && horizon <= hk) {
			h[nh++] = horizon;
			done = 1;
			if (horizon == hk)
				continue;
		}
		if (k < API_CHART_NHORIZONS)
			h[nh++] = hk;
	}
	for (k = 0; k < nh; k++) {
		req.lc.params.horizon_days = h[k];
		if (api_score_eval(&mkt, &req, &res, ans) != 0)
			goto out;
		p[k] = 100 * res.pos[0].p_liq;
		ps[k] = 100 * res.pos[0].p_liq_static;
		if (h[k] == horizon && res.pos[0].nlp > 0) {
			sp = res.pos[0].lp[0].price;
			ep = res.pos[0].lp[0].effective_price;
		}
	}
	req.lc.params.horizon_days = horizon;
	/* the liquidation prices do not depend on the horizon */
	if (res.pos[0].nlp > 0) {
		lp = &res.pos[0].lp[0];
		asset = lp->asset;
	} else if (req.pos[0].type == LC_POS_PERP) {
		asset = req.pos[0].u.perp.asset;
	} else {
		/* no liquidation price (a stable loan): its first entry */
		const struct lc_loan *ln = &req.pos[0].u.loan;

		asset = ln->ncoll > 0 ? ln->coll[0].asset
		                      : (ln->ndebt > 0 ? ln->debt[0].asset : 0);
	}
	sa = &snap->assets[asset < snap->nassets ? asset : 0];
	oa = o;
	oa.height = o.height / 2;
	ob = o;
	ob.height = o.height - oa.height;
	st = position_map(sa, lp, &oa, &da, &la);
	if (st == CHART_OK)
		st = position_curve(h, p, ps, nh, horizon, sa->updated_at, &ob,
		    &db, &lb);
	if (st != CHART_OK) {
		svg_answer(ans, st, NULL, 0, inm);
		goto out;
	}
	snprintf(title, sizeof(title), "Position %s on %s",
	    req.pos[0].id != NULL ? req.pos[0].id : "", sa->symbol);
	fmt_price(spt, sizeof(spt), sp);
	fmt_price(ept, sizeof(ept), ep);
	snprintf(desc, sizeof(desc),
	    "The position's static liquidation price %s and effective "
	    "liquidation price %s on the liquidation map of %s, and its "
	    "p_liquidation against the horizon (%.10g days asked), as of %s.",
	    spt, ept, sa->symbol, horizon, sa->updated_at);
	doc = stack_docs(title, desc, o.width, da, oa.height, db, ob.height,
	    &dl);
	svg_answer(ans, doc != NULL ? CHART_OK : CHART_ENOMEM, doc, dl, inm);
out:
	free(da);
	free(db);
	lc_score_result_release(&res);
	codec_request_release(&req);
	api_books_own_free(own);
	snapshot_unref(snap);
	return ans->status;
}

/* ---- risk.svg --------------------------------------------------------- */

/*
 * The book under a shock (8.2) as api_get_book_risk answers it: its JSON
 * is read back (the numbers are written to round-trip exactly), so the
 * chart is that answer drawn, never a second evaluation.  Upper panel:
 * liquidated value, lower panel: bad debt, both in USD against the
 * shock in %; with the cascade solid, without (the _static figures)
 * dashed; the VaR 95 and 99 shocks of the same answer marked when on the
 * grid.
 */

/* A number member of o (NaN when absent or null). */
static double
jnum(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsNumber(v) ? v->valuedouble : (double)NAN;
}

/* A string member of o ("" when absent or not a string). */
static const char *
jstr(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsString(v) ? v->valuestring : "";
}

/* The query without the chart's own parameters (the risk's to check). */
static struct api_param *
risk_params(const struct api_param *query, size_t n, size_t *nout)
{
	struct api_param *p = malloc((n + 1) * sizeof(*p));
	size_t i, k;

	*nout = 0;
	if (p == NULL)
		return NULL;
	for (i = 0; i < n; i++) {
		for (k = 0; chart_names[k] != NULL; k++)
			if (strcmp(query[i].name, chart_names[k]) == 0)
				break;
		if (chart_names[k] == NULL)
			p[(*nout)++] = query[i];
	}
	return p;
}

/* The field errors of src after those of dst (the status stays dst's). */
static void
merge_errors(struct problem *dst, const struct problem *src)
{
	size_t i;

	for (i = 0; i < src->nerrors; i++)
		problem_add(dst, src->errors[i].pointer, "%s",
		    src->errors[i].detail);
}

/*
 * The risk answer and the book's meta (GET /v1/books) of one snapshot
 * version: the two reads are repeated (3 times at most) while a write
 * comes between them.  The risk's status, its answer in *risk (its
 * problem on failure) and the book's object in *books (a parse of the
 * listing, NULL unless 200).
 */
static int
risk_read(struct app *app, const char *book, const struct api_param *p,
    size_t np, struct api_answer *risk, cJSON **books,
    struct snapshot **snap)
{
	struct api_answer l;
	struct snapshot *after;
	int tries;

	*books = NULL;
	*snap = NULL;
	for (tries = 0; tries < 3; tries++) {
		cJSON_Delete(*books);
		*books = NULL;
		snapshot_unref(*snap);
		api_answer_release(risk);
		api_answer_init(risk);
		*snap = api_current(app, risk);
		if (*snap == NULL)
			return risk->status;
		if (api_get_book_risk(app, book, p, np, risk) != 200)
			return risk->status;
		api_answer_init(&l);
		if (api_get_books(app, &l) == 200)
			*books = cJSON_Parse(l.body);
		api_answer_release(&l);
		api_answer_init(&l);
		after = api_current(app, &l);
		api_answer_release(&l);
		if (after != NULL && after->version == (*snap)->version) {
			snapshot_unref(after);
			break;
		}
		snapshot_unref(after);
	}
	if (*books == NULL)
		return api_oom(risk);
	return 200;
}

/* The book's entry of the listing, NULL when absent. */
static const cJSON *
book_meta(const cJSON *listing, const char *book)
{
	const cJSON *b;

	cJSON_ArrayForEach(b, cJSON_GetObjectItemCaseSensitive(listing,
	    "books"))
		if (strcmp(jstr(b, "book"), book) == 0)
			return b;
	return NULL;
}

/*
 * Whether the book holds a position exposed to asset in the direction
 * (8.2: collateral or a long perp going down, debt or a short perp going
 * up), from GET /v1/books/{book}: 1, 0, or -1 with *ans failed.
 */
static int
book_exposed(struct app *app, const char *book, const char *asset, int up,
    struct api_answer *ans)
{
	struct api_answer g;
	const cJSON *a;
	cJSON *root = NULL;
	int exposed = 0;

	api_answer_init(&g);
	if (api_get_book(app, book, &g) != 200 ||
	    (root = cJSON_Parse(g.body)) == NULL) {
		api_answer_release(&g);
		api_oom(ans);
		return -1;
	}
	cJSON_ArrayForEach(a, cJSON_GetObjectItemCaseSensitive(root,
	    "assets"))
		if (strcmp(jstr(a, "asset"), asset) == 0)
			exposed = jnum(a, up ? "debt" : "collateral") > 0 ||
			    jnum(a, up ? "perp_short" : "perp_long") > 0;
	cJSON_Delete(root);
	api_answer_release(&g);
	return exposed;
}

/*
 * "<what>liquidated value 1 USD (without the cascade 2), <what>bad debt
 * 3 USD (without 4)" of the figures of o ("none" for null).
 */
static size_t
figs_text(char *buf, size_t cap, const char *what, const cJSON *o)
{
	static const char *const k[4] = { "liquidated_value",
		"liquidated_value_static", "bad_debt", "bad_debt_static" };
	char f[4][32];
	size_t i;

	for (i = 0; i < 4; i++)
		fmt_price(f[i], sizeof(f[i]), jnum(o, k[i]));
	return (size_t)snprintf(buf, cap, "%sliquidated value %s USD "
	    "(without the cascade %s), %sbad debt %s USD (without %s)", what,
	    f[0], f[1], what, f[2], f[3]);
}

/* "; VaR 95%: shock -12.3%, <figures>" of one var entry. */
static size_t
var_text(char *buf, size_t cap, const cJSON *v, int drawn)
{
	char sh[32];
	size_t n;

	fmt_price(sh, sizeof(sh), 100 * jnum(v, "shock"));
	n = (size_t)snprintf(buf, cap, "; VaR %.10g%%: shock %s%%%s, ",
	    100 * jnum(v, "q"), sh, drawn ? "" : " (off the grid, not marked)");
	if (n < cap)
		n += figs_text(buf + n, cap - n, "", v);
	return n;
}

/* The series (upper: value, lower: bad debt) from the answer's points. */
enum { RK_X, RK_V, RK_VS, RK_D, RK_DS, RK_N };

int
api_get_book_risk_svg(struct app *app, const char *book,
    const struct api_param *query, size_t n, const char *inm,
    struct api_answer *ans)
{
	static const char *const labels[2] = { "VaR 95%", "VaR 99%" };
	struct api_answer r;
	struct api_param *p = NULL;
	struct snapshot *snap = NULL;
	struct chart_opts o;
	struct chart_line c;
	struct chart_series s[4];
	struct chart_marker m[2];
	cJSON *root = NULL, *listing = NULL;
	const cJSON *pts, *pt, *var, *meta;
	const char *sym, *dir, *as_of;
	double *col = NULL, xlo = INFINITY, xhi = -INFINITY;
	char title[160], desc[1600], reason[256], mkt_as_of[64];
	char *doc = NULL;
	size_t np = 0, npts, k, len = 0, dl;
	int q, nothing = 1, up, exposed;
	long ia;
	enum chart_status st;

	api_answer_init(&r);
	chart_query(query, n, NULL, NULL, CHART_MIN_SIZE, &o, &ans->err);
	p = risk_params(query, n, &np);
	if (p == NULL) {
		api_oom(ans);
		goto out;
	}
	if (risk_read(app, book, p, np, &r, &listing, &snap) != 200) {
		/* its 404 alone; its 422 with the chart's */
		if (r.status == 422 && ans->err.nerrors > 0) {
			merge_errors(&ans->err, &r.err);
			api_query_failed(ans);
			goto out;
		}
		problem_release(&ans->err);
		ans->err = r.err;
		problem_init(&r.err);
		ans->status = r.status;
		ans->retry_after = r.retry_after;
		goto out;
	}
	if (api_query_failed(ans) != 0)
		goto out;
	root = cJSON_Parse(r.body);
	if (root == NULL) {
		api_oom(ans);
		goto out;
	}
	pts = cJSON_GetObjectItemCaseSensitive(root, "points");
	npts = (size_t)cJSON_GetArraySize(pts);
	col = malloc((RK_N * npts + 1) * sizeof(*col));
	if (col == NULL) {
		api_oom(ans);
		goto out;
	}
	k = 0;
	cJSON_ArrayForEach(pt, pts) {
		double x = 100 * jnum(pt, "shock");

		col[RK_X * npts + k] = x;
		col[RK_V * npts + k] = jnum(pt, "liquidated_value");
		col[RK_VS * npts + k] = jnum(pt, "liquidated_value_static");
		col[RK_D * npts + k] = jnum(pt, "bad_debt");
		col[RK_DS * npts + k] = jnum(pt, "bad_debt_static");
		if (jnum(pt, "liquidated_positions") > 0 ||
		    jnum(pt, "liquidated_positions_static") > 0)
			nothing = 0;
		xlo = fmin(xlo, x);
		xhi = fmax(xhi, x);
		k++;
	}
	sym = jstr(root, "asset");
	dir = jstr(root, "direction");
	up = strcmp(dir, "up") == 0;
	meta = book_meta(listing, book);
	as_of = jstr(meta, "as_of");
	if (as_of[0] == '\0')
		as_of = jstr(meta, "updated_at");
	ia = api_find_stored(snap, sym);
	snprintf(mkt_as_of, sizeof(mkt_as_of), "%s",
	    ia >= 0 ? snap->assets[ia].updated_at : "");
	reason[0] = '\0';
	exposed = 1;
	if (nothing) {
		exposed = book_exposed(app, book, sym, up, ans);
		if (exposed < 0)
			goto out;
	}
	if (!exposed)
		snprintf(reason, sizeof(reason), "book %s holds no position "
		    "exposed to %s going %s", book, sym, dir);
	memset(s, 0, sizeof(s));
	memset(m, 0, sizeof(m));
	memset(&c, 0, sizeof(c));
	s[0] = (struct chart_series){ "with the cascade", col, col + RK_V *
		npts, npts, 0, 0, 0, 1 };
	s[1] = (struct chart_series){ "without the cascade (static)", col,
		col + RK_VS * npts, npts, 0, 0, 1, 2 };
	s[2] = (struct chart_series){ NULL, col, col + RK_D * npts, npts, 1,
		0, 0, 1 };
	s[3] = (struct chart_series){ NULL, col, col + RK_DS * npts, npts, 1,
		0, 1, 2 };
	snprintf(title, sizeof(title), "Book %s under a shock of %s (%s)",
	    book, sym, dir);
	dl = (size_t)snprintf(desc, sizeof(desc),
	    "Liquidated value (upper panel) and bad debt (lower panel) of "
	    "the positions of book %s exposed to %s going %s, in USD against "
	    "the shock s of its price P = %.10g (shocked price P (1 + s)), "
	    "with the cascade (solid) and without it (dashed), over %zu "
	    "shock(s) from %.10g%% to %.10g%%; horizon %.10g day(s), tail dof "
	    "%.10g; prices of %s as of %s", book, sym, dir,
	    jnum(root, "price"), npts,
	    npts > 0 ? col[0] : 0.0, npts > 0 ? col[npts - 1] : 0.0,
	    jnum(root, "horizon_days"), jnum(root, "tail_dof"), sym,
	    mkt_as_of);
	var = cJSON_GetObjectItemCaseSensitive(root, "var");
	for (q = 0; q < 2; q++) {
		const cJSON *v = cJSON_GetArrayItem(var, q);
		double x = 100 * jnum(v, "shock");
		int drawn = isfinite(x) && x >= xlo && x <= xhi;

		if (v == NULL)
			continue;
		if (drawn)
			m[c.nmarkers++] = (struct chart_marker){ CHART_MARK_X,
				x, labels[q], 0 };
		if (dl < sizeof(desc))
			dl += var_text(desc + dl, sizeof(desc) - dl, v, drawn);
	}
	if (dl + 2 < sizeof(desc)) {
		memcpy(desc + dl, "; ", 3);
		dl += 2;
		dl += figs_text(desc + dl, sizeof(desc) - dl, "expected ",
		    cJSON_GetObjectItemCaseSensitive(root, "expected"));
	}
	if (dl < sizeof(desc))
		snprintf(desc + dl, sizeof(desc) - dl, "%s%s.",
		    reason[0] != '\0' ? "; " : "", reason);
	c.frame = (struct chart_frame){ title, desc, as_of, "shock (%)",
		"liquidated value (USD)", reason };
	c.y2_label = "bad debt (USD)";
	c.series = s;
	c.nseries = reason[0] != '\0' ? 0 : 4;
	c.markers = m;
	c.y_zero = 1;
	st = chart_line_svg(&c, &o, &doc, &len);
	svg_answer(ans, st, doc, len, inm);
out:
	free(col);
	free(p);
	cJSON_Delete(root);
	cJSON_Delete(listing);
	snapshot_unref(snap);
	api_answer_release(&r);
	return ans->status;
}
