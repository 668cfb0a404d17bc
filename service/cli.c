/*
 * cli.c - `cascaded score` and `cascaded import` (cli.h).
 *
 * Both go through the code the HTTP endpoints run: score builds a
 * snapshot from the database and calls api_score(); import opens the
 * store, publishes a snapshot and calls api_put_depth() /
 * api_put_levels(), so validation, the store transaction and the answer
 * are the endpoint's.  CSV input is only translated into the JSON body the
 * endpoint takes (numbers kept as written), so the codec still validates
 * every value; its JSON pointers are mapped back to CSV line numbers.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api.h"
#include "app.h"
#include "cli.h"
#include "cli_backtest.h"
#include "codec.h"
#include "codec_import.h"
#include "config.h"
#include "log.h"
#include "snapshot.h"
#include "store.h"

#ifndef CASCADED_VERSION
#define CASCADED_VERSION "0.0.0"
#endif

#define MAX_INPUT (256u << 20)
#define MAX_FIELDS 8

struct cli_opts {
	int csv;
	int append;
	const char *side; /* "bid" / "ask" */
	const char *mid; /* as written */
	const char *form; /* "points" / "levels" / "quotes" */
	/* import --format (docs/import.md) */
	const char *book;
	const char *format;
	const char *map;
	int print;
	int prices;       /* import --prices ASSET FILE.csv */
};

int
cli_handles(const char *name)
{
	return name != NULL &&
	    (strcmp(name, "score") == 0 || strcmp(name, "import") == 0);
}

static void
usage(FILE *out)
{
	fprintf(out,
	    "usage: cascaded score FILE|- [--db PATH]\n"
	    "       cascaded import depth ASSET VENUE FILE|- [--csv] "
	    "[--side bid|ask]\n"
	    "                [--mid PRICE] [--form points|levels|quotes] "
	    "[--db PATH]\n"
	    "       cascaded import liquidations ASSET FILE|- [--csv] "
	    "[--append] [--db PATH]\n"
	    "       cascaded import --format defillama|hyperliquid|"
	    "aave-v3-subgraph\n"
	    "                [--book NAME] [--map MAP.json] [--print] "
	    "[--append] [--db PATH] FILE|-\n"
	    "       cascaded import --prices ASSET FILE.csv [--db PATH]\n"
	    "\n"
	    "score prints what POST /v1/score answers for the body in FILE "
	    "('-': stdin).\n"
	    "import writes what PUT /v1/markets/ASSET/depth/VENUE or\n"
	    "PUT (POST with --append) /v1/markets/ASSET/liquidations takes: "
	    "the same JSON,\n"
	    "or CSV rows bps,qty | price,qty (--side, --mid) | "
	    "qty,avg_slippage_bps for depth\n"
	    "and price,qty,side for liquidations; an optional header line "
	    "names the columns.\n"
	    "import --format maps another system's positions (docs/import.md): "
	    "liquidation\n"
	    "levels are written as PUT (POST with --append) "
	    "/v1/markets/ASSET/liquidations,\n"
	    "positions as PUT (POST .../positions with --append) "
	    "/v1/books/NAME, or printed\n"
	    "as that body with --print.\n"
	    "--prices writes candles (CSV header time,open,high,low,close) as "
	    "POST\n/v1/markets/ASSET/prices does.\n"
	    "\n"
	    "options of the server:\n");
	config_usage(out);
}

/* ---- input ---------------------------------------------------------- */

static char *
read_input(const char *path, size_t *len)
{
	FILE *f;
	char *buf = NULL, *nb;
	size_t cap = 0, n = 0, got;

	f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
	if (f == NULL) {
		fprintf(stderr, "cascaded: cannot open %s: %s\n", path,
		    strerror(errno));
		return NULL;
	}
	for (;;) {
		if (n + 65536 > cap) {
			cap = cap ? cap * 2 : 65536;
			if (cap > MAX_INPUT + 65536) {
				fprintf(stderr,
				    "cascaded: %s is larger than "
				    "%u bytes\n",
				    path, MAX_INPUT);
				goto fail;
			}
			nb = realloc(buf, cap + 1);
			if (nb == NULL)
				goto fail;
			buf = nb;
		}
		got = fread(buf + n, 1, cap - n, f);
		n += got;
		if (got == 0)
			break;
	}
	if (ferror(f)) {
		fprintf(stderr, "cascaded: cannot read %s\n", path);
		goto fail;
	}
	if (f != stdin)
		fclose(f);
	if (buf == NULL && (buf = malloc(1)) == NULL)
		return NULL;
	buf[n] = '\0';
	*len = n;
	return buf;
fail:
	if (f != stdin)
		fclose(f);
	free(buf);
	return NULL;
}

