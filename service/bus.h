/*
 * bus.h - replicas sharing one market cache over NATS JetStream (--bus).
 *
 * Without --bus nothing here runs: one process, its SQLite file.  With
 * it, every market write goes through the stream CASCADED_WRITES (subject
 * cascaded.writes) and every replica, the one that took the write
 * included, applies the stream in order with the use cases of the single
 * process (api_write_apply), recording the stream sequence it applied in
 * its SQLite file in the same transaction: a restart resumes exactly.
 *
 *   client -> replica A: api_write: validate (dry run, nothing stored) ->
 *             publish {method, route, parameters, body, now, origin}
 *             (headers + body) -> wait until A has applied it -> the
 *             answer A's own apply produced (the same on every replica)
 *   replica X (a thread): ordered consumer from applied+1 -> api_write_
 *             apply(seq) -> applied = seq -> the waiting writer, if X took
 *             it
 *
 * Snapshots: every --bus-snapshot-writes writes (sequence multiple of N)
 * one replica (the first whose claim, a message with the id
 * "claim-<seq>", JetStream does not drop as a duplicate) copies its
 * database (VACUUM INTO), publishes it in chunks on the stream
 * CASCADED_SNAPSHOTS (cascaded.snapshots.data) and then a marker
 * (cascaded.snapshots.done: the sequence it includes, the chunks' stream
 * sequences), and purges the writes stream up to the previous snapshot's
 * sequence, and the snapshots stream before the previous snapshot.  A
 * replica whose next write was purged (one down for long) restores the
 * last snapshot into its database (SQLite backup API) and replays from
 * there.  So does a replica that never applied anything (its seed is not
 * the cluster's) or one ahead of the stream (a lost NATS store); when the
 * bus has no snapshot yet, such a replica founds it: it publishes its own
 * database as snapshot 0 (after resetting its sequence), and the others
 * take that.
 *
 * Readiness: ready once the replica has applied everything up to the
 * stream's last sequence as of its first connection.  Frozen: while the
 * NATS connection is down the replica serves its last state, every answer
 * carries a market_data_frozen warning (handlers_ops.c), writes answer
 * 503 with Retry-After; the client reconnects and the consumer catches up
 * by itself.
 *
 * Threads: the apply thread is the only writer of the store while a bus
 * is configured; writers (HTTP threads) block in submit until their write
 * is applied or --bus-timeout passes (503).
 *
 * Ownership: bus_open() returns a bus the caller frees with bus_close()
 * (before api_app_release and store_close); it sets app->relay and
 * app->bus, which bus_close() clears.
 */
#ifndef CASCADED_BUS_H
#define CASCADED_BUS_H

#include <stdint.h>

#include "app.h"

struct bus;

/*
 * Connect (in the background when the server is not reachable yet),
 * start the apply thread.  app->store, app->cfg (with bus_urls) and the
 * first snapshot (api_app_init) must be ready.  0, or -1 (logged).
 */
int bus_open(struct app *app, struct bus **out);
void bus_close(struct bus *b);

struct bus_status {
	int connected;		/* the NATS connection is up */
	int ready;		/* applied the stream as of the start */
	uint64_t applied;	/* last stream sequence applied here */
	uint64_t start_last;	/* the stream's last sequence at the start */
	uint64_t stream_last;	/* the last sequence seen on the stream */
	uint64_t published;	/* writes this replica put on the bus */
	uint64_t frozen_answers; /* answers sent while disconnected */
	uint64_t snapshots;	/* snapshots this replica published */
	uint64_t restores;	/* snapshots this replica restored */
};

void bus_get_status(struct bus *b, struct bus_status *out);
/* 1 while the bus is configured but unreachable (b NULL: 0). */
int bus_frozen(struct bus *b);
/* Count an answer sent while frozen (GET /metrics). */
void bus_count_frozen_answer(struct bus *b);

#endif
