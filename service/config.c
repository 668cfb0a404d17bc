/*
 * config.c - option table, flag and environment parsing.
 *
 * The environment is applied first, then the flags, so a flag wins.  A
 * list option filled from the environment is cleared the first time its
 * flag appears.  Numbers are parsed with strto* and checked for the whole
 * string, range and finiteness; sizes accept k/m/g (binary) suffixes.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "cascade/vol.h"
#include "codec.h"
#include "config.h"

/* A macro's value as a string literal (the defaults in --help). */
#define STR_(x) #x
#define STR(x) STR_(x)

enum opt_kind {
	OPT_STR,
	OPT_LIST,
	OPT_UINT,
	OPT_SIZE,
	OPT_DOUBLE,
	OPT_LEVEL,
	OPT_FLAG
};

struct opt {
	const char *name;	/* flag without "--" */
	enum opt_kind kind;
	size_t off;		/* offset in struct config */
	size_t count_off;	/* OPT_LIST: offset of the count */
	double min, max;	/* numeric range */
	const char *arg;	/* help: argument name */
	const char *help;
};

#define OFF(f) offsetof(struct config, f)

static const struct opt opts[] = {
	{ "listen", OPT_STR, OFF(listen), 0, 0, 0, "ADDR:PORT",
	  "address to serve on (default " CONFIG_DEFAULT_LISTEN "; port 0 "
	  "picks a free port; IPv6 as [::1]:8080)" },
	{ "db", OPT_STR, OFF(db_path), 0, 0, 0, "PATH",
	  "SQLite database file (default " CONFIG_DEFAULT_DB ")" },
	/* ---- serve --init (the container's start; seed_init.h) */
	{ "init", OPT_FLAG, OFF(init), 0, 0, 0, "[=BOOL]",
	  "serve: first migrate the database, building a new one as "
	  "PATH.init and renaming it into place, and seed it per --seed" },
	{ "seed", OPT_STR, OFF(seed), 0, 0, 0, "MODE",
	  "with --init: auto (seed a new database only; default), always "
	  "or never" },
	{ "threads", OPT_UINT, OFF(threads), 0, 0, 256, "N",
	  "HTTP polling threads (default: number of cores)" },
	{ "max-body", OPT_SIZE, OFF(max_body), 0, 1, 1073741824.0, "BYTES",
	  "largest request body, k/m/g suffixes (default 8m): else 413" },
	{ "api-key", OPT_LIST, OFF(api_keys), OFF(napi_keys), 0, 0, "KEY",
	  "API key for writes (repeatable); none: writes are open" },
	{ "api-key-file", OPT_STR, OFF(api_key_file), 0, 0, 0, "PATH",
	  "file of API keys, one per line ('#' comments)" },
	{ "cors-origin", OPT_LIST, OFF(cors_origins), OFF(ncors_origins),
	  0, 0, "ORIGIN", "allowed CORS origin (repeatable; '*' for any)" },
	{ "log-level", OPT_LEVEL, OFF(log_level), 0, 0, 0, "LEVEL",
	  "debug, info, warn or error (default info)" },
	{ "max-positions", OPT_SIZE, OFF(max_positions), 0, 1, 1e9, "N",
	  "most positions in one score request (default "
	  STR(CODEC_DEFAULT_MAX_POSITIONS) ")" },
	{ "stale-depth-seconds", OPT_DOUBLE, OFF(stale_depth_seconds), 0, 0,
	  1e12, "S", "age after which depth is flagged stale_depth "
	  "(default " STR(CODEC_DEFAULT_STALE_DEPTH_S) ")" },
	{ "max-mc-cost", OPT_DOUBLE, OFF(max_mc_cost), 0, 1, 1e15, "N",
	  "Monte Carlo cost bound paths*steps*(volatile assets + coupled "
	  "loans); above it 422 (default " STR(CODEC_DEFAULT_MAX_COST) ")" },
	{ "default-correlation", OPT_DOUBLE, OFF(default_correlation), 0, -1,
	  1, "RHO", "correlation of pairs without a stored one (default 0)" },
	{ "max-connections", OPT_UINT, OFF(max_connections), 0, 1, 1000000,
	  "N", "concurrent connection limit (default 1024)" },
	{ "timeout", OPT_UINT, OFF(connection_timeout), 0, 1, 86400, "S",
	  "idle connection timeout in seconds (default 30)" },
	{ "per-ip-limit", OPT_UINT, OFF(per_ip_limit), 0, 0, 1000000, "N",
	  "connections per client IP, 0 for no limit (default 256; set 0 behind a proxy that hides client addresses)" },
	{ "drain-seconds", OPT_DOUBLE, OFF(drain_seconds), 0, 0, 60, "S",
	  "on SIGTERM, wait this long for in-flight requests (default 3)" },
	{ "compute-threads", OPT_UINT, OFF(compute_threads), 0, 0, 1024, "N",
	  "Monte Carlo worker threads (default: number of cores)" },
	{ "compute-queue", OPT_SIZE, OFF(compute_queue), 0, 0, 1000000, "N",
	  "Monte Carlo requests that may wait for a worker; beyond: 503 "
	  "(default 64)" },
	{ "protect-reads", OPT_FLAG, OFF(protect_reads), 0, 0, 0, "[=BOOL]",
	  "with API keys, reads under /v1/ (GET, POST /v1/score) need a key "
	  "too" },
	/* price history */
	{ "vol-half-life-days", OPT_DOUBLE, OFF(vol_half_life_days), 0,
	  0.001, LC_VOL_MAX_DAYS, "DAYS", "EWMA half-life H of the "
	  "volatility from price history (default "
	  STR(LC_VOL_DEFAULT_HALF_LIFE_DAYS) ")" },
	{ "vol-mean-reversion-days", OPT_DOUBLE,
	  OFF(vol_mean_reversion_days), 0, 0.001, LC_VOL_MAX_DAYS, "DAYS",
	  "mean-reversion half-life M of the horizon blend (default "
	  STR(LC_VOL_DEFAULT_MEAN_REVERSION_DAYS) ")" },
	{ "price-retention-days", OPT_DOUBLE, OFF(price_retention_days), 0,
	  0, 1e6, "DAYS", "price history kept per asset before its last "
	  "candle, 0 for all (default "
	  STR(CONFIG_DEFAULT_PRICE_RETENTION_DAYS) ")" },
	{ "bus", OPT_LIST, OFF(bus_urls), OFF(nbus_urls), 0, 0, "URL",
	  "NATS server nats://HOST:PORT (repeatable): replicas share the "
	  "market data over JetStream (default: none, one process)" },
	{ "bus-creds", OPT_STR, OFF(bus_creds), 0, 0, 0, "PATH",
	  "NATS user credentials file (JWT + NKey seed)" },
	{ "bus-tls-ca", OPT_STR, OFF(bus_tls_ca), 0, 0, 0, "PATH",
	  "CA certificates to verify tls:// NATS servers" },
	{ "bus-timeout", OPT_DOUBLE, OFF(bus_timeout), 0, 0.1, 600, "S",
	  "a write waits this long for the bus and its own apply, else 503 "
	  "(default 5)" },
	{ "bus-snapshot-writes", OPT_SIZE, OFF(bus_snapshot_writes), 0, 1,
	  1e9, "N",
	  "publish a snapshot of the market data every N writes on the bus "
	  "(default 1000)" },
	{ "bus-replicas", OPT_UINT, OFF(bus_replicas), 0, 1, 5, "N",
	  "copies JetStream keeps of the streams when it creates them: 3 on "
	  "a 3-node NATS cluster (default 1)" },
};

