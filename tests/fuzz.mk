# tests/fuzz.mk - libFuzzer targets and the soak run; included by the
# Makefile (`include tests/fuzz.mk`, after its own rules).  Neither runs in
# `make test`: the kept crash and regression inputs of tests/fuzz/regress/
# replay there through tests/service/test_fuzz_regress.c instead.
#
#   make fuzz FUZZ_SECONDS=180      every target for N seconds (default 60)
#   make fuzz FUZZ_TARGETS=score    one target
#   make fuzz-build                 only build build/fuzz/fuzz_*
#   make soak SOAK_SECONDS=600      tests/soak.sh against a real server
#
# Targets (tests/fuzz/fuzz_common.h): score (POST /v1/score: decoder,
# validation, model, encoder), depth (every depth-curve form), levels (the
# liquidation-level import), writes (asset and correlation writes), api
# (sequences of writes through api.h over an in-memory SQLite
# store, then scoring: catches what store and snapshot reload do).  Each
# runs with clang -fsanitize=fuzzer,address,undefined on a working corpus
# under build/fuzz/corpus/<target> seeded from tests/fuzz/corpus/<target>
# (tests/fuzz/make_seeds.py rewrites the seeds).  A crash leaves
# build/fuzz/artifacts/<target>/crash-*: copy it to
# tests/fuzz/regress/<target>/ once fixed so `make test` keeps it.

FUZZ_CC ?= clang
FUZZ_SECONDS ?= 60
FUZZ_TARGETS ?= score depth levels writes api
FUZZ_BUILD := build/fuzz
FUZZ_SAN := -fsanitize=address,undefined -fno-sanitize-recover=undefined \
	-fno-omit-frame-pointer
FUZZ_CFLAGS = -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -O1 -g \
	$(filter-out -Werror,$(WARN)) -Wno-double-promotion \
	-Wno-format-nonliteral $(FUZZ_SAN) \
	-fsanitize=fuzzer-no-link -Iinclude -Iservice -Itests/fuzz -MMD -MP \
	-DCASCADED_VERSION='"$(VERSION)"' $(PKG_CFLAGS)
FUZZ_OBJ := $(MODEL_SRC:%.c=$(FUZZ_BUILD)/%.o) \
	$(SVC_SRC:%.c=$(FUZZ_BUILD)/%.o) $(FUZZ_BUILD)/gen/embed.o \
	$(FUZZ_BUILD)/tests/fuzz/fuzz_common.o
FUZZ_BINS := $(FUZZ_TARGETS:%=$(FUZZ_BUILD)/fuzz_%)
FUZZ_FLAGS ?= -timeout=10 -rss_limit_mb=2048 -max_len=16384 \
	-print_final_stats=1
# The api target's SQLite store leaves its malloc and free counts unequal
# per input (caches kept across connections), which makes libFuzzer run a
# full leak scan after nearly every input (9 instead of ~40 execs/s);
# leaks on that path show up in `make asan` through test_fuzz_regress.
FUZZ_FLAGS_api ?= -detect_leaks=0

.PHONY: fuzz fuzz-build soak

$(FUZZ_BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -c $< -o $@

$(FUZZ_BUILD)/gen/embed.o: $(BUILD)/gen/embed.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -c $< -o $@

$(FUZZ_BUILD)/libfuzzsvc.a: $(FUZZ_OBJ)
	@rm -f $@
	ar rcs $@ $^

# Static pattern rules: a plain pattern would also match the .d files the
# Makefile includes (make's built-in `%: %.o` would try target_x.d.o).
$(FUZZ_TARGETS:%=$(FUZZ_BUILD)/target_%.o): $(FUZZ_BUILD)/target_%.o: \
		tests/fuzz/fuzz_target.c tests/fuzz/fuzz_common.h
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -DFZ_ENTRY=fz_$* -c $< -o $@

$(FUZZ_BINS): $(FUZZ_BUILD)/fuzz_%: $(FUZZ_BUILD)/target_%.o \
		$(FUZZ_BUILD)/libfuzzsvc.a
	$(FUZZ_CC) -fsanitize=fuzzer $(FUZZ_SAN) -o $@ $^ $(PKG_LIBS) \
		-lpthread -lm

fuzz-build: $(FUZZ_BINS)

# Every target for FUZZ_SECONDS; the summary line of each (execs/s, cov,
# corpus) is printed at the end.  Fails when any target found a crash.
fuzz: fuzz-build
	@rc=0; for t in $(FUZZ_TARGETS); do \
		mkdir -p $(FUZZ_BUILD)/corpus/$$t $(FUZZ_BUILD)/artifacts/$$t; \
		echo "== fuzz $$t for $(FUZZ_SECONDS) s"; \
		flags=; [ $$t = api ] && flags="$(FUZZ_FLAGS_api)"; \
		./$(FUZZ_BUILD)/fuzz_$$t $(FUZZ_FLAGS) $$flags \
			-max_total_time=$(FUZZ_SECONDS) \
			-dict=tests/fuzz/json.dict \
			-artifact_prefix=$(FUZZ_BUILD)/artifacts/$$t/ \
			$(FUZZ_BUILD)/corpus/$$t tests/fuzz/corpus/$$t \
			> $(FUZZ_BUILD)/$$t.log 2>&1 || rc=1; \
		grep -E '^#[0-9]+[[:space:]]+DONE|^stat::average_exec_per_sec' \
			$(FUZZ_BUILD)/$$t.log | sed "s|^|  $$t: |"; \
		grep -E 'ERROR|SUMMARY|invariant' $(FUZZ_BUILD)/$$t.log | \
			sed "s|^|  $$t: |"; \
	done; \
	if [ $$rc != 0 ]; then \
		echo "fuzz: crashes in $(FUZZ_BUILD)/artifacts" >&2; fi; \
	exit $$rc

SOAK_SECONDS ?= 600
soak: $(BIN)
	@SOAK_SECONDS=$(SOAK_SECONDS) CASCADED_BIN=$(abspath $(BIN)) \
		sh tests/soak.sh
