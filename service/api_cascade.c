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
api_qerr(struct problem *err, const char *name, const char *detail)
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

void
api_qcheck(const struct api_param *query, size_t n,
    const char *const *names, size_t nnames, const char **v,
    struct problem *err)
{
	unsigned seen = 0;
	size_t i, k;

	for (k = 0; k < nnames; k++)
		v[k] = NULL;
	for (i = 0; i < n; i++) {
		for (k = 0; k < nnames; k++)
			if (strcmp(query[i].name, names[k]) == 0)
				break;
		if (k == nnames) {
			api_qerr(err, query[i].name, "unknown query parameter");
		} else if (seen & (1u << k)) {
			api_qerr(err, query[i].name, "given more than once");
		} else {
			seen |= 1u << k;
			v[k] = query[i].value != NULL ? query[i].value : "";
		}
	}
}

int
api_qnum(struct problem *err, const char *name, const char *s, double *out)
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
		api_qerr(err, name, "must be a number");
		return -1;
	}
	*out = v;
	return 0;
}

/* Parse and check the query; 0, or -1 with every error in err. */
static int
cascade_query(const struct api_param *query, size_t nquery,
    struct cascade_query *q, struct problem *err)
{
	const char *v[Q_N];
	double span, ratio, sgn, last;
	int ok_from, ok_to, ok_step;

	api_qcheck(query, nquery, qnames, Q_N, v, err);
	q->dir = LC_DOWN;
	if (v[Q_DIR] != NULL && strcmp(v[Q_DIR], "up") == 0)
		q->dir = LC_UP;
	else if (v[Q_DIR] != NULL && strcmp(v[Q_DIR], "down") != 0)
		api_qerr(err, "direction", "must be down or up");
	q->from = 0;
	q->to = q->dir == LC_DOWN ? -0.5 : 0.5;
	q->step = 0.01;
	q->threshold = 100;
	ok_from = api_qnum(err, "from", v[Q_FROM], &q->from) >= 0;
	ok_to = api_qnum(err, "to", v[Q_TO], &q->to) >= 0;
	ok_step = api_qnum(err, "step", v[Q_STEP], &q->step) >= 0;
	if (api_qnum(err, "cascade_threshold_bps", v[Q_THRESH],
	        &q->threshold) >= 0 &&
	    !(q->threshold > 0 && q->threshold <= 1e6))
		api_qerr(err, "cascade_threshold_bps", "must be in (0, 1e6]");
	if (ok_step && !(q->step > 0)) {
		api_qerr(err, "step", "must be > 0");
		ok_step = 0;
	}
	if (ok_from && !(1 + q->from > 0)) {
		api_qerr(err, "from",
		    "1 + from must be > 0 (a shock of -100% or "
		    "more has no price)");
		ok_from = 0;
	}
	if (ok_to && !(1 + q->to > 0)) {
		api_qerr(err, "to",
		    "1 + to must be > 0 (a shock of -100% or "
		    "more has no price)");
		ok_to = 0;
	}
	if (ok_from && ok_to &&
	    (q->dir == LC_DOWN ? q->to > q->from : q->to < q->from)) {
		api_qerr(err, "to",
		    q->dir == LC_DOWN ? "must be <= from for "
		                        "direction down"
		                      : "must be >= from for direction up");
		ok_to = 0;
	}
	if (ok_from && ok_to && ok_step) {
		span = fabs(q->to - q->from);
		ratio = span / q->step + 1e-9;
		if (!(ratio < (double)MAX_CASCADE_POINTS)) {
			api_qerr(err, "step", "gives more than 1001 points");
		} else {
			q->n = (size_t)floor(ratio);
			sgn = q->to >= q->from ? 1.0 : -1.0;
			last = q->from + (double)q->n * q->step * sgn;
			q->append_to = fabs(last - q->to) > 1e-9 * q->step;
			q->npoints = q->n + 1 + (q->append_to ? 1 : 0);
			if (q->npoints > MAX_CASCADE_POINTS)
				api_qerr(err, "step",
				    "gives more than 1001 "
				    "points");
		}
	}
	if (err->nerrors > 0) {
		problem_set(err, 422, "validation", "Unprocessable request",
		    "%zu query parameter(s) break the contract (see errors)",
		    err->nerrors);
		return -1;
	}
	return 0;
}

