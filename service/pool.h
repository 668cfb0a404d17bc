/*
 * pool.h - the bounded compute pool (docs/model.md 5.2): a fixed set of worker
 * threads and a bounded FIFO queue of jobs, so Monte Carlo work never runs
 * on the HTTP polling threads and an overload is refused at once (503)
 * instead of piling up.
 *
 * A job is a function and an argument.  pool_submit() never blocks: it
 * returns POOL_SATURATED when `capacity` jobs are already waiting (jobs
 * being run do not count), POOL_STOPPED after pool_shutdown().  Every
 * accepted job is called exactly once: by a worker with cancelled = 0, or,
 * when pool_cancel_queued() / pool_free() drops it before it started, on
 * the calling thread with cancelled = 1 (the job must then only clean up
 * and report).  The pool never touches the argument itself.
 *
 * Threads per job: pool_threads_hint() is max(1, cores / running jobs),
 * read when a job starts: a lone big request still uses every core, and a
 * busy pool runs one thread per job (the pool gives the parallelism across
 * requests).  A job that started alone keeps its threads when others
 * start, so the machine is oversubscribed by at most a factor of two, and
 * only briefly.
 *
 * On Linux the workers run at nice +5 (their Monte Carlo helper threads
 * inherit it), so a busy pool does not slow the HTTP threads down.
 *
 * Counters are C11 atomics: pool_stats() takes no lock and may run on any
 * thread.  Ownership: the pool owns its threads and queue; arguments are
 * borrowed (the job frees its own).
 */
#ifndef CASCADED_POOL_H
#define CASCADED_POOL_H

#include <stddef.h>
#include <stdint.h>

struct pool;

typedef void (*pool_job_fn)(void *arg, int cancelled);

enum pool_result {
	POOL_OK = 0,
	POOL_SATURATED,		/* the queue is full: try later */
	POOL_STOPPED,		/* shut down: no new work */
	POOL_NOMEM
};

struct pool_stats {
	unsigned threads;	/* worker threads */
	size_t capacity;	/* queue bound */
	size_t queued;		/* waiting now */
	unsigned running;	/* being run now */
	uint64_t submitted;	/* accepted since start */
	uint64_t completed;	/* run to the end */
	uint64_t cancelled;	/* dropped before they ran */
	uint64_t saturated;	/* refused because the queue was full */
	int stopped;
};

/*
 * Start nthreads workers (0: the number of online cores) with a queue of
 * `capacity` jobs (0 is allowed: only idle workers take work).  NULL when
 * out of memory or no thread could be created.
 */
struct pool *pool_new(unsigned nthreads, size_t capacity);

/* Queue fn(arg, 0); see the top of the file for the result. */
enum pool_result pool_submit(struct pool *p, pool_job_fn fn, void *arg);

/* Suggested Monte Carlo threads for a job starting now (>= 1). */
unsigned pool_threads_hint(const struct pool *p);

/* Lock-free snapshot of the counters (p may be NULL: all zero). */
void pool_stats(const struct pool *p, struct pool_stats *out);

/* Refuse new jobs from now on (POOL_STOPPED); queued ones still run. */
void pool_shutdown(struct pool *p);

/* Call every queued job with cancelled = 1 on this thread; the number. */
size_t pool_cancel_queued(struct pool *p);

/*
 * Wait up to `seconds` until nothing is queued or running.  0 when idle,
 * -1 at the deadline.
 */
int pool_wait_idle(struct pool *p, double seconds);

/*
 * Shut down, cancel what is queued, and wait up to grace_seconds for the
 * running jobs, then join the workers and free the pool.  A job that is
 * still running at the deadline cannot be interrupted (the model has no
 * cancellation point): the workers are detached and the pool is left
 * allocated for them (logged); returns -1 in that case, else 0.  NULL is
 * a no-op.
 */
int pool_free(struct pool *p, double grace_seconds);

#endif
