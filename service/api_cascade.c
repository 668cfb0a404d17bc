/*
 * api_cascade.c - GET /v1/markets/{asset}/cascade as a use case (api.h):
 * the cascade curve of one asset and direction over its stored levels.
 *
 * The query: direction down (default) or up; shocks from `from` (default
 * 0) to `to` (default -0.5 down, 0.5 up) by `step` (default 0.01),
 * i.e. from + k step (k = 0..n, n = floor(|to - from| / step + 1e-9)),
 * with `to` appended when the last shock misses it by more than 1e-9 step;
 * at most 1001 points.  1 + shock must stay > 0.  cascade_threshold_bps
 * (default 100, in (0, 1e6]) sets the cascade trigger price.
 *
 * The triggers are the asset's stored levels of that direction, in the
 * snapshot's cascade order, without the stale ones (lc_level_is_stale
 * against the asset's price: they lead the order, so they are a prefix);
 * a stale_levels warning counts them.  No depth on the side the cascade
 * eats (bid down, ask up) is a missing_depth warning for a volatile asset.
 * The snapshot's prebuilt cascade of those levels (lc_asset_market.base)
 * answers when it fits them (it was built at the same price, so it
 * does); otherwise the cascade is built here.  Same numbers either way.
 */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_int.h"
#include "cascade/cascade.h"
#include "codec.h"
#include "snapshot.h"

#define MAX_CASCADE_POINTS 1001

enum { Q_DIR, Q_FROM, Q_TO, Q_STEP, Q_THRESH, Q_N };
static const char *const qnames[Q_N] = { "direction", "from", "to", "step",
	"cascade_threshold_bps" };

struct cascade_query {
	enum lc_dir dir;
	double from, to, step, threshold;
	size_t npoints;
	size_t n; /* shocks 0..n by multiplication */
	int append_to; /* `to` appended as the last point */
};

void
api_query_error(struct problem *err, const char *name, const char *detail)
{
	char ptr[160];
	size_t n = 0;

	n = (size_t)snprintf(ptr, sizeof(ptr), "/query/");
	/* JSON pointer escaping of the name (~0, ~1), truncated */
	for (; *name != '\0' && n + 3 < sizeof(ptr); name++) {
		if (*name == '~' || *name == '/') {
			ptr[n++] = '~';
			ptr[n++] = *name == '~' ? '0' : '1';
		} else {
			ptr[n++] = *name;
		}
	}
	ptr[n] = '\0';
	problem_add(err, ptr, "%s", detail);
}

/* name is one of the NULL-terminated list (NULL: none). */
static int
listed(const char *name, const char *const *list)
{
	for (; list != NULL && *list != NULL; list++)
		if (strcmp(name, *list) == 0)
			return 1;
	return 0;
}

void
api_query_check(const struct api_param *query, size_t n,
    const char *const *names, size_t nnames, const char *const *other,
    const char **v, struct problem *err)
{
	unsigned seen = 0;
	size_t i, k;

	for (k = 0; k < nnames; k++)
		v[k] = NULL;
	for (i = 0; i < n; i++) {
		if (listed(query[i].name, other))
			continue;
		for (k = 0; k < nnames; k++)
			if (strcmp(query[i].name, names[k]) == 0)
				break;
		if (k == nnames) {
			api_query_error(err, query[i].name, "unknown query parameter");
		} else if (seen & (1u << k)) {
			api_query_error(err, query[i].name, "given more than once");
		} else {
			seen |= 1u << k;
			v[k] = query[i].value != NULL ? query[i].value : "";
		}
	}
}

/*
 * Every parameter known and given once (errors in request order); the
 * value of each known one (its first occurrence) in v[], NULL when absent.
 * The names in `other` are someone else's to check.
 */
static void
qcheck(const struct api_param *query, size_t n, const char *const *other,
    const char *v[Q_N], struct problem *err)
{
	api_query_check(query, n, qnames, Q_N, other, v, err);
}

/* The 422 of the query errors gathered in err: -1, else 0. */
static int
query_problem(struct problem *err)
{
	if (err->nerrors == 0)
		return 0;
	problem_set(err, 422, "validation", "Unprocessable request",
	    "%zu query parameter(s) break the contract (see errors)",
	    err->nerrors);
	return -1;
}

