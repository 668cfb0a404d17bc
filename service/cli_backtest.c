/*
 * cli_backtest.c - `cascaded backtest` (cli_backtest.h): CSV candles in,
 * lc_bt_run() (the pure model), the report out as JSON through cJSON.
 * Numbers go in as raw text from json_format_double() (the shortest form
 * that reads back exactly; cJSON's own printer only checks its %.15g form
 * to a relative epsilon); undefined metrics print null.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cascade/backtest.h"
#include "cascade/vol.h"
#include "chart.h"
#include "cli_backtest.h"
#include "json.h"
#include "store_prices.h"

#define MAX_ASSETS 256
#define MAX_CANDLES 50000000u

struct bt_file {
	char *name;			/* asset */
	struct lc_candle *c;
	size_t n, cap;
};

static void
usage(FILE *out)
{
	fprintf(out,
	    "usage: cascaded backtest [--estimator blend|ewma|realised|"
	    "parkinson|\n"
	    "         garman-klass|rogers-satchell|garch|garch-parkinson]\n"
	    "         [--half-life DAYS]\n"
	    "         [--mean-reversion DAYS] [--window DAYS] "
	    "[--tail-dof NU]\n"
	    "         [--garch ALPHA,BETA|fit] [--sigma-scale K]\n"
	    "         [--horizons 1,7] [--thresholds 5,10,15,20,30] "
	    "[--warmup DAYS]\n"
	    "         [--from UNIX] [--to UNIX] [--svg FILE] [--db PATH] "
	    "FILE.csv ...\n"
	    "Scores the model's barrier probabilities on candle history "
	    "(CSV header\n"
	    "time,open,high,low,close, unix seconds; one asset per file, "
	    "named by the\n"
	    "file name without its extension).  JSON on stdout.\n");
}

/* ---- options -------------------------------------------------------- */

static int
parse_num(const char *s, double *out)
{
	char *end;
	double v;

	if (s == NULL || *s == '\0')
		return -1;
	errno = 0;
	v = strtod(s, &end);
	if (*end != '\0' || errno != 0 || !isfinite(v))
		return -1;
	*out = v;
	return 0;
}

/* Comma-separated numbers into out[cap]; *n their count. */
static int
parse_list(const char *s, double *out, size_t cap, size_t *n)
{
	char buf[512], *tok, *save = NULL;
	size_t len = strlen(s);

	*n = 0;
	if (len >= sizeof(buf))
		return -1;
	memcpy(buf, s, len + 1);
	for (tok = strtok_r(buf, ",", &save); tok != NULL;
	    tok = strtok_r(NULL, ",", &save)) {
		if (*n == cap || parse_num(tok, &out[*n]) != 0)
			return -1;
		(*n)++;
	}
	return *n > 0 ? 0 : -1;
}

/* What `--garch fit` found (fitted 0: the parameters were given). */
struct garch_fit_info {
	int given;			/* --garch was given */
	int fitted;
	double nll;
	size_t n_obs;
};

static int
set_option(struct lc_bt_opts *o, struct garch_fit_info *gf, const char *name,
    const char *val)
{
	double v, list[LC_BT_MAX_THRESHOLDS];
	size_t n, i;

	if (strcmp(name, "--estimator") == 0)
		return lc_bt_estimator_parse(val, &o->estimator);
	if (strcmp(name, "--garch") == 0) {
		gf->given = 1;
		gf->fitted = strcmp(val, "fit") == 0;
		if (gf->fitted)
			return 0;
		if (parse_list(val, list, 2, &n) != 0 || n != 2)
			return -1;
		o->garch.alpha = list[0];
		o->garch.beta = list[1];
		return 0;
	}
	if (strcmp(name, "--horizons") == 0) {
		if (parse_list(val, list, LC_BT_MAX_HORIZONS, &n) != 0)
			return -1;
		for (i = 0; i < n; i++) {
			if (list[i] != floor(list[i]) || list[i] < 1 ||
			    list[i] > LC_BT_MAX_HORIZON_DAYS)
				return -1;
			o->horizons[i] = (int)list[i];
		}
		o->n_horizons = n;
		return 0;
	}
	if (strcmp(name, "--thresholds") == 0) {
		if (parse_list(val, list, LC_BT_MAX_THRESHOLDS, &n) != 0)
			return -1;
		for (i = 0; i < n; i++) {
			if (!(list[i] > 0.0 && list[i] < 100.0))
				return -1;
			o->thresholds[i] = list[i] / 100.0;
		}
		o->n_thresholds = n;
		return 0;
	}
	if (parse_num(val, &v) != 0)
		return -1;
	if (strcmp(name, "--half-life") == 0)
		o->half_life_days = v;
	else if (strcmp(name, "--mean-reversion") == 0)
		o->mean_reversion_days = v;
	else if (strcmp(name, "--window") == 0)
		o->window_days = v;
	else if (strcmp(name, "--tail-dof") == 0)
		o->tail_dof = v;
	else if (strcmp(name, "--sigma-scale") == 0)
		o->sigma_scale = v;
	else if (strcmp(name, "--warmup") == 0)
		o->warmup_days = v;
	else if ((strcmp(name, "--from") == 0 || strcmp(name, "--to") == 0) &&
	    v == floor(v) && v > 0.0 && v < 1e12)
		*(name[2] == 'f' ? &o->from_t : &o->to_t) = (int64_t)v;
	else
		return -1;
	return 0;
}

