/*
 * mc_thread.h - the only threaded part of the model library: run a fixed
 * set of chunks on up to `threads` POSIX threads (private to mc*.c).
 *
 * fn(ctx, worker, chunk) is called exactly once per chunk in [0, nchunks),
 * worker in [0, threads) naming the caller's per-worker workspace.  Chunks
 * are handed out through an atomic counter, so which worker runs which
 * chunk varies; callers must store per-chunk results by chunk index (or
 * sum only integers per worker) to stay deterministic.  The calling
 * thread is worker 0; if a thread cannot be created the others (at least
 * the caller) do its share.
 */
#ifndef CASCADE_MC_THREAD_H
#define CASCADE_MC_THREAD_H

#include <stddef.h>

typedef void mc_chunk_fn(void *ctx, size_t worker, size_t chunk);

void mc_run_chunks(unsigned threads, size_t nchunks, mc_chunk_fn *fn,
    void *ctx);

#endif
