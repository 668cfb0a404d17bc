# cascaded - build, test and run.  See README.md.
#
# Layout: service/model/*.c -> build/libcascade.a (pure model, libm only)
#         service/*.c (but main.c) -> build/libsvc.a (adapters)
#         build/cascaded = service/main.c + libsvc + libcascade
#         migrations/*.sql + data/seed.json -> build/gen/embed.c (in libsvc)
#         tests/model/test_*.c   -> build/tests/model_* (libcascade, check)
#         tests/service/test_*.c -> build/tests/svc_*   (everything)

VERSION := 0.1.0
PREFIX ?= /usr/local
BUILD ?= build
CC ?= cc

PKGS := libmicrohttpd libcjson sqlite3 nettle libnats
TEST_PKGS := check
APT_PKGS := build-essential pkg-config libmicrohttpd-dev libcjson-dev \
	libsqlite3-dev nettle-dev check sqlite3 curl librsvg2-bin libxml2-utils \
	libnats-dev nats-server

WARN := -Wall -Wextra -Wpedantic -Wshadow -Wstrict-prototypes \
	-Wmissing-prototypes -Wconversion -Wdouble-promotion -Wformat=2 \
	-Wundef -Wcast-qual -Wwrite-strings -Wno-sign-conversion
ifeq ($(CI),true)
WARN += -Werror
endif
OPT ?= -O2 -g
SAN ?=
CFLAGS_ALL = -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE $(OPT) \
	$(WARN) $(SAN) -Iinclude -Iservice -MMD -MP \
	-DCASCADED_VERSION='"$(VERSION)"' $(CFLAGS)
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS = $(shell pkg-config --libs $(PKGS) 2>/dev/null)
CHECK_CFLAGS = $(shell pkg-config --cflags $(TEST_PKGS) 2>/dev/null)
CHECK_LIBS = $(shell pkg-config --libs $(TEST_PKGS) 2>/dev/null)
LDLIBS_ALL = $(PKG_LIBS) -lpthread -lm $(SAN) $(LDFLAGS)

