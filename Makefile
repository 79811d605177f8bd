# mtaprobe - one Makefile, no autotools.
#   make            release build into build/
#   make check      install missing packages (as root), sanitizer build into
#                   build/asan/, run every unit and integration test
#   make demo       real Postfix on loopback, every plugin against it
#   make bench      instructions / wall / peak RSS next to check_smtp, check_tcp
#   make fuzz       libFuzzer on every parser of outside bytes (clang), FUZZ_SECONDS each
#   make format     clang-format the sources (make check runs format-check)
#   make install    binaries into $(DESTDIR)$(PLUGINDIR)

CC       ?= cc
BUILD    ?= build
PKGS     := openssl libcares yaml-0.1
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs libcares 2>/dev/null || echo -lcares)
SSL_LIBS   := $(shell pkg-config --libs openssl 2>/dev/null || echo -lssl -lcrypto)
# libcurl: check_mta_sts's HTTPS policy fetch only (and what links every check)
CURL_LIBS  := $(shell pkg-config --libs libcurl 2>/dev/null || echo -lcurl)
# libmicrohttpd: mtaprobe --listen (runner/exporter_http.c) only
MHD_LIBS   := $(shell pkg-config --libs libmicrohttpd 2>/dev/null || echo -lmicrohttpd)
OPT      ?= -O2 -g
# Bounded buffers truncate on purpose (snprintf), so -Wformat-truncation is off.
override CFLAGS += $(OPT) -std=gnu11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wno-format-truncation -fno-common -I. $(PKG_CFLAGS) $(SAN)
# Only what a binary really uses ends up in its DT_NEEDED (each costs load time).
LDFLAGS  += $(SAN) -Wl,--as-needed
LDLIBS   += $(PKG_LIBS) -lyaml -lpthread -lm

# Where make install puts things (DESTDIR is prepended to each).  PREFIX=/usr
# is where Icinga's PluginDir and Nagios' $USER1$ look; configuration goes
# to /etc for /usr, else to PREFIX/etc.
PREFIX     ?= /usr
BINDIR     ?= $(PREFIX)/bin
PLUGINDIR  ?= $(PREFIX)/lib/nagios/plugins
LIBDIR     ?= $(PREFIX)/lib/mtaprobe
DATADIR    ?= $(PREFIX)/share
MANDIR     ?= $(DATADIR)/man
SYSCONFDIR ?= $(if $(filter /usr,$(PREFIX)),/etc,$(PREFIX)/etc)
ICINGA2DIR ?= $(DATADIR)/icinga2/include/plugins-contrib.d
NAGIOSDIR  ?= $(SYSCONFDIR)/nagios-plugins/config
UNITDIR    ?= $(PREFIX)/lib/systemd/system
TMPFILESDIR ?= $(PREFIX)/lib/tmpfiles.d
# Binaries are installed stripped; packaging passes INSTALL_STRIP= and
# lets its own tools split the debug symbols off.
INSTALL_STRIP ?= -s

