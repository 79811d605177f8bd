/* cert.c - check_mta_cert, the server's certificates: expiry,
 * chain and host name, key and signature strength, both certificates of a
 * dual RSA+ECDSA server.  -w/-c are days; a bare N means "fewer than N". */
#include <math.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "checks/session.h"
#include "lib/unittest.h"
#include "lib/dns.h"

/* TLSA records of _PORT._tcp.HOST (RFC 7672 §2.2), asked before the
 * handshake so that the answer is ready to match against the chain. */
struct dane {
	bool looked; /* a lookup was made */
	bool ad;     /* DNSSEC-authenticated per the resolver */
	int n;
	struct tlsa *rec; /* n records */
};

static void dane_lookup(const struct check_cfg *cfg, const struct conn *c, struct result *r,
			struct dane *d)
{
	uint8_t *buf = malloc(65536);
	struct dns_msg *m = malloc(sizeof(*m));
	struct addr lit;
	char name[300];
	struct probe_err e;

	memset(d, 0, sizeof(*d));
	if (buf == NULL || m == NULL)
		goto out;
	/* the records of the name the certificate is for: -H, or --sni when
	 * -H is an address */
	if (addr_from_literal(cfg->host, 0, &lit) == 0 && cfg->sni == NULL) {
		result_fail(r, STATE_UNKNOWN, ERR_INTERNAL, "DANE",
			    "--dane needs a host name to look up TLSA records (-H NAME, or "
			    "--sni NAME with -H ADDRESS)");
		goto out;
	}
	snprintf(name, sizeof(name), "_%d._tcp.%s", cfg->port,
		 addr_from_literal(cfg->host, 0, &lit) == 0 ? cfg->sni : cfg->host);
	if (dns_query(name, DNS_T_TLSA, cfg->dns_servers, conn_deadline(c), buf, 65536, m, &e) <
	    0) {
		result_raise(r, STATE_WARNING, "DANE: TLSA lookup failed: %s", e.msg);
		goto out;
	}
	d->looked = true;
	if (m->rcode != DNS_RCODE_NOERROR && m->rcode != DNS_RCODE_NXDOMAIN) {
		result_raise(r, STATE_WARNING, "DANE: TLSA lookup for %s failed (rcode %d)", name,
			     m->rcode);
		d->looked = false;
		goto out;
	}
	d->ad = m->ad;
	d->rec = calloc(DNS_MAX_ANSWERS, sizeof(*d->rec));
	for (int i = 0; d->rec && i < m->nanswers; i++)
		if (dns_rr_tlsa(m, &m->answers[i], &d->rec[d->n]) == 0)
			d->n++;
	strbuf_printf(
		&r->detail, "DANE: %d TLSA record%s at %s%s\n", d->n, d->n == 1 ? "" : "s", name,
		d->n ? (d->ad ? ", DNSSEC-authenticated" : ", not authenticated (no AD bit)") : "");
out:
	free(buf);
	free(m);
}

/* Match the live session's chain; raise what DANE says.  Returns true when
 * an authenticated DANE-EE record matched: the certificate is then
 * authenticated by DNSSEC, and PKIX verification does not decide. */
static bool dane_judge(const struct conn *c, struct result *r, const struct dane *d,
		       const char *what)
{
	int depth = -1, i;

	if (!d->looked)
		return false;
	if (d->n == 0) {
		strbuf_printf(&r->detail, "DANE: no TLSA records, nothing to match\n");
		return false;
	}
	i = conn_tlsa_match(c, d->rec, d->n, &depth);
	if (i < 0) {
		result_fail(r, STATE_CRITICAL, ERR_VERIFY, "DANE",
			    "DANE: none of %d TLSA records matches the %s chain", d->n, what);
		return false;
	}
	if (!d->ad)
		result_raise(
			r, STATE_WARNING,
			"DANE: TLSA %u %u %u matched, but the records are not DNSSEC-authenticated "
			"(AD bit not set by the resolver)",
			d->rec[i].usage, d->rec[i].selector, d->rec[i].mtype);
	else
		result_raise(r, STATE_OK,
			     "DANE: TLSA %u %u %u matched the %s (DNSSEC-authenticated)",
			     d->rec[i].usage, d->rec[i].selector, d->rec[i].mtype,
			     depth == 0 ? "certificate" : "issuer");
	return d->ad && d->rec[i].usage == 3;
}

