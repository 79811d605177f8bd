/*
 * smtpsim - a scripted, deliberately misbehaving SMTP server for the
 * mtaprobe integration tests.
 *
 *   smtpsim -s SCENARIO -l ADDR:PORT [-l ADDR:PORT ...] [-T TRANSCRIPT]
 *           [-P PIDFILE] [-C PKIDIR]
 *
 * Listens on every -l address (IPv6 as [addr]:port, IPV6_V6ONLY), prints
 * "ready" on stdout once listening, forks one child per connection which
 * plays the scenario, and runs until SIGTERM/SIGINT, when it terminates
 * its own children and exits 0.
 *
 * Exit status: 0 after SIGTERM/SIGINT, 1 on a run-time failure (socket,
 * bind, transcript or pid file), 2 on bad arguments or a bad scenario.
 *
 * The scenario language is described in tests/scenarios/README.md:
 *
 *   reset                 step: hard reset now -- SO_LINGER {1, 0} and close,
 *                         so the client gets an RST, not a FIN (no drain; under
 *                         TLS no close_notify).  Ends the connection like close.
 *   on PREFIX reset [TEXT]  rule action: TEXT if given, then the hard reset.
 *   on-plain PREFIX ...,  on-tls PREFIX ...   a rule that applies only before
 *                         TLS / only over TLS (a server that wants STARTTLS
 *                         first: on-plain MAIL line 530 ..., on-tls MAIL ...).
 *   on PREFIX A1 then A2 ...  a rule runs several actions in order: send
 *                         "TEXT", line "TEXT", sleep SECS, close ["TEXT"],
 *                         reset ["TEXT"], tls NAME [VERSION] [MODE].  "then" is only
 *                         seen after a quoted TEXT or a non-text action (an
 *                         unquoted TEXT takes the rest of the line, as before);
 *                         close and reset must come last; once TLS is active a
 *                         tls action answers 554 and skips the rest.  E.g.
 *                           on RCPT line "554 no" then sleep 0.1 then line "554 no"
 *                           on STARTTLS tls good then reset
 *                           on QUIT reset "221 2.0.0 Bye\r\n"
 *   Answering twice in one write is just TEXT holding two replies; bytes
 *   "before EHLO" are a send after the greeting (steps never wait unless
 *   they read), e.g. send "220 x\r\n250-x\r\n250 PIPELINING\r\n".
 *
 * TLS: the "tls NAME [VERSION] [MODE]" step (and the "on PREFIX tls NAME"
 * rule action, for STARTTLS in serve mode) does a server-side OpenSSL
 * handshake with PKIDIR/NAME.chain.pem and PKIDIR/NAME.key (tests/mkcerts.sh
 * makes them).  VERSION 1.0 .. 1.3 pins that version, 1.0+ .. 1.3+ is a
 * minimum.  MODE is what becomes of client bytes received before the
 * handshake (pipelined behind STARTTLS): discard (default, RFC 3207 §4.2),
 * keep (read next as if they had come over TLS: the CVE-2011-0411 bug),
 * feed (OpenSSL reads them as the start of the handshake, which fails) or
 * answer (each complete line answered in plain text by the rules, in one
 * write with the 220, then the handshake).  The SSL_CTXs are built while
 * the scenario is loaded, so a missing or bad certificate is a load-time
 * error; children inherit them.  After the handshake conn_send()/conn_recv()
 * go through TLS.
 *
 * Otherwise only libc + POSIX (plus a few Linux extensions).
 */
#define _GNU_SOURCE

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#define MAX_LINE	   4096 /* longest client line kept */
#define RDBUF_SIZE	   (3 * MAX_LINE)
#define FLOOD_CHUNK	   (256 * 1024)
#define MAX_COUNT	   1000000000ULL
#define MAX_SECS	   3600.0
#define SEND_STALL_SECS	   30	/* a send blocked this long = client gone */
#define CONN_LIFETIME_SECS 300	/* hard cap per connection (SIGALRM) */
#define CLOSE_LINGER_MS	   1000 /* drain client input after our FIN */
#define KILL_GRACE_MS	   2000 /* SIGTERM -> SIGKILL for children */

/* ------------------------------------------------------------------ */
/* Scenario model                                                      */
/* ------------------------------------------------------------------ */

struct bytes {
	char *p;
	size_t n;
};

enum op {
	OP_SEND, /* send / line */
	OP_SLEEP,
	OP_DRIP,
	OP_FLOOD,
	OP_GARBAGE,
	OP_EXPECT,
	OP_READ,
	OP_SILENCE,
	OP_CLOSE,
	OP_RESET, /* RST: SO_LINGER {1, 0}, then close */
	OP_SERVE,
	OP_TLS, /* server-side TLS handshake, then TLS for the rest */
};

struct step {
	enum op op;
	unsigned lineno;
	struct bytes text;	   /* send, drip, flood, expect */
	double secs;		   /* sleep, drip */
	unsigned long long count;  /* flood, garbage */
	const struct tls_cfg *tls; /* tls */
};

/*
 * What happens to client bytes received before the handshake (pipelined
 * behind STARTTLS): dropped (the fix of CVE-2011-0411), kept and read as if
 * they had come over TLS (the bug), handed to OpenSSL as the start of the
 * handshake (which then fails), or answered in plain text, with the 220 in
 * one write, before the handshake.
 */
enum tls_before { TB_DISCARD, TB_KEEP, TB_FEED, TB_ANSWER };

/* One server context per distinct "tls NAME [VERSION] [MODE]" (owned by g_tls). */
struct tls_cfg {
	char *desc; /* "NAME", "NAME VERSION", "NAME VERSION MODE", ... for notes */
	SSL_CTX *ctx;
	enum tls_before before;
};

enum rule_action { RA_SEND, RA_SLEEP, RA_CLOSE, RA_RESET, RA_TLS };

/* One action of a rule; "then" chains several. */
struct ract {
	enum rule_action action;
	struct bytes text;	   /* RA_TLS: the 220 sent before the handshake */
	double secs;		   /* RA_SLEEP */
	const struct tls_cfg *tls; /* RA_TLS */
};

struct rule {
	struct bytes prefix;
	struct ract *acts;
	size_t nacts;
	unsigned lineno;
	int when; /* 0 always, 1 only before TLS (on-plain), 2 only over TLS (on-tls) */
};

struct scenario {
	struct step *steps;
	size_t nsteps, capsteps;
	struct rule *rules;
	size_t nrules, caprules;
};

/*
 * Global state.  Kept global so that everything allocated stays reachable
 * when we exit() on an error (keeps LeakSanitizer quiet).
 */
static struct scenario g_sc;
static const char *g_scn_path;
static unsigned g_lineno;
static char *g_linebuf;
static int g_tfd = -1; /* transcript fd */
static const char *g_pidfile;
static int *g_lfds; /* listening sockets */
static char **g_lnames;
static size_t g_nlfds;
static pid_t *g_kids; /* children we forked */
static size_t g_nkids, g_capkids;
static volatile sig_atomic_t g_got_term, g_got_chld;
static const char *g_pkidir;   /* -C: certificates for "tls" */
static struct tls_cfg **g_tls; /* every server context, for reuse */
static size_t g_ntls;
static unsigned g_tls_step_line; /* line of the "tls" step, if any */

/* ------------------------------------------------------------------ */
/* Small helpers                                                       */
/* ------------------------------------------------------------------ */

static void *xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);
	if (!q) {
		fprintf(stderr, "smtpsim: out of memory\n");
		exit(1);
	}
	return q;
}

struct sbuf {
	char *p;
	size_t n, cap;
};

static void sb_add(struct sbuf *b, const void *data, size_t n)
{
	if (b->n + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 64;
		while (cap < b->n + n + 1)
			cap *= 2;
		b->p = xrealloc(b->p, cap);
		b->cap = cap;
	}
	memcpy(b->p + b->n, data, n);
	b->n += n;
	b->p[b->n] = '\0';
}

static void sb_addc(struct sbuf *b, char c)
{
	sb_add(b, &c, 1);
}

