/* test_conn.c - the connection layer against a misbehaving peer: replies
 * split, merged, dripped, overlong, endless, cut off, or never sent, over a
 * socketpair whose other end the test plays by hand.  No network, no TLS. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "lib/conn.h"

/* Generous: only a hang (a broken deadline) may take this long. */
#define LONG_DEADLINE_S 5.0

/* One connection under test and the peer end the test speaks through. */
struct pair {
	struct deadline dl;
	struct conn *c;
	int peer; /* -1 once the test closed it */
};

static void pair_open(struct pair *p, struct strbuf *transcript)
{
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
	deadline_init(&p->dl, LONG_DEADLINE_S);
	p->c = conn_adopt(sv[0], &p->dl, NULL, transcript);
	assert_non_null(p->c);
	p->peer = sv[1];
}

static void pair_close(struct pair *p)
{
	conn_free(p->c);
	p->c = NULL;
	if (p->peer >= 0)
		close(p->peer);
	p->peer = -1;
}

static int setup(void **state)
{
	struct pair *p = calloc(1, sizeof(*p));

	if (p == NULL)
		return -1;
	pair_open(p, NULL);
	*state = p;
	return 0;
}

static int teardown(void **state)
{
	pair_close(*state);
	free(*state);
	return 0;
}

static double since_s(int64_t t0)
{
	return us_to_s(mono_now_us() - t0);
}

