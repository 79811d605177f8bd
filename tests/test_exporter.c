/* test_exporter.c - mtaprobe --listen without HTTP: target= and the timeout
 * header parsed (and refused) as documented, the routes, the 400 lines
 * quoting values safely, /metrics counting, and the probe slots: a request
 * beyond --max-probes waits in line, and is answered 503 when no slot
 * frees within half its budget.  The only server is a loopback socket of
 * the test's own that never greets. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

#include "runner/exporter.h"
#include "lib/deadline.h"

static void test_parse_target(void **state)
{
	static const struct {
		const char *in, *host;
		int port;
	} good[] = {
		{ "mx.example.org", "mx.example.org", 0 },
		{ "mx.example.org:2525", "mx.example.org", 2525 },
		{ "192.0.2.1", "192.0.2.1", 0 },
		{ "192.0.2.1:465", "192.0.2.1", 465 },
		{ "[2001:db8::1]:25", "2001:db8::1", 25 },
		{ "[::1]", "::1", 0 },
		{ "2001:db8::1", "2001:db8::1", 0 }, /* more than one colon: no port */
	};
	static const struct {
		const char *in;
		size_t len; /* 0: strlen */
		const char *why;
	} bad[] = {
		{ "", 0, "target= is empty" },
		{ "a b", 0, "'target' must be a host name, not 'a b'" },
		{ "a\0b", 3, "'target' must be a host name, not 'a?b' (control characters" },
		{ "a\nb:25", 0, "not 'a?b' (control characters are not allowed)" },
		{ "mx.example.org:0", 0, "'target's port' must be an integer 1-65535, not '0'" },
		{ "mx.example.org:65536", 0, "not '65536'" },
		{ "mx.example.org:", 0, "'target's port' must be an integer 1-65535, not ''" },
		{ "mx.example.org:smtp", 0, "not 'smtp'" },
		{ "smtp://mx.example.org:25", 0,
		  "target 'smtp://mx.example.org:25' is a URL, not HOST or HOST:PORT" },
		{ "[::1", 0, "target '[::1' is not [IPv6] or [IPv6]:PORT" },
		{ "[mx.example.org]:25", 0, "is not [IPv6] or [IPv6]:PORT" },
		{ "[::1]25", 0, "is not [IPv6] or [IPv6]:PORT" },
		{ "[]", 0, "is not [IPv6] or [IPv6]:PORT" },
		{ "[::1]:99999", 0, "not '99999'" },
	};
	char why[512], *host;
	int port;

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		if (exporter_parse_target(good[i].in, strlen(good[i].in), &host, &port, why,
					  sizeof(why)) != 0)
			fail_msg("'%s' refused: %s", good[i].in, why);
		assert_string_equal(host, good[i].host);
		assert_int_equal(port, good[i].port);
		free(host);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		size_t len = bad[i].len ? bad[i].len : strlen(bad[i].in);

		why[0] = '\0';
		if (exporter_parse_target(bad[i].in, len, &host, &port, why, sizeof(why)) != -1)
			fail_msg("case %zu accepted", i);
		assert_null(host);
		if (strstr(why, bad[i].why) == NULL)
			fail_msg("case %zu: '%s', wanted '%s'", i, why, bad[i].why);
		for (const char *p = why; *p; p++)
			assert_true((unsigned char)*p >= 0x20);
	}
}

static void test_budget(void **state)
{
	char why[256];

	(void)state;
	assert_true(exporter_budget(NULL, 10, why, sizeof(why)) == 10);
	assert_true(exporter_budget("10", 30, why, sizeof(why)) == 9.5);
	assert_true(exporter_budget("10", 5, why, sizeof(why)) == 5); /* the module caps it */
	assert_true(exporter_budget("9.75", 30, why, sizeof(why)) == 9.25);
	assert_true(exporter_budget("0.8", 30, why, sizeof(why)) == 0.4); /* at most half off */
	assert_true(exporter_budget("1", 30, why, sizeof(why)) == 0.5);
	for (const char *const *v = (const char *const[]){ "", "0", "-1", "abc", "1e3", "inf",
							   "nan", "1.2.3", " 5", "0x10", NULL };
	     *v; v++) {
		why[0] = '\0';
		if (exporter_budget(*v, 10, why, sizeof(why)) != -1)
			fail_msg("'%s' taken", *v);
		assert_non_null(strstr(why, "X-Prometheus-Scrape-Timeout-Seconds: '"));
	}
}

/* ---- requests without a server --------------------------------------------- */

struct fake {
	const char *target, *module, *timeout; /* NULL: absent */
	size_t target_len;		       /* 0: strlen */
};

static const char *fake_arg(void *ctx, const char *name, size_t *len)
{
	struct fake *f = ctx;
	const char *v = strcmp(name, "target") == 0   ? f->target
			: strcmp(name, "module") == 0 ? f->module
						      : NULL;

	*len = v ? (strcmp(name, "target") == 0 && f->target_len ? f->target_len : strlen(v)) : 0;
	return v;
}