static void date_text(int64_t t, char *out, size_t n)
{
	time_t tt = (time_t)t;
	struct tm tm;

	gmtime_r(&tt, &tm);
	strftime(out, n, "%Y-%m-%d %H:%M UTC", &tm);
}

/* Whole days left, rounded toward zero: a certificate expiring in 13.9
 * days has 13 days left (as check_smtp and check_ssl_cert count), one that
 * expired 1.5 days ago has -1. */
static double days_left(int64_t not_after, int64_t now)
{
	return trunc((double)(not_after - now) / 86400.0);
}

/* check_mta_cert's verdict on one handshake's chain f at time now (epoch
 * seconds): expiry against -w/-c days, validity period, verification
 * (unless no_verify), weak signatures and keys, raised on r.  Lowers
 * *chain_days to the earliest expiry in the chain; returns the leaf's
 * whole days left. */
UNITTEST double check_cert_judge(const struct check_cfg *cfg, struct result *r,
				 const struct tls_facts *f, int64_t now, double *chain_days)
{
	const struct cert_facts *leaf = &f->chain[0];
	double days = days_left(leaf->not_after, now);
	char when[32], what[24];

	snprintf(what, sizeof(what), "%s-%d", leaf->key_name, leaf->key_bits);
	date_text(leaf->not_after, when, sizeof(when));
	for (int i = 0; i < f->ncerts; i++) {
		double d = days_left(f->chain[i].not_after, now);

		if (d < *chain_days)
			*chain_days = d;
	}
	if (now > leaf->not_after) {
		double ago = floor((double)(now - leaf->not_after) / 86400.0);

		result_fail(r, STATE_CRITICAL, ERR_VERIFY, "certificate",
			    "%s certificate expired %.0f day%s ago (%s)", what, ago,
			    ago == 1 ? "" : "s", when);
	} else if (now < leaf->not_before)
		result_fail(r, STATE_CRITICAL, ERR_VERIFY, "certificate",
			    "%s certificate is not valid before %s", what,
			    (date_text(leaf->not_before, when, sizeof(when)), when));
	else
		result_raise(r,
			     range_alerts(&cfg->days_crit, days)   ? STATE_CRITICAL
			     : range_alerts(&cfg->days_warn, days) ? STATE_WARNING
								   : STATE_OK,
			     "%s certificate expires in %.0f days (%s)", what, days, when);
	if (!cfg->no_verify && f->verify_code != 0)
		result_fail(r, STATE_CRITICAL, ERR_VERIFY, "verify",
			    "%s certificate verification failed: %s", what, f->verify_reason);
	/* Weak algorithms: the leaf and any intermediate (a root's own
	 * self-signature is never checked by clients, so it does not count). */
	for (int i = 0; i < f->ncerts; i++) {
		const struct cert_facts *x = &f->chain[i];

		if (x->sig_weak && !(i > 0 && x->self_signed))
			result_raise(r, STATE_WARNING, "weak signature %s on %s", x->sig_alg,
				     i ? "an intermediate" : "the certificate");
	}
	if (leaf->key_type == KEY_RSA && leaf->key_bits < 2048)
		result_raise(r, STATE_WARNING, "weak key RSA-%d (< 2048)", leaf->key_bits);
	if (leaf->key_type == KEY_EC && leaf->key_bits < 256)
		result_raise(r, STATE_WARNING, "weak key EC-%d (< 256)", leaf->key_bits);
	if (leaf->key_type == KEY_DSA)
		result_raise(r, STATE_WARNING, "DSA key");
	return days;
}