/* ---- CSV -> JSON ---------------------------------------------------- */

struct sbuf {
	char *p;
	size_t len, cap;
	int oom;
};

static void
sb_put(struct sbuf *b, const char *s, size_t n)
{
	char *np;
	size_t nc;

	if (b->oom)
		return;
	if (b->len + n + 1 > b->cap) {
		nc = b->cap ? b->cap : 4096;
		while (nc < b->len + n + 1)
			nc *= 2;
		np = realloc(b->p, nc);
		if (np == NULL) {
			b->oom = 1;
			return;
		}
		b->p = np;
		b->cap = nc;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void
sb_str(struct sbuf *b, const char *s)
{
	sb_put(b, s, strlen(s));
}

/* JSON number grammar (RFC 8259). */
static int
json_number(const char *s)
{
	if (*s == '-')
		s++;
	if (*s == '0')
		s++;
	else if (*s >= '1' && *s <= '9')
		while (*s >= '0' && *s <= '9')
			s++;
	else
		return 0;
	if (*s == '.') {
		s++;
		if (!(*s >= '0' && *s <= '9'))
			return 0;
		while (*s >= '0' && *s <= '9')
			s++;
	}
	if (*s == 'e' || *s == 'E') {
		s++;
		if (*s == '+' || *s == '-')
			s++;
		if (!(*s >= '0' && *s <= '9'))
			return 0;
		while (*s >= '0' && *s <= '9')
			s++;
	}
	return *s == '\0';
}

/* A CSV value as JSON: a number as written, anything else a string. */
static void
sb_value(struct sbuf *b, const char *s)
{
	char esc[8];

	if (json_number(s)) {
		sb_str(b, s);
		return;
	}
	sb_put(b, "\"", 1);
	for (; *s != '\0'; s++) {
		if (*s == '"' || *s == '\\') {
			esc[0] = '\\';
			esc[1] = *s;
			sb_put(b, esc, 2);
		} else if ((unsigned char)*s < 0x20) {
			snprintf(esc, sizeof(esc), "\\u%04x", (unsigned)*s);
			sb_str(b, esc);
		} else {
			sb_put(b, s, 1);
		}
	}
	sb_put(b, "\"", 1);
}

/* Split a line in place into trimmed, unquoted fields; returns the count. */
static size_t
split_fields(char *line, char **f, size_t max)
{
	size_t n = 0, k;
	char *p = line, *e;

	for (;;) {
		e = strchr(p, ',');
		if (e != NULL)
			*e = '\0';
		while (*p == ' ' || *p == '\t')
			p++;
		k = strlen(p);
		while (k > 0 &&
		    (p[k - 1] == ' ' || p[k - 1] == '\t' || p[k - 1] == '\r'))
			p[--k] = '\0';
		if (k >= 2 && p[0] == '"' && p[k - 1] == '"') {
			p[k - 1] = '\0';
			p++;
		}
		if (n < max)
			f[n] = p;
		n++;
		if (e == NULL)
			break;
		p = e + 1;
	}
	return n;
}

static int
is_numberish(const char *s)
{
	char *end;

	if (*s == '\0')
		return 0;
	(void)strtod(s, &end);
	return *end == '\0';
}

static int
col_of(char **hdr, size_t n, const char *a, const char *b)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(hdr[i], a) == 0 ||
		    (b != NULL && strcmp(hdr[i], b) == 0))
			return (int)i;
	return -1;
}