/* ---- CSV ------------------------------------------------------------ */

static char *
asset_name(const char *path)
{
	const char *b = strrchr(path, '/'), *dot;
	size_t len;
	char *s;

	b = b ? b + 1 : path;
	dot = strrchr(b, '.');
	len = dot && dot != b ? (size_t)(dot - b) : strlen(b);
	s = malloc(len + 1);
	if (s != NULL) {
		memcpy(s, b, len);
		s[len] = '\0';
	}
	return s;
}

/* Split a line at commas in place (trailing CR/LF and spaces cut). */
static size_t
split(char *line, char **f, size_t cap)
{
	size_t n = 0, len = strlen(line);
	char *p = line;

	while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
		line[--len] = '\0';
	for (;;) {
		char *c = strchr(p, ','), *e;

		if (c != NULL)
			*c = '\0';
		while (*p == ' ' || *p == '\t')
			p++;
		e = p + strlen(p);
		while (e > p && (e[-1] == ' ' || e[-1] == '\t'))
			*--e = '\0';
		if (n < cap)
			f[n] = p;
		n++;
		if (c == NULL)
			break;
		p = c + 1;
	}
	return n;
}

static int
push_candle(struct bt_file *bf, const struct lc_candle *c)
{
	if (bf->n == bf->cap) {
		size_t cap = bf->cap ? 2 * bf->cap : 1024;
		struct lc_candle *nc;

		if (cap > MAX_CANDLES)
			return -1;
		nc = realloc(bf->c, cap * sizeof(*nc));
		if (nc == NULL)
			return -1;
		bf->c = nc;
		bf->cap = cap;
	}
	bf->c[bf->n++] = *c;
	return 0;
}

/*
 * Read one CSV file; 0 or -1 with a message on stderr.  strict: times
 * must increase and every row be a valid candle (the backtest's rules);
 * else the rows are taken as they come (cascaded import checks them).
 */
static int
read_csv_as(const char *who, const char *path, int strict,
    struct bt_file *bf)
{
	static const char *const cols[5] = { "time", "open", "high", "low",
		"close" };
	FILE *f = NULL;
	char *line = NULL, *fld[64];
	size_t cap = 0, lineno = 0, nf, i, k;
	int col[5], rc = -1;

