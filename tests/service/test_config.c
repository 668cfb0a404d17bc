/*
 * test_config.c - option parsing, environment precedence, listen
 * addresses and the API key file.
 */
#include <check.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "testlib.h"

/* argv arrays of string literals, as a shell would hand them over */
#pragma GCC diagnostic ignored "-Wdiscarded-qualifiers"

#define ARGC(a) ((int)(sizeof(a) / sizeof((a)[0])))

static struct config cfg;
static char err[256];

static void
setup(void)
{
	config_init(&cfg);
	err[0] = '\0';
}

static void
teardown(void)
{
	config_release(&cfg);
}

START_TEST(defaults)
{
	ck_assert_str_eq(cfg.listen, "127.0.0.1:8080");
	ck_assert_str_eq(cfg.db_path, "var/cascaded.db");
	ck_assert_uint_eq(cfg.max_body, 8u << 20);
	ck_assert_uint_eq(cfg.max_positions, 10000);
	ck_assert_double_eq(cfg.stale_depth_seconds, 3600);
	ck_assert_double_eq(cfg.default_correlation, 0);
	ck_assert_double_eq(cfg.max_mc_cost, 4e8);
	ck_assert_uint_eq(cfg.per_ip_limit, 256);
	ck_assert_int_eq(cfg.log_level, LOG_LVL_INFO);
	ck_assert_uint_eq(cfg.napi_keys, 0);
	ck_assert_int_eq(config_load(&cfg, 0, NULL, NULL, err, sizeof(err)),
	    CONFIG_OK);
	ck_assert_uint_eq(cfg.nargs, 0);
}
END_TEST

START_TEST(flags)
{
	char *argv[] = { "--listen", "[::1]:9000", "--db=/tmp/x.db",
	    "--threads", "4", "--max-body", "1m", "--api-key", "k1",
	    "--api-key", "k2", "--cors-origin", "https://a.example",
	    "--log-level", "debug", "--max-positions", "50",
	    "--stale-depth-seconds", "60.5", "--default-correlation", "-0.25",
	    "--timeout", "7", "--per-ip-limit", "3", "--max-mc-cost", "1e6" };

	ck_assert_int_eq(config_load(&cfg, ARGC(argv), argv, NULL, err,
	    sizeof(err)), CONFIG_OK);
	ck_assert_str_eq(cfg.listen, "[::1]:9000");
	ck_assert_str_eq(cfg.db_path, "/tmp/x.db");
	ck_assert_uint_eq(cfg.threads, 4);
	ck_assert_uint_eq(cfg.max_body, 1048576);
	ck_assert_uint_eq(cfg.napi_keys, 2);
	ck_assert_str_eq(cfg.api_keys[0], "k1");
	ck_assert_str_eq(cfg.api_keys[1], "k2");
	ck_assert_uint_eq(cfg.ncors_origins, 1);
	ck_assert_int_eq(cfg.log_level, LOG_LVL_DEBUG);
	ck_assert_uint_eq(cfg.max_positions, 50);
	ck_assert_double_eq(cfg.stale_depth_seconds, 60.5);
	ck_assert_double_eq(cfg.default_correlation, -0.25);
	ck_assert_uint_eq(cfg.connection_timeout, 7);
	ck_assert_uint_eq(cfg.per_ip_limit, 3);
	ck_assert_double_eq(cfg.max_mc_cost, 1e6);
}
END_TEST

START_TEST(env_and_precedence)
{
	char *env[] = { "CASCADED_THREADS=3", "CASCADED_DB=/env.db",
	    "CASCADED_API_KEY=a, b,c", "CASCADED_MAX_BODY=2k",
	    "CASCADED_LOG_LEVEL=warn", "OTHER=1", NULL };
	char *argv[] = { "--threads", "5", "--api-key", "z" };

	ck_assert_int_eq(config_load(&cfg, 0, NULL, env, err, sizeof(err)),
	    CONFIG_OK);
	ck_assert_uint_eq(cfg.threads, 3);
	ck_assert_str_eq(cfg.db_path, "/env.db");
	ck_assert_uint_eq(cfg.napi_keys, 3);
	ck_assert_str_eq(cfg.api_keys[1], "b");
	ck_assert_uint_eq(cfg.max_body, 2048);
	ck_assert_int_eq(cfg.log_level, LOG_LVL_WARN);
	config_release(&cfg);
	config_init(&cfg);
	ck_assert_int_eq(config_load(&cfg, ARGC(argv), argv, env, err,
	    sizeof(err)), CONFIG_OK);
	ck_assert_uint_eq(cfg.threads, 5);		/* flag wins */
	ck_assert_str_eq(cfg.db_path, "/env.db");	/* env kept */
	ck_assert_uint_eq(cfg.napi_keys, 1);		/* flag list replaces */
	ck_assert_str_eq(cfg.api_keys[0], "z");
}
END_TEST

