/*
 * failalloc.h - allocation failures on purpose (curl's torture mode), for
 * the model and service suites.
 *
 * Interposition: the test binaries are linked with
 *   -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc,--wrap=free,
 *   --wrap=strdup,--wrap=strndup
 * (the Makefile's TEST_WRAP), so every call to those from the objects
 * of the link (the test, tests/lib, libcascade.a, libsvc.a, the static
 * Check library) goes to the __wrap_ functions of failalloc.c, which call
 * the real allocator (__real_malloc: glibc's, or AddressSanitizer's, or
 * valgrind's replacement: the wrappers work under all three; strdup and
 * strndup are rebuilt on the malloc wrapper, since glibc's would allocate
 * out of its sight and the block's free would then be counted).  Shared
 * libraries (cJSON, SQLite, libmicrohttpd, libc itself) are not wrapped;
 * a test that wants cJSON's allocations to fail too hands it the wrappers
 * with cJSON_InitHooks() (failalloc_malloc, failalloc_free).
 *
 * Counting: once armed with n >= 1, the n-th allocation (malloc, calloc or
 * realloc) from then on returns NULL, once; every other one succeeds.
 * failalloc_live() counts the blocks the wrappers handed out and not yet
 * freed, so a leak is a difference of it across a call.  The counters are
 * atomic (allocations from several threads stay counted), but arming is
 * meant for one thread at a time.
 */
#ifndef CASCADED_FAILALLOC_H
#define CASCADED_FAILALLOC_H

#include <stddef.h>

/* Fail the n-th allocation from now (n >= 1); n <= 0 disarms. */
void failalloc_arm(long n);
void failalloc_disarm(void);
/* Did the armed failure happen since the last failalloc_arm()? */
int failalloc_failed(void);
/* Allocations since the last failalloc_arm() (the failed one included). */
long failalloc_count(void);
/* Blocks handed out by the wrappers and not freed yet. */
long failalloc_live(void);

/* The wrappers themselves (for cJSON_InitHooks() and the like). */
void *failalloc_malloc(size_t n);
void failalloc_free(void *p);

/*
 * The sweep of one entry point: for k = 1, 2, ... run(ctx) with its k-th
 * allocation failing.  A run that met the failure must return nomem (or,
 * with absorb, ok: the entry point did without that block, run checks
 * its answer) and leave failalloc_live() where it was (run releases
 * whatever the entry point left in its outputs before returning); the
 * first run that meets no failure (it made fewer than k allocations) must
 * return ok, and ends the sweep.  Returns the number of allocations of
 * that last run (>= 0), or -1 with a reason (naming k, the status or the
 * blocks leaked) in why; -1 as well when maxk runs were not enough.
 */
long failalloc_sweep(int (*run)(void *ctx), void *ctx, int ok, int nomem,
    int absorb, long maxk, char *why, size_t cap);

#endif