/* A dual-certificate server shows its other certificate when we only
 * accept the other key type: one more connection and handshake. */
static void fetch_other(const struct check_cfg *cfg, struct conn *c, struct result *r,
			const struct dane *d, bool *dane_ee2)
{
	enum key_type first = r->tls[0].chain[0].key_type;
	struct result *scratch;
	struct conn *nc;

	if (first != KEY_RSA && first != KEY_EC)
		return;
	scratch = result_new(r->check, r->host, r->port);
	nc = scratch ? check_reconnect(cfg, c) : NULL;
	if (nc == NULL) {
		result_delete(scratch);
		return;
	}
	if (check_tls_session(cfg, nc, scratch, first == KEY_RSA ? TLS_WANT_ECDSA : TLS_WANT_RSA,
			      result_tls(r, 1)) == 0 &&
	    r->tls[1].ncerts > 0 && r->tls[1].chain[0].key_type != first) {
		r->ntls = 2;
		*dane_ee2 = dane_judge(nc, r, d, r->tls[1].chain[0].key_name);
	} else
		strbuf_printf(&r->detail, "no %s certificate offered\n",
			      first == KEY_RSA ? "ECDSA" : "RSA");
	conn_free(nc);
	result_delete(scratch);
}

static void cert_dialogue(const struct check_cfg *cfg, struct conn *c, struct result *r)
{
	int64_t now = (int64_t)time(NULL);
	double days = 1e9, chain_days = 1e9;
	struct smtp_reply rep;
	const struct cert_facts *leaf;
	struct dane d = { 0 };
	bool dane_ee[2] = { false, false };

	if (cfg->dane)
		dane_lookup(cfg, c, r, &d);
	if (check_tls_session(cfg, c, r, TLS_WANT_ANY, result_tls(r, 0)) < 0)
		goto out;
	r->ntls = 1;
	if (r->tls[0].ncerts == 0) {
		result_fail(r, STATE_CRITICAL, ERR_TLS, "handshake",
			    "the server sent no certificate");
		goto out;
	}
	dane_ee[0] = dane_judge(c, r, &d, r->tls[0].chain[0].key_name);
	if (!check_implicit_tls(cfg)) { /* be polite: the session is over */
		smtp_reply_init(&rep);
		check_quit(c, &rep, r);
		smtp_reply_free(&rep);
	}
	conn_close(c); /* before asking again: some servers limit connections */
	fetch_other(cfg, c, r, &d, &dane_ee[1]);
	for (int i = 0; i < r->ntls; i++) {
		struct check_cfg judged = *cfg;
		double left;

		/* RFC 7672 §3.1.1: a DANE-EE match authenticates the server;
		 * names and the PKIX chain are not checked then. */
		if (dane_ee[i]) {
			judged.no_verify = true;
			if (r->tls[i].verify_code)
				strbuf_printf(
					&r->detail,
					"PKIX verification (%s) not judged: DANE-EE matched\n",
					r->tls[i].verify_reason);
		}
		check_tls_detail(r, &r->tls[i]);
		left = check_cert_judge(&judged, r, &r->tls[i], now, &chain_days);
		if (left < days)
			days = left;
	}
	leaf = &r->tls[0].chain[0];
	snprintf(r->facts, sizeof(r->facts), "%s, issuer %s%s", leaf->subject, leaf->issuer,
		 cfg->no_verify		 ? ""
		 : r->tls[0].verify_code ? ""
					 : ", verified");
	result_perf(r, "days", days, "", 0, &cfg->days_warn, &cfg->days_crit);
	result_perf(r, "chain_days", chain_days, "", 0, NULL, NULL);
	r->perf[r->nperf - 1].has_min = false;
	r->perf[r->nperf - 2].has_min = false;
out:
	free(d.rec);
}

const struct check_def check_cert = {
	.name = "CERT",
	.threshold_label = NULL,
	.threshold_what = "days",
	.own_tls = true,
	.dialogue = cert_dialogue,
};