struct csv {
	char *json;
	size_t json_len;
	size_t nrows;
	size_t *line; /* CSV line number of each data row */
	const char *array; /* "points", "levels", "quotes" */
};

static void
csv_release(struct csv *c)
{
	free(c->json);
	free(c->line);
	memset(c, 0, sizeof(*c));
}

/*
 * A header line: it names the form (depth) and the column order.  The
 * fields are lower-cased in place.  0, or -1 with a message.
 */
static int
csv_header(char **f, size_t n, int liquidations, size_t lineno,
    const struct cli_opts *o, const char **form, int col[3])
{
	size_t k;
	char *s;

	for (k = 0; k < n; k++)
		for (s = f[k]; *s != '\0'; s++)
			if (*s >= 'A' && *s <= 'Z')
				*s = (char)(*s - 'A' + 'a');
	col[0] = col[1] = col[2] = -1;
	if (liquidations) {
		col[0] = col_of(f, n, "price", NULL);
		col[1] = col_of(f, n, "qty", "quantity");
		col[2] = col_of(f, n, "side", NULL);
	} else if (col_of(f, n, "bps", NULL) >= 0) {
		*form = "points";
		col[0] = col_of(f, n, "bps", NULL);
		col[1] = col_of(f, n, "qty", "quantity");
	} else if (col_of(f, n, "avg_slippage_bps", NULL) >= 0) {
		*form = "quotes";
		col[0] = col_of(f, n, "qty", "trade_qty");
		col[1] = col_of(f, n, "avg_slippage_bps", NULL);
	} else if (col_of(f, n, "price", NULL) >= 0) {
		*form = "levels";
		col[0] = col_of(f, n, "price", NULL);
		col[1] = col_of(f, n, "qty", "quantity");
	}
	if (col[0] < 0 || col[1] < 0 || (liquidations && col[2] < 0)) {
		fprintf(stderr,
		    "cascaded: line %zu: the header must name the "
		    "columns %s\n",
		    lineno,
		    liquidations
		        ? "price,qty,side"
		        : "bps,qty | price,qty | qty,avg_slippage_bps");
		return -1;
	}
	if (!liquidations && o->form != NULL && strcmp(o->form, *form) != 0) {
		fprintf(stderr,
		    "cascaded: the header says %s, --form says "
		    "%s\n",
		    *form, o->form);
		return -1;
	}
	return 0;
}

/*
 * Translate CSV text (modified in place) into the endpoint's JSON body.
 * liquidations != 0: rows price,qty,side.  Else depth in o->form (or the
 * header's).  0, or -1 with a message on stderr.
 */
static int
csv_to_json(char *text, int liquidations, const struct cli_opts *o,
    struct csv *out)
{
	struct sbuf b = { NULL, 0, 0, 0 };
	char *line, *next, *f[MAX_FIELDS];
	const char *form = o->form;
	size_t lineno = 0, nf, want, cap = 0;
	size_t *nl;
	int col[3] = { 0, 1, 2 }, header_done = 0, rc = -1;