#define NOPTS (sizeof(opts) / sizeof(opts[0]))

static void
seterr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

void
config_init(struct config *c)
{
	memset(c, 0, sizeof(*c));
	c->listen = strdup(CONFIG_DEFAULT_LISTEN);
	c->db_path = strdup(CONFIG_DEFAULT_DB);
	c->threads = 0;
	c->max_body = 8u << 20;
	c->log_level = LOG_LVL_INFO;
	c->max_positions = CODEC_DEFAULT_MAX_POSITIONS;
	c->stale_depth_seconds = CODEC_DEFAULT_STALE_DEPTH_S;
	c->max_mc_cost = CODEC_DEFAULT_MAX_COST;
	c->default_correlation = 0;
	c->max_connections = 1024;
	c->connection_timeout = 30;
	c->per_ip_limit = 256;
	c->drain_seconds = 3;
	c->compute_threads = 0;
	c->compute_queue = 64;
	c->protect_reads = 0;
	c->vol_half_life_days = LC_VOL_DEFAULT_HALF_LIFE_DAYS;
	c->vol_mean_reversion_days = LC_VOL_DEFAULT_MEAN_REVERSION_DAYS;
	c->price_retention_days = CONFIG_DEFAULT_PRICE_RETENTION_DAYS;
	c->bus_timeout = 5;
	c->bus_snapshot_writes = 1000;
	c->bus_replicas = 1;
}

