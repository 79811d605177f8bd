/* dns.h - name resolution through c-ares, driven by poll() under the check's
 * deadline (no blocking resolver call anywhere).  One channel per call, no
 * global state beyond dns_global_init(). */
#ifndef MTAPROBE_DNS_H
#define MTAPROBE_DNS_H

#include "lib/deadline.h"
#include "lib/err.h"
#include "lib/dnsmsg.h"
#include "lib/net.h"

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

/* Resolve n names at once on one channel (all queries in flight together)
 * into out[i] (each an addr_list; errs[i] set for those that failed; an
 * empty name, one refused as invalid, fails without a query).  Returns how
 * many resolved. */
int dns_resolve_many(const char *const *names, size_t n, int port, int family, const char *servers,
		     const struct deadline *dl, struct addr_list *out, struct probe_err *errs);

/* One raw query for name/type, with the AD bit set so the resolver says
 * whether it validated (RFC 6840 §5.7).  The answer's bytes land in buf
 * (cap bytes) and are parsed into m (which points into buf).  Returns 0 --
 * the rcode (NXDOMAIN...) is m's to tell -- or -1 with e (timeout, no
 * server answered, malformed answer). */
int dns_query(const char *name, uint16_t type, const char *servers, const struct deadline *dl,
	      uint8_t *buf, size_t cap, struct dns_msg *m, struct probe_err *e);

#define MX_MAX 16
struct mx_set {
	int n;	   /* kept: the MX_MAX most preferred */
	int total; /* MX records in the answer (what n may be of) */
	struct {
		uint16_t pref;
		bool bad; /* the name is not a valid host name: name is "" */
		char name[DNS_NAME_MAX];
	} host[MX_MAX];
	bool null_mx;  /* RFC 7505 "0 .": the domain accepts no mail */
	bool implicit; /* no MX: the domain itself (RFC 5321 §5.1) */
	bool ad;       /* the answer was DNSSEC-authenticated */
};

/* The MX set of domain: every record sorted by preference, then the
 * MX_MAX most preferred kept.  0, or -1 with e (NXDOMAIN, SERVFAIL,
 * timeout). */
int dns_mx(const char *domain, const char *servers, const struct deadline *dl, struct mx_set *mx,
	   struct probe_err *e);

/* The TXT records at name (MTA-STS, TLS-RPT), each its character-strings
 * joined; the bytes are the server's (print them sanitised).  A name that
 * does not exist, or has no TXT, is n == 0 and not an error. */
#define TXT_MAX	     8
#define TXT_TEXT_MAX 1024
struct txt_set {
	int n;	   /* kept: the first TXT_MAX that fit */
	int total; /* TXT records in the answer */
	struct {
		size_t len;
		char text[TXT_TEXT_MAX];
	} rec[TXT_MAX];
};
/* 0, or -1 with e (SERVFAIL, timeout). */
int dns_txt(const char *name, const char *servers, const struct deadline *dl, struct txt_set *out,
	    struct probe_err *e);

#endif
