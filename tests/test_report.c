/* test_report.c - the runner's Prometheus, JSON and text renderings of a
 * hand-made run: families with HELP/TYPE, label escaping, series per MX
 * child, no timestamps, JSON escaping. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "runner/report.h"

static struct target tgt[2];
static struct run_item items[3];
static struct run run;

static void make_run(void)
{
	memset(tgt, 0, sizeof(tgt));
	target_defaults(&tgt[0]);
	target_defaults(&tgt[1]);
	tgt[0].name = (char *)"primary \"mx\"\\1";
	tgt[0].cfg.host = (char *)"mx1.example.org";
	tgt[0].nlabels = 1;
	tgt[0].labels[0].name = (char *)"site";
	tgt[0].labels[0].value = (char *)"line\nbreak";
	tgt[1].name = (char *)"all-mx";
	tgt[1].cfg.mx_domain = (char *)"example.org";

	memset(items, 0, sizeof(items));
	items[0] = (struct run_item){ .target = &tgt[0], .kind = CK_BANNER };
	result_init(&items[0].r, "BANNER", "mx1.example.org", 25);
	snprintf(items[0].r.address, sizeof(items[0].r.address), "192.0.2.10");
	items[0].r.t.connect = 0.012;
	items[0].r.t.banner = 0.041;
	items[0].r.t.total = 0.05;
	items[0].r.starttls_offered = 1;

	items[1] = (struct run_item){ .target = &tgt[0], .kind = CK_CERT };
	result_init(&items[1].r, "CERT", "mx1.example.org", 25);
	items[1].r.ntls = 2;
	result_tls(&items[1].r, 0);
	snprintf(items[1].r.tls[0].version_name, 16, "TLSv1.3");
	items[1].r.tls[0].ncerts = 2;
	items[1].r.tls[0].chain[0].not_after = 1900000000;
	items[1].r.tls[0].chain[1].not_after = 1850000000;
	items[1].r.tls[1].ncerts = 1;
	items[1].r.tls[1].chain[0].not_after = 1800000000;
	items[1].r.tls[1].verify_code = 10;
	items[1].r.t.total = 0.1;

	items[2] = (struct run_item){ .target = &tgt[1], .kind = CK_PORT };
	result_init(&items[2].r, "PORT", "example.org", 25);
	items[2].r.state = STATE_CRITICAL;
	items[2].r.children = calloc(2, sizeof(struct result));
	items[2].r.nchildren = 2;
	result_init(&items[2].r.children[0], "PORT", "mx1.example.org", 25);
	snprintf(items[2].r.children[0].address, 48, "192.0.2.10");
	items[2].r.children[0].t.total = 0.01;
	result_init(&items[2].r.children[1], "PORT", "mx2.example.org", 25);
	snprintf(items[2].r.children[1].address, 48, "2001:db8::25");
	items[2].r.children[1].state = STATE_CRITICAL;
	result_raise(&items[2].r.children[1], STATE_CRITICAL, "connect: Connection refused");
	items[2].r.children[1].t.total = 0.02;

	run = (struct run){ .started = 1795000000, .duration = 1.5, .nitems = 3, .items = items };
}

static void free_run(void)
{
	for (int i = 0; i < 3; i++)
		result_free(&items[i].r);
}

static void test_prometheus(void **state)
{
	struct strbuf b;
	const char *s;
	int n;

	(void)state;
	make_run();
	strbuf_init(&b, 1 << 20);
	report_prometheus(&run, "edge", &b);
	s = strbuf_str(&b);
	assert_non_null(strstr(s, "# HELP mtaprobe_check_state State of the check"));
	assert_non_null(strstr(s, "# TYPE mtaprobe_check_state gauge\n"));
	/* escaped label values, user labels after the built-in ones */
	assert_non_null(strstr(
		s,
		"mtaprobe_check_state{target=\"primary \\\"mx\\\"\\\\1\",check=\"banner\","
		"host=\"mx1.example.org\",address=\"192.0.2.10\",port=\"25\",site=\"line\\nbreak\"} 0\n"));
	/* one series per MX child, none for the parent */
	assert_non_null(strstr(
		s,
		"mtaprobe_check_state{target=\"all-mx\",check=\"port\",host=\"mx2.example.org\","
		"address=\"2001:db8::25\",port=\"25\"} 2\n"));
	assert_non_null(strstr(
		s,
		"mtaprobe_check_success{target=\"all-mx\",check=\"port\",host=\"mx1.example.org\","
		"address=\"192.0.2.10\",port=\"25\"} 1\n"));
	assert_null(strstr(s, "host=\"example.org\""));
	/* phases only where reached */
	assert_non_null(strstr(s, "mtaprobe_banner_duration_seconds{target=\"primary"));
	assert_null(strstr(s, "mtaprobe_banner_duration_seconds{target=\"all-mx\""));
	assert_non_null(strstr(
		s,
		"mtaprobe_starttls_offered{target=\"primary \\\"mx\\\"\\\\1\",check=\"banner\""));
	/* certificates: earliest leaf of the two, earliest in any chain, not verified */
	assert_non_null(strstr(
		s,
		"mtaprobe_cert_not_after_timestamp_seconds{target=\"primary \\\"mx\\\"\\\\1\","
		"check=\"cert\",host=\"mx1.example.org\",address=\"\",port=\"25\",site=\"line\\nbreak\"} 1800000000\n"));
	assert_non_null(strstr(s, "mtaprobe_cert_chain_earliest_not_after_timestamp_seconds{"));
	assert_non_null(strstr(s, "} 1800000000\n# HELP mtaprobe_cert_verified"));
	assert_non_null(strstr(
		s,
		"mtaprobe_tls_version_info{target=\"primary \\\"mx\\\"\\\\1\",check=\"cert\","
		"host=\"mx1.example.org\",address=\"\",port=\"25\",site=\"line\\nbreak\",version=\"TLSv1.3\"} 1\n"));
	/* the run-level series carry the config's name, and only that */
	assert_non_null(strstr(s, "mtaprobe_run_timestamp_seconds{config=\"edge\"} 1795000000\n"));
	assert_non_null(strstr(s, "mtaprobe_run_duration_seconds{config=\"edge\"} 1.500000\n"));
	assert_non_null(strstr(s,
			       "# TYPE mtaprobe_run_timestamp_seconds gauge\n"
			       "mtaprobe_run_timestamp_seconds{config=\"edge\"} "));
	n = 0;
	for (const char *p = strstr(s, "config="); p; p = strstr(p + 1, "config="))
		n++;
	assert_int_equal(n, 2); /* no target's series has it */
	strbuf_free(&b);
	free_run();
}

