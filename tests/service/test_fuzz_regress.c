/*
 * test_fuzz_regress.c - replays the kept fuzz inputs without libFuzzer:
 * every file of tests/fuzz/regress/<target>/ (crashes and invariant
 * breaks the fuzzers found, kept after the fix) and of the seed corpora
 * tests/fuzz/corpus/<target>/ goes through the same entry point the
 * libFuzzer target drives (tests/fuzz/fuzz_common.h), so `make test` and
 * `make asan` keep every finding fixed.
 *
 * fuzz_common.c is compiled into this suite by inclusion: the Makefile
 * builds each tests/service/test_*.c with tests/lib only, and the fuzz
 * build (tests/fuzz.mk) compiles the same file for the targets.
 * FUZZ_DIR overrides the folder (default tests/fuzz, relative to the
 * repository root where `make unit` runs the suites).
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "../fuzz/fuzz_common.c"

static const char *const targets[] = { "score", "depth", "levels",
	"writes", "api" };
#define NTARGETS (sizeof(targets) / sizeof(targets[0]))

static const char *
fuzz_dir(void)
{
	const char *d = getenv("FUZZ_DIR");

	return d != NULL && *d != '\0' ? d : "tests/fuzz";
}

static unsigned char *
read_all(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	unsigned char *buf = NULL;
	long n;

	if (f == NULL)
		return NULL;
	if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 ||
	    fseek(f, 0, SEEK_SET) != 0)
		goto out;
	/* one spare byte: malloc(0) may return NULL */
	buf = malloc((size_t)n + 1);
	if (buf == NULL)
		goto out;
	if (fread(buf, 1, (size_t)n, f) != (size_t)n) {
		free(buf);
		buf = NULL;
		goto out;
	}
	*len = (size_t)n;
out:
	fclose(f);
	return buf;
}

/*
 * Replay every regular file of <dir>/<sub>/<target>; returns the count.
 * A missing folder replays nothing (regress/ holds only what was found).
 */
static size_t
replay(const char *sub, const char *target, fz_entry_fn fn)
{
	char dir[1024], path[2048];
	struct dirent *e;
	unsigned char *buf, *copy;
	size_t n = 0, len = 0;
	DIR *d;

	snprintf(dir, sizeof(dir), "%s/%s/%s", fuzz_dir(), sub, target);
	d = opendir(dir);
	if (d == NULL)
		return 0;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.' || strcmp(e->d_name, "README") == 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		buf = read_all(path, &len);
		ck_assert_msg(buf != NULL, "cannot read %s", path);
		/* an exact-size copy, so ASan sees reads past the body */
		copy = malloc(len > 0 ? len : 1);
		ck_assert_ptr_nonnull(copy);
		memcpy(copy, buf, len);
		free(buf);
		ck_assert_msg(fn(copy, len) == 0, "%s: invariant broken", path);
		free(copy);
		n++;
	}
	closedir(d);
	return n;
}

START_TEST(replay_target)
{
	const char *t = targets[_i];
	fz_entry_fn fn = fz_entry(t);
	size_t seeds, kept;

	ck_assert(fn != NULL);
	seeds = replay("corpus", t, fn);
	kept = replay("regress", t, fn);
	ck_assert_msg(seeds > 0, "no seed corpus in %s/corpus/%s", fuzz_dir(),
	    t);
	(void)kept;
}
END_TEST

/* The hostile shapes every target must reject without a crash. */
START_TEST(hostile_bodies)
{
	static const char *const bodies[] = { "", " ", "{", "[]", "null",
		"{}", "\"\\ud800\"", "{\"a\":1e400}", "{\"a\":-1e-400}",
		"{\"levels\":[{\"price\":-0,\"qty\":1e400,\"side\":\"sell\"}]}",
		"{\"positions\":[{\"id\":\"\xc0\xaf\",\"type\":\"perp\"}]}",
		"{\"x\":1}\x00trailing" };
	fz_entry_fn fn = fz_entry(targets[_i]);
	size_t k;
	char *deep;

	for (k = 0; k < sizeof(bodies) / sizeof(bodies[0]); k++)
		ck_assert_int_eq(fn((const uint8_t *)bodies[k],
		    strlen(bodies[k])), 0);
	/* nesting far beyond cJSON's limit, and exactly at 1000 */
	deep = malloc(40001);
	ck_assert_ptr_nonnull(deep);
	memset(deep, '[', 20000);
	memset(deep + 20000, ']', 20000);
	ck_assert_int_eq(fn((const uint8_t *)deep, 40000), 0);
	memset(deep, '[', 1000);
	memset(deep + 1000, ']', 1000);
	ck_assert_int_eq(fn((const uint8_t *)deep, 2000), 0);
	free(deep);
}
END_TEST

static Suite *
fuzz_regress_suite(void)
{
	Suite *s = suite_create("fuzz_regress");
	TCase *tc = tcase_create("replay");

	tcase_set_timeout(tc, 120);
	tcase_add_loop_test(tc, replay_target, 0, (int)NTARGETS);
	tcase_add_loop_test(tc, hostile_bodies, 0, (int)NTARGETS);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(fuzz_regress_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