int
api_query_num(struct problem *err, const char *name, const char *s, double *out)
{
	const char *p;
	char *end = NULL;
	double v = 0;
	int ok;

	if (s == NULL)
		return 1; /* absent: keep the default */
	for (p = s; *p != '\0'; p++)
		if (!isdigit((unsigned char)*p) && *p != '.' && *p != '-' &&
		    *p != '+' && *p != 'e' && *p != 'E')
			break;
	ok = *s != '\0' && *p == '\0';
	if (ok) {
		v = strtod(s, &end);
		ok = *end == '\0' && isfinite(v);
	}
	if (!ok) {
		api_query_error(err, name, "must be a number");
		return -1;
	}
	*out = v;
	return 0;
}

/* Parse and check the query; 0, or -1 with every error in err. */
static int
cascade_query(const struct api_param *query, size_t nquery,
    const char *const *other, struct cascade_query *q, struct problem *err)
{
	const char *v[Q_N];
	double span, ratio, sgn, last;
	int ok_from, ok_to, ok_step;

	qcheck(query, nquery, other, v, err);
	q->dir = LC_DOWN;
	if (v[Q_DIR] != NULL && strcmp(v[Q_DIR], "up") == 0)
		q->dir = LC_UP;
	else if (v[Q_DIR] != NULL && strcmp(v[Q_DIR], "down") != 0)
		api_query_error(err, "direction", "must be down or up");
	q->from = 0;
	q->to = q->dir == LC_DOWN ? -0.5 : 0.5;
	q->step = 0.01;
	q->threshold = 100;
	ok_from = api_query_num(err, "from", v[Q_FROM], &q->from) >= 0;
	ok_to = api_query_num(err, "to", v[Q_TO], &q->to) >= 0;
	ok_step = api_query_num(err, "step", v[Q_STEP], &q->step) >= 0;
	if (api_query_num(err, "cascade_threshold_bps", v[Q_THRESH],
	        &q->threshold) >= 0 &&
	    !(q->threshold > 0 && q->threshold <= 1e6))
		api_query_error(err, "cascade_threshold_bps", "must be in (0, 1e6]");
	if (ok_step && !(q->step > 0)) {
		api_query_error(err, "step", "must be > 0");
		ok_step = 0;
	}
	if (ok_from && !(1 + q->from > 0)) {
		api_query_error(err, "from",
		    "1 + from must be > 0 (a shock of -100% or "
		    "more has no price)");
		ok_from = 0;
	}
	if (ok_to && !(1 + q->to > 0)) {
		api_query_error(err, "to",
		    "1 + to must be > 0 (a shock of -100% or "
		    "more has no price)");
		ok_to = 0;
	}
	if (ok_from && ok_to &&
	    (q->dir == LC_DOWN ? q->to > q->from : q->to < q->from)) {
		api_query_error(err, "to",
		    q->dir == LC_DOWN ? "must be <= from for "
		                        "direction down"
		                      : "must be >= from for direction up");
		ok_to = 0;
	}
	if (ok_from && ok_to && ok_step) {
		span = fabs(q->to - q->from);
		ratio = span / q->step + 1e-9;
		if (!(ratio < (double)MAX_CASCADE_POINTS)) {
			api_query_error(err, "step", "gives more than 1001 points");
		} else {
			q->n = (size_t)floor(ratio);
			sgn = q->to >= q->from ? 1.0 : -1.0;
			last = q->from + (double)q->n * q->step * sgn;
			q->append_to = fabs(last - q->to) > 1e-9 * q->step;
			q->npoints = q->n + 1 + (q->append_to ? 1 : 0);
			if (q->npoints > MAX_CASCADE_POINTS)
				api_query_error(err, "step",
				    "gives more than 1001 "
				    "points");
		}
	}
	return query_problem(err);
}

int
api_query_failed(struct api_answer *ans)
{
	if (query_problem(&ans->err) == 0)
		return 0;
	ans->status = 422;
	return -1;
}

void
api_cascade_eval_release(struct api_cascade_eval *ev)
{
	free(ev->pts);
	ev->pts = NULL;
	lc_cascade_release(&ev->c);
	codec_warnings_release(&ev->w);
}

int
api_cascade_eval(const struct snapshot *snap, const char *asset,
    const struct api_param *query, size_t nquery, const char *const *other,
    struct api_cascade_eval *ev, struct api_answer *ans)
{
	const struct snapshot_asset *sa;
	const struct lc_asset_market *am;
	const struct lc_levels *lv;
	const struct lc_curve *curve;
	struct cascade_query q;
	struct codec_cascade *out = &ev->out;
	const struct lc_cascade *cp = &ev->c;
	const struct lc_cascade_base *base;
	struct lc_cascade_view view;
	size_t vat[1];
	double sgn, P;
	size_t k, nstale;
	enum lc_status st;
	long i;

