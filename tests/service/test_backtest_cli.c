/*
 * test_backtest_cli.c - `cascaded backtest` run as a process on generated
 * CSV files: its JSON equals lc_bt_run() on the same candles (every
 * number, nulls where undefined), columns are found by header name, and
 * the failure paths give their exit codes (2: usage, too little data;
 * 1: a bad row, with its line, an unwritable --svg), and --svg writes the
 * reliability diagram: well-formed (xmllint), rendered by rsvg-convert,
 * one legend entry per pooled horizon and direction with its count.
 */
#include <check.h>
#include <cjson/cJSON.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cascade/backtest.h"
#include "candles.h"
#include "testlib.h"

#define HOUR 3600

struct run {
	int status;
	char *out, *err;
};

/* The whole text file (no NUL inside), or NULL. */
static char *
read_text(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf = NULL;
	size_t cap = 0;

	if (f == NULL)
		return NULL;
	if (getdelim(&buf, &cap, '\0', f) < 0) {
		free(buf);
		buf = strdup("");
	}
	fclose(f);
	return buf;
}

/* Run `cascaded backtest args...` with stdout and stderr into files. */
static void
run_backtest(const char *dir, const char *const *args, struct run *r)
{
	char outp[512], errp[512];
	const char *argv[32];
	size_t n = 0;
	pid_t pid;
	int st;

	snprintf(outp, sizeof(outp), "%s/stdout", dir);
	snprintf(errp, sizeof(errp), "%s/stderr", dir);
	argv[n++] = test_bin();
	argv[n++] = "backtest";
	while (*args != NULL && n < 31)
		argv[n++] = *args++;
	argv[n] = NULL;
	pid = fork();
	ck_assert(pid >= 0);
	if (pid == 0) {
		int o = open(outp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		int e = open(errp, O_WRONLY | O_CREAT | O_TRUNC, 0600);

		if (o < 0 || e < 0)
			_exit(127);
		dup2(o, 1);
		dup2(e, 2);
		execv(argv[0], (char *const *)(uintptr_t)argv);
		_exit(127);
	}
	ck_assert(waitpid(pid, &st, 0) == pid);
	r->status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
	r->out = read_text(outp);
	r->err = read_text(errp);
	ck_assert(r->out != NULL && r->err != NULL);
}

static void
run_free(struct run *r)
{
	free(r->out);
	free(r->err);
}

/* Hourly candles from a day boundary. */
static struct lc_candle *
make_candles(uint64_t seed, size_t n, double sigma)
{
	struct lc_candle *c = gbm_candles(seed, 1700006400, 50.0, sigma, n);

	ck_assert(c != NULL);
	return c;
}

/* The candles as CSV: the usual column order, or shuffled with an extra
 * column first. */
static void
write_csv(const char *path, const struct lc_candle *c, size_t n, int shuffled)
{
	FILE *f = fopen(path, "w");
	size_t i;

	ck_assert(f != NULL);
	if (shuffled)
		fprintf(f, "volume,close,time,low,high,open\n");
	else
		fprintf(f, "time,open,high,low,close,volume\n");
	for (i = 0; i < n; i++) {
		if (shuffled)
			fprintf(f, "7,%.17g,%lld,%.17g,%.17g,%.17g\n",
			    c[i].close, (long long)c[i].t, c[i].low,
			    c[i].high, c[i].open);
		else
			fprintf(f, "%lld,%.17g,%.17g,%.17g,%.17g,12.5\r\n",
			    (long long)c[i].t, c[i].open, c[i].high,
			    c[i].low, c[i].close);
	}
	ck_assert(fclose(f) == 0);
}

/* A JSON number equal to v, or null when v is undefined. */
static void
ck_num(const cJSON *o, const char *key, double v)
{
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, key);

	ck_assert_msg(it != NULL, "no %s", key);
	if (isnan(v)) {
		ck_assert_msg(cJSON_IsNull(it), "%s should be null", key);
		return;
	}
	ck_assert_msg(cJSON_IsNumber(it), "%s is not a number", key);
	ck_assert_msg(it->valuedouble == v, "%s = %.17g, library %.17g", key,
	    it->valuedouble, v);
}

