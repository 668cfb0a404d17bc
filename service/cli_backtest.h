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
 * `--svg FILE` and `--db PATH` are accepted but not implemented yet
 * (exit 2).
 */
#ifndef CASCADED_CLI_BACKTEST_H
#define CASCADED_CLI_BACKTEST_H

/* argv[0] is "backtest".  Returns the exit status.  Not reentrant. */
int cli_backtest(int argc, char **argv);

#endif