	f = fopen(path, "r");
	if (f == NULL) {
		fprintf(stderr, "cascaded: %s: cannot open %s: %s\n",
		    who, path, strerror(errno));
		goto out;
	}
	if (getline(&line, &cap, f) < 0) {
		fprintf(stderr, "cascaded: %s: %s is empty\n", who, path);
		goto out;
	}
	lineno = 1;
	nf = split(line, fld, 64);
	for (k = 0; k < 5; k++) {
		col[k] = -1;
		for (i = 0; i < nf && i < 64; i++)
			if (strcmp(fld[i], cols[k]) == 0)
				col[k] = (int)i;
		if (col[k] < 0) {
			fprintf(stderr, "cascaded: %s: %s:1: the header "
			    "needs the columns time,open,high,low,close "
			    "(no '%s')\n", who, path, cols[k]);
			goto out;
		}
	}
	while (getline(&line, &cap, f) >= 0) {
		struct lc_candle c;
		double v[5];

		lineno++;
		nf = split(line, fld, 64);
		if (nf == 1 && fld[0][0] == '\0')
			continue;	/* blank line */
		for (k = 0; k < 5; k++)
			if ((size_t)col[k] >= nf || (size_t)col[k] >= 64 ||
			    parse_num(fld[col[k]], &v[k]) != 0)
				break;
		if (k < 5) {
			fprintf(stderr, "cascaded: %s: %s:%zu: column "
			    "'%s' is not a number\n", who, path, lineno, cols[k]);
			goto out;
		}
		if (v[0] != floor(v[0]) || fabs(v[0]) > 1e15) {
			fprintf(stderr, "cascaded: %s: %s:%zu: time is "
			    "not whole unix seconds\n", who, path, lineno);
			goto out;
		}
		c.t = (int64_t)v[0];
		c.open = v[1];
		c.high = v[2];
		c.low = v[3];
		c.close = v[4];
		if (strict && bf->n > 0 && c.t <= bf->c[bf->n - 1].t) {
			fprintf(stderr, "cascaded: %s: %s:%zu: times "
			    "must increase strictly\n", who, path, lineno);
			goto out;
		}
		if (strict && !(c.low > 0.0 && c.low <= fmin(c.open, c.close) &&
		    fmax(c.open, c.close) <= c.high)) {
			fprintf(stderr, "cascaded: %s: %s:%zu: needs 0 < "
			    "low <= min(open, close) <= max(open, close) <= "
			    "high\n", who, path, lineno);
			goto out;
		}
		if (push_candle(bf, &c) != 0) {
			fprintf(stderr, "cascaded: %s: %s: too many "
			    "rows or out of memory\n", who, path);
			goto out;
		}
	}
	if (ferror(f)) {
		fprintf(stderr, "cascaded: %s: %s: read error\n", who, path);
		goto out;
	}
	rc = 0;
out:
	free(line);
	if (f != NULL)
		fclose(f);
	return rc;
}

static int
read_csv(const char *path, struct bt_file *bf)
{
	return read_csv_as("backtest", path, 1, bf);
}

int
cli_read_candles(const char *who, const char *path, struct lc_candle **c,
    size_t *n)
{
	struct bt_file bf;

	memset(&bf, 0, sizeof(bf));
	*c = NULL;
	*n = 0;
	if (read_csv_as(who, path, 0, &bf) != 0) {
		free(bf.c);
		return -1;
	}
	*c = bf.c;
	*n = bf.n;
	return 0;
}

/* ---- JSON ----------------------------------------------------------- */

/* A number as its shortest exact text, or null when undefined. */
static cJSON *
num_item(double v)
{
	char buf[40];

	if (!isfinite(v))
		return cJSON_CreateNull();
	json_format_double(buf, v);
	return cJSON_CreateRaw(buf);
}

/* 0 on success. */
static int
add_num(cJSON *o, const char *key, double v)
{
	cJSON *it = num_item(v);

	if (it == NULL)
		return -1;
	if (!cJSON_AddItemToObject(o, key, it)) {
		cJSON_Delete(it);
		return -1;
	}
	return 0;
}

static int
add_item(cJSON *arr, cJSON *it)
{
	if (it == NULL)
		return -1;
	if (!cJSON_AddItemToArray(arr, it)) {
		cJSON_Delete(it);
		return -1;
	}
	return 0;
}