/* Render bytes printably (for notes and stderr).  Result is in *b. */
static void sb_escaped(struct sbuf *b, const char *p, size_t n, size_t max)
{
	static const char hex[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n && i < max; i++) {
		unsigned char c = (unsigned char)p[i];
		char e[4] = { '\\', 0, 0, 0 };
		switch (c) {
		case '\r':
			e[1] = 'r';
			sb_add(b, e, 2);
			break;
		case '\n':
			e[1] = 'n';
			sb_add(b, e, 2);
			break;
		case '\t':
			e[1] = 't';
			sb_add(b, e, 2);
			break;
		case '\\':
			e[1] = '\\';
			sb_add(b, e, 2);
			break;
		case '"':
			e[1] = '"';
			sb_add(b, e, 2);
			break;
		default:
			if (c < 0x20 || c >= 0x7f) {
				e[1] = 'x';
				e[2] = hex[c >> 4];
				e[3] = hex[c & 15];
				sb_add(b, e, 4);
			} else {
				sb_addc(b, (char)c);
			}
		}
	}
	if (i < n)
		sb_add(b, "...", 3);
}

static int prefix_match(const char *line, size_t n, const struct bytes *pfx)
{
	size_t i;

	if (n < pfx->n)
		return 0;
	for (i = 0; i < pfx->n; i++)
		if (tolower((unsigned char)line[i]) != tolower((unsigned char)pfx->p[i]))
			return 0;
	return 1;
}

static void sleep_secs(double secs)
{
	struct timespec ts, rem;

	if (secs <= 0)
		return;
	ts.tv_sec = (time_t)secs;
	ts.tv_nsec = (long)((secs - (double)ts.tv_sec) * 1e9);
	if (ts.tv_nsec > 999999999L)
		ts.tv_nsec = 999999999L;
	while (nanosleep(&ts, &rem) < 0 && errno == EINTR)
		ts = rem;
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * OpenSSL's reason for the failure just seen: the oldest queued error (the
 * root cause), or dflt if the queue is empty.  Empties the queue.
 */
static const char *ssl_reason(char *buf, size_t cap, const char *dflt)
{
	unsigned long e = ERR_get_error();
	const char *r;

	if (e == 0) {
		snprintf(buf, cap, "%s", dflt);
	} else if (ERR_SYSTEM_ERROR(e)) {
		snprintf(buf, cap, "%s", strerror(ERR_GET_REASON(e)));
	} else if ((r = ERR_reason_error_string(e)) != NULL) {
		snprintf(buf, cap, "%s", r);
	} else {
		ERR_error_string_n(e, buf, cap);
	}
	ERR_clear_error();
	return buf;
}

/* ------------------------------------------------------------------ */
/* Transcript                                                          */
/* ------------------------------------------------------------------ */

/* Write "T: <data>\n" with a single write(). */
static void tlog(char tag, const char *data, size_t n)
{
	char *buf;

	if (g_tfd < 0)
		return;
	buf = malloc(n + 4);
	if (!buf)
		return;
	buf[0] = tag;
	buf[1] = ':';
	buf[2] = ' ';
	memcpy(buf + 3, data, n);
	buf[n + 3] = '\n';
	if (write(g_tfd, buf, n + 4) < 0) {
		/* nothing sensible to do */
	}
	free(buf);
}

