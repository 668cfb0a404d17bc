/*
 * cli_backtest.h - the `backtest` subcommand (docs/volatility.md): reads
 * candle CSV files, runs the model's backtest (cascade/backtest.h) and
 * prints its JSON report.
 *
 *   cascaded backtest [--estimator blend|ewma|realised] [--half-life DAYS]
 *	[--mean-reversion DAYS] [--window DAYS] [--tail-dof NU]
 *	[--horizons 1,7] [--thresholds 5,10,15,20,30] [--warmup DAYS]
 *	FILE.csv ...
 *
 * Each FILE is one asset, named by the file name without its directory
 * and extension, with a header naming at least the columns time, open,
 * high, low, close (unix seconds; other columns ignored).  The report goes
 * to stdout.  Exit status: 0 on success, 1 when a file cannot be read or
 * holds a bad row (the file and line go to stderr), 2 on a usage error or
 * when no forecast could be kept (too little data; a message on stderr).
 * `--db PATH` adds every asset with price history in that database
 * (docs/model.md section 9), named by its symbol, read by
 * store_get_prices() and run exactly like a CSV file.  `--svg FILE` is
 * accepted but not implemented yet (exit 2).
 */
#ifndef CASCADED_CLI_BACKTEST_H
#define CASCADED_CLI_BACKTEST_H

#include <stddef.h>

#include "cascade/backtest.h"

/* argv[0] is "backtest".  Returns the exit status.  Not reentrant. */
int cli_backtest(int argc, char **argv);
/*
 * Read a candle CSV file (the header and columns above) as it is, rows
 * in file order, unchecked beyond "numbers, whole-second times" (cascaded
 * import --prices validates through the api).  *c malloc'd.  0, or -1
 * with a message "cascaded: <who>: ..." on stderr.
 */
int cli_read_candles(const char *who, const char *path,
    struct lc_candle **c, size_t *n);

#endif
