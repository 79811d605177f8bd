/* err.h - what went wrong in a probe, as data.
 *
 * The library never prints or exits: it returns -1 and fills a struct
 * probe_err; a check's result carries the failure it ended on, and the
 * checks map its kind to a Nagios state (check_err_state). */
#ifndef MTAPROBE_ERR_H
#define MTAPROBE_ERR_H

enum err_kind {
	ERR_NONE = 0,
	ERR_INTERNAL, /* out of memory, bad arguments from our own code */
	ERR_RESOLVE,  /* name does not resolve, DNS failure */
	ERR_CONNECT,  /* refused, unreachable, reset while connecting */
	ERR_TIMEOUT,  /* the check's deadline passed */
	ERR_CLOSED,   /* the server closed or reset the connection */
	ERR_IO,	      /* other socket error */
	ERR_PROTOCOL, /* malformed or overlong reply, bytes nobody asked for */
	ERR_REJECTED, /* a well-formed reply refusing a step (554 greeting, no STARTTLS) */
	ERR_TLS,      /* the TLS handshake or a TLS record failed */
	ERR_VERIFY,   /* the certificate (chain, name, dates, DANE) does not hold */
	ERR_CONFIG,   /* the runner's configuration or output cannot be used */
};

struct probe_err {
	enum err_kind kind;
	char stage[16]; /* "dns", "connect", "banner", "ehlo", ... */
	char msg[512];	/* full sentence fragment, already sanitised */
};

/* Fill e (if not NULL) with kind, stage and a printf-style message; returns -1. */
int err_set(struct probe_err *e, enum err_kind kind, const char *stage, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* A short word for a kind, for metrics and JSON: timeout, refused (connect
 * or a step), reset, protocol, tls, verify, dns, internal, config. */
const char *err_kind_name(enum err_kind kind);

#endif