static cJSON *
result_json(const struct lc_bt_result *r, const char *asset)
{
	cJSON *o = cJSON_CreateObject(), *rel, *cov;
	size_t k;
	int bad = 0;

	if (o == NULL)
		return NULL;
	bad |= cJSON_AddStringToObject(o, "asset", asset) == NULL;
	bad |= add_num(o, "horizon_days", r->horizon_days);
	bad |= cJSON_AddStringToObject(o, "direction",
	    r->dir == LC_DOWN ? "down" : "up") == NULL;
	bad |= add_num(o, "n", (double)r->n);
	bad |= add_num(o, "brier", r->brier);
	bad |= add_num(o, "log_score", r->log_score);
	bad |= add_num(o, "observed", r->observed);
	bad |= add_num(o, "expected", r->expected);
	bad |= add_num(o, "oe", r->oe);
	rel = cJSON_AddArrayToObject(o, "reliability");
	cov = cJSON_AddArrayToObject(o, "coverage");
	if (bad || rel == NULL || cov == NULL)
		goto fail;
	for (k = 0; k < LC_BT_NBUCKETS; k++) {
		const struct lc_bt_bucket *b = &r->rel[k];
		cJSON *e = cJSON_CreateObject();

		if (add_item(rel, e) != 0)
			goto fail;
		bad |= add_num(e, "lo", b->lo) | add_num(e, "hi", b->hi);
		bad |= add_num(e, "n", (double)b->n);
		bad |= add_num(e, "mean_p", b->mean_p);
		bad |= add_num(e, "rate", b->rate);
	}
	for (k = 0; k < LC_BT_NALPHAS; k++) {
		const struct lc_bt_coverage *c = &r->cov[k];
		cJSON *e = cJSON_CreateObject();

		if (add_item(cov, e) != 0)
			goto fail;
		bad |= add_num(e, "alpha", c->alpha);
		bad |= add_num(e, "n", (double)c->n);
		bad |= add_num(e, "exceedances", (double)c->exceedances);
		bad |= add_num(e, "rate", c->rate);
		bad |= add_num(e, "kupiec_p", c->kupiec_p);
		bad |= add_num(e, "christoffersen_p", c->christoffersen_p);
	}
	if (bad)
		goto fail;
	return o;
fail:
	cJSON_Delete(o);
	return NULL;
}

static char *
report_json(const struct lc_bt_opts *o, const struct lc_bt_report *rep,
    const struct bt_file *files, const struct garch_fit_info *gf)
{
	cJSON *root = cJSON_CreateObject(), *est, *arr;
	char *text = NULL;
	size_t i;
	int bad = 0, garch = o->estimator == LC_BT_GARCH ||
	    o->estimator == LC_BT_GARCH_PARKINSON;

	if (root == NULL)
		return NULL;
	est = cJSON_AddObjectToObject(root, "estimator");
	if (est == NULL)
		goto out;
	bad |= cJSON_AddStringToObject(est, "name",
	    lc_bt_estimator_names[o->estimator]) == NULL;
	bad |= add_num(est, "half_life_days",
	    o->estimator != LC_BT_REALISED && !garch ? o->half_life_days :
	    (double)NAN);
	bad |= add_num(est, "mean_reversion_days",
	    o->estimator != LC_BT_EWMA && o->estimator != LC_BT_REALISED &&
	    !garch ? o->mean_reversion_days : (double)NAN);
	bad |= add_num(est, "window_days",
	    o->estimator == LC_BT_REALISED ? o->window_days : (double)NAN);
	if (garch) {
		bad |= add_num(est, "garch_alpha", o->garch.alpha);
		bad |= add_num(est, "garch_beta", o->garch.beta);
		bad |= add_num(est, "garch_fit_nll", gf->fitted ? gf->nll :
		    (double)NAN);
		bad |= add_num(est, "garch_fit_returns", gf->fitted ?
		    (double)gf->n_obs : (double)NAN);
	}
	if (o->sigma_scale != 1.0)
		bad |= add_num(est, "sigma_scale", o->sigma_scale);
	bad |= add_num(root, "tail_dof", o->tail_dof);
	arr = cJSON_AddArrayToObject(root, "horizons");
	for (i = 0; arr != NULL && i < o->n_horizons; i++)
		bad |= add_item(arr, num_item(o->horizons[i]));
	bad |= arr == NULL;
	arr = cJSON_AddArrayToObject(root, "thresholds");
	for (i = 0; arr != NULL && i < o->n_thresholds; i++)
		bad |= add_item(arr, num_item(o->thresholds[i] * 100.0));
	bad |= arr == NULL;
	arr = cJSON_AddArrayToObject(root, "results");
	for (i = 0; arr != NULL && i < rep->n_results; i++) {
		const struct lc_bt_result *r = &rep->results[i];

		bad |= add_item(arr, result_json(r, r->asset == LC_BT_POOLED ?
		    "pooled" : files[r->asset].name));
	}
	if (bad || arr == NULL)
		goto out;
	text = cJSON_PrintUnformatted(root);
out:
	cJSON_Delete(root);
	return text;
}

/* ---- --svg: the reliability diagram ------------------------------------ */

/* Probabilities and rates under this are drawn at it (log axes). */
#define REL_FLOOR 1e-4
#define REL_MAX_SERIES (2 * LC_BT_MAX_HORIZONS + 1)

