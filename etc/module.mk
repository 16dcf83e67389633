# Installing the daemon: `make install` (PREFIX, DESTDIR, LIBDIR, PLUGINDIR;
# SYSCONFDIR is /etc for PREFIX=/usr, else PREFIX/etc), `make uninstall`.  The broker, every
# plugin into the compiled-in translator.plugin_dir, the store inspector, the
# configuration (read
# when -c is not given), the plugin header, man pages, the systemd unit and
# its sysusers entry; the client library installs itself (clients/module.mk).
SYSCONFDIR ?= $(if $(filter /usr,$(PREFIX)),/etc,$(PREFIX)/etc)
SBINDIR    := $(PREFIX)/sbin
MANDIR     := $(PREFIX)/share/man
UNITDIR    := $(if $(filter /usr,$(PREFIX)),/lib/systemd/system,$(PREFIX)/lib/systemd/system)
SYSUSERSDIR := $(if $(filter /usr,$(PREFIX)),/usr/lib/sysusers.d,$(PREFIX)/lib/sysusers.d)
CONFIG_FILE := $(SYSCONFDIR)/otlp-broker/otlp-broker.ini

# The configuration the broker reads when it is not given -c.
$(BUILD)/broker/main.o: override CPPFLAGS += -DOB_CONFIG_PATH='"$(CONFIG_FILE)"'

UNIT := $(BUILD)/otlp-broker.service
ALL_TARGETS += $(UNIT)
$(UNIT): etc/otlp-broker.service.in Makefile
	@mkdir -p $(@D)
	$(Q)sed -e 's|@SBINDIR@|$(SBINDIR)|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' \
	  -e 's|@UNITDIR@|$(UNITDIR)|g' $< > $@

.PHONY: install-broker uninstall uninstall-broker
install: install-broker
install-broker: $(BUILD)/otlp-broker $(INSPECT) $(PLUGIN_SOS) $(UNIT)
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(PLUGINDIR) $(DESTDIR)$(SYSCONFDIR)/otlp-broker \
	  $(DESTDIR)$(PREFIX)/include/otlp-broker $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(MANDIR)/man1 \
	  $(DESTDIR)$(UNITDIR) $(DESTDIR)$(SYSUSERSDIR)
	install -m 755 $(BUILD)/otlp-broker $(INSPECT) $(DESTDIR)$(SBINDIR)/
	install -m 755 $(PLUGIN_SOS) $(DESTDIR)$(PLUGINDIR)/
	test -e $(DESTDIR)$(CONFIG_FILE) || install -m 644 etc/otlp-broker.ini $(DESTDIR)$(CONFIG_FILE)
	install -m 644 plugins/translator.h $(DESTDIR)$(PREFIX)/include/otlp-broker/
	install -m 644 docs/otlp-broker.8 docs/otlp-broker-inspect.8 $(DESTDIR)$(MANDIR)/man8/
	install -m 644 docs/otlp-push.1 $(DESTDIR)$(MANDIR)/man1/
	install -m 644 $(UNIT) $(DESTDIR)$(UNITDIR)/
	install -m 644 etc/otlp-broker.sysusers $(DESTDIR)$(SYSUSERSDIR)/otlp-broker.conf

# The configuration file stays when it was changed (as a conffile would).
uninstall: uninstall-broker
uninstall-broker:
	rm -f $(DESTDIR)$(SBINDIR)/otlp-broker $(DESTDIR)$(SBINDIR)/otlp-broker-inspect $(addprefix $(DESTDIR)$(PLUGINDIR)/,$(notdir $(PLUGIN_SOS)))
	-rmdir $(DESTDIR)$(PLUGINDIR) $(dir $(DESTDIR)$(PLUGINDIR)) 2>/dev/null
	cmp -s etc/otlp-broker.ini $(DESTDIR)$(CONFIG_FILE) && rm -f $(DESTDIR)$(CONFIG_FILE) || true
	-rmdir $(DESTDIR)$(SYSCONFDIR)/otlp-broker 2>/dev/null
	rm -f $(DESTDIR)$(PREFIX)/include/otlp-broker/translator.h
	-rmdir $(DESTDIR)$(PREFIX)/include/otlp-broker 2>/dev/null
	rm -f $(DESTDIR)$(MANDIR)/man8/otlp-broker.8 $(DESTDIR)$(MANDIR)/man8/otlp-broker-inspect.8 \
	  $(DESTDIR)$(MANDIR)/man1/otlp-push.1
	rm -f $(DESTDIR)$(UNITDIR)/otlp-broker.service $(DESTDIR)$(SYSUSERSDIR)/otlp-broker.conf

# make deb: the Debian packages (otlp-broker; libotlpbroker-client0 and
# libotlpbroker-client-dev) built by debian/rules with Debian's layout, into
# $(BUILD)/debs; dpkg-buildpackage writes them beside the tree first.
DEB_ARCH := $(shell dpkg --print-architecture 2>/dev/null)
DEB_OUT := $(addprefix ../,$(addsuffix _$(VERSION)_$(DEB_ARCH).deb,otlp-broker otlp-broker-dbgsym \
             libotlpbroker-client0 libotlpbroker-client0-dbgsym libotlpbroker-client-dev)) \
           ../otlp-broker_$(VERSION)_$(DEB_ARCH).changes ../otlp-broker_$(VERSION)_$(DEB_ARCH).buildinfo
.PHONY: deb
deb:
	dpkg-buildpackage -us -uc -b
	mkdir -p $(BUILD)/debs
	mv $(DEB_OUT) $(BUILD)/debs/
	debian/rules clean