static void
compare(const cJSON *root, const struct lc_bt_report *rep,
    const char *const *names)
{
	const cJSON *res = cJSON_GetObjectItemCaseSensitive(root, "results");
	size_t i, k;

	ck_assert(cJSON_IsArray(res));
	ck_assert_int_eq(cJSON_GetArraySize(res), (int)rep->n_results);
	for (i = 0; i < rep->n_results; i++) {
		const struct lc_bt_result *r = &rep->results[i];
		const cJSON *o = cJSON_GetArrayItem(res, (int)i), *rel, *cov;
		const char *want = r->asset == LC_BT_POOLED ? "pooled" :
		    names[r->asset];

		ck_assert_str_eq(cJSON_GetObjectItem(o, "asset")->valuestring,
		    want);
		ck_assert_str_eq(cJSON_GetObjectItem(o,
		    "direction")->valuestring, r->dir == LC_DOWN ? "down" :
		    "up");
		ck_num(o, "horizon_days", r->horizon_days);
		ck_num(o, "n", (double)r->n);
		ck_num(o, "brier", r->brier);
		ck_num(o, "log_score", r->log_score);
		ck_num(o, "observed", r->observed);
		ck_num(o, "expected", r->expected);
		ck_num(o, "oe", r->oe);
		rel = cJSON_GetObjectItem(o, "reliability");
		cov = cJSON_GetObjectItem(o, "coverage");
		ck_assert_int_eq(cJSON_GetArraySize(rel), LC_BT_NBUCKETS);
		ck_assert_int_eq(cJSON_GetArraySize(cov), LC_BT_NALPHAS);
		for (k = 0; k < LC_BT_NBUCKETS; k++) {
			const cJSON *b = cJSON_GetArrayItem(rel, (int)k);

			ck_num(b, "lo", r->rel[k].lo);
			ck_num(b, "hi", r->rel[k].hi);
			ck_num(b, "n", (double)r->rel[k].n);
			ck_num(b, "mean_p", r->rel[k].mean_p);
			ck_num(b, "rate", r->rel[k].rate);
		}
		for (k = 0; k < LC_BT_NALPHAS; k++) {
			const cJSON *c = cJSON_GetArrayItem(cov, (int)k);

			ck_num(c, "alpha", r->cov[k].alpha);
			ck_num(c, "n", (double)r->cov[k].n);
			ck_num(c, "exceedances", (double)r->cov[k].exceedances);
			ck_num(c, "rate", r->cov[k].rate);
			ck_num(c, "kupiec_p", r->cov[k].kupiec_p);
			ck_num(c, "christoffersen_p",
			    r->cov[k].christoffersen_p);
		}
	}
}

