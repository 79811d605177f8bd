/* runner.h - the batch runner: every check of every target, the
 * same probe_run() the plugins call, many targets at once.
 *
 * -j bounds the targets in flight; a target's checks run side by side, each
 * under the target's timeout counted from when the target starts, so a
 * target takes at most its timeout however its server behaves, and a
 * target that waited for a worker is never timed out by the wait. */
#ifndef MTAPROBE_RUNNER_H
#define MTAPROBE_RUNNER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "checks/check.h"
#include "runner/config.h"
#include "lib/result.h"

/* What a finished check keeps: its figures and its words, not the buffers
 * it used on the wire (a struct result is about 10 KB, 50 KB with TLS), so
 * a run's memory grows by a few hundred bytes per check.  Strings are
 * never NULL. */
struct kept_cert {
	int64_t not_before, not_after;
	int key_bits;
	const char *subject, *issuer, *key_name, *sig_alg;
};

struct kept_tls {
	long verify_code;
	int ncerts;
	const char *version_name, *cipher, *verify_reason;
	struct kept_cert *chain;
};

struct kept {
	enum state state;
	int port;
	const char *host, *address;
	const char *summary; /* the plugin's summary (nagios_summary) */
	size_t fact_at;	     /* summary + fact_at: the part after the target */
	struct timings t;
	enum err_kind err_kind;
	char err_stage[16];
	const char *err_msg;
	int greeting_code;
	const char *greeting;
	bool has_size;
	unsigned long long size;
	int starttls_offered;
	signed char scan[3];
	int ntls;
	struct kept_tls *tls;
	int relay_tests, relay_accepted, relay_refused, relay_tempfail;
	int sts_policy, sts_mode;
	long sts_max_age;
	int sts_mx_total, sts_mx_covered;
	bool sts_tlsrpt;
	const char *sts_id;
	int nproblems; /* kept for a result with children: what it found itself */
	const char **problems;
	struct kept *children;
	size_t nchildren;
	bool summary_own;
};

/* k from r (r is left as it was); -1 when out of memory, k then UNKNOWN
 * "out of memory keeping the result". */
int kept_from(struct kept *k, const struct result *r);
void kept_free(struct kept *k);

struct run_item {
	const struct target *target;
	enum check_kind kind;
	struct kept r;
};

struct run {
	int64_t started; /* wall clock, seconds since the epoch */
	double duration; /* seconds */
	size_t nitems;
	struct run_item *items; /* targets x their checks, in config order */
};

/* Progress callback (may be NULL): called when a target starts and when it
 * is done, with how many have started and are done of total, one call at
 * a time (in flight: started - done). */
typedef void (*progress_fn)(size_t started, size_t done, size_t total, void *arg);

/* Run everything in cfg with at most jobs targets at once.  Returns 0, or
 * -1 with e when nothing could be run (out of memory). */
int runner_run(const struct config *cfg, int jobs, progress_fn progress, void *progress_arg,
	       struct run *run, struct probe_err *e);

/* The TLS contexts (one SSL_CTX per distinct ca_file/ca_path, made on first
 * use) that runner_run makes for one run, kept for many: the exporter's,
 * for all its probes.  Its entries borrow the targets' ca_file and ca_path
 * strings, which must outlive it.  Thread-safe; NULL when out of memory. */
struct runner_tls;
struct runner_tls *runner_tls_new(void);
void runner_tls_free(struct runner_tls *tls);

/* runner_run with the contexts of tls (NULL: its own, as runner_run).  With
 * jobs 1 (or one target) the targets run on the calling thread. */
int runner_run_tls(const struct config *cfg, int jobs, struct runner_tls *tls, progress_fn progress,
		   void *progress_arg, struct run *run, struct probe_err *e);
void run_free(struct run *run);

/* Schedulers kept for many runs, a thread per CPU waiting for work: the
 * exporter's, so that each probe's checks run as fibers there, beside
 * every other probe's, instead of on threads of their own.  NULL when out
 * of memory.  Free it only when no run on it is left. */
struct runner_service;
struct runner_service *runner_service_new(void);
void runner_service_free(struct runner_service *svc);
/* runner_run_tls(cfg, 1, tls, ...) with cfg's targets one after the other
 * on one of svc's schedulers, the caller waiting; on its own thread as
 * runner_run_tls when svc is NULL or has no scheduler to give. */
int runner_run_on(const struct config *cfg, struct runner_service *svc, struct runner_tls *tls,
		  struct run *run, struct probe_err *e);

#endif