static const char *fake_header(void *ctx, const char *name)
{
	struct fake *f = ctx;

	return strcmp(name, "X-Prometheus-Scrape-Timeout-Seconds") == 0 ? f->timeout : NULL;
}

static int get(struct exporter *x, const char *method, const char *path, struct fake *f,
	       struct exporter_response *rs)
{
	struct fake none = { 0 };
	struct exporter_request rq = { method, path, fake_arg, fake_header, f ? f : &none };

	exporter_handle(x, &rq, rs);
	return rs->status;
}

static void load(const char *yaml, struct config *cfg)
{
	struct probe_err e;

	if (config_load_string(yaml, strlen(yaml), "t.yaml", cfg, &e) != 0)
		fail_msg("%s", e.msg);
}

/* The value of a series in text ("name{labels} value" or "name value"). */
static double series(const char *text, const char *name)
{
	const char *p = text;
	size_t n = strlen(name);

	while ((p = strstr(p, name)) != NULL) {
		if ((p == text || p[-1] == '\n') && p[n] == ' ')
			return strtod(p + n + 1, NULL);
		p += n;
	}
	return -1;
}

static void test_routes(void **state)
{
	struct config cfg;
	struct exporter *x;
	struct exporter_response rs;
	struct fake f = { 0 };

	(void)state;
	load("modules:\n  smtp: {checks: [banner]}\n", &cfg);
	x = exporter_new(&cfg, 0);
	assert_non_null(x);

	assert_int_equal(get(x, "GET", "/-/healthy", NULL, &rs), 200);
	assert_string_equal(strbuf_str(&rs.body), "OK\n");
	strbuf_free(&rs.body);
	assert_int_equal(get(x, "HEAD", "/-/ready", NULL, &rs), 200);
	strbuf_free(&rs.body);
	assert_int_equal(get(x, "POST", "/probe", NULL, &rs), 405);
	assert_string_equal(rs.allow, "GET, HEAD");
	strbuf_free(&rs.body);
	assert_int_equal(get(x, "GET", "/nope", NULL, &rs), 404);
	strbuf_free(&rs.body);
	assert_int_equal(get(x, "GET", "/", NULL, &rs), 200);
	assert_non_null(strstr(strbuf_str(&rs.body), "modules: smtp default\n"));
	strbuf_free(&rs.body);

	/* 400s: one line each, values quoted with control bytes as '?' */
	assert_int_equal(get(x, "GET", "/probe", &f, &rs), 400);
	assert_string_equal(strbuf_str(&rs.body), "no target= (HOST or HOST:PORT)\n");
	strbuf_free(&rs.body);
	f = (struct fake){ .target = "127.0.0.1", .module = "no\033[2Jpe" };
	assert_int_equal(get(x, "GET", "/probe", &f, &rs), 400);
	assert_string_equal(strbuf_str(&rs.body), "unknown module 'no?[2Jpe'\n");
	strbuf_free(&rs.body);
	f = (struct fake){ .target = "bad\r\nX-Injected: 1", .module = "smtp" };
	assert_int_equal(get(x, "GET", "/probe", &f, &rs), 400);
	assert_string_equal(strbuf_str(&rs.body),
			    "'target' must be a host name, not "
			    "'bad??X-Injected' (control characters are not "
			    "allowed)\n");
	assert_null(strchr(strbuf_str(&rs.body), '\r'));
	assert_ptr_equal(strchr(strbuf_str(&rs.body), '\n'),
			 strbuf_str(&rs.body) + rs.body.len - 1);
	strbuf_free(&rs.body);
	f = (struct fake){ .target = "127.0.0.1", .module = "smtp", .timeout = "soon" };
	assert_int_equal(get(x, "GET", "/probe", &f, &rs), 400);
	assert_string_equal(strbuf_str(&rs.body),
			    "X-Prometheus-Scrape-Timeout-Seconds: 'soon' is not a number of "
			    "seconds above 0\n");
	strbuf_free(&rs.body);

	/* /metrics: the 400s counted, every module's counters there */
	assert_int_equal(get(x, "GET", "/metrics", NULL, &rs), 200);
	assert_string_equal(rs.content_type, "text/plain; version=0.0.4; charset=utf-8");
	assert_true(series(strbuf_str(&rs.body), "mtaprobe_exporter_bad_requests_total") == 4);
	assert_true(series(strbuf_str(&rs.body),
			   "mtaprobe_exporter_probes_total{module=\"smtp\",result=\"success\"}") ==
		    0);
	assert_true(series(strbuf_str(&rs.body),
			   "mtaprobe_exporter_probes_total{module="
			   "\"default\",result=\"overloaded\"}") == 0);
	assert_true(series(strbuf_str(&rs.body), "mtaprobe_exporter_max_probes") == 256);
	assert_true(series(strbuf_str(&rs.body), "process_start_time_seconds") > 1.5e9);
	assert_true(series(strbuf_str(&rs.body), "process_open_fds") > 2);
	assert_true(series(strbuf_str(&rs.body), "process_resident_memory_bytes") > 0);
	strbuf_free(&rs.body);
	exporter_shutdown(x);
	exporter_free(x);
	config_free(&cfg);
}

