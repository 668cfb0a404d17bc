/*
 * bus.c - the market writes over NATS JetStream (bus.h).
 *
 * Messages (headers; the body is the request body, byte for byte):
 *   cascaded.writes           Cascaded-Method, Cascaded-Route,
 *                             Cascaded-P0/P1 (path parameters, absent when
 *                             the route has fewer), Cascaded-Now (epoch
 *                             seconds of the replica that took it: the
 *                             default as_of), Cascaded-Origin (that
 *                             replica's id), Nats-Msg-Id (origin-counter)
 *   cascaded.snapshots.claim  Nats-Msg-Id claim-<seq>: who publishes
 *   cascaded.snapshots.data   Cascaded-Seq, Cascaded-Chunk: a piece of the
 *                             database file
 *   cascaded.snapshots.done   Cascaded-Seq, Cascaded-Size; body: the
 *                             stream sequences of the chunks, in order,
 *                             comma-separated
 *
 * The apply thread reads the writes with an ordered consumer (no acks,
 * no server-side state to lose) started at applied+1.  A delivery whose
 * sequence is not applied+1 means purged writes: restore the last
 * snapshot.  Every second without deliveries it reads the stream's state;
 * a stream ahead of us with nothing delivered (a consumer lost across a
 * server restart) gets a new consumer.  Failures of the store while
 * applying (503) are retried until they pass: skipping a write would make
 * this replica diverge.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <nats/nats.h>

#include "api.h"
#include "bus.h"
#include "log.h"
#include "rfc3339.h"
#include "store.h"

#define WRITES_STREAM "CASCADED_WRITES"
#define WRITES_SUBJECT "cascaded.writes"
#define SNAP_STREAM "CASCADED_SNAPSHOTS"
#define SNAP_SUBJECTS "cascaded.snapshots.>"
#define SNAP_CLAIM "cascaded.snapshots.claim"
#define SNAP_DATA "cascaded.snapshots.data"
#define SNAP_DONE "cascaded.snapshots.done"
#define HDR_ROOM 1024		/* headers of a write, bounded */

struct waiter {
	char msgid[64];
	int done;
	struct api_answer ans;
	struct waiter *next;
};

struct bus {
	struct app *app;
	const struct config *cfg;
	natsOptions *opts;
	natsConnection *nc;
	jsCtx *js;
	struct api_relay relay;
	char id[24];
	atomic_ullong counter;
	pthread_t thr;
	int started;
	natsSubscription *sub;		/* the apply thread's */
	int streams_ok;			/* the apply thread's */
	int based;			/* the thread's: the start state is the
					   cluster's (applied > 0, a snapshot
					   restored or founded) */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	/* under mu */
	int stop, ready, have_start;
	uint64_t applied, start_last, stream_last, stream_first;
	struct waiter *waiters;
	uint64_t published, frozen_answers, snapshots, restores;
};

/* ---- small helpers -------------------------------------------------- */

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int
connected(const struct bus *b)
{
	return b->nc != NULL &&
	    natsConnection_Status(b->nc) == NATS_CONN_STATUS_CONNECTED;
}

static const char *
header(natsMsg *m, const char *key)
{
	const char *v = NULL;

	if (natsMsgHeader_Get(m, key, &v) != NATS_OK)
		return NULL;
	return v;
}

static uint64_t
header_u64(natsMsg *m, const char *key)
{
	const char *v = header(m, key);

	return v != NULL ? strtoull(v, NULL, 10) : 0;
}

/* A 503 answer with Retry-After: 1. */
static int
unavailable(struct api_answer *a, const char *detail)
{
	api_answer_release(a);
	problem_set(&a->err, 503, "unavailable", "Service unavailable", "%s",
	    detail);
	a->retry_after = 1;
	return a->status = 503;
}

