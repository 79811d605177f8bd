/* exporter.c - see exporter.h */
#include "runner/exporter.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "lib/deadline.h"
#include "lib/net.h"
#include "lib/unittest.h"
#include "cli/options.h"
#include "runner/report.h"
#include "runner/runner.h"

#define CT_METRICS "text/plain; version=0.0.4; charset=utf-8"
#define CT_TEXT	   "text/plain; charset=utf-8"

enum { RES_SUCCESS, RES_FAILURE, RES_OVERLOADED, NRESULTS };
static const char *const result_names[NRESULTS] = { "success", "failure", "overloaded" };

/* A request waiting for a slot: the one who frees a slot hands it to the
 * first in line (granted), so the line is first come, first served. */
struct waiter {
	struct waiter *next;
	pthread_cond_t cv;
	bool granted;
};

struct exporter {
	const struct config *cfg;
	struct runner_tls *tls;	    /* one SSL_CTX per trust configuration, for every probe */
	struct runner_service *svc; /* where the probes' checks run (NULL: on their threads) */
	int max_probes;
	double started; /* wall clock, for process_start_time_seconds */
	pthread_condattr_t cv_attr;

	pthread_mutex_t mu; /* everything below */
	int running, waiting;
	bool stopping;
	struct waiter *head, *tail;
	uint64_t (*probes)[NRESULTS]; /* per module */
	uint64_t bad_requests;
};

struct exporter *exporter_new(const struct config *cfg, int max_probes)
{
	struct exporter *x = calloc(1, sizeof(*x));
	struct timespec now;

	if (x == NULL)
		return NULL;
	x->cfg = cfg;
	x->max_probes = max_probes > 0 ? max_probes : EXPORTER_MAX_PROBES;
	x->probes = calloc(cfg->nmodules ? cfg->nmodules : 1, sizeof(*x->probes));
	x->tls = runner_tls_new();
	if (x->probes == NULL || x->tls == NULL) {
		runner_tls_free(x->tls);
		free(x->probes);
		free(x);
		return NULL;
	}
	/* A probe's connection thread waits for its checks, which run as
	 * fibers on a scheduler per CPU beside every other probe's, instead
	 * of a thread started per check (a fifth less CPU for a module of
	 * five checks).  Without it, the checks run on threads of their own. */
	x->svc = runner_service_new();
	clock_gettime(CLOCK_REALTIME, &now);
	x->started = (double)now.tv_sec + (double)now.tv_nsec / 1e9;
	pthread_condattr_init(&x->cv_attr);
	pthread_condattr_setclock(&x->cv_attr, CLOCK_MONOTONIC);
	pthread_mutex_init(&x->mu, NULL);
	return x;
}

void exporter_shutdown(struct exporter *x)
{
	pthread_mutex_lock(&x->mu);
	x->stopping = true;
	for (struct waiter *w = x->head; w; w = w->next)
		pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&x->mu);
}

void exporter_free(struct exporter *x)
{
	if (x == NULL)
		return;
	runner_service_free(x->svc);
	runner_tls_free(x->tls);
	pthread_mutex_destroy(&x->mu);
	pthread_condattr_destroy(&x->cv_attr);
	free(x->probes);
	free(x);
}

/* ---- slots --------------------------------------------------------------- */

/* A slot, waiting in line until the monotonic time until_us at most.
 * 0, or -1: none came in time (or the exporter is stopping). */
static int slot_take(struct exporter *x, int64_t until_us)
{
	struct waiter w = { 0 };
	struct timespec at = { (time_t)(until_us / 1000000), (long)(until_us % 1000000) * 1000 };
	int rc = 0;

	pthread_mutex_lock(&x->mu);
	if (!x->stopping && x->running < x->max_probes && x->head == NULL) {
		x->running++;
		pthread_mutex_unlock(&x->mu);
		return 0;
	}
	pthread_cond_init(&w.cv, &x->cv_attr);
	if (x->tail)
		x->tail->next = &w;
	else
		x->head = &w;
	x->tail = &w;
	x->waiting++;
	while (!w.granted && !x->stopping && rc != ETIMEDOUT)
		rc = pthread_cond_timedwait(&w.cv, &x->mu, &at);
	x->waiting--;
	if (!w.granted) { /* still in line: leave it */
		struct waiter **pp = &x->head, *prev = NULL;

		while (*pp != &w) {
			prev = *pp;
			pp = &(*pp)->next;
		}
		*pp = w.next;
		if (x->tail == &w)
			x->tail = prev;
	}
	pthread_mutex_unlock(&x->mu);
	pthread_cond_destroy(&w.cv);
	return w.granted ? 0 : -1;
}

