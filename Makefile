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
OPT      ?= -O2 -g
# Bounded buffers truncate on purpose (snprintf), so -Wformat-truncation is off.
override CFLAGS += $(OPT) -std=gnu11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wno-format-truncation -fno-common -I. $(PKG_CFLAGS) $(SAN)
# Only what a binary really uses ends up in its DT_NEEDED (each costs load time).
LDFLAGS  += $(SAN) -Wl,--as-needed
LDLIBS   += $(PKG_LIBS) -lyaml -lpthread -lm

PREFIX    ?= /usr
PLUGINDIR ?= $(PREFIX)/lib/nagios/plugins

# Layers, lowest first; each archive uses only those before it (tests/layers.sh):
#   lib/      the engine: deadline, net, conn, smtp, tls, dns, text, result
#   checks/   one file per check, the SMTP session steps they share, probe_run
#   cli/      the option table, getopt over it, the shared plugin main
#   runner/   config (YAML keys from the option table), scheduling, reports
#   plugins/  one small main() per plugin binary
LAYERS   := lib checks cli runner
lib_SRC    := $(filter-out lib/tls_openssl.c,$(wildcard lib/*.c))
checks_SRC := $(wildcard checks/*.c)
cli_SRC    := $(wildcard cli/*.c)
runner_SRC := $(filter-out runner/mtaprobe.c,$(wildcard runner/*.c))
HDRS     := $(wildcard lib/*.h checks/*.h cli/*.h runner/*.h)
obj       = $(patsubst %.c,$(BUILD)/obj/%.o,$(1))
ARCHIVES := $(BUILD)/librunner.a $(BUILD)/libcli.a $(BUILD)/libchecks.a $(BUILD)/libengine.a
PLUGIN_LIBS := $(BUILD)/libcli.a $(BUILD)/libchecks.a $(BUILD)/libengine.a
PLUGINS  := check_mta_port check_mta_banner check_mta_starttls check_mta_cert check_mta_relay
BINS     := $(PLUGINS:%=$(BUILD)/%) $(BUILD)/mtaprobe $(BUILD)/mtaprobe-tls.so
LIBDIR   ?= $(PREFIX)/lib/mtaprobe
# OpenSSL lives in a module the plugins load only for TLS (lib/tls.h).
TLS_OBJ  := $(call obj,lib/tls_openssl.c lib/net.c lib/deadline.c lib/err.c lib/strbuf.c lib/sanitize.c)
UNIT     := $(patsubst tests/%.c,$(BUILD)/%,$(wildcard tests/test_*.c))
# Files with UNITTEST functions (lib/unittest.h) are built once more with
# them visible, and linked into the unit tests ahead of the archives.
UNIT_OBJ := $(patsubst %.c,$(BUILD)/unit/%.o,$(shell grep -l '^UNITTEST ' $(foreach l,$(LAYERS),$(l)/*.c)))

.PHONY: all check unit demo bench fuzz install clean deps-build deps-test format format-check
all: $(BINS) $(BUILD)/smtpsim

$(BUILD)/obj/%.o: %.c $(HDRS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -fPIC -DMTAPROBE_LIBDIR='"$(LIBDIR)"' -c -o $@ $<

$(BUILD)/unit/%.o: %.c $(HDRS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -DMTAPROBE_UNITTEST -c -o $@ $<

$(BUILD)/obj/lib/tls_openssl.o: lib/tls_openssl.c $(HDRS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -fPIC -fvisibility=hidden -c -o $@ $<

$(BUILD)/mtaprobe-tls.so: $(TLS_OBJ)
	$(CC) $(CFLAGS) $(LDFLAGS) -shared -Wl,-z,defs -o $@ $^ $(SSL_LIBS) $(filter -fsanitize=%,$(SAN))

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
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(BUILD)/obj/lib/tls_openssl.o $(PLUGIN_LIBS) $(LDLIBS) $(SSL_LIBS)

# The runner links OpenSSL too: it shares one SSL_CTX per trust configuration.
$(BUILD)/mtaprobe: runner/mtaprobe.c $(ARCHIVES) $(BUILD)/obj/lib/tls_openssl.o
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(BUILD)/obj/lib/tls_openssl.o $(ARCHIVES) $(LDLIBS) $(SSL_LIBS) -lyaml

$(BUILD)/check_%: plugins/check_%.c $(PLUGIN_LIBS)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(PLUGIN_LIBS) $(LDLIBS)

$(BUILD)/smtpsim: tests/smtpsim.c | $(BUILD)
	$(CC) $(filter-out -D_GNU_SOURCE,$(CFLAGS)) $(LDFLAGS) -o $@ $< $(SSL_LIBS)

$(BUILD)/test_tls: tests/test_tls.c $(UNIT_OBJ) $(ARCHIVES) $(BUILD)/obj/lib/tls_openssl.o
	$(CC) $(CFLAGS) -DMTAPROBE_UNITTEST $(LDFLAGS) -o $@ $< $(UNIT_OBJ) $(BUILD)/obj/lib/tls_openssl.o $(ARCHIVES) $(LDLIBS) $(SSL_LIBS) -lcmocka

$(BUILD)/test_%: tests/test_%.c $(UNIT_OBJ) $(ARCHIVES)
	$(CC) $(CFLAGS) -DMTAPROBE_UNITTEST $(LDFLAGS) -o $@ $< $(UNIT_OBJ) $(ARCHIVES) $(LDLIBS) -lcmocka

# The test build: same sources, with AddressSanitizer and UBSan.
ASAN_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined

deps-build:
	@tests/deps.sh build
deps-test:
	@tests/deps.sh test

unit: deps-build
	@$(MAKE) --no-print-directory BUILD=build/asan SAN="$(ASAN_FLAGS)" OPT="-O1 -g" $(UNIT:$(BUILD)/%=build/asan/%)

# The sanitizer build runs the tests; the release build runs once under
# valgrind (the two do not mix).
check: deps-test
	@$(MAKE) --no-print-directory BUILD=build/asan SAN="$(ASAN_FLAGS)" OPT="-O1 -g" \
		$(BINS:$(BUILD)/%=build/asan/%) build/asan/smtpsim $(UNIT:$(BUILD)/%=build/asan/%)
	@$(MAKE) --no-print-directory all
	@tests/run_tests.sh build/asan

demo: deps-test all
	@tests/demo.sh $(BUILD)

bench:
	@tests/deps.sh bench
	@$(MAKE) --no-print-directory all
	@tests/bench.sh $(BUILD)
	@if [ -x $(BUILD)/mtaprobe ]; then tests/bench_runner.sh $(BUILD); fi

fuzz:
	@tests/fuzz.sh $${FUZZ_SECONDS:-60}

install: all
	install -d $(DESTDIR)$(PLUGINDIR) $(DESTDIR)$(LIBDIR) $(DESTDIR)$(PREFIX)/bin
	install -m 755 $(PLUGINS:%=$(BUILD)/%) $(DESTDIR)$(PLUGINDIR)/
	install -m 755 $(BUILD)/mtaprobe $(DESTDIR)$(PREFIX)/bin/

	install -m 644 $(BUILD)/mtaprobe-tls.so $(DESTDIR)$(LIBDIR)/

SOURCES = $(wildcard lib/*.[ch] checks/*.[ch] cli/*.[ch] runner/*.[ch] plugins/*.[ch] tests/*.[ch] tests/fuzz/*.c)
format:
	clang-format -i $(SOURCES)
format-check:
	@tests/format_check.sh

clean:
	rm -rf build