/* Publish m (consumed) and wait for the stream's ack; 0 with *seq. */
static int
publish(struct bus *b, natsMsg *m, const char *msgid, uint64_t *seq,
    int *dup, const char **why)
{
	jsPubOptions po;
	jsPubAck *pa = NULL;
	jsErrCode jerr = 0;
	natsStatus s;

	jsPubOptions_Init(&po);
	po.MaxWait = (int64_t)(b->cfg->bus_timeout * 1000);
	po.MsgId = msgid;
	s = js_PublishMsg(&pa, b->js, m, &po, &jerr);
	natsMsg_Destroy(m);
	if (s != NATS_OK) {
		*why = natsStatus_GetText(s);
		return -1;
	}
	*seq = pa->Sequence;
	if (dup != NULL)
		*dup = pa->Duplicate;
	jsPubAck_Destroy(pa);
	return 0;
}

/* ---- the writer's side: submit -------------------------------------- */

static int
submit(void *ctx, const struct api_write *w, const struct api_wcall *c,
    struct api_answer *ans)
{
	struct bus *b = ctx;
	struct waiter wt, **pp;
	natsMsg *m = NULL;
	struct timespec dl;
	char now[24];
	const char *why = "?";
	uint64_t seq = 0;
	int64_t deadline;
	int ok = 0;

	if (!connected(b))
		return unavailable(ans, "the message bus is unreachable: the "
		    "market data is frozen and writes are refused");
	if ((int64_t)(c->len + HDR_ROOM) >
	    natsConnection_GetMaxPayload(b->nc)) {
		api_answer_release(ans);
		problem_set(&ans->err, 413, "too-large", "Payload too large",
		    "the body is larger than the message bus carries (%" PRId64
		    " bytes with headers); split the write",
		    natsConnection_GetMaxPayload(b->nc));
		return ans->status = 413;
	}
	memset(&wt, 0, sizeof(wt));
	api_answer_init(&wt.ans);
	snprintf(wt.msgid, sizeof(wt.msgid), "%s-%llu", b->id,
	    (unsigned long long)atomic_fetch_add(&b->counter, 1));
	snprintf(now, sizeof(now), "%lld", (long long)time(NULL));
	if (natsMsg_Create(&m, WRITES_SUBJECT, NULL, c->body,
	        (int)c->len) != NATS_OK ||
	    natsMsgHeader_Set(m, "Cascaded-Method", w->method) != NATS_OK ||
	    natsMsgHeader_Set(m, "Cascaded-Route", w->route) != NATS_OK ||
	    (c->param[0] != NULL &&
	        natsMsgHeader_Set(m, "Cascaded-P0", c->param[0]) != NATS_OK) ||
	    (c->param[1] != NULL &&
	        natsMsgHeader_Set(m, "Cascaded-P1", c->param[1]) != NATS_OK) ||
	    natsMsgHeader_Set(m, "Cascaded-Now", now) != NATS_OK ||
	    natsMsgHeader_Set(m, "Cascaded-Origin", b->id) != NATS_OK) {
		natsMsg_Destroy(m);
		return unavailable(ans, "out of memory");
	}
	deadline = now_ms() + (int64_t)(b->cfg->bus_timeout * 1000);
	pthread_mutex_lock(&b->mu);
	wt.next = b->waiters;
	b->waiters = &wt;
	pthread_mutex_unlock(&b->mu);
	if (publish(b, m, wt.msgid, &seq, NULL, &why) != 0) {
		pthread_mutex_lock(&b->mu);
		goto unlink;
	}
	pthread_mutex_lock(&b->mu);
	b->published++;
	if (seq > b->stream_last)
		b->stream_last = seq;
	while (!wt.done && !b->stop && now_ms() < deadline) {
		clock_gettime(CLOCK_REALTIME, &dl);
		dl.tv_nsec += 20 * 1000000L;
		if (dl.tv_nsec >= 1000000000L) {
			dl.tv_sec++;
			dl.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&b->cv, &b->mu, &dl);
	}
	ok = wt.done;
	why = "timed out waiting for this replica to apply the write";
unlink:
	for (pp = &b->waiters; *pp != NULL; pp = &(*pp)->next)
		if (*pp == &wt) {
			*pp = wt.next;
			break;
		}
	pthread_mutex_unlock(&b->mu);
	if (!ok) {
		char detail[256];

		api_answer_release(&wt.ans);
		snprintf(detail, sizeof(detail), "the message bus did not "
		    "complete the write (%s); it may still be applied", why);
		return unavailable(ans, detail);
	}
	api_answer_release(ans);
	*ans = wt.ans;
	return ans->status;
}

