/* session.c - the SMTP steps the checks share; see session.h */
#include "checks/session.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/net.h"
#include "lib/sanitize.h"

/* "220 <first line>" into out, sanitised. */
static void first_line(const struct smtp_reply *rep, char *out, size_t out_size)
{
	size_t len;
	const char *s = smtp_reply_line(rep, 0, &len);
	char clean[256];

	snprintf(out, out_size, "%d %s", rep->code,
		 s ? sanitize(clean, sizeof(clean), s, len, 160) : "");
}

/* The EHLO name to use on c: cfg->ehlo, else this host's name if it is a
 * FQDN other than localhost, else our address literal ("[192.0.2.1]"). */
static void check_ehlo_name(const struct check_cfg *cfg, const struct conn *c, char *out,
			    size_t out_size)
{
	struct addr local;
	char host[256];

	if (cfg->ehlo) {
		snprintf(out, out_size, "%s", cfg->ehlo);
		return;
	}
	if (gethostname(host, sizeof(host)) == 0) {
		host[sizeof(host) - 1] = '\0';
		if (strchr(host, '.') && strncmp(host, "localhost", 9) != 0) {
			snprintf(out, out_size, "%s", host);
			return;
		}
	}
	/* RFC 5321 §4.1.4: without a usable FQDN, an address literal. */
	if (conn_local_addr(c, &local) == 0) {
		snprintf(out, out_size, local.ss.ss_family == AF_INET6 ? "[IPv6:%s]" : "[%s]",
			 local.text);
		return;
	}
	snprintf(out, out_size, "%s", host);
}

void check_quit(struct conn *c, struct smtp_reply *rep, struct result *r)
{
	struct deadline brief = *conn_deadline(c);
	const struct deadline *saved;
	struct probe_err ignored;
	int64_t cap = mono_now_us() + 1000000;

	if (brief.at_us > cap)
		brief.at_us = cap;
	saved = conn_set_deadline(c, &brief);
	/* a reply nobody asked for is the one failure QUIT still reports: the
	 * dialogue before it ran out of step with the server */
	if (conn_command(c, "QUIT", rep, "QUIT", &ignored) < 0 && ignored.kind == ERR_PROTOCOL &&
	    strstr(ignored.msg, "nobody asked for") != NULL)
		result_fail(r, STATE_CRITICAL, ERR_PROTOCOL, "QUIT", "QUIT: %s", ignored.msg);
	conn_set_deadline(c, saved);
}

struct conn *check_reconnect(const struct check_cfg *cfg, const struct conn *old)
{
	struct probe_err e;
	struct conn *nc = conn_reopen(old, &e);

	if (nc && cfg->proxy_protocol && conn_send_proxy_header(nc, cfg->proxy_protocol, &e) < 0) {
		conn_free(nc);
		return NULL;
	}
	return nc;
}

/* -v: what was negotiated and with whom. */
void check_tls_detail(struct result *r, const struct tls_facts *f)
{
	strbuf_printf(&r->detail, "tls: %s %s%s%s\n", f->version_name, f->cipher,
		      f->group[0] ? " group " : "", f->group);
	for (int i = 0; i < f->ncerts; i++)
		strbuf_printf(&r->detail, "certificate %d: subject %s; issuer %s; %s-%d; %s\n", i,
			      f->chain[i].subject, f->chain[i].issuer, f->chain[i].key_name,
			      f->chain[i].key_bits, f->chain[i].sig_alg);
	strbuf_printf(&r->detail, "verification: %s\n", f->verify_code ? f->verify_reason : "ok");
}

int check_greeting(const struct check_cfg *cfg, struct conn *c, struct result *r,
		   struct smtp_reply *rep)
{
	size_t len;
	const char *s;

