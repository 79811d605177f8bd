/* test_opts.c - the shared option parser: every common option, and the
 * usage errors a user sees (exit 3, the bad option named). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <cmocka.h>

#include "cli/options.h"

/* A plugin of our own: check_banner's rows (-e/--expect among them) under
 * another name, so the messages are told apart from the real binary's. */
static const struct binary pi = {
	.prog = "check_test",
	.bit = BIN_BANNER,
	.def = &check_banner,
	.purpose = "test",
	.threshold_help = "seconds",
	.examples = "  check_test -H x\n",
};

/* Parse a NULL-terminated argv; returns rc, output in *b (caller frees). */
static int parse(struct check_cfg *cfg, struct strbuf *b, const char *const *args)
{
	char *argv[32];
	int argc = 0;

	argv[argc++] = (char *)"check_test";
	for (; *args; args++)
		argv[argc++] = (char *)*args;
	argv[argc] = NULL;
	strbuf_init(b, 1 << 16);
	return options_parse(&pi, argc, argv, cfg, b);
}

static void test_defaults(void **state)
{
	struct check_cfg cfg;
	struct strbuf b;
	const char *a[] = { "-H", "mx.example.org", NULL };

	(void)state;
	assert_int_equal(parse(&cfg, &b, a), -1);
	assert_string_equal(cfg.host, "mx.example.org");
	assert_int_equal(cfg.port, 25);
	assert_true(cfg.timeout == 10);
	assert_int_equal(cfg.timeout_state, STATE_CRITICAL);
	assert_false(cfg.warn.set);
	assert_int_equal(cfg.family, AF_UNSPEC);
	assert_null(cfg.ehlo);
	assert_int_equal(b.len, 0);
	strbuf_free(&b);
	options_free(&cfg);
}

static void test_every_option(void **state)
{
	struct check_cfg cfg;
	struct strbuf b;
	/* option and value side by side */
	/* clang-format off */
	const char *a[] = { "-H", "192.0.2.1", "-p", "587", "-6", "-t", "2.5:warning", "-w", "1",
			    "-c", "~:3", "-F", "probe.example.org", "--dns-server", "127.0.0.1:5353",
			    "--source", "127.0.0.1", "--proxy-protocol", "2", "-A", "-vvv",
			    "--expect=ESMTP", NULL };
	/* clang-format on */

	(void)state;
	assert_int_equal(parse(&cfg, &b, a), -1);
	assert_int_equal(cfg.port, 587);
	assert_int_equal(cfg.family, AF_INET6);
	assert_true(cfg.timeout == 2.5);
	assert_int_equal(cfg.timeout_state, STATE_WARNING);
	assert_true(cfg.warn.set && cfg.crit.set && cfg.crit.low_inf);
	assert_string_equal(cfg.ehlo, "probe.example.org");
	assert_string_equal(cfg.dns_servers, "127.0.0.1:5353");
	assert_string_equal(cfg.source, "127.0.0.1");
	assert_int_equal(cfg.proxy_protocol, 2);
	assert_true(cfg.all_addresses);
	assert_int_equal(cfg.verbose, 3);
	assert_string_equal(cfg.expect, "ESMTP");
	strbuf_free(&b);
	options_free(&cfg);
}

struct bad {
	const char *args[8];
	const char *says; /* substring of the first output line */
};