/* ---- the apply thread ----------------------------------------------- */

static void
set_applied(struct bus *b, uint64_t seq, const char *origin,
    const char *msgid, struct api_answer *ans)
{
	struct waiter *w;

	pthread_mutex_lock(&b->mu);
	b->applied = seq;
	if (seq > b->stream_last)
		b->stream_last = seq;
	if (b->have_start && b->applied >= b->start_last && !b->ready) {
		b->ready = 1;
		log_kv(LOG_LVL_INFO, "bus: caught up, ready", (const char *)NULL);
	}
	if (ans != NULL && origin != NULL && msgid != NULL &&
	    strcmp(origin, b->id) == 0) {
		for (w = b->waiters; w != NULL; w = w->next)
			if (strcmp(w->msgid, msgid) == 0) {
				w->ans = *ans;
				api_answer_init(ans);
				w->done = 1;
				break;
			}
	}
	pthread_cond_broadcast(&b->cv);
	pthread_mutex_unlock(&b->mu);
}

static int
stopping(struct bus *b)
{
	int s;

	pthread_mutex_lock(&b->mu);
	s = b->stop;
	pthread_mutex_unlock(&b->mu);
	return s;
}

/* Apply one write of the stream; 0, or -1 when stopping. */
static int
apply(struct bus *b, natsMsg *m, uint64_t seq)
{
	const struct api_write *w;
	struct api_wcall c;
	struct api_answer ans;
	struct rfc3339_time t;
	const char *method = header(m, "Cascaded-Method");
	const char *route = header(m, "Cascaded-Route");
	uint64_t got;
	int st;

	api_answer_init(&ans);
	w = method != NULL && route != NULL ?
	    api_write_find(method, route) : NULL;
	memset(&c, 0, sizeof(c));
	c.app = b->app;
	c.param[0] = header(m, "Cascaded-P0");
	c.param[1] = header(m, "Cascaded-P1");
	c.body = natsMsg_GetData(m) != NULL ? natsMsg_GetData(m) : "";
	c.len = (size_t)natsMsg_GetDataLength(m);
	c.seq = seq;
	memset(&t, 0, sizeof(t));
	t.sec = (int64_t)header_u64(m, "Cascaded-Now");
	rfc3339_pin_now(t.sec > 0 ? &t : NULL);
	for (;;) {
		if (w == NULL) {
			/* a route this binary does not know (a newer one) */
			log_kv(LOG_LVL_ERROR, "bus: unknown write skipped",
			    "method", method ? method : "?", "route",
			    route ? route : "?", (const char *)NULL);
			store_bus_stamp(b->app->store, seq);
			st = store_bus_record(b->app->store) == STORE_OK ?
			    200 : 503;
		} else {
			st = api_write_apply(w, &c, &ans);
		}
		if (st < 500 ||
		    (store_bus_seq(b->app->store, &got) == STORE_OK &&
		        got >= seq))
			break;
		api_answer_release(&ans);
		log_kv(LOG_LVL_WARN, "bus: apply failed, retrying", "route",
		    route ? route : "?", (const char *)NULL);
		if (stopping(b)) {
			rfc3339_pin_now(NULL);
			return -1;
		}
		nats_Sleep(200);
	}
	rfc3339_pin_now(NULL);
	set_applied(b, seq, header(m, "Cascaded-Origin"),
	    header(m, "Nats-Msg-Id"), &ans);
	api_answer_release(&ans);
	return 0;
}