static void sleep_us(long us)
{
	struct timespec ts = { us / 1000000, (us % 1000000) * 1000 };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* The peer end is non-blocking too: wait for room instead of failing. */
static int peer_send(int fd, const void *data, size_t len)
{
	const char *s = data;

	while (len > 0) {
		ssize_t n = send(fd, s, len, MSG_NOSIGNAL);

		if (n > 0) {
			s += n;
			len -= (size_t)n;
		} else if (n < 0 && errno == EAGAIN) {
			struct pollfd pf = { .fd = fd, .events = POLLOUT };

			if (poll(&pf, 1, 5000) <= 0)
				return -1;
		} else if (!(n < 0 && errno == EINTR)) {
			return -1;
		}
	}
	return 0;
}

/* Read up to want bytes, waiting at most timeout_ms for each piece; the
 * number read (fewer on EOF or when nothing more comes). */
static size_t peer_recv(int fd, char *buf, size_t want, int timeout_ms)
{
	size_t got = 0;

	while (got < want) {
		ssize_t n = recv(fd, buf + got, want - got, 0);

		if (n > 0) {
			got += (size_t)n;
		} else if (n < 0 && errno == EAGAIN) {
			struct pollfd pf = { .fd = fd, .events = POLLIN };

			if (poll(&pf, 1, timeout_ms) <= 0)
				break;
		} else if (!(n < 0 && errno == EINTR)) {
			break;
		}
	}
	return got;
}

/* A server that answers a command once it has read it (a reply queued
 * before the command would be one nobody asked for): reads want bytes
 * into got, then sends reply. */
struct responder {
	int fd;
	size_t want;
	const char *reply;
	char got[128];
	size_t n;
};

static void *respond(void *arg)
{
	struct responder *r = arg;

	r->n = peer_recv(r->fd, r->got, r->want, 2000);
	if (r->n == r->want)
		peer_send(r->fd, r->reply, strlen(r->reply));
	return NULL;
}

/* A server played from a thread, so that it can answer while the
 * connection is already waiting: data in pieces of chunk bytes (0: all at
 * once) gap_us apart, then optionally a hang-up.  With loop set it repeats
 * data until stop is raised (or max_us passes), a server that never ends. */
struct script {
	int fd;
	const char *data;
	size_t len, chunk;
	long gap_us;
	bool close_after, loop;
	atomic_bool stop;
	int64_t max_us;
	int rc; /* 0 when everything was sent */
};

static void *script_run(void *arg)
{
	struct script *s = arg;
	int64_t t0 = mono_now_us();

	s->rc = 0;
	do {
		size_t off = 0;

		while (off < s->len && !atomic_load(&s->stop)) {
			size_t n = s->chunk && s->chunk < s->len - off ? s->chunk : s->len - off;

			if (peer_send(s->fd, s->data + off, n) < 0) {
				s->rc = -1;
				goto out;
			}
			off += n;
			if (s->gap_us)
				sleep_us(s->gap_us);
			if (s->max_us && mono_now_us() - t0 > s->max_us)
				goto out;
		}
	} while (s->loop && !atomic_load(&s->stop));
out:
	if (s->close_after)
		close(s->fd);
	return NULL;
}

/* n copies of unit after head and before tail, on the heap. */
static char *build(const char *head, const char *unit, size_t n, const char *tail, size_t *len)
{
	size_t hl = strlen(head), ul = strlen(unit), tl = strlen(tail);
	char *b = malloc(hl + ul * n + tl + 1);

	assert_non_null(b);
	memcpy(b, head, hl);
	for (size_t i = 0; i < n; i++)
		memcpy(b + hl + i * ul, unit, ul);
	memcpy(b + hl + ul * n, tail, tl);
	*len = hl + ul * n + tl;
	b[*len] = '\0';
	return b;
}

static void assert_err(const struct probe_err *e, enum err_kind kind, const char *stage,
		       const char *msg_part)
{
	if (e->kind != kind)
		fail_msg("error kind %s (%s), expected %s", err_kind_name(e->kind), e->msg,
			 err_kind_name(kind));
	assert_string_equal(e->stage, stage);
	if (msg_part && strstr(e->msg, msg_part) == NULL)
		fail_msg("message '%s' lacks '%s'", e->msg, msg_part);
}

/* What one reply read makes of what a server sends.  Every row runs with
 * the bytes in one write, and short ones once more dripped a byte at a
 * time: a reply's meaning must not depend on how TCP cut it up. */
struct rcase {
	const char *name;
	const char *head, *unit; /* head, then unit nunit times, then tail */
	size_t nunit;
	const char *tail;
	bool hang_up; /* the server closes after sending */
	int rc;
	enum err_kind kind; /* when rc == -1 */
	const char *msg;    /* substring of the message, rc == -1 */
	bool msg_exact;
	int code, nlines; /* when rc == 0 */
	const char *text; /* the reply's text, rc == 0 (NULL: unchecked) */
};

static const struct rcase rcases[] = {
	{ "multi-line", "250-a\r\n250 b\r\n", "", 0, "", false, 0, 0, NULL, false, 250, 2, "a\nb" },
	{ "single line, bare LF", "220 mx ESMTP\n", "", 0, "", false, 0, 0, NULL, false, 220, 1,
	  "mx ESMTP" },
	{ "code only", "250\r\n", "", 0, "", false, 0, 0, NULL, false, 250, 1, "" },
	/* The reply is complete at its last line: a hang-up after it is news
	 * for the next read, not an error in this one. */
	{ "reply then hang-up", "221 bye\r\n", "", 0, "", true, 0, 0, NULL, false, 221, 1, "bye" },
	/* Exactly at the limits is still a reply. */
	{ "SMTP_REPLY_MAX_LINES lines", "", "250-x\r\n", SMTP_REPLY_MAX_LINES - 1, "250 end\r\n",
	  false, 0, 0, NULL, false, 250, SMTP_REPLY_MAX_LINES, NULL },
	{ "line of SMTP_LINE_MAX bytes", "250 ", "a", SMTP_LINE_MAX - 4, "\r\n", false, 0, 0, NULL,
	  false, 250, 1, NULL },
	/* One over: refused, and the reader stops instead of buffering on. */
	{ "SMTP_REPLY_MAX_LINES + 1 lines", "", "250-x\r\n", SMTP_REPLY_MAX_LINES, "250 end\r\n",
	  false, -1, ERR_PROTOCOL, "lines", false, 0, 0, NULL },
	{ "endless continuation lines", "", "250-x\r\n", 1000, "", false, -1, ERR_PROTOCOL, "lines",
	  false, 0, 0, NULL },
	{ "unterminated line over SMTP_LINE_MAX", "", "a", SMTP_LINE_MAX + 100, "", false, -1,
	  ERR_PROTOCOL, "line longer than", false, 0, 0, NULL },
	{ "terminated line of SMTP_LINE_MAX + 1", "250 ", "a", SMTP_LINE_MAX - 3, "\r\n", false, -1,
	  ERR_PROTOCOL, "longer than", false, 0, 0, NULL },
	{ "unterminated line far over the buffer", "250 ", "a", 5 * SMTP_LINE_MAX, "", false, -1,
	  ERR_PROTOCOL, "line longer than", false, 0, 0, NULL },
	{ "not SMTP (HTTP)", "HTTP/1.1 400 Bad Request\r\n", "", 0, "", false, -1, ERR_PROTOCOL,
	  "not an SMTP reply", false, 0, 0, NULL },
	{ "codes change mid-reply", "250-a\r\n550 b\r\n", "", 0, "", false, -1, ERR_PROTOCOL,
	  "began with 250", false, 0, 0, NULL },
	/* Hang-ups: "closed" (not a timeout, not garbage), and where. */
	{ "hang-up before any reply", "", "", 0, "", true, -1, ERR_CLOSED,
	  "connection closed by the server", true, 0, 0, NULL },
	{ "hang-up after a continuation line", "250-a\r\n", "", 0, "", true, -1, ERR_CLOSED,
	  "middle of a reply", false, 0, 0, NULL },
	{ "hang-up inside the last line", "250-a\r\n250 b", "", 0, "", true, -1, ERR_CLOSED,
	  "middle of a reply", false, 0, 0, NULL },
	/* Bytes came but no whole line: closed is all that is promised. */
	{ "hang-up inside the first line", "250 hel", "", 0, "", true, -1, ERR_CLOSED, NULL, false,
	  0, 0, NULL },
};

#define DRIP_MAX 64 /* rows up to this size are also dripped */

static void run_rcase(const struct rcase *t, const char *bytes, size_t len, bool drip)
{
	struct pair p;
	struct script s = { .data = bytes, .len = len, .close_after = t->hang_up };
	struct smtp_reply r;
	struct probe_err e = { 0 };
	pthread_t th;
	int rc;

	pair_open(&p, NULL);
	s.fd = p.peer;
	if (drip) {
		s.chunk = 1;
		s.gap_us = 1000;
	}
	assert_int_equal(pthread_create(&th, NULL, script_run, &s), 0);
	smtp_reply_init(&r);
	rc = conn_read_reply(p.c, &r, "ehlo", &e);
	/* The verdict must not wait for the peer: stop it before judging. */
	atomic_store(&s.stop, true);
	pthread_join(th, NULL);
	if (t->hang_up)
		p.peer = -1; /* the script closed it */
	if (rc != t->rc)
		fail_msg("%s%s: rc %d, expected %d (%s: %s)", t->name, drip ? " (dripped)" : "", rc,
			 t->rc, err_kind_name(e.kind), e.msg);
	if (rc == 0) {
		assert_int_equal(r.code, t->code);
		assert_int_equal(r.nlines, t->nlines);
		if (t->text)
			assert_string_equal(strbuf_str(&r.text), t->text);
		assert_int_equal(conn_pending(p.c), 0);
	} else {
		assert_err(&e, t->kind, "ehlo", t->msg);
		if (t->msg_exact)
			assert_string_equal(e.msg, t->msg);
	}
	smtp_reply_free(&r);
	pair_close(&p);
}

static void test_reply_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(rcases) / sizeof(rcases[0]); i++) {
		const struct rcase *t = &rcases[i];
		size_t len;
		char *bytes = build(t->head, t->unit, t->nunit, t->tail, &len);

		run_rcase(t, bytes, len, false);
		if (len <= DRIP_MAX)
			run_rcase(t, bytes, len, true);
		free(bytes);
	}
}