/* The slot goes to the first in line, or back to the pool. */
static void slot_give(struct exporter *x)
{
	pthread_mutex_lock(&x->mu);
	if (x->head && !x->stopping) {
		struct waiter *w = x->head;

		x->head = w->next;
		if (x->head == NULL)
			x->tail = NULL;
		w->granted = true; /* it keeps our slot: running stays */
		pthread_cond_signal(&w->cv);
	} else {
		x->running--;
	}
	pthread_mutex_unlock(&x->mu);
}

static void count(struct exporter *x, const struct module *m, int result)
{
	pthread_mutex_lock(&x->mu);
	if (m == NULL)
		x->bad_requests++;
	else
		x->probes[m - x->cfg->modules][result]++;
	pthread_mutex_unlock(&x->mu);
}

/* ---- the request's values ------------------------------------------------ */

static const struct opt *row_yaml(const char *key)
{
	for (size_t i = 0; i < option_count; i++)
		if (option_table[i].yaml && strcmp(option_table[i].yaml, key) == 0)
			return &option_table[i];
	return NULL;
}

UNITTEST int exporter_parse_target(const char *s, size_t len, char **host, int *port, char *why,
				   size_t size)
{
	const char *h = s, *p = NULL, *colon;
	size_t hl = len;
	struct check_cfg one = { 0 };
	struct opt_dest d = { &one, NULL, NULL };
	char b[64];

	*host = NULL;
	*port = 0;
	if (len == 0) {
		snprintf(why, size, "target= is empty (HOST or HOST:PORT)");
		return -1;
	}
	if (memmem(s, len, "://", 3) != NULL) {
		snprintf(why, size, "target '%s' is a URL, not HOST or HOST:PORT",
			 opt_shown(s, len, b, sizeof(b)));
		return -1;
	}
	if (s[0] == '[') {
		const char *close = memchr(s, ']', len);

		if (close == NULL || close == s + 1 ||
		    memchr(s + 1, ':', (size_t)(close - s - 1)) == NULL ||
		    (close + 1 < s + len && close[1] != ':')) {
			snprintf(why, size, "target '%s' is not [IPv6] or [IPv6]:PORT",
				 opt_shown(s, len, b, sizeof(b)));
			return -1;
		}
		h = s + 1;
		hl = (size_t)(close - s - 1);
		if (close + 1 < s + len)
			p = close + 2;
	} else if ((colon = memchr(s, ':', len)) != NULL &&
		   memchr(colon + 1, ':', len - (size_t)(colon - s) - 1) == NULL) {
		hl = (size_t)(colon - s); /* one colon: HOST:PORT; more: an IPv6 address */
		p = colon + 1;
	}
	if (opt_apply(row_yaml("host"), h, hl, FROM_YAML, "target", &d, why, size) < 0 ||
	    (p && opt_apply(row_yaml("port"), p, len - (size_t)(p - s), FROM_YAML, "target's port",
			    &d, why, size) < 0)) {
		options_free(&one);
		return -1;
	}
	*host = (char *)one.host;
	*port = p ? one.port : 0;
	return 0;
}