/* Two configs' textfiles in one node_exporter directory: the run-level
 * series differ by the config label; its value is escaped like any other. */
static void test_prometheus_config_label(void **state)
{
	struct strbuf b;
	const char *s;

	(void)state;
	make_run();
	strbuf_init(&b, 1 << 20);
	report_prometheus(&run, "mail \"fra1\"\\\nx", &b);
	s = strbuf_str(&b);
	assert_non_null(
		strstr(s,
		       "mtaprobe_run_timestamp_seconds{config=\"mail \\\"fra1\\\"\\\\\\nx\"} "
		       "1795000000\n"));
	assert_non_null(
		strstr(s,
		       "mtaprobe_run_duration_seconds{config=\"mail \\\"fra1\\\"\\\\\\nx\"} "
		       "1.500000\n"));
	/* the file still ends with the run duration (tests/integration_runner.sh) */
	assert_string_equal(s + strlen(s) - strlen("} 1.500000\n"), "} 1.500000\n");
	strbuf_free(&b);
	free_run();
}

/* The failure a check ended on: kind and step as labels / a JSON object,
 * only for checks that failed. */
static void test_error(void **state)
{
	struct strbuf b;
	const char *s;

	(void)state;
	make_run();
	err_set(&items[2].r.children[1].err, ERR_CONNECT, "connect", "Connection \"refused\"");
	strbuf_init(&b, 1 << 20);
	report_prometheus(&run, "edge", &b);
	s = strbuf_str(&b);
	assert_non_null(strstr(s, "# TYPE mtaprobe_check_error_info gauge\n"));
	assert_non_null(strstr(
		s,
		"mtaprobe_check_error_info{target=\"all-mx\",check=\"port\",host=\"mx2.example.org\","
		"address=\"2001:db8::25\",port=\"25\",kind=\"refused\",step=\"connect\"} 1\n"));
	assert_null(strstr(s, "mtaprobe_check_error_info{target=\"primary"));
	strbuf_free(&b);
	strbuf_init(&b, 1 << 20);
	report_json(&run, &b);
	s = strbuf_str(&b);
	assert_non_null(strstr(s,
			       "\"error\": {\"kind\": \"refused\", \"step\": \"connect\", "
			       "\"message\": \"Connection \\\"refused\\\"\"}"));
	/* only the one check that failed */
	assert_null(strstr(strstr(s, "\"error\"") + 1, "\"error\""));
	strbuf_free(&b);
	free_run();
}

static void test_json(void **state)
{
	struct strbuf b;
	const char *s;

	(void)state;
	make_run();
	strbuf_init(&b, 1 << 20);
	report_json(&run, &b);
	s = strbuf_str(&b);
	assert_non_null(strstr(
		s,
		"\"run\": {\"timestamp\": 1795000000, \"duration_seconds\": 1.500000, \"checks\": 3}"));
	assert_non_null(
		strstr(s, "{\"target\": \"primary \\\"mx\\\"\\\\1\", \"check\": \"banner\""));
	assert_non_null(strstr(
		s,
		"\"children\": [{\"target\": \"all-mx\", \"check\": \"port\", \"host\": \"mx1.example.org\""));
	assert_non_null(strstr(
		s,
		"\"state\": \"CRITICAL\", \"exit_code\": 2, \"summary\": \"mx2.example.org:25 connect: Connection refused\""));
	assert_non_null(strstr(s, "\"verified\": false"));
	strbuf_free(&b);
	free_run();
}

static void test_text(void **state)
{
	struct strbuf b;

	(void)state;
	make_run();
	strbuf_init(&b, 1 << 20);
	report_text(&run, false, &b);
	assert_non_null(strstr(b.s, "TARGET"));
	assert_non_null(
		strstr(b.s, "all-mx           port     mx2.example.org          2001:db8::25"));
	assert_non_null(strstr(b.s, "CRITICAL connect: Connection refused"));
	assert_null(strstr(b.s, "\033["));
	assert_non_null(strstr(b.s, "3 checks in 1.50s: 2 OK, 0 WARNING, 1 CRITICAL, 0 UNKNOWN"));
	strbuf_free(&b);
	strbuf_init(&b, 1 << 20);
	report_text(&run, true, &b);
	assert_non_null(strstr(b.s, "\033[31mCRITICAL"));
	strbuf_free(&b);
	free_run();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_prometheus), cmocka_unit_test(test_prometheus_config_label),
		cmocka_unit_test(test_json),	   cmocka_unit_test(test_error),
		cmocka_unit_test(test_text),
	};
	return cmocka_run_group_tests_name("report", tests, NULL, NULL);
}