/* A "#: ..." note line (not client/server data). */
static void tnote(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void tnote(const char *fmt, ...)
{
	va_list ap;
	char *s;
	int n;

	if (g_tfd < 0)
		return;
	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	tlog('#', s, (size_t)n);
	free(s);
}

/* Log sent text as "S: " lines, split at LF, one trailing CR stripped. */
static void tlog_sent(const char *p, size_t n)
{
	while (n > 0) {
		const char *lf = memchr(p, '\n', n);
		size_t len = lf ? (size_t)(lf - p) : n;
		size_t adv = lf ? len + 1 : len;

		if (lf && len > 0 && p[len - 1] == '\r')
			len--;
		tlog('S', p, len);
		p += adv;
		n -= adv;
	}
}

/* ------------------------------------------------------------------ */
/* Scenario parser                                                     */
/* ------------------------------------------------------------------ */

static void perr(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void perr(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "smtpsim: %s:%u: ", g_scn_path, g_lineno);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(2);
}

static int is_ws(char c)
{
	return c == ' ' || c == '\t';
}

static const char *skip_ws(const char *s)
{
	while (is_ws(*s))
		s++;
	return s;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (char)tolower((unsigned char)c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* *sp points at a backslash; append the unescaped byte, advance *sp. */
static void parse_escape(const char **sp, struct sbuf *b)
{
	const char *s = *sp + 1;
	int h1, h2;

	switch (*s) {
	case 'r':
		sb_addc(b, '\r');
		break;
	case 'n':
		sb_addc(b, '\n');
		break;
	case 't':
		sb_addc(b, '\t');
		break;
	case '\\':
		sb_addc(b, '\\');
		break;
	case '"':
		sb_addc(b, '"');
		break;
	case 'x':
		h1 = hexval(s[1]);
		h2 = h1 >= 0 ? hexval(s[2]) : -1;
		if (h1 < 0 || h2 < 0)
			perr("\\x needs exactly two hex digits");
		sb_addc(b, (char)(h1 * 16 + h2));
		s += 2;
		break;
	case '\0':
		perr("backslash at end of line");
	default:
		perr("unknown escape '\\%c' (known: \\r \\n \\t \\\\ \\\" \\xNN)", *s);
	}
	*sp = s + 1;
}

/* Reject anything but whitespace or a '#' comment. */
static void expect_eol(const char *s, const char *what)
{
	s = skip_ws(s);
	if (*s && *s != '#')
		perr("unexpected text after %s: '%s'", what, s);
}

/* A "double-quoted" string at *sp; *sp is left after the closing quote. */
static struct bytes parse_quoted(const char **sp)
{
	const char *s = *sp + 1;
	struct sbuf b = { 0 };
	struct bytes out;

	sb_add(&b, "", 0);
	for (;;) {
		if (*s == '\0')
			perr("unterminated \"string\"");
		if (*s == '"')
			break;
		if (*s == '\\')
			parse_escape(&s, &b);
		else
			sb_addc(&b, *s++);
	}
	*sp = s + 1;
	out.p = b.p;
	out.n = b.n;
	return out;
}

/*
 * A string argument (s is just past the one blank that ends the keyword):
 * a quoted string if the first non-blank is '"' (nothing but a comment may
 * follow), or else the rest of the line verbatim, escapes processed.
 */
static struct bytes parse_string_arg(const char *s)
{
	struct sbuf b = { 0 };
	struct bytes out;

	if (*skip_ws(s) == '"') {
		s = skip_ws(s);
		out = parse_quoted(&s);
		expect_eol(s, "closing quote");
		return out;
	}
	sb_add(&b, "", 0);
	while (*s) {
		if (*s == '\\')
			parse_escape(&s, &b);
		else
			sb_addc(&b, *s++);
	}
	out.p = b.p;
	out.n = b.n;
	return out;
}

/* Copy the next whitespace-delimited token into tok; return the end. */
static const char *next_token(const char *s, char *tok, size_t cap, const char *what)
{
	size_t n = 0;

	s = skip_ws(s);
	while (*s && !is_ws(*s)) {
		if (n + 1 >= cap)
			perr("%s too long", what);
		tok[n++] = *s++;
	}
	tok[n] = '\0';
	if (n == 0)
		perr("missing %s", what);
	return s;
}

static double parse_secs(const char *tok)
{
	const char *t = tok;
	int digits = 0, dots = 0;
	double d;

	for (; *t; t++) {
		if (*t >= '0' && *t <= '9')
			digits++;
		else if (*t == '.' && !dots)
			dots++;
		else
			perr("bad SECONDS '%s' (want e.g. 2 or 0.5)", tok);
	}
	if (!digits)
		perr("bad SECONDS '%s' (want e.g. 2 or 0.5)", tok);
	d = strtod(tok, NULL);
	if (!(d >= 0 && d <= MAX_SECS))
		perr("SECONDS '%s' out of range (0..%g)", tok, MAX_SECS);
	return d;
}

static unsigned long long parse_count(const char *tok)
{
	const char *t;
	unsigned long long v;

	for (t = tok; *t; t++)
		if (*t < '0' || *t > '9')
			perr("bad COUNT '%s' (want a decimal number)", tok);
	if (strlen(tok) > 10)
		perr("COUNT '%s' too large (max %llu)", tok, MAX_COUNT);
	v = strtoull(tok, NULL, 10);
	if (v > MAX_COUNT)
		perr("COUNT '%s' too large (max %llu)", tok, MAX_COUNT);
	return v;
}

/* Text after a one-word argument: exactly one blank, then a string. */
static struct bytes parse_text_after(const char *s, const char *kw)
{
	if (*s == '\0')
		perr("%s: missing TEXT", kw);
	return parse_string_arg(s + 1);
}

/* Is the next word at s exactly "then" (a rule's action chain goes on)? */
static int at_then(const char *s)
{
	s = skip_ws(s);
	return strncmp(s, "then", 4) == 0 && (s[4] == '\0' || is_ws(s[4]));
}

/*
 * The server context for "tls NAME [VERSION] [MODE]" (*sp is after the
 * keyword, left after what was used; a "then" is neither):
 * PKIDIR/NAME.chain.pem + PKIDIR/NAME.key, security level 0 (weak test
 * certificates and TLS 1.0 must work).  VERSION 1.x pins min = max, 1.x+
 * sets the minimum only; MODE (discard, keep, feed, answer) says what
 * becomes of plaintext the client sent before the handshake.  Built now,
 * so that a missing certificate is a load-time error.
 */
static const struct tls_cfg *parse_tls(const char **sp, const char *what)
{
	const char *s = *sp;
	static const struct {
		const char *name;
		int v;
	} vers[] = {
		{ "1.0", TLS1_VERSION },
		{ "1.1", TLS1_1_VERSION },
		{ "1.2", TLS1_2_VERSION },
		{ "1.3", TLS1_3_VERSION },
	};
	static const char *const modes[] = {
		[TB_DISCARD] = "discard",
		[TB_KEEP] = "keep",
		[TB_FEED] = "feed",
		[TB_ANSWER] = "answer",
	};
	char name[128], ver[16] = "", mode[16] = "", tok[16], chain[4096], key[4096], why[256];
	char *desc;
	struct tls_cfg *t;
	SSL_CTX *ctx;
	int v = 0, n1, n2, plus = 0, before = TB_DISCARD;
	size_t i;

	if (!g_pkidir)
		perr("%s needs the test certificates: run smtpsim with -C PKIDIR "
		     "(made by tests/mkcerts.sh)",
		     what);
	s = next_token(s, name, sizeof name, "certificate NAME after 'tls'");
	while (*skip_ws(s) && *skip_ws(s) != '#' && !at_then(s)) {
		s = next_token(s, tok, sizeof tok, "VERSION or MODE");
		if (isdigit((unsigned char)tok[0])) {
			size_t tl = strlen(tok);
			if (ver[0])
				perr("%s: two VERSIONs ('%s', '%s')", what, ver, tok);
			plus = tl > 0 && tok[tl - 1] == '+';
			if (plus)
				tok[tl - 1] = '\0';
			for (i = 0; i < sizeof vers / sizeof vers[0]; i++)
				if (strcmp(tok, vers[i].name) == 0)
					v = vers[i].v;
			if (!v)
				perr("%s: bad VERSION '%s%s' (want 1.0, 1.1, 1.2 or 1.3, "
				     "a + after it for that or higher)",
				     what, tok, plus ? "+" : "");
			snprintf(ver, sizeof ver, "%s%s", tok, plus ? "+" : "");
		} else {
			if (mode[0])
				perr("%s: two MODEs ('%s', '%s')", what, mode, tok);
			for (before = -1, i = 0; i < sizeof modes / sizeof modes[0]; i++)
				if (strcmp(tok, modes[i]) == 0)
					before = (int)i;
			if (before < 0)
				perr("%s: bad VERSION or MODE '%s' (VERSION 1.0 .. 1.3 or 1.0+ .. "
				     "1.3+; MODE discard, keep, feed or answer)",
				     what, tok);
			snprintf(mode, sizeof mode, "%s", tok);
		}
	}
	*sp = s;
	if (name[0] == '.' || strchr(name, '/'))
		perr("%s: bad certificate NAME '%s' (a file name in PKIDIR, without .crt)", what,
		     name);
	if (asprintf(&desc, "%s%s%s%s%s", name, ver[0] ? " " : "", ver, mode[0] ? " " : "", mode) <
	    0)
		perr("out of memory");
	for (i = 0; i < g_ntls; i++)
		if (strcmp(g_tls[i]->desc, desc) == 0) {
			free(desc);
			return g_tls[i];
		}
	n1 = snprintf(chain, sizeof chain, "%s/%s.chain.pem", g_pkidir, name);
	n2 = snprintf(key, sizeof key, "%s/%s.key", g_pkidir, name);
	if (n1 < 0 || n2 < 0 || (size_t)n1 >= sizeof chain || (size_t)n2 >= sizeof key) {
		free(desc);
		perr("%s: -C PKIDIR too long", what);
	}

	/* Registered first: reachable (and freed) whatever fails below. */
	t = xrealloc(NULL, sizeof *t);
	memset(t, 0, sizeof *t);
	g_tls = xrealloc(g_tls, (g_ntls + 1) * sizeof *g_tls);
	g_tls[g_ntls++] = t;
	t->desc = desc;
	t->before = (enum tls_before)before;
	ctx = t->ctx = SSL_CTX_new(TLS_server_method());
	if (!ctx)
		perr("%s: SSL_CTX_new: %s", what, ssl_reason(why, sizeof why, "failed"));
	SSL_CTX_set_security_level(ctx, 0);
	if (SSL_CTX_set_cipher_list(ctx, "DEFAULT:@SECLEVEL=0") != 1)
		perr("%s: cipher list: %s", what, ssl_reason(why, sizeof why, "rejected"));
	if (v && (SSL_CTX_set_min_proto_version(ctx, v) != 1 ||
		  (!plus && SSL_CTX_set_max_proto_version(ctx, v) != 1)))
		perr("%s: TLS %s not available in this OpenSSL: %s", what, ver,
		     ssl_reason(why, sizeof why, "?"));
	/* A client that hangs up without close_notify is just EOF. */
	SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
	if (SSL_CTX_use_certificate_chain_file(ctx, chain) != 1)
		perr("%s: cannot load %s: %s", what, chain, ssl_reason(why, sizeof why, "?"));
	if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1)
		perr("%s: cannot load %s: %s", what, key, ssl_reason(why, sizeof why, "?"));
	if (SSL_CTX_check_private_key(ctx) != 1)
		perr("%s: %s does not match %s: %s", what, key, chain,
		     ssl_reason(why, sizeof why, "?"));
	return t;
}

static struct step *new_step(enum op op)
{
	struct scenario *sc = &g_sc;
	struct step *st;

	if (sc->nsteps > 0) {
		struct step *prev = &sc->steps[sc->nsteps - 1];
		static const char *const names[] = {
			[OP_SILENCE] = "silence",
			[OP_CLOSE] = "close",
			[OP_RESET] = "reset",
			[OP_SERVE] = "serve",
		};
		if (prev->op == OP_SILENCE || prev->op == OP_CLOSE || prev->op == OP_RESET ||
		    prev->op == OP_SERVE)
			perr("step can never run: '%s' on line %u ends the connection",
			     names[prev->op], prev->lineno);
	}
	if (sc->nsteps == sc->capsteps) {
		sc->capsteps = sc->capsteps ? sc->capsteps * 2 : 16;
		sc->steps = xrealloc(sc->steps, sc->capsteps * sizeof *sc->steps);
	}
	st = &sc->steps[sc->nsteps++];
	memset(st, 0, sizeof *st);
	st->op = op;
	st->lineno = g_lineno;
	return st;
}

/*
 * One action of a rule at s (just after the action word act); returns where
 * it ends.  *more is set when "then" follows (another action comes).
 */
static const char *parse_ract(const char *s, const char *act, struct ract *a, int *more)
{
	int quoted = 0, final = 0;

	*more = 0;
	if (strcmp(act, "send") == 0) {
		a->action = RA_SEND;
		if (*s == '\0')
			perr("on ... send: missing TEXT");
		quoted = *skip_ws(s + 1) == '"';
		if (quoted) {
			s = skip_ws(s + 1);
			a->text = parse_quoted(&s);
		} else {
			a->text = parse_string_arg(s + 1);
			return s + strlen(s);
		}
	} else if (strcmp(act, "line") == 0) {
		struct sbuf b = { 0 };
		struct bytes t = { NULL, 0 };
		a->action = RA_SEND;
		quoted = *s && *skip_ws(s + 1) == '"';
		if (quoted) {
			s = skip_ws(s + 1);
			t = parse_quoted(&s);
		} else if (*s) {
			t = parse_string_arg(s + 1);
			s += strlen(s);
		}
		sb_add(&b, t.p ? t.p : "", t.n);
		sb_add(&b, "\r\n", 2);
		free(t.p);
		a->text.p = b.p;
		a->text.n = b.n;
		if (!quoted)
			return s;
	} else if (strcmp(act, "sleep") == 0) {
		char tok[64];
		a->action = RA_SLEEP;
		s = next_token(s, tok, sizeof tok, "SECONDS after 'sleep'");
		a->secs = parse_secs(tok);
	} else if (strcmp(act, "close") == 0 || strcmp(act, "reset") == 0) {
		/* "close"/"reset" alone, or with TEXT: send TEXT, then end */
		a->action = act[0] == 'c' ? RA_CLOSE : RA_RESET;
		final = 1;
		if (*skip_ws(s) && *skip_ws(s) != '#' && !at_then(s)) {
			if (*skip_ws(s) == '"') {
				s = skip_ws(s);
				a->text = parse_quoted(&s);
			} else {
				a->text = parse_string_arg(s + 1);
				return s + strlen(s);
			}
		}
	} else if (strcmp(act, "tls") == 0) {
		/* RFC 3207: "220 Ready", handshake, go on serving over TLS */
		static const char ready[] = "220 2.0.0 Ready to start TLS\r\n";
		a->action = RA_TLS;
		a->tls = parse_tls(&s, "on ... tls");
		a->text.p = xrealloc(NULL, sizeof ready);
		memcpy(a->text.p, ready, sizeof ready);
		a->text.n = sizeof ready - 1;
	} else {
		perr("on: unknown action '%s' (want send, line, sleep, close, reset or tls)", act);
	}
	if (at_then(s)) {
		if (final)
			perr("on ... %s ends the connection: nothing can follow it ('then')", act);
		*more = 1;
		return skip_ws(s) + 4;
	}
	expect_eol(s, quoted ? "closing quote" : act);
	return s + strlen(s);
}

static void parse_rule(const char *s, int when)
{
	struct scenario *sc = &g_sc;
	struct rule *r;
	struct bytes prefix;
	char act[16];
	int more = 1;

	s = skip_ws(s);
	if (*s == '\0')
		perr("on: missing PREFIX");
	if (*s == '"') {
		prefix = parse_quoted(&s);
	} else {
		struct sbuf b = { 0 };
		sb_add(&b, "", 0);
		while (*s && !is_ws(*s)) {
			if (*s == '\\')
				parse_escape(&s, &b);
			else
				sb_addc(&b, *s++);
		}
		prefix.p = b.p;
		prefix.n = b.n;
	}
	/* Register now so that everything stays reachable if we fail below. */
	if (sc->nrules == sc->caprules) {
		sc->caprules = sc->caprules ? sc->caprules * 2 : 16;
		sc->rules = xrealloc(sc->rules, sc->caprules * sizeof *sc->rules);
	}
	r = &sc->rules[sc->nrules++];
	memset(r, 0, sizeof *r);
	r->prefix = prefix;
	r->lineno = g_lineno;
	r->when = when;

	if (*s && !is_ws(*s))
		perr("on: need a blank after the PREFIX");
	while (more) {
		struct ract *a;
		s = next_token(s, act, sizeof act,
			       "action (send, line, sleep, close, reset or tls) after PREFIX");
		r->acts = xrealloc(r->acts, (r->nacts + 1) * sizeof *r->acts);
		a = &r->acts[r->nacts++];
		memset(a, 0, sizeof *a);
		s = parse_ract(s, act, a, &more);
	}
}

static void parse_line(char *line)
{
	char kw[32];
	const char *s = skip_ws(line), *rest;
	char tok[64];
	size_t n = 0;
	struct step *st;

	if (*s == '\0' || *s == '#')
		return;
	while (s[n] && !is_ws(s[n])) {
		if (n + 1 >= sizeof kw)
			perr("unknown keyword '%.40s...'", s);
		kw[n] = s[n];
		n++;
	}
	kw[n] = '\0';
	rest = s + n; /* at a blank or at the end */

	if (strcmp(kw, "send") == 0) {
		st = new_step(OP_SEND);
		st->text = parse_text_after(rest, kw);
		if (st->text.n == 0)
			perr("send: empty TEXT");
	} else if (strcmp(kw, "line") == 0) {
		struct sbuf b = { 0 };
		struct bytes t = { NULL, 0 };
		st = new_step(OP_SEND);
		if (*rest)
			t = parse_string_arg(rest + 1);
		sb_add(&b, t.p ? t.p : "", t.n);
		sb_add(&b, "\r\n", 2);
		free(t.p);
		st->text.p = b.p;
		st->text.n = b.n;
	} else if (strcmp(kw, "sleep") == 0) {
		st = new_step(OP_SLEEP);
		rest = next_token(rest, tok, sizeof tok, "SECONDS");
		st->secs = parse_secs(tok);
		expect_eol(rest, "SECONDS");
	} else if (strcmp(kw, "drip") == 0) {
		st = new_step(OP_DRIP);
		rest = next_token(rest, tok, sizeof tok, "SECONDS");
		st->secs = parse_secs(tok);
		st->text = parse_text_after(rest, kw);
		if (st->text.n == 0)
			perr("drip: empty TEXT");
	} else if (strcmp(kw, "flood") == 0) {
		st = new_step(OP_FLOOD);
		rest = next_token(rest, tok, sizeof tok, "COUNT");
		st->count = parse_count(tok);
		st->text = parse_text_after(rest, kw);
		if (st->text.n == 0)
			perr("flood: empty TEXT");
	} else if (strcmp(kw, "garbage") == 0) {
		st = new_step(OP_GARBAGE);
		rest = next_token(rest, tok, sizeof tok, "COUNT");
		st->count = parse_count(tok);
		expect_eol(rest, "COUNT");
	} else if (strcmp(kw, "expect") == 0) {
		st = new_step(OP_EXPECT);
		if (*rest)
			st->text = parse_string_arg(rest + 1);
	} else if (strcmp(kw, "read") == 0) {
		expect_eol(rest, kw);
		new_step(OP_READ);
	} else if (strcmp(kw, "silence") == 0) {
		expect_eol(rest, kw);
		new_step(OP_SILENCE);
	} else if (strcmp(kw, "close") == 0) {
		expect_eol(rest, kw);
		new_step(OP_CLOSE);
	} else if (strcmp(kw, "reset") == 0) {
		expect_eol(rest, kw);
		new_step(OP_RESET);
	} else if (strcmp(kw, "serve") == 0) {
		expect_eol(rest, kw);
		new_step(OP_SERVE);
	} else if (strcmp(kw, "on") == 0) {
		parse_rule(rest, 0);
	} else if (strcmp(kw, "on-plain") == 0) {
		parse_rule(rest, 1);
	} else if (strcmp(kw, "on-tls") == 0) {
		parse_rule(rest, 2);
	} else if (strcmp(kw, "tls") == 0) {
		if (g_tls_step_line)
			perr("tls: TLS already started by the 'tls' on line %u", g_tls_step_line);
		st = new_step(OP_TLS);
		st->tls = parse_tls(&rest, kw);
		expect_eol(rest, "MODE");
		g_tls_step_line = g_lineno;
	} else if (strcmp(kw, "starttls") == 0) {
		perr("unknown keyword 'starttls' (STARTTLS is 'expect STARTTLS', "
		     "'line 220 ...', 'tls NAME'; or the rule 'on STARTTLS tls NAME')");
	} else {
		perr("unknown keyword '%s'", kw);
	}
}

static void parse_scenario(const char *path)
{
	FILE *f;
	size_t cap = 0;
	ssize_t len;

	g_scn_path = path;
	f = fopen(path, "r");
	if (!f) {
		fprintf(stderr, "smtpsim: %s: %s\n", path, strerror(errno));
		exit(2);
	}
	while ((len = getline(&g_linebuf, &cap, f)) >= 0) {
		g_lineno++;
		if ((size_t)len != strlen(g_linebuf))
			perr("NUL byte in scenario (write \\x00 instead)");
		if (len > 0 && g_linebuf[len - 1] == '\n')
			g_linebuf[--len] = '\0';
		if (len > 0 && g_linebuf[len - 1] == '\r')
			g_linebuf[--len] = '\0';
		parse_line(g_linebuf);
	}
	if (ferror(f)) {
		fprintf(stderr, "smtpsim: %s: read error: %s\n", path, strerror(errno));
		exit(2);
	}
	fclose(f);
	free(g_linebuf);
	g_linebuf = NULL;
}

static void free_scenario(void)
{
	size_t i;

	for (i = 0; i < g_sc.nsteps; i++)
		free(g_sc.steps[i].text.p);
	for (i = 0; i < g_sc.nrules; i++) {
		size_t k;
		free(g_sc.rules[i].prefix.p);
		for (k = 0; k < g_sc.rules[i].nacts; k++)
			free(g_sc.rules[i].acts[k].text.p);
		free(g_sc.rules[i].acts);
	}
	free(g_sc.steps);
	free(g_sc.rules);
	memset(&g_sc, 0, sizeof g_sc);
	for (i = 0; i < g_ntls; i++) {
		SSL_CTX_free(g_tls[i]->ctx);
		free(g_tls[i]->desc);
		free(g_tls[i]);
	}
	free(g_tls);
	g_tls = NULL;
	g_ntls = 0;
}

/* ------------------------------------------------------------------ */
/* Connection I/O                                                      */
/* ------------------------------------------------------------------ */

struct conn {
	int fd;
	int eof;	/* client closed (or read error) */
	int discarding; /* skipping the rest of an overlong line */
	size_t rlen;
	char rbuf[RDBUF_SIZE];
	char lbuf[MAX_LINE + 1];
	/*
	 * TLS, once a "tls" step or rule has run.  conn_send() and conn_recv()
	 * are the only places that touch the socket for data; they go through
	 * ssl when it is set.  tls_broken: a fatal TLS error was seen (no
	 * close_notify then).
	 */
	SSL *ssl;
	int tls_broken;
	/*
	 * "tls ... answer": the 220 and the plain-text answers to what was
	 * pipelined behind STARTTLS go out in one write; send_text() collects
	 * them in held while holding is set (a sleep sends them first).
	 */
	int holding;
	struct sbuf held;
};

enum { IO_OK = 0, IO_GONE = -1 };

/* Wait for fd to become readable (POLLIN) or writable (POLLOUT). */
static int wait_fd(int fd, short events, int timeout_ms)
{
	struct pollfd pfd = { .fd = fd, .events = events };

	return poll(&pfd, 1, timeout_ms);
}

/* After a failed SSL_* call: what to poll for, or 0 if it is fatal. */
static short tls_want(struct conn *c, int rc)
{
	switch (SSL_get_error(c->ssl, rc)) {
	case SSL_ERROR_WANT_READ:
		return POLLIN;
	case SSL_ERROR_WANT_WRITE:
		return POLLOUT;
	default:
		return 0;
	}
}

/* A fatal TLS error on c: note it (unless the peer just went away). */
static void tls_fail(struct conn *c, int rc, const char *what)
{
	int saved = errno;
	int err = SSL_get_error(c->ssl, rc);
	char why[256];

	c->tls_broken = 1;
	if (err == SSL_ERROR_ZERO_RETURN) {
		c->tls_broken = 0; /* close_notify: a clean end */
	} else if (err == SSL_ERROR_SSL) {
		tnote("TLS %s: %s", what, ssl_reason(why, sizeof why, "error"));
	} else if (err == SSL_ERROR_SYSCALL && saved != 0 && saved != EPIPE &&
		   saved != ECONNRESET) {
		tnote("TLS %s: %s", what, strerror(saved));
	}
	ERR_clear_error();
}

static int tls_send(struct conn *c, const char *p, size_t n)
{
	while (n > 0) {
		size_t w = 0;
		int rc = SSL_write_ex(c->ssl, p, n, &w), pr;
		short ev;

		if (rc == 1) {
			p += w;
			n -= w;
			continue;
		}
		ev = tls_want(c, rc);
		if (!ev) {
			tls_fail(c, rc, "send");
			return IO_GONE;
		}
		/* retried below with the same p and n, as SSL_write_ex wants */
		pr = wait_fd(c->fd, ev, SEND_STALL_SECS * 1000);
		if (pr > 0 || (pr < 0 && errno == EINTR))
			continue;
		tnote("client stalled for %d s, giving up", SEND_STALL_SECS);
		return IO_GONE;
	}
	return IO_OK;
}

static ssize_t tls_recv(struct conn *c, char *buf, size_t cap, int timeout_ms)
{
	long long deadline = timeout_ms >= 0 ? now_ms() + timeout_ms : 0;

	for (;;) {
		size_t got = 0;
		int rc = SSL_read_ex(c->ssl, buf, cap, &got), tmo = -1, pr;
		short ev;

		if (rc == 1)
			return (ssize_t)got;
		ev = tls_want(c, rc);
		if (!ev) {
			tls_fail(c, rc, "receive");
			return 0;
		}
		if (timeout_ms >= 0) {
			long long left = deadline - now_ms();
			if (left <= 0)
				return -2;
			tmo = (int)left;
		}
		pr = wait_fd(c->fd, ev, tmo);
		if (pr == 0)
			return -2;
	}
}

/*
 * Write everything; IO_GONE if the client went away (EPIPE, ECONNRESET) or
 * made no progress reading for SEND_STALL_SECS.  The socket is non-blocking.
 */
static int conn_send(struct conn *c, const char *p, size_t n)
{
	if (c->ssl)
		return tls_send(c, p, n);
	while (n > 0) {
		ssize_t w = send(c->fd, p, n, MSG_NOSIGNAL);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				struct pollfd pfd = { .fd = c->fd, .events = POLLOUT };
				int pr = poll(&pfd, 1, SEND_STALL_SECS * 1000);
				if (pr > 0 || (pr < 0 && errno == EINTR))
					continue;
				tnote("client stalled for %d s, giving up", SEND_STALL_SECS);
				return IO_GONE;
			}
			if (errno != EPIPE && errno != ECONNRESET)
				tnote("send: %s", strerror(errno));
			return IO_GONE;
		}
		p += w;
		n -= (size_t)w;
	}
	return IO_OK;
}