static const struct bad bads[] = {
	{ { NULL }, "-H/--hostname or -M/--mx is required" },
	{ { "-H", "x", "-M", "example.org", NULL },
	  "-H/--hostname and -M/--mx exclude each other" },
	{ { "-M", "exa mple.org", NULL }, "-M/--mx: 'exa mple.org' is not a domain name" },
	{ { "-H", "x", "-p", "0", NULL }, "-p/--port: '0' is not a port number" },
	{ { "-H", "x", "-p", "65536", NULL }, "-p/--port: '65536'" },
	{ { "-H", "x", "--port=25x", NULL }, "-p/--port: '25x'" },
	{ { "-H", "x", "-t", "0", NULL }, "-t/--timeout: '0'" },
	{ { "-H", "x", "-t", "-1", NULL }, "-t/--timeout: '-1'" },
	{ { "-H", "x", "-t", "10:maybe", NULL }, "-t/--timeout: '10:maybe'" },
	{ { "-H", "x", "-t", "abc", NULL }, "-t/--timeout" },
	{ { "-H", "x", "-w", "5:1", NULL }, "-w/--warning: start of range" },
	{ { "-H", "x", "-c", "abc", NULL }, "-c/--critical: 'abc' is not a range" },
	{ { "-H", "x", "--bogus", NULL }, "unknown option '--bogus'" },
	{ { "-H", "x", "-Z", NULL }, "unknown option '-Z'" },
	{ { "-H", "x", "-p", NULL }, "option '-p' needs an argument" },
	{ { "-H", "x", "--dns-server", NULL }, "option '--dns-server' needs an argument" },
	{ { "-H", "x", "--dns-server", "not-an-ip", NULL }, "--dns-server: 'not-an-ip'" },
	{ { "-H", "x", "--source", "eth0", NULL }, "--source: 'eth0' is not an IP address" },
	{ { "-H", "x", "--proxy-protocol", "3", NULL }, "--proxy-protocol: '3' must be 1 or 2" },
	{ { "-H", "x", "-F", "two words", NULL }, "-F/--ehlo: 'two words'" },
	{ { "-H", "x", "-e", "", NULL }, "-e/--expect: TEXT must not be empty" },
	{ { "-H", "x", "extra", NULL }, "unexpected argument 'extra'" },
	{ { "-H", "", NULL }, "-H/--hostname: '' is not a host name" },
};

static void test_usage_errors(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(bads) / sizeof(bads[0]); i++) {
		struct check_cfg cfg;
		struct strbuf b;
		int rc = parse(&cfg, &b, bads[i].args);
		const char *out = strbuf_str(&b);

		if (rc != 3 || strncmp(out, "MTA BANNER UNKNOWN - ", 21) != 0 ||
		    strstr(out, bads[i].says) == NULL || strstr(out, "\nUsage: check_test") == NULL)
			fail_msg("case %zu: rc %d, output '%s', wanted '%s'", i, rc, out,
				 bads[i].says);
		strbuf_free(&b);
		options_free(&cfg);
	}
}

/* check_smtp's -q/--ignore-quit-failure is taken and changes nothing: our
 * verdict never depends on the reply to QUIT. */
static void test_check_smtp_compat(void **state)
{
	struct check_cfg cfg, plain;
	struct strbuf b;
	const char *a[] = { "-H", "mx.example.org", "-q", "--ignore-quit-failure", NULL };
	const char *p[] = { "-H", "mx.example.org", NULL };

	(void)state;
	assert_int_equal(parse(&cfg, &b, a), -1);
	strbuf_free(&b);
	assert_int_equal(parse(&plain, &b, p), -1);
	strbuf_free(&b);
	assert_int_equal(cfg.verbose, plain.verbose);
	assert_int_equal(cfg.timeout_state, plain.timeout_state);
	options_free(&cfg);
	options_free(&plain);
}

static void test_help_and_version(void **state)
{
	struct check_cfg cfg;
	struct strbuf b;
	const char *h[] = { "--help", NULL }, *v[] = { "-V", NULL };

	(void)state;
	assert_int_equal(parse(&cfg, &b, h), 3);
	assert_non_null(strstr(b.s, "-H, --hostname HOST"));
	assert_non_null(strstr(b.s, "-e, --expect TEXT"));
	assert_non_null(strstr(b.s, "--proxy-protocol 1|2"));
	assert_non_null(strstr(b.s, "TCP port (default 25)"));
	assert_non_null(strstr(b.s, "Examples:"));
	assert_non_null(strstr(b.s, "-M, --mx DOMAIN"));
	strbuf_free(&b);
	options_free(&cfg);
	assert_int_equal(parse(&cfg, &b, v), 3);
	assert_string_equal(b.s, "check_test " MTAPROBE_VERSION " (mtaprobe)\n");
	strbuf_free(&b);
	options_free(&cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),	 cmocka_unit_test(test_every_option),
		cmocka_unit_test(test_usage_errors),	 cmocka_unit_test(test_check_smtp_compat),
		cmocka_unit_test(test_help_and_version),
	};
	return cmocka_run_group_tests_name("opts", tests, NULL, NULL);
}
