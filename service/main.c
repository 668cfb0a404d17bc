/*
 * main.c - the cascaded binary: subcommand dispatch and the serve loop.
 *
 * This is the only file that knows every module.  Subcommands live in the
 * `commands` table (add `score`, `import`... there); each gets the parsed
 * configuration and returns the exit status.  serve: block SIGTERM/SIGINT
 * before any thread exists (MHD's threads inherit the mask), open and
 * migrate the store, start the server, sigwait, drain, close, exit 0.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <netinet/in.h>

#include "api.h"
#include "app.h"
#include "bus.h"
#include "cli.h"
#include "cli_backtest.h"
#include "config.h"
#include "embed.h"
#include "handlers.h"
#include "log.h"
#include "metrics.h"
#include "seed.h"
#include "seed_init.h"
#include "server.h"
#include "store.h"

#ifndef CASCADED_VERSION
#define CASCADED_VERSION "0.0.0"
#endif

extern char **environ;

struct command {
	const char *name;
	int (*run)(struct config *cfg);
	const char *help;	/* one line for --help */
};

/* Every route table the server serves. */
static void
register_routes(struct server *srv)
{
	server_add_routes(srv, handlers_ops_routes, handlers_ops_nroutes);
	server_add_routes(srv, handlers_score_routes, handlers_score_nroutes);
	server_add_routes(srv, handlers_market_routes,
	    handlers_market_nroutes);
	server_add_routes(srv, handlers_book_routes, handlers_book_nroutes);
	server_add_routes(srv, handlers_prices_routes, handlers_prices_nroutes);
	server_add_routes(srv, handlers_chart_routes, handlers_chart_nroutes);
	server_add_routes(srv, handlers_page_routes, handlers_page_nroutes);
}

/* The server counts what the use cases report (GET /metrics). */
static const struct api_hooks metrics_hooks = {
	metrics_score_observe,
	metrics_db_write_failed,
};

static struct store *
open_store(const struct config *cfg)
{
	struct store *st;
	char *err = NULL;

	st = store_open(cfg->db_path, &err);
	if (st == NULL) {
		log_kv(LOG_LVL_ERROR, "cannot open database", "db",
		    cfg->db_path, "error", err ? err : "unknown",
		    (const char *)NULL);
		free(err);
	}
	return st;
}

static int
cmd_serve(struct config *cfg)
{
	struct app app;
	struct bus *bus = NULL;
	sigset_t set;
	char addr[128];
	unsigned port = 0;
	int sig = 0, rc = 1;

	memset(&app, 0, sizeof(app));
	app.cfg = cfg;
	app.hooks = &metrics_hooks;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	if (pthread_sigmask(SIG_BLOCK, &set, NULL) != 0) {
		log_msg(LOG_LVL_ERROR, "pthread_sigmask failed");
		return 1;
	}
	signal(SIGPIPE, SIG_IGN);
	/* a write past a file-size limit must fail (503), not kill us */
	signal(SIGXFSZ, SIG_IGN);
	app.store = open_store(cfg);
	if (app.store == NULL)
		goto out;
	/* the first market snapshot, from the database */
	if (api_app_init(&app) != 0)
		goto out;
	/* --bus: the writes go through NATS JetStream (bus.h) */
	if (cfg->nbus_urls > 0 && bus_open(&app, &bus) != 0)
		goto out;
	app.srv = server_new(cfg, &app);
	if (app.srv == NULL)
		goto out;
	register_routes(app.srv);
	if (bus != NULL)
		server_set_annotate(app.srv, handlers_bus_annotate);
	if (server_start(app.srv, addr, sizeof(addr), &port) != 0)
		goto out;
	log_kv(LOG_LVL_INFO, "listening", "listen", addr, "db", cfg->db_path,
	    "version", CASCADED_VERSION, (const char *)NULL);
	for (;;) {
		if (sigwait(&set, &sig) != 0)
			continue;
		if (sig == SIGTERM || sig == SIGINT)
			break;
	}
	log_kv(LOG_LVL_INFO, "shutting down", "signal",
	    sig == SIGTERM ? "SIGTERM" : "SIGINT", (const char *)NULL);
	server_drain(app.srv, cfg->drain_seconds);
	rc = 0;
out:
	server_free(app.srv);
	bus_close(bus);
	api_app_release(&app);
	store_close(app.store);
	if (rc == 0)
		log_msg(LOG_LVL_INFO, "stopped");
	return rc;
}

