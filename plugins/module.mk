# Each plugins/<name>.c -> $(BUILD)/plugins/<name>.so, hidden visibility, one exported symbol.
#
# plugins/xl/ holds the naming rules the strategy plugins and rules share.  It
# is compiled once, -fPIC and hidden like the plugins, into libxl.a, which
# every plugin is linked with: the linker copies xl.pic.o only into the .so
# files that call it, so a plugin still depends on nothing but libc at run
# time and exports only ob_translator_v1.  The wildcard does not reach into
# xl/, so xl.c is no plugin of its own.
XL_LIB       := $(BUILD)/plugins/libxl.a
XL_OBJS      := $(BUILD)/plugins/xl/xl.pic.o
PLUGIN_NAMES := $(basename $(notdir $(wildcard plugins/*.c)))
PLUGIN_SOS   := $(PLUGIN_NAMES:%=$(BUILD)/plugins/%.so)
ALL_OBJS     += $(PLUGIN_NAMES:%=$(BUILD)/plugins/%.pic.o) $(XL_OBJS)
ALL_TARGETS  += $(PLUGIN_SOS)

$(BUILD)/plugins/%.pic.o: plugins/%.c
	@mkdir -p $(@D)
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) -fPIC -fvisibility=hidden -MMD -MP -c $< -o $@

$(XL_LIB): $(XL_OBJS)
	$(Q)rm -f $@
	$(Q)$(AR) rcs $@ $^

$(BUILD)/plugins/%.so: $(BUILD)/plugins/%.pic.o $(XL_LIB)
	$(Q)$(CC) -shared $(LDFLAGS) $(PLUGIN_ZDEFS) -o $@ $^
