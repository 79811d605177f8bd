/* conn.c - see conn.h */
#include "lib/conn.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/sanitize.h"

struct conn {
	int fd;			      /* -1 once closed */
	const struct tls_ops *tlsops; /* set with tls once TLS is up */
	struct tls_session *tls;
	const struct deadline *dl;
	struct strbuf *transcript;	  /* optional, not owned */
	struct tls_lazy *tlsl;		  /* the check's TLS context, made on first use */
	const struct addr *peer, *source; /* to reconnect; NULL when adopted */
	int64_t started_us;		  /* when connect() began */
	size_t start, len;		  /* unread bytes are buf[start..start+len) */
	char buf[SMTP_LINE_MAX + 2 + 2048];
};

struct conn *conn_adopt(int fd, const struct deadline *dl, struct tls_lazy *tls,
			struct strbuf *transcript)
{
	struct conn *c;
	int fl = fcntl(fd, F_GETFL);

	/* every wait is a poll() against the deadline: a blocking socket
	 * would ignore it */
	if (fl < 0 || (!(fl & O_NONBLOCK) && fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0))
		return NULL;
	c = malloc(sizeof(*c));
	if (c == NULL)
		return NULL;
	c->fd = fd;
	c->tlsops = NULL;
	c->tls = NULL;
	c->dl = dl;
	c->transcript = transcript;
	c->tlsl = tls;
	c->peer = c->source = NULL;
	c->started_us = mono_now_us();
	c->start = c->len = 0;
	return c;
}

struct conn *conn_open(const struct addr *a, const struct addr *source, const struct deadline *dl,
		       int budget_ms, struct tls_lazy *tls, struct strbuf *transcript,
		       struct probe_err *e)
{
	int64_t t0 = mono_now_us();
	int fd = net_connect(a, source, dl, budget_ms, e);
	struct conn *c;

	if (fd < 0)
		return NULL;
	c = conn_adopt(fd, dl, tls, transcript);
	if (c == NULL) {
		close(fd);
		err_set(e, ERR_INTERNAL, "connect", "out of memory");
		return NULL;
	}
	c->peer = a;
	c->source = source;
	c->started_us = t0;
	return c;
}

struct conn *conn_reopen(const struct conn *old, struct probe_err *e)
{
	if (old->peer == NULL) {
		err_set(e, ERR_INTERNAL, "connect", "no address to reconnect to");
		return NULL;
	}
	return conn_open(old->peer, old->source, old->dl, 0, old->tlsl, old->transcript, e);
}

void conn_set_transcript(struct conn *c, struct strbuf *transcript)
{
	c->transcript = transcript;
}

void conn_close(struct conn *c)
{
	if (c == NULL)
		return;
	if (c->tls)
		c->tlsops->close(c->tls);
	c->tls = NULL;
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	c->start = c->len = 0;
}

void conn_free(struct conn *c)
{
	conn_close(c);
	free(c);
}

size_t conn_pending(const struct conn *c)
{
	return c->len;
}

const struct deadline *conn_deadline(const struct conn *c)
{
	return c->dl;
}

const struct deadline *conn_set_deadline(struct conn *c, const struct deadline *dl)
{
	const struct deadline *old = c->dl;

	c->dl = dl;
	return old;
}

int64_t conn_started_us(const struct conn *c)
{
	return c->started_us;
}

int conn_local_addr(const struct conn *c, struct addr *out)
{
	memset(out, 0, sizeof(*out));
	out->len = sizeof(out->ss);
	if (c->fd < 0 || getsockname(c->fd, (struct sockaddr *)&out->ss, &out->len) < 0)
		return -1;
	addr_format(out);
	return 0;
}

static int addr_port(const struct sockaddr_storage *ss)
{
	return ntohs(ss->ss_family == AF_INET6 ? ((const struct sockaddr_in6 *)ss)->sin6_port
					       : ((const struct sockaddr_in *)ss)->sin_port);
}

