# Each plugins/<name>.c -> $(BUILD)/plugins/<name>.so, hidden visibility, one exported symbol.
PLUGIN_NAMES := $(basename $(notdir $(wildcard plugins/*.c)))
PLUGIN_SOS   := $(PLUGIN_NAMES:%=$(BUILD)/plugins/%.so)
ALL_OBJS     += $(PLUGIN_NAMES:%=$(BUILD)/plugins/%.pic.o)
ALL_TARGETS  += $(PLUGIN_SOS)

$(BUILD)/plugins/%.pic.o: plugins/%.c
	@mkdir -p $(@D)
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) -fPIC -fvisibility=hidden -MMD -MP -c $< -o $@

$(BUILD)/plugins/%.so: $(BUILD)/plugins/%.pic.o
	$(Q)$(CC) -shared $(LDFLAGS) $(PLUGIN_ZDEFS) -o $@ $<
