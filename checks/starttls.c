/* starttls.c - check_mta_starttls, STARTTLS offered and working: EHLO, STARTTLS, handshake with
 * SNI, EHLO again over TLS.  On implicit TLS (465, -s) the handshake comes first, then greeting and
 * EHLO over TLS.  Besides: AUTH offered before TLS (587, --no-plain-auth), the protocol versions
 * below --min-tls the server still takes (--scan-versions, one pinned handshake each, at once),
 * and the STARTTLS command-injection probe (--injection). */
#include <stdio.h>
#include <string.h>

#include "checks/session.h"
#include "lib/sched.h"

/* --- --scan-versions ------------------------------------------------------ */

struct scan {
	const struct check_cfg *cfg;
	const struct conn *proto; /* the check's connection: address, deadline */
	int version;
	int outcome; /* 1 taken, 0 refused, -1 not known */
	char why[200];
};

/* One handshake pinned to s->version on a connection of its own. */
static void *scan_one(void *arg)
{
	struct scan *s = arg;
	struct conn *nc = check_reconnect(s->cfg, s->proto);
	struct result *r;
	struct tls_facts *f;

	s->outcome = -1;
	if (nc == NULL) {
		snprintf(s->why, sizeof(s->why), "could not connect again");
		return NULL;
	}
	conn_set_transcript(nc, NULL); /* run beside the check: not its -vvv */
	r = result_new("STARTTLS", s->cfg->host ? s->cfg->host : "", s->cfg->port);
	f = r ? result_tls(r, 0) : NULL;
	if (f && check_tls_session(s->cfg, nc, r, TLS_WANT_ANY | TLS_PIN(s->version), f) == 0) {
		s->outcome = f->version == s->version;
		snprintf(s->why, sizeof(s->why), "%s %s", f->version_name, f->cipher);
	} else if (f == NULL) {
		snprintf(s->why, sizeof(s->why), "out of memory");
	} else {
		/* a refusal is the handshake failing; anything else says nothing */
		s->outcome = r->err.kind == ERR_TLS ? 0 : -1;
		snprintf(s->why, sizeof(s->why), "%s",
			 r->nproblems ? r->problems[0].text : "no handshake");
	}
	result_delete(r);
	conn_free(nc);
	return NULL;
}

static void scan_versions(const struct check_cfg *cfg, const struct conn *c, struct result *r)
{
	static const int versions[] = { 0x0301, 0x0302, 0x0303 };
	struct scan s[3];
	int n = 0, taken = 0;
	char list[80] = "";

	for (int i = 0; i < 3; i++)
		if (versions[i] < (cfg->min_tls ? cfg->min_tls : 0x0303)) {
			s[n] = (struct scan){ .cfg = cfg, .proto = c, .version = versions[i] };
			n++;
		}
	sched_all(cfg->sched, scan_one, s, sizeof(s[0]), (size_t)n);
	for (int i = 0; i < n; i++) {
		const char *name = tls_version_name(s[i].version);

		strbuf_printf(&r->detail, "scan %s: %s (%s)\n", name,
			      s[i].outcome == 1	  ? "accepted"
			      : s[i].outcome == 0 ? "refused"
						  : "not known",
			      s[i].why);
		r->scan[s[i].version - 0x0301] = (signed char)s[i].outcome;
		if (s[i].outcome == 1) {
			taken++;
			snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s",
				 list[0] ? ", " : "", name);
		}
	}
	r->versions_below = taken;
	if (taken)
		result_raise(r, STATE_WARNING, "still accepts %s", list);
	result_perf(r, "versions_below_min", taken, "", 0, NULL, NULL);
}

/* --- --injection ------------------------------------------------------------ */

/* CVE-2011-0411 and kin: "STARTTLS\r\nNOOP\r\n" in one write.  A server
 * that keeps the NOOP it read before TLS and answers it over TLS executes
 * whatever a man in the middle puts there. */