static int
ensure_stream(struct bus *b, const char *name, const char *subject)
{
	jsStreamConfig sc;
	jsStreamInfo *si = NULL;
	jsErrCode jerr = 0;
	const char *subjects[1];
	natsStatus s;

	s = js_GetStreamInfo(&si, b->js, name, NULL, &jerr);
	if (s == NATS_OK) {
		jsStreamInfo_Destroy(si);
		return 0;
	}
	jsStreamConfig_Init(&sc);
	subjects[0] = subject;
	sc.Name = name;
	sc.Subjects = subjects;
	sc.SubjectsLen = 1;
	sc.Storage = js_FileStorage;
	sc.Replicas = (int64_t)b->cfg->bus_replicas;
	s = js_AddStream(&si, b->js, &sc, NULL, &jerr);
	if (s == NATS_OK || jerr == JSStreamNameExistErr) {
		jsStreamInfo_Destroy(si);
		return 0;
	}
	log_kv(LOG_LVL_WARN, "bus: cannot create the stream", "stream", name,
	    "error", natsStatus_GetText(s), (const char *)NULL);
	return -1;
}

/* The writes stream's first and last sequences; 0 or -1. */
static int
stream_state(struct bus *b, uint64_t *first, uint64_t *last)
{
	jsStreamInfo *si = NULL;
	jsErrCode jerr = 0;

	if (js_GetStreamInfo(&si, b->js, WRITES_STREAM, NULL, &jerr) !=
	    NATS_OK)
		return -1;
	*first = si->State.FirstSeq;
	*last = si->State.LastSeq;
	jsStreamInfo_Destroy(si);
	pthread_mutex_lock(&b->mu);
	b->stream_first = *first;
	if (*last > b->stream_last)
		b->stream_last = *last;
	pthread_mutex_unlock(&b->mu);
	return 0;
}

static void
drop_sub(struct bus *b)
{
	if (b->sub != NULL) {
		natsSubscription_Unsubscribe(b->sub);
		natsSubscription_Destroy(b->sub);
		b->sub = NULL;
	}
}

static int
subscribe(struct bus *b, uint64_t from)
{
	jsSubOptions so;
	jsErrCode jerr = 0;
	natsStatus s;

	drop_sub(b);
	jsSubOptions_Init(&so);
	so.Stream = WRITES_STREAM;
	so.Ordered = true;
	so.Config.DeliverPolicy = js_DeliverByStartSequence;
	so.Config.OptStartSeq = from;
	s = js_SubscribeSync(&b->sub, b->js, WRITES_SUBJECT, NULL, &so, &jerr);
	if (s != NATS_OK) {
		b->sub = NULL;
		log_kv(LOG_LVL_WARN, "bus: cannot subscribe", "error",
		    natsStatus_GetText(s), (const char *)NULL);
		return -1;
	}
	natsSubscription_SetPendingLimits(b->sub, -1, -1);
	return 0;
}

/* ---- snapshots ------------------------------------------------------ */

/* The snapshot file next to the database: path + suffix. */
static void
side_path(struct bus *b, const char *suffix, char *out, size_t cap)
{
	snprintf(out, cap, "%s%s.%ld", b->cfg->db_path, suffix, (long)getpid());
}

/* The last snapshot marker, or NULL. */
static natsMsg *
last_done(struct bus *b)
{
	natsMsg *m = NULL;
	jsErrCode jerr = 0;

	if (js_GetLastMsg(&m, b->js, SNAP_STREAM, SNAP_DONE, NULL, &jerr) !=
	    NATS_OK)
		return NULL;
	return m;
}

/* The first chunk sequence listed in a marker's body (0 none). */
static uint64_t
first_chunk(natsMsg *done)
{
	return done != NULL && natsMsg_GetData(done) != NULL ?
	    strtoull(natsMsg_GetData(done), NULL, 10) : 0;
}

static void
purge(struct bus *b, const char *stream, uint64_t before)
{
	jsOptions o;
	jsErrCode jerr = 0;

	if (before <= 1)
		return;
	jsOptions_Init(&o);
	o.Stream.Purge.Sequence = before;
	if (js_PurgeStream(b->js, stream, &o, &jerr) != NATS_OK)
		log_kv(LOG_LVL_WARN, "bus: purge failed", "stream", stream,
		    (const char *)NULL);
}