START_TEST(test_cli_matches_library)
{
	char *dir = tmpdir_new(), pa[512], pb[512];
	size_t na = 150 * 24, nb = 120 * 24 + 5;
	struct lc_candle *a = make_candles(11, na, 0.7);
	struct lc_candle *b = make_candles(12, nb, 1.1);
	static const char *const names[] = { "ETH", "SOL" };
	static const char *const est_names[] = { "blend", "realised",
		"rogers-satchell", "garch", "garch" };
	struct lc_bt_asset as[2];
	struct lc_bt_opts o;
	struct lc_bt_report rep;
	struct run r;
	cJSON *root;
	const cJSON *est, *arr;
	int pass;

	ck_assert(dir != NULL);
	snprintf(pa, sizeof(pa), "%s/ETH.csv", dir);
	snprintf(pb, sizeof(pb), "%s/SOL.csv", dir);
	write_csv(pa, a, na, 0);
	write_csv(pb, b, nb, 1);
	as[0].name = "ETH";
	as[0].candles = a;
	as[0].n = na;
	as[1].name = "SOL";
	as[1].candles = b;
	as[1].n = nb;
	for (pass = 0; pass < 5; pass++) {
		const char *args0[] = { "--tail-dof", "5", "--horizons", "1,3",
			"--thresholds", "4,8", "--warmup", "30",
			"--half-life=5", "--mean-reversion", "2", pa, pb, NULL };
		const char *args1[] = { "--estimator", "realised", "--window",
			"10", "--warmup", "20", pa, pb, NULL };
		const char *args2[] = { "--estimator", "rogers-satchell",
			"--from", "1709251200", "--to=1711929600", pa, pb,
			NULL };
		const char *args3[] = { "--estimator", "garch", "--garch",
			"0.02,0.97", "--horizons", "1,2", pa, pb, NULL };
		const char *args4[] = { "--estimator=garch", "--garch", "fit",
			"--from", "1709251200", pa, pb, NULL };
		double nll = 0.0;
		size_t n_obs = 0;

		lc_bt_opts_default(&o);
		if (pass == 0) {
			o.tail_dof = 5;
			o.horizons[0] = 1;
			o.horizons[1] = 3;
			o.thresholds[0] = 0.04;
			o.thresholds[1] = 0.08;
			o.n_thresholds = 2;
			o.warmup_days = 30;
			o.half_life_days = 5;
			o.mean_reversion_days = 2;
			run_backtest(dir, args0, &r);
		} else if (pass == 1) {
			o.estimator = LC_BT_REALISED;
			o.window_days = 10;
			o.warmup_days = 20;
			run_backtest(dir, args1, &r);
		} else if (pass == 2) {
			o.estimator = LC_BT_ROGERS_SATCHELL;
			o.from_t = 1709251200;
			o.to_t = 1711929600;
			run_backtest(dir, args2, &r);
		} else if (pass == 3) {
			o.estimator = LC_BT_GARCH;
			o.garch.alpha = 0.02;
			o.garch.beta = 0.97;
			o.horizons[1] = 2;
			run_backtest(dir, args3, &r);
		} else {
			/* the fit on the candles before --from, then the run */
			o.estimator = LC_BT_GARCH;
			o.from_t = 1709251200;
			ck_assert_int_eq(lc_bt_garch_fit(as, 2, o.from_t, 4.0,
			    &o.garch, &nll, &n_obs), LC_OK);
			run_backtest(dir, args4, &r);
		}
		ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
		ck_assert_int_eq(lc_bt_run(as, 2, &o, &rep), LC_OK);
		root = cJSON_Parse(r.out);
		ck_assert(root != NULL);
		est = cJSON_GetObjectItem(root, "estimator");
		ck_assert_str_eq(cJSON_GetObjectItem(est, "name")->valuestring,
		    est_names[pass]);
		ck_num(est, "half_life_days", pass == 1 || pass >= 3 ?
		    (double)NAN : o.half_life_days);
		ck_num(est, "mean_reversion_days", pass == 1 || pass >= 3 ?
		    (double)NAN : o.mean_reversion_days);
		if (pass >= 3) {
			ck_num(est, "garch_alpha", o.garch.alpha);
			ck_num(est, "garch_beta", o.garch.beta);
			ck_num(est, "garch_fit_nll", pass == 4 ? nll :
			    (double)NAN);
			ck_num(est, "garch_fit_returns", pass == 4 ?
			    (double)n_obs : (double)NAN);
		} else {
			ck_assert(cJSON_GetObjectItem(est, "garch_alpha") ==
			    NULL);
		}
		ck_num(est, "window_days", pass == 1 ? 10.0 : (double)NAN);
		ck_num(root, "tail_dof", pass ? 4.0 : 5.0);
		arr = cJSON_GetObjectItem(root, "horizons");
		ck_assert_int_eq(cJSON_GetArraySize(arr), 2);
		ck_assert(cJSON_GetArrayItem(arr, 1)->valuedouble ==
		    (pass == 0 ? 3 : pass == 3 ? 2 : 7));
		arr = cJSON_GetObjectItem(root, "thresholds");
		ck_assert_int_eq(cJSON_GetArraySize(arr), pass ? 5 : 2);
		ck_assert(cJSON_GetArrayItem(arr, 1)->valuedouble ==
		    (pass ? 10 : 8));
		ck_assert_uint_gt(rep.results[0].n, 100);
		/* [from, to): the 31 days of March 2024, 5 thresholds */
		if (pass == 2)
			ck_assert_uint_eq(rep.results[0].n, 31 * 5);
		compare(root, &rep, names);
		cJSON_Delete(root);
		lc_bt_report_release(&rep);
		run_free(&r);
	}
	free(a);
	free(b);
	tmpdir_free(dir);
}
END_TEST

