/* session.h - the SMTP steps the checks share: greeting, EHLO (HELO
 * fallback), STARTTLS and the TLS handshake, QUIT, reconnecting.  Each
 * records what it found on the check's result, failures included. */
#ifndef MTAPROBE_SESSION_H
#define MTAPROBE_SESSION_H

#include <stddef.h>

#include "checks/check.h"
#include "lib/conn.h"
#include "lib/result.h"
#include "lib/smtp.h"
#include "lib/tls.h"

/* Read the greeting into rep; records the facts on r.  Returns 0 for a 220,
 * 1 for another code (CRITICAL recorded, QUIT sent where due), -1 on
 * failure (recorded). */
int check_greeting(const struct check_cfg *cfg, struct conn *c, struct result *r,
		   struct smtp_reply *rep);

/* EHLO, or HELO after a 5xx.  Returns 1 with caps after EHLO, 0 when only
 * HELO worked or both were refused (WARNING recorded), -1 on failure. */
int check_ehlo(const struct check_cfg *cfg, struct conn *c, struct result *r,
	       struct smtp_reply *rep, struct smtp_caps *caps);

/* TLS handshake on c (implicit TLS or after STARTTLS), facts into *f, the
 * time into r->t.handshake.  want: which certificate type to ask for.
 * 0, or -1 with the failure recorded on r. */
int check_handshake(const struct check_cfg *cfg, struct conn *c, struct result *r,
		    enum tls_want want, struct tls_facts *f);

/* Greeting, EHLO, STARTTLS (must be advertised and answered 220, with
 * nothing pipelined after it), handshake; or just the handshake on implicit
 * TLS.  0 when TLS is up, -1 with the failure recorded. */
int check_tls_session(const struct check_cfg *cfg, struct conn *c, struct result *r,
		      enum tls_want want, struct tls_facts *f);

/* STARTTLS on a session that advertised it (rep is scratch): 220, nothing
 * pipelined behind it, the handshake.  0 when TLS is up, -1 with the
 * failure recorded.  EHLO over TLS is the caller's. */
int check_starttls_upgrade(const struct check_cfg *cfg, struct conn *c, struct result *r,
			   struct smtp_reply *rep, enum tls_want want, struct tls_facts *f);

/* A new connection to old's address (PROXY header included), under the
 * same deadline, sharing its TLS context; the caller frees it.  NULL when
 * the server cannot be reached again. */
struct conn *check_reconnect(const struct check_cfg *cfg, const struct conn *old);

/* -v lines describing a TLS session and its chain. */
void check_tls_detail(struct result *r, const struct tls_facts *f);

/* Send QUIT and wait briefly (at most 1 s, never past the deadline) for the
 * reply; failures are ignored, the check's verdict is already made, except
 * a reply nobody asked for waiting before QUIT (CRITICAL on r). */
void check_quit(struct conn *c, struct smtp_reply *rep, struct result *r);

#endif