static void
list_clear(char ***list, size_t *n)
{
	size_t i;

	for (i = 0; i < *n; i++)
		free((*list)[i]);
	free(*list);
	*list = NULL;
	*n = 0;
}

void
config_release(struct config *c)
{
	if (c == NULL)
		return;
	free(c->listen);
	free(c->db_path);
	free(c->api_key_file);
	free(c->seed);
	list_clear(&c->api_keys, &c->napi_keys);
	list_clear(&c->cors_origins, &c->ncors_origins);
	list_clear(&c->bus_urls, &c->nbus_urls);
	free(c->bus_creds);
	free(c->bus_tls_ca);
	free(c->args);
	memset(c, 0, sizeof(*c));
}

static int
list_add(char ***list, size_t *n, const char *s, size_t len)
{
	char **nl;
	char *dup;

	dup = strndup(s, len);
	if (dup == NULL)
		return -1;
	nl = realloc(*list, (*n + 1) * sizeof(*nl));
	if (nl == NULL) {
		free(dup);
		return -1;
	}
	nl[*n] = dup;
	*list = nl;
	(*n)++;
	return 0;
}

static int
parse_double(const char *s, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (end == s || *end != '\0' || errno != 0 || !isfinite(v))
		return -1;
	*out = v;
	return 0;
}

