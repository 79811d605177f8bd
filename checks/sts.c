/* sts.c - check_mta_sts: a mail domain's MTA-STS policy (RFC 8461) and
 * TLS-RPT record (RFC 8460), judged against the real MX set and their
 * certificates.  The steps, under one deadline: TXT _mta-sts.DOMAIN; the
 * policy over HTTPS from mta-sts.DOMAIN (lib/https.h); its syntax; every MX
 * host covered by an mx: pattern; every MX address's STARTTLS and
 * certificate (check_mta_cert's own dialogue, all at once); TXT
 * _smtp._tls.DOMAIN.  A policy in mode enforce makes MX failures CRITICAL,
 * testing makes them WARNING. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "checks/check.h"
#include "lib/dns.h"
#include "lib/https.h"
#include "lib/nagios.h"
#include "lib/sanitize.h"
#include "lib/sts.h"

#define POLICY_PATH "/.well-known/mta-sts.txt"

struct sts_run {
	const struct check_cfg *cfg;
	struct result *r;
	struct deadline dl;
	const char *domain;
	char id[STS_ID_MAX + 1];
	struct sts_policy *pol;
	int covered, total;
	bool tlsrpt;
};

/* The state an MX failure earns under the policy's mode. */
static enum state mode_state(const struct sts_policy *p)
{
	return p->mode == STS_ENFORCE ? STATE_CRITICAL : STATE_WARNING;
}

/* TXT _mta-sts.DOMAIN: 1 when a policy is announced (valid or not), 0
 * when there is none, -1 when the lookup failed (recorded). */
static int announced(struct sts_run *u)
{
	struct txt_set *txt = malloc(sizeof(*txt));
	char name[300], why[160], id[64];
	int found = 0, valid = 0, rc = -1;
	int64_t t0 = mono_now_us();

	if (txt == NULL) {
		result_fail(u->r, STATE_UNKNOWN, ERR_INTERNAL, "DNS", "out of memory");
		return -1;
	}
	snprintf(name, sizeof(name), "_mta-sts.%s", u->domain);
	if (dns_txt(name, u->cfg->dns_servers, &u->dl, txt, &u->r->err) < 0) {
		u->r->t.dns = us_to_s(mono_now_us() - t0);
		check_fail(u->cfg, u->r, &u->r->err);
		goto out;
	}
	u->r->t.dns = us_to_s(mono_now_us() - t0);
	for (int i = 0; i < txt->n; i++) {
		int got = sts_txt_parse(txt->rec[i].text, txt->rec[i].len, id, sizeof(id), why,
					sizeof(why));

		if (got == 0)
			continue;
		found++;
		if (got == 1) {
			valid++;
			snprintf(u->id, sizeof(u->id), "%s", id);
		} else {
			result_fail(u->r, STATE_WARNING, ERR_REJECTED, "TXT",
				    "invalid STSv1 record at %s: %s (senders ignore the policy)",
				    name, why);
		}
	}
	if (found > 1)
		result_fail(u->r, STATE_WARNING, ERR_REJECTED, "TXT",
			    "%d STSv1 records at %s (senders ignore the policy)", found, name);
	strbuf_printf(&u->r->detail, "%s: %d STSv1 record%s%s%s\n", name, found,
		      found == 1 ? "" : "s", valid ? ", id " : "", valid ? u->id : "");
	rc = found > 0;
out:
	free(txt);
	return rc;
}

