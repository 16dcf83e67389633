# Client library and CLI.
#
# libotlpbroker-client: clients/c/client.c plus the protobuf-c code generated
# from proto/, compiled -fPIC -fvisibility=hidden so that only the obc_*
# functions (OBC_API) are exported.  The static archive holds one relocatable
# object whose hidden symbols are made local, so an application that links its
# own copy of the OTLP protos (the broker's unit runner does) sees no clash.

CLIENT_DIR     := $(BUILD)/clients
CLIENT_SO      := $(CLIENT_DIR)/libotlpbroker-client.so
CLIENT_A       := $(CLIENT_DIR)/libotlpbroker-client.a
CLIENT_PC      := $(CLIENT_DIR)/otlpbroker-client.pc
CLIENT_EXAMPLE := $(CLIENT_DIR)/example
CLIENT_SONAME  := libotlpbroker-client.so.$(firstword $(subst ., ,$(VERSION)))
CLIENT_PIC_OBJS := $(CLIENT_DIR)/c/client.pic.o \
                   $(patsubst $(BUILD)/gen/%.c,$(CLIENT_DIR)/gen/%.pic.o,$(PROTO_GEN_C))
CLIENT_LIBS     = $(ZMQ_LIBS) $(PBC_LIBS) -lm
CLIENT_CPPFLAGS := -Iclients/c/include
OBJCOPY        ?= objcopy

CLIENT_TARGETS += $(CLIENT_A) $(CLIENT_SO) $(CLIENT_PC) $(CLIENT_EXAMPLE)
ALL_TARGETS    += $(CLIENT_A) $(CLIENT_SO) $(CLIENT_PC) $(CLIENT_EXAMPLE)
ALL_OBJS       += $(CLIENT_PIC_OBJS) $(CLIENT_DIR)/c/example.o

$(CLIENT_DIR)/c/client.pic.o: clients/c/client.c | $(GEN_HDRS)
	@mkdir -p $(@D)
	$(Q)$(CC) $(CPPFLAGS) $(CLIENT_CPPFLAGS) $(ZMQ_CFLAGS) $(PBC_CFLAGS) $(CFLAGS) -fPIC \
	  -fvisibility=hidden -MMD -MP -c $< -o $@

$(CLIENT_DIR)/gen/%.pic.o: $(BUILD)/gen/%.c | $(GEN_HDRS)
	@mkdir -p $(@D)
	$(Q)$(CC) $(CPPFLAGS) $(PBC_CFLAGS) $(CFLAGS) -Wno-missing-prototypes -Wno-unused-parameter \
	  -fPIC -fvisibility=hidden -MMD -MP -c $< -o $@

$(CLIENT_SO): $(CLIENT_PIC_OBJS)
	$(Q)$(CC) -shared $(LDFLAGS) -Wl,-soname,$(CLIENT_SONAME) -o $@ $^ $(CLIENT_LIBS)

$(CLIENT_A): $(CLIENT_PIC_OBJS)
	$(Q)$(CC) -r -nostdlib -o $(CLIENT_DIR)/libotlpbroker-client.o $^
	$(Q)$(OBJCOPY) --localize-hidden $(CLIENT_DIR)/libotlpbroker-client.o
	$(Q)rm -f $@ && $(AR) rcs $@ $(CLIENT_DIR)/libotlpbroker-client.o

$(CLIENT_PC): clients/c/otlpbroker-client.pc.in
	@mkdir -p $(@D)
	$(Q)sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@LIBDIR@|$(LIBDIR)|g' -e 's|@VERSION@|$(VERSION)|g' $< > $@

$(CLIENT_DIR)/c/example.o: override CPPFLAGS += $(CLIENT_CPPFLAGS)
$(CLIENT_EXAMPLE): $(CLIENT_DIR)/c/example.o $(CLIENT_A)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(CLIENT_LIBS) $(PBC_LIBS)

# otlp-push: the CLI.  It links the static library and, for decoding HTTP
# answers, the broker's protobuf-c objects (the library's own copy is local).
OTLP_PUSH := $(CLIENT_DIR)/otlp-push
CLIENT_TARGETS += $(OTLP_PUSH)
ALL_TARGETS    += $(OTLP_PUSH)
ALL_OBJS       += $(CLIENT_DIR)/otlp-push.o
$(CLIENT_DIR)/otlp-push.o: override CPPFLAGS += $(CLIENT_CPPFLAGS)
$(OTLP_PUSH): $(CLIENT_DIR)/otlp-push.o $(CLIENT_A) $(PROTO_OBJS)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(CLIENT_LIBS) $(PBC_LIBS)

# The unit runner links the static library for tests/unit/test_client.c.
$(BUILD)/tests/unit/test_client.o: override CPPFLAGS += $(CLIENT_CPPFLAGS)
$(BUILD)/tests/unit/check_runner: $(CLIENT_A)

.PHONY: install-client
install: install-client
install-client: $(CLIENT_A) $(CLIENT_SO) $(CLIENT_PC) $(OTLP_PUSH)
	install -d $(DESTDIR)$(LIBDIR) $(DESTDIR)$(LIBDIR)/pkgconfig \
	  $(DESTDIR)$(PREFIX)/include/otlpbroker $(DESTDIR)$(PREFIX)/bin
	install -m 755 $(OTLP_PUSH) $(DESTDIR)$(PREFIX)/bin/
	install -m 644 $(CLIENT_A) $(DESTDIR)$(LIBDIR)/
	install -m 755 $(CLIENT_SO) $(DESTDIR)$(LIBDIR)/libotlpbroker-client.so.$(VERSION)
	ln -sf libotlpbroker-client.so.$(VERSION) $(DESTDIR)$(LIBDIR)/$(CLIENT_SONAME)
	ln -sf $(CLIENT_SONAME) $(DESTDIR)$(LIBDIR)/libotlpbroker-client.so
	install -m 644 clients/c/include/otlpbroker/client.h $(DESTDIR)$(PREFIX)/include/otlpbroker/
	install -m 644 $(CLIENT_PC) $(DESTDIR)$(LIBDIR)/pkgconfig/

.PHONY: uninstall-client
uninstall: uninstall-client
uninstall-client:
	rm -f $(DESTDIR)$(PREFIX)/bin/otlp-push $(DESTDIR)$(LIBDIR)/$(notdir $(CLIENT_A))
	rm -f $(DESTDIR)$(LIBDIR)/libotlpbroker-client.so.$(VERSION) \
	  $(DESTDIR)$(LIBDIR)/$(CLIENT_SONAME) $(DESTDIR)$(LIBDIR)/libotlpbroker-client.so
	rm -f $(DESTDIR)$(PREFIX)/include/otlpbroker/client.h \
	  $(DESTDIR)$(LIBDIR)/pkgconfig/$(notdir $(CLIENT_PC))
	-rmdir $(DESTDIR)$(PREFIX)/include/otlpbroker 2>/dev/null

# Python: the otlpbroker module (clients/python) needs the OTLP messages as
# Python code, generated from proto/ into $(BUILD)/python (never committed).
PROTOC    ?= protoc
PY_GEN    := $(BUILD)/python/.generated
.PHONY: python
python: $(PY_GEN)
$(PY_GEN): $(PROTO_FILES)
	@mkdir -p $(@D)
	$(Q)$(PROTOC) -Iproto --python_out=$(@D) $(PROTO_FILES)
	@touch $@
