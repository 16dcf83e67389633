# The daemon: every broker/*.c; main.c only in the binary, the rest also in the unit runner.
BROKER_SRCS     := $(sort $(wildcard broker/*.c))
BROKER_OBJS     := $(BROKER_SRCS:%.c=$(BUILD)/%.o)
BROKER_LIB_OBJS := $(filter-out $(BUILD)/broker/main.o,$(BROKER_OBJS))
BROKER_LIBS      = $(MHD_LIBS) $(ZMQ_LIBS) $(PBC_LIBS) $(INI_LIBS) $(Z_LIBS) $(XXH_LIBS) $(JSONC_LIBS) \
                   $(NGHTTP2_LIBS) $(CURL_LIBS) $(SNAPPY_LIBS) -ldl -lm
override CPPFLAGS += $(MHD_CFLAGS) $(PBC_CFLAGS) $(INI_CFLAGS) $(Z_CFLAGS) $(XXH_CFLAGS) $(JSONC_CFLAGS) \
                     $(NGHTTP2_CFLAGS) $(CURL_CFLAGS)

ALL_OBJS    += $(BROKER_OBJS)
ALL_TARGETS += $(BUILD)/otlp-broker

$(BUILD)/otlp-broker: $(BROKER_OBJS) $(PROTO_OBJS)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(BROKER_LIBS)

# The installed plugin directory is the compiled-in default of translator.plugin_dir.
$(BUILD)/broker/ob_config.o: override CPPFLAGS += -DOB_PLUGIN_DIR='"$(PLUGINDIR)"'