MODEL_SRC := $(wildcard service/model/*.c)
SVC_SRC := $(filter-out service/main.c,$(wildcard service/*.c))
MODEL_OBJ := $(MODEL_SRC:%.c=$(BUILD)/%.o)
SVC_OBJ := $(SVC_SRC:%.c=$(BUILD)/%.o)
MIGRATIONS := $(sort $(wildcard migrations/*.sql))
SEED := data/seed.json
EMBED_OBJ := $(BUILD)/gen/embed.o
MAIN_OBJ := $(BUILD)/service/main.o
TLIB_SRC := $(wildcard tests/lib/*.c)
TLIB_OBJ := $(TLIB_SRC:%.c=$(BUILD)/%.o)
# Every test binary counts (and on demand fails) its allocations through
# tests/lib/failalloc.c; see failalloc.h.
FAILALLOC_OBJ := $(BUILD)/tests/lib/failalloc.o
TEST_WRAP := -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc,--wrap=free \
	-Wl,--wrap=strdup,--wrap=strndup
MODEL_TESTS := $(patsubst tests/model/test_%.c,$(BUILD)/tests/model_%,\
	$(wildcard tests/model/test_*.c))
SVC_TESTS := $(patsubst tests/service/test_%.c,$(BUILD)/tests/svc_%,\
	$(wildcard tests/service/test_*.c))
BIN := $(BUILD)/cascaded

PHONY_EXTRA := tsan
.PHONY: all deps run test unit asan valgrind tsan bench lint install clean \
	cluster-test calibration \
	check-deps FORCE

all: $(BIN)

# Install missing build packages (Debian/Ubuntu, as root) only when
# pkg-config cannot find them.
deps:
	@missing=0; \
	command -v pkg-config >/dev/null 2>&1 || missing=1; \
	for p in $(PKGS) $(TEST_PKGS); do \
		pkg-config --exists $$p 2>/dev/null || missing=1; done; \
	command -v curl >/dev/null 2>&1 || missing=1; \
	command -v sqlite3 >/dev/null 2>&1 || missing=1; \
	command -v rsvg-convert >/dev/null 2>&1 || missing=1; \
	command -v xmllint >/dev/null 2>&1 || missing=1; \
	if [ $$missing = 1 ]; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
			echo "deps: installing $(APT_PKGS)"; \
			export DEBIAN_FRONTEND=noninteractive; \
			apt-get update -qq && \
			apt-get install -y -qq --no-install-recommends \
				$(APT_PKGS) >/dev/null || exit 1; \
		else \
			echo "deps: missing packages; install: $(APT_PKGS)" >&2; \
			echo "      (apt-get as root on Debian/Ubuntu)" >&2; \
			exit 1; \
		fi; \
	fi

$(BUILD)/service/model/%.o: service/model/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -c $< -o $@

$(BUILD)/service/%.o: service/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) $(PKG_CFLAGS) -c $< -o $@

$(BUILD)/tests/%.o: tests/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) $(PKG_CFLAGS) $(CHECK_CFLAGS) -Itests/lib \
		-Wno-missing-prototypes -c $< -o $@

$(BUILD)/libcascade.a: $(MODEL_OBJ)
	@rm -f $@
	ar rcs $@ $^

# Migrations and the seed are compiled in (portable: sh, od, awk).  The
# list file changes only when the set of migrations does, so adding or
# removing one regenerates embed.c.
$(BUILD)/gen/embed.list: FORCE
	@mkdir -p $(dir $@)
	@tmp=$@.tmp.$$$$; echo "$(MIGRATIONS) $(SEED)" > $$tmp; \
	if cmp -s $$tmp $@; then rm -f $$tmp; else mv $$tmp $@; fi

$(BUILD)/gen/embed.c: tools/embed.sh $(MIGRATIONS) $(SEED) $(BUILD)/gen/embed.list
	@mkdir -p $(dir $@)
	sh tools/embed.sh $@ $(SEED) $(MIGRATIONS)

$(EMBED_OBJ): $(BUILD)/gen/embed.c
	$(CC) $(CFLAGS_ALL) -c $< -o $@

$(BUILD)/libsvc.a: $(SVC_OBJ) $(EMBED_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BIN): $(MAIN_OBJ) $(BUILD)/libsvc.a $(BUILD)/libcascade.a
	$(CC) -o $@ $^ $(LDLIBS_ALL)

# The model suites link only the model library, the failing allocator,
# Check and libm.
$(BUILD)/tests/model_%: $(BUILD)/tests/model/test_%.o $(FAILALLOC_OBJ) \
		$(BUILD)/libcascade.a
	$(CC) -o $@ $^ $(TEST_WRAP) $(CHECK_LIBS) -lm $(SAN) $(LDFLAGS)

$(BUILD)/tests/svc_%: $(BUILD)/tests/service/test_%.o $(TLIB_OBJ) \
		$(BUILD)/libsvc.a $(BUILD)/libcascade.a $(BIN)
	$(CC) -o $@ $(filter %.o %.a,$^) $(TEST_WRAP) $(CHECK_LIBS) \
		$(LDLIBS_ALL)

# Check stops a test after CK_DEFAULT_TIMEOUT seconds (4 by default) unless
# its case sets its own; the suites run on shared machines, so the default
# is raised, and CK_TIMEOUT_MULTIPLIER scales every limit under the
# sanitizers. A failing suite's failure lines are printed again at the end,
# so the last lines of a long log say which check failed and why.
CK_DEFAULT_TIMEOUT ?= 60
CK_TIMEOUT_MULTIPLIER ?= 1
unit: $(MODEL_TESTS) $(SVC_TESTS) $(BIN)
	@rc=0; fails=""; log=$$(mktemp); \
	export CK_DEFAULT_TIMEOUT=$(CK_DEFAULT_TIMEOUT) \
		CK_TIMEOUT_MULTIPLIER=$(CK_TIMEOUT_MULTIPLIER); \
	for t in $(MODEL_TESTS) $(SVC_TESTS); do \
		echo "== $$t"; \
		if ! CASCADED_BIN=$(abspath $(BIN)) ./$$t >$$log 2>&1; then \
			rc=1; fails="$$fails $$t"; \
			grep -E '^[^ ]+:[0-9]+:[FE]:|Checks:|ERROR: [A-Za-z]+Sanitizer|runtime error' $$log \
				>>$$log.fail 2>/dev/null; \
		fi; \
		cat $$log; \
	done; \
	if [ $$rc -ne 0 ]; then \
		echo "== FAILED:$$fails"; cat $$log.fail 2>/dev/null; \
	fi; rm -f $$log $$log.fail; exit $$rc

test: deps
	@$(MAKE) --no-print-directory unit
	@if [ -x tests/run-extra.sh ]; then tests/run-extra.sh $(BIN); fi

# Serve on 127.0.0.1:8080 with var/cascaded.db, created, migrated and
# seeded with the embedded market data when it does not exist yet.
RUN_DB ?= var/cascaded.db
RUN_LISTEN ?= 127.0.0.1:8080
run: deps
	@$(MAKE) --no-print-directory all
	@mkdir -p $(dir $(RUN_DB))
	exec $(BIN) serve --init --listen $(RUN_LISTEN) --db $(RUN_DB)

asan: deps
	@$(MAKE) --no-print-directory BUILD=build/asan OPT="-O1 -g" \
		SAN="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined" \
		CK_TIMEOUT_MULTIPLIER=4 unit

# ThreadSanitizer: the server binary built with TSan under the integration
# suites that drive it from several threads (concurrent scores and writes,
# the compute pool), and the threaded Monte Carlo suite; any race report
# halts the server or the suite with a failure.
TSAN_SUITES := svc_api svc_pool svc_server
tsan: deps
	@$(MAKE) --no-print-directory BUILD=build/tsan OPT="-O1 -g" \
		SAN="-fsanitize=thread" build/tsan/cascaded build/tsan/tests/model_mc
	@$(MAKE) --no-print-directory $(TSAN_SUITES:%=$(BUILD)/tests/%)
	@rc=0; export TSAN_OPTIONS="halt_on_error=1 exitcode=66"; \
	echo "== tsan build/tsan/tests/model_mc"; \
	CK_FORK=no ./build/tsan/tests/model_mc || rc=1; \
	for t in $(TSAN_SUITES); do \
		echo "== tsan $$t (server built with -fsanitize=thread)"; \
		CASCADED_BIN=$(abspath build/tsan/cascaded) \
			./$(BUILD)/tests/$$t || rc=1; \
	done; exit $$rc

valgrind: deps $(MODEL_TESTS) $(SVC_TESTS) $(BIN)
	@command -v valgrind >/dev/null || { \
		echo "valgrind: not installed (apt-get install valgrind)" >&2; \
		exit 1; }
	@rc=0; for t in $(MODEL_TESTS) $(SVC_TESTS); do \
		echo "== valgrind $$t"; \
		CASCADED_BIN=$(abspath $(BIN)) CK_FORK=no valgrind -q --error-exitcode=1 --leak-check=full \
			--errors-for-leak-kinds=definite,indirect ./$$t || rc=1; \
	done; exit $$rc

# Several replicas over one NATS JetStream (nats-server, python3): see
# tests/cluster-test.sh.
cluster-test: all
	@tests/cluster-test.sh

# calibration: the volatility defaults chosen on the public price sets
# (tools/calibrate.py; not part of `make test`).  SHARED_DATA=DIR names
# the folder of the raw sets (default: tools/calibrate.py's, see
# docs/calibration.md).
SHARED_DATA ?=
calibration: $(BIN)
	python3 tools/calibrate.py $(if $(SHARED_DATA),--shared "$(SHARED_DATA)") \
		--binary $(BIN)

bench: all
	@if [ -x bench/run.sh ]; then bench/run.sh; else \
		echo "bench: no benchmark yet"; fi

# lint reads the compiled objects too (calls between layers).
lint: all
	@tests/lint.sh

install: $(BIN)
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/cascaded
	install -m 0755 $(BIN) $(DESTDIR)$(PREFIX)/bin/cascaded
	install -d $(DESTDIR)$(PREFIX)/share/cascaded/migrations
	install -m 0644 $(MIGRATIONS) $(DESTDIR)$(PREFIX)/share/cascaded/migrations/
	install -m 0644 $(SEED) data/README.md $(DESTDIR)$(PREFIX)/share/cascaded/

clean:
	rm -rf build

# Parts owned by other modules: the OpenAPI document compiled into the
# binary (GET /openapi.json), the benchmarks and the container targets.
-include docs/openapi.mk
-include web/web.mk
-include bench/bench.mk
-include docker/container.mk
-include tests/fuzz.mk

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