static int
parse_size(const char *s, double *out)
{
	char *end;
	unsigned long long v;
	double mult = 1;

	if (!isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (end == s || errno != 0)
		return -1;
	switch (*end) {
	case '\0': break;
	case 'k': case 'K': mult = 1024.0; end++; break;
	case 'm': case 'M': mult = 1048576.0; end++; break;
	case 'g': case 'G': mult = 1073741824.0; end++; break;
	default: return -1;
	}
	if (*end == 'i' && end[1] == 'B')
		end += 2;
	else if (*end == 'B' && mult > 1)
		end++;
	if (*end != '\0')
		return -1;
	*out = (double)v * mult;
	return 0;
}

/*
 * Apply one value to an option.  from_env: lists split on commas.
 * list_seen tracks, per option, whether a flag has cleared the list yet.
 */
static int
apply(struct config *c, const struct opt *o, const char *val, int from_env,
    int *list_seen, char *err, size_t errlen)
{
	char *base = (char *)c;
	char **sp;
	double d;
	enum log_level lvl;

	switch (o->kind) {
	case OPT_STR:
		sp = (char **)(void *)(base + o->off);
		free(*sp);
		*sp = strdup(val);
		if (*sp == NULL)
			goto nomem;
		return 0;
	case OPT_LIST: {
		char ***lp = (char ***)(void *)(base + o->off);
		size_t *np = (size_t *)(void *)(base + o->count_off);
		const char *p = val, *q;

		if (!from_env && !*list_seen) {
			list_clear(lp, np);
			*list_seen = 1;
		}
		if (!from_env) {
			if (*val == '\0') {
				seterr(err, errlen, "--%s: empty value",
				    o->name);
				return -1;
			}
			return list_add(lp, np, val, strlen(val)) ? -1 : 0;
		}
		while (*p != '\0') {
			q = strchr(p, ',');
			if (q == NULL)
				q = p + strlen(p);
			while (p < q && isspace((unsigned char)*p))
				p++;
			if (q > p && list_add(lp, np, p, (size_t)(q - p)))
				goto nomem;
			p = *q ? q + 1 : q;
		}
		return 0;
	}
	case OPT_UINT:
	case OPT_SIZE:
		if (parse_size(val, &d) || d < o->min || d > o->max ||
		    (o->kind == OPT_UINT && d != floor(d)))
			goto bad;
		if (o->kind == OPT_UINT)
			*(unsigned *)(void *)(base + o->off) = (unsigned)d;
		else
			*(size_t *)(void *)(base + o->off) = (size_t)d;
		return 0;
	case OPT_DOUBLE:
		if (parse_double(val, &d) || d < o->min || d > o->max)
			goto bad;
		*(double *)(void *)(base + o->off) = d;
		return 0;
	case OPT_LEVEL:
		if (log_parse_level(val, &lvl))
			goto bad;
		*(enum log_level *)(void *)(base + o->off) = lvl;
		return 0;
	case OPT_FLAG:
		if (strcmp(val, "1") == 0 || strcasecmp(val, "true") == 0 ||
		    strcasecmp(val, "yes") == 0 || strcasecmp(val, "on") == 0)
			*(int *)(void *)(base + o->off) = 1;
		else if (strcmp(val, "0") == 0 ||
		    strcasecmp(val, "false") == 0 ||
		    strcasecmp(val, "no") == 0 || strcasecmp(val, "off") == 0)
			*(int *)(void *)(base + o->off) = 0;
		else
			goto bad;
		return 0;
	}
bad:
	seterr(err, errlen, "%s%s: invalid value '%s'", from_env ?
	    "environment for --" : "--", o->name, val);
	return -1;
nomem:
	seterr(err, errlen, "out of memory");
	return -1;
}

static void
env_name(const char *opt, char *buf, size_t cap)
{
	size_t i, n;

	n = (size_t)snprintf(buf, cap, "CASCADED_");
	for (i = 0; opt[i] != '\0' && n + 1 < cap; i++, n++)
		buf[n] = opt[i] == '-' ? '_' :
		    (char)toupper((unsigned char)opt[i]);
	buf[n] = '\0';
}

static const char *
env_lookup(char *const *envp, const char *name)
{
	size_t len = strlen(name);

	if (envp == NULL)
		return NULL;
	for (; *envp != NULL; envp++)
		if (strncmp(*envp, name, len) == 0 && (*envp)[len] == '=')
			return *envp + len + 1;
	return NULL;
}

static int
read_key_file(struct config *c, const char *path, char *err, size_t errlen)
{
	FILE *f;
	char line[1024];
	size_t len;
	char *p;
	int rc = -1;

	f = fopen(path, "r");
	if (f == NULL) {
		seterr(err, errlen, "--api-key-file %s: %s", path,
		    strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		p = line;
		while (isspace((unsigned char)*p))
			p++;
		len = strlen(p);
		while (len > 0 && isspace((unsigned char)p[len - 1]))
			len--;
		if (len == 0 || *p == '#')
			continue;
		if (list_add(&c->api_keys, &c->napi_keys, p, len)) {
			seterr(err, errlen, "out of memory");
			goto out;
		}
	}
	if (ferror(f)) {
		seterr(err, errlen, "--api-key-file %s: read error", path);
		goto out;
	}
	rc = 0;
out:
	fclose(f);
	return rc;
}

enum config_result
config_load(struct config *c, int argc, char **argv, char *const *envp,
    char *err, size_t errlen)
{
	int list_seen[NOPTS];
	char name[64];
	const char *val, *arg, *eq;
	size_t i, nlen;
	int k, env_seen = 1, only_args = 0;
	char **nargs;

	memset(list_seen, 0, sizeof(list_seen));
	for (i = 0; i < NOPTS; i++) {
		env_name(opts[i].name, name, sizeof(name));
		val = env_lookup(envp, name);
		if (val != NULL && apply(c, &opts[i], val, 1, &env_seen, err,
		    errlen))
			return CONFIG_ERROR;
	}
	for (k = 0; k < argc; k++) {
		arg = argv[k];
		if (only_args || arg[0] != '-' || arg[1] == '\0') {
			nargs = realloc(c->args, (c->nargs + 1) *
			    sizeof(*nargs));
			if (nargs == NULL) {
				seterr(err, errlen, "out of memory");
				return CONFIG_ERROR;
			}
			c->args = nargs;
			c->args[c->nargs++] = argv[k];
			continue;
		}
		if (strcmp(arg, "--") == 0) {
			only_args = 1;
			continue;
		}
		if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0)
			return CONFIG_HELP;
		if (strcmp(arg, "--version") == 0)
			return CONFIG_VERSION;
		if (strncmp(arg, "--", 2) != 0) {
			seterr(err, errlen, "unknown option '%s' (see --help)",
			    arg);
			return CONFIG_ERROR;
		}
		arg += 2;
		eq = strchr(arg, '=');
		nlen = eq != NULL ? (size_t)(eq - arg) : strlen(arg);
		for (i = 0; i < NOPTS; i++)
			if (strlen(opts[i].name) == nlen &&
			    strncmp(opts[i].name, arg, nlen) == 0)
				break;
		if (i == NOPTS) {
			seterr(err, errlen, "unknown option '--%.*s' "
			    "(see --help)", (int)nlen, arg);
			return CONFIG_ERROR;
		}
		if (eq != NULL) {
			val = eq + 1;
		} else if (opts[i].kind == OPT_FLAG) {
			val = "true";	/* a bare flag; --flag=false unsets */
		} else if (k + 1 < argc) {
			val = argv[++k];
		} else {
			seterr(err, errlen, "--%s needs a value", opts[i].name);
			return CONFIG_ERROR;
		}
		if (apply(c, &opts[i], val, 0, &list_seen[i], err, errlen))
			return CONFIG_ERROR;
	}
	if (c->api_key_file != NULL &&
	    read_key_file(c, c->api_key_file, err, errlen))
		return CONFIG_ERROR;
	for (i = 0; i < c->napi_keys; i++) {
		if (c->api_keys[i][0] == '\0') {
			seterr(err, errlen, "empty API key");
			return CONFIG_ERROR;
		}
	}
	return CONFIG_OK;
}

void
config_usage(FILE *out)
{
	size_t i;
	char name[64], left[64];

	fprintf(out,
	    "options (each also from the environment variable shown; a flag "
	    "wins;\n"
	    "lists from the environment are comma-separated):\n");
	for (i = 0; i < NOPTS; i++) {
		env_name(opts[i].name, name, sizeof(name));
		snprintf(left, sizeof(left), "--%s %s", opts[i].name,
		    opts[i].arg);
		fprintf(out, "  %-28s %s\n  %-28s [%s]\n", left, opts[i].help,
		    "", name);
	}
	fprintf(out, "  %-28s %s\n  %-28s %s\n", "--help", "this text",
	    "--version", "print the version");
}

int
config_parse_listen(const char *spec, struct sockaddr_storage *ss,
    socklen_t *len, char *err, size_t errlen)
{
	char host[256];
	const char *colon, *port, *h;
	size_t hlen;
	struct addrinfo hints, *res = NULL;
	char *end;
	unsigned long pn;
	int rc;

	if (spec[0] == '[') {
		colon = strchr(spec, ']');
		if (colon == NULL || colon[1] != ':')
			goto bad;
		h = spec + 1;
		hlen = (size_t)(colon - h);
		port = colon + 2;
	} else {
		colon = strrchr(spec, ':');
		if (colon == NULL)
			goto bad;
		h = spec;
		hlen = (size_t)(colon - spec);
		port = colon + 1;
	}
	if (hlen >= sizeof(host) || !isdigit((unsigned char)*port))
		goto bad;
	errno = 0;
	pn = strtoul(port, &end, 10);
	if (*end != '\0' || errno != 0 || pn > 65535)
		goto bad;
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	rc = getaddrinfo(hlen ? host : NULL, port, &hints, &res);
	if (rc != 0 || res == NULL) {
		seterr(err, errlen, "listen address '%s': %s", spec,
		    rc ? gai_strerror(rc) : "no address");
		if (res != NULL)
			freeaddrinfo(res);
		return -1;
	}
	memset(ss, 0, sizeof(*ss));
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	*len = (socklen_t)res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
bad:
	seterr(err, errlen, "listen address '%s': expected ADDR:PORT or "
	    "[IPV6]:PORT", spec);
	return -1;
}
