# otlp-broker: one non-recursive make.  Fragments (*/module.mk) only append to
# the variables below and declare their own targets.  Output goes to $(BUILD),
# which mirrors the source tree.
#
#   make deps     install missing Debian packages (idempotent)
#   make          build/otlp-broker, build/plugins/*.so, clients
#   make run      deps + build + start the broker on etc/otlp-broker.ini
#   make check    deps + build + every test, then again under ASan/UBSan
#   make bench    build + benchmarks (print figures, never fail on timing)

.DELETE_ON_ERROR:
.SUFFIXES:
.DEFAULT_GOAL := all

BUILD   ?= build
PREFIX  ?= /usr/local
LIBDIR  ?= $(PREFIX)/lib
PLUGINDIR ?= $(LIBDIR)/otlp-broker/plugins
DESTDIR ?=
V       ?= 0
SAN     ?= 0
Q        = $(if $(filter 1,$(V)),,@)

CC      ?= cc
PROTOC_C ?= protoc-c

VERSION := 0.1.0

# Libraries, probed with pkg-config; each can be overridden on the command line.
pc = $(shell pkg-config $(1) $(2) 2>/dev/null)
ZMQ_CFLAGS   ?= $(call pc,--cflags,libzmq)
ZMQ_LIBS     ?= $(call pc,--libs,libzmq)
PBC_CFLAGS   ?= $(call pc,--cflags,libprotobuf-c)
PBC_LIBS     ?= $(call pc,--libs,libprotobuf-c)
MHD_CFLAGS   ?= $(call pc,--cflags,libmicrohttpd)
MHD_LIBS     ?= $(call pc,--libs,libmicrohttpd)
Z_CFLAGS     ?= $(call pc,--cflags,zlib)
Z_LIBS       ?= $(call pc,--libs,zlib)
XXH_CFLAGS   ?= $(call pc,--cflags,libxxhash)
XXH_LIBS     ?= $(call pc,--libs,libxxhash)
NGHTTP2_CFLAGS ?= $(call pc,--cflags,libnghttp2)
NGHTTP2_LIBS   ?= $(call pc,--libs,libnghttp2)
JSONC_CFLAGS ?= $(call pc,--cflags,json-c)
JSONC_LIBS   ?= $(call pc,--libs,json-c)
CURL_CFLAGS  ?= $(call pc,--cflags,libcurl)
CURL_LIBS    ?= $(call pc,--libs,libcurl)
SNAPPY_LIBS  ?= $(call pc,--libs,snappy)
# GnuTLS: only the unit runner, whose TLS receiver checks client certificates.
GNUTLS_CFLAGS ?= $(call pc,--cflags,gnutls)
GNUTLS_LIBS  ?= $(call pc,--libs,gnutls)
CHECK_CFLAGS ?= $(call pc,--cflags,check)
CHECK_LIBS   ?= $(call pc,--libs,check)
# Debian's iniparser ships no .pc file.
INI_CFLAGS   ?= $(if $(call pc,--exists,iniparser),$(call pc,--cflags,iniparser),-I/usr/include/iniparser)
INI_LIBS     ?= $(if $(call pc,--exists,iniparser),$(call pc,--libs,iniparser),-liniparser)

# Debian packages `make deps` installs (binary name or header -> package).
DEB_PKGS := build-essential pkg-config libzmq3-dev libprotobuf-c-dev protobuf-c-compiler \
            libiniparser-dev check libsubunit-dev libmicrohttpd-dev zlib1g-dev libxxhash-dev \
            libjson-c-dev curl prometheus protobuf-compiler python3-zmq python3-protobuf \
            python3-flask python3-prometheus-client systemd procps chromium debhelper lintian \
            libnghttp2-dev python3-grpcio protobuf-compiler-grpc libcurl4-openssl-dev \
            libsnappy-dev victoria-metrics libgnutls28-dev

override CPPFLAGS += -I. -Ibroker -Iplugins -I$(BUILD)/gen -DOB_VERSION='"$(VERSION)"'
override CFLAGS   += -std=c11 -D_POSIX_C_SOURCE=200809L -O2 -g -pthread \
                     -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
                     -Wmissing-prototypes -Wformat=2 -Wno-format-nonliteral
override LDFLAGS  += -pthread
PLUGIN_ZDEFS      := -Wl,-z,defs

ifeq ($(SAN),1)
override CFLAGS  += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
override LDFLAGS += -fsanitize=address,undefined
# Sanitized plugins resolve the sanitizer runtime from the (sanitized) host.
PLUGIN_ZDEFS :=
endif

# Filled by the fragments.
GEN_HDRS      :=
GEN_SRCS      :=
BROKER_SRCS   :=
PLUGIN_NAMES  :=
TEST_PLUGIN_NAMES :=
UNIT_SRCS     :=
CLIENT_TARGETS :=
ALL_OBJS      :=
ALL_TARGETS   :=

include proto/module.mk
include broker/module.mk
include plugins/module.mk
include clients/module.mk
include tests/module.mk
include bench/module.mk
include tools/module.mk
include etc/module.mk

$(BUILD)/%.o: %.c | $(GEN_HDRS)
	@mkdir -p $(@D)
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) -MMD -MP -c $< -o $@

-include $(ALL_OBJS:.o=.d)

.PHONY: all deps run check check-plain check-san unit integration interop bench install uninstall deb clean asan info
all: $(ALL_TARGETS)

deps:
	@scripts/deps.sh $(DEB_PKGS)

run: deps
	$(MAKE) all
	$(BUILD)/otlp-broker -c etc/otlp-broker.ini -o translator.plugin_dir=$(BUILD)/plugins

# make check: plain build, every test; then the same tests under ASan/UBSan.
check: deps
	$(MAKE) check-plain
	$(MAKE) check-san
	$(MAKE) tsan

check-plain: all
	$(MAKE) unit integration interop

check-san:
	$(MAKE) BUILD=build/asan SAN=1 all
	$(MAKE) BUILD=build/asan SAN=1 unit integration interop

asan: check-san

info:
	@for p in libzmq libprotobuf-c libmicrohttpd libnghttp2 zlib libxxhash libcurl check; do \
	  pkg-config --exists $$p || echo "missing: $$p (run 'make deps')"; done

print-%:
	@echo '$*=$($*)'

clean:
	rm -rf build