UNITTEST double exporter_budget(const char *header, double module_timeout, char *why, size_t size)
{
	char *end = NULL;
	double h = 0, b;
	char shown[64];

	if (header == NULL)
		return module_timeout;
	errno = 0;
	/* digits and a point, as Prometheus writes it: no sign, exponent, hex, inf, nan */
	if (header[0] != '\0' && strspn(header, "0123456789.") == strlen(header))
		h = strtod(header, &end);
	if (end == NULL || errno != 0 || *end != '\0' || !(h > 0) || !isfinite(h)) {
		snprintf(why, size, "%s: '%s' is not a number of seconds above 0",
			 EXPORTER_TIMEOUT_HDR,
			 opt_shown(header, strlen(header), shown, sizeof(shown)));
		return -1;
	}
	b = h - EXPORTER_MARGIN;
	if (b < h / 2)
		b = h / 2;
	return b < module_timeout ? b : module_timeout;
}

/* ---- /probe -------------------------------------------------------------- */

static void bad_request(struct exporter *x, struct exporter_response *rs, const char *why)
{
	count(x, NULL, 0);
	rs->status = 400;
	strbuf_printf(&rs->body, "%s\n", why);
}

static bool all_ok(const struct run *run)
{
	for (size_t i = 0; i < run->nitems; i++)
		if (run->items[i].r.state != STATE_OK)
			return false;
	return run->nitems > 0;
}

static void probe_answer(const struct run *run, bool ok, double waited, double budget,
			 struct strbuf *b)
{
	strbuf_printf(b,
		      "# HELP probe_success 1 if every check of the module was OK, else 0.\n"
		      "# TYPE probe_success gauge\n"
		      "probe_success %d\n"
		      "# HELP probe_duration_seconds How long the probe took (its checks side by "
		      "side).\n"
		      "# TYPE probe_duration_seconds gauge\n"
		      "probe_duration_seconds %.6f\n"
		      "# HELP mtaprobe_probe_wait_seconds How long the probe waited for a free "
		      "slot (--max-probes) before it started.\n"
		      "# TYPE mtaprobe_probe_wait_seconds gauge\n"
		      "mtaprobe_probe_wait_seconds %.6f\n"
		      "# HELP mtaprobe_probe_timeout_seconds The probe's time budget: the scrape "
		      "timeout less the margin, at most the module's timeout.\n"
		      "# TYPE mtaprobe_probe_timeout_seconds gauge\n"
		      "mtaprobe_probe_timeout_seconds %.6f\n",
		      ok, run->duration, waited, budget);
	report_prometheus_checks(run, b);
}

static void handle_probe(struct exporter *x, const struct exporter_request *rq,
			 struct exporter_response *rs)
{
	int64_t t0 = mono_now_us(), deadline_us;
	const char *mname, *ts;
	const struct module *m;
	size_t mlen = 0, tlen = 0;
	char why[768], b[64];
	char *host = NULL;
	int port;
	double budget, waited;
	struct target t;
	struct config one = { 0 };
	struct run run;
	struct probe_err e;
	bool ok;