/* >0 bytes read, 0 EOF/error, -2 timeout (timeout_ms < 0: wait forever). */
static ssize_t conn_recv(struct conn *c, char *buf, size_t cap, int timeout_ms)
{
	if (c->ssl)
		return tls_recv(c, buf, cap, timeout_ms);
	for (;;) {
		struct pollfd pfd = { .fd = c->fd, .events = POLLIN };
		int pr = poll(&pfd, 1, timeout_ms);
		ssize_t r;

		if (pr < 0 && errno == EINTR)
			continue;
		if (pr == 0)
			return -2;
		r = recv(c->fd, buf, cap, 0);
		if (r < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK))
			continue;
		return r < 0 ? 0 : r;
	}
}

static void consume(struct conn *c, size_t n)
{
	memmove(c->rbuf, c->rbuf + n, c->rlen - n);
	c->rlen -= n;
}

static size_t take_line(struct conn *c, size_t len, size_t consumed)
{
	if (len > MAX_LINE) {
		tnote("client line of more than %d bytes truncated", MAX_LINE);
		len = MAX_LINE;
	}
	memcpy(c->lbuf, c->rbuf, len);
	c->lbuf[len] = '\0';
	consume(c, consumed);
	return len;
}

/*
 * Read one client line (CRLF or LF; at EOF a final unterminated fragment
 * counts as a line).  Returns 1 and sets *len (line in c->lbuf, logged to
 * the transcript), 0 on EOF, -2 on timeout.
 */