/* Is the Content-Type text/plain (RFC 8461 §3.2), parameters allowed? */
static bool text_plain(const char *ct)
{
	size_t n = strlen("text/plain");

	return strncasecmp(ct, "text/plain", n) == 0 &&
	       (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ');
}

/* The policy host's certificate: days left against -w/-c. */
static void policy_days(struct sts_run *u, const struct https_result *h)
{
	const struct check_cfg *cfg = u->cfg;
	double days;

	if (!h->have_cert)
		return;
	days = (double)((h->not_after - (int64_t)time(NULL)) / 86400);
	if (h->not_after < (int64_t)time(NULL))
		days = -1;
	result_perf(u->r, "days", days, "", 0, &cfg->days_warn, &cfg->days_crit);
	strbuf_printf(&u->r->detail, "policy host certificate: %s, issuer %s, %.0f days left\n",
		      h->subject, h->issuer, days);
	if (range_alerts(&cfg->days_crit, days) || range_alerts(&cfg->days_warn, days))
		result_raise(u->r,
			     range_alerts(&cfg->days_crit, days) ? STATE_CRITICAL : STATE_WARNING,
			     "policy host certificate expires in %.0f days", days);
}

/* HTTPS GET of the policy and its parse into u->pol: 0, or -1 (CRITICAL
 * recorded, naming the step). */
static int fetch_policy(struct sts_run *u)
{
	struct result *r = u->r;
	struct addr_list *al = malloc(sizeof(*al));
	struct https_result h = { 0 };
	struct probe_err e = { 0 };
	char host[300], why[200];
	int rc = -1;
	int64_t t0 = mono_now_us();

	if (al == NULL) {
		result_fail(r, STATE_UNKNOWN, ERR_INTERNAL, "policy", "out of memory");
		return -1;
	}
	snprintf(host, sizeof(host), "mta-sts.%s", u->domain);
	if (dns_resolve(host, 443, u->cfg->family, u->cfg->dns_servers, &u->dl, al, &e) < 0) {
		result_fail(r, e.kind == ERR_TIMEOUT ? u->cfg->timeout_state : STATE_CRITICAL,
			    e.kind, "policy", "policy: %s", e.msg);
		goto out;
	}
	if (https_get(host, 443, POLICY_PATH, al, u->cfg->ca_file, u->cfg->ca_path, STS_POLICY_MAX,
		      &u->dl, &h, &e) < 0) {
		if (h.connect > 0)
			r->t.connect = h.connect;
		if (h.too_large)
			result_fail(r, STATE_CRITICAL, ERR_PROTOCOL, "policy",
				    "policy: larger than 64 KiB (RFC 8461 section 3.3)");
		else
			result_fail(r,
				    e.kind == ERR_TIMEOUT ? u->cfg->timeout_state : STATE_CRITICAL,
				    e.kind, "policy", "policy: %s: %s", e.stage, e.msg);
		goto out;
	}
	if (h.connect > 0)
		r->t.connect = h.connect;
	if (h.handshake > 0)
		r->t.handshake = h.handshake;
	result_perf(r, "policy", us_to_s(mono_now_us() - t0), "s", 6, NULL, NULL);
	policy_days(u, &h);
	if (h.status >= 300 && h.status < 400) {
		result_fail(r, STATE_CRITICAL, ERR_REJECTED, "policy",
			    "policy: HTTP %d redirect%s%s not followed (RFC 8461 section 3.3)",
			    h.status, h.location[0] ? " to " : "", h.location);
		goto out;
	}
	if (h.status != 200) {
		result_fail(r, STATE_CRITICAL, ERR_REJECTED, "policy",
			    "policy: HTTP %d from https://%s%s", h.status, host, POLICY_PATH);
		goto out;
	}
	if (!text_plain(h.content_type)) {
		result_fail(r, STATE_CRITICAL, ERR_REJECTED, "policy",
			    "policy: media type '%s', not text/plain",
			    h.content_type[0] ? h.content_type : "(none)");
		goto out;
	}
	if (sts_policy_parse(h.body, h.len, u->pol, why, sizeof(why)) < 0) {
		result_fail(r, STATE_CRITICAL, ERR_PROTOCOL, "policy", "policy: %s", why);
		goto out;
	}
	strbuf_printf(&r->detail,
		      "policy: mode %s, max_age %ld, %d mx pattern%s:", sts_mode_name(u->pol->mode),
		      u->pol->max_age, u->pol->mx_total, u->pol->mx_total == 1 ? "" : "s");
	for (int i = 0; i < u->pol->nmx; i++)
		strbuf_printf(&r->detail, " %s", u->pol->mx[i]);
	strbuf_printf(&r->detail, "\n");
	if (u->pol->max_age < 86400)
		result_raise(r, STATE_WARNING,
			     "max_age %ld is under a day (too short to protect anything)",
			     u->pol->max_age);
	rc = 0;
out:
	https_result_free(&h);
	free(al);
	return rc;
}

/* Every MX host must match an mx: pattern (RFC 8461 §4.1). */
static void coverage(struct sts_run *u)
{
	struct mx_set *mx = malloc(sizeof(*mx));
	struct probe_err e = { 0 };
	char missing[400] = "";
	int nmissing = 0;

	if (mx == NULL) {
		result_fail(u->r, STATE_UNKNOWN, ERR_INTERNAL, "MX", "out of memory");
		return;
	}
	if (dns_mx(u->domain, u->cfg->dns_servers, &u->dl, mx, &e) < 0) {
		result_fail(u->r, e.kind == ERR_TIMEOUT ? u->cfg->timeout_state : STATE_CRITICAL,
			    e.kind, "MX", "MX: %s", e.msg);
		goto out;
	}
	for (int i = 0; i < mx->n; i++) {
		bool ok = false;

		if (mx->host[i].bad) {
			u->total++;
			nmissing++;
			continue; /* never printed, not even sanitised */
		}
		for (int k = 0; k < u->pol->nmx && !ok; k++)
			ok = sts_mx_match(u->pol->mx[k], mx->host[i].name);
		u->total++;
		u->covered += ok;
		strbuf_printf(&u->r->detail, "MX %s: %s\n", mx->host[i].name,
			      ok ? "covered" : "NOT covered by any mx: pattern");
		if (!ok && nmissing++ < 3)
			snprintf(missing + strlen(missing), sizeof(missing) - strlen(missing),
				 "%s%s", missing[0] ? ", " : "", mx->host[i].name);
	}
	if (nmissing)
		result_raise(u->r, mode_state(u->pol),
			     "MX %s not covered by the policy (mode %s: senders honouring it "
			     "%s)",
			     missing[0] ? missing : "(invalid name)", sts_mode_name(u->pol->mode),
			     u->pol->mode == STS_ENFORCE ? "will not deliver there"
							 : "report failures");
out:
	free(mx);
}

/* Every MX address: STARTTLS and a certificate valid for its name, at
 * once, under what is left of the deadline; one child result each. */
static void mx_tls(struct sts_run *u)
{
	struct check_cfg c = *u->cfg;
	struct result mr;
	char why[1024];
	enum state s;

	c.mx_domain = u->domain;
	c.host = NULL;
	c.timeout = (double)deadline_left_ms(&u->dl) / 1000.0;
	c.sni = NULL;
	c.no_verify = false;
	probe_run(&c, &check_cert, &mr);
	/* a verification or STARTTLS failure earns the mode's state; days
	 * running out are the certificate's own WARNING or CRITICAL */
	s = mr.state == STATE_CRITICAL ? mode_state(u->pol) : mr.state;
	if (mr.state != STATE_OK) {
		nagios_summary(&mr, why, sizeof(why));
		result_raise(u->r, s, "MX TLS: %s", why);
	}
	u->r->children = mr.children;
	u->r->nchildren = mr.nchildren;
	mr.children = NULL;
	mr.nchildren = 0;
	result_free(&mr);
}

/* TXT _smtp._tls.DOMAIN (RFC 8460 §3). */
static void tlsrpt(struct sts_run *u)
{
	struct txt_set *txt = malloc(sizeof(*txt));
	struct probe_err e = { 0 };
	char name[300], why[160], rua[256];
	int found = 0;

	if (txt == NULL)
		return;
	snprintf(name, sizeof(name), "_smtp._tls.%s", u->domain);
	if (dns_txt(name, u->cfg->dns_servers, &u->dl, txt, &e) < 0) {
		result_raise(u->r, STATE_WARNING, "TLS-RPT: %s", e.msg);
		goto out;
	}
	for (int i = 0; i < txt->n; i++) {
		int got = tlsrpt_txt_parse(txt->rec[i].text, txt->rec[i].len, rua, sizeof(rua), why,
					   sizeof(why));

		if (got == 0)
			continue;
		found++;
		if (got == 1) {
			u->tlsrpt = true;
			strbuf_printf(&u->r->detail, "TLS-RPT: rua %s\n", rua);
		} else {
			result_raise(u->r, STATE_WARNING, "invalid TLS-RPT record at %s: %s", name,
				     why);
		}
	}
	if (found > 1) {
		u->tlsrpt = false;
		result_raise(u->r, STATE_WARNING, "%d TLSRPTv1 records at %s (no reports are sent)",
			     found, name);
	} else if (found == 0) {
		strbuf_printf(&u->r->detail, "TLS-RPT: no record at %s\n", name);
		if (u->cfg->sts_require_tlsrpt)
			result_raise(u->r, STATE_WARNING, "no TLS-RPT record at %s", name);
	}
out:
	free(txt);
}

static void sts_run(const struct check_cfg *cfg, struct result *r)
{
	struct sts_run u = { .cfg = cfg, .r = r };
	size_t len;
	int have;
	bool policy_ok;

	deadline_init(&u.dl, cfg->timeout);
	u.dl.sched = cfg->sched;
	r->summary_own = true;
	u.domain = cfg->mx_domain ? cfg->mx_domain : cfg->host;
	snprintf(r->target, sizeof(r->target), "%s", u.domain);
	len = strlen(u.domain);
	if (len > 0 && u.domain[len - 1] == '.')
		snprintf(r->target, sizeof(r->target), "%.*s", (int)len - 1, u.domain);
	u.domain = r->target;
	u.pol = calloc(1, sizeof(*u.pol));
	if (u.pol == NULL) {
		result_fail(r, STATE_UNKNOWN, ERR_INTERNAL, "", "out of memory");
		return;
	}
	have = announced(&u);
	if (have < 0)
		goto done;
	if (have == 0) {
		r->sts_policy = 0;
		if (cfg->sts_require)
			result_fail(r, STATE_CRITICAL, ERR_REJECTED, "TXT",
				    "no MTA-STS policy (no STSv1 record at _mta-sts.%s)", u.domain);
		tlsrpt(&u);
		snprintf(r->facts, sizeof(r->facts), "no MTA-STS policy%s",
			 u.tlsrpt ? "" : ", no TLS-RPT");
		goto done;
	}
	/* TLS-RPT first: one cheap lookup that a stalling policy host must not
	 * starve of its deadline */
	tlsrpt(&u);
	policy_ok = fetch_policy(&u) == 0;
	if (policy_ok) {
		if (u.pol->mode != STS_NONE) {
			coverage(&u);
			if (!cfg->sts_no_mx_tls)
				mx_tls(&u);
		}
		result_perf(r, "max_age", (double)u.pol->max_age, "s", 0, NULL, NULL);
		if (u.pol->mode != STS_NONE) {
			result_perf(r, "mx_covered", u.covered, "", 0, NULL, NULL);
			result_perf(r, "mx_total", u.total, "", 0, NULL, NULL);
		}
	}
	/* the facts the runner's series and JSON carry */
	if (!policy_ok)
		u.pol->mode = STS_MODE_UNSET; /* a half-parsed policy is no policy */
	r->sts_policy = u.pol->mode == STS_MODE_UNSET || !u.id[0] ? 2 : 1;
	r->sts_mode = (int)u.pol->mode;
	r->sts_max_age = u.pol->max_age;
	r->sts_mx_total = u.total;
	r->sts_mx_covered = u.covered;
	r->sts_tlsrpt = u.tlsrpt;
	snprintf(r->sts_id, sizeof(r->sts_id), "%s", u.id);
	if (u.pol->mode == STS_MODE_UNSET)
		snprintf(r->facts, sizeof(r->facts), "id %s%s", u.id[0] ? u.id : "(invalid)",
			 u.tlsrpt ? "" : ", no TLS-RPT");
	else if (u.pol->mode == STS_NONE)
		snprintf(r->facts, sizeof(r->facts), "mode none (the policy is withdrawn), id %s%s",
			 u.id, u.tlsrpt ? "" : ", no TLS-RPT");
	else
		snprintf(r->facts, sizeof(r->facts),
			 "mode %s, %d of %d MX covered, id %s, max_age %ld%s",
			 sts_mode_name(u.pol->mode), u.covered, u.total,
			 u.id[0] ? u.id : "(invalid)", u.pol->max_age,
			 u.tlsrpt ? "" : ", no TLS-RPT");
done:
	r->t.total = deadline_elapsed(&u.dl);
	{
		/* timings first, as every check's perfdata reads */
		struct perf own[RESULT_MAX_PERF];
		int nown = r->nperf;

		memcpy(own, r->perf, sizeof(own[0]) * (size_t)nown);
		r->nperf = 0;
		result_perf_timings(r, NULL, NULL, NULL);
		for (int i = 0; i < nown && r->nperf < RESULT_MAX_PERF; i++)
			r->perf[r->nperf++] = own[i];
	}
	free(u.pol);
}

const struct check_def check_sts = {
	.name = "STS",
	.threshold_label = NULL,
	.threshold_what = "days",
	.own_tls = true,
	.unreachable_unknown = false,
	.dialogue = NULL,
	.run = sts_run,
};
