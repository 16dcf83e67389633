# Unit runner (Check), test plugins, integration scripts.
UNIT_SRCS   := $(sort $(wildcard tests/unit/*.c))
UNIT_OBJS   := $(UNIT_SRCS:%.c=$(BUILD)/%.o)
UNIT_RUNNER := $(BUILD)/tests/unit/check_runner
TEST_PLUGIN_NAMES := $(basename $(notdir $(wildcard tests/unit/plugins/*.c)))
TEST_PLUGIN_SOS   := $(TEST_PLUGIN_NAMES:%=$(BUILD)/tests/plugins/%.so)
ALL_OBJS    += $(UNIT_OBJS) $(TEST_PLUGIN_NAMES:%=$(BUILD)/tests/plugins/%.pic.o)

# Test tools: tests/tools/<name>.c -> $(BUILD)/tests/tools/<name>, linked with
# the payload builders (tests/unit/ob_payloads.c) and what they build on: the
# arena, ob_buf and the protos.
TEST_TOOL_NAMES := $(basename $(notdir $(wildcard tests/tools/*.c)))
TEST_TOOLS      := $(TEST_TOOL_NAMES:%=$(BUILD)/tests/tools/%)
TEST_TOOL_OBJS  := $(TEST_TOOLS:%=%.o)
PAYLOAD_OBJS    := $(BUILD)/tests/unit/ob_payloads.o $(BUILD)/broker/ob_arena.o $(BUILD)/broker/ob_buf.o \
                   $(PROTO_OBJS)
ALL_OBJS        += $(TEST_TOOL_OBJS)

$(TEST_TOOL_OBJS): override CPPFLAGS += -Itests/unit

$(TEST_TOOLS): $(BUILD)/tests/tools/%: $(BUILD)/tests/tools/%.o $(PAYLOAD_OBJS)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(PBC_LIBS) $(TOOL_LIBS)

# zmqsend drives the C client library.
$(BUILD)/tests/tools/zmqsend.o: override CPPFLAGS += $(CLIENT_CPPFLAGS)
$(BUILD)/tests/tools/zmqsend: $(CLIENT_A)
$(BUILD)/tests/tools/zmqsend: TOOL_LIBS = $(CLIENT_LIBS)

# rwsink, the remote-write test receiver: libmicrohttpd, snappy, and the
# broker's float formatter so values print as Prometheus prints them.
$(BUILD)/tests/tools/rwsink.o: override CPPFLAGS += $(MHD_CFLAGS)
$(BUILD)/tests/tools/rwsink: $(BUILD)/broker/ob_float.o
$(BUILD)/tests/tools/rwsink: TOOL_LIBS = $(MHD_LIBS) $(SNAPPY_LIBS)
# mkrw, rwsink's test requests, packed and snappy compressed.
$(BUILD)/tests/tools/mkrw: TOOL_LIBS = $(SNAPPY_LIBS)

$(UNIT_OBJS): override CPPFLAGS += $(CHECK_CFLAGS) $(GNUTLS_CFLAGS) -Itests/unit

$(UNIT_RUNNER): $(UNIT_OBJS) $(BROKER_LIB_OBJS) $(PROTO_OBJS)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(BROKER_LIBS) $(CHECK_LIBS) $(GNUTLS_LIBS)

$(BUILD)/tests/plugins/%.pic.o: tests/unit/plugins/%.c
	@mkdir -p $(@D)
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) -fPIC -fvisibility=hidden -MMD -MP -c $< -o $@

$(BUILD)/tests/plugins/%.so: $(BUILD)/tests/plugins/%.pic.o
	$(Q)$(CC) -shared $(LDFLAGS) -o $@ $<

# CK_RUN_SUITE=store make unit narrows the run.  Check's per-test timeouts
# are stretched: 4x for sanitizer builds, which run a few times slower, 2x
# for plain ones (a busy machine timed out tests at 1x).
CK_SLOWER := $(if $(filter-out 0,$(SAN)),4,2)
unit: $(UNIT_RUNNER) $(PLUGIN_SOS) $(TEST_PLUGIN_SOS) $(BUILD)/otlp-broker
	OB_BUILD=$(BUILD) CK_TIMEOUT_MULTIPLIER=$(CK_SLOWER) $(UNIT_RUNNER)

INTEGRATION_TESTS := $(sort $(wildcard tests/integration/test_*.sh))
integration: $(BUILD)/otlp-broker $(PLUGIN_SOS) $(TEST_TOOLS) $(BUILD)/bench/loadgen
	@fail=0; for t in $(INTEGRATION_TESTS); do \
	  echo "== $$t"; OB_BUILD=$(BUILD) bash $$t || fail=1; done; \
	  test $$fail = 0

# Real third-party clients and consumers: OpenTelemetry JS SDK (npm, cached
# under $(BUILD)/interop), Debian's prometheus and promtool; remote write
# into Debian's prometheus and victoria-metrics (mkpayload, otlp-push).
interop: $(BUILD)/otlp-broker $(PLUGIN_SOS) $(TEST_TOOLS) $(OTLP_PUSH)
	OB_BUILD=$(BUILD) bash tests/interop/run.sh

# Integration scripts also drive the clients (otlp-push, the Python module).
integration: $(OTLP_PUSH) python

# make tsan: the client library and the `client`, `zmq`, `grpc`, `fwdlog` and
# `remote_write` suites (the library's threads, the broker's ZeroMQ workers and gRPC
# loops, the forward log's writers and reader, the remote-write sender beside two
# ingest threads, on the real stack) built with ThreadSanitizer into build/tsan.  libzmq itself is not instrumented:
# tests/tsan.supp silences what happens inside it.
TSAN_BUILD := build/tsan
ifeq ($(SAN),thread)
override CFLAGS  += -fsanitize=thread -fno-omit-frame-pointer -Wno-tsan
override LDFLAGS += -fsanitize=thread
PLUGIN_ZDEFS :=
endif
.PHONY: tsan
tsan:
	$(MAKE) BUILD=$(TSAN_BUILD) SAN=thread $(TSAN_BUILD)/tests/unit/check_runner \
	  $(TSAN_BUILD)/plugins/underscore_escaping_with_suffixes.so
	@for s in client zmq grpc fwdlog remote_write; do \
	  echo "== tsan: $$s"; \
	  OB_BUILD=$(TSAN_BUILD) CK_RUN_SUITE=$$s CK_TIMEOUT_MULTIPLIER=4 \
	  TSAN_OPTIONS="suppressions=$(CURDIR)/tests/tsan.supp halt_on_error=1 second_deadlock_stack=1" \
	  $(TSAN_BUILD)/tests/unit/check_runner || exit 1; done

# Python for the grpcio client test (tests/integration/grpc_client.py), generated
# at build time into $(BUILD)/gen/python (never committed): the OTLP messages from
# proto/, and the MetricsService stub from tests/proto (proto/ declares no service)
# by protoc with Debian's gRPC plugin (protobuf-compiler-grpc).
GRPC_PYTHON_PLUGIN ?= /usr/bin/grpc_python_plugin
GRPC_PY_DIR     := $(BUILD)/gen/python
GRPC_PY_PROTOS  := $(addprefix proto/opentelemetry/proto/,collector/metrics/v1/metrics_service.proto \
                     metrics/v1/metrics.proto common/v1/common.proto resource/v1/resource.proto)
GRPC_PY_SERVICE := tests/proto/opentelemetry/proto/collector/metrics/v1/metrics_service_grpc.proto
GRPC_PY_GEN     := $(patsubst proto/%.proto,$(GRPC_PY_DIR)/%_pb2.py,$(GRPC_PY_PROTOS)) \
                   $(patsubst tests/proto/%.proto,$(GRPC_PY_DIR)/%_pb2.py,$(GRPC_PY_SERVICE)) \
                   $(patsubst tests/proto/%.proto,$(GRPC_PY_DIR)/%_pb2_grpc.py,$(GRPC_PY_SERVICE))
.PHONY: grpc-python
grpc-python: $(GRPC_PY_GEN)
$(GRPC_PY_GEN) &: $(GRPC_PY_PROTOS) $(GRPC_PY_SERVICE)
	@mkdir -p $(GRPC_PY_DIR)
	$(Q)$(PROTOC) -Iproto --python_out=$(GRPC_PY_DIR) $(GRPC_PY_PROTOS)
	$(Q)$(PROTOC) -Iproto -Itests/proto --python_out=$(GRPC_PY_DIR) --grpc_python_out=$(GRPC_PY_DIR) \
	  --plugin=protoc-gen-grpc_python=$(GRPC_PYTHON_PLUGIN) $(GRPC_PY_SERVICE)
integration: $(GRPC_PY_GEN)