/* The byte limit bounds a reply of few, long lines as the line limit
 * bounds one of many short ones. */
static void test_reply_bytes_bounded(void **state)
{
	struct pair *p = *state;
	char line[1024 + 8];
	size_t cap = (size_t)SMTP_REPLY_MAX_BYTES + 2 * sizeof(line);
	char *all = malloc(cap);
	size_t len = 0;
	struct script s = { .fd = p->peer };
	struct smtp_reply r;
	struct probe_err e = { 0 };
	pthread_t th;

	assert_non_null(all);
	memset(line, 'a', sizeof(line));
	memcpy(line, "250-", 4);
	memcpy(line + sizeof(line) - 2, "\r\n", 2);
	/* Just past the limit: the rest must fit the socket buffer unread. */
	while (len + sizeof(line) <= cap) {
		memcpy(all + len, line, sizeof(line));
		len += sizeof(line);
	}
	s.data = all;
	s.len = len;
	assert_int_equal(pthread_create(&th, NULL, script_run, &s), 0);
	smtp_reply_init(&r);
	assert_int_equal(conn_read_reply(p->c, &r, "ehlo", &e), -1);
	assert_err(&e, ERR_PROTOCOL, "ehlo", "bytes");
	assert_true(r.nbytes <= (size_t)SMTP_REPLY_MAX_BYTES + sizeof(line));
	assert_true(r.text.len <= (size_t)SMTP_REPLY_MAX_BYTES);
	/* Let the writer finish into the socket buffer or give up, then go. */
	atomic_store(&s.stop, true);
	pthread_join(th, NULL);
	smtp_reply_free(&r);
	free(all);
}

