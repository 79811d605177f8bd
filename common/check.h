/* check.h - a check's configuration, and the checks themselves.
 *
 * probe_run() does what every check shares: resolve, connect to the first
 * address that answers (or, with all_addresses, to every address at once,
 * one child result each), optional PROXY header, then the check's own
 * dialogue, timings, thresholds and perfdata.  No global state: the runner
 * may call probe_run() from many threads at once. */
#ifndef MTAPROBE_CHECK_H
#define MTAPROBE_CHECK_H

#include <stdbool.h>

#include "conn.h"
#include "range.h"
#include "result.h"

struct check_cfg {
	const char *host;
	int port;
	int family;		/* AF_UNSPEC, AF_INET, AF_INET6 */
	double timeout;		/* seconds */
	enum state timeout_state;
	struct range warn, crit;
	const char *ehlo;	/* NULL: this host's FQDN or our address literal */
	const char *dns_servers;
	const char *source;	/* local address literal to bind, or NULL */
	int proxy_protocol;	/* 0, 1 or 2 */
	bool all_addresses;
	int verbose;

	/* check_mta_banner */
	const char *expect;
	const char *require_ext;	/* comma-separated EHLO keywords */
};

/* Defaults: port 25, timeout 10 s (critical), any family. */
void check_cfg_init(struct check_cfg *cfg, int default_port);

struct check_def {
	const char *name;		/* "PORT", "BANNER" */
	const char *threshold_label;	/* timing -w/-c apply to: "connect", "banner" */
	const char *threshold_what;	/* "connect", "greeting" for messages */
	/* The check's own dialogue on a connected c; fills r.  May be NULL. */
	void (*dialogue)(const struct check_cfg *cfg, struct conn *c, struct result *r);
};

extern const struct check_def check_port;
extern const struct check_def check_banner;

/* Run def against cfg into r (initialised here; caller frees with result_free). */
void probe_run(const struct check_cfg *cfg, const struct check_def *def, struct result *r);

/* The state for a failure of this kind under cfg (timeouts: -t's STATE). */
enum state check_err_state(const struct check_cfg *cfg, const struct probe_err *e);

/* Record e on r as a problem "stage: message" with its state. */
void check_fail(const struct check_cfg *cfg, struct result *r, const struct probe_err *e);

/* The EHLO name to use on c: cfg->ehlo, else this host's name if it is a
 * FQDN other than localhost, else our address literal ("[192.0.2.1]"). */
void check_ehlo_name(const struct check_cfg *cfg, const struct conn *c, char *out, size_t out_size);

/* Send QUIT and wait briefly (at most 1 s, never past the deadline) for the
 * reply; failures are ignored, the check's verdict is already made. */
void check_quit(struct conn *c, struct smtp_reply *rep);

#endif
