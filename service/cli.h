/*
 * cli.h - the `score` and `import` subcommands: the same decode -> model
 * and decode -> store -> snapshot paths as the HTTP endpoints
 * (api.h), driven from files.
 *
 *   cascaded score FILE|-  [--db PATH]
 *	prints exactly what POST /v1/score answers for that body, computed
 *	from the database; exit 0 on 200, 1 when the request is rejected
 *	(the problem+json is printed instead), 2 on a usage error.
 *   cascaded import depth ASSET VENUE FILE|- [--csv] [--side bid|ask]
 *	[--mid PRICE] [--form points|levels|quotes]
 *   cascaded import liquidations ASSET FILE|- [--csv] [--append]
 *	FILE holds the body PUT .../depth/{venue} or .../liquidations takes,
 *	or CSV (detected when the content does not start with '{', or
 *	forced with --csv): depth rows `bps,qty` (points), `price,qty`
 *	(order-book levels: --side needed, --mid optional) or
 *	`qty,avg_slippage_bps` (quotes), liquidation rows `price,qty,side`.
 *	A header line naming the columns is optional (it selects the form
 *	and the column order; without one, depth needs --form).  The answer
 *	JSON goes to stdout; a rejected write prints its problem (with CSV
 *	line numbers) to stderr and exits 1.
 *   cascaded import --format defillama|hyperliquid|aave-v3-subgraph
 *	[--book NAME] [--map MAP.json] [--print] [--append] FILE|-
 *	maps another system's positions (codec_import.h, docs/import.md):
 *	levels through the levels write per asset (PUT, POST with
 *	--append), positions through the book write to NAME, or printed as
 *	the PUT /v1/books body with --print.  Exit 0, 1 (rejected input or
 *	write), 2 (usage).
 *
 * Every other option is the server's (config.h), e.g. --db.  An import
 * into the database of a running server is stored at once, but that
 * server serves it only from its next market write (which reloads the
 * whole store) or restart: write through the HTTP API to a live server.
 */
#ifndef CASCADED_CLI_H
#define CASCADED_CLI_H

/* 1 when `name` is a subcommand of this module ("score", "import"). */
int cli_handles(const char *name);
/*
 * Run it: argv[0] is the subcommand, envp the environment (CASCADED_*
 * variables apply as for serve).  Returns the exit status.
 */
int cli_main(int argc, char **argv, char *const *envp);

#endif
