/* conn.h - one connection to a server: fd, bounded line reader, timed writes,
 * all under the check's deadline.  A later TLS layer plugs in below the
 * read/write calls here, so everything above stays the same. */
#ifndef MTAPROBE_CONN_H
#define MTAPROBE_CONN_H

#include <stddef.h>
#include <stdint.h>

#include "lib/deadline.h"
#include "lib/err.h"
#include "lib/smtp.h"
#include "lib/strbuf.h"
#include "lib/net.h"
#include "lib/tls.h"

struct conn {
	int fd;
	const struct tls_ops *tlsops;	/* set with tls once TLS is up */
	struct tls_session *tls;
	const struct deadline *dl;
	struct strbuf *transcript;	/* optional, not owned: "S: "/"C: " lines */
	struct tls_lazy *tlsl;		/* the run's TLS context, made on first use */
	const struct addr *peer, *source;	/* this connection, to reconnect */
	int64_t connect_start_us;	/* when connect() began, for timings */
	size_t start, len;		/* unread bytes are buf[start..start+len) */
	char buf[SMTP_LINE_MAX + 2 + 2048];
};

struct tls_lazy;

/* Take over a connected fd (closed by conn_close, TLS session included). */
void conn_init(struct conn *c, int fd, const struct deadline *dl, struct strbuf *transcript);
void conn_close(struct conn *c);

/* Write all of data before the deadline.  Returns 0 or -1 with e. */
int conn_write(struct conn *c, const void *data, size_t len, const char *stage,
	       struct probe_err *e);

/* Read one whole SMTP reply into r (reset first).  Returns 0, or -1 with e:
 * ERR_TIMEOUT, ERR_CLOSED, ERR_IO, ERR_PROTOCOL (malformed / over limits). */
int conn_read_reply(struct conn *c, struct smtp_reply *r, const char *stage,
		    struct probe_err *e);

/* Send "cmd\r\n" and read the reply. */
int conn_command(struct conn *c, const char *cmd, struct smtp_reply *r,
		 const char *stage, struct probe_err *e);

/* From now on, read and write through the TLS session s (owned by c). */
void conn_use_tls(struct conn *c, const struct tls_ops *ops, struct tls_session *s);

/* Bytes received but not yet consumed (e.g. pipelined after a reply). */
static inline size_t conn_pending(const struct conn *c) { return c->len; }

#endif