static double
rel_log(double v)
{
	return log10(v > REL_FLOOR ? v : REL_FLOOR);
}

/*
 * The pooled reliability table of every horizon and direction: log10 of
 * the bucket's mean p against log10 of its realised rate, the diagonal
 * dashed; each series' bucket counts in its legend total and the <desc>.
 */
static int
write_svg(const char *path, const struct lc_bt_opts *o,
    const struct lc_bt_report *rep)
{
	static const double diag[2] = { -4.0, 0.0 };
	struct chart_series ser[REL_MAX_SERIES];
	char names[REL_MAX_SERIES][64], desc[4096], title[128];
	double xs[REL_MAX_SERIES][LC_BT_NBUCKETS];
	double ys[REL_MAX_SERIES][LC_BT_NBUCKETS];
	struct chart_line cl;
	struct chart_opts co;
	char *doc = NULL;
	size_t ns = 0, i, k, len = 0, dl;
	FILE *f = NULL;
	int rc = -1;

	memset(ser, 0, sizeof(ser));
	dl = (size_t)snprintf(desc, sizeof(desc), "Reliability of the "
	    "barrier probabilities, all assets pooled: per bucket of "
	    "predicted p, the mean p (x) and the realised rate (y), both "
	    "log10, values under 1e-4 drawn at 1e-4; on the dashed "
	    "diagonal the forecast is calibrated. Forecasts per bucket:");
	for (i = 0; i < rep->n_results; i++) {
		const struct lc_bt_result *r = &rep->results[i];
		size_t m = 0;

		if (r->asset != LC_BT_POOLED)
			continue;
		for (k = 0; k < LC_BT_NBUCKETS; k++) {
			if (r->rel[k].n == 0)
				continue;
			xs[ns][m] = rel_log(r->rel[k].mean_p);
			ys[ns][m] = rel_log(r->rel[k].rate);
			m++;
		}
		snprintf(names[ns], sizeof(names[ns]), "%d d %s (n %zu)",
		    r->horizon_days, r->dir == LC_DOWN ? "down" : "up", r->n);
		if (dl < sizeof(desc))
			dl += (size_t)snprintf(desc + dl, sizeof(desc) - dl,
			    " %s:", names[ns]);
		for (k = 0; k < LC_BT_NBUCKETS && dl < sizeof(desc); k++)
			if (r->rel[k].n > 0)
				dl += (size_t)snprintf(desc + dl,
				    sizeof(desc) - dl, " %zu", r->rel[k].n);
		ser[ns].name = names[ns];
		ser[ns].x = xs[ns];
		ser[ns].y = ys[ns];
		ser[ns].n = m;
		ser[ns].points = 1;
		ns++;
	}
	ser[ns].name = "calibrated (y = x)";
	ser[ns].x = diag;
	ser[ns].y = diag;
	ser[ns].n = 2;
	ser[ns].dashed = 1;
	ns++;
	if (o->estimator == LC_BT_GARCH ||
	    o->estimator == LC_BT_GARCH_PARKINSON)
		snprintf(title, sizeof(title), "Reliability: %s, alpha %.4g, "
		    "beta %.4g, tail dof %g", lc_bt_estimator_names[o->estimator],
		    o->garch.alpha, o->garch.beta, o->tail_dof);
	else if (o->estimator == LC_BT_EWMA || o->estimator == LC_BT_REALISED)
		snprintf(title, sizeof(title), "Reliability: %s, H %g d, "
		    "tail dof %g", lc_bt_estimator_names[o->estimator],
		    o->half_life_days, o->tail_dof);
	else
		snprintf(title, sizeof(title), "Reliability: %s, H %g d, "
		    "M %g d, tail dof %g", lc_bt_estimator_names[o->estimator],
		    o->half_life_days, o->mean_reversion_days, o->tail_dof);
	memset(&cl, 0, sizeof(cl));
	cl.frame.title = title;
	cl.frame.desc = desc;
	cl.frame.x_label = "predicted p (log10)";
	cl.frame.y_label = "realised rate (log10)";
	cl.frame.no_data = "no forecast";
	cl.series = ser;
	cl.nseries = ns;
	chart_opts_init(&co);
	if (chart_line_svg(&cl, &co, &doc, &len) != CHART_OK) {
		fprintf(stderr, "cascaded: backtest: cannot draw the "
		    "reliability diagram\n");
		goto out;
	}
	f = fopen(path, "w");
	if (f == NULL || fwrite(doc, 1, len, f) != len) {
		fprintf(stderr, "cascaded: backtest: cannot write %s: %s\n",
		    path, strerror(errno));
		goto out;
	}
	rc = 0;
out:
	if (f != NULL && fclose(f) != 0 && rc == 0) {
		fprintf(stderr, "cascaded: backtest: cannot write %s\n", path);
		rc = -1;
	}
	free(doc);
	return rc;
}