	memset(out, 0, sizeof(*out));
	if (!liquidations &&
	    (o->side == NULL ||
	        (strcmp(o->side, "bid") != 0 && strcmp(o->side, "ask") != 0))) {
		fprintf(stderr, "cascaded: CSV depth needs --side bid|ask\n");
		return -1;
	}
	want = liquidations ? 3 : 2;
	for (line = text; line != NULL; line = next) {
		next = strchr(line, '\n');
		if (next != NULL)
			*next++ = '\0';
		lineno++;
		while (*line == ' ' || *line == '\t' || *line == '\r')
			line++;
		if (*line == '\0' || *line == '#')
			continue;
		nf = split_fields(line, f, MAX_FIELDS);
		if (!header_done) {
			header_done = 1;
			if (nf > 0 && !is_numberish(f[0])) {
				if (csv_header(f,
				        nf < MAX_FIELDS ? nf : MAX_FIELDS,
				        liquidations, lineno, o, &form,
				        col) != 0)
					goto out;
				continue;
			}
			if (!liquidations && form == NULL) {
				fprintf(stderr,
				    "cascaded: a depth CSV without "
				    "a header line needs --form points|levels|"
				    "quotes\n");
				goto out;
			}
		}
		if (b.len == 0) {
			if (liquidations) {
				sb_str(&b, "{\"levels\":[");
			} else {
				sb_str(&b, "{\"side\":\"");
				sb_str(&b, o->side);
				sb_str(&b, "\",\"");
				sb_str(&b, form);
				sb_str(&b, "\":[");
			}
		}
		if (nf < want ||
		    (col[0] >= (int)nf || col[1] >= (int)nf ||
		        (liquidations && col[2] >= (int)nf))) {
			fprintf(stderr,
			    "cascaded: line %zu: expected %zu "
			    "columns, got %zu\n",
			    lineno, want, nf);
			goto out;
		}
		if (out->nrows == cap) {
			cap = cap ? cap * 2 : 256;
			nl = realloc(out->line, cap * sizeof(*nl));
			if (nl == NULL)
				goto nomem;
			out->line = nl;
		}
		out->line[out->nrows] = lineno;
		if (out->nrows > 0)
			sb_put(&b, ",", 1);
		out->nrows++;
		if (liquidations) {
			sb_str(&b, "{\"price\":");
			sb_value(&b, f[col[0]]);
			sb_str(&b, ",\"qty\":");
			sb_value(&b, f[col[1]]);
			sb_str(&b, ",\"side\":");
			/* a side is a string, whatever it looks like */
			sb_str(&b, "\"");
			sb_str(&b,
			    strcmp(f[col[2]], "sell") == 0      ? "sell"
			        : strcmp(f[col[2]], "buy") == 0 ? "buy"
			                                        : "?");
			sb_str(&b, "\"}");
			if (strcmp(f[col[2]], "sell") != 0 &&
			    strcmp(f[col[2]], "buy") != 0) {
				fprintf(stderr,
				    "cascaded: line %zu: side must "
				    "be sell or buy\n",
				    lineno);
				goto out;
			}
		} else {
			sb_put(&b, "[", 1);
			sb_value(&b, f[col[0]]);
			sb_put(&b, ",", 1);
			sb_value(&b, f[col[1]]);
			sb_put(&b, "]", 1);
		}
	}
	if (b.len == 0) {
		/* no data row: let the endpoint judge the empty write */
		if (liquidations) {
			sb_str(&b, "{\"levels\":[");
		} else {
			if (form == NULL)
				form = "points";
			sb_str(&b, "{\"side\":\"");
			sb_str(&b, o->side);
			sb_str(&b, "\",\"");
			sb_str(&b, form);
			sb_str(&b, "\":[");
		}
	}
	sb_put(&b, "]", 1);
	if (!liquidations && o->mid != NULL) {
		sb_str(&b, ",\"mid\":");
		sb_value(&b, o->mid);
	}
	sb_put(&b, "}", 1);
	if (b.oom)
		goto nomem;
	out->json = b.p;
	out->json_len = b.len;
	out->array = liquidations ? "levels" : form;
	b.p = NULL;
	rc = 0;
	goto out;
nomem:
	fprintf(stderr, "cascaded: out of memory\n");
out:
	free(b.p);
	if (rc != 0)
		csv_release(out);
	return rc;
}

/* Print a rejected write, naming CSV lines where pointers allow it. */
static void
print_problem(const struct api_answer *a, const struct csv *csv)
{
	char *t = api_answer_text(a);
	size_t i, k, alen;
	const char *p;
	char *end;

	fprintf(stderr, "%s\n", t != NULL ? t : "(out of memory)");
	free(t);
	if (csv == NULL || csv->array == NULL)
		return;
	alen = strlen(csv->array);
	for (i = 0; i < a->err.nerrors; i++) {
		p = a->err.errors[i].pointer;
		if (p == NULL || p[0] != '/' ||
		    strncmp(p + 1, csv->array, alen) != 0 || p[1 + alen] != '/')
			continue;
		k = (size_t)strtoul(p + 2 + alen, &end, 10);
		if (k < csv->nrows)
			fprintf(stderr, "cascaded: CSV line %zu: %s\n",
			    csv->line[k], a->err.errors[i].detail);
	}
}

