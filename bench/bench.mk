# bench/bench.mk - build rules of the benchmarks, included by the
# Makefile.  `make bench` runs bench/run.sh (which builds these itself).

BENCH_ENGINE := $(BUILD)/bench/bench_engine

$(BUILD)/bench/%.o: bench/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) $(PKG_CFLAGS) -Wno-missing-prototypes -c $< -o $@

$(BENCH_ENGINE): $(BUILD)/bench/bench_engine.o $(BUILD)/libsvc.a \
		$(BUILD)/libcascade.a
	$(CC) -o $@ $^ $(LDLIBS_ALL)

.PHONY: bench-build
bench-build: $(BIN) $(BENCH_ENGINE)
