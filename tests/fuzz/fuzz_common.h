/*
 * fuzz_common.h - the entry points the libFuzzer targets of tests/fuzz/
 * drive, shared with tests/service/test_fuzz_regress.c, which replays the
 * kept inputs through the same functions without libFuzzer.
 *
 * Every entry point takes one request body (any bytes), runs it through
 * the service code the way a handler would (decoder, validation, the
 * snapshot and the model, the encoder) against a small fixed market built
 * in-process (no SQLite, no HTTP), and checks the invariants a handler
 * relies on:
 * - a rejected body carries a problem of status 400 or 422 (500 only for
 *   no memory, which the fuzzer never provokes);
 * - an accepted body leads to LC_OK from the model (the codec validated
 *   it: anything else is the 500 "the model rejected a validated
 *   request") and to an answer that is valid JSON.
 * They return 0 when the invariants hold and -1 (after a message on
 * stderr) when one breaks; memory errors and undefined behaviour are the
 * sanitizers' to report.  Bodies are borrowed; nothing is kept between
 * calls except the fixed market, built on first use.
 *
 * Cost caps keep one input fast: at most FZ_MAX_POSITIONS positions,
 * Monte Carlo at most FZ_MAX_PATHS paths of FZ_MAX_STEPS steps.
 */
#ifndef CASCADED_FUZZ_COMMON_H
#define CASCADED_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>

#define FZ_MAX_POSITIONS 32
#define FZ_MAX_PATHS 2000
#define FZ_MAX_STEPS 16
#define FZ_MAX_COST 4e4

/* POST /v1/score. */
int fz_score(const uint8_t *data, size_t len);
/* PUT /v1/markets/ETH/depth/{venue}: every form. */
int fz_depth(const uint8_t *data, size_t len);
/* PUT and POST /v1/markets/ETH/liquidations. */
int fz_levels(const uint8_t *data, size_t len);
/* PUT /v1/markets/{asset} (create and update) and PUT /v1/correlations. */
int fz_writes(const uint8_t *data, size_t len);
/*
 * The write use cases (api.h api_*) over an in-memory SQLite store
 * seeded with the fixed market: up to 8 operations separated by "\n--\n",
 * each an operation character and its body: a/n PUT /v1/markets/ETH|NEW,
 * d/b PUT depth ETH/fz|BTC/main, v DELETE venue (body: the venue), l/L
 * PUT/POST levels, c/C PUT/POST correlations, x DELETE asset (body: the
 * symbol), s POST /v1/score.  After each write the published snapshot
 * must still score.
 */
int fz_api(const uint8_t *data, size_t len);

/* The entry point of a target by name ("score", ...), or NULL. */
typedef int (*fz_entry_fn)(const uint8_t *data, size_t len);
fz_entry_fn fz_entry(const char *name);

#endif