/* ---- subcommands ---------------------------------------------------- */

static int
db_exists(const struct config *cfg)
{
	if (access(cfg->db_path, F_OK) == 0)
		return 1;
	fprintf(stderr,
	    "cascaded: database %s does not exist (create it "
	    "with `cascaded migrate` and `cascaded seed`, or pass --db)\n",
	    cfg->db_path);
	return 0;
}

static struct store *
open_db(const struct config *cfg)
{
	struct store *st;
	char *err = NULL;

	if (!db_exists(cfg))
		return NULL;
	st = store_open(cfg->db_path, &err);
	if (st == NULL) {
		fprintf(stderr, "cascaded: cannot open %s: %s\n", cfg->db_path,
		    err != NULL ? err : "unknown error");
		free(err);
	}
	return st;
}

static int
run_score(struct config *cfg)
{
	struct app app;
	struct api_answer ans;
	char *body = NULL, *text = NULL;
	size_t len = 0;
	int rc = 1;

	memset(&app, 0, sizeof(app));
	api_answer_init(&ans);
	if (cfg->nargs != 1) {
		fprintf(stderr,
		    "cascaded: score takes one FILE (or - for "
		    "stdin)\n");
		return 2;
	}
	body = read_input(cfg->args[0], &len);
	if (body == NULL)
		goto out;
	app.cfg = cfg;
	app.store = open_db(cfg);
	if (app.store == NULL || api_app_init(&app) != 0)
		goto out;
	api_score(&app, body, len, NULL, &ans);
	text = api_answer_text(&ans);
	if (text == NULL) {
		fprintf(stderr, "cascaded: out of memory\n");
		goto out;
	}
	fputs(text, stdout);
	fputc('\n', stdout);
	if (fflush(stdout) != 0) {
		fprintf(stderr, "cascaded: cannot write the answer\n");
		goto out;
	}
	rc = ans.status == 200 ? 0 : 1;
out:
	free(text);
	free(body);
	api_answer_release(&ans);
	api_app_release(&app);
	store_close(app.store);
	return rc;
}

/*
 * import --prices ASSET FILE.csv (or import prices ASSET FILE.csv): the
 * candles through api_post_candles(), the rules and the answer of POST
 * /v1/markets/ASSET/prices without its entry cap.
 */
static int
run_import_prices(struct config *cfg, size_t first)
{
	struct app app;
	struct api_answer ans;
	struct lc_candle *c = NULL;
	size_t n = 0;
	char *text = NULL;
	int rc = 1;

	memset(&app, 0, sizeof(app));
	api_answer_init(&ans);
	if (cfg->nargs != first + 2) {
		fprintf(stderr, "cascaded: import --prices takes ASSET "
		    "FILE.csv\n");
		return 2;
	}
	if (cli_read_candles("import", cfg->args[first + 1], &c, &n) != 0)
		goto out;
	app.cfg = cfg;
	app.store = open_db(cfg);
	if (app.store == NULL || api_app_init(&app) != 0)
		goto out;
	api_post_candles(&app, cfg->args[first], c, n, &ans);
	if (ans.status >= 400) {
		print_problem(&ans, NULL);
		goto out;
	}
	text = api_answer_text(&ans);
	if (text != NULL) {
		printf("%s\n", text);
		rc = fflush(stdout) == 0 ? 0 : 1;
	}
out:
	free(text);
	free(c);
	api_answer_release(&ans);
	api_app_release(&app);
	store_close(app.store);
	return rc;
}

/* ---- import --format (docs/import.md) ------------------------------- */

/* A book name: 1-64 of a-z, 0-9, '.', '_', '-' (docs/model.md 8). */
static int
book_name_valid(const char *s)
{
	size_t n = strlen(s);

	return n >= 1 && n <= 64 &&
	    strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789._-") == n;
}