int
api_get_cascade(struct app *app, const char *asset,
    const struct api_param *query, size_t nquery, struct api_answer *ans)
{
	struct snapshot *snap = api_current(app, ans);
	const struct snapshot_asset *sa;
	const struct lc_asset_market *am;
	const struct lc_levels *lv;
	const struct lc_curve *curve;
	struct cascade_query q;
	struct lc_cascade c;
	struct lc_cascade_point *pts = NULL;
	struct codec_warnings w;
	struct codec_cascade out;
	double sgn, P;
	size_t k, nstale;
	enum lc_status st;
	long i;

	lc_cascade_init(&c);
	codec_warnings_init(&w);
	memset(&q, 0, sizeof(q));
	if (snap == NULL)
		goto out;
	i = api_find_stored(snap, asset);
	if (i < 0) {
		api_not_found(ans, asset);
		goto out;
	}
	if (cascade_query(query, nquery, &q, &ans->err) != 0) {
		ans->status = ans->err.status;
		goto out;
	}
	sa = &snap->assets[i];
	am = &snap->lc_assets[i];
	P = am->price;
	lv = &am->levels[q.dir];
	curve = &am->curve[q.dir == LC_DOWN ? LC_BID : LC_ASK];
	/* the stored levels in cascade order: the stale ones lead */
	nstale = lc_levels_stale(q.dir, lv->price, lv->n, P);
	st = lc_cascade_build(&c, q.dir, curve, 1.0,
	    lv->n > nstale ? lv->price + nstale : NULL,
	    lv->n > nstale ? lv->qty + nstale : NULL, lv->n - nstale);
	if (st == LC_ENOMEM)
		goto nomem;
	if (st != LC_OK) {
		problem_set(&ans->err, 500, "internal", "Internal server error",
		    "the cascade of %s could not be built (%s)", asset,
		    lc_status_str(st));
		ans->status = 500;
		goto out;
	}
	if (nstale > 0)
		codec_warnings_add(&w, "stale_levels", sa->symbol, NULL,
		    (int64_t)nstale, NULL,
		    "%zu stored %s level(s) have "
		    "already fired at the price %.17g and are ignored",
		    nstale, q.dir == LC_DOWN ? "sell" : "buy", P);
	if (curve->n == 0 && sa->vol > 0)
		codec_warnings_add(&w, "missing_depth", sa->symbol,
		    q.dir == LC_DOWN ? "bid" : "ask", -1, NULL,
		    "%s has no %s "
		    "depth: forced %s move the price by 0 bps",
		    sa->symbol, q.dir == LC_DOWN ? "bid" : "ask",
		    q.dir == LC_DOWN ? "sales" : "purchases");
	pts = malloc(q.npoints * sizeof(*pts));
	if (pts == NULL)
		goto nomem;
	sgn = q.to >= q.from ? 1.0 : -1.0;
	for (k = 0; k <= q.n; k++)
		lc_cascade_point(&c, P, q.from + (double)k * q.step * sgn,
		    &pts[k]);
	if (q.append_to)
		lc_cascade_point(&c, P, q.to, &pts[k]);
	memset(&out, 0, sizeof(out));
	out.asset = sa->symbol;
	out.dir = q.dir;
	out.price = P;
	out.threshold_bps = q.threshold;
	out.has_trigger = lc_cascade_trigger(&c, q.threshold,
	    &out.trigger_price, &k) == 0;
	out.nlevels = lv->n - nstale;
	out.npoints = q.npoints;
	out.points = pts;
	out.warn = &w;
	if (codec_encode_cascade(&out, &ans->body) != 0)
		goto nomem;
	ans->status = 200;
	goto out;
nomem:
	api_oom(ans);
out:
	free(pts);
	lc_cascade_release(&c);
	codec_warnings_release(&w);
	snapshot_unref(snap);
	return ans->status;
}
