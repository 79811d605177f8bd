/* test_output.c - Nagios output: first line, perfdata grammar, long output,
 * aggregation over addresses. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "lib/nagios.h"

static char *render(const struct result *r, int v, struct strbuf *b)
{
	strbuf_init(b, 1 << 16);
	nagios_output(r, v, b);
	return b->s;
}

static void test_perf_item_grammar(void **state)
{
	static const struct {
		struct perf p;
		const char *prefix, *out;
	} t[] = {
		{ { "time", 0.041, "s", 6, "2", "5", true, 0 }, NULL, "time=0.041000s;2;5;0;" },
		{ { "connect", 0.0012345, "s", 6, "", "", true, 0 },
		  NULL,
		  "connect=0.001234s;;;0;" },
		{ { "size", 10240000, "B", 0, "", "", true, 0 }, NULL, "size=10240000B;;;0;" },
		{ { "days", 12, "", 0, "30:", "14:", false, 0 }, NULL, "days=12;30:;14:;;" },
		{ { "time", 1, "s", 3, "", "", true, 0 },
		  "mx.example.org_192.0.2.1",
		  "mx.example.org_192.0.2.1_time=1.000s;;;0;" },
		{ { "time", 1, "s", 3, "", "", true, 0 },
		  "mx.example.org_2001:db8::1",
		  "'mx.example.org_2001:db8::1_time'=1.000s;;;0;" },
		{ { "a b=c'd", 1, "", 0, "", "", false, 0 }, NULL, "a_b_c_d=1;;;;" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct strbuf b;

		strbuf_init(&b, 1024);
		nagios_perf_item(&b, t[i].prefix, &t[i].p);
		assert_string_equal(strbuf_str(&b), t[i].out);
		strbuf_free(&b);
	}
}

static void test_first_line_ok(void **state)
{
	struct result r;
	struct strbuf b;
	struct range w, c;
	char why[64];

	(void)state;
	result_init(&r, "BANNER", "mx1.example.org", 25);
	snprintf(r.target, sizeof(r.target), "mx1.example.org[192.0.2.10]:25");
	snprintf(r.facts, sizeof(r.facts), "220 mx1.example.org ESMTP (0.041s)");
	r.t.connect = 0.012;
	r.t.banner = 0.041;
	r.t.total = 0.05;
	range_parse("2", &w, why, sizeof(why));
	range_parse("5", &c, why, sizeof(why));
	result_perf_timings(&r, "banner", &w, &c);
	strbuf_printf(&r.detail, "extension: PIPELINING\n");
	render(&r, 0, &b);
	assert_string_equal(
		strbuf_str(&b),
		"MTA BANNER OK - mx1.example.org[192.0.2.10]:25 220 mx1.example.org ESMTP (0.041s)"
		" | connect=0.012000s;;;0; banner=0.041000s;2;5;0; time=0.050000s;;;0;\n");
	strbuf_free(&b);
	render(&r, 1, &b);
	assert_non_null(strstr(strbuf_str(&b), "\nextension: PIPELINING\n"));
	strbuf_free(&b);
	result_free(&r);
}

static void test_problems_ordered_by_severity(void **state)
{
	struct result r;
	struct strbuf b;

	(void)state;
	result_init(&r, "BANNER", "mx", 25);
	snprintf(r.facts, sizeof(r.facts), "220 mx");
	result_raise(&r, STATE_WARNING, "extension SIZE not advertised");
	result_raise(&r, STATE_CRITICAL, "greeting took 6.000s (critical 5)");
	assert_int_equal(r.state, STATE_CRITICAL);
	render(&r, 0, &b);
	assert_string_equal(strbuf_str(&b),
			    "MTA BANNER CRITICAL - mx:25 greeting took 6.000s (critical 5); "
			    "extension SIZE not advertised; 220 mx\n");
	strbuf_free(&b);
	result_free(&r);
}

static void test_state_worst(void **state)
{
	(void)state;
	assert_int_equal(state_worst(STATE_OK, STATE_WARNING), STATE_WARNING);
	assert_int_equal(state_worst(STATE_CRITICAL, STATE_WARNING), STATE_CRITICAL);
	assert_int_equal(state_worst(STATE_UNKNOWN, STATE_OK), STATE_UNKNOWN);
	assert_int_equal(state_worst(STATE_UNKNOWN, STATE_WARNING), STATE_WARNING);
	assert_int_equal(state_worst(STATE_CRITICAL, STATE_UNKNOWN), STATE_CRITICAL);
	assert_string_equal(state_name(STATE_UNKNOWN), "UNKNOWN");
}

static void test_children(void **state)
{
	struct result r;
	struct strbuf b;
	const char *s;

	(void)state;
	result_init(&r, "PORT", "mx.example.org", 25);
	r.children = calloc(2, sizeof(*r.children));
	r.nchildren = 2;
	result_init(&r.children[0], "PORT", "mx.example.org", 25);
	snprintf(r.children[0].address, 48, "127.0.0.1");
	snprintf(r.children[0].target, 320, "mx.example.org[127.0.0.1]:25");
	snprintf(r.children[0].facts, 512, "connected in 0.001s");
	result_perf(&r.children[0], "time", 0.001, "s", 3, NULL, NULL);
	result_init(&r.children[1], "PORT", "mx.example.org", 25);
	snprintf(r.children[1].address, 48, "::1");
	snprintf(r.children[1].target, 320, "mx.example.org[::1]:25");
	result_raise(&r.children[1], STATE_CRITICAL, "connect: Connection refused");
	result_perf(&r.children[1], "time", 0.002, "s", 3, NULL, NULL);
	r.state = STATE_CRITICAL;
	s = render(&r, 0, &b);
	assert_string_equal(
		s,
		"MTA PORT CRITICAL - mx.example.org: 1 of 2 addresses failed: "
		"mx.example.org[::1]:25 connect: Connection refused | "
		"mx.example.org_127.0.0.1_time=0.001s;;;0; 'mx.example.org_::1_time'=0.002s;;;0;\n"
		"[OK] mx.example.org[127.0.0.1]:25 connected in 0.001s\n"
		"[CRITICAL] mx.example.org[::1]:25 connect: Connection refused\n");
	strbuf_free(&b);
	result_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_perf_item_grammar),
		cmocka_unit_test(test_first_line_ok),
		cmocka_unit_test(test_problems_ordered_by_severity),
		cmocka_unit_test(test_state_worst),
		cmocka_unit_test(test_children),
	};
	return cmocka_run_group_tests_name("output", tests, NULL, NULL);
}
