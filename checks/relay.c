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
 * every few refused pairs keeps --thorough fast -- when a fresh session is
 * cheap: a greeting that took a second or more (an early-talker pause, as
 * Haraka's 5 s) is never paid again by choice. */
#define RELAY_PAIRS_PER_SESSION 5
#define RELAY_CHEAP_GREETING_S	1.0

struct pair {
	char from[320], to[320];
	bool local; /* the server may take the recipient as its own (no domain
		       part, or its own domain or address) */
};

enum outcome {
	PAIR_REFUSED,
	PAIR_ACCEPTED,
	PAIR_TEMPFAIL,
	PAIR_DROPPED,	     /* 421 or the connection closed: reconnect */
	PAIR_ERROR,	     /* timeout, reset, out of step: the run ends */
	PAIR_SENDER_REFUSED, /* MAIL FROM refused: not a relay refusal */
	PAIR_WANTS_AUTH,     /* 530 / "STARTTLS first" / "authentication required" */
	PAIR_NOT_TESTED,     /* every sender refused: RCPT never reached */
};

/* One run of the dialogue: the session in use and what was learnt. */
struct run {
	struct check_cfg cfg; /* a copy: relay_starttls set once upgraded */
	struct conn *c;	      /* the dialogue's own connection (probe_run frees it) */
	struct conn *cur;     /* the session in use: c, or a reconnection */
	struct result *r;
	struct smtp_reply rep;
	bool tls;	       /* the session is over TLS */
	bool starttls;	       /* STARTTLS advertised on the plain session */
	bool upgraded;	       /* the tests moved to TLS because the server asked */
	bool upgrade_failed;   /* ... and STARTTLS or its handshake failed */
	bool cheap;	       /* a fresh session costs little (fast greeting) */
	int auth;	       /* refusals that were "authentication required" */
	int null_sender;       /* pairs tested with <> after their sender was refused */
	int not_tested;	       /* pairs whose every sender was refused */
	char sender_said[300]; /* the first MAIL FROM refusal */
};

/* Greeting, EHLO, and STARTTLS (-S, or once upgraded) or the implicit-TLS
 * handshake, on a scratch result s: failures are the relay check's to
 * judge.  *starttls: STARTTLS advertised before TLS. */
static int open_session(const struct check_cfg *cfg, struct conn *c, struct result *s,
			bool *starttls)
{
	struct smtp_reply rep;
	struct smtp_caps caps;
	int rc = -1;

	smtp_reply_init(&rep);
	*starttls = false;
	if (check_implicit_tls(cfg)) {
		if (check_handshake(cfg, c, s, TLS_WANT_ANY, result_tls(s, 0)) < 0 ||
		    check_greeting(cfg, c, s, &rep) != 0)
			goto out;
		s->ntls = 1;
	} else if (cfg->relay_starttls) {
		if (check_tls_session(cfg, c, s, TLS_WANT_ANY, result_tls(s, 0)) < 0)
			goto out;
		*starttls = true;
		s->ntls = 1;
	} else if (check_greeting(cfg, c, s, &rep) != 0) {
		goto out;
	}
	if (check_ehlo(cfg, c, s, &rep, &caps) >= 0 && s->state == STATE_OK) {
		rc = 0;
		if (!check_implicit_tls(cfg) && !cfg->relay_starttls)
			*starttls = smtp_caps_has(&caps, "STARTTLS");
	}
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

/* The server's own domain for the spoofing and routing tricks: --domain,
 * the greeting's name, else -H -- an address as an address literal
 * (RFC 5321 §4.1.3: [192.0.2.1], [IPv6:2001:db8::1]), never bare. */
static void own_domain(const struct check_cfg *cfg, const struct result *r, char *out, size_t n,
		       const char **source)
{
	char word[256];
	size_t len = strcspn(r->greeting, " ");
	struct addr lit;

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
	*source = "-H";
	if (addr_from_literal(cfg->host, 0, &lit) == 0)
		snprintf(out, n, lit.ss.ss_family == AF_INET6 ? "[IPv6:%s]" : "[%s]", lit.text);
	else
		snprintf(out, n, "%s", cfg->host);
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
	/* the same test twice (the own domain is the address literal) once */
	for (int i = 0; i < n; i++)
		if (strcmp(p[i].from, p[n].from) == 0 && strcmp(p[i].to, p[n].to) == 0)
			return n;
	return n + 1;
}

/* The quick set, and with --thorough the classic address tricks
 * (user%outside@host, quoted local parts, double @, source routes, bang
 * paths, address literals) that have made MTAs relay in the past.  Every
 * trick but the source route may be taken as local by the server: without
 * a domain part it gets the server's own appended (OpenSMTPD does), the
 * others are addressed to its domain or address. */
static int build_pairs(const struct check_cfg *cfg, const char *domain, const char *lit,
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
	n = add(p, n, true, from, "\"%s@%s\"", user, outside);
	n = add(p, n, true, from, "\"%s@%s\"@%s", user, outside, domain);
	n = add(p, n, true, from, "%s@%s@%s", user, outside, domain);
	n = add(p, n, false, from, "@%s:%s@%s", domain, user, outside);
	n = add(p, n, true, from, "%s!%s", outside, user);
	n = add(p, n, true, from, "%s!%s@%s", outside, user, domain);
	n = add(p, n, true, from, "%s%%%s@%s", user, outside, lit);
	n = add(p, n, true, from, "%s@%s@%s", user, outside, lit);
	return n;
}

static void reply_text(const struct smtp_reply *rep, char *out, size_t n)
{
	size_t len;
	const char *s = smtp_reply_line(rep, 0, &len);
	char clean[256];

	snprintf(out, n, "%d %s", rep->code, s ? sanitize(clean, sizeof(clean), s, len, 160) : "");
}

/* Does a 5xx ask for TLS or a login first?  530 (RFC 3207 §4, RFC 4954
 * §6), or a 5xx (5.7.0 / 5.7.1 / 5.7.11, or no enhanced code) naming
 * STARTTLS, TLS or authentication; "5.7.1 Relay access denied" is a
 * refusal. */
static bool wants_auth(const struct smtp_reply *rep)
{
	const char *t = strbuf_str(&rep->text);

	if (rep->code == 530)
		return true;
	/* with no enhanced code the text decides (Haraka: "550 Authentication
	 * required" on its submission ports) */
	if (rep->code / 100 != 5 ||
	    (rep->enhanced[0] && strcmp(rep->enhanced, "5.7.0") != 0 &&
	     strcmp(rep->enhanced, "5.7.1") != 0 && strcmp(rep->enhanced, "5.7.11") != 0))
		return false;
	return strcasestr(t, "starttls") || strcasestr(t, "tls first") ||
	       strcasestr(t, "authentication required") || strcasestr(t, "must authenticate") ||
	       strcasestr(t, "not authenticated");
}

/* One pair: MAIL FROM, RCPT TO.  The deciding reply into said. */
static enum outcome try_pair(struct conn *c, const char *from, const char *to,
			     struct smtp_reply *rep, char *said, size_t n, struct probe_err *e,
			     bool *at_rcpt)
{
	char cmd[400];

	said[0] = '\0';
	*at_rcpt = false;
	snprintf(cmd, sizeof(cmd), "MAIL FROM:<%s>", from);
	if (conn_command(c, cmd, rep, "MAIL", e) < 0)
		goto failed;
	reply_text(rep, said, n);
	if (rep->code == 421)
		return PAIR_DROPPED;
	if (rep->code / 100 == 5)
		return wants_auth(rep) ? PAIR_WANTS_AUTH : PAIR_SENDER_REFUSED;
	if (rep->code / 100 != 2)
		return PAIR_TEMPFAIL;
	snprintf(cmd, sizeof(cmd), "RCPT TO:<%s>", to);
	*at_rcpt = true;
	if (conn_command(c, cmd, rep, "RCPT", e) < 0)
		goto failed;
	reply_text(rep, said, n);
	switch (rep->code / 100) {
	case 2:
		return PAIR_ACCEPTED;
	case 5:
		return wants_auth(rep) ? PAIR_WANTS_AUTH : PAIR_REFUSED;
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

/* The server asked for STARTTLS (or a login) on the plain session: RSET,
 * STARTTLS, the handshake and EHLO over TLS on this connection, as a
 * sender that honours the 530 would.  0 when the tests can go on over TLS. */
static int upgrade(struct run *u, bool in_transaction)
{
	struct result *s = result_new(u->r->check, u->r->host, u->r->port);
	struct smtp_caps caps;
	struct probe_err e;
	int rc = -1;

	if (s == NULL) {
		u->upgrade_failed = true;
		result_fail(u->r, STATE_UNKNOWN, ERR_INTERNAL, "", "out of memory");
		return -1;
	}
	/* RSET ends a transaction the RCPT's 530 left open; a server that wants
	 * TLS first may answer it 530 too (aiosmtpd does), which is no sign of
	 * replies out of step here */
	if (in_transaction && conn_command(u->cur, "RSET", &u->rep, "RSET", &e) < 0) {
		snprintf(s->problems[0].text, sizeof(s->problems[0].text), "RSET: %s", e.msg);
		s->nproblems = 1;
	} else if (check_starttls_upgrade(&u->cfg, u->cur, s, &u->rep, TLS_WANT_ANY,
					  result_tls(s, 0)) == 0 &&
		   check_ehlo(&u->cfg, u->cur, s, &u->rep, &caps) >= 0 && s->state == STATE_OK) {
		rc = 0;
	}
	if (rc == 0) {
		u->tls = u->upgraded = true;
		u->cfg.relay_starttls = true; /* reconnections upgrade too */
		u->r->t.starttls = s->t.starttls;
		u->r->t.handshake = s->t.handshake;
		strbuf_printf(&u->r->detail, "the server wants STARTTLS first: testing over TLS\n");
	} else {
		u->upgrade_failed = true;
		strbuf_printf(&u->r->detail, "the server wants STARTTLS first, and it failed: %s\n",
			      why_not(s));
		result_raise(u->r, STATE_WARNING,
			     "inconclusive: the server wants STARTTLS before mail, and STARTTLS "
			     "failed: %s",
			     why_not(s));
	}
	result_delete(s);
	return rc;
}

/* One test as a careful sender would make it: a refused sender is retried
 * with the null sender <> (the refusal was not about relaying); a request
 * for STARTTLS first is honoured once; a request for a login over TLS, or
 * where there is no TLS, is the server refusing mail from strangers. */
static enum outcome test_pair(struct run *u, const struct pair *p, char *said, size_t n,
			      struct probe_err *e, const char **used_from)
{
	const char *from = p->from;
	enum outcome o;
	bool at_rcpt;

	for (;;) {
		*used_from = from;
		o = try_pair(u->cur, from, p->to, &u->rep, said, n, e, &at_rcpt);
		if (o == PAIR_WANTS_AUTH && !u->tls && u->starttls && !u->upgrade_failed) {
			if (upgrade(u, at_rcpt) < 0)
				return PAIR_ERROR;
			continue;
		}
		if (o == PAIR_WANTS_AUTH) {
			u->auth++;
			return PAIR_REFUSED;
		}
		if (o == PAIR_SENDER_REFUSED && from[0] != '\0') {
			if (u->sender_said[0] == '\0')
				snprintf(u->sender_said, sizeof(u->sender_said), "%s", said);
			strbuf_printf(&u->r->detail,
				      "<%s> refused at MAIL FROM (%s): retrying with <>\n", from,
				      said);
			if (rset(u->cur, &u->rep, e) < 0)
				return e->kind == ERR_CLOSED ? PAIR_DROPPED : PAIR_ERROR;
			from = "";
			u->null_sender++;
			continue;
		}
		if (o == PAIR_SENDER_REFUSED) {
			if (u->sender_said[0] == '\0')
				snprintf(u->sender_said, sizeof(u->sender_said), "%s", said);
			if (p->from[0] != '\0')
				u->null_sender--;
			u->not_tested++;
			return PAIR_NOT_TESTED;
		}
		return o;
	}
}

/* A fresh session after the server dropped u->cur (or to shed its error
 * count): u->cur is closed and replaced by the new connection (freed unless
 * it is the dialogue's own c); on failure u->cur is c, closed.  0 or -1. */
static int resume(struct run *u)
{
	struct conn *nc;
	struct result *s;
	bool starttls;
	int rc;

	conn_close(u->cur);
	nc = check_reconnect(&u->cfg, u->cur);
	if (u->cur != u->c)
		conn_free(u->cur);
	u->cur = u->c;
	if (nc == NULL)
		return -1;
	s = result_new(u->r->check, u->r->host, u->r->port);
	if (s == NULL) {
		strbuf_printf(&u->r->detail, "reconnect failed: out of memory\n");
		conn_free(nc);
		return -1;
	}
	rc = open_session(&u->cfg, nc, s, &starttls);
	if (rc < 0) {
		strbuf_printf(&u->r->detail, "reconnect failed: %s\n", why_not(s));
		conn_free(nc);
	} else {
		u->cur = nc;
	}
	result_delete(s);
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
static bool catch_all(struct run *u, const char *domain)
{
	struct pair ctl;
	struct probe_err e = { 0 };
	char said[300];
	const char *used;
	enum outcome o;
	int null_sender, not_tested;

	snprintf(ctl.from, sizeof(ctl.from), "%s",
		 u->cfg.relay_from ? u->cfg.relay_from : "mtaprobe@example.org");
	snprintf(ctl.to, sizeof(ctl.to), "mtaprobe-no-such-user@%s", domain);
	ctl.local = true;
	/* the control is no relay test: its sender retries are not counted */
	null_sender = u->null_sender;
	not_tested = u->not_tested;
	o = test_pair(u, &ctl, said, sizeof(said), &e, &used);
	u->null_sender = null_sender;
	u->not_tested = not_tested;
	if (o != PAIR_DROPPED && o != PAIR_ERROR && rset(u->cur, &u->rep, &e) < 0 &&
	    e.kind == ERR_PROTOCOL) {
		result_fail(u->r, STATE_CRITICAL, e.kind, e.stage, "%s: %s", e.stage, e.msg);
		o = PAIR_ERROR;
	}
	strbuf_printf(&u->r->detail, "control: <%s> -> <%s>: %s%s\n", used, ctl.to, said,
		      o == PAIR_ACCEPTED ? " (any local part is taken: tricks the server may "
					   "take as local are inconclusive)"
					 : "");
	return o == PAIR_ACCEPTED;
}

static void verdict(struct run *u, int npairs, const char *accepted, int inconclusive,
		    const struct probe_err *cut)
{
	struct result *r = u->r;
	const char *tls = u->upgraded ? " over TLS" : "";
	char extra[200] = "";

	if (r->err.kind == ERR_PROTOCOL)
		; /* out of step: the CRITICAL says so, no reply decides a verdict */
	else if (r->relay_accepted > 3)
		result_raise(r, STATE_CRITICAL,
			     "OPEN RELAY%s: RCPT accepted for %s and %d more (-v lists them)", tls,
			     accepted, r->relay_accepted - 3);
	else if (r->relay_accepted > 0)
		result_raise(r, STATE_CRITICAL, "OPEN RELAY%s: RCPT accepted for %s", tls,
			     accepted);
	else if (cut)
		result_fail(r, cut->kind == ERR_TIMEOUT ? u->cfg.timeout_state : STATE_WARNING,
			    cut->kind, cut->stage, "%s after %d of %d tests",
			    cut->kind == ERR_TIMEOUT ? "timeout" : cut->msg, r->relay_tests,
			    npairs);
	else if (inconclusive > 0)
		result_raise(r, STATE_WARNING,
			     "inconclusive: %d address tricks accepted, but the server takes any "
			     "recipient in its own domain (local delivery or relay?)",
			     inconclusive);
	else if (r->relay_tests == 0 && u->not_tested > 0)
		result_raise(r, STATE_WARNING,
			     "relay not tested: every sender was refused at MAIL FROM (%s)",
			     u->sender_said);
	else if (r->relay_tests == 0)
		result_fail(r, STATE_UNKNOWN, ERR_INTERNAL, "relay", "no relay test could be made");
	else if (r->relay_tests < npairs)
		result_raise(r, STATE_WARNING, "inconclusive: only %d of %d relay tests made%s",
			     r->relay_tests, npairs,
			     u->not_tested ? " (senders refused at MAIL FROM)" : "");
	else if (r->relay_tempfail > 0)
		result_raise(r, STATE_WARNING,
			     "inconclusive: %d of %d relay tests temporarily refused",
			     r->relay_tempfail, npairs);
	if (u->auth > 0)
		snprintf(extra, sizeof(extra), "requires authentication");
	if (u->null_sender > 0)
		snprintf(extra + strlen(extra), sizeof(extra) - strlen(extra),
			 "%s%d with the null sender <>, the sender being refused",
			 extra[0] ? "; " : "", u->null_sender);
	snprintf(r->facts, sizeof(r->facts), "%d of %d relay tests refused%s%s%s%s",
		 r->relay_refused, npairs, tls, extra[0] ? " (" : "", extra, extra[0] ? ")" : "");
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
	struct run u = { .cfg = *cfg, .c = c, .cur = c, .r = r };
	struct result *s;
	struct probe_err cut = { 0 };
	char domain[256], lit[80], accepted[1024] = "";
	const char *source;
	int npairs, rc, inconclusive = 0;
	bool catchall = false, was_cut = false;

	s = result_new(r->check, r->host, r->port);
	if (s == NULL) {
		result_fail(r, STATE_UNKNOWN, ERR_INTERNAL, "", "out of memory");
		return;
	}
	rc = open_session(cfg, c, s, &u.starttls);
	r->t.banner = s->t.banner;
	r->t.ehlo = s->t.ehlo;
	r->t.starttls = s->t.starttls;
	r->t.handshake = s->t.handshake;
	if (rc < 0) {
		if (s->err.kind != ERR_NONE)
			r->err = s->err;
		result_raise(r, STATE_UNKNOWN, "could not test: %s", why_not(s));
		result_delete(s);
		return;
	}
	memcpy(r->greeting, s->greeting, sizeof(r->greeting));
	r->greeting_code = s->greeting_code;
	u.tls = s->ntls > 0;
	u.cheap = s->t.banner < RELAY_CHEAP_GREETING_S;
	result_delete(s);
	own_domain(cfg, r, domain, sizeof(domain), &source);
	strbuf_printf(&r->detail, "own domain %s (from %s)\n", domain, source);
	snprintf(lit, sizeof(lit), strchr(r->address, ':') ? "[IPv6:%s]" : "[%s]", r->address);
	npairs = build_pairs(cfg, domain, lit, pairs);

	smtp_reply_init(&u.rep);
	/* the tricks go to the own domain and to the address literal: a
	 * catch-all at either makes the local ones inconclusive (OpenSMTPD takes
	 * any local part at [its address] for local delivery) */
	if (cfg->relay_thorough)
		catchall =
			catch_all(&u, domain) || (strcmp(lit, domain) != 0 && catch_all(&u, lit));
	for (int i = 0; i < npairs && !u.upgrade_failed && r->err.kind != ERR_PROTOCOL; i++) {
		struct probe_err e = { 0 };
		char said[300];
		const char *from;
		enum outcome o = test_pair(&u, &pairs[i], said, sizeof(said), &e, &from);

		if (o == PAIR_DROPPED) {
			strbuf_printf(&r->detail, "<%s> -> <%s>: dropped (%s), reconnecting\n",
				      pairs[i].from, pairs[i].to, said);
			if (resume(&u) < 0) {
				dropped(r, &e, said, "dropped, and reconnecting failed");
				break;
			}
			o = test_pair(&u, &pairs[i], said, sizeof(said), &e, &from);
			if (o == PAIR_DROPPED) {
				dropped(r, &e, said, "dropped again after reconnecting");
				break;
			}
		}
		if (o == PAIR_ERROR) {
			if (u.upgrade_failed)
				break;
			strbuf_printf(&r->detail, "<%s> -> <%s>: %s\n", pairs[i].from, pairs[i].to,
				      said);
			if (e.kind == ERR_PROTOCOL) /* out of step: no reply can be trusted */
				result_fail(r, STATE_CRITICAL, e.kind, e.stage, "%s: %s", e.stage,
					    e.msg);
			else if (e.kind == ERR_TIMEOUT || e.kind == ERR_IO || e.kind == ERR_TLS)
				cut = e, was_cut = true;
			break;
		}
		if (o == PAIR_NOT_TESTED) {
			strbuf_printf(&r->detail,
				      "<%s> -> <%s>: not tested, every sender refused (%s)\n",
				      pairs[i].from, pairs[i].to, said);
			goto next;
		}
		r->relay_tests++;
		if (o == PAIR_ACCEPTED && catchall && pairs[i].local) {
			inconclusive++;
			strbuf_printf(&r->detail,
				      "<%s> -> <%s>: accepted, inconclusive (catch-all) %s\n", from,
				      pairs[i].to, said);
			goto next;
		}
		r->relay_accepted += o == PAIR_ACCEPTED;
		r->relay_refused += o == PAIR_REFUSED;
		r->relay_tempfail += o == PAIR_TEMPFAIL;
		strbuf_printf(&r->detail, "<%s> -> <%s>: %s %s\n", from, pairs[i].to,
			      o == PAIR_ACCEPTED  ? "ACCEPTED"
			      : o == PAIR_REFUSED ? "refused"
						  : "tempfail",
			      said);
		if (o == PAIR_ACCEPTED && r->relay_accepted <= 3) {
			char one[700], clean[700];
			size_t m = strlen(accepted);

			/* the first three in the summary, every one in -v */
			snprintf(one, sizeof(one), "<%s> -> <%s> (%s)", from, pairs[i].to, said);
			sanitize(clean, sizeof(clean), one, strlen(one), 150);
			snprintf(accepted + m, sizeof(accepted) - m, "%s%s", m ? "; " : "", clean);
		}
next:
		if (rset(u.cur, &u.rep, &e) < 0) {
			if (e.kind == ERR_PROTOCOL) {
				result_fail(r, STATE_CRITICAL, e.kind, e.stage, "%s: %s", e.stage,
					    e.msg);
				break;
			}
			if (i + 1 == npairs || resume(&u) < 0)
				break;
			continue;
		}
		if (i + 1 == npairs)
			break;
		/* shed the server's error count with a fresh session, when the
		 * greeting is cheap and the deadline leaves room for it */
		if ((i + 1) % RELAY_PAIRS_PER_SESSION == 0 && u.cheap &&
		    deadline_left_ms(conn_deadline(u.cur)) > 2000) {
			check_quit(u.cur, &u.rep, r);
			if (resume(&u) < 0)
				break;
		}
	}
	check_quit(u.cur, &u.rep, r);
	if (u.cur != c)
		conn_free(u.cur);
	smtp_reply_free(&u.rep);
	verdict(&u, npairs, accepted, inconclusive, was_cut ? &cut : NULL);
}

const struct check_def check_relay = {
	.name = "RELAY",
	.threshold_label = NULL,
	.threshold_what = "relay",
	.own_tls = true,
	.unreachable_unknown = true,
	.dialogue = relay_dialogue,
};
