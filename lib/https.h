/* https.h - one HTTPS GET under the check's deadline, with libcurl (its
 * multi interface driven by our own poll loop): to the addresses we
 * resolved ourselves (so --dns-server holds), PKIX-verified for the host
 * name with our trust options, no redirect followed, no proxy, the body
 * capped.  Only check_mta_sts and the runner link it (and libcurl). */
#ifndef MTAPROBE_HTTPS_H
#define MTAPROBE_HTTPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/deadline.h"
#include "lib/err.h"
#include "lib/net.h"

struct https_result {
	int status;		/* HTTP status; 0 when none came */
	char content_type[128]; /* sanitised; "" when none */
	char location[256];	/* a redirect's Location, sanitised */
	char *body;		/* malloc'd, NUL-terminated (the bytes may hold NULs) */
	size_t len;
	bool too_large;			  /* more than max_bytes came (or were announced) */
	double connect, handshake, total; /* seconds */
	bool have_cert;			  /* the leaf's dates were read */
	int64_t not_after;		  /* Unix time */
	char subject[256], issuer[256];	  /* the leaf's, one-line, sanitised */
};

/* GET https://host[:port]path from one of addrs (tried in order).  ca_file,
 * ca_path: trust anchors, NULL for the system's.  0 when an HTTP response
 * came (any status: the caller judges it, and res->too_large), or -1 with e:
 * ERR_TIMEOUT, ERR_CONNECT, ERR_TLS, ERR_VERIFY (the certificate; e->msg has
 * the reason), ERR_PROTOCOL, ERR_INTERNAL. */
int https_get(const char *host, int port, const char *path, const struct addr_list *addrs,
	      const char *ca_file, const char *ca_path, size_t max_bytes, const struct deadline *dl,
	      struct https_result *res, struct probe_err *e);

void https_result_free(struct https_result *res);

#endif
