/*
 * pool.c - fixed worker threads over a bounded ring buffer of jobs.
 *
 * One mutex guards the ring, the stop flag and the running count; workers
 * sleep on `more` and pool_wait_idle() on `idle`.  The counters the
 * metrics read are atomics mirrored under the mutex, so readers never
 * take the lock.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/syscall.h>
#endif

#include "log.h"
#include "pool.h"

#define POOL_NICE 5

struct job {
	pool_job_fn fn;
	void *arg;
};

struct pool {
	pthread_mutex_t mu;
	pthread_cond_t more;	/* a job was queued, or stop */
	pthread_cond_t idle;	/* a job finished */
	struct job *ring;
	size_t cap;		/* ring slots (>= 1) */
	size_t limit;		/* queue bound (capacity) */
	size_t head, n;
	int stop;
	unsigned nthreads;
	unsigned ncpu;
	pthread_t *threads;
	atomic_size_t queued;
	atomic_uint running;
	atomic_ullong submitted, completed, cancelled, saturated;
	atomic_int stopped;
};

static unsigned
online_cpus(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	return n > 0 ? (unsigned)n : 1;
}

/* Destroy p's locks and free it (no worker left using it). */
static void
pool_destroy(struct pool *p)
{
	pthread_cond_destroy(&p->idle);
	pthread_cond_destroy(&p->more);
	pthread_mutex_destroy(&p->mu);
	free(p->ring);
	free(p->threads);
	free(p);
}

/* Take the job at the head of the ring (p->mu held, p->n > 0). */
static struct job
pop_locked(struct pool *p)
{
	struct job j = p->ring[p->head];

	p->head = (p->head + 1) % p->cap;
	p->n--;
	atomic_store(&p->queued, p->n);
	return j;
}

static void *
worker(void *arg)
{
	struct pool *p = arg;
	struct job j;

#ifdef __linux__
	/*
	 * Linux keeps a nice value per thread, and threads created from
	 * here (the model's Monte Carlo helpers) inherit it: computations
	 * yield the CPU to the HTTP polling threads, so probes and exact
	 * requests stay fast while the pool is busy.  Best effort.
	 */
	(void)setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid),
	    POOL_NICE);
#endif
	pthread_mutex_lock(&p->mu);
	for (;;) {
		while (p->n == 0 && !p->stop)
			pthread_cond_wait(&p->more, &p->mu);
		if (p->n == 0)
			break;	/* stopping and nothing left */
		j = pop_locked(p);
		atomic_fetch_add(&p->running, 1);
		pthread_mutex_unlock(&p->mu);
		j.fn(j.arg, 0);
		pthread_mutex_lock(&p->mu);
		atomic_fetch_sub(&p->running, 1);
		atomic_fetch_add(&p->completed, 1);
		pthread_cond_broadcast(&p->idle);
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

struct pool *
pool_new(unsigned nthreads, size_t capacity)
{
	struct pool *p;
	unsigned i;

	p = calloc(1, sizeof(*p));
	if (p == NULL)
		return NULL;
	p->ncpu = online_cpus();
	p->nthreads = nthreads > 0 ? nthreads : p->ncpu;
	p->limit = capacity;
	p->cap = capacity > 0 ? capacity : 1;
	p->ring = calloc(p->cap, sizeof(*p->ring));
	p->threads = calloc(p->nthreads, sizeof(*p->threads));
	if (p->ring == NULL || p->threads == NULL) {
		free(p->ring);
		free(p->threads);
		free(p);
		return NULL;
	}
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->more, NULL);
	pthread_cond_init(&p->idle, NULL);
	atomic_init(&p->queued, 0);
	atomic_init(&p->running, 0);
	atomic_init(&p->submitted, 0);
	atomic_init(&p->completed, 0);
	atomic_init(&p->cancelled, 0);
	atomic_init(&p->saturated, 0);
	atomic_init(&p->stopped, 0);
	for (i = 0; i < p->nthreads; i++) {
		if (pthread_create(&p->threads[i], NULL, worker, p) != 0)
			break;
	}
	if (i == 0) {
		pool_destroy(p);
		return NULL;
	}
	p->nthreads = i;
	return p;
}