/* What was read and skipped, on stderr. */
static void
import_summary(const struct import_result *r, const char *format)
{
	fprintf(stderr,
	    "cascaded: import %s: %zu records, %zu positions, %zu levels on "
	    "%zu assets; skipped: %zu unmapped, %zu zero, %zu without debt, "
	    "%zu null liquidationPx; %zu supplies not collateral\n",
	    format, r->records, r->npositions, r->nlevels, r->nlevel_assets,
	    r->unmapped, r->zero, r->no_debt, r->null_liquidation,
	    r->not_collateral);
}

/*
 * cascaded import --format F [--book NAME] [--map MAP] [--print]
 * [--append] FILE: map FILE (codec_import.h), write its levels per asset
 * through api_put_levels and its positions through api_put_book (or print
 * them: --print).  stdout: the positions body (--print), else the
 * answers of the writes, one JSON per line.  Exit 0, 1 (rejected input
 * or write: its problem on stderr), 2 (usage).
 */
static int
run_import_format(struct config *cfg, const struct cli_opts *o)
{
	struct app app;
	struct api_answer ans;
	struct import_result res;
	struct problem err;
	enum import_format f;
	char *body = NULL, *map = NULL, *text = NULL;
	size_t len = 0, maplen = 0, i;
	int rc = 2;

	memset(&app, 0, sizeof(app));
	api_answer_init(&ans);
	codec_import_init(&res);
	problem_init(&err);
	if (codec_import_format(o->format, &f) != 0) {
		fprintf(stderr, "cascaded: --format must be defillama, "
		    "hyperliquid or aave-v3-subgraph\n");
		goto out;
	}
	if (o->csv || o->side != NULL || o->mid != NULL || o->form != NULL) {
		fprintf(stderr, "cascaded: --csv, --side, --mid and --form "
		    "are for import depth / liquidations\n");
		goto out;
	}
	if (cfg->nargs != 1) {
		fprintf(stderr, "cascaded: import --format takes one FILE "
		    "(or - for stdin)\n");
		goto out;
	}
	if (o->book != NULL && !book_name_valid(o->book)) {
		fprintf(stderr, "cascaded: --book must be 1-64 of a-z, 0-9, "
		    ". _ -\n");
		goto out;
	}
	if (f != IMPORT_DEFILLAMA && o->book == NULL && !o->print) {
		fprintf(stderr, "cascaded: --format %s gives positions: "
		    "--book NAME (or --print) is needed\n", o->format);
		goto out;
	}
	rc = 1;
	body = read_input(cfg->args[0], &len);
	if (body == NULL)
		goto out;
	if (o->map != NULL && (map = read_input(o->map, &maplen)) == NULL)
		goto out;
	if (codec_import(f, body, len, map, maplen, NULL, &res, &err) != 0) {
		text = problem_render(&err, NULL);
		fprintf(stderr, "%s\n", text != NULL ? text : "(no memory)");
		goto out;
	}
	import_summary(&res, o->format);
	if (res.nlevel_assets > 0 || (res.positions != NULL && !o->print)) {
		app.cfg = cfg;
		app.store = open_db(cfg);
		if (app.store == NULL || api_app_init(&app) != 0)
			goto out;
	}
	for (i = 0; i < res.nlevel_assets; i++) {
		api_put_levels(&app, res.levels[i].asset, res.levels[i].body,
		    strlen(res.levels[i].body), o->append, &ans);
		if (ans.status >= 400) {
			fprintf(stderr, "cascaded: levels of %s:\n",
			    res.levels[i].asset);
			print_problem(&ans, NULL);
			goto out;
		}
		if (!o->print)
			printf("%s\n", ans.body != NULL ? ans.body : "{}");
		api_answer_release(&ans);
		api_answer_init(&ans);
	}
	if (res.positions != NULL && o->print) {
		printf("%s\n", res.positions);
	} else if (res.positions != NULL) {
		api_put_book(&app, o->book, res.positions,
		    strlen(res.positions), o->append, &ans);
		if (ans.status >= 400) {
			print_problem(&ans, NULL);
			goto out;
		}
		printf("%s\n", ans.body != NULL ? ans.body : "{}");
	}
	rc = fflush(stdout) == 0 ? 0 : 1;
out:
	free(text);
	free(body);
	free(map);
	problem_release(&err);
	codec_import_release(&res);
	api_answer_release(&ans);
	api_app_release(&app);
	store_close(app.store);
	return rc;
}