/* Publish the file at path as snapshot `seq`; 0 or -1. */
static int
publish_file(struct bus *b, const char *path, uint64_t seq)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL, *list = NULL, hv[32];
	size_t chunk, n, used = 0, cap = 0, total = 0;
	int64_t maxp = natsConnection_GetMaxPayload(b->nc);
	uint64_t cseq;
	unsigned idx = 0;
	natsMsg *m = NULL;
	const char *why;
	int rc = -1;

	chunk = maxp > 8192 ? (size_t)(maxp - 4096) : 4096;
	if (chunk > (1u << 20))
		chunk = 1u << 20;
	buf = malloc(chunk);
	if (f == NULL || buf == NULL)
		goto out;
	snprintf(hv, sizeof(hv), "%" PRIu64, seq);
	while ((n = fread(buf, 1, chunk, f)) > 0) {
		char id[32], num[40];

		if (natsMsg_Create(&m, SNAP_DATA, NULL, buf, (int)n) !=
		        NATS_OK ||
		    natsMsgHeader_Set(m, "Cascaded-Seq", hv) != NATS_OK)
			goto out;
		snprintf(id, sizeof(id), "%u", idx++);
		natsMsgHeader_Set(m, "Cascaded-Chunk", id);
		if (publish(b, m, NULL, &cseq, NULL, &why) != 0)
			goto out;
		m = NULL;
		total += n;
		snprintf(num, sizeof(num), "%s%" PRIu64, used ? "," : "", cseq);
		if (used + strlen(num) + 1 > cap) {
			char *nl = realloc(list, cap * 2 + 64);

			if (nl == NULL)
				goto out;
			list = nl;
			cap = cap * 2 + 64;
		}
		memcpy(list + used, num, strlen(num) + 1);
		used += strlen(num);
	}
	if (list == NULL || ferror(f))
		goto out;
	if (natsMsg_Create(&m, SNAP_DONE, NULL, list, (int)used) != NATS_OK ||
	    natsMsgHeader_Set(m, "Cascaded-Seq", hv) != NATS_OK)
		goto out;
	snprintf(hv, sizeof(hv), "%zu", total);
	natsMsgHeader_Set(m, "Cascaded-Size", hv);
	if (publish(b, m, NULL, &cseq, NULL, &why) != 0)
		goto out;
	m = NULL;
	rc = 0;
out:
	natsMsg_Destroy(m);
	if (f != NULL)
		fclose(f);
	free(buf);
	free(list);
	return rc;
}

/*
 * After applying `seq`, a multiple of --bus-snapshot-writes (or 0: the
 * founding snapshot of an empty bus): claim the snapshot; the winner
 * copies the database and publishes it, then purges what the previous
 * snapshot made useless.  1 published, 0 claimed by another replica, -1
 * failed.
 */
static int
maybe_snapshot(struct bus *b, uint64_t seq)
{
	natsMsg *m = NULL, *prev;
	char id[48], path[4096];
	const char *why;
	uint64_t cseq, prev_seq, prev_first;
	int dup = 1;

	if (natsMsg_Create(&m, SNAP_CLAIM, NULL, b->id, (int)strlen(b->id)) !=
	    NATS_OK)
		return -1;
	snprintf(id, sizeof(id), "claim-%" PRIu64, seq);
	if (publish(b, m, id, &cseq, &dup, &why) != 0)
		return -1;
	if (dup)
		return 0;
	prev = last_done(b);
	prev_seq = prev != NULL ? header_u64(prev, "Cascaded-Seq") : 0;
	prev_first = first_chunk(prev);
	natsMsg_Destroy(prev);
	side_path(b, ".snapshot", path, sizeof(path));
	unlink(path);
	if (store_copy_to(b->app->store, path) != STORE_OK ||
	    publish_file(b, path, seq) != 0) {
		log_kv(LOG_LVL_WARN, "bus: snapshot not published",
		    (const char *)NULL);
		unlink(path);
		return -1;
	}
	unlink(path);
	pthread_mutex_lock(&b->mu);
	b->snapshots++;
	pthread_mutex_unlock(&b->mu);
	/* keep two snapshots and the writes after the older one */
	if (prev_seq > 0 && prev_seq < seq) {
		purge(b, WRITES_STREAM, prev_seq + 1);
		purge(b, SNAP_STREAM, prev_first);
	}
	snprintf(id, sizeof(id), "%" PRIu64, seq);
	log_kv(LOG_LVL_INFO, "bus: snapshot published", "seq", id,
	    (const char *)NULL);
	return 1;
}

