/* check.h - a check's configuration, the checks, and probe_run().
 *
 * probe_run() does what every check shares: resolve, connect to the first
 * address that answers (or, with all_addresses, to every address at once,
 * one child result each), optional PROXY header, then the check's own
 * dialogue, timings, thresholds and perfdata.  No global state: the runner
 * may call probe_run() from many threads at once.  The SMTP steps the
 * dialogues share are in checks/session.h. */
#ifndef MTAPROBE_CHECK_H
#define MTAPROBE_CHECK_H

#include <stdbool.h>

#include "lib/conn.h"
#include "lib/err.h"
#include "lib/range.h"
#include "lib/result.h"

/* Filled from the option table (cli/options.h), by the plugins from argv
 * and by the runner from YAML alike; the strings belong to whoever filled
 * it (options_free()).  A copy made with = only borrows them. */
struct check_cfg {
	const char *host;
	const char *mx_domain; /* -M: every address of every MX host of it */
	int port;
	int family;	/* AF_UNSPEC, AF_INET, AF_INET6 */
	double timeout; /* seconds */
	enum state timeout_state;
	struct range warn, crit;	   /* -w/-c on the check's timing, in seconds */
	struct range days_warn, days_crit; /* check_mta_cert's -w/-c: days left */
	const char *ehlo;		   /* NULL: this host's FQDN or our address literal */
	const char *dns_servers;
	const char *source; /* local address literal to bind, or NULL */
	int proxy_protocol; /* 0, 1 or 2 */
	bool all_addresses;
	int verbose;

	/* TLS, every plugin */
	bool tls;	 /* -s: implicit TLS on connect */
	bool no_tls;	 /* --no-tls: plain even on port 465 */
	const char *sni; /* NULL: the host name, none for IP literals */
	const char *ca_file, *ca_path;
	struct tls_ctx *tls_ctx; /* shared context (runner); NULL: made on demand */
	struct sched *sched;	 /* the runner's scheduler (lib/sched.h); NULL: threads */

	/* check_mta_banner */
	bool fcrdns; /* PTR must resolve back; greeting name should match */
	const char *expect;
	const char *require_ext; /* comma-separated EHLO keywords */
	const char *command;	 /* -C: sent after EHLO */
	const char *response;	 /* -R: extended regex its reply must match */
	bool lmtp;		 /* -L: LHLO instead of EHLO (RFC 2033), banner and starttls */

	/* check_mta_starttls */
	int min_tls;	    /* lowest acceptable version, 0x0303 = TLS 1.2 */
	bool scan_versions; /* also try each version below min_tls, pinned */
	bool injection;	    /* the STARTTLS command-injection probe */
	bool no_plain_auth; /* AUTH offered before TLS is WARNING on any port */

	/* check_mta_cert */
	bool no_verify;
	bool dane; /* TLSA at _PORT._tcp.HOST must match */

	/* check_mta_relay */
	const char *relay_from;	  /* NULL: mtaprobe@example.org */
	const char *relay_to;	  /* NULL: mtaprobe@example.net */
	const char *relay_domain; /* NULL: from the greeting, else -H */
	bool relay_thorough;
	bool relay_starttls;

	/* check_mta_sts */
	bool sts_require;	 /* no policy is CRITICAL, not OK */
	bool sts_require_tlsrpt; /* no TLS-RPT record is WARNING */
	bool sts_no_mx_tls;	 /* skip the MX hosts' STARTTLS and certificates */
};

/* Implicit TLS: -s, or port 465 (RFC 8314) unless --no-tls.  The one place
 * that decides it, for the plugins and the runner alike. */
bool check_implicit_tls(const struct check_cfg *cfg);

/* Record e on r (its kind and step become r->err, unless a failure is
 * already recorded there) and raise r to the state for it with the text
 * "step: message". */
void check_fail(const struct check_cfg *cfg, struct result *r, const struct probe_err *e);

struct check_def {
	const char *name;	     /* "PORT", "BANNER" */
	const char *threshold_label; /* timing -w/-c apply to: "connect", "banner",
				      * "handshake"; NULL: the dialogue judges them */
	const char *threshold_what;  /* "connect", "greeting" for messages */
	bool own_tls;		     /* the dialogue sets up TLS itself (STARTTLS) */
	bool unreachable_unknown;    /* DNS/connect failure is UNKNOWN, not CRITICAL */
	/* The check's own dialogue on a connected c; fills r.  May be NULL. */
	void (*dialogue)(const struct check_cfg *cfg, struct conn *c, struct result *r);
	/* A check of a mail domain rather than of one server (check_mta_sts):
	 * probe_run hands it the whole run, r initialised.  NULL for the rest. */
	void (*run)(const struct check_cfg *cfg, struct result *r);
};

extern const struct check_def check_port;
extern const struct check_def check_banner;
extern const struct check_def check_starttls;
extern const struct check_def check_cert;
extern const struct check_def check_relay;
extern const struct check_def check_sts;

/* Run def against cfg into r (initialised here; caller frees with result_free). */
void probe_run(const struct check_cfg *cfg, const struct check_def *def, struct result *r);

#ifdef MTAPROBE_UNITTEST
/* checks/cert.c: the verdict on one handshake's chain, for test_tls. */
double check_cert_judge(const struct check_cfg *cfg, struct result *r, const struct tls_facts *f,
			int64_t now, double *chain_days);
#endif

#endif