	if (conn_read_reply(c, rep, "greeting", &r->err) < 0) {
		check_fail(cfg, r, &r->err);
		return -1;
	}
	r->t.banner = us_to_s(mono_now_us() - conn_started_us(c));
	r->greeting_code = rep->code;
	s = smtp_reply_line(rep, 0, &len);
	sanitize(r->greeting, sizeof(r->greeting), s ? s : "", s ? len : 0, 200);
	snprintf(r->facts, sizeof(r->facts), "%d %s (%.3fs)", rep->code, r->greeting, r->t.banner);
	for (int i = 0; i < rep->nlines; i++) {
		char clean[512];

		s = smtp_reply_line(rep, i, &len);
		strbuf_printf(&r->detail, "greeting: %d%c%s\n", rep->code,
			      i + 1 < rep->nlines ? '-' : ' ',
			      sanitize(clean, sizeof(clean), s, len, 400));
	}
	if (rep->code == 220)
		return 0;
	/* RFC 5321 §3.1: after 554 the client should QUIT; after 421 the
	 * server closes.  Either way the greeting decides. */
	result_fail(r, STATE_CRITICAL, ERR_REJECTED, "greeting", "greeting refused with %d",
		    rep->code);
	if (rep->code != 421)
		check_quit(c, rep, r);
	return 1;
}

int check_ehlo(const struct check_cfg *cfg, struct conn *c, struct result *r,
	       struct smtp_reply *rep, struct smtp_caps *caps)
{
	char name[300], cmd[320], ehlo_reply[300], helo_reply[300];
	int64_t t0 = mono_now_us();

	memset(caps, 0, sizeof(*caps));
	check_ehlo_name(cfg, c, name, sizeof(name));
	/* LMTP (RFC 2033 §4.1): LHLO, and no HELO to fall back to */
	snprintf(cmd, sizeof(cmd), "%s %s", cfg->lmtp ? "LHLO" : "EHLO", name);
	if (conn_command(c, cmd, rep, cfg->lmtp ? "LHLO" : "EHLO", &r->err) < 0) {
		check_fail(cfg, r, &r->err);
		return -1;
	}
	r->t.ehlo = us_to_s(mono_now_us() - t0);
	if (rep->code == 250) {
		smtp_caps_parse(rep, caps);
		for (int i = 0; i < caps->nkw; i++)
			strbuf_printf(&r->detail, "extension: %s\n", caps->kw[i]);
		return 1;
	}
	first_line(rep, ehlo_reply, sizeof(ehlo_reply));
	if (cfg->lmtp) {
		result_fail(r, STATE_CRITICAL, ERR_REJECTED, "LHLO", "LHLO %s refused: %s", name,
			    ehlo_reply);
		return 0;
	}
	if (rep->code / 100 != 5) {
		result_fail(r, STATE_WARNING, ERR_REJECTED, "EHLO", "EHLO %s refused: %s", name,
			    ehlo_reply);
		return 0;
	}
	/* RFC 5321 §4.1.4: a client may fall back to HELO. */
	snprintf(cmd, sizeof(cmd), "HELO %s", name);
	if (conn_command(c, cmd, rep, "HELO", &r->err) < 0) {
		check_fail(cfg, r, &r->err);
		return -1;
	}
	r->t.ehlo = us_to_s(mono_now_us() - t0);
	if (rep->code == 250) {
		strbuf_printf(&r->detail, "EHLO refused (%s), HELO accepted: no extensions\n",
			      ehlo_reply);
		return 0;
	}
	first_line(rep, helo_reply, sizeof(helo_reply));
	result_fail(r, STATE_WARNING, ERR_REJECTED, "HELO", "EHLO and HELO %s refused: %s / %s",
		    name, ehlo_reply, helo_reply);
	return 0;
}

/* SNI: --sni, else the host name without a trailing dot; none for an IP
 * literal (RFC 6066 §3 forbids literal addresses in server_name). */
