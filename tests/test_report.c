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
static struct run_item items[4];
static struct result res[4]; /* what the checks found; items keep it */
static struct run run;

static void build_run(void)
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
	memset(res, 0, sizeof(res));
	items[0] = (struct run_item){ .target = &tgt[0], .kind = CK_BANNER };
	result_init(&res[0], "BANNER", "mx1.example.org", 25);
	snprintf(res[0].address, sizeof(res[0].address), "192.0.2.10");
	res[0].t.connect = 0.012;
	res[0].t.banner = 0.041;
	res[0].t.total = 0.05;
	res[0].starttls_offered = 1;

	items[1] = (struct run_item){ .target = &tgt[0], .kind = CK_CERT };
	result_init(&res[1], "CERT", "mx1.example.org", 25);
	snprintf(res[1].address, sizeof(res[1].address), "192.0.2.10");
	res[1].t.connect = 0.02; /* banner's connect (0.012) comes first */
	res[1].ntls = 2;
	result_tls(&res[1], 0);
	snprintf(res[1].tls[0].version_name, 16, "TLSv1.3");
	res[1].tls[0].ncerts = 2;
	res[1].tls[0].chain[0].not_after = 1900000000;
	res[1].tls[0].chain[1].not_after = 1850000000;
	res[1].tls[1].ncerts = 1;
	res[1].tls[1].chain[0].not_after = 1800000000;
	res[1].tls[1].verify_code = 10;
	res[1].t.total = 0.1;

	items[2] = (struct run_item){ .target = &tgt[1], .kind = CK_PORT };
	result_init(&res[2], "PORT", "example.org", 25);
	res[2].state = STATE_CRITICAL;
	res[2].children = calloc(2, sizeof(struct result));
	res[2].nchildren = 2;
	result_init(&res[2].children[0], "PORT", "mx1.example.org", 25);
	snprintf(res[2].children[0].address, 48, "192.0.2.10");
	res[2].children[0].t.total = 0.01;
	result_init(&res[2].children[1], "PORT", "mx2.example.org", 25);
	snprintf(res[2].children[1].address, 48, "2001:db8::25");
	res[2].children[1].state = STATE_CRITICAL;
	result_raise(&res[2].children[1], STATE_CRITICAL, "connect: Connection refused");
	res[2].children[1].t.total = 0.02;

	items[3] = (struct run_item){ .target = &tgt[0], .kind = CK_RELAY };
	result_init(&res[3], "RELAY", "mx1.example.org", 25);
	snprintf(res[3].address, sizeof(res[3].address), "192.0.2.10");
	res[3].relay_tests = 3;
	res[3].relay_accepted = 1;
	res[3].relay_refused = 2;
	res[3].state = STATE_CRITICAL;
	result_raise(&res[3], STATE_CRITICAL, "OPEN RELAY");

	run = (struct run){ .started = 1795000000, .duration = 1.5, .nitems = 4, .items = items };
}

/* What the runner does when a check ends: keep its figures and words. */
static void keep_run(void)
{
	for (int i = 0; i < 4; i++)
		assert_int_equal(kept_from(&items[i].r, &res[i]), 0);
}

static void make_run(void)
{
	build_run();
	keep_run();
}

static void free_run(void)
{
	for (int i = 0; i < 4; i++) {
		kept_free(&items[i].r);
		result_free(&res[i]);
	}
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
	/* phases only where reached, one series per phase per address (no
	 * check label): connect from the first check that measured it */
	assert_non_null(strstr(s,
			       "mtaprobe_phase_duration_seconds{target=\"primary \\\"mx\\\"\\\\1\","
			       "host=\"mx1.example.org\",address=\"192.0.2.10\",port=\"25\","
			       "site=\"line\\nbreak\",phase=\"banner\"} 0.041\n"));
	assert_non_null(strstr(s, "site=\"line\\nbreak\",phase=\"connect\"} 0.012\n"));
	assert_null(strstr(s, "phase=\"connect\"} 0.02\n"));
	n = 0;
	for (const char *p = strstr(s, "phase=\"connect\""); p;
	     p = strstr(p + 1, "phase=\"connect\""))
		n++;
	assert_int_equal(n, 1);
	assert_null(strstr(s, "mtaprobe_phase_duration_seconds{target=\"all-mx\""));
	assert_null(strstr(
		s,
		"_duration_seconds{target=\"primary \\\"mx\\\"\\\\1\",check=\"banner\",host=\"mx1.example.org\",address=\"192.0.2.10\",port=\"25\",site=\"line\\nbreak\",phase"));
	assert_non_null(strstr(
		s,
		"mtaprobe_starttls_offered{target=\"primary \\\"mx\\\"\\\\1\",host=\"mx1.example.org\""));
	/* certificates: earliest leaf of the two, earliest in any chain, not verified */
	assert_non_null(strstr(
		s,
		"mtaprobe_cert_not_after_timestamp_seconds{target=\"primary \\\"mx\\\"\\\\1\","
		"host=\"mx1.example.org\",address=\"192.0.2.10\",port=\"25\",site=\"line\\nbreak\"} 1800000000\n"));
	assert_non_null(strstr(s, "mtaprobe_cert_chain_earliest_not_after_timestamp_seconds{"));
	assert_non_null(strstr(s, "} 1800000000\n# HELP mtaprobe_cert_verified"));
	assert_non_null(strstr(
		s,
		"mtaprobe_tls_version_info{target=\"primary \\\"mx\\\"\\\\1\","
		"host=\"mx1.example.org\",address=\"192.0.2.10\",port=\"25\",site=\"line\\nbreak\",version=\"TLSv1.3\"} 1\n"));
	/* relay counts, one series per outcome */
	assert_non_null(strstr(s, "site=\"line\\nbreak\",outcome=\"accepted\"} 1\n"));
	assert_non_null(strstr(s, "site=\"line\\nbreak\",outcome=\"refused\"} 2\n"));
	assert_non_null(strstr(s, "site=\"line\\nbreak\",outcome=\"tempfail\"} 0\n"));
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
	build_run();
	err_set(&res[2].children[1].err, ERR_CONNECT, "connect", "Connection \"refused\"");
	keep_run();
	strbuf_init(&b, 1 << 20);
	report_prometheus(&run, "edge", &b);
	s = strbuf_str(&b);
	assert_non_null(strstr(s, "# TYPE mtaprobe_check_error_info gauge\n"));
	assert_non_null(strstr(
		s,
		"mtaprobe_check_error_info{target=\"all-mx\",check=\"port\",host=\"mx2.example.org\","
		"address=\"2001:db8::25\",port=\"25\",kind=\"refused\",step=\"connect\"} 1\n"));
	assert_null(strstr(
		s,
		"mtaprobe_check_error_info{target=\"primary \\\"mx\\\"\\\\1\",check=\"banner\""));
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
		"\"run\": {\"timestamp\": 1795000000, \"duration_seconds\": 1.500000, \"checks\": 4}"));
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
	assert_non_null(strstr(b.s, "4 checks in 1.50s: 2 OK, 0 WARNING, 2 CRITICAL, 0 UNKNOWN"));
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