/* Pipelining, or a server that talks ahead: what arrives after a reply is
 * kept for the next read, even when it came in the same segment or cut in
 * the middle of a line. */
static void test_two_replies_one_write(void **state)
{
	struct pair *p = *state;
	static const char both[] = "250 first\r\n251 second\r\n";
	static const char cut[] = "252 third\r\n253 fou";
	struct smtp_reply r;
	struct probe_err e = { 0 };

	smtp_reply_init(&r);
	assert_int_equal(peer_send(p->peer, both, strlen(both)), 0);
	assert_int_equal(conn_read_reply(p->c, &r, "rcpt", &e), 0);
	assert_int_equal(r.code, 250);
	assert_string_equal(strbuf_str(&r.text), "first");
	assert_int_equal(conn_pending(p->c), strlen("251 second\r\n"));
	assert_int_equal(conn_read_reply(p->c, &r, "rcpt", &e), 0);
	assert_int_equal(r.code, 251);
	assert_int_equal(r.nlines, 1);
	assert_string_equal(strbuf_str(&r.text), "second");
	assert_int_equal(conn_pending(p->c), 0);

	/* The rest of a line arrives later: the kept bytes join it. */
	assert_int_equal(peer_send(p->peer, cut, strlen(cut)), 0);
	assert_int_equal(conn_read_reply(p->c, &r, "rcpt", &e), 0);
	assert_int_equal(r.code, 252);
	assert_int_equal(conn_pending(p->c), strlen("253 fou"));
	assert_int_equal(peer_send(p->peer, "r\r\n", 3), 0);
	assert_int_equal(conn_read_reply(p->c, &r, "rcpt", &e), 0);
	assert_int_equal(r.code, 253);
	assert_string_equal(strbuf_str(&r.text), "four");
	assert_int_equal(conn_pending(p->c), 0);
	smtp_reply_free(&r);
}

/* A server that says nothing: the check ends at its deadline, not later,
 * and says it was a timeout. */
static void test_silent_peer_times_out(void **state)
{
	struct pair *p = *state;
	struct deadline soon;
	struct smtp_reply r;
	struct probe_err e = { 0 };
	int64_t t0;
	double took;

	deadline_init(&soon, 0.2);
	assert_ptr_equal(conn_set_deadline(p->c, &soon), &p->dl);
	assert_ptr_equal(conn_deadline(p->c), &soon);
	smtp_reply_init(&r);
	t0 = mono_now_us();
	assert_int_equal(conn_read_reply(p->c, &r, "banner", &e), -1);
	took = since_s(t0);
	assert_err(&e, ERR_TIMEOUT, "banner", "timeout");
	if (took < 0.15 || took >= 5.0)
		fail_msg("returned after %.3fs", took);

	/* An expired deadline times out at once rather than waiting again. */
	t0 = mono_now_us();
	assert_int_equal(conn_read_reply(p->c, &r, "banner", &e), -1);
	assert_err(&e, ERR_TIMEOUT, "banner", NULL);
	assert_true(since_s(t0) < 5.0);
	conn_set_deadline(p->c, &p->dl);
	smtp_reply_free(&r);
}