	memset(ev, 0, sizeof(*ev));
	lc_cascade_init(&ev->c);
	codec_warnings_init(&ev->w);
	memset(&q, 0, sizeof(q));
	i = api_find_stored(snap, asset);
	if (i < 0) {
		api_not_found(ans, asset);
		return -1;
	}
	if (cascade_query(query, nquery, other, &q, &ans->err) != 0) {
		ans->status = ans->err.status;
		return -1;
	}
	sa = &snap->assets[i];
	ev->sa = sa;
	am = &snap->lc_assets[i];
	P = am->price;
	lv = &am->levels[q.dir];
	curve = &am->curve[q.dir == LC_DOWN ? LC_BID : LC_ASK];
	ev->curve_n = curve->n;
	/* the stored levels in cascade order: the stale ones lead */
	nstale = lc_levels_stale(q.dir, lv->price, lv->n, P);
	/* the snapshot's prebuilt cascade of these levels, if it fits */
	base = am->base[q.dir];
	if (lc_cascade_base_fits(base, q.dir, curve, 1.0, lv->price, lv->n,
	    P)) {
		cp = &base->c;
		lc_view_init(&view, base, NULL, NULL, 0, vat, NULL, NULL);
		st = LC_OK;
	} else {
		st = lc_cascade_build(&ev->c, q.dir, curve, 1.0,
		    lv->n > nstale ? lv->price + nstale : NULL,
		    lv->n > nstale ? lv->qty + nstale : NULL,
		    lv->n - nstale);
	}
	if (st == LC_ENOMEM)
		goto nomem;
	if (st != LC_OK) {
		problem_set(&ans->err, 500, "internal", "Internal server error",
		    "the cascade of %s could not be built (%s)", asset,
		    lc_status_str(st));
		ans->status = 500;
		return -1;
	}
	if (nstale > 0)
		codec_warnings_add(&ev->w, "stale_levels", sa->symbol, NULL,
		    (int64_t)nstale, NULL,
		    "%zu stored %s level(s) have "
		    "already fired at the price %.17g and are ignored",
		    nstale, q.dir == LC_DOWN ? "sell" : "buy", P);
	if (curve->n == 0 && sa->vol > 0)
		codec_warnings_add(&ev->w, "missing_depth", sa->symbol,
		    q.dir == LC_DOWN ? "bid" : "ask", -1, NULL,
		    "%s has no %s "
		    "depth: forced %s move the price by 0 bps",
		    sa->symbol, q.dir == LC_DOWN ? "bid" : "ask",
		    q.dir == LC_DOWN ? "sales" : "purchases");
	ev->pts = malloc(q.npoints * sizeof(*ev->pts));
	if (ev->pts == NULL)
		goto nomem;
	sgn = q.to >= q.from ? 1.0 : -1.0;
	for (k = 0; k <= q.n; k++)
		lc_cascade_point(cp, P, q.from + (double)k * q.step * sgn,
		    &ev->pts[k]);
	if (q.append_to)
		lc_cascade_point(cp, P, q.to, &ev->pts[k]);
	out->asset = sa->symbol;
	out->dir = q.dir;
	out->price = P;
	out->threshold_bps = q.threshold;
	/* the base: a bisection on its running impact maximum, same k */
	out->has_trigger = (cp == &ev->c ? lc_cascade_trigger(&ev->c,
	    q.threshold, &out->trigger_price, &k) : lc_view_trigger(&view,
	    q.threshold, &out->trigger_price, &k)) == 0;
	out->nlevels = lv->n - nstale;
	out->npoints = q.npoints;
	out->points = ev->pts;
	out->warn = &ev->w;
	return 0;
nomem:
	api_oom(ans);
	return -1;
}

int
api_get_cascade(struct app *app, const char *asset,
    const struct api_param *query, size_t nquery, struct api_answer *ans)
{
	struct snapshot *snap = api_current(app, ans);
	struct api_cascade_eval ev;

	memset(&ev, 0, sizeof(ev));
	if (snap == NULL)
		return ans->status;
	if (api_cascade_eval(snap, asset, query, nquery, NULL, &ev, ans) == 0) {
		if (codec_encode_cascade(&ev.out, &ans->body) != 0)
			api_oom(ans);
		else
			ans->status = 200;
	}
	api_cascade_eval_release(&ev);
	snapshot_unref(snap);
	return ans->status;
}