static int
cmd_migrate(struct config *cfg)
{
	struct store *st = open_store(cfg);

	if (st == NULL)
		return 1;
	printf("%s: schema version %d (%d migrations)\n", cfg->db_path,
	    store_schema_version(st), store_migration_count());
	store_close(st);
	return 0;
}

static int
cmd_seed(struct config *cfg)
{
	struct seed_stats stats;
	struct store *st;
	char err[256];
	int rc = 1;

	st = open_store(cfg);
	if (st == NULL)
		return 1;
	if (seed_apply(st, (const char *)embed_seed.data, embed_seed.len,
	    &stats, err, sizeof(err)) != 0) {
		log_kv(LOG_LVL_ERROR, "seed failed", "error", err,
		    (const char *)NULL);
		goto out;
	}
	printf("%s: seeded %zu assets, %zu curves, %zu liquidation levels, "
	    "%zu correlation pairs, %zu price candles, %zu books "
	    "(%zu positions)\n", cfg->db_path, stats.assets, stats.curves,
	    stats.levels, stats.pairs, stats.candles, stats.books,
	    stats.book_positions);
	rc = 0;
out:
	store_close(st);
	return rc;
}

/*
 * GET /healthz on the listen address (or the first argument); a wildcard
 * address is reached through loopback.  Exit 0 on 200, else 1.
 */
static int
cmd_healthcheck(struct config *cfg)
{
	struct sockaddr_storage ss;
	socklen_t len;
	struct pollfd pfd;
	const char *spec = cfg->nargs > 0 ? cfg->args[0] : cfg->listen;
	static const char req[] = "GET /healthz HTTP/1.1\r\nHost: localhost\r\n"
	    "Connection: close\r\n\r\n";
	char err[256], buf[64];
	size_t got = 0;
	ssize_t n;
	int fd = -1, rc = 1, soerr = 0;
	socklen_t elen = sizeof(soerr);

	if (config_parse_listen(spec, &ss, &len, err, sizeof(err)) != 0) {
		fprintf(stderr, "healthcheck: %s\n", err);
		return 1;
	}
	if (ss.ss_family == AF_INET) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)(void *)&ss;

		if (s4->sin_addr.s_addr == htonl(INADDR_ANY))
			s4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	} else if (ss.ss_family == AF_INET6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)(void *)&ss;

		if (IN6_IS_ADDR_UNSPECIFIED(&s6->sin6_addr))
			s6->sin6_addr = in6addr_loopback;
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0);
	if (fd < 0)
		goto out;
	if (connect(fd, (struct sockaddr *)&ss, len) != 0 &&
	    errno != EINPROGRESS)
		goto out;
	pfd.fd = fd;
	pfd.events = POLLOUT;
	if (poll(&pfd, 1, 2000) != 1 ||
	    getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &elen) != 0 ||
	    soerr != 0)
		goto out;
	if (send(fd, req, sizeof(req) - 1, MSG_NOSIGNAL) !=
	    (ssize_t)(sizeof(req) - 1))
		goto out;
	pfd.events = POLLIN;
	while (got < 12) {
		if (poll(&pfd, 1, 2000) != 1)
			goto out;
		n = recv(fd, buf + got, sizeof(buf) - 1 - got, 0);
		if (n <= 0)
			goto out;
		got += (size_t)n;
	}
	buf[got] = '\0';
	if (strncmp(buf, "HTTP/1.", 7) == 0 && strncmp(buf + 9, "200", 3) == 0)
		rc = 0;
out:
	if (fd >= 0)
		close(fd);
	if (rc != 0)
		fprintf(stderr, "healthcheck: %s is not healthy\n", spec);
	return rc;
}

static int
cmd_version(struct config *cfg)
{
	(void)cfg;
	printf("cascaded %s\n", CASCADED_VERSION);
	return 0;
}

/*
 * ---- serve --init: migrate, and seed per --seed, the database before
 * serving (seed_init.h): the container's start, with no shell.  Returns
 * the exit status of a failure (73: the directory is not writable), or 0.
 */