/* A server dripping an endless reply byte by byte never restarts the
 * clock (deadline.h): the read ends at the deadline, as a timeout. */
static void test_drip_cannot_outlast_deadline(void **state)
{
	struct pair *p = *state;
	struct deadline soon;
	struct script s = { .fd = p->peer,
			    .data = "250-x\r\n",
			    .len = 7,
			    .chunk = 1,
			    .gap_us = 20000,
			    .loop = true,
			    .max_us = 10 * 1000000 };
	struct smtp_reply r;
	struct probe_err e = { 0 };
	pthread_t th;
	int64_t t0;
	double took;

	deadline_init(&soon, 0.3);
	conn_set_deadline(p->c, &soon);
	smtp_reply_init(&r);
	assert_int_equal(pthread_create(&th, NULL, script_run, &s), 0);
	t0 = mono_now_us();
	assert_int_equal(conn_read_reply(p->c, &r, "ehlo", &e), -1);
	took = since_s(t0);
	atomic_store(&s.stop, true);
	pthread_join(th, NULL);
	assert_err(&e, ERR_TIMEOUT, "ehlo", NULL);
	if (took < 0.15 || took >= 5.0)
		fail_msg("returned after %.3fs", took);
	conn_set_deadline(p->c, &p->dl);
	smtp_reply_free(&r);
}

/* Writing to a server that hung up is "closed", and does not kill us with
 * SIGPIPE: no handler is installed here, so surviving is the assertion. */
static void test_write_after_peer_closed(void **state)
{
	struct pair *p = *state;
	struct smtp_reply r;
	struct probe_err e = { 0 };

	close(p->peer);
	p->peer = -1;
	assert_int_equal(conn_write(p->c, "QUIT\r\n", 6, "quit", &e), -1);
	assert_err(&e, ERR_CLOSED, "quit", NULL);
	memset(&e, 0, sizeof(e));
	smtp_reply_init(&r);
	assert_int_equal(conn_command(p->c, "QUIT", &r, "quit", &e), -1);
	assert_err(&e, ERR_CLOSED, "quit", NULL);
	smtp_reply_free(&r);
}

/* The server reads a little of a large write and hangs up. */
static void *read_some_then_close(void *arg)
{
	int fd = *(int *)arg;
	char buf[1000];

	peer_recv(fd, buf, sizeof(buf), 2000);
	close(fd);
	return NULL;
}

static void test_peer_closes_during_write(void **state)
{
	struct pair *p = *state;
	size_t big = 8u << 20; /* far more than a socket buffer holds */
	char *data = calloc(1, big);
	struct probe_err e = { 0 };
	pthread_t th;

	assert_non_null(data);
	assert_int_equal(pthread_create(&th, NULL, read_some_then_close, &p->peer), 0);
	assert_int_equal(conn_write(p->c, data, big, "data", &e), -1);
	pthread_join(th, NULL);
	p->peer = -1;
	assert_err(&e, ERR_CLOSED, "data", NULL);
	free(data);
}

/* A server that stops reading: the write ends at the deadline. */
static void test_write_times_out(void **state)
{
	struct pair *p = *state;
	size_t big = 8u << 20;
	char *data = calloc(1, big);
	struct deadline soon;
	struct probe_err e = { 0 };
	int64_t t0;
	double took;

	assert_non_null(data);
	deadline_init(&soon, 0.2);
	conn_set_deadline(p->c, &soon);
	t0 = mono_now_us();
	assert_int_equal(conn_write(p->c, data, big, "data", &e), -1);
	took = since_s(t0);
	assert_err(&e, ERR_TIMEOUT, "data", "timeout");
	if (took < 0.15 || took >= 5.0)
		fail_msg("returned after %.3fs", took);
	conn_set_deadline(p->c, &p->dl);
	free(data);
}