int conn_send_proxy_header(struct conn *c, int version, struct probe_err *e)
{
	static const unsigned char sig[12] = { 0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D,
					       0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A };
	struct addr l = { .len = sizeof(l.ss) }, p = { .len = sizeof(p.ss) };
	unsigned char buf[128];
	size_t n;

	if (c->fd < 0 || getsockname(c->fd, (struct sockaddr *)&l.ss, &l.len) < 0 ||
	    getpeername(c->fd, (struct sockaddr *)&p.ss, &p.len) < 0)
		return err_set(e, ERR_IO, "PROXY", "cannot read socket addresses");
	if ((l.ss.ss_family != AF_INET && l.ss.ss_family != AF_INET6) ||
	    l.ss.ss_family != p.ss.ss_family)
		return err_set(e, ERR_INTERNAL, "PROXY",
			       "a PROXY header needs a TCP/IP connection");
	if (version == 1) {
		addr_format(&l);
		addr_format(&p);
		n = (size_t)snprintf((char *)buf, sizeof(buf), "PROXY %s %s %s %d %d\r\n",
				     l.ss.ss_family == AF_INET6 ? "TCP6" : "TCP4", l.text, p.text,
				     addr_port(&l.ss), addr_port(&p.ss));
		return conn_write(c, buf, n, "PROXY", e);
	}
	memcpy(buf, sig, 12);
	buf[12] = 0x21; /* version 2, PROXY command */
	if (l.ss.ss_family == AF_INET) {
		const struct sockaddr_in *ls = (const void *)&l.ss, *ps = (const void *)&p.ss;

		buf[13] = 0x11; /* TCP over IPv4 */
		buf[14] = 0, buf[15] = 12;
		memcpy(buf + 16, &ls->sin_addr, 4);
		memcpy(buf + 20, &ps->sin_addr, 4);
		memcpy(buf + 24, &ls->sin_port, 2);
		memcpy(buf + 26, &ps->sin_port, 2);
		n = 28;
	} else {
		const struct sockaddr_in6 *ls = (const void *)&l.ss, *ps = (const void *)&p.ss;

		buf[13] = 0x21; /* TCP over IPv6 */
		buf[14] = 0, buf[15] = 36;
		memcpy(buf + 16, &ls->sin6_addr, 16);
		memcpy(buf + 32, &ps->sin6_addr, 16);
		memcpy(buf + 48, &ls->sin6_port, 2);
		memcpy(buf + 50, &ps->sin6_port, 2);
		n = 52;
	}
	return conn_write(c, buf, n, "PROXY", e);
}

int conn_start_tls(struct conn *c, const char *sni, const char *verify_name, enum tls_want want,
		   struct tls_facts *f, struct probe_err *e)
{
	struct tls_session *s;

	if (c->tlsl == NULL || tls_lazy_get(c->tlsl) < 0)
		return err_set(e, ERR_INTERNAL, "", "%s",
			       c->tlsl ? c->tlsl->why : "no TLS context for this connection");
	if (c->fd < 0)
		return err_set(e, ERR_CLOSED, "handshake", "connection already closed");
	s = c->tlsl->ops->handshake(c->tlsl->ctx, c->fd, sni, verify_name, want, c->dl, e);
	if (s == NULL)
		return -1;
	c->tlsops = c->tlsl->ops;
	c->tls = s;
	c->tlsops->facts(s, f);
	return 0;
}

int conn_tlsa_match(const struct conn *c, const struct tlsa *t, int n, int *depth)
{
	*depth = -1;
	if (c->tls == NULL)
		return -1;
	return c->tlsops->tlsa_match(c->tls, t, n, depth);
}

static void log_line(struct conn *c, const char *dir, const char *s, size_t n)
{
	char clean[512];

	if (c->transcript == NULL)
		return;
	sanitize(clean, sizeof(clean), s, n, 400);
	strbuf_printf(c->transcript, "%s %s\n", dir, clean);
}

static int timeout_err(struct conn *c, const char *stage, struct probe_err *e, const char *what)
{
	return err_set(e, ERR_TIMEOUT, stage, "timeout after %.1fs %s", deadline_elapsed(c->dl),
		       what);
}