static int read_line(struct conn *c, size_t *len, int timeout_ms)
{
	long long deadline = timeout_ms >= 0 ? now_ms() + timeout_ms : 0;

	for (;;) {
		char *lf = memchr(c->rbuf, '\n', c->rlen);
		ssize_t r;
		int tmo = -1;

		if (c->discarding) {
			if (lf) {
				consume(c, (size_t)(lf - c->rbuf) + 1);
				c->discarding = 0;
				continue;
			}
			c->rlen = 0;
		} else if (lf) {
			size_t n = (size_t)(lf - c->rbuf);
			size_t used = n + 1;
			if (n > 0 && c->rbuf[n - 1] == '\r')
				n--;
			*len = take_line(c, n, used);
			tlog('C', c->lbuf, *len);
			return 1;
		} else if (c->rlen > MAX_LINE + 1) {
			/* no LF yet and already too long: cut it here */
			*len = take_line(c, c->rlen, c->rlen);
			c->discarding = 1;
			tlog('C', c->lbuf, *len);
			return 1;
		}
		if (c->eof) {
			if (c->rlen == 0 || c->discarding)
				return 0;
			*len = take_line(c, c->rlen, c->rlen);
			tlog('C', c->lbuf, *len);
			return 1;
		}
		if (timeout_ms >= 0) {
			long long left = deadline - now_ms();
			if (left <= 0)
				return -2;
			tmo = (int)left;
		}
		r = conn_recv(c, c->rbuf + c->rlen, sizeof c->rbuf - c->rlen, tmo);
		if (r == -2)
			return -2;
		if (r <= 0)
			c->eof = 1;
		else
			c->rlen += (size_t)r;
	}
}