static void sni_name(const struct check_cfg *cfg, char *out, size_t n)
{
	struct addr lit;
	size_t len;

	if (cfg->sni) {
		snprintf(out, n, "%s", cfg->sni);
		return;
	}
	out[0] = '\0';
	if (cfg->host == NULL || addr_from_literal(cfg->host, 0, &lit) == 0)
		return;
	snprintf(out, n, "%s", cfg->host);
	len = strlen(out);
	if (len > 1 && out[len - 1] == '.')
		out[len - 1] = '\0';
}

int check_handshake(const struct check_cfg *cfg, struct conn *c, struct result *r,
		    enum tls_want want, struct tls_facts *f)
{
	char sni[300], verify[300];
	struct addr lit;
	int64_t t0;
	int rc;

	if (f == NULL) {
		result_fail(r, STATE_UNKNOWN, ERR_INTERNAL, "", "out of memory");
		return -1;
	}
	sni_name(cfg, sni, sizeof(sni));
	/* Verify for the name the user checks: --sni (also when -H is an
	 * address: how monitoring that passes $address$ checks a real
	 * certificate), else the host name; an IP literal only when that is
	 * all there is. */
	if (sni[0])
		snprintf(verify, sizeof(verify), "%s", sni);
	else if (addr_from_literal(cfg->host, 0, &lit) == 0)
		snprintf(verify, sizeof(verify), "%s", lit.text);
	else
		snprintf(verify, sizeof(verify), "%s", cfg->host);
	t0 = mono_now_us();
	rc = conn_start_tls(c, sni[0] ? sni : NULL, verify, want, f, &r->err);
	if (rc == 0 || r->err.kind != ERR_INTERNAL) /* a handshake was tried */
		r->t.handshake = us_to_s(mono_now_us() - t0);
	if (rc < 0)
		check_fail(cfg, r, &r->err);
	return rc;
}

int check_tls_session(const struct check_cfg *cfg, struct conn *c, struct result *r,
		      enum tls_want want, struct tls_facts *f)
{
	struct smtp_reply rep;
	struct smtp_caps caps;
	int rc = -1;

	if (check_implicit_tls(cfg))
		return check_handshake(cfg, c, r, want, f);
	smtp_reply_init(&rep);
	if (check_greeting(cfg, c, r, &rep) != 0 || check_ehlo(cfg, c, r, &rep, &caps) < 0)
		goto out;
	r->starttls_offered = smtp_caps_has(&caps, "STARTTLS");
	snprintf(r->auth_plain, sizeof(r->auth_plain), "%s", caps.auth);
	if (!r->starttls_offered) {
		result_fail(r, STATE_CRITICAL, ERR_REJECTED, "EHLO", "STARTTLS not advertised");
		check_quit(c, &rep, r);
		goto out;
	}
	rc = check_starttls_upgrade(cfg, c, r, &rep, want, f);
out:
	smtp_reply_free(&rep);
	return rc;
}

int check_starttls_upgrade(const struct check_cfg *cfg, struct conn *c, struct result *r,
			   struct smtp_reply *rep, enum tls_want want, struct tls_facts *f)
{
	int64_t t0 = mono_now_us();

	if (conn_command(c, "STARTTLS", rep, "STARTTLS", &r->err) < 0) {
		check_fail(cfg, r, &r->err);
		return -1;
	}
	r->t.starttls = us_to_s(mono_now_us() - t0);
	if (rep->code != 220) {
		char line[300];

		first_line(rep, line, sizeof(line));
		result_fail(r, STATE_CRITICAL, ERR_REJECTED, "STARTTLS", "STARTTLS refused: %s",
			    line);
		check_quit(c, rep, r);
		return -1;
	}
	/* RFC 3207 §4.2 / CVE-2011-0411: bytes after the 220 were sent before
	 * TLS and must not be taken as coming over it. */
	if (conn_pending(c) > 0) {
		result_fail(r, STATE_CRITICAL, ERR_PROTOCOL, "STARTTLS",
			    "server sent %zu bytes after its 220 to STARTTLS, before TLS "
			    "(response injection)",
			    conn_pending(c));
		return -1;
	}
	return check_handshake(cfg, c, r, want, f);
}