static int
run_import(struct config *cfg, const struct cli_opts *o)
{
	struct app app;
	struct api_answer ans;
	struct csv csv;
	const char *what, *asset, *venue = NULL, *file;
	char *body = NULL, *text = NULL;
	const char *json;
	size_t len = 0, i, json_len;
	int liq, is_csv, rc = 2;

	if (o->format != NULL)
		return run_import_format(cfg, o);
	if (o->book != NULL || o->map != NULL || o->print) {
		fprintf(stderr, "cascaded: --book, --map and --print are for "
		    "import --format\n");
		return 2;
	}
	memset(&app, 0, sizeof(app));
	memset(&csv, 0, sizeof(csv));
	api_answer_init(&ans);
	/* ---- bus: a replica's file follows the bus; never write it aside */
	if (cfg->nbus_urls > 0) {
		fprintf(stderr, "cascaded: import writes the database directly; "
		    "with a bus (--bus, CASCADED_BUS) send the data to a "
		    "replica's HTTP API instead\n");
		goto out;
	}
	what = cfg->nargs > 0 ? cfg->args[0] : "";
	if (o->prices || strcmp(what, "prices") == 0)
		return run_import_prices(cfg, o->prices ? 0 : 1);
	liq = strcmp(what, "liquidations") == 0;
	if (!liq && strcmp(what, "depth") != 0) {
		fprintf(stderr,
		    "cascaded: import depth ASSET VENUE FILE | "
		    "import liquidations ASSET FILE\n");
		goto out;
	}
	if (cfg->nargs != (liq ? 3u : 4u)) {
		fprintf(stderr, "cascaded: import %s takes %s\n", what,
		    liq ? "ASSET FILE" : "ASSET VENUE FILE");
		goto out;
	}
	if (liq && (o->side != NULL || o->mid != NULL || o->form != NULL)) {
		fprintf(stderr,
		    "cascaded: --side, --mid and --form are for "
		    "import depth\n");
		goto out;
	}
	if (!liq && o->append) {
		fprintf(stderr,
		    "cascaded: --append is for import "
		    "liquidations\n");
		goto out;
	}
	asset = cfg->args[1];
	if (!liq)
		venue = cfg->args[2];
	file = cfg->args[liq ? 2 : 3];
	rc = 1;
	body = read_input(file, &len);
	if (body == NULL)
		goto out;
	for (i = 0; i < len &&
	     (body[i] == ' ' || body[i] == '\t' || body[i] == '\r' ||
	         body[i] == '\n');
	     i++)
		;
	is_csv = o->csv || i == len || body[i] != '{';
	if (!is_csv && (o->side != NULL || o->mid != NULL || o->form != NULL)) {
		fprintf(stderr,
		    "cascaded: --side, --mid and --form apply to "
		    "CSV input (the JSON body carries them)\n");
		rc = 2;
		goto out;
	}
	json = body;
	json_len = len;
	if (is_csv) {
		if (csv_to_json(body, liq, o, &csv) != 0)
			goto out;
		json = csv.json;
		json_len = csv.json_len;
	}
	app.cfg = cfg;
	app.store = open_db(cfg);
	if (app.store == NULL || api_app_init(&app) != 0)
		goto out;
	if (liq)
		api_put_levels(&app, asset, json, json_len, o->append, &ans);
	else
		api_put_depth(&app, asset, venue, json, json_len, &ans);
	if (ans.status >= 400) {
		print_problem(&ans, is_csv ? &csv : NULL);
		goto out;
	}
	text = api_answer_text(&ans);
	if (text == NULL)
		goto out;
	printf("%s\n", text);
	rc = fflush(stdout) == 0 ? 0 : 1;
out:
	free(text);
	free(body);
	csv_release(&csv);
	api_answer_release(&ans);
	api_app_release(&app);
	store_close(app.store);
	return rc;
}

