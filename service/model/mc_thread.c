/*
 * mc_thread.c - chunked parallel loop of the Monte Carlo engine.  The
 * numerical code never sees a thread: it gets (worker, chunk) calls.
 */
#include "model/mc_thread.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

struct pool {
	mc_chunk_fn *fn;
	void *ctx;
	size_t nchunks;
	atomic_size_t next;
};

struct worker {
	struct pool *pool;
	size_t id;
};

static void
work(struct pool *p, size_t id)
{
	for (;;) {
		size_t c = atomic_fetch_add(&p->next, 1);

		if (c >= p->nchunks)
			break;
		p->fn(p->ctx, id, c);
	}
}

static void *
thread_main(void *arg)
{
	struct worker *w = arg;

	work(w->pool, w->id);
	return NULL;
}

void
mc_run_chunks(unsigned threads, size_t nchunks, mc_chunk_fn *fn, void *ctx)
{
	struct pool p;
	pthread_t *tid = NULL;
	struct worker *w = NULL;
	int *started = NULL;
	size_t i, nt = threads > 1 ? threads : 1;

	p.fn = fn;
	p.ctx = ctx;
	p.nchunks = nchunks;
	atomic_init(&p.next, 0);
	if (nt > nchunks)
		nt = nchunks;
	if (nt > 1) {
		tid = calloc(nt, sizeof(*tid));
		w = calloc(nt, sizeof(*w));
		started = calloc(nt, sizeof(*started));
		if (tid == NULL || w == NULL || started == NULL)
			nt = 1;
	}
	for (i = 1; i < nt; i++) {
		w[i].pool = &p;
		w[i].id = i;
		started[i] = pthread_create(&tid[i], NULL, thread_main,
		    &w[i]) == 0;
	}
	work(&p, 0);
	for (i = 1; i < nt; i++)
		if (started[i])
			pthread_join(tid[i], NULL);
	free(started);
	free(w);
	free(tid);
}