START_TEST(test_cli_too_little_data)
{
	char *dir = tmpdir_new(), p[512];
	struct lc_candle *c = make_candles(3, 40 * 24, 0.5);
	const char *args[] = { p, NULL };
	const char *args2[] = { "--warmup", "2", p, NULL };
	struct run r;

	ck_assert(dir != NULL);
	snprintf(p, sizeof(p), "%s/BTC.csv", dir);
	/* 40 days of history, 90 days of warmup */
	write_csv(p, c, 40 * 24, 0);
	run_backtest(dir, args, &r);
	ck_assert_int_eq(r.status, 2);
	ck_assert_str_eq(r.out, "");
	ck_assert_msg(strstr(r.err, "not enough data") != NULL, "%s", r.err);
	run_free(&r);
	/* 2 days of warmup: 47 returns before the first day, too few */
	write_csv(p, c, 3 * 24 - 1, 0);
	run_backtest(dir, args2, &r);
	ck_assert_int_eq(r.status, 2);
	ck_assert(strstr(r.err, "not enough data") != NULL);
	ck_assert(strstr(r.out, "NaN") == NULL && strstr(r.out, "nan") ==
	    NULL);
	run_free(&r);
	free(c);
	tmpdir_free(dir);
}
END_TEST

START_TEST(test_cli_usage_errors)
{
	char *dir = tmpdir_new(), p[512];
	struct lc_candle *c = make_candles(5, 100, 0.5);
	const char *none[] = { "--warmup", "3", NULL };
	const char *bad_est[] = { "--estimator", "garch2", p, NULL };
	const char *bad_h[] = { "--horizons", "1,0.5", p, NULL };
	const char *bad_dof[] = { "--tail-dof", "2", p, NULL };
	const char *svg[] = { "--svg", p, NULL };	/* no file left */
	const char *db[] = { "--db", "/nonexistent/x.db", NULL };
	const char *missing[] = { "/nonexistent/X.csv", NULL };
	const char *const *usage[] = { none, bad_est, bad_h, bad_dof, svg };
	struct run r;
	size_t i;
	FILE *f;

	ck_assert(dir != NULL);
	snprintf(p, sizeof(p), "%s/A.csv", dir);
	write_csv(p, c, 100, 0);
	for (i = 0; i < sizeof(usage) / sizeof(usage[0]); i++) {
		run_backtest(dir, usage[i], &r);
		ck_assert_msg(r.status == 2, "case %zu: exit %d", i, r.status);
		ck_assert_str_eq(r.out, "");
		ck_assert(r.err[0] != '\0');
		run_free(&r);
	}
	run_backtest(dir, missing, &r);
	ck_assert_int_eq(r.status, 1);
	run_free(&r);
	/* --db of a database that does not exist: not created, exit 1 */
	run_backtest(dir, db, &r);
	ck_assert_int_eq(r.status, 1);
	ck_assert(strstr(r.err, "/nonexistent/x.db") != NULL);
	run_free(&r);
	/* a bad row: its file and line */
	f = fopen(p, "w");
	ck_assert(f != NULL);
	fprintf(f, "time,open,high,low,close\n1,10,11,9,10\n2,10,11,10.5,"
	    "10\n");
	fclose(f);
	run_backtest(dir, missing + 1, &r);	/* no file: usage */
	ck_assert_int_eq(r.status, 2);
	run_free(&r);
	{
		const char *args[] = { p, NULL };

		run_backtest(dir, args, &r);
		ck_assert_int_eq(r.status, 1);
		ck_assert_msg(strstr(r.err, "A.csv:3") != NULL, "%s", r.err);
		run_free(&r);
	}
	free(c);
	tmpdir_free(dir);
}
END_TEST

/* 0 when `prog` is on PATH. */
static int
no_prog(const char *prog)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "command -v %s >/dev/null", prog);
	return system(cmd);
}

