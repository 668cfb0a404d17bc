/*
 * failalloc.c - the counting allocator of failalloc.h: link-time wrappers
 * (-Wl,--wrap) around the real malloc, calloc, realloc and free, and
 * strdup and strndup rebuilt on the malloc wrapper.
 */
#include "failalloc.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

void *__real_malloc(size_t n);
void *__real_calloc(size_t a, size_t b);
void *__real_realloc(void *p, size_t n);
void __real_free(void *p);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t a, size_t b);
void *__wrap_realloc(void *p, size_t n);
void __wrap_free(void *p);
char *__wrap_strdup(const char *s);
char *__wrap_strndup(const char *s, size_t n);

static atomic_long fail_at;	/* 0: disarmed */
static atomic_long nalloc;	/* allocations since arming */
static atomic_long live;	/* blocks handed out and not freed */
static atomic_int failed;

static int
should_fail(void)
{
	long at = atomic_load_explicit(&fail_at, memory_order_relaxed);
	long k = atomic_fetch_add_explicit(&nalloc, 1, memory_order_relaxed) +
	    1;

	if (at <= 0 || k != at)
		return 0;
	atomic_store(&failed, 1);
	return 1;
}

void *
__wrap_malloc(size_t n)
{
	void *p = should_fail() ? NULL : __real_malloc(n);

	if (p != NULL)
		atomic_fetch_add_explicit(&live, 1, memory_order_relaxed);
	return p;
}

void *
__wrap_calloc(size_t a, size_t b)
{
	void *p = should_fail() ? NULL : __real_calloc(a, b);

	if (p != NULL)
		atomic_fetch_add_explicit(&live, 1, memory_order_relaxed);
	return p;
}

void *
__wrap_realloc(void *p, size_t n)
{
	void *q;

	if (should_fail())
		return NULL;
	q = __real_realloc(p, n);
	if (p == NULL && q != NULL)
		atomic_fetch_add_explicit(&live, 1, memory_order_relaxed);
	else if (p != NULL && n == 0 && q == NULL)
		atomic_fetch_sub_explicit(&live, 1, memory_order_relaxed);
	return q;
}

void
__wrap_free(void *p)
{
	if (p != NULL)
		atomic_fetch_sub_explicit(&live, 1, memory_order_relaxed);
	__real_free(p);
}

/* glibc's own strdup would allocate out of the wrappers' sight. */
char *
__wrap_strdup(const char *s)
{
	size_t n = strlen(s) + 1;
	char *d = __wrap_malloc(n);

	if (d != NULL)
		memcpy(d, s, n);
	return d;
}

char *
__wrap_strndup(const char *s, size_t n)
{
	size_t len = strnlen(s, n);
	char *d = __wrap_malloc(len + 1);

	if (d != NULL) {
		memcpy(d, s, len);
		d[len] = '\0';
	}
	return d;
}

void *
failalloc_malloc(size_t n)
{
	return __wrap_malloc(n);
}

void
failalloc_free(void *p)
{
	__wrap_free(p);
}

void
failalloc_arm(long n)
{
	atomic_store(&fail_at, 0);
	atomic_store(&nalloc, 0);
	atomic_store(&failed, 0);
	atomic_store(&fail_at, n > 0 ? n : 0);
}

void
failalloc_disarm(void)
{
	atomic_store(&fail_at, 0);
}

int
failalloc_failed(void)
{
	return atomic_load(&failed);
}

long
failalloc_count(void)
{
	return atomic_load(&nalloc);
}

long
failalloc_live(void)
{
	return atomic_load(&live);
}

long
failalloc_sweep(int (*run)(void *ctx), void *ctx, int ok, int nomem,
    int absorb, long maxk, char *why, size_t cap)
{
	long k;

	for (k = 1; k <= maxk; k++) {
		long live0 = failalloc_live(), n;
		int rc, hit;

		failalloc_arm(k);
		rc = run(ctx);
		failalloc_disarm();
		hit = failalloc_failed();
		n = failalloc_count();
		if (failalloc_live() != live0) {
			snprintf(why, cap, "allocation %ld failed: status %d, "
			    "%ld block(s) leaked", k, rc,
			    failalloc_live() - live0);
			return -1;
		}
		if (hit && rc != nomem && !(absorb && rc == ok)) {
			snprintf(why, cap, "allocation %ld failed: status %d, "
			    "not %d", k, rc, nomem);
			return -1;
		}
		if (!hit) {
			if (rc != ok) {
				snprintf(why, cap, "no allocation failed "
				    "(%ld made): status %d, not %d", n, rc,
				    ok);
				return -1;
			}
			return n;
		}
	}
	snprintf(why, cap, "still allocating after %ld failures", maxk);
	return -1;
}