static int send_text(struct conn *c, const struct bytes *t)
{
	tlog_sent(t->p, t->n);
	if (c->holding) {
		sb_add(&c->held, t->p, t->n);
		return IO_OK;
	}
	return conn_send(c, t->p, t->n);
}

/* Send what send_text() held back (already logged), and hold no more. */
static int flush_held(struct conn *c)
{
	int rc = c->held.n > 0 ? conn_send(c, c->held.p, c->held.n) : IO_OK;

	c->holding = 0;
	c->held.n = 0;
	return rc;
}

static int do_drip(struct conn *c, const struct step *st)
{
	size_t i;

	tlog_sent(st->text.p, st->text.n);
	for (i = 0; i < st->text.n; i++) {
		if (conn_send(c, st->text.p + i, 1) != IO_OK)
			return IO_GONE;
		if (i + 1 < st->text.n)
			sleep_secs(st->secs);
	}
	return IO_OK;
}

static int do_flood(struct conn *c, const struct step *st)
{
	size_t n = st->text.n;
	unsigned long long reps = n >= FLOOD_CHUNK ? 1 : FLOOD_CHUNK / n;
	unsigned long long left = st->count;
	struct sbuf b = { 0 };
	unsigned long long i;
	int rc = IO_OK;

	if (reps > left)
		reps = left;
	for (i = 0; i < reps; i++)
		sb_add(&b, st->text.p, n);
	while (left > 0) {
		unsigned long long k = left < reps ? left : reps;
		if (conn_send(c, b.p, (size_t)k * n) != IO_OK) {
			rc = IO_GONE;
			break;
		}
		left -= k;
	}
	if (rc == IO_GONE)
		tnote("flood stopped, client went away after %llu of %llu copies", st->count - left,
		      st->count);
	free(b.p);
	return rc;
}

static int do_garbage(struct conn *c, const struct step *st)
{
	static char buf[64 * 1024];
	uint64_t x = 0x9e3779b97f4a7c15ULL; /* fixed seed: same bytes each time */
	unsigned long long left = st->count, pos = 0;

	while (left > 0) {
		size_t k = left < sizeof buf ? (size_t)left : sizeof buf, i;
		for (i = 0; i < k; i++, pos++) {
			unsigned char byte;
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			byte = (unsigned char)(x >> 32);
			/* every 8th byte a control byte, every 64th a NUL */
			if (pos % 64 == 5)
				byte = 0;
			else if (pos % 8 == 3)
				byte &= 0x1f;
			buf[i] = (char)byte;
		}
		if (conn_send(c, buf, k) != IO_OK)
			return IO_GONE;
		left -= k;
	}
	return IO_OK;
}

static int is_quit(const char *l, size_t n)
{
	static const struct bytes q = { (char *)"QUIT", 4 };
	return prefix_match(l, n, &q) && (n == 4 || is_ws(l[4]));
}

/*
 * How the steps ended: END_CLOSE graceful close (close_notify first under
 * TLS); END_GONE the client went away; END_ABORT a failed TLS handshake
 * (FIN, unlogged drain, close); END_RESET a hard reset (RST: no FIN, no
 * close_notify, unread client input dropped).
 */
enum { END_CLOSE, END_GONE, END_ABORT, END_RESET };

/*
 * Server-side handshake on c with t, for the step or rule on line lineno.
 * What the client sent before it (pipelined behind STARTTLS) is dropped:
 * never take plaintext as if it came over TLS -- unless t says keep (left
 * in c->rbuf, read next as if it had come over TLS: CVE-2011-0411) or feed
 * (OpenSSL reads it first, as the start of the ClientHello, through a
 * buffering BIO in front of the socket).  Bounded like a send: a client
 * silent for SEND_STALL_SECS ends it (and alarm() ends everything).
 * 0 done, -1 failed (noted; c->ssl is gone again).
 */
static int tls_start(struct conn *c, const struct tls_cfg *t, unsigned lineno)
{
	char why[256];
	int feed = 0;

	if (c->rlen > 0 || c->discarding) {
		if (t->before == TB_KEEP) {
			tnote("%zu plaintext bytes received before TLS kept: read as if they "
			      "came over TLS",
			      c->rlen);
		} else if (t->before == TB_FEED && c->rlen > 0) {
			tnote("%zu plaintext bytes received before TLS fed to the TLS handshake",
			      c->rlen);
			feed = 1;
		} else {
			tnote("%zu plaintext bytes received before TLS discarded", c->rlen);
			c->rlen = 0;
			c->discarding = 0;
		}
	}
	c->ssl = SSL_new(t->ctx);
	if (c->ssl && feed) {
		BIO *rb = BIO_new(BIO_f_buffer()), *sock = BIO_new_socket(c->fd, BIO_NOCLOSE);
		BIO *wb = BIO_new_socket(c->fd, BIO_NOCLOSE);

		if (!rb || !sock || !wb || BIO_set_buffer_read_data(rb, c->rbuf, c->rlen) != 1) {
			BIO_free(rb);
			BIO_free(sock);
			BIO_free(wb);
			tnote("TLS handshake (%s, line %u) failed: %s", t->desc, lineno,
			      ssl_reason(why, sizeof why, "BIO setup failed"));
			goto fail;
		}
		SSL_set_bio(c->ssl, BIO_push(rb, sock), wb);
		c->rlen = 0;
		c->discarding = 0;
	}
	if (!c->ssl || (!feed && SSL_set_fd(c->ssl, c->fd) != 1)) {
		tnote("TLS handshake (%s, line %u) failed: %s", t->desc, lineno,
		      ssl_reason(why, sizeof why, "SSL_new failed"));
		goto fail;
	}
	for (;;) {
		int rc = SSL_accept(c->ssl), err = errno, pr;
		short ev;

		if (rc == 1)
			break;
		ev = tls_want(c, rc);
		if (ev) {
			pr = wait_fd(c->fd, ev, SEND_STALL_SECS * 1000);
			if (pr > 0 || (pr < 0 && errno == EINTR))
				continue;
			tnote("TLS handshake (%s, line %u) failed: client silent for %d s", t->desc,
			      lineno, SEND_STALL_SECS);
			goto fail;
		}
		switch (SSL_get_error(c->ssl, rc)) {
		case SSL_ERROR_ZERO_RETURN: /* EOF (SSL_OP_IGNORE_UNEXPECTED_EOF) */
			snprintf(why, sizeof why, "connection closed by the client");
			break;
		case SSL_ERROR_SYSCALL:
			if (ERR_peek_error() == 0) {
				snprintf(why, sizeof why, "%s",
					 err && err != EPIPE && err != ECONNRESET
						 ? strerror(err)
						 : "connection closed by the client");
				break;
			}
			/* fall through */
		default:
			ssl_reason(why, sizeof why, "TLS error");
		}
		tnote("TLS handshake (%s, line %u) failed: %s", t->desc, lineno, why);
		goto fail;
	}
	tnote("TLS handshake (%s, line %u) done: %s %s", t->desc, lineno, SSL_get_version(c->ssl),
	      SSL_get_cipher_name(c->ssl));
	return 0;
fail:
	ERR_clear_error();
	SSL_free(c->ssl);
	c->ssl = NULL;
	return -1;
}

/* Our close_notify (SSL_shutdown's first half), within CLOSE_LINGER_MS. */
static void tls_close_notify(struct conn *c)
{
	long long deadline = now_ms() + CLOSE_LINGER_MS;

	if (c->tls_broken)
		return;
	for (;;) {
		int rc = SSL_shutdown(c->ssl);
		long long left = deadline - now_ms();
		short ev;

		if (rc >= 0)
			break;
		ev = tls_want(c, rc);
		if (!ev || left <= 0 || wait_fd(c->fd, ev, (int)left) == 0)
			break;
	}
	ERR_clear_error();
}

static int answer_pending(struct conn *c);

/*
 * A rule's actions in order: -1 to go on serving, else how it ended.
 * nested: answering what was pipelined behind STARTTLS ("tls ... answer"),
 * where another tls action only gets the 554.
 */