/*
 * --db: every asset with price history in the database, after the CSV
 * files (by symbol), as if each were a file named after it.
 */
static int
read_db(const char *path, struct bt_file *files, size_t *nfiles)
{
	struct store *st;
	char *err = NULL, (*sym)[MD_SYMBOL_MAX + 1] = NULL;
	size_t n = 0, i;
	enum store_status s;
	int rc = -1;

	/* read only what exists: store_open() would create the file */
	st = access(path, R_OK) == 0 ? store_open(path, &err) : NULL;
	if (st == NULL) {
		fprintf(stderr, "cascaded: backtest: %s: %s\n", path,
		    err != NULL ? err : strerror(errno));
		free(err);
		return -1;
	}
	s = store_price_assets(st, &sym, &n);
	for (i = 0; i < n && s == STORE_OK; i++) {
		struct bt_file *bf = &files[*nfiles];

		if (*nfiles == MAX_ASSETS) {
			fprintf(stderr, "cascaded: backtest: at most %d "
			    "assets\n", MAX_ASSETS);
			goto out;
		}
		bf->name = strdup(sym[i]);
		if (bf->name == NULL)
			goto out;
		(*nfiles)++;
		s = store_get_prices(st, sym[i], INT64_MIN, INT64_MAX, 0,
		    &bf->c, &bf->n);
		bf->cap = bf->n;
	}
	if (s != STORE_OK) {
		fprintf(stderr, "cascaded: backtest: %s: %s\n", path,
		    store_status_str(s));
		goto out;
	}
	rc = 0;
out:
	free(sym);
	store_close(st);
	return rc;
}

/* ---- main ----------------------------------------------------------- */