/* ---- probe slots ---------------------------------------------------------- */

/* A loopback server that never accepts: connects complete (the backlog),
 * and no greeting ever comes. */
static int mute_server(int *port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t sl = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(fd, 64), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
	*port = ntohs(sa.sin_port);
	return fd;
}

struct probe_job {
	struct exporter *x;
	struct fake f;
	char target[32];
	int64_t start_us, ms; /* when it was asked, how long the answer took */
	struct exporter_response rs;
};

static void *probe_thread(void *arg)
{
	struct probe_job *j = arg;
	int64_t now = mono_now_us();

	if (now < j->start_us) /* every job starts at its own time, not the thread's */
		usleep((useconds_t)(j->start_us - now));
	j->f.target = j->target;
	get(j->x, "GET", "/probe", &j->f, &j->rs);
	j->ms = (mono_now_us() - j->start_us) / 1000;
	return NULL;
}

/* --max-probes 1: the first probe (budget 0.5 s) holds the slot for its
 * whole budget against a mute server; the second (budget 0.4 s: it waits
 * at most 0.2 s) gets 503 without running; the third (budget 1.5 s: it may
 * wait 0.75 s) gets the slot when the first ends and runs in what is left:
 * a failed probe (timeout), answered within its budget. */
static void test_slots(void **state)
{
	struct config cfg;
	struct exporter *x;
	struct probe_job j[3] = { 0 };
	pthread_t tid[3];
	struct exporter_response rs;
	int port, fd = mute_server(&port);
	int64_t t0;
	const char *b;

	(void)state;
	load("modules:\n  mute: {checks: [banner], timeout: 5}\n", &cfg);
	x = exporter_new(&cfg, 1);
	assert_non_null(x);
	t0 = mono_now_us() + 20000;
	for (int i = 0; i < 3; i++) {
		j[i].x = x;
		snprintf(j[i].target, sizeof(j[i].target), "127.0.0.1:%d", port);
		j[i].f.module = "mute";
		j[i].start_us = t0 + (i ? 100000 : 0);
	}
	j[0].f.timeout = "1";	/* budget 0.5 */
	j[1].f.timeout = "0.8"; /* budget 0.4, waits 0.2 at most */
	j[2].f.timeout = "2";	/* budget 1.5, waits 0.75 at most */
	for (int i = 0; i < 3; i++)
		assert_int_equal(pthread_create(&tid[i], NULL, probe_thread, &j[i]), 0);
	for (int i = 0; i < 3; i++)
		pthread_join(tid[i], NULL);

	b = strbuf_str(&j[0].rs.body);
	assert_int_equal(j[0].rs.status, 200);
	assert_true(series(b, "probe_success") == 0);
	assert_true(series(b, "mtaprobe_probe_timeout_seconds") == 0.5);
	assert_non_null(strstr(b, "kind=\"timeout\",step=\"greeting\"} 1\n"));
	assert_in_range(j[0].ms, 450, 700);

	assert_int_equal(j[1].rs.status, 503);
	assert_non_null(strstr(strbuf_str(&j[1].rs.body), "all 1 probe slots busy"));
	assert_in_range(j[1].ms, 180, 350);

	b = strbuf_str(&j[2].rs.body);
	assert_int_equal(j[2].rs.status, 200);
	assert_true(series(b, "probe_success") == 0);
	assert_true(series(b, "mtaprobe_probe_wait_seconds") > 0.3);
	assert_in_range(j[2].ms, 1400, 1700); /* its budget: 1.5 s from when it was asked */
	for (int i = 0; i < 3; i++)
		strbuf_free(&j[i].rs.body);

	assert_int_equal(get(x, "GET", "/metrics", NULL, &rs), 200);
	b = strbuf_str(&rs.body);
	assert_true(
		series(b, "mtaprobe_exporter_probes_total{module=\"mute\",result=\"failure\"}") ==
		2);
	assert_true(series(b,
			   "mtaprobe_exporter_probes_total{module=\"mute\","
			   "result=\"overloaded\"}") == 1);
	assert_true(series(b, "mtaprobe_exporter_probes_in_flight") == 0);
	assert_true(series(b, "mtaprobe_exporter_probes_waiting") == 0);
	strbuf_free(&rs.body);

	/* shutting down: no new probe starts */
	exporter_shutdown(x);
	j[0].f.timeout = NULL;
	j[0].start_us = 0;
	probe_thread(&j[0]);
	assert_int_equal(j[0].rs.status, 503);
	assert_string_equal(strbuf_str(&j[0].rs.body), "shutting down\n");
	strbuf_free(&j[0].rs.body);
	exporter_free(x);
	config_free(&cfg);
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_target),
		cmocka_unit_test(test_budget),
		cmocka_unit_test(test_routes),
		cmocka_unit_test(test_slots),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