/* Restore the last snapshot when its sequence is at least `min`; 0, -1. */
static int
restore(struct bus *b, uint64_t min)
{
	natsMsg *done = last_done(b), *c = NULL;
	char path[4096], sq[32];
	const char *p;
	jsErrCode jerr = 0;
	uint64_t seq, cs, got = 0;
	FILE *f = NULL;
	int rc = -1;

	path[0] = '\0';
	if (done == NULL) {
		log_msg(LOG_LVL_ERROR, "bus: writes were purged and no snapshot "
		    "is available");
		goto out;
	}
	seq = header_u64(done, "Cascaded-Seq");
	if (seq < min) {
		log_msg(LOG_LVL_ERROR, "bus: writes were purged past the last "
		    "snapshot");
		goto out;
	}
	side_path(b, ".restore", path, sizeof(path));
	f = fopen(path, "wb");
	if (f == NULL)
		goto out;
	for (p = natsMsg_GetData(done); p != NULL && *p != '\0';) {
		cs = strtoull(p, NULL, 10);
		if (js_GetMsg(&c, b->js, SNAP_STREAM, cs, NULL, &jerr) !=
		        NATS_OK ||
		    header_u64(c, "Cascaded-Seq") != seq ||
		    fwrite(natsMsg_GetData(c), 1,
		        (size_t)natsMsg_GetDataLength(c), f) !=
		        (size_t)natsMsg_GetDataLength(c))
			goto out;
		natsMsg_Destroy(c);
		c = NULL;
		p = strchr(p, ',');
		if (p != NULL)
			p++;
	}
	if (fclose(f) != 0) {
		f = NULL;
		goto out;
	}
	f = NULL;
	if (store_restore_from(b->app->store, path) != STORE_OK ||
	    store_bus_seq(b->app->store, &got) != STORE_OK || got != seq ||
	    api_reload(b->app, seq) != 0)
		goto out;
	pthread_mutex_lock(&b->mu);
	b->restores++;
	pthread_mutex_unlock(&b->mu);
	set_applied(b, seq, NULL, NULL, NULL);
	snprintf(sq, sizeof(sq), "%" PRIu64, seq);
	log_kv(LOG_LVL_INFO, "bus: snapshot restored", "seq", sq,
	    (const char *)NULL);
	rc = 0;
out:
	natsMsg_Destroy(c);
	natsMsg_Destroy(done);
	if (f != NULL)
		fclose(f);
	if (path[0] != '\0')
		unlink(path);
	return rc;
}

/* ---- the loop ------------------------------------------------------- */

/* Once per connection: the streams, the start target, a consumer. */
static int
attach(struct bus *b)
{
	uint64_t first = 0, last = 0;

	if (!b->streams_ok) {
		if (ensure_stream(b, WRITES_STREAM, WRITES_SUBJECT) != 0 ||
		    ensure_stream(b, SNAP_STREAM, SNAP_SUBJECTS) != 0)
			return -1;
		b->streams_ok = 1;
	}
	if (stream_state(b, &first, &last) != 0)
		return -1;
	pthread_mutex_lock(&b->mu);
	if (!b->have_start) {
		b->have_start = 1;
		b->start_last = last;
		if (b->applied >= last)
			b->ready = 1;
	}
	pthread_mutex_unlock(&b->mu);
	/*
	 * A database that never applied anything is not the cluster's (a
	 * seed made elsewhere, at another time), nor one ahead of the
	 * stream (a new or lost NATS store): it takes the last snapshot,
	 * or, on a bus without any, founds it with its own content (one
	 * replica wins the claim; the others come back for its snapshot).
	 */
	if ((!b->based && b->applied == 0) || last < b->applied) {
		natsMsg *done = last_done(b);

		natsMsg_Destroy(done);
		if (last < b->applied)
			log_msg(LOG_LVL_WARN, "bus: the stream is behind this "
			    "replica (a new NATS store?): starting over from "
			    "the bus");
		if (done == NULL && b->applied > 0) {
			if (store_bus_reset(b->app->store) != STORE_OK)
				return -1;
			set_applied(b, 0, NULL, NULL, NULL);
		}
		if (done != NULL ? restore(b, 0) != 0 :
		    maybe_snapshot(b, 0) != 1)
			return -1;
	}
	b->based = 1;
	/* purged writes we need: restore */
	if (last > b->applied && first > b->applied + 1 &&
	    restore(b, b->applied + 1) != 0)
		return -1;
	return subscribe(b, b->applied + 1);
}