enum pool_result
pool_submit(struct pool *p, pool_job_fn fn, void *arg)
{
	enum pool_result rc = POOL_OK;
	unsigned idle;

	if (p == NULL)
		return POOL_STOPPED;
	pthread_mutex_lock(&p->mu);
	if (p->stop) {
		rc = POOL_STOPPED;
		goto out;
	}
	/*
	 * The bound counts waiting jobs only; with capacity 0 a job is
	 * taken when a worker is idle (and no other job waits for it).
	 */
	idle = p->nthreads - atomic_load(&p->running);
	if (p->limit > 0 ? p->n >= p->limit :
	    (p->n >= idle || p->n >= p->cap)) {
		atomic_fetch_add(&p->saturated, 1);
		rc = POOL_SATURATED;
		goto out;
	}
	p->ring[(p->head + p->n) % p->cap].fn = fn;
	p->ring[(p->head + p->n) % p->cap].arg = arg;
	p->n++;
	atomic_store(&p->queued, p->n);
	atomic_fetch_add(&p->submitted, 1);
	pthread_cond_signal(&p->more);
out:
	pthread_mutex_unlock(&p->mu);
	return rc;
}

unsigned
pool_threads_hint(const struct pool *p)
{
	unsigned running;

	if (p == NULL)
		return 1;
	running = atomic_load(&((struct pool *)(uintptr_t)p)->running);
	if (running == 0)
		running = 1;
	return p->ncpu / running > 0 ? p->ncpu / running : 1;
}

void
pool_stats(const struct pool *cp, struct pool_stats *out)
{
	struct pool *p = (struct pool *)(uintptr_t)cp;

	memset(out, 0, sizeof(*out));
	if (p == NULL)
		return;
	out->threads = p->nthreads;
	out->capacity = p->limit;
	out->queued = atomic_load(&p->queued);
	out->running = atomic_load(&p->running);
	out->submitted = atomic_load(&p->submitted);
	out->completed = atomic_load(&p->completed);
	out->cancelled = atomic_load(&p->cancelled);
	out->saturated = atomic_load(&p->saturated);
	out->stopped = atomic_load(&p->stopped);
}

void
pool_shutdown(struct pool *p)
{
	if (p == NULL)
		return;
	pthread_mutex_lock(&p->mu);
	p->stop = 1;
	atomic_store(&p->stopped, 1);
	pthread_cond_broadcast(&p->more);
	pthread_mutex_unlock(&p->mu);
}

size_t
pool_cancel_queued(struct pool *p)
{
	struct job j;
	size_t k = 0;

	if (p == NULL)
		return 0;
	pthread_mutex_lock(&p->mu);
	while (p->n > 0) {
		j = pop_locked(p);
		atomic_fetch_add(&p->cancelled, 1);
		/* the job may take locks of its own: call it unlocked */
		pthread_mutex_unlock(&p->mu);
		j.fn(j.arg, 1);
		k++;
		pthread_mutex_lock(&p->mu);
	}
	pthread_cond_broadcast(&p->idle);
	pthread_mutex_unlock(&p->mu);
	return k;
}

static void
deadline_in(struct timespec *ts, double seconds)
{
	double whole;

	clock_gettime(CLOCK_REALTIME, ts);
	if (seconds < 0)
		seconds = 0;
	whole = (double)(long)seconds;
	ts->tv_sec += (time_t)whole;
	ts->tv_nsec += (long)((seconds - whole) * 1e9);
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

int
pool_wait_idle(struct pool *p, double seconds)
{
	struct timespec ts;
	int rc = 0;

	if (p == NULL)
		return 0;
	deadline_in(&ts, seconds);
	pthread_mutex_lock(&p->mu);
	while (p->n > 0 || atomic_load(&p->running) > 0) {
		if (pthread_cond_timedwait(&p->idle, &p->mu, &ts) ==
		    ETIMEDOUT) {
			rc = p->n > 0 || atomic_load(&p->running) > 0 ? -1 : 0;
			break;
		}
	}
	pthread_mutex_unlock(&p->mu);
	return rc;
}

int
pool_free(struct pool *p, double grace_seconds)
{
	unsigned i;

	if (p == NULL)
		return 0;
	pool_shutdown(p);
	pool_cancel_queued(p);
	if (pool_wait_idle(p, grace_seconds) != 0) {
		log_msg(LOG_LVL_WARN, "compute pool: %u jobs still running at "
		    "shutdown; abandoned", atomic_load(&p->running));
		for (i = 0; i < p->nthreads; i++)
			pthread_detach(p->threads[i]);
		return -1;	/* the workers still use p: leave it */
	}
	for (i = 0; i < p->nthreads; i++)
		pthread_join(p->threads[i], NULL);
	pool_destroy(p);
	return 0;
}