/* Take --side/--mid/--form/--append/--csv out of argv into o. */
static int
own_flags(int argc, char **argv, struct cli_opts *o, char **rest, int *nrest)
{
	static const char *const valued[] = { "side", "mid", "form", "book",
		"format", "map" };
	const char **dst[6];
	const char *a, *v;
	size_t k, n;
	int i, only_args = 0;

	dst[0] = &o->side;
	dst[1] = &o->mid;
	dst[2] = &o->form;
	dst[3] = &o->book;
	dst[4] = &o->format;
	dst[5] = &o->map;
	*nrest = 0;
	for (i = 0; i < argc; i++) {
		a = argv[i];
		if (only_args || strncmp(a, "--", 2) != 0) {
			rest[(*nrest)++] = argv[i];
			continue;
		}
		if (strcmp(a, "--") == 0) {
			only_args = 1;
			rest[(*nrest)++] = argv[i];
			continue;
		}
		if (strcmp(a, "--csv") == 0) {
			o->csv = 1;
			continue;
		}
		if (strcmp(a, "--append") == 0) {
			o->append = 1;
			continue;
		}
		if (strcmp(a, "--prices") == 0) {
			o->prices = 1;
			continue;
		}
		if (strcmp(a, "--print") == 0) {
			o->print = 1;
			continue;
		}
		for (k = 0; k < 6; k++) {
			n = strlen(valued[k]);
			if (strncmp(a + 2, valued[k], n) == 0 &&
			    (a[2 + n] == '\0' || a[2 + n] == '='))
				break;
		}
		if (k == 6) {
			rest[(*nrest)++] = argv[i];
			continue;
		}
		n = strlen(valued[k]);
		if (a[2 + n] == '=') {
			v = a + 3 + n;
		} else if (i + 1 < argc) {
			v = argv[++i];
		} else {
			fprintf(stderr, "cascaded: --%s needs a value\n",
			    valued[k]);
			return -1;
		}
		*dst[k] = v;
	}
	if (o->side != NULL && strcmp(o->side, "bid") != 0 &&
	    strcmp(o->side, "ask") != 0) {
		fprintf(stderr, "cascaded: --side must be bid or ask\n");
		return -1;
	}
	if (o->form != NULL && strcmp(o->form, "points") != 0 &&
	    strcmp(o->form, "levels") != 0 && strcmp(o->form, "quotes") != 0) {
		fprintf(stderr,
		    "cascaded: --form must be points, levels or "
		    "quotes\n");
		return -1;
	}
	if (o->mid != NULL && !json_number(o->mid)) {
		fprintf(stderr, "cascaded: --mid must be a number\n");
		return -1;
	}
	return 0;
}

int
cli_main(int argc, char **argv, char *const *envp)
{
	struct cli_opts o;
	struct config cfg;
	char err[512], **rest;
	int nrest = 0, rc = 2, score;

	memset(&o, 0, sizeof(o));
	score = strcmp(argv[0], "score") == 0;
	rest = calloc((size_t)argc + 1, sizeof(*rest));
	if (rest == NULL)
		return 1;
	config_init(&cfg);
	if (own_flags(argc - 1, argv + 1, &o, rest, &nrest) != 0)
		goto out;
	if (score && (o.csv || o.append || o.side || o.mid || o.form ||
	    o.book || o.format || o.map || o.print)) {
		fprintf(stderr,
		    "cascaded: score takes a JSON body; --csv, --append, "
		    "--side, --mid, --form, --book, --format, --map and "
		    "--print are for import\n");
		goto out;
	}
	switch (config_load(&cfg, nrest, rest, envp, err, sizeof(err))) {
	case CONFIG_OK: break;
	case CONFIG_HELP:
		usage(stdout);
		rc = 0;
		goto out;
	case CONFIG_VERSION:
		printf("cascaded %s\n", CASCADED_VERSION);
		rc = 0;
		goto out;
	case CONFIG_ERROR: fprintf(stderr, "cascaded: %s\n", err); goto out;
	}
	log_set_level(cfg.log_level);
	rc = score ? run_score(&cfg) : run_import(&cfg, &o);
out:
	config_release(&cfg);
	free(rest);
	return rc;
}