static int run_ractions(struct conn *c, const struct rule *r, int nested)
{
	static const struct bytes again = { (char *)"554 5.5.1 Error: TLS already active\r\n", 37 };
	size_t k;

	for (k = 0; k < r->nacts; k++) {
		const struct ract *a = &r->acts[k];
		switch (a->action) {
		case RA_SEND:
			if (a->text.n > 0 && send_text(c, &a->text) != IO_OK)
				return END_GONE;
			break;
		case RA_SLEEP:
			if (c->holding && flush_held(c) != IO_OK)
				return END_GONE;
			sleep_secs(a->secs);
			break;
		case RA_CLOSE:
		case RA_RESET:
			if (a->text.n > 0 && send_text(c, &a->text) != IO_OK)
				return END_GONE;
			return a->action == RA_CLOSE ? END_CLOSE : END_RESET;
		case RA_TLS:
			if (c->ssl || nested) /* and the rest of the chain is skipped */
				return send_text(c, &again) == IO_OK ? -1 : END_GONE;
			c->holding = a->tls->before == TB_ANSWER;
			if (send_text(c, &a->text) != IO_OK)
				return END_GONE;
			if (a->tls->before == TB_ANSWER) {
				int end = answer_pending(c);

				if (flush_held(c) != IO_OK)
					return END_GONE;
				if (end >= 0)
					return end;
			}
			if (tls_start(c, a->tls, r->lineno) < 0)
				return END_ABORT;
			break;
		}
	}
	return -1;
}

/* Answer the client line in c->lbuf (n bytes) by the rules: -1 to go on. */
static int answer_line(struct conn *c, size_t n, int nested)
{
	static const struct bytes bye = { (char *)"221 2.0.0 Bye\r\n", 15 };
	static const struct bytes unk = { (char *)"500 5.5.2 unrecognized command\r\n", 32 };
	size_t i;

	for (i = 0; i < g_sc.nrules; i++) {
		int when = g_sc.rules[i].when;

		if (when && (when == 2) != (c->ssl != NULL))
			continue;
		if (prefix_match(c->lbuf, n, &g_sc.rules[i].prefix))
			return run_ractions(c, &g_sc.rules[i], nested);
	}
	if (is_quit(c->lbuf, n))
		return send_text(c, &bye) == IO_OK ? END_CLOSE : END_GONE;
	return send_text(c, &unk) == IO_OK ? -1 : END_GONE;
}

/*
 * "tls ... answer": every complete line the client sent before the
 * handshake is answered now, in plain text, as serve would (an incomplete
 * one is left to tls_start, which discards it).  -1, or how it ended.
 */
static int answer_pending(struct conn *c)
{
	size_t n;

	while (!c->discarding && memchr(c->rbuf, '\n', c->rlen)) {
		int end;

		if (read_line(c, &n, 0) != 1)
			break;
		end = answer_line(c, n, 1);
		if (end >= 0)
			return end;
	}
	return -1;
}

static int serve(struct conn *c)
{
	size_t n;

	for (;;) {
		int end;

		if (read_line(c, &n, -1) != 1)
			return END_CLOSE;
		end = answer_line(c, n, 0);
		if (end >= 0)
			return end;
	}
}

static int run_steps(struct conn *c)
{
	size_t i, n;

	for (i = 0; i < g_sc.nsteps; i++) {
		const struct step *st = &g_sc.steps[i];
		switch (st->op) {
		case OP_SEND:
			if (send_text(c, &st->text) != IO_OK)
				return END_GONE;
			break;
		case OP_SLEEP:
			sleep_secs(st->secs);
			break;
		case OP_DRIP:
			if (do_drip(c, st) != IO_OK)
				return END_GONE;
			break;
		case OP_FLOOD: {
			struct sbuf b = { 0 };
			sb_escaped(&b, st->text.p, st->text.n, 200);
			tnote("flood %llu \"%s\"", st->count, b.p);
			free(b.p);
			if (do_flood(c, st) != IO_OK)
				return END_GONE;
			break;
		}
		case OP_GARBAGE:
			tnote("garbage %llu", st->count);
			if (do_garbage(c, st) != IO_OK)
				return END_GONE;
			break;
		case OP_EXPECT:
			if (read_line(c, &n, -1) != 1) {
				tnote("EOF while expecting \"%.*s\" (line %u)", (int)st->text.n,
				      st->text.p, st->lineno);
				return END_CLOSE;
			}
			if (!prefix_match(c->lbuf, n, &st->text)) {
				struct sbuf e = { 0 }, g = { 0 };
				sb_escaped(&e, st->text.p, st->text.n, 200);
				sb_escaped(&g, c->lbuf, n, 200);
				tnote("expect \"%s\" (line %u) failed, got \"%s\"", e.p, st->lineno,
				      g.p);
				fprintf(stderr,
					"smtpsim[%ld]: %s:%u: expected \"%s\", got \"%s\"; closing\n",
					(long)getpid(), g_scn_path, st->lineno, e.p, g.p);
				free(e.p);
				free(g.p);
				return END_CLOSE;
			}
			break;
		case OP_READ:
			if (read_line(c, &n, -1) != 1)
				return END_CLOSE;
			break;
		case OP_SILENCE:
			while (read_line(c, &n, -1) == 1)
				;
			return END_CLOSE;
		case OP_CLOSE:
			return END_CLOSE;
		case OP_RESET:
			return END_RESET;
		case OP_SERVE:
			return serve(c);
		case OP_TLS:
			if (st->tls->before == TB_ANSWER) {
				int end = answer_pending(c);

				if (end >= 0)
					return end;
			}
			if (tls_start(c, st->tls, st->lineno) < 0)
				return END_ABORT;
			break;
		}
	}
	return END_CLOSE;
}

static void run_connection(int fd, const char *peer)
{
	struct conn *c = calloc(1, sizeof *c);
	int one = 1, end;
	size_t n;

	if (!c) {
		close(fd);
		return;
	}
	c->fd = fd;
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	tnote("connect from %s (pid %ld)", peer, (long)getpid());

	end = run_steps(c);
	if (end == END_CLOSE) {
		/*
		 * Graceful close: close_notify under TLS, send our FIN, then
		 * drain (and log) what the client still sends for a moment, so
		 * that close() does not turn into an RST that could destroy
		 * data in flight.
		 */
		long long deadline = now_ms() + CLOSE_LINGER_MS;
		if (c->ssl)
			tls_close_notify(c);
		shutdown(fd, SHUT_WR);
		while (!c->eof) {
			long long left = deadline - now_ms();
			if (left <= 0 || read_line(c, &n, (int)left) != 1)
				break;
		}
	} else if (end == END_RESET) {
		/*
		 * Hard reset: with SO_LINGER {1, 0} close() sends an RST instead of
		 * a FIN, whatever is queued either way; under TLS no close_notify
		 * (SSL_free below writes nothing).
		 */
		struct linger lg = { .l_onoff = 1, .l_linger = 0 };
		if (setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg) < 0)
			tnote("SO_LINGER: %s", strerror(errno));
		tnote("reset: RST to %s%s", peer, c->ssl ? " (TLS up, no close_notify)" : "");
	} else if (end == END_ABORT) {
		/* failed handshake: let our alert reach the client, log nothing */
		long long deadline = now_ms() + CLOSE_LINGER_MS, left;
		char junk[4096];
		shutdown(fd, SHUT_WR);
		while ((left = deadline - now_ms()) > 0 && wait_fd(fd, POLLIN, (int)left) > 0 &&
		       recv(fd, junk, sizeof junk, 0) > 0)
			;
	}
	SSL_free(c->ssl);
	close(fd);
	tnote("closed %s (pid %ld)", peer, (long)getpid());
	free(c->held.p);
	free(c);
}

/* ------------------------------------------------------------------ */
/* Listeners, children, main loop                                      */
/* ------------------------------------------------------------------ */

static void usage(void)
{
	fprintf(stderr,
		"usage: smtpsim -s SCENARIO -l ADDR:PORT [-l ADDR:PORT ...] "
		"[-T TRANSCRIPT] [-P PIDFILE] [-C PKIDIR]\n"
		"  ADDR:PORT is 127.0.0.1:2600 or [::1]:2600\n"
		"  PKIDIR holds NAME.chain.pem and NAME.key for 'tls NAME' (tests/mkcerts.sh)\n");
}

