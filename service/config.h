/*
 * config.h - runtime configuration from flags and CASCADED_* environment.
 *
 * Every option --name has an environment twin CASCADED_NAME (upper case,
 * '-' -> '_').  A flag wins over the environment; repeatable options take
 * a comma-separated list from the environment, and any flag occurrence
 * replaces that whole list.  Options are described once, in the table in
 * config.c, which also generates --help.
 *
 * Ownership: struct config owns its strings; config_release() frees them
 * (safe on a zeroed or half-filled config).
 */
#ifndef CASCADED_CONFIG_H
#define CASCADED_CONFIG_H

#include <stddef.h>
#include <stdio.h>
#include <sys/socket.h>

#include "log.h"

#define CONFIG_DEFAULT_LISTEN "127.0.0.1:8080"
#define CONFIG_DEFAULT_DB "var/cascaded.db"
/* --price-retention-days: 3 years of price history per asset */
#define CONFIG_DEFAULT_PRICE_RETENTION_DAYS 1095

struct config {
	char *listen;			/* "ADDR:PORT", "[V6]:PORT" */
	char *db_path;
	unsigned threads;		/* HTTP polling threads; 0: cores */
	size_t max_body;		/* bytes */
	char **api_keys;
	size_t napi_keys;
	char *api_key_file;
	char **cors_origins;
	size_t ncors_origins;
	enum log_level log_level;
	size_t max_positions;
	double stale_depth_seconds;
	double max_mc_cost;		/* paths*steps*(assets+coupled) bound */
	double default_correlation;
	unsigned max_connections;
	unsigned connection_timeout;	/* seconds of inactivity */
	unsigned per_ip_limit;		/* 0: none */
	double drain_seconds;		/* SIGTERM: in-flight drain deadline */
	unsigned compute_threads;	/* Monte Carlo pool workers; 0: cores */
	size_t compute_queue;		/* jobs that may wait; more: 503 */
	int protect_reads;		/* keys needed on /v1/ reads too */
	/* price history (docs/model.md section 9) */
	double vol_half_life_days;	/* EWMA half-life H */
	double vol_mean_reversion_days;	/* blend mean-reversion M */
	double price_retention_days;	/* history kept per asset; 0 all */
	/* ---- serve --init: prepare the database first (seed_init.h) */
	int init;			/* migrate, seed per seed, then serve */
	char *seed;			/* auto (NULL), always or never */
	/* ---- bus (bus.h): replicas sharing one market cache over NATS */
	char **bus_urls;		/* nats://HOST:PORT...; none: no bus */
	size_t nbus_urls;
	char *bus_creds;		/* NATS credentials file, NULL */
	char *bus_tls_ca;		/* CA file for tls:// servers, NULL */
	double bus_timeout;		/* seconds a write waits for its apply */
	size_t bus_snapshot_writes;	/* writes between two snapshots */
	unsigned bus_replicas;		/* JetStream replicas of the streams */
	/* positional arguments left after the options (borrowed from argv) */
	size_t nargs;
	char **args;
};

enum config_result {
	CONFIG_OK = 0,
	CONFIG_ERROR,		/* message in err */
	CONFIG_HELP,		/* --help: caller prints config_usage() */
	CONFIG_VERSION		/* --version */
};

/* Defaults only. */
void config_init(struct config *c);
void config_release(struct config *c);

/*
 * Parse options argv[0..argc-1] (no program name: the caller strips it and
 * the subcommand) over the environment envp (NULL-terminated "K=V"
 * strings, may be NULL).  Non-option arguments are collected in
 * c->args; "--" ends options.  On CONFIG_ERROR err holds a one-line
 * message.  --api-key-file is read here (one key per line, '#' comments).
 */
enum config_result config_load(struct config *c, int argc, char **argv,
    char *const *envp, char *err, size_t errlen);

/* The --help text of every option (the commands are main.c's). */
void config_usage(FILE *out);

/*
 * Resolve a listen address "ADDR:PORT", "[V6]:PORT", "HOST:PORT" or
 * ":PORT" (all interfaces) to a socket address.  0 on success, else -1
 * with err set.
 */
int config_parse_listen(const char *spec, struct sockaddr_storage *ss,
    socklen_t *len, char *err, size_t errlen);

#endif