int conn_write(struct conn *c, const void *data, size_t len, const char *stage, struct probe_err *e)
{
	const char *p = data;

	if (c->fd < 0)
		return err_set(e, ERR_CLOSED, stage, "connection already closed");
	if (c->tls)
		return c->tlsops->write(c->tls, data, len, c->dl, stage, e);
	while (len > 0) {
		ssize_t n = send(c->fd, p, len, MSG_NOSIGNAL);

		if (n > 0) {
			p += n;
			len -= (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			int rc = net_wait(c->fd, POLLOUT, c->dl);

			if (rc == 0)
				return timeout_err(c, stage, e, "sending");
			if (rc < 0)
				return err_set(e, ERR_IO, stage, "poll: %s", strerror(errno));
			continue;
		}
		if (errno == EPIPE || errno == ECONNRESET)
			return err_set(e, ERR_CLOSED, stage,
				       "connection closed by the server while sending");
		return err_set(e, ERR_IO, stage, "send: %s", strerror(errno));
	}
	return 0;
}

/* Read more bytes into the buffer; 1 read, 0 on EOF, -1 with e. */
static int fill(struct conn *c, const char *stage, struct probe_err *e)
{
	if (c->start > 0) {
		memmove(c->buf, c->buf + c->start, c->len);
		c->start = 0;
	}
	if (c->fd < 0)
		return err_set(e, ERR_CLOSED, stage, "connection already closed");
	if (c->tls) {
		ssize_t n = c->tlsops->read(c->tls, c->buf + c->len, sizeof(c->buf) - c->len, c->dl,
					    stage, e);

		if (n > 0)
			c->len += (size_t)n;
		return n > 0 ? 1 : (int)n;
	}
	for (;;) {
		ssize_t n = recv(c->fd, c->buf + c->len, sizeof(c->buf) - c->len, 0);

		if (n > 0) {
			c->len += (size_t)n;
			return 1;
		}
		if (n == 0)
			return 0;
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK) {
			int rc = net_wait(c->fd, POLLIN, c->dl);

			if (rc == 0)
				return timeout_err(c, stage, e, "waiting for the server's reply");
			if (rc < 0)
				return err_set(e, ERR_IO, stage, "poll: %s", strerror(errno));
			continue;
		}
		if (errno == ECONNRESET)
			return err_set(e, ERR_CLOSED, stage, "connection reset by the server");
		return err_set(e, ERR_IO, stage, "recv: %s", strerror(errno));
	}
}

int conn_read_reply(struct conn *c, struct smtp_reply *r, const char *stage, struct probe_err *e)
{
	char why[128];

	smtp_reply_reset(r);
	for (;;) {
		size_t ll, tl;
		int rc = smtp_next_line(c->buf + c->start, c->len, &ll, &tl);

		if (rc < 0) {
			log_line(c, "S:", c->buf + c->start, 80);
			return err_set(e, ERR_PROTOCOL, stage,
				       "malformed reply: line longer than %d bytes", SMTP_LINE_MAX);
		}
		if (rc == 0) {
			rc = fill(c, stage, e);
			if (rc < 0)
				return -1;
			if (rc == 0)
				return err_set(
					e, ERR_CLOSED, stage,
					r->nlines
						? "connection closed by the server in the middle of a reply"
						: "connection closed by the server");
			continue;
		}
		log_line(c, "S:", c->buf + c->start, ll);
		rc = smtp_reply_add_line(r, c->buf + c->start, ll, tl, why, sizeof(why));
		c->start += ll + tl;
		c->len -= ll + tl;
		if (rc < 0)
			return err_set(e, ERR_PROTOCOL, stage, "malformed reply: %s", why);
		if (rc > 0)
			return 0;
	}
}

/* Before a command, nothing may be waiting: a reply nobody asked for (a
 * command answered twice, capabilities pipelined with the greeting) would
 * be read as the answer to this command and the dialogue would run one
 * reply behind, judging the wrong answers.  What is buffered, and what a
 * read that does not wait finds, is a protocol error. */
static int unsolicited(struct conn *c, const char *cmd, const char *stage, struct probe_err *e)
{
	struct deadline now = { .start_us = c->dl->start_us, .at_us = 0 };
	const struct deadline *saved = c->dl;
	struct probe_err ignored;
	const char *p;
	char first[80];
	size_t n, line = 0;

	if (c->len == 0 && c->fd >= 0) {
		c->dl = &now;
		fill(c, stage, &ignored);
		c->dl = saved;
	}
	if (c->len == 0)
		return 0;
	p = c->buf + c->start;
	while (line < c->len && p[line] != '\r' && p[line] != '\n')
		line++;
	sanitize(first, sizeof(first), p, line, 60);
	n = strcspn(cmd, " ");
	return err_set(e, ERR_PROTOCOL, stage,
		       "the server sent %zu bytes nobody asked for before %.*s (%s)", c->len,
		       (int)n, cmd, first);
}

int conn_command(struct conn *c, const char *cmd, struct smtp_reply *r, const char *stage,
		 struct probe_err *e)
{
	char line[1024];
	int n = snprintf(line, sizeof(line), "%s\r\n", cmd);

	if (n < 0 || (size_t)n >= sizeof(line))
		return err_set(e, ERR_INTERNAL, stage, "command too long");
	if (unsolicited(c, cmd, stage, e) < 0)
		return -1;
	log_line(c, "C:", cmd, strlen(cmd));
	if (conn_write(c, line, (size_t)n, stage, e) < 0)
		return -1;
	return conn_read_reply(c, r, stage, e);
}
