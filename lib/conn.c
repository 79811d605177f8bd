/* conn.c - see conn.h */
#include "lib/conn.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/net.h"
#include "lib/sanitize.h"

void conn_init(struct conn *c, int fd, const struct deadline *dl, struct strbuf *transcript)
{
	c->fd = fd;
	c->tlsops = NULL;
	c->tls = NULL;
	c->dl = dl;
	c->transcript = transcript;
	c->start = c->len = 0;
}

void conn_use_tls(struct conn *c, const struct tls_ops *ops, struct tls_session *s)
{
	c->tlsops = ops;
	c->tls = s;
}

void conn_close(struct conn *c)
{
	if (c->tls)
		c->tlsops->close(c->tls);
	c->tls = NULL;
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
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
	return err_set(e, ERR_TIMEOUT, stage, "timeout after %.1fs %s",
		       deadline_elapsed(c->dl), what);
}

int conn_write(struct conn *c, const void *data, size_t len, const char *stage,
	       struct probe_err *e)
{
	const char *p = data;

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
			return err_set(e, ERR_CLOSED, stage, "connection closed by the server while sending");
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

int conn_read_reply(struct conn *c, struct smtp_reply *r, const char *stage,
		    struct probe_err *e)
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
				return err_set(e, ERR_CLOSED, stage, r->nlines
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

int conn_command(struct conn *c, const char *cmd, struct smtp_reply *r,
		 const char *stage, struct probe_err *e)
{
	char line[1024];
	int n = snprintf(line, sizeof(line), "%s\r\n", cmd);

	if (n < 0 || (size_t)n >= sizeof(line))
		return err_set(e, ERR_INTERNAL, stage, "command too long");
	log_line(c, "C:", cmd, strlen(cmd));
	if (conn_write(c, line, (size_t)n, stage, e) < 0)
		return -1;
	return conn_read_reply(c, r, stage, e);
}
