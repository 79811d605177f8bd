/* relay.c - check_mta_relay: prove the server refuses to relay.  For each sender/recipient pair:
 * MAIL FROM, RCPT TO, RSET.  Never DATA, BDAT or a message body: whatever the server says, no mail
 * can come of this check.  Reconnects when the server drops the session (421 or close) and tries
 * that pair once more. */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "checks/session.h"
#include "lib/sanitize.h"

#define RELAY_MAX_PAIRS 16
/* Servers slow down clients that collect errors (Postfix answers one second
 * late per command after 10: smtpd_soft_error_limit), so a fresh session
 * every few refused pairs keeps --thorough fast. */
#define RELAY_PAIRS_PER_SESSION 5

struct pair {
	char from[320], to[320];
	bool local; /* the recipient is in the server's own domain or address */
};

enum outcome { PAIR_REFUSED, PAIR_ACCEPTED, PAIR_TEMPFAIL, PAIR_DROPPED, PAIR_ERROR };

/* Greeting, EHLO, and STARTTLS (-S) or the implicit-TLS handshake, on a
 * scratch result s: failures are the relay check's to judge. */
static int open_session(const struct check_cfg *cfg, struct conn *c, struct result *s)
{
	struct smtp_reply rep;
	struct smtp_caps caps;
	int rc = -1;

	smtp_reply_init(&rep);
	if (check_implicit_tls(cfg)) {
		if (check_handshake(cfg, c, s, TLS_WANT_ANY, result_tls(s, 0)) < 0 ||
		    check_greeting(cfg, c, s, &rep) != 0)
			goto out;
		s->ntls = 1;
	} else if (cfg->relay_starttls) {
		if (check_tls_session(cfg, c, s, TLS_WANT_ANY, result_tls(s, 0)) < 0)
			goto out;
		s->ntls = 1;
	} else if (check_greeting(cfg, c, s, &rep) != 0) {
		goto out;
	}
	if (check_ehlo(cfg, c, s, &rep, &caps) >= 0 && s->state == STATE_OK)
		rc = 0;
out:
	smtp_reply_free(&rep);
	return rc;
}

/* The first problem recorded on s, for "could not test: ...". */
static const char *why_not(const struct result *s)
{
	return s->nproblems ? s->problems[0].text : "no session";
}

/* A domain name as the greeting gives it: letters, digits, '-', '.'. */
static bool plausible_domain(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 253 || strchr(s, '.') == NULL)
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '-' && *s != '.')
			return false;
	return true;
}

/* The server's own domain for the spoofing and routing tricks. */
static void own_domain(const struct check_cfg *cfg, const struct result *r, char *out, size_t n,
		       const char **source)
{
	char word[256];
	size_t len = strcspn(r->greeting, " ");

	if (cfg->relay_domain) {
		snprintf(out, n, "%s", cfg->relay_domain);
		*source = "--domain";
		return;
	}
	snprintf(word, sizeof(word), "%.*s", (int)len, r->greeting);
	if (plausible_domain(word)) {
		snprintf(out, n, "%s", word);
		*source = "the greeting";
		return;
	}
	snprintf(out, n, "%s", cfg->host);
	*source = "-H";
}