static void open_listener(const char *arg)
{
	char host[256];
	const char *port, *colon;
	struct addrinfo hints, *ai = NULL;
	int fd, one = 1, rc;
	size_t hl;
	char *end;
	unsigned long pn;

	if (arg[0] == '[') {
		const char *rb = strchr(arg, ']');
		if (!rb || rb[1] != ':')
			goto bad;
		hl = (size_t)(rb - arg - 1);
		if (hl == 0 || hl >= sizeof host)
			goto bad;
		memcpy(host, arg + 1, hl);
		port = rb + 2;
	} else {
		colon = strchr(arg, ':');
		if (!colon || strchr(colon + 1, ':'))
			goto bad;
		hl = (size_t)(colon - arg);
		if (hl == 0 || hl >= sizeof host)
			goto bad;
		memcpy(host, arg, hl);
		port = colon + 1;
	}
	host[hl] = '\0';
	if (!isdigit((unsigned char)*port))
		goto bad;
	errno = 0;
	pn = strtoul(port, &end, 10);
	if (*end || errno || pn < 1 || pn > 65535)
		goto bad;

	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE;
	rc = getaddrinfo(host, port, &hints, &ai);
	if (rc != 0) {
		fprintf(stderr, "smtpsim: -l %s: %s\n", arg, gai_strerror(rc));
		exit(2);
	}
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		fprintf(stderr, "smtpsim: socket for %s: %s\n", arg, strerror(errno));
		freeaddrinfo(ai);
		exit(1);
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (ai->ai_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
	if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, SOMAXCONN) < 0) {
		fprintf(stderr, "smtpsim: cannot listen on %s: %s\n", arg, strerror(errno));
		freeaddrinfo(ai);
		close(fd);
		exit(1);
	}
	freeaddrinfo(ai);
	g_lfds = xrealloc(g_lfds, (g_nlfds + 1) * sizeof *g_lfds);
	g_lnames = xrealloc(g_lnames, (g_nlfds + 1) * sizeof *g_lnames);
	g_lfds[g_nlfds] = fd;
	g_lnames[g_nlfds] = (char *)arg;
	g_nlfds++;
	return;
bad:
	fprintf(stderr, "smtpsim: -l %s: want ADDR:PORT, e.g. 127.0.0.1:2600 or [::1]:2600\n", arg);
	exit(2);
}

static void on_signal(int sig)
{
	if (sig == SIGCHLD)
		g_got_chld = 1;
	else
		g_got_term = 1;
}

static void add_kid(pid_t pid)
{
	if (g_nkids == g_capkids) {
		g_capkids = g_capkids ? g_capkids * 2 : 16;
		g_kids = xrealloc(g_kids, g_capkids * sizeof *g_kids);
	}
	g_kids[g_nkids++] = pid;
}

/* Reap finished children without blocking; forget their PIDs. */
static void reap(void)
{
	pid_t pid;
	size_t i;

	while ((pid = waitpid(-1, NULL, WNOHANG)) > 0) {
		for (i = 0; i < g_nkids; i++) {
			if (g_kids[i] == pid) {
				g_kids[i] = g_kids[--g_nkids];
				break;
			}
		}
	}
}

static void format_peer(const struct sockaddr_storage *ss, socklen_t len, char *out, size_t cap)
{
	char h[NI_MAXHOST], p[NI_MAXSERV];

	if (getnameinfo((const struct sockaddr *)ss, len, h, sizeof h, p, sizeof p,
			NI_NUMERICHOST | NI_NUMERICSERV) != 0)
		snprintf(out, cap, "?");
	else if (ss->ss_family == AF_INET6)
		snprintf(out, cap, "[%s]:%s", h, p);
	else
		snprintf(out, cap, "%s:%s", h, p);
}

static void accept_on(int lfd, const sigset_t *origmask, pid_t parent)
{
	for (;;) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof ss;
		char peer[NI_MAXHOST + NI_MAXSERV + 4];
		pid_t pid;
		size_t i;
		int cfd = accept(lfd, (struct sockaddr *)&ss, &sl);

		if (cfd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				fprintf(stderr, "smtpsim: accept: %s\n", strerror(errno));
			return;
		}
		format_peer(&ss, sl, peer, sizeof peer);
		fflush(NULL);
		pid = fork();
		if (pid < 0) {
			fprintf(stderr, "smtpsim: fork: %s\n", strerror(errno));
			close(cfd);
			continue;
		}
		if (pid == 0) {
			struct sigaction sa;
			memset(&sa, 0, sizeof sa);
			sa.sa_handler = SIG_DFL;
			sigaction(SIGTERM, &sa, NULL);
			sigaction(SIGINT, &sa, NULL);
			sigaction(SIGCHLD, &sa, NULL);
			sigprocmask(SIG_SETMASK, origmask, NULL);
			/* die with the parent, and never live forever */
			prctl(PR_SET_PDEATHSIG, SIGTERM);
			if (getppid() != parent)
				_exit(0);
			alarm(CONN_LIFETIME_SECS);
			for (i = 0; i < g_nlfds; i++)
				close(g_lfds[i]);
			run_connection(cfd, peer);
			_exit(0);
		}
		add_kid(pid);
		close(cfd);
	}
}

static void stop_children(void)
{
	long long deadline = now_ms() + KILL_GRACE_MS;
	size_t i;

	for (i = 0; i < g_nkids; i++)
		kill(g_kids[i], SIGTERM);
	while (g_nkids > 0 && now_ms() < deadline) {
		reap();
		if (g_nkids > 0)
			sleep_secs(0.01);
	}
	for (i = 0; i < g_nkids; i++) {
		kill(g_kids[i], SIGKILL);
		waitpid(g_kids[i], NULL, 0);
	}
	g_nkids = 0;
}

int main(int argc, char **argv)
{
	const char *scn = NULL, *tfile = NULL;
	struct sigaction sa;
	sigset_t block, origmask;
	struct pollfd *pfds;
	pid_t self = getpid();
	size_t i;
	int opt;
	char **lopts = NULL;
	size_t nl = 0;

	while ((opt = getopt(argc, argv, "s:l:T:P:C:h")) != -1) {
		switch (opt) {
		case 's':
			scn = optarg;
			break;
		case 'l':
			lopts = xrealloc(lopts, (nl + 1) * sizeof *lopts);
			lopts[nl++] = optarg;
			break;
		case 'T':
			tfile = optarg;
			break;
		case 'P':
			g_pidfile = optarg;
			break;
		case 'C':
			g_pkidir = optarg;
			break;
		case 'h':
			usage();
			free(lopts);
			return 0;
		default:
			usage();
			free(lopts);
			return 2;
		}
	}
	if (optind < argc || !scn || nl == 0) {
		if (optind < argc)
			fprintf(stderr, "smtpsim: unexpected argument '%s'\n", argv[optind]);
		else
			fprintf(stderr, "smtpsim: -s and at least one -l are required\n");
		usage();
		free(lopts);
		return 2;
	}

	parse_scenario(scn);

	if (tfile) {
		g_tfd = open(tfile, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
		if (g_tfd < 0) {
			fprintf(stderr, "smtpsim: %s: %s\n", tfile, strerror(errno));
			return 1;
		}
	}

	/* SIGPIPE ignored everywhere (children inherit it). */
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);

	/* Signals are only delivered inside ppoll(): no race with "ready". */
	sigemptyset(&block);
	sigaddset(&block, SIGCHLD);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigprocmask(SIG_BLOCK, &block, &origmask);
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGCHLD, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);

	for (i = 0; i < nl; i++)
		open_listener(lopts[i]);

	if (g_pidfile) {
		FILE *f = fopen(g_pidfile, "w");
		if (!f || fprintf(f, "%ld\n", (long)self) < 0 || fclose(f) != 0) {
			fprintf(stderr, "smtpsim: %s: %s\n", g_pidfile, strerror(errno));
			return 1;
		}
	}

	printf("ready\n");
	fflush(stdout);

	pfds = xrealloc(NULL, g_nlfds * sizeof *pfds);
	while (!g_got_term) {
		int pr, perrno;
		for (i = 0; i < g_nlfds; i++) {
			pfds[i].fd = g_lfds[i];
			pfds[i].events = POLLIN;
			pfds[i].revents = 0;
		}
		pr = ppoll(pfds, g_nlfds, NULL, &origmask);
		perrno = errno; /* reap() clobbers errno */
		if (g_got_chld) {
			g_got_chld = 0;
			reap();
		}
		if (g_got_term)
			break;
		if (pr < 0) {
			if (perrno != EINTR) {
				fprintf(stderr, "smtpsim: ppoll: %s\n", strerror(perrno));
				break;
			}
			continue;
		}
		for (i = 0; i < g_nlfds; i++)
			if (pfds[i].revents & POLLIN)
				accept_on(g_lfds[i], &origmask, self);
	}

	for (i = 0; i < g_nlfds; i++)
		close(g_lfds[i]);
	stop_children();
	if (g_pidfile)
		unlink(g_pidfile);
	if (g_tfd >= 0)
		close(g_tfd);
	free(pfds);
	free(g_lfds);
	free(g_lnames);
	free(g_kids);
	free(lopts);
	free_scenario();
	return 0;
}