/* After conn_close the handle is still safe to use, and says why not. */
static void test_use_after_close(void **state)
{
	struct pair *p = *state;
	struct smtp_reply r;
	struct probe_err e = { 0 };
	struct addr a;
	static const char two[] = "250 a\r\n250 b\r\n";

	smtp_reply_init(&r);
	/* Leave a reply unread so that close has something to drop. */
	assert_int_equal(peer_send(p->peer, two, strlen(two)), 0);
	assert_int_equal(conn_read_reply(p->c, &r, "mail", &e), 0);
	assert_true(conn_pending(p->c) > 0);
	conn_close(p->c);
	conn_close(p->c); /* idempotent */
	assert_int_equal(conn_pending(p->c), 0);
	assert_int_equal(conn_write(p->c, "X\r\n", 3, "mail", &e), -1);
	assert_err(&e, ERR_CLOSED, "mail", "already closed");
	memset(&e, 0, sizeof(e));
	assert_int_equal(conn_read_reply(p->c, &r, "rcpt", &e), -1);
	assert_err(&e, ERR_CLOSED, "rcpt", "already closed");
	memset(&e, 0, sizeof(e));
	assert_int_equal(conn_command(p->c, "RSET", &r, "rset", &e), -1);
	assert_err(&e, ERR_CLOSED, "rset", "already closed");
	assert_int_equal(conn_local_addr(p->c, &a), -1);
	/* Closing our end is visible to the server as a hang-up. */
	{
		char b[4];

		assert_int_equal(peer_recv(p->peer, b, sizeof(b), 1000), 0);
	}
	conn_free(NULL);
	smtp_reply_free(&r);
}

/* conn_command puts exactly "CMD\r\n" on the wire, and the transcript shows
 * both sides with the server's control bytes escaped: a hostile banner
 * must not reach an operator's terminal raw. */
static void test_command_and_transcript(void **state)
{
	struct pair p;
	struct strbuf t;
	static const char reply[] = "250-a\x1b[31mb\r\n250 c|d\\e\r\n";
	char got[64];
	struct smtp_reply r;
	struct probe_err e = { 0 };
	size_t n;

	(void)state;
	strbuf_init(&t, 4096);
	pair_open(&p, &t);
	/* The server answers once it has read the command. */
	struct responder rs = { p.peer, strlen("EHLO probe.example\r\n"), reply, "", 0 };
	pthread_t th;

	assert_int_equal(pthread_create(&th, NULL, respond, &rs), 0);
	smtp_reply_init(&r);
	assert_int_equal(conn_command(p.c, "EHLO probe.example", &r, "ehlo", &e), 0);
	pthread_join(th, NULL);
	assert_int_equal(r.code, 250);
	assert_int_equal(r.nlines, 2);
	/* The reply itself is the server's bytes; escaping is for output. */
	assert_string_equal(strbuf_str(&r.text), "a\x1b[31mb\nc|d\\e");
	n = rs.n;
	memcpy(got, rs.got, n);
	assert_int_equal(n, strlen("EHLO probe.example\r\n"));
	assert_memory_equal(got, "EHLO probe.example\r\n", n);
	assert_int_equal(peer_recv(p.peer, got, sizeof(got), 50), 0); /* and nothing more */
	assert_string_equal(strbuf_str(&t),
			    "C: EHLO probe.example\n"
			    "S: 250-a\\x1b[31mb\n"
			    "S: 250 c\\x7cd\\x5ce\n");
	assert_null(strchr(strbuf_str(&t), '\x1b'));

	/* A command that does not fit is refused before anything is sent. */
	{
		char huge[2048];

		memset(huge, 'A', sizeof(huge) - 1);
		huge[sizeof(huge) - 1] = '\0';
		memset(&e, 0, sizeof(e));
		assert_int_equal(conn_command(p.c, huge, &r, "ehlo", &e), -1);
		assert_err(&e, ERR_INTERNAL, "ehlo", NULL);
		assert_int_equal(peer_recv(p.peer, got, sizeof(got), 50), 0);
	}
	smtp_reply_free(&r);
	pair_close(&p);
	strbuf_free(&t);
}

/* Without a transcript nothing is logged and nothing breaks. */
static void test_command_without_transcript(void **state)
{
	struct pair *p = *state;
	char got[16];
	struct smtp_reply r;
	struct probe_err e = { 0 };
	size_t n;

	struct responder rs = { p->peer, 6, "221 bye\r\n", "", 0 };
	pthread_t th;

	assert_int_equal(pthread_create(&th, NULL, respond, &rs), 0);
	smtp_reply_init(&r);
	assert_int_equal(conn_command(p->c, "QUIT", &r, "quit", &e), 0);
	pthread_join(th, NULL);
	assert_int_equal(r.code, 221);
	n = rs.n;
	memcpy(got, rs.got, n);
	assert_int_equal(n, 6);
	assert_memory_equal(got, "QUIT\r\n", 6);
	assert_int_equal(peer_recv(p->peer, got, sizeof(got), 50), 0);
	smtp_reply_free(&r);
}

