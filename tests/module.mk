# Unit runner (Check), test plugins, integration scripts.
UNIT_SRCS   := $(sort $(wildcard tests/unit/*.c))
UNIT_OBJS   := $(UNIT_SRCS:%.c=$(BUILD)/%.o)
UNIT_RUNNER := $(BUILD)/tests/unit/check_runner
TEST_PLUGIN_NAMES := $(basename $(notdir $(wildcard tests/unit/plugins/*.c)))
TEST_PLUGIN_SOS   := $(TEST_PLUGIN_NAMES:%=$(BUILD)/tests/plugins/%.so)
ALL_OBJS    += $(UNIT_OBJS) $(TEST_PLUGIN_NAMES:%=$(BUILD)/tests/plugins/%.pic.o)

# Test tools: tests/tools/<name>.c -> $(BUILD)/tests/tools/<name>, linked with
# the payload builders (tests/unit/ob_payloads.c), the arena and the protos.
TEST_TOOL_NAMES := $(basename $(notdir $(wildcard tests/tools/*.c)))
TEST_TOOLS      := $(TEST_TOOL_NAMES:%=$(BUILD)/tests/tools/%)
TEST_TOOL_OBJS  := $(TEST_TOOLS:%=%.o)
PAYLOAD_OBJS    := $(BUILD)/tests/unit/ob_payloads.o $(BUILD)/broker/ob_otlp.o $(BUILD)/broker/ob_buf.o \
                   $(PROTO_OBJS)
ALL_OBJS        += $(TEST_TOOL_OBJS)

$(TEST_TOOL_OBJS): override CPPFLAGS += -Itests/unit

$(TEST_TOOLS): $(BUILD)/tests/tools/%: $(BUILD)/tests/tools/%.o $(PAYLOAD_OBJS)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(PBC_LIBS)

$(UNIT_OBJS): override CPPFLAGS += $(CHECK_CFLAGS) -Itests/unit

$(UNIT_RUNNER): $(UNIT_OBJS) $(BROKER_LIB_OBJS) $(PROTO_OBJS)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(BROKER_LIBS) $(CHECK_LIBS)

$(BUILD)/tests/plugins/%.pic.o: tests/unit/plugins/%.c
	@mkdir -p $(@D)
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) -fPIC -fvisibility=hidden -MMD -MP -c $< -o $@

$(BUILD)/tests/plugins/%.so: $(BUILD)/tests/plugins/%.pic.o
	$(Q)$(CC) -shared $(LDFLAGS) -o $@ $<

# CK_RUN_SUITE=store make unit narrows the run.
unit: $(UNIT_RUNNER) $(PLUGIN_SOS) $(TEST_PLUGIN_SOS) $(BUILD)/otlp-broker
	OB_BUILD=$(BUILD) $(UNIT_RUNNER)

INTEGRATION_TESTS := $(sort $(wildcard tests/integration/test_*.sh))
integration: $(BUILD)/otlp-broker $(PLUGIN_SOS) $(TEST_TOOLS)
	@fail=0; for t in $(INTEGRATION_TESTS); do \
	  echo "== $$t"; OB_BUILD=$(BUILD) bash $$t || fail=1; done; \
	  test $$fail = 0

# Integration scripts also drive the clients (otlp-push, the Python module).
integration: $(OTLP_PUSH) python