START_TEST(bad_values)
{
	static const char *const cases[][2] = {
		{ "--threads", "abc" }, { "--threads", "-1" },
		{ "--threads", "1.5" }, { "--max-body", "0" },
		{ "--max-body", "12q" }, { "--default-correlation", "2" },
		{ "--stale-depth-seconds", "nan" }, { "--log-level", "loud" },
		{ "--nope", "1" }, { "--api-key", "" },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *argv[2] = { (char *)(uintptr_t)cases[i][0],
		    (char *)(uintptr_t)cases[i][1] };

		config_release(&cfg);
		config_init(&cfg);
		err[0] = '\0';
		ck_assert_msg(config_load(&cfg, 2, argv, NULL, err,
		    sizeof(err)) == CONFIG_ERROR, "%s %s accepted",
		    cases[i][0], cases[i][1]);
		ck_assert_msg(err[0] != '\0', "no message for %s",
		    cases[i][0]);
	}
}
END_TEST

START_TEST(bad_env)
{
	char *env[] = { "CASCADED_THREADS=many", NULL };

	ck_assert_int_eq(config_load(&cfg, 0, NULL, env, err, sizeof(err)),
	    CONFIG_ERROR);
	ck_assert_ptr_nonnull(strstr(err, "threads"));
}
END_TEST

START_TEST(missing_value_help_version)
{
	char *a1[] = { "--db" };
	char *a2[] = { "--help" };
	char *a3[] = { "--version" };
	char *a4[] = { "127.0.0.1:1", "--", "--db" };

	ck_assert_int_eq(config_load(&cfg, 1, a1, NULL, err, sizeof(err)),
	    CONFIG_ERROR);
	ck_assert_int_eq(config_load(&cfg, 1, a2, NULL, err, sizeof(err)),
	    CONFIG_HELP);
	ck_assert_int_eq(config_load(&cfg, 1, a3, NULL, err, sizeof(err)),
	    CONFIG_VERSION);
	ck_assert_int_eq(config_load(&cfg, 3, a4, NULL, err, sizeof(err)),
	    CONFIG_OK);
	ck_assert_uint_eq(cfg.nargs, 2);
	ck_assert_str_eq(cfg.args[0], "127.0.0.1:1");
	ck_assert_str_eq(cfg.args[1], "--db");
}
END_TEST

START_TEST(usage_lists_every_option)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	ck_assert_ptr_nonnull(f);
	config_usage(f);
	fclose(f);
	ck_assert_ptr_nonnull(strstr(buf, "--listen"));
	ck_assert_ptr_nonnull(strstr(buf, "CASCADED_MAX_BODY"));
	ck_assert_ptr_nonnull(strstr(buf, "--api-key-file"));
	ck_assert_ptr_nonnull(strstr(buf, "--default-correlation"));
	free(buf);
}
END_TEST

START_TEST(key_file)
{
	char *dir = tmpdir_new();
	char path[512];
	FILE *f;

	ck_assert_ptr_nonnull(dir);
	snprintf(path, sizeof(path), "%s/keys", dir);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs("# comment\n\n  key-one  \nkey-two\n", f);
	fclose(f);
	{
		char *argv[] = { "--api-key", "flag", "--api-key-file", path };

		ck_assert_int_eq(config_load(&cfg, 4, argv, NULL, err,
		    sizeof(err)), CONFIG_OK);
	}
	ck_assert_uint_eq(cfg.napi_keys, 3);
	ck_assert_str_eq(cfg.api_keys[1], "key-one");
	ck_assert_str_eq(cfg.api_keys[2], "key-two");
	{
		char *argv[] = { "--api-key-file", "/nonexistent/keys" };

		config_release(&cfg);
		config_init(&cfg);
		ck_assert_int_eq(config_load(&cfg, 2, argv, NULL, err,
		    sizeof(err)), CONFIG_ERROR);
	}
	tmpdir_free(dir);
}
END_TEST