# Layers, lowest first; each archive uses only those before it (tests/layers.sh):
#   lib/      the engine: deadline, net, conn, smtp, tls, dns, text, result
#   checks/   one file per check, the SMTP session steps they share, probe_run
#   cli/      the option table, getopt over it, the shared plugin main
#   runner/   config (YAML keys from the option table), scheduling, reports
#   plugins/  one small main() per plugin binary
#   tools/    build tools over the table (mkdoc: man pages, conf/ definitions)
LAYERS   := lib checks cli runner
lib_SRC    := $(filter-out lib/tls_openssl.c,$(wildcard lib/*.c))
checks_SRC := $(wildcard checks/*.c)
cli_SRC    := $(wildcard cli/*.c)
runner_SRC := $(filter-out runner/mtaprobe.c,$(wildcard runner/*.c))
HDRS     := $(wildcard lib/*.h checks/*.h cli/*.h runner/*.h)
obj       = $(patsubst %.c,$(BUILD)/obj/%.o,$(1))
ARCHIVES := $(BUILD)/librunner.a $(BUILD)/libcli.a $(BUILD)/libchecks.a $(BUILD)/libengine.a
PLUGIN_LIBS := $(BUILD)/libcli.a $(BUILD)/libchecks.a $(BUILD)/libengine.a
PLUGINS  := check_mta_port check_mta_banner check_mta_starttls check_mta_cert check_mta_relay \
	check_mta_sts
BINS     := $(PLUGINS:%=$(BUILD)/%) $(BUILD)/mtaprobe $(BUILD)/mtaprobe-tls.so
# OpenSSL lives in a module the plugins load only for TLS (lib/tls.h).
TLS_OBJ  := $(call obj,lib/tls_openssl.c lib/net.c lib/sched.c lib/deadline.c lib/err.c lib/strbuf.c lib/sanitize.c)
UNIT     := $(patsubst tests/%.c,$(BUILD)/%,$(wildcard tests/test_*.c))
# Files with UNITTEST functions (lib/unittest.h) are built once more with
# them visible, and linked into the unit tests ahead of the archives.
UNIT_OBJ := $(patsubst %.c,$(BUILD)/unit/%.o,$(shell grep -l '^UNITTEST ' $(foreach l,$(LAYERS),$(l)/*.c)))

MANPAGES := $(PLUGINS:%=$(BUILD)/man/%.1) $(BUILD)/man/mtaprobe.1
UNITS    := $(BUILD)/systemd/mtaprobe.service $(BUILD)/systemd/mtaprobe.timer \
	$(BUILD)/systemd/mtaprobe-exporter.service

.PHONY: all check unit demo bench fuzz install uninstall clean deps-build deps-test deps-demo \
	format format-check conf check-packaging deb rpm FORCE
all: $(BINS) $(BUILD)/smtpsim $(MANPAGES) $(UNITS)

$(BUILD)/obj/%.o: %.c $(HDRS)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) -fPIC -c -o $@ $<

# The TLS module's installed path is compiled into tls.o; the stamp holds
# the LIBDIR it was built for, so `make install PREFIX=...` after a plain
# `make` rebuilds it instead of installing binaries that look elsewhere.
$(BUILD)/libdir.stamp: FORCE
	@mkdir -p $(@D)
	@echo '$(LIBDIR)' | cmp -s - $@ || echo '$(LIBDIR)' > $@
$(BUILD)/obj/lib/tls.o $(BUILD)/unit/lib/tls.o: override CFLAGS += -DMTAPROBE_LIBDIR='"$(LIBDIR)"'
$(BUILD)/obj/lib/tls.o $(BUILD)/unit/lib/tls.o: $(BUILD)/libdir.stamp

$(BUILD)/unit/%.o: %.c $(HDRS)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) -DMTAPROBE_UNITTEST -c -o $@ $<

$(BUILD)/obj/lib/tls_openssl.o: lib/tls_openssl.c $(HDRS)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) -fPIC -fvisibility=hidden -c -o $@ $<

$(BUILD)/mtaprobe-tls.so: $(TLS_OBJ)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -shared -Wl,-z,defs -o $@ $^ $(SSL_LIBS) $(filter -fsanitize=%,$(SAN))

$(BUILD):
	mkdir -p $@

$(BUILD)/libengine.a: $(call obj,$(lib_SRC))
$(BUILD)/libchecks.a: $(call obj,$(checks_SRC))
$(BUILD)/libcli.a: $(call obj,$(cli_SRC))
$(BUILD)/librunner.a: $(call obj,$(runner_SRC))
$(ARCHIVES):
	rm -f $@ && ar rcs $@ $^

# The two plugins that always do TLS link OpenSSL at build time: cheaper
# than loading the module (ld.so's dlopen costs 0.8 M instructions more).
$(BUILD)/check_mta_starttls $(BUILD)/check_mta_cert: $(BUILD)/check_%: plugins/check_%.c \
		$(PLUGIN_LIBS) $(BUILD)/obj/lib/tls_openssl.o
	$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $< $(BUILD)/obj/lib/tls_openssl.o $(PLUGIN_LIBS) $(LDLIBS) $(SSL_LIBS)

# check_mta_sts does TLS always (the MX hosts), and HTTPS with libcurl.
$(BUILD)/check_mta_sts: plugins/check_mta_sts.c $(PLUGIN_LIBS) $(BUILD)/obj/lib/tls_openssl.o
	$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $< $(BUILD)/obj/lib/tls_openssl.o $(PLUGIN_LIBS) $(LDLIBS) $(CURL_LIBS) $(SSL_LIBS)

# The runner links OpenSSL too: it shares one SSL_CTX per trust configuration.
$(BUILD)/mtaprobe: runner/mtaprobe.c $(ARCHIVES) $(BUILD)/obj/lib/tls_openssl.o
	$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $< $(BUILD)/obj/lib/tls_openssl.o $(ARCHIVES) $(LDLIBS) $(CURL_LIBS) $(SSL_LIBS) $(MHD_LIBS) -lyaml

$(BUILD)/check_%: plugins/check_%.c $(PLUGIN_LIBS)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $< $(PLUGIN_LIBS) $(LDLIBS)

$(BUILD)/smtpsim: tests/smtpsim.c | $(BUILD)
	$(CC) $(CPPFLAGS) $(filter-out -D_GNU_SOURCE,$(CFLAGS)) $(LDFLAGS) -o $@ $< $(SSL_LIBS)

$(BUILD)/test_tls: tests/test_tls.c $(UNIT_OBJ) $(ARCHIVES) $(BUILD)/obj/lib/tls_openssl.o
	$(CC) $(CPPFLAGS) $(CFLAGS) -DMTAPROBE_UNITTEST $(LDFLAGS) -o $@ $< $(UNIT_OBJ) $(BUILD)/obj/lib/tls_openssl.o $(ARCHIVES) $(LDLIBS) $(CURL_LIBS) $(SSL_LIBS) -lcmocka

$(BUILD)/test_%: tests/test_%.c $(UNIT_OBJ) $(ARCHIVES)
	$(CC) $(CPPFLAGS) $(CFLAGS) -DMTAPROBE_UNITTEST $(LDFLAGS) -o $@ $< $(UNIT_OBJ) $(ARCHIVES) $(LDLIBS) $(CURL_LIBS) $(SSL_LIBS) -lcmocka

# The test build: same sources, with AddressSanitizer and UBSan.
ASAN_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined

deps-build:
	@tests/deps.sh build
deps-test:
	@tests/deps.sh test
deps-demo:
	@tests/deps.sh demo

unit: deps-build
	@$(MAKE) --no-print-directory BUILD=build/asan SAN="$(ASAN_FLAGS)" OPT="-O1 -g" $(UNIT:$(BUILD)/%=build/asan/%)

# The sanitizer build runs the tests; the release build runs once under
# valgrind (the two do not mix).
check: deps-test
	@$(MAKE) --no-print-directory BUILD=build/asan SAN="$(ASAN_FLAGS)" OPT="-O1 -g" \
		$(BINS:$(BUILD)/%=build/asan/%) build/asan/smtpsim build/asan/mkdoc \
		$(UNIT:$(BUILD)/%=build/asan/%)
	@$(MAKE) --no-print-directory all
	@tests/run_tests.sh build/asan

demo: deps-demo all
	@tests/demo.sh $(BUILD)

bench:
	@tests/deps.sh bench
	@$(MAKE) --no-print-directory all
	@tests/bench.sh $(BUILD)
	@if [ -x $(BUILD)/mtaprobe ]; then tests/bench_runner.sh $(BUILD); fi

# The packages, into build/packages (packaging/README.md).
deb:
	@tests/deps.sh packaging
	@packaging/build.sh deb build/packages
rpm:
	@tests/deps.sh packaging
	@packaging/build.sh rpm build/packages

# Builds the Debian and RPM packages in a scratch copy, lints, installs,
# runs and purges them (root; make check runs it too).
check-packaging: all
	@tests/packaging.sh $(BUILD)

fuzz:
	@tests/fuzz.sh $${FUZZ_SECONDS:-60}

# Man pages come from the option table (tools/mkdoc.c), as do the Icinga 2
# and Nagios definitions in conf/ (make conf; tests/docs.sh checks that the
# committed files are what the table gives).
$(BUILD)/mkdoc: tools/mkdoc.c $(PLUGIN_LIBS) $(BUILD)/obj/lib/tls_openssl.o
	$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $< $(BUILD)/obj/lib/tls_openssl.o $(PLUGIN_LIBS) $(LDLIBS) $(CURL_LIBS) $(SSL_LIBS)
$(BUILD)/man/%.1: $(BUILD)/mkdoc
	@mkdir -p $(@D)
	$(BUILD)/mkdoc man $* > $@.tmp && mv $@.tmp $@
conf: $(BUILD)/mkdoc
	$(BUILD)/mkdoc icinga2 > conf/icinga2/mtaprobe.conf
	$(BUILD)/mkdoc nagios > conf/nagios/mtaprobe.cfg

# The units name the installed paths; the stamp rebuilds them when those
# change (make, then make install PREFIX=/usr/local).
$(BUILD)/paths.stamp: FORCE
	@mkdir -p $(@D)
	@echo '$(BINDIR) $(SYSCONFDIR)' | cmp -s - $@ || echo '$(BINDIR) $(SYSCONFDIR)' > $@
$(BUILD)/systemd/%: packaging/systemd/%.in $(BUILD)/paths.stamp
	@mkdir -p $(@D)
	sed -e 's|@BINDIR@|$(BINDIR)|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' $< > $@

install: all $(UNITS)
	install -d $(DESTDIR)$(PLUGINDIR) $(DESTDIR)$(LIBDIR) $(DESTDIR)$(BINDIR) \
		$(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(ICINGA2DIR) $(DESTDIR)$(NAGIOSDIR) \
		$(DESTDIR)$(SYSCONFDIR)/mtaprobe $(DESTDIR)$(DATADIR)/mtaprobe/prometheus \
		$(DESTDIR)$(UNITDIR) $(DESTDIR)$(TMPFILESDIR)
	install -m 755 $(INSTALL_STRIP) $(PLUGINS:%=$(BUILD)/%) $(DESTDIR)$(PLUGINDIR)/
	install -m 755 $(INSTALL_STRIP) $(BUILD)/mtaprobe $(DESTDIR)$(BINDIR)/
	install -m 644 $(INSTALL_STRIP) $(BUILD)/mtaprobe-tls.so $(DESTDIR)$(LIBDIR)/
	install -m 644 $(MANPAGES) $(DESTDIR)$(MANDIR)/man1/
	install -m 644 conf/icinga2/mtaprobe.conf $(DESTDIR)$(ICINGA2DIR)/mtaprobe.conf
	install -m 644 conf/nagios/mtaprobe.cfg $(DESTDIR)$(NAGIOSDIR)/mtaprobe.cfg
	install -m 644 conf/prometheus/mtaprobe.rules.yml $(DESTDIR)$(DATADIR)/mtaprobe/prometheus/
	install -m 644 $(UNITS) $(DESTDIR)$(UNITDIR)/
	install -m 644 packaging/systemd/mtaprobe.tmpfiles $(DESTDIR)$(TMPFILESDIR)/mtaprobe.conf
	@# an edited configuration is never overwritten
	[ -e $(DESTDIR)$(SYSCONFDIR)/mtaprobe/mtaprobe.yaml ] || \
		install -m 644 conf/mtaprobe.yaml $(DESTDIR)$(SYSCONFDIR)/mtaprobe/mtaprobe.yaml

# Removes what install put there, except the configuration in
# SYSCONFDIR/mtaprobe (yours to delete).
uninstall:
	rm -f $(PLUGINS:%=$(DESTDIR)$(PLUGINDIR)/%) $(DESTDIR)$(BINDIR)/mtaprobe \
		$(DESTDIR)$(LIBDIR)/mtaprobe-tls.so \
		$(MANPAGES:$(BUILD)/man/%=$(DESTDIR)$(MANDIR)/man1/%) \
		$(DESTDIR)$(ICINGA2DIR)/mtaprobe.conf $(DESTDIR)$(NAGIOSDIR)/mtaprobe.cfg \
		$(DESTDIR)$(DATADIR)/mtaprobe/prometheus/mtaprobe.rules.yml \
		$(UNITS:$(BUILD)/systemd/%=$(DESTDIR)$(UNITDIR)/%) $(DESTDIR)$(TMPFILESDIR)/mtaprobe.conf
	-rmdir $(DESTDIR)$(LIBDIR) $(DESTDIR)$(DATADIR)/mtaprobe/prometheus \
		$(DESTDIR)$(DATADIR)/mtaprobe 2>/dev/null

SOURCES = $(wildcard lib/*.[ch] checks/*.[ch] cli/*.[ch] runner/*.[ch] plugins/*.[ch] tools/*.c tests/*.[ch] tests/fuzz/*.c)
format:
	clang-format -i $(SOURCES)
format-check:
	@tests/format_check.sh

clean:
	rm -rf build