static void injection(const struct check_cfg *cfg, const struct conn *c, struct result *r)
{
	struct conn *nc = check_reconnect(cfg, c);
	struct result *s;
	struct smtp_reply rep;
	struct smtp_caps caps;
	struct probe_err e = { 0 };
	struct tls_facts *f;
	static const char probe[] = "STARTTLS\r\nNOOP\r\n";

	if (nc == NULL) {
		strbuf_printf(&r->detail, "injection probe: could not connect again\n");
		return;
	}
	s = result_new("STARTTLS", cfg->host ? cfg->host : "", cfg->port);
	if (s == NULL) {
		strbuf_printf(&r->detail, "injection probe: out of memory\n");
		conn_free(nc);
		return;
	}
	smtp_reply_init(&rep);
	f = result_tls(s, 0);
	if (f == NULL || check_greeting(cfg, nc, s, &rep) != 0 ||
	    check_ehlo(cfg, nc, s, &rep, &caps) < 0) {
		strbuf_printf(&r->detail, "injection probe: no session (%s)\n",
			      s->nproblems ? s->problems[0].text : "?");
		goto out;
	}
	if (conn_write(nc, probe, sizeof(probe) - 1, "STARTTLS", &e) < 0 ||
	    conn_read_reply(nc, &rep, "STARTTLS", &e) < 0 || rep.code != 220) {
		strbuf_printf(&r->detail, "injection probe: STARTTLS failed (%s)\n",
			      e.kind ? e.msg : "not 220");
		goto out;
	}
	if (conn_pending(nc) == 0) {
		/* a plain-text answer may come in a write of its own: give it
		 * 200 ms before the handshake takes whatever comes for TLS */
		struct deadline brief = *conn_deadline(nc);
		int64_t cap = mono_now_us() + 200000;
		const struct deadline *saved;
		struct smtp_reply late;
		struct probe_err ignored;

		if (brief.at_us > cap)
			brief.at_us = cap;
		smtp_reply_init(&late);
		saved = conn_set_deadline(nc, &brief);
		if (conn_read_reply(nc, &late, "NOOP", &ignored) == 0)
			rep.code = late.code; /* answered: no longer the 220 */
		conn_set_deadline(nc, saved);
		smtp_reply_free(&late);
	}
	if (conn_pending(nc) > 0 || rep.code != 220) {
		/* the NOOP answered before TLS, in plain text: not injected */
		strbuf_printf(&r->detail,
			      "injection probe: the server answered the NOOP before "
			      "TLS (it read past STARTTLS, but in plain text)\n");
		goto out;
	}
	if (check_handshake(cfg, nc, s, TLS_WANT_ANY, f) < 0) {
		result_raise(r, STATE_WARNING,
			     "injection probe: the TLS handshake failed after STARTTLS and an "
			     "injected NOOP (the server fed the plain text to TLS?): %s",
			     s->nproblems ? s->problems[0].text : "?");
		goto out;
	}
	{
		/* anything now, before we said a word over TLS, answers the NOOP */
		struct deadline brief = *conn_deadline(nc);
		int64_t cap = mono_now_us() + 1000000;
		const struct deadline *saved;

		if (brief.at_us > cap)
			brief.at_us = cap;
		saved = conn_set_deadline(nc, &brief);
		if (conn_read_reply(nc, &rep, "NOOP", &e) == 0) {
			char line[200];
			size_t len;
			const char *t = smtp_reply_line(&rep, 0, &len);

			snprintf(line, sizeof(line), "%d %.*s", rep.code, t ? (int)len : 0,
				 t ? t : "");
			result_fail(
				r, STATE_CRITICAL, ERR_PROTOCOL, "STARTTLS",
				"executes plaintext commands injected before TLS: the NOOP sent "
				"with STARTTLS was answered over TLS (%.60s)",
				line);
		} else if (brief.at_us < cap) {
			strbuf_printf(&r->detail,
				      "injection probe: no answer over TLS in the time "
				      "left (too short to tell)\n");
		} else {
			strbuf_printf(&r->detail,
				      "injection probe: plain text after STARTTLS "
				      "discarded (not vulnerable)\n");
		}
		conn_set_deadline(nc, saved);
	}
out:
	smtp_reply_free(&rep);
	result_delete(s);
	conn_free(nc);
}

static void starttls_dialogue(const struct check_cfg *cfg, struct conn *c, struct result *r)
{
	struct tls_facts *f = result_tls(r, 0); /* NULL: out of memory, said below */
	struct smtp_reply rep;
	struct smtp_caps caps;
	bool implicit = check_implicit_tls(cfg);

	smtp_reply_init(&rep);
	if (check_tls_session(cfg, c, r, TLS_WANT_ANY, f) < 0)
		goto out;
	r->ntls = 1;
	check_tls_detail(r, f);
	if (implicit && check_greeting(cfg, c, r, &rep) != 0)
		goto out;
	/* RFC 3207 §4.2: forget what was said before TLS, ask again. */
	switch (check_ehlo(cfg, c, r, &rep, &caps)) {
	case -1:
		goto out;
	case 0:
		result_fail(r, STATE_CRITICAL, ERR_REJECTED, cfg->lmtp ? "LHLO" : "EHLO",
			    "%s over TLS was not accepted", cfg->lmtp ? "LHLO" : "EHLO");
		break;
	}
	snprintf(r->auth_tls, sizeof(r->auth_tls), "%s", caps.auth);
	if (!implicit)
		strbuf_printf(&r->detail, "AUTH before TLS: %s; over TLS: %s\n",
			      r->auth_plain[0] ? r->auth_plain : "none",
			      r->auth_tls[0] ? r->auth_tls : "none");
	/* passwords offered in the clear: on submission, or when asked to care */
	if (!implicit && r->auth_plain[0] && (cfg->port == 587 || cfg->no_plain_auth))
		result_raise(r, STATE_WARNING, "offers AUTH %s before TLS", r->auth_plain);
	if (cfg->min_tls && f->version < cfg->min_tls)
		result_raise(r, STATE_WARNING, "%s is below the minimum %s", f->version_name,
			     tls_version_name(cfg->min_tls));
	snprintf(r->facts, sizeof(r->facts), "%s%s %s (handshake %.3fs)",
		 implicit ? "implicit TLS: " : "STARTTLS: ", f->version_name, f->cipher,
		 r->t.handshake);
	check_quit(c, &rep, r);
	if (cfg->scan_versions)
		scan_versions(cfg, c, r);
	if (cfg->injection && !implicit)
		injection(cfg, c, r);
out:
	smtp_reply_free(&rep);
}

const struct check_def check_starttls = {
	.name = "STARTTLS",
	.threshold_label = "handshake",
	.threshold_what = "TLS handshake",
	.own_tls = true,
	.dialogue = starttls_dialogue,
};