static int add(struct pair *p, int n, bool local, const char *from, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

static int add(struct pair *p, int n, bool local, const char *from, const char *fmt, ...)
{
	va_list ap;

	if (n >= RELAY_MAX_PAIRS)
		return n;
	p[n].local = local;
	snprintf(p[n].from, sizeof(p[n].from), "%s", from);
	va_start(ap, fmt);
	vsnprintf(p[n].to, sizeof(p[n].to), fmt, ap);
	va_end(ap);
	return n + 1;
}

/* The quick set, and with --thorough the classic address tricks
 * (user%outside@host, quoted local parts, double @, source routes, bang
 * paths, address literals) that have made MTAs relay in the past. */
static int build_pairs(const struct check_cfg *cfg, const char *domain, const char *ip,
		       struct pair *p)
{
	const char *from = cfg->relay_from ? cfg->relay_from : "mtaprobe@example.org";
	const char *to = cfg->relay_to ? cfg->relay_to : "mtaprobe@example.net";
	const char *at = strrchr(to, '@');
	char user[256], outside[256], spoof[320];
	int n = 0;

	snprintf(user, sizeof(user), "%.*s", at ? (int)(at - to) : (int)strlen(to), to);
	snprintf(outside, sizeof(outside), "%s", at ? at + 1 : "example.net");
	snprintf(spoof, sizeof(spoof), "%s@%s", user, domain);
	n = add(p, n, false, from, "%s", to);
	n = add(p, n, false, "", "%s", to);
	n = add(p, n, false, spoof, "%s", to);
	if (!cfg->relay_thorough)
		return n;
	n = add(p, n, true, from, "%s%%%s@%s", user, outside, domain);
	n = add(p, n, false, from, "\"%s@%s\"", user, outside);
	n = add(p, n, true, from, "\"%s@%s\"@%s", user, outside, domain);
	n = add(p, n, true, from, "%s@%s@%s", user, outside, domain);
	n = add(p, n, false, from, "@%s:%s@%s", domain, user, outside);
	n = add(p, n, false, from, "%s!%s", outside, user);
	n = add(p, n, true, from, "%s!%s@%s", outside, user, domain);
	n = add(p, n, true, from, "%s%%%s@[%s]", user, outside, ip);
	n = add(p, n, true, from, "%s@%s@[%s]", user, outside, ip);
	return n;
}

static void reply_text(const struct smtp_reply *rep, char *out, size_t n)
{
	size_t len;
	const char *s = smtp_reply_line(rep, 0, &len);
	char clean[256];

	snprintf(out, n, "%d %s", rep->code, s ? sanitize(clean, sizeof(clean), s, len, 160) : "");
}

/* One pair: MAIL FROM, RCPT TO.  The deciding reply into said. */
static enum outcome try_pair(struct conn *c, const struct pair *p, struct smtp_reply *rep,
			     char *said, size_t n, struct probe_err *e)
{
	char cmd[400];

	said[0] = '\0';
	snprintf(cmd, sizeof(cmd), "MAIL FROM:<%s>", p->from);
	if (conn_command(c, cmd, rep, "MAIL", e) < 0)
		goto failed;
	reply_text(rep, said, n);
	if (rep->code == 421)
		return PAIR_DROPPED;
	if (rep->code / 100 == 5)
		return PAIR_REFUSED; /* the sender alone was refused: no relay */
	if (rep->code / 100 != 2)
		return PAIR_TEMPFAIL;
	snprintf(cmd, sizeof(cmd), "RCPT TO:<%s>", p->to);
	if (conn_command(c, cmd, rep, "RCPT", e) < 0)
		goto failed;
	reply_text(rep, said, n);
	switch (rep->code / 100) {
	case 2:
		return PAIR_ACCEPTED;
	case 5:
		return PAIR_REFUSED;
	default:
		return rep->code == 421 ? PAIR_DROPPED : PAIR_TEMPFAIL;
	}
failed:
	snprintf(said, n, "%s: %s", e->stage, e->msg);
	return e->kind == ERR_CLOSED ? PAIR_DROPPED : PAIR_ERROR;
}

/* RSET after every test: RFC 5321 §4.1.1.5 says it always succeeds, so any
 * answer but 250 (or 421, closing) means the replies are out of step with
 * the commands (a late second reply to RCPT was read as RSET's): nothing
 * read in this session can be trusted, an "accepted" RCPT least of all. */
static int rset(struct conn *c, struct smtp_reply *rep, struct probe_err *e)
{
	char said[300];

	if (conn_command(c, "RSET", rep, "RSET", e) < 0)
		return -1;
	if (rep->code / 100 == 2)
		return 0;
	reply_text(rep, said, sizeof(said));
	if (rep->code == 421)
		return err_set(e, ERR_CLOSED, "RSET", "RSET answered %s", said);
	return err_set(e, ERR_PROTOCOL, "RSET",
		       "RSET answered %s: the replies are out of step with the commands", said);
}

/* A fresh session after the server dropped *cur: *cur is closed and
 * replaced by the new connection (freed unless it is the dialogue's own c,
 * which probe_run frees); on failure *cur is c, closed.  0 or -1. */
static int resume(const struct check_cfg *cfg, struct conn *c, struct conn **cur, struct result *r)
{
	struct conn *nc;
	struct result s;
	int rc;

	conn_close(*cur);
	nc = check_reconnect(cfg, *cur);
	if (*cur != c)
		conn_free(*cur);
	*cur = c;
	if (nc == NULL)
		return -1;
	result_init(&s, r->check, r->host, r->port);
	rc = open_session(cfg, nc, &s);
	if (rc < 0) {
		strbuf_printf(&r->detail, "reconnect failed: %s\n", why_not(&s));
		conn_free(nc);
	} else {
		*cur = nc;
	}
	result_free(&s);
	return rc;
}

/* A relay test the server kept dropping (421 or a reset): the run is cut
 * short, which must show as more than "no test could be made". */
static void dropped(struct result *r, const struct probe_err *e, const char *said, const char *what)
{
	result_fail(r, STATE_WARNING, e->kind != ERR_NONE ? e->kind : ERR_CLOSED,
		    e->stage[0] ? e->stage : "RCPT", "relay test %s (%s)", what, said);
}

/* Does the server take any local part at its own domain (a catch-all)?  Then
 * a trick addressed there (user%outside@domain) being accepted may mean
 * local delivery rather than relaying: it cannot be told apart without
 * sending mail, which this check never does. */
static bool catch_all(const struct check_cfg *cfg, struct conn *c, const char *domain,
		      struct result *r)
{
	struct pair ctl;
	struct smtp_reply rep;
	struct probe_err e;
	char said[300];
	enum outcome o;

	snprintf(ctl.from, sizeof(ctl.from), "%s",
		 cfg->relay_from ? cfg->relay_from : "mtaprobe@example.org");
	snprintf(ctl.to, sizeof(ctl.to), "mtaprobe-no-such-user@%s", domain);
	smtp_reply_init(&rep);
	o = try_pair(c, &ctl, &rep, said, sizeof(said), &e);
	if (o != PAIR_DROPPED && o != PAIR_ERROR && rset(c, &rep, &e) < 0 &&
	    e.kind == ERR_PROTOCOL) {
		result_fail(r, STATE_CRITICAL, e.kind, e.stage, "%s: %s", e.stage, e.msg);
		o = PAIR_ERROR;
	}
	smtp_reply_free(&rep);
	strbuf_printf(&r->detail, "control: <%s> -> <%s>: %s%s\n", ctl.from, ctl.to, said,
		      o == PAIR_ACCEPTED ? " (any local part is taken: tricks addressed to "
					   "the server's own domain are inconclusive)"
					 : "");
	return o == PAIR_ACCEPTED;
}

static void verdict(struct result *r, int npairs, const char *accepted, int inconclusive)
{
	if (r->err.kind == ERR_PROTOCOL)
		; /* out of step: the CRITICAL says so, no reply decides a verdict */
	else if (r->relay_accepted > 3)
		result_raise(r, STATE_CRITICAL,
			     "OPEN RELAY: RCPT accepted for %s and %d more (-v lists them)",
			     accepted, r->relay_accepted - 3);
	else if (r->relay_accepted > 0)
		result_raise(r, STATE_CRITICAL, "OPEN RELAY: RCPT accepted for %s", accepted);
	else if (inconclusive > 0)
		result_raise(r, STATE_WARNING,
			     "inconclusive: %d address tricks accepted, but the server takes any "
			     "recipient in its own domain (local delivery or relay?)",
			     inconclusive);
	else if (r->relay_tests == 0)
		result_fail(r, STATE_UNKNOWN, ERR_INTERNAL, "relay", "no relay test could be made");
	else if (r->relay_tests < npairs)
		result_raise(r, STATE_WARNING, "inconclusive: only %d of %d relay tests made",
			     r->relay_tests, npairs);
	else if (r->relay_tempfail > 0)
		result_raise(r, STATE_WARNING,
			     "inconclusive: %d of %d relay tests temporarily refused",
			     r->relay_tempfail, npairs);
	snprintf(r->facts, sizeof(r->facts), "%d of %d relay tests refused", r->relay_refused,
		 npairs);
	result_perf(r, "accepted", r->relay_accepted, "", 0, NULL, NULL);
	result_perf(r, "refused", r->relay_refused, "", 0, NULL, NULL);
	result_perf(r, "tempfail", r->relay_tempfail, "", 0, NULL, NULL);
	result_perf(r, "tests", r->relay_tests, "", 0, NULL, NULL);
	if (inconclusive)
		result_perf(r, "inconclusive", inconclusive, "", 0, NULL, NULL);
}

static void relay_dialogue(const struct check_cfg *cfg, struct conn *c, struct result *r)
{
	struct pair pairs[RELAY_MAX_PAIRS];
	struct conn *cur = c;
	struct smtp_reply rep;
	struct result s;
	char domain[256], accepted[1024] = "";
	const char *source;
	int npairs, rc, inconclusive = 0;
	bool catchall = false;

	result_init(&s, r->check, r->host, r->port);
	rc = open_session(cfg, c, &s);
	r->t.banner = s.t.banner;
	r->t.ehlo = s.t.ehlo;
	r->t.starttls = s.t.starttls;
	r->t.handshake = s.t.handshake;
	if (rc < 0) {
		if (s.err.kind != ERR_NONE)
			r->err = s.err;
		result_raise(r, STATE_UNKNOWN, "could not test: %s", why_not(&s));
		result_free(&s);
		return;
	}
	memcpy(r->greeting, s.greeting, sizeof(r->greeting));
	r->greeting_code = s.greeting_code;
	result_free(&s);
	own_domain(cfg, r, domain, sizeof(domain), &source);
	strbuf_printf(&r->detail, "own domain %s (from %s)\n", domain, source);
	npairs = build_pairs(cfg, domain, r->address, pairs);

	smtp_reply_init(&rep);
	if (cfg->relay_thorough)
		catchall = catch_all(cfg, cur, domain, r);
	for (int i = 0; i < npairs; i++) {
		struct probe_err e = { 0 };
		char said[300];
		enum outcome o = try_pair(cur, &pairs[i], &rep, said, sizeof(said), &e);

		if (o == PAIR_DROPPED) {
			strbuf_printf(&r->detail, "<%s> -> <%s>: dropped (%s), reconnecting\n",
				      pairs[i].from, pairs[i].to, said);
			if (resume(cfg, c, &cur, r) < 0) {
				dropped(r, &e, said, "dropped, and reconnecting failed");
				break;
			}
			o = try_pair(cur, &pairs[i], &rep, said, sizeof(said), &e);
			if (o == PAIR_DROPPED) {
				dropped(r, &e, said, "dropped again after reconnecting");
				break;
			}
		}
		if (o == PAIR_ERROR) {
			strbuf_printf(&r->detail, "<%s> -> <%s>: %s\n", pairs[i].from, pairs[i].to,
				      said);
			if (e.kind == ERR_PROTOCOL) /* out of step: no reply can be trusted */
				result_fail(r, STATE_CRITICAL, e.kind, e.stage, "%s: %s", e.stage,
					    e.msg);
			break;
		}
		r->relay_tests++;
		if (o == PAIR_ACCEPTED && catchall && pairs[i].local) {
			inconclusive++;
			strbuf_printf(&r->detail,
				      "<%s> -> <%s>: accepted, inconclusive (catch-all) %s\n",
				      pairs[i].from, pairs[i].to, said);
			goto next;
		}
		r->relay_accepted += o == PAIR_ACCEPTED;
		r->relay_refused += o == PAIR_REFUSED;
		r->relay_tempfail += o == PAIR_TEMPFAIL;
		strbuf_printf(&r->detail, "<%s> -> <%s>: %s %s\n", pairs[i].from, pairs[i].to,
			      o == PAIR_ACCEPTED  ? "ACCEPTED"
			      : o == PAIR_REFUSED ? "refused"
						  : "tempfail",
			      said);
		if (o == PAIR_ACCEPTED && r->relay_accepted <= 3) {
			char one[700], clean[700];
			size_t m = strlen(accepted);

			/* the first three in the summary, every one in -v */
			snprintf(one, sizeof(one), "<%s> -> <%s> (%s)", pairs[i].from, pairs[i].to,
				 said);
			sanitize(clean, sizeof(clean), one, strlen(one), 150);
			snprintf(accepted + m, sizeof(accepted) - m, "%s%s", m ? "; " : "", clean);
		}
next:
		if (rset(cur, &rep, &e) < 0) {
			if (e.kind == ERR_PROTOCOL) {
				result_fail(r, STATE_CRITICAL, e.kind, e.stage, "%s: %s", e.stage,
					    e.msg);
				break;
			}
			if (i + 1 == npairs || resume(cfg, c, &cur, r) < 0)
				break;
			continue;
		}
		if (i + 1 == npairs)
			break;
		if ((i + 1) % RELAY_PAIRS_PER_SESSION == 0) {
			check_quit(cur, &rep, r);
			if (resume(cfg, c, &cur, r) < 0)
				break;
		}
	}
	check_quit(cur, &rep, r);
	if (cur != c)
		conn_free(cur);
	smtp_reply_free(&rep);
	verdict(r, npairs, accepted, inconclusive);
}

const struct check_def check_relay = {
	.name = "RELAY",
	.threshold_label = NULL,
	.threshold_what = "relay",
	.own_tls = true,
	.unreachable_unknown = true,
	.dialogue = relay_dialogue,
};