static void *
loop(void *arg)
{
	struct bus *b = arg;
	natsMsg *m = NULL;
	jsMsgMetaData *meta = NULL;
	uint64_t seq, first, last, every;
	int idle = 0, was_up = 0;
	natsStatus s;

	every = (uint64_t)b->cfg->bus_snapshot_writes;
	while (!stopping(b)) {
		if (!connected(b)) {
			if (was_up)
				log_msg(LOG_LVL_WARN, "bus: disconnected: "
				    "serving frozen market data");
			was_up = 0;
			drop_sub(b);
			b->streams_ok = 0;
			nats_Sleep(100);
			continue;
		}
		if (b->sub == NULL) {
			if (attach(b) != 0) {
				nats_Sleep(500);
				continue;
			}
			if (!was_up)
				log_msg(LOG_LVL_INFO, "bus: connected");
			was_up = 1;
			idle = 0;
		}
		s = natsSubscription_NextMsg(&m, b->sub, 250);
		if (s == NATS_TIMEOUT) {
			if (++idle % 4 != 0)
				continue;
			/* a stream ahead of us and nothing delivered */
			if (stream_state(b, &first, &last) == 0 &&
			    last > b->applied)
				drop_sub(b);
			continue;
		}
		if (s != NATS_OK) {
			drop_sub(b);
			nats_Sleep(100);
			continue;
		}
		idle = 0;
		seq = 0;
		if (natsMsg_GetMetaData(&meta, m) == NATS_OK) {
			seq = meta->Sequence.Stream;
			jsMsgMetaData_Destroy(meta);
			meta = NULL;
		}
		if (seq == 0 || seq <= b->applied) {
			natsMsg_Destroy(m);
			continue;
		}
		if (seq > b->applied + 1) {
			/* the writes in between were purged */
			natsMsg_Destroy(m);
			if (restore(b, b->applied + 1) != 0)
				nats_Sleep(1000);
			drop_sub(b);
			continue;
		}
		if (apply(b, m, seq) == 0 && every > 0 && seq % every == 0)
			maybe_snapshot(b, seq);
		natsMsg_Destroy(m);
	}
	drop_sub(b);
	return NULL;
}

/* ---- open / close / status ------------------------------------------ */

static void
make_id(char *out, size_t cap)
{
	struct timespec ts;
	unsigned long long x;

	clock_gettime(CLOCK_REALTIME, &ts);
	x = (unsigned long long)ts.tv_nsec * 6364136223846793005ULL ^
	    (unsigned long long)ts.tv_sec ^
	    ((unsigned long long)getpid() << 32);
	snprintf(out, cap, "%016llx", x);
}

/*
 * The first connection made in the background (with a callback the
 * connect call does not block; the apply thread polls the status).
 */
static void
on_connected(natsConnection *nc, void *closure)
{
	(void)nc;
	(void)closure;
}

