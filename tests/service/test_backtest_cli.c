/*
 * test_backtest_cli.c - `cascaded backtest` run as a process on generated
 * CSV files: its JSON equals lc_bt_run() on the same candles (every
 * number, nulls where undefined), columns are found by header name, and
 * the failure paths give their exit codes (2: usage, too little data,
 * options not implemented yet; 1: a bad row, with its line).
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
	for (pass = 0; pass < 2; pass++) {
		const char *args0[] = { "--tail-dof", "5", "--horizons", "1,3",
			"--thresholds", "4,8", "--warmup", "30",
			"--half-life=5", "--mean-reversion", "2", pa, pb, NULL };
		const char *args1[] = { "--estimator", "realised", "--window",
			"10", "--warmup", "20", pa, pb, NULL };

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
		} else {
			o.estimator = LC_BT_REALISED;
			o.window_days = 10;
			o.warmup_days = 20;
			run_backtest(dir, args1, &r);
		}
		ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
		ck_assert_int_eq(lc_bt_run(as, 2, &o, &rep), LC_OK);
		root = cJSON_Parse(r.out);
		ck_assert(root != NULL);
		est = cJSON_GetObjectItem(root, "estimator");
		ck_assert_str_eq(cJSON_GetObjectItem(est, "name")->valuestring,
		    pass ? "realised" : "blend");
		ck_num(est, "half_life_days", pass ? (double)NAN : 5.0);
		ck_num(est, "mean_reversion_days", pass ? (double)NAN : 2.0);
		ck_num(est, "window_days", pass ? 10.0 : (double)NAN);
		ck_num(root, "tail_dof", pass ? 4.0 : 5.0);
		arr = cJSON_GetObjectItem(root, "horizons");
		ck_assert_int_eq(cJSON_GetArraySize(arr), 2);
		ck_assert(cJSON_GetArrayItem(arr, 1)->valuedouble ==
		    (pass ? 7 : 3));
		arr = cJSON_GetObjectItem(root, "thresholds");
		ck_assert_int_eq(cJSON_GetArraySize(arr), pass ? 5 : 2);
		ck_assert(cJSON_GetArrayItem(arr, 1)->valuedouble ==
		    (pass ? 10 : 8));
		ck_assert_uint_gt(rep.results[0].n, 100);
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
	const char *bad_est[] = { "--estimator", "garch", p, NULL };
	const char *bad_h[] = { "--horizons", "1,0.5", p, NULL };
	const char *bad_dof[] = { "--tail-dof", "2", p, NULL };
	const char *svg[] = { "--svg", "x.svg", p, NULL };
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
		if (i >= 4)
			ck_assert(strstr(r.err, "not implemented") != NULL);
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

static Suite *
backtest_cli_suite(void)
{
	Suite *s = suite_create("backtest_cli");
	TCase *tc = tcase_create("cli");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_cli_matches_library);
	tcase_add_test(tc, test_cli_too_little_data);
	tcase_add_test(tc, test_cli_usage_errors);
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
