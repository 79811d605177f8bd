/* result.h - what a check found: state, summary, facts, timings, perfdata.
 *
 * A result may hold children (one per address with -A / -M); the parent's
 * state is the worst child's.  The runner reads the same struct to write
 * metrics, so facts are plain values, never strings to re-parse. */
#ifndef MTAPROBE_RESULT_H
#define MTAPROBE_RESULT_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/err.h"
#include "lib/range.h"
#include "lib/strbuf.h"
#include "lib/tls.h"

enum state { STATE_OK = 0, STATE_WARNING = 1, STATE_CRITICAL = 2, STATE_UNKNOWN = 3 };

/* "OK", "WARNING", "CRITICAL", "UNKNOWN" */
const char *state_name(enum state s);
/* Worse of two states for aggregation: CRITICAL > WARNING > UNKNOWN > OK. */
enum state state_worst(enum state a, enum state b);

#define RESULT_MAX_PROBLEMS 8
#define RESULT_MAX_PERF	    16

struct problem {
	enum state state;
	char text[640];
};

struct perf {
	char label[32];
	double value;
	const char *uom; /* "s", "B", "" */
	int decimals;
	char warn[32], crit[32];
	bool has_min;
	double min;
};

/* Phase timings in seconds; negative = phase not reached. */
struct timings {
	double dns, connect, banner, ehlo, starttls, handshake, total;
};

struct result {
	const char *check; /* "PORT", "BANNER", ... */
	enum state state;
	char host[256];	  /* as given */
	char address[48]; /* address used, "" if none */
	int port;
	char target[320]; /* "host[addr]:port" */
	char facts[512];  /* sanitised fact line, e.g. "220 mx ESMTP" */
	struct problem problems[RESULT_MAX_PROBLEMS];
	int nproblems;
	struct timings t;
	struct perf perf[RESULT_MAX_PERF];
	int nperf;
	struct strbuf detail;	  /* -v lines, '\n'-separated */
	struct strbuf transcript; /* -vvv SMTP transcript */
	struct probe_err err;	  /* the failure, if any */

	/* facts for the runner */
	int greeting_code;  /* 0 if no greeting read */
	char greeting[512]; /* sanitised first line of the greeting */
	bool has_size;
	unsigned long long size;
	int starttls_offered;  /* -1 not asked, 0 no, 1 yes */
	char auth_plain[128];  /* AUTH mechanisms offered before TLS ("" none) */
	char auth_tls[128];    /* ... and over TLS */
	int versions_below;    /* --scan-versions: versions below --min-tls taken; -1 not asked */
	signed char scan[3];   /* ... TLS 1.0, 1.1, 1.2: 1 taken, 0 refused, -1 not asked/known */
	int ntls;	       /* handshakes whose facts are below */
	struct tls_facts *tls; /* [2], made by result_tls(); [1]: the other key
				* type of a dual-certificate server */

	/* check_mta_relay */
	int relay_tests, relay_accepted, relay_refused, relay_tempfail;
	/* check_mta_sts: policy -1 not asked, 0 none announced, 1 valid,
	 * 2 announced but broken (TXT, fetch or syntax); mode an enum sts_mode */
	int sts_policy, sts_mode;
	long sts_max_age;
	int sts_mx_total, sts_mx_covered;
	bool sts_tlsrpt;
	char sts_id[40];

	struct result *children; /* with -A: one per address */
	size_t nchildren;
	bool summary_own; /* the summary is r's own facts and problems even with
			   * children (check_mta_sts: the MX addresses are detail) */
};

/* Zero r and prepare its buffers; check is a static string. */
void result_init(struct result *r, const char *check, const char *host, int port);
void result_free(struct result *r);
/* A result on the heap, initialised (NULL when out of memory), and its
 * end.  For the scratch results of a check's second connections: 10 KB
 * that would otherwise sit on the stack of every check in flight. */
struct result *result_new(const char *check, const char *host, int port);
void result_delete(struct result *r);

/* &r->tls[i], allocating both slots on first use (most checks never do
 * TLS, and the facts are 20 KB); NULL when out of memory. */
struct tls_facts *result_tls(struct result *r, int i);

/* Record a finding that sets the state to at least s (text printf-style). */
void result_raise(struct result *r, enum state s, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* A failure the check ends on, found by the check itself rather than by an
 * I/O call (a refused step, a certificate that does not verify): kind and
 * step go to r->err unless a failure is already recorded there, and r is
 * raised to s with the text. */
void result_fail(struct result *r, enum state s, enum err_kind kind, const char *step,
		 const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* Append a perfdata item (label copied).  warn/crit may be NULL. */
void result_perf(struct result *r, const char *label, double value, const char *uom, int decimals,
		 const struct range *warn, const struct range *crit);

/* Perfdata for every phase timing reached (dns, connect, banner, ehlo, time),
 * thresholds attached to the label named by thresholded (or NULL). */
void result_perf_timings(struct result *r, const char *thresholded, const struct range *warn,
			 const struct range *crit);

#endif