START_TEST(listen_addresses)
{
	struct sockaddr_storage ss;
	socklen_t len;

	ck_assert_int_eq(config_parse_listen("127.0.0.1:0", &ss, &len, err,
	    sizeof(err)), 0);
	ck_assert_int_eq(ss.ss_family, AF_INET);
	ck_assert_int_eq(config_parse_listen("[::1]:8080", &ss, &len, err,
	    sizeof(err)), 0);
	ck_assert_int_eq(ss.ss_family, AF_INET6);
	ck_assert_int_eq(ntohs(((struct sockaddr_in6 *)(void *)&ss)->
	    sin6_port), 8080);
	ck_assert_int_eq(config_parse_listen(":8080", &ss, &len, err,
	    sizeof(err)), 0);
	ck_assert_int_ne(config_parse_listen("8080", &ss, &len, err,
	    sizeof(err)), 0);
	ck_assert_int_ne(config_parse_listen("127.0.0.1:70000", &ss, &len,
	    err, sizeof(err)), 0);
	ck_assert_int_ne(config_parse_listen("127.0.0.1:x", &ss, &len, err,
	    sizeof(err)), 0);
	ck_assert_int_ne(config_parse_listen("[::1:80", &ss, &len, err,
	    sizeof(err)), 0);
	ck_assert_int_ne(config_parse_listen("999.1.1.1:80", &ss, &len, err,
	    sizeof(err)), 0);
}
END_TEST

START_TEST(compute_pool_and_protect_reads)
{
	ck_assert_uint_eq(cfg.compute_threads, 0);
	ck_assert_uint_eq(cfg.compute_queue, 64);
	ck_assert_int_eq(cfg.protect_reads, 0);
	{
		/* a bare boolean flag takes no value: "x" stays an argument */
		char *argv[] = { "--compute-threads", "3", "--compute-queue=0",
		    "--protect-reads", "x" };

		ck_assert_int_eq(config_load(&cfg, ARGC(argv), argv, NULL,
		    err, sizeof(err)), CONFIG_OK);
	}
	ck_assert_uint_eq(cfg.compute_threads, 3);
	ck_assert_uint_eq(cfg.compute_queue, 0);
	ck_assert_int_eq(cfg.protect_reads, 1);
	ck_assert_uint_eq(cfg.nargs, 1);
	ck_assert_str_eq(cfg.args[0], "x");
	config_release(&cfg);
	config_init(&cfg);
	{
		char *env[] = { "CASCADED_COMPUTE_THREADS=2",
		    "CASCADED_COMPUTE_QUEUE=5", "CASCADED_PROTECT_READS=true",
		    NULL };
		char *argv[] = { "--protect-reads=false" };

		ck_assert_int_eq(config_load(&cfg, 0, NULL, env, err,
		    sizeof(err)), CONFIG_OK);
		ck_assert_uint_eq(cfg.compute_threads, 2);
		ck_assert_uint_eq(cfg.compute_queue, 5);
		ck_assert_int_eq(cfg.protect_reads, 1);
		ck_assert_int_eq(config_load(&cfg, 1, argv, env, err,
		    sizeof(err)), CONFIG_OK);
		ck_assert_int_eq(cfg.protect_reads, 0);
	}
	{
		char *argv[] = { "--protect-reads=maybe" };

		ck_assert_int_eq(config_load(&cfg, 1, argv, NULL, err,
		    sizeof(err)), CONFIG_ERROR);
	}
	{
		char *argv[] = { "--compute-threads", "-1" };

		ck_assert_int_eq(config_load(&cfg, 2, argv, NULL, err,
		    sizeof(err)), CONFIG_ERROR);
	}
}
END_TEST

START_TEST(key_file_from_env)
{
	char *dir = tmpdir_new();
	char path[512], envv[600];
	FILE *f;

	ck_assert_ptr_nonnull(dir);
	snprintf(path, sizeof(path), "%s/keys", dir);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs("alpha\nbeta\n", f);
	fclose(f);
	snprintf(envv, sizeof(envv), "CASCADED_API_KEY_FILE=%s", path);
	{
		char *env[] = { envv, "CASCADED_API_KEY=gamma", NULL };

		ck_assert_int_eq(config_load(&cfg, 0, NULL, env, err,
		    sizeof(err)), CONFIG_OK);
	}
	ck_assert_uint_eq(cfg.napi_keys, 3);
	ck_assert_str_eq(cfg.api_keys[0], "gamma");
	ck_assert_str_eq(cfg.api_keys[1], "alpha");
	ck_assert_str_eq(cfg.api_keys[2], "beta");
	tmpdir_free(dir);
}
END_TEST

static Suite *
config_suite(void)
{
	Suite *s = suite_create("config");
	TCase *tc;

	tc = tcase_create("parse");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, defaults);
	tcase_add_test(tc, flags);
	tcase_add_test(tc, bad_values);
	tcase_add_test(tc, missing_value_help_version);
	tcase_add_test(tc, usage_lists_every_option);
	tcase_add_test(tc, key_file);
	tcase_add_test(tc, compute_pool_and_protect_reads);
	tcase_add_test(tc, key_file_from_env);
	suite_add_tcase(s, tc);
	tc = tcase_create("environment");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, env_and_precedence);
	tcase_add_test(tc, bad_env);
	suite_add_tcase(s, tc);
	tc = tcase_create("listen");
	tcase_add_test(tc, listen_addresses);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(config_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