int
cli_backtest(int argc, char **argv)
{
	struct bt_file files[MAX_ASSETS];
	struct lc_bt_asset assets[MAX_ASSETS];
	struct lc_bt_opts o;
	struct lc_bt_report rep;
	size_t nfiles = 0, i, j;
	char *text = NULL;
	int rc = 2, a, opts_done = 0;
	enum lc_status st;
	const char *db = NULL, *svg = NULL;
	struct garch_fit_info gf;

	memset(&gf, 0, sizeof(gf));
	memset(files, 0, sizeof(files));
	memset(&rep, 0, sizeof(rep));
	lc_bt_opts_default(&o);
	for (a = 1; a < argc; a++) {
		const char *arg = argv[a], *val, *eq;
		char name[32];

		if (opts_done || arg[0] != '-' || strcmp(arg, "-") == 0) {
			if (nfiles == MAX_ASSETS) {
				fprintf(stderr, "cascaded: backtest: at most "
				    "%d files\n", MAX_ASSETS);
				goto out;
			}
			files[nfiles].name = asset_name(arg);
			if (files[nfiles].name == NULL)
				goto out;
			nfiles++;
			if (read_csv(arg, &files[nfiles - 1]) != 0) {
				rc = 1;
				goto out;
			}
			continue;
		}
		if (strcmp(arg, "--") == 0) {
			opts_done = 1;
			continue;
		}
		if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
			usage(stdout);
			rc = 0;
			goto out;
		}
		eq = strchr(arg, '=');
		if (eq != NULL) {
			if ((size_t)(eq - arg) >= sizeof(name))
				goto bad_opt;
			memcpy(name, arg, (size_t)(eq - arg));
			name[eq - arg] = '\0';
			val = eq + 1;
		} else {
			if (strlen(arg) >= sizeof(name))
				goto bad_opt;
			memcpy(name, arg, strlen(arg) + 1);
			if (a + 1 >= argc) {
				fprintf(stderr, "cascaded: backtest: %s needs "
				    "a value\n", name);
				goto out;
			}
			val = argv[++a];
		}
		if (strcmp(name, "--db") == 0) {
			db = val;
			continue;
		}
		if (strcmp(name, "--svg") == 0) {
			svg = val;
			continue;
		}
		if (set_option(&o, &gf, name, val) != 0)
			goto bad_opt;
		continue;
bad_opt:
		fprintf(stderr, "cascaded: backtest: bad option %s (see "
		    "--help)\n", arg);
		goto out;
	}
	if (db != NULL && read_db(db, files, &nfiles) != 0) {
		rc = 1;
		goto out;
	}
	if (nfiles == 0) {
		if (db != NULL)
			fprintf(stderr, "cascaded: backtest: %s holds no price "
			    "history\n", db);
		else
			usage(stderr);
		goto out;
	}
	if (lc_bt_opts_check(&o) != LC_OK) {
		fprintf(stderr, "cascaded: backtest: option out of range "
		    "(half-life, mean-reversion, window in (0, %g] days; "
		    "tail-dof 0 or in (2, 1000]; warmup >= 0; garch alpha, "
		    "beta >= 0, alpha + beta < 1; sigma-scale in (0, 100])\n",
		    LC_VOL_MAX_DAYS);
		goto out;
	}
	for (i = 0; i < nfiles; i++) {
		for (j = 0; j < i; j++)
			if (strcmp(files[i].name, files[j].name) == 0) {
				fprintf(stderr, "cascaded: backtest: two files "
				    "name the asset '%s'\n", files[i].name);
				goto out;
			}
		assets[i].name = files[i].name;
		assets[i].candles = files[i].c;
		assets[i].n = files[i].n;
	}
	if (!gf.given && o.estimator == LC_BT_GARCH_PARKINSON) {
		o.garch.alpha = LC_VOL_GARCH_PARKINSON_DEFAULT_ALPHA;
		o.garch.beta = LC_VOL_GARCH_PARKINSON_DEFAULT_BETA;
	}
	if (gf.fitted && o.estimator != LC_BT_GARCH) {
		fprintf(stderr, "cascaded: backtest: --garch fit is the "
		    "likelihood of --estimator garch (close-to-close) only\n");
		goto out;
	}
	if (gf.fitted) {
		st = lc_bt_garch_fit(assets, nfiles, o.from_t, o.tail_dof,
		    &o.garch, &gf.nll, &gf.n_obs);
		if (st != LC_OK) {
			fprintf(stderr, "cascaded: backtest: --garch fit: %s "
			    "(the fit needs %d returns covering %d days "
			    "before --from)\n", lc_status_str(st),
			    LC_VOL_MIN_RETURNS, LC_VOL_MIN_SPAN_DAYS);
			rc = st == LC_EDOMAIN ? 2 : 1;
			goto out;
		}
	}
	st = lc_bt_run(assets, nfiles, &o, &rep);
	if (st == LC_EDOMAIN) {
		fprintf(stderr, "cascaded: backtest: not enough data: no "
		    "forecast could be kept (each needs %g days of warmup, "
		    "%d returns covering %d days before it, a candle within "
		    "7 days before it and candles covering its horizon)\n",
		    o.warmup_days, LC_VOL_MIN_RETURNS, LC_VOL_MIN_SPAN_DAYS);
		goto out;
	}
	if (st != LC_OK) {
		fprintf(stderr, "cascaded: backtest: %s\n", lc_status_str(st));
		rc = 1;
		goto out;
	}
	for (i = 0; i < rep.n_results; i++) {
		const struct lc_bt_result *r = &rep.results[i];

		if (r->asset != LC_BT_POOLED && r->n == 0 &&
		    r->dir == LC_DOWN)
			fprintf(stderr, "cascaded: backtest: warning: asset "
			    "'%s', horizon %d days: no forecast kept\n",
			    files[r->asset].name, r->horizon_days);
	}
	if (svg != NULL && write_svg(svg, &o, &rep) != 0) {
		rc = 1;
		goto out;
	}
	text = report_json(&o, &rep, files, &gf);
	if (text == NULL) {
		fprintf(stderr, "cascaded: backtest: out of memory\n");
		rc = 1;
		goto out;
	}
	printf("%s\n", text);
	rc = fflush(stdout) == 0 ? 0 : 1;
out:
	free(text);
	lc_bt_report_release(&rep);
	for (i = 0; i < nfiles; i++) {
		free(files[i].name);
		free(files[i].c);
	}
	return rc;
}
