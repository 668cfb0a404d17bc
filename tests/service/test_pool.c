/*
 * test_pool.c - the bounded compute pool: every accepted job runs exactly
 * once, a full queue is refused at once, cancellation, shutdown, stats.
 */
#include <check.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

#include "pool.h"

static atomic_int ran, cancelled;

static void
count_job(void *arg, int was_cancelled)
{
	(void)arg;
	if (was_cancelled)
		atomic_fetch_add(&cancelled, 1);
	else
		atomic_fetch_add(&ran, 1);
}

/* Blocks until *gate becomes non-zero (or was cancelled). */
static void
gate_job(void *arg, int was_cancelled)
{
	atomic_int *gate = arg;
	struct timespec nap = { 0, 1000 * 1000 };

	if (was_cancelled) {
		atomic_fetch_add(&cancelled, 1);
		return;
	}
	while (!atomic_load(gate))
		nanosleep(&nap, NULL);
	atomic_fetch_add(&ran, 1);
}

static void
setup(void)
{
	atomic_store(&ran, 0);
	atomic_store(&cancelled, 0);
}

/* Wait until `running` jobs have started. */
static void
wait_running(struct pool *p, unsigned running)
{
	struct pool_stats st;
	struct timespec nap = { 0, 1000 * 1000 };
	int i;

	for (i = 0; i < 5000; i++) {
		pool_stats(p, &st);
		if (st.running >= running)
			return;
		nanosleep(&nap, NULL);
	}
	ck_abort_msg("jobs did not start");
}

START_TEST(runs_every_job)
{
	struct pool *p = pool_new(3, 1000);
	struct pool_stats st;
	int i;

	ck_assert_ptr_nonnull(p);
	for (i = 0; i < 500; i++)
		ck_assert_int_eq(pool_submit(p, count_job, NULL), POOL_OK);
	ck_assert_int_eq(pool_wait_idle(p, 10), 0);
	ck_assert_int_eq(atomic_load(&ran), 500);
	pool_stats(p, &st);
	ck_assert_uint_eq(st.threads, 3);
	ck_assert_uint_eq(st.capacity, 1000);
	ck_assert_uint_eq(st.submitted, 500);
	ck_assert_uint_eq(st.completed, 500);
	ck_assert_uint_eq(st.queued, 0);
	ck_assert_uint_eq(st.saturated, 0);
	ck_assert_int_eq(pool_free(p, 1), 0);
}
END_TEST

START_TEST(saturates_and_recovers)
{
	atomic_int gate = 0;
	struct pool *p = pool_new(1, 2);
	struct pool_stats st;

	ck_assert_ptr_nonnull(p);
	ck_assert_int_eq(pool_submit(p, gate_job, &gate), POOL_OK);
	wait_running(p, 1);
	/* the worker is busy: two may wait, the third is refused */
	ck_assert_int_eq(pool_submit(p, gate_job, &gate), POOL_OK);
	ck_assert_int_eq(pool_submit(p, gate_job, &gate), POOL_OK);
	ck_assert_int_eq(pool_submit(p, gate_job, &gate), POOL_SATURATED);
	ck_assert_int_eq(pool_submit(p, count_job, NULL), POOL_SATURATED);
	pool_stats(p, &st);
	ck_assert_uint_eq(st.queued, 2);
	ck_assert_uint_eq(st.running, 1);
	ck_assert_uint_eq(st.saturated, 2);
	ck_assert_uint_eq(pool_threads_hint(p), pool_threads_hint(p));
	ck_assert_uint_ge(pool_threads_hint(p), 1);
	atomic_store(&gate, 1);
	ck_assert_int_eq(pool_wait_idle(p, 10), 0);
	ck_assert_int_eq(atomic_load(&ran), 3);
	ck_assert_int_eq(pool_submit(p, count_job, NULL), POOL_OK);
	ck_assert_int_eq(pool_wait_idle(p, 10), 0);
	ck_assert_int_eq(atomic_load(&ran), 4);
	ck_assert_int_eq(pool_free(p, 1), 0);
}
END_TEST

START_TEST(zero_capacity_takes_only_idle_workers)
{
	atomic_int gate = 0;
	struct pool *p = pool_new(1, 0);

	ck_assert_ptr_nonnull(p);
	ck_assert_int_eq(pool_submit(p, gate_job, &gate), POOL_OK);
	wait_running(p, 1);
	ck_assert_int_eq(pool_submit(p, gate_job, &gate), POOL_SATURATED);
	atomic_store(&gate, 1);
	ck_assert_int_eq(pool_free(p, 5), 0);
	ck_assert_int_eq(atomic_load(&ran), 1);
}
END_TEST

START_TEST(cancel_and_shutdown)
{
	atomic_int gate = 0;
	struct pool *p = pool_new(1, 8);
	int i;

	ck_assert_ptr_nonnull(p);
	ck_assert_int_eq(pool_submit(p, gate_job, &gate), POOL_OK);
	wait_running(p, 1);
	for (i = 0; i < 5; i++)
		ck_assert_int_eq(pool_submit(p, gate_job, &gate), POOL_OK);
	ck_assert_uint_eq(pool_cancel_queued(p), 5);
	ck_assert_int_eq(atomic_load(&cancelled), 5);
	/* the running job cannot be interrupted: the wait times out */
	ck_assert_int_eq(pool_wait_idle(p, 0.05), -1);
	pool_shutdown(p);
	ck_assert_int_eq(pool_submit(p, count_job, NULL), POOL_STOPPED);
	atomic_store(&gate, 1);
	ck_assert_int_eq(pool_free(p, 5), 0);
	ck_assert_int_eq(atomic_load(&ran), 1);
	ck_assert_int_eq(pool_free(NULL, 0), 0);
}
END_TEST

START_TEST(free_cancels_queued)
{
	atomic_int gate = 0;
	struct pool *p = pool_new(2, 16);
	int i;

	ck_assert_ptr_nonnull(p);
	for (i = 0; i < 2; i++)
		ck_assert_int_eq(pool_submit(p, gate_job, &gate), POOL_OK);
	wait_running(p, 2);
	for (i = 0; i < 10; i++)
		ck_assert_int_eq(pool_submit(p, count_job, NULL), POOL_OK);
	atomic_store(&gate, 1);
	ck_assert_int_eq(pool_free(p, 5), 0);
	/* each queued job either ran or was cancelled, exactly once */
	ck_assert_int_eq(atomic_load(&ran) + atomic_load(&cancelled), 12);
}
END_TEST

static Suite *
pool_suite(void)
{
	Suite *s = suite_create("pool");
	TCase *tc = tcase_create("pool");

	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_set_timeout(tc, 20);
	tcase_add_test(tc, runs_every_job);
	tcase_add_test(tc, saturates_and_recovers);
	tcase_add_test(tc, zero_capacity_takes_only_idle_workers);
	tcase_add_test(tc, cancel_and_shutdown);
	tcase_add_test(tc, free_cancels_queued);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(pool_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
