/* net.h - addresses and non-blocking connect under a deadline. */
#ifndef MTAPROBE_NET_H
#define MTAPROBE_NET_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include "lib/deadline.h"
#include "lib/err.h"

struct addr {
	struct sockaddr_storage ss;
	socklen_t len;
	char text[48]; /* numeric form, no brackets, no port */
};

#define ADDR_LIST_MAX 32

struct addr_list {
	size_t n;     /* kept, at most ADDR_LIST_MAX */
	size_t total; /* found (what n may be of) */
	struct addr v[ADDR_LIST_MAX];
};

/* Parse a numeric IPv4/IPv6 literal ("192.0.2.1", "::1", "[::1]") with port
 * into a.  Returns 0, or -1 if s is not a literal. */
int addr_from_literal(const char *s, int port, struct addr *a);

/* Fill a->text from a->ss. */
void addr_format(struct addr *a);

/* "host[addr]:port" (or "[addr]:port" / "addr:port" when host is the
 * literal itself) into out. */
void addr_target(char *out, size_t out_size, const char *host, const struct addr *a, int port);

/* Connect a non-blocking, close-on-exec TCP socket to a, optionally bound to
 * source (NULL: any), waiting at most budget_ms and never past dl.  Returns
 * the connected fd, or -1 with e filled (ERR_CONNECT, ERR_TIMEOUT). */
int net_connect(const struct addr *a, const struct addr *source, const struct deadline *dl,
		int budget_ms, struct probe_err *e);

/* Wait until fd is readable (events POLLIN) or writable (POLLOUT) before the
 * deadline.  Returns 1 ready, 0 deadline reached, -1 poll error. */
int net_wait(int fd, short events, const struct deadline *dl);

#endif