	mname = rq->arg(rq->ctx, "module", &mlen);
	if (mname == NULL || mlen == 0)
		mname = "default", mlen = strlen(mname);
	m = strlen(mname) == mlen ? config_module(x->cfg, mname) : NULL;
	if (m == NULL) {
		snprintf(why, sizeof(why), "unknown module '%s'",
			 opt_shown(mname, mlen, b, sizeof(b)));
		bad_request(x, rs, why);
		return;
	}
	ts = rq->arg(rq->ctx, "target", &tlen);
	if (ts == NULL) {
		bad_request(x, rs, "no target= (HOST or HOST:PORT)");
		return;
	}
	if (exporter_parse_target(ts, tlen, &host, &port, why, sizeof(why)) < 0) {
		bad_request(x, rs, why);
		return;
	}
	budget = exporter_budget(rq->header(rq->ctx, EXPORTER_TIMEOUT_HDR), m->t.cfg.timeout, why,
				 sizeof(why));
	if (budget < 0) {
		free(host);
		bad_request(x, rs, why);
		return;
	}
	deadline_us = t0 + (int64_t)(budget * 1e6);
	if (slot_take(x, t0 + (int64_t)(budget * 5e5)) < 0) {
		free(host);
		count(x, m, RES_OVERLOADED);
		rs->status = 503;
		pthread_mutex_lock(&x->mu);
		if (x->stopping)
			strbuf_printf(&rs->body, "shutting down\n");
		else
			strbuf_printf(&rs->body,
				      "all %d probe slots busy for %.3f s (half the probe's "
				      "budget): try again, or raise --max-probes\n",
				      x->max_probes, budget / 2);
		pthread_mutex_unlock(&x->mu);
		return;
	}
	waited = us_to_s(mono_now_us() - t0);
	t = m->t; /* borrows the module's strings and labels */
	t.cfg.host = host;
	t.cfg.mx_domain = NULL;
	if (port)
		t.cfg.port = port;
	t.cfg.timeout = us_to_s(deadline_us - mono_now_us());
	t.name = strndup(ts, tlen);
	one.name = m->name;
	one.targets = &t;
	one.ntargets = 1;
	one.concurrency = 1;
	if (t.name == NULL || runner_run_on(&one, x->svc, x->tls, &run, &e) < 0) {
		slot_give(x);
		free(t.name);
		free(host);
		count(x, m, RES_FAILURE);
		rs->status = 500;
		strbuf_printf(&rs->body, "out of memory\n");
		return;
	}
	slot_give(x);
	ok = all_ok(&run);
	rs->content_type = CT_METRICS;
	probe_answer(&run, ok, waited, budget, &rs->body);
	run_free(&run);
	free(t.name);
	free(host);
	if (rs->body.truncated) {
		strbuf_free(&rs->body);
		rs->status = 500;
		rs->content_type = CT_TEXT;
		strbuf_printf(&rs->body, "the answer is larger than %zu bytes\n",
			      EXPORTER_BODY_MAX);
		ok = false;
	}
	count(x, m, ok ? RES_SUCCESS : RES_FAILURE);
}

/* ---- /metrics ------------------------------------------------------------ */

static long open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	long n = 0;

	if (d == NULL)
		return -1;
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1; /* the directory's own */
}

/* /proc/self/statm's size and resident pages, and status' Threads. */
static void proc_memory(double *vsz, double *rss, long *threads)
{
	FILE *f = fopen("/proc/self/statm", "re");
	unsigned long size = 0, res = 0;
	long page = sysconf(_SC_PAGESIZE);
	char line[256];

	*vsz = *rss = -1;
	*threads = -1;
	if (f != NULL) {
		if (fscanf(f, "%lu %lu", &size, &res) == 2) {
			*vsz = (double)size * (double)page;
			*rss = (double)res * (double)page;
		}
		fclose(f);
	}
	f = fopen("/proc/self/status", "re");
	if (f == NULL)
		return;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Threads: %ld", threads) == 1)
			break;
	fclose(f);
}

static void gauge(struct strbuf *b, const char *name, const char *type, const char *help, double v)
{
	if (v < 0)
		return;
	strbuf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
	if (v == floor(v) && fabs(v) < 1e15)
		strbuf_printf(b, "%s %.0f\n", name, v);
	else
		strbuf_printf(b, "%s %.6f\n", name, v);
}