static int
serve_init(const struct config *cfg)
{
	struct seed_init_report rep;
	enum seed_init_mode mode;
	char err[512], assets[32];

	if (seed_init_parse_mode(cfg->seed, &mode) != 0) {
		fprintf(stderr, "cascaded: --seed: invalid value '%s' (auto, "
		    "always or never)\n", cfg->seed);
		return 2;
	}
	if (!cfg->init)
		return 0;
	switch (seed_init(cfg->db_path, mode, (const char *)embed_seed.data,
	    embed_seed.len, &rep, err, sizeof(err))) {
	case SEED_INIT_OK:
		break;
	case SEED_INIT_NOT_WRITABLE:
		log_kv(LOG_LVL_ERROR, "database directory not writable", "db",
		    cfg->db_path, "error", err, (const char *)NULL);
		return 73;
	case SEED_INIT_FAILED:
	default:
		log_kv(LOG_LVL_ERROR, "database init failed", "db",
		    cfg->db_path, "error", err, (const char *)NULL);
		return 1;
	}
	snprintf(assets, sizeof(assets), "%zu", rep.stats.assets);
	log_kv(LOG_LVL_INFO, "database ready", "db", cfg->db_path, "created",
	    rep.created ? "true" : "false", "seeded_assets",
	    rep.seeded ? assets : "0", (const char *)NULL);
	return 0;
}

static const struct command commands[] = {
	{ "serve", cmd_serve, "serve the HTTP API (the default)" },
	{ "migrate", cmd_migrate, "create or upgrade the database (--db)" },
	{ "seed", cmd_seed, "load the embedded seed market data (--db; "
	  "idempotent)" },
	{ "healthcheck", cmd_healthcheck, "[ADDR:PORT] GET /healthz on the "
	  "listen address; exit 0 on 200" },
	{ "version", cmd_version, "print the version" },
};

static void
usage(FILE *out)
{
	size_t i;

	fprintf(out, "usage: cascaded [COMMAND] [OPTIONS]\n\ncommands:\n");
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(out, "  %-12s %s\n", commands[i].name,
		    commands[i].help);
	fprintf(out, "  %-12s %s\n  %-12s %s\n", "score",
	    "FILE|- : score a request body as POST /v1/score does",
	    "import", "depth|liquidations ... : write market data from a "
	    "file");
	fprintf(out, "\n");
	config_usage(out);
}

int
main(int argc, char **argv)
{
	const struct command *cmd = &commands[0];
	struct config cfg;
	char err[512];
	size_t i;
	int first = 1, rc;

	/* score and import parse their own flags (cli.h) */
	if (argc > 1 && cli_handles(argv[1]))
		return cli_main(argc - 1, argv + 1, environ);
	if (argc > 1 && strcmp(argv[1], "backtest") == 0)
		return cli_backtest(argc - 1, argv + 1);
	if (argc > 1 && argv[1][0] != '-') {
		cmd = NULL;
		for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
			if (strcmp(argv[1], commands[i].name) == 0)
				cmd = &commands[i];
		if (cmd == NULL) {
			fprintf(stderr, "cascaded: unknown command '%s' "
			    "(see --help)\n", argv[1]);
			return 2;
		}
		first = 2;
	}
	config_init(&cfg);
	switch (config_load(&cfg, argc - first, argv + first, environ, err,
	    sizeof(err))) {
	case CONFIG_OK:
		break;
	case CONFIG_HELP:
		usage(stdout);
		config_release(&cfg);
		return 0;
	case CONFIG_VERSION:
		printf("cascaded %s\n", CASCADED_VERSION);
		config_release(&cfg);
		return 0;
	case CONFIG_ERROR:
		fprintf(stderr, "cascaded: %s\n", err);
		config_release(&cfg);
		return 2;
	}
	if (cfg.nargs > 0 && cmd->run != cmd_healthcheck) {
		fprintf(stderr, "cascaded: unexpected argument '%s'\n",
		    cfg.args[0]);
		config_release(&cfg);
		return 2;
	}
	log_set_level(cfg.log_level);
	/* ---- serve --init */
	if (cmd->run == cmd_serve && (rc = serve_init(&cfg)) != 0) {
		config_release(&cfg);
		return rc;
	}
	rc = cmd->run(&cfg);
	config_release(&cfg);
	return rc;
}
