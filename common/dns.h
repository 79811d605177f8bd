/* dns.h - name resolution through c-ares, driven by poll() under the check's
 * deadline (no blocking resolver call anywhere).  One channel per call, no
 * global state beyond dns_global_init(). */
#ifndef MTAPROBE_DNS_H
#define MTAPROBE_DNS_H

#include "deadline.h"
#include "err.h"
#include "net.h"

/* Process-wide c-ares initialisation: call once from main() before any
 * thread starts, and dns_global_cleanup() at exit. */
int dns_global_init(void);
void dns_global_cleanup(void);

/* Resolve host (a name or an IP literal) for TCP port into out, in the
 * resolver's order.  family: AF_UNSPEC, AF_INET or AF_INET6.  servers:
 * NULL (resolv.conf) or "IP[:PORT][,...]" as for --dns-server.  Literals are
 * parsed without touching c-ares.  Returns 0, or -1 with e (ERR_RESOLVE,
 * ERR_TIMEOUT). */
int dns_resolve(const char *host, int port, int family, const char *servers,
		const struct deadline *dl, struct addr_list *out, struct probe_err *e);

/* Check a --dns-server value without resolving anything: 0 or -1. */
int dns_servers_valid(const char *servers);

#endif
