# Benchmarks: print figures, never fail on timing.  bench/run.sh drives them:
# protobuf decode throughput (decode_bench), then the real broker under
# loadgen (ingest, CPU, RSS), then /metrics scrape times at 100k and 1M series.
BENCH_BINS := $(BUILD)/bench/loadgen $(BUILD)/bench/decode_bench
BENCH_OBJS := $(BENCH_BINS:%=%.o)
ALL_OBJS   += $(BENCH_OBJS)

$(BENCH_OBJS): override CPPFLAGS += -Itests/unit

$(BENCH_BINS): $(BUILD)/bench/%: $(BUILD)/bench/%.o $(PAYLOAD_OBJS)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(PBC_LIBS)

bench: all $(BENCH_BINS)
	@OB_BUILD=$(BUILD) bash bench/run.sh
