/* exporter.h - mtaprobe --listen: the Prometheus multi-target exporter
 * (blackbox_exporter's pattern) over the config's modules.
 *
 *   GET /probe?target=HOST[:PORT]&module=NAME   the module's checks against
 *       HOST now: probe_success, probe_duration_seconds and the series a
 *       run of that one target writes (report_prometheus_checks)
 *   GET /metrics       the exporter's own: probes by module and result, in
 *                      flight, waiting, the process's start time, fds, memory
 *   GET /-/healthy, /-/ready   200 "OK"
 *
 * module defaults to "default" (config.h: there is always one).  A probe's
 * time budget is X-Prometheus-Scrape-Timeout-Seconds less a margin (0.5 s,
 * at most half of it), capped by the module's timeout (the whole of it
 * without the header).  At most max_probes run at once; a request beyond
 * waits in line (first come, first served) for at most half its budget,
 * then is answered 503 (Prometheus: up 0; the exporter is short of slots,
 * the target is not known to be down), and a probe that got its slot runs
 * in what is left of the budget, at least half of it.  Bad or missing
 * target, unknown module, a bad timeout header: 400 and one line saying
 * which, its values quoted with control bytes as '?'.
 *
 * This file is the HTTP-free part (requests in, responses out, testable
 * without a socket); exporter_http.h serves it with libmicrohttpd. */
#ifndef MTAPROBE_EXPORTER_H
#define MTAPROBE_EXPORTER_H

#include <stddef.h>
#include <stdint.h>

#include "runner/config.h"
#include "lib/strbuf.h"

#define EXPORTER_MAX_PROBES  256 /* --max-probes' default */
#define EXPORTER_MARGIN	     0.5 /* seconds kept off the scrape timeout */
#define EXPORTER_TIMEOUT_HDR "X-Prometheus-Scrape-Timeout-Seconds"
#define EXPORTER_BODY_MAX    ((size_t)4 << 20)

struct exporter;

/* An exporter over cfg's modules (cfg must outlive it), with at most
 * max_probes (0: EXPORTER_MAX_PROBES) probes at once.  NULL: out of memory. */
struct exporter *exporter_new(const struct config *cfg, int max_probes);

/* Requests waiting for a slot are answered 503 now, and any that comes
 * later at once; running probes end within their budgets. */
void exporter_shutdown(struct exporter *x);

/* After the server has stopped (no request in flight). */
void exporter_free(struct exporter *x);

/* One request as the server hands it over.  arg() gives a query
 * parameter's value, percent-decoded, and its length (NULL: absent);
 * header() a request header's value (case-insensitive name; NULL: absent). */
struct exporter_request {
	const char *method, *path; /* path without the query */
	const char *(*arg)(void *ctx, const char *name, size_t *len);
	const char *(*header)(void *ctx, const char *name);
	void *ctx;
};

struct exporter_response {
	int status;		  /* 200, 400, 404, 405, 500, 503 */
	const char *content_type; /* static */
	const char *allow;	  /* for 405: the Allow header; else NULL */
	struct strbuf body;	  /* the caller frees it */
};

/* Answer rq into rs (initialised here).  Blocks for as long as a probe
 * takes: at most its budget.  Thread-safe. */
void exporter_handle(struct exporter *x, const struct exporter_request *rq,
		     struct exporter_response *rs);

#ifdef MTAPROBE_UNITTEST
/* target= as HOST[:PORT]: "mx.example.org", "192.0.2.1:2525", "[2001:db8::1]:25",
 * "2001:db8::1" (no port); HOST as the host option takes it.  0 with *host
 * (the caller frees it) and *port (0: none given), or -1 with why. */
int exporter_parse_target(const char *s, size_t len, char **host, int *port, char *why,
			  size_t size);

/* The probe's budget in seconds from the header's value (NULL: none) and
 * the module's timeout; -1 with why for a value that is not a number of
 * seconds > 0. */
double exporter_budget(const char *header, double module_timeout, char *why, size_t size);
#endif

#endif
