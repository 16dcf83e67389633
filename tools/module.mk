# otlp-broker-inspect: the store, read-only, from outside the broker.
INSPECT := $(BUILD)/otlp-broker-inspect
ALL_OBJS += $(INSPECT).o
ALL_TARGETS += $(INSPECT)
$(INSPECT).o: tools/inspect.c | $(GEN_HDRS)
	@mkdir -p $(@D)
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) -MMD -MP -c $< -o $@
$(INSPECT): $(INSPECT).o $(BROKER_LIB_OBJS) $(PROTO_OBJS)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(BROKER_LIBS)
