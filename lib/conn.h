/* conn.h - one connection to a server: the socket, a bounded line reader,
 * timed writes and, once upgraded, TLS underneath them, all under the
 * check's deadline.  The handle is opaque: callers speak SMTP through
 * conn_command() and never see the socket or the TLS session. */
#ifndef MTAPROBE_CONN_H
#define MTAPROBE_CONN_H

#include <stddef.h>
#include <stdint.h>

#include "lib/deadline.h"
#include "lib/err.h"
#include "lib/net.h"
#include "lib/smtp.h"
#include "lib/strbuf.h"
#include "lib/tls.h"
#include "lib/tls_lazy.h"

struct conn;

/* Connect to a (from source, NULL: any) under dl, waiting at most budget_ms
 * (0: until dl).  tls is the check's TLS context, used on conn_start_tls()
 * (may be NULL when no TLS will be done); transcript (may be NULL) gets
 * "S: "/"C: " lines.  a, source, dl, tls and transcript are not owned and
 * must outlive the connection.  NULL with e (ERR_CONNECT, ERR_TIMEOUT,
 * ERR_INTERNAL). */
struct conn *conn_open(const struct addr *a, const struct addr *source, const struct deadline *dl,
		       int budget_ms, struct tls_lazy *tls, struct strbuf *transcript,
		       struct probe_err *e);

/* A new connection to old's peer with old's deadline, TLS context and
 * transcript (old may already be closed).  NULL with e. */
struct conn *conn_reopen(const struct conn *old, struct probe_err *e);

/* Take over a connected socket fd (tests, and sockets made elsewhere); it
 * is made non-blocking.  NULL when out of memory or fd is not usable. */
struct conn *conn_adopt(int fd, const struct deadline *dl, struct tls_lazy *tls,
			struct strbuf *transcript);

/* End the connection (TLS close_notify without waiting, close the socket);
 * the handle stays valid for conn_reopen() and conn_free().  Idempotent. */
void conn_close(struct conn *c);

/* Close if open, and free; NULL is fine. */
void conn_free(struct conn *c);

/* Write all of data before the deadline.  0, or -1 with e (ERR_CLOSED when
 * the peer is gone or the connection was closed, ERR_TIMEOUT, ERR_IO). */
/* Stop (NULL) or redirect the transcript: a connection of its own thread
 * must not write into another's. */
void conn_set_transcript(struct conn *c, struct strbuf *transcript);

int conn_write(struct conn *c, const void *data, size_t len, const char *stage,
	       struct probe_err *e);

/* Read one whole SMTP reply into r (reset first).  Returns 0, or -1 with e:
 * ERR_TIMEOUT, ERR_CLOSED, ERR_IO, ERR_PROTOCOL (malformed / over limits). */
int conn_read_reply(struct conn *c, struct smtp_reply *r, const char *stage, struct probe_err *e);

/* Send "cmd\r\n" and read the reply. */
int conn_command(struct conn *c, const char *cmd, struct smtp_reply *r, const char *stage,
		 struct probe_err *e);

/* Bytes received but not yet consumed (e.g. pipelined after a reply). */
size_t conn_pending(const struct conn *c);

/* The deadline the connection works under, and a replacement for it (for a
 * step that must end sooner, such as QUIT); returns the previous one. */
const struct deadline *conn_deadline(const struct conn *c);
const struct deadline *conn_set_deadline(struct conn *c, const struct deadline *dl);

/* Monotonic time (mono_now_us) when the connect began, for timings. */
int64_t conn_started_us(const struct conn *c);

/* Our end of the connection; 0 or -1. */
int conn_local_addr(const struct conn *c, struct addr *out);

/* A PROXY protocol header (HAProxy's proxy-protocol.txt, version 1 text or
 * 2 binary) describing this connection, sent before anything else. */
int conn_send_proxy_header(struct conn *c, int version, struct probe_err *e);

/* TLS on the connection from now on: the handshake under the deadline with
 * sni (NULL: none), the certificate verified against verify_name (NULL:
 * chain only), only certificates of type want; the session's facts into f.
 * 0, or -1 with e (ERR_INTERNAL when TLS cannot be set up at all). */
int conn_start_tls(struct conn *c, const char *sni, const char *verify_name, enum tls_want want,
		   struct tls_facts *f, struct probe_err *e);

/* DANE: the index of the first of the n TLSA records that matches the
 * peer's chain (*depth: 0 the leaf, more an issuer), or -1 (no TLS yet, or
 * no match); see tls_ops.tlsa_match. */
int conn_tlsa_match(const struct conn *c, const struct tlsa *t, int n, int *depth);

#endif