/* A reply that was there before the command (a command answered twice,
 * capabilities pipelined with the greeting) is never taken as the answer:
 * the command is not sent, and the error says what happened before what. */
static void test_reply_nobody_asked_for(void **state)
{
	struct pair *p = *state;
	char got[16];
	struct smtp_reply r;
	struct probe_err e = { 0 };

	assert_int_equal(peer_send(p->peer, "250 2.1.0 ok\r\n", 14), 0);
	usleep(20000);
	smtp_reply_init(&r);
	assert_int_equal(conn_command(p->c, "RCPT TO:<a@example.net>", &r, "RCPT", &e), -1);
	assert_err(&e, ERR_PROTOCOL, "RCPT",
		   "14 bytes nobody asked for before RCPT (250 2.1.0 ok)");
	assert_int_equal(peer_recv(p->peer, got, sizeof(got), 50), 0); /* RCPT never sent */
	smtp_reply_free(&r);
}

/* An AF_UNIX end has no IP address: any defined answer, no crash. */
static void test_local_addr_unix(void **state)
{
	struct pair *p = *state;
	struct addr a;
	int rc;

	memset(&a, 0x55, sizeof(a));
	rc = conn_local_addr(p->c, &a);
	assert_true(rc == 0 || rc == -1);
	assert_non_null(memchr(a.text, '\0', sizeof(a.text)));
}

/* An adopted socket has no address to dial again, open or closed. */
static void test_reopen_adopted(void **state)
{
	struct pair *p = *state;
	struct probe_err e = { 0 };

	assert_null(conn_reopen(p->c, &e));
	assert_err(&e, ERR_INTERNAL, "connect", NULL);
	conn_close(p->c);
	memset(&e, 0, sizeof(e));
	assert_null(conn_reopen(p->c, &e));
	assert_int_equal(e.kind, ERR_INTERNAL);
}

/* The rest of the handle's surface on a plain connection. */
static void test_plain_accessors(void **state)
{
	struct pair *p = *state;
	struct probe_err e = { 0 };
	struct tls_facts f;
	int depth = 7;

	assert_ptr_equal(conn_deadline(p->c), &p->dl);
	assert_true(conn_started_us(p->c) > 0);
	assert_true(conn_started_us(p->c) <= mono_now_us());
	assert_int_equal(conn_pending(p->c), 0);
	/* No TLS context: STARTTLS cannot even begin, and says so. */
	memset(&f, 0, sizeof(f));
	assert_int_equal(conn_start_tls(p->c, NULL, NULL, TLS_WANT_ANY, &f, &e), -1);
	assert_int_equal(e.kind, ERR_INTERNAL);
	assert_int_equal(conn_tlsa_match(p->c, NULL, 0, &depth), -1);
	assert_int_equal(depth, -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reply_table),
		cmocka_unit_test_setup_teardown(test_reply_bytes_bounded, setup, teardown),
		cmocka_unit_test_setup_teardown(test_two_replies_one_write, setup, teardown),
		cmocka_unit_test_setup_teardown(test_silent_peer_times_out, setup, teardown),
		cmocka_unit_test_setup_teardown(test_drip_cannot_outlast_deadline, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_after_peer_closed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_peer_closes_during_write, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_times_out, setup, teardown),
		cmocka_unit_test_setup_teardown(test_use_after_close, setup, teardown),
		cmocka_unit_test(test_command_and_transcript),
		cmocka_unit_test_setup_teardown(test_reply_nobody_asked_for, setup, teardown),
		cmocka_unit_test_setup_teardown(test_command_without_transcript, setup, teardown),
		cmocka_unit_test_setup_teardown(test_local_addr_unix, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reopen_adopted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_plain_accessors, setup, teardown),
	};
	return cmocka_run_group_tests_name("conn", tests, NULL, NULL);
}
