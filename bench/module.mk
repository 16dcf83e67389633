# Benchmarks: print figures, never fail on timing.  bench/run.sh drives them:
# protobuf decode throughput (decode_bench), then the real broker under
# loadgen (ingest, CPU, RSS), then /metrics scrape times at 100k and 1M series.
# bench/zmq.sh then compares ZeroMQ PULL ingest (ipc, tcp; raw bodies and the
# C client library) with HTTP ingest of the same bodies (zmqload), and
# bench/grpc.sh OTLP/gRPC ingest (grpcload, nghttp2) with HTTP (loadgen),
# and bench/rw.sh remote write (to tests/tools/rwsink --discard): ingest with
# and without a target, the forward rate.
BENCH_BINS := $(BUILD)/bench/loadgen $(BUILD)/bench/decode_bench
BENCH_OBJS := $(BENCH_BINS:%=%.o)
BENCH_COMMON := $(BUILD)/bench/bench_common.o
ZMQLOAD    := $(BUILD)/bench/zmqload
GRPCLOAD   := $(BUILD)/bench/grpcload
INGEST_BENCH := $(BUILD)/bench/ingest_bench
ALL_OBJS   += $(BENCH_OBJS) $(ZMQLOAD).o $(BENCH_COMMON) $(INGEST_BENCH).o $(GRPCLOAD).o

$(BENCH_OBJS) $(BENCH_COMMON): override CPPFLAGS += -Itests/unit

$(BENCH_BINS): $(BUILD)/bench/%: $(BUILD)/bench/%.o $(BENCH_COMMON) $(PAYLOAD_OBJS)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(PBC_LIBS)

# decode_bench also times the decoder itself.
$(BUILD)/bench/decode_bench: $(BUILD)/broker/ob_otlp.o

# ingest_bench runs the broker's ingest in process (the broker's objects).
$(INGEST_BENCH).o: override CPPFLAGS += -Itests/unit
$(INGEST_BENCH): $(INGEST_BENCH).o $(BENCH_COMMON) $(sort $(BROKER_LIB_OBJS) $(PAYLOAD_OBJS))
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(BROKER_LIBS)

$(ZMQLOAD).o: override CPPFLAGS += -Itests/unit $(CLIENT_CPPFLAGS) $(ZMQ_CFLAGS)
$(ZMQLOAD): $(ZMQLOAD).o $(BENCH_COMMON) $(PAYLOAD_OBJS) $(CLIENT_A)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(CLIENT_LIBS) $(PBC_LIBS)

$(GRPCLOAD).o: override CPPFLAGS += -Itests/unit $(NGHTTP2_CFLAGS)
$(GRPCLOAD): $(GRPCLOAD).o $(BENCH_COMMON) $(PAYLOAD_OBJS)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(PBC_LIBS) $(NGHTTP2_LIBS)

# make soak: half an hour of churn (bench/soak.sh; OB_SOAK_SECS to shorten).
.PHONY: soak
soak: all $(BUILD)/bench/loadgen
	@OB_BUILD=$(BUILD) bash bench/soak.sh

bench: all $(BENCH_BINS) $(ZMQLOAD) $(INGEST_BENCH) $(GRPCLOAD) $(BUILD)/tests/tools/rwsink
	@OB_BUILD=$(BUILD) bash bench/run.sh
	@OB_BUILD=$(BUILD) bash bench/zmq.sh
	@OB_BUILD=$(BUILD) bash bench/grpc.sh
	@OB_BUILD=$(BUILD) bash bench/rw.sh