static void handle_metrics(struct exporter *x, struct exporter_response *rs)
{
	struct strbuf *b = &rs->body;
	struct rlimit rl;
	struct rusage ru;
	double vsz, rss;
	long threads, fds = open_fds();
	int running, waiting;
	uint64_t bad;

	proc_memory(&vsz, &rss, &threads);
	rs->content_type = CT_METRICS;
	strbuf_printf(b,
		      "# HELP mtaprobe_exporter_probes_total Probes answered, by module and "
		      "result (success: every check OK; failure: one was not; overloaded: no "
		      "free slot within half the budget, answered 503).\n"
		      "# TYPE mtaprobe_exporter_probes_total counter\n");
	pthread_mutex_lock(&x->mu);
	for (size_t i = 0; i < x->cfg->nmodules; i++)
		for (int r = 0; r < NRESULTS; r++) {
			strbuf_printf(b, "mtaprobe_exporter_probes_total{module=\"");
			prom_value(b, x->cfg->modules[i].name);
			strbuf_printf(b, "\",result=\"%s\"} %llu\n", result_names[r],
				      (unsigned long long)x->probes[i][r]);
		}
	running = x->running;
	waiting = x->waiting;
	bad = x->bad_requests;
	pthread_mutex_unlock(&x->mu);
	gauge(b, "mtaprobe_exporter_bad_requests_total", "counter",
	      "Requests to /probe answered 400 (bad or missing target, unknown module, bad "
	      "timeout header).",
	      (double)bad);
	gauge(b, "mtaprobe_exporter_probes_in_flight", "gauge", "Probes running now.", running);
	gauge(b, "mtaprobe_exporter_probes_waiting", "gauge",
	      "Probes waiting for a free slot (--max-probes).", waiting);
	gauge(b, "mtaprobe_exporter_max_probes", "gauge",
	      "Probes that may run at once (--max-probes).", x->max_probes);
	strbuf_printf(b,
		      "# HELP mtaprobe_build_info The version of mtaprobe.\n"
		      "# TYPE mtaprobe_build_info gauge\n"
		      "mtaprobe_build_info{version=\"%s\"} 1\n",
		      MTAPROBE_VERSION);
	gauge(b, "process_start_time_seconds", "gauge",
	      "Start time of the process since unix epoch in seconds.", x->started);
	if (getrusage(RUSAGE_SELF, &ru) == 0)
		gauge(b, "process_cpu_seconds_total", "counter",
		      "Total user and system CPU time spent in seconds.",
		      (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
			      (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6);
	gauge(b, "process_open_fds", "gauge", "Number of open file descriptors.", (double)fds);
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
		gauge(b, "process_max_fds", "gauge", "Maximum number of open file descriptors.",
		      (double)rl.rlim_cur);
	gauge(b, "process_resident_memory_bytes", "gauge", "Resident memory size in bytes.", rss);
	gauge(b, "process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.", vsz);
	gauge(b, "mtaprobe_exporter_threads", "gauge", "Threads of the process.", (double)threads);
}

/* ---- routing ------------------------------------------------------------- */

static void handle_index(struct exporter *x, struct exporter_response *rs)
{
	strbuf_printf(&rs->body,
		      "mtaprobe %s exporter\n\n"
		      "/probe?target=HOST[:PORT]&module=NAME  a module's checks against HOST\n"
		      "/metrics                               the exporter's own metrics\n"
		      "/-/healthy                             200 OK while it runs\n\n"
		      "modules:",
		      MTAPROBE_VERSION);
	for (size_t i = 0; i < x->cfg->nmodules; i++)
		strbuf_printf(&rs->body, " %s", x->cfg->modules[i].name);
	strbuf_append(&rs->body, "\n", 1);
}

void exporter_handle(struct exporter *x, const struct exporter_request *rq,
		     struct exporter_response *rs)
{
	const char *p = rq->path;

	memset(rs, 0, sizeof(*rs));
	rs->status = 200;
	rs->content_type = CT_TEXT;
	strbuf_init(&rs->body, EXPORTER_BODY_MAX);
	if (strcmp(rq->method, "GET") != 0 && strcmp(rq->method, "HEAD") != 0) {
		rs->status = 405;
		rs->allow = "GET, HEAD";
		strbuf_printf(&rs->body, "only GET and HEAD\n");
	} else if (strcmp(p, "/probe") == 0) {
		handle_probe(x, rq, rs);
	} else if (strcmp(p, "/metrics") == 0) {
		handle_metrics(x, rs);
	} else if (strcmp(p, "/-/healthy") == 0 || strcmp(p, "/-/ready") == 0) {
		strbuf_printf(&rs->body, "OK\n");
	} else if (strcmp(p, "/") == 0) {
		handle_index(x, rs);
	} else {
		rs->status = 404;
		strbuf_printf(&rs->body,
			      "not found: /probe?target=HOST[:PORT]&module=NAME, /metrics, "
			      "/-/healthy\n");
	}
}