int
bus_open(struct app *app, struct bus **out)
{
	const struct config *cfg = app->cfg;
	struct bus *b;
	jsOptions jo;
	natsStatus s;
	uint64_t applied = 0;
	const char **urls;
	size_t i;

	*out = NULL;
	b = calloc(1, sizeof(*b));
	if (b == NULL)
		return -1;
	b->app = app;
	b->cfg = cfg;
	make_id(b->id, sizeof(b->id));
	pthread_mutex_init(&b->mu, NULL);
	pthread_cond_init(&b->cv, NULL);
	if (store_bus_seq(app->store, &applied) != STORE_OK ||
	    (applied > 0 && api_reload(app, applied) != 0)) {
		log_msg(LOG_LVL_ERROR, "bus: cannot read the applied sequence");
		goto fail;
	}
	b->applied = applied;
	s = natsOptions_Create(&b->opts);
	urls = calloc(cfg->nbus_urls + 1, sizeof(*urls));
	if (urls == NULL)
		goto fail;
	for (i = 0; i < cfg->nbus_urls; i++)
		urls[i] = cfg->bus_urls[i];
	if (s == NATS_OK)
		s = natsOptions_SetServers(b->opts, urls, (int)cfg->nbus_urls);
	free(urls);
	if (s == NATS_OK)
		s = natsOptions_SetName(b->opts, "cascaded");
	if (s == NATS_OK)
		s = natsOptions_SetMaxReconnect(b->opts, -1);
	if (s == NATS_OK)
		s = natsOptions_SetReconnectWait(b->opts, 250);
	if (s == NATS_OK)
		s = natsOptions_SetTimeout(b->opts, 2000);
	if (s == NATS_OK)
		s = natsOptions_SetRetryOnFailedConnect(b->opts, true,
		    on_connected, b);
	if (s == NATS_OK && cfg->bus_creds != NULL)
		s = natsOptions_SetUserCredentialsFromFiles(b->opts,
		    cfg->bus_creds, NULL);
	if (s == NATS_OK && cfg->bus_tls_ca != NULL)
		s = natsOptions_LoadCATrustedCertificates(b->opts,
		    cfg->bus_tls_ca);
	if (s != NATS_OK) {
		log_kv(LOG_LVL_ERROR, "bus: bad options", "error",
		    natsStatus_GetText(s), (const char *)NULL);
		goto fail;
	}
	s = natsConnection_Connect(&b->nc, b->opts);
	if (s != NATS_OK && s != NATS_NOT_YET_CONNECTED) {
		log_kv(LOG_LVL_ERROR, "bus: cannot connect", "error",
		    natsStatus_GetText(s), (const char *)NULL);
		goto fail;
	}
	jsOptions_Init(&jo);
	jo.Wait = (int64_t)(cfg->bus_timeout * 1000);
	if (natsConnection_JetStream(&b->js, b->nc, &jo) != NATS_OK)
		goto fail;
	b->relay.submit = submit;
	b->relay.ctx = b;
	if (pthread_create(&b->thr, NULL, loop, b) != 0)
		goto fail;
	b->started = 1;
	app->relay = &b->relay;
	app->bus = b;
	*out = b;
	return 0;
fail:
	bus_close(b);
	return -1;
}

void
bus_close(struct bus *b)
{
	if (b == NULL)
		return;
	if (b->app != NULL && b->app->bus == b) {
		b->app->relay = NULL;
		b->app->bus = NULL;
	}
	pthread_mutex_lock(&b->mu);
	b->stop = 1;
	pthread_cond_broadcast(&b->cv);
	pthread_mutex_unlock(&b->mu);
	if (b->started)
		pthread_join(b->thr, NULL);
	jsCtx_Destroy(b->js);
	if (b->nc != NULL) {
		natsConnection_Close(b->nc);
		natsConnection_Destroy(b->nc);
	}
	natsOptions_Destroy(b->opts);
	pthread_cond_destroy(&b->cv);
	pthread_mutex_destroy(&b->mu);
	free(b);
}

void
bus_get_status(struct bus *b, struct bus_status *out)
{
	memset(out, 0, sizeof(*out));
	if (b == NULL)
		return;
	out->connected = connected(b);
	pthread_mutex_lock(&b->mu);
	out->ready = b->ready;
	out->applied = b->applied;
	out->start_last = b->start_last;
	out->stream_last = b->stream_last;
	out->published = b->published;
	out->frozen_answers = b->frozen_answers;
	out->snapshots = b->snapshots;
	out->restores = b->restores;
	pthread_mutex_unlock(&b->mu);
}

int
bus_frozen(struct bus *b)
{
	return b != NULL && !connected(b);
}

void
bus_count_frozen_answer(struct bus *b)
{
	if (b == NULL)
		return;
	pthread_mutex_lock(&b->mu);
	b->frozen_answers++;
	pthread_mutex_unlock(&b->mu);
}