START_TEST(test_cli_svg)
{
	char *dir = tmpdir_new(), p[512], svg[512], png[512], want[64];
	char cmd[1200];
	struct lc_candle *c = make_candles(21, 150 * 24, 0.8);
	const char *args[] = { "--svg", svg, p, NULL };
	const char *bad[] = { "--svg", "/nonexistent/dir/r.svg", p, NULL };
	const cJSON *res;
	struct run r;
	cJSON *root;
	char *doc;
	int i, nseries = 0;

	ck_assert(dir != NULL);
	snprintf(p, sizeof(p), "%s/ETH.csv", dir);
	snprintf(svg, sizeof(svg), "%s/rel.svg", dir);
	snprintf(png, sizeof(png), "%s/rel.png", dir);
	write_csv(p, c, 150 * 24, 0);
	run_backtest(dir, args, &r);
	ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
	root = cJSON_Parse(r.out);
	ck_assert(root != NULL);
	doc = read_text(svg);
	ck_assert(doc != NULL);
	ck_assert(strncmp(doc, "<svg", 4) == 0 || strstr(doc, "<svg") != NULL);
	ck_assert(strstr(doc, "Reliability: blend") != NULL);
	ck_assert(strstr(doc, "calibrated (y = x)") != NULL);
	ck_assert(strstr(doc, "predicted p (log10)") != NULL);
	/* a legend entry per pooled result, with its count */
	res = cJSON_GetObjectItem(root, "results");
	for (i = 0; i < cJSON_GetArraySize(res); i++) {
		const cJSON *o = cJSON_GetArrayItem(res, i);

		if (strcmp(cJSON_GetObjectItem(o, "asset")->valuestring,
		    "pooled") != 0)
			continue;
		snprintf(want, sizeof(want), "%d d %s (n %d)",
		    cJSON_GetObjectItem(o, "horizon_days")->valueint,
		    cJSON_GetObjectItem(o, "direction")->valuestring,
		    cJSON_GetObjectItem(o, "n")->valueint);
		ck_assert_msg(strstr(doc, want) != NULL, "no '%s'", want);
		nseries++;
	}
	ck_assert_int_eq(nseries, 4);
	if (no_prog("xmllint") == 0) {
		snprintf(cmd, sizeof(cmd), "xmllint --noout '%s'", svg);
		ck_assert_msg(system(cmd) == 0, "xmllint rejects %s", svg);
	} else {
		fprintf(stderr, "SKIP xmllint: not installed\n");
	}
	if (no_prog("rsvg-convert") == 0) {
		FILE *f;
		unsigned char hdr[24];

		snprintf(cmd, sizeof(cmd), "rsvg-convert -o '%s' '%s'", png,
		    svg);
		ck_assert_msg(system(cmd) == 0, "rsvg-convert fails on %s",
		    svg);
		/* a PNG of the chart's default size, 800 x 450 */
		f = fopen(png, "rb");
		ck_assert(f != NULL);
		ck_assert_uint_eq(fread(hdr, 1, 24, f), 24);
		fclose(f);
		ck_assert(memcmp(hdr + 12, "IHDR", 4) == 0);
		ck_assert_int_eq(hdr[18] << 8 | hdr[19], 800);
		ck_assert_int_eq(hdr[22] << 8 | hdr[23], 450);
	} else {
		fprintf(stderr, "SKIP rsvg-convert: not installed\n");
	}
	free(doc);
	cJSON_Delete(root);
	run_free(&r);
	/* an unwritable path: exit 1, nothing on stdout */
	run_backtest(dir, bad, &r);
	ck_assert_int_eq(r.status, 1);
	ck_assert_str_eq(r.out, "");
	ck_assert(strstr(r.err, "/nonexistent/dir/r.svg") != NULL);
	run_free(&r);
	free(c);
	tmpdir_free(dir);
}
END_TEST

static Suite *
backtest_cli_suite(void)
{
	Suite *s = suite_create("backtest_cli");
	TCase *tc = tcase_create("cli");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_cli_matches_library);
	tcase_add_test(tc, test_cli_too_little_data);
	tcase_add_test(tc, test_cli_usage_errors);
	tcase_add_test(tc, test_cli_svg);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(backtest_cli_suite());
	int nf;

	srunner_run_all(sr, CK_NORMAL);
	nf = srunner_ntests_failed(sr);
	srunner_free(sr);
	return nf == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
