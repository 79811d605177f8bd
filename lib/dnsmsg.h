/* dnsmsg.h - DNS messages as bytes (RFC 1035 §4): building a query and
 * parsing an answer, pure functions, bounded and loop-safe, so that they can
 * be unit-tested and fuzzed.  c-ares 1.18 only moves the bytes; it has no
 * TLSA parser and does not expose the AD bit. */
#ifndef MTAPROBE_DNSMSG_H
#define MTAPROBE_DNSMSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DNS_T_A	   1
#define DNS_T_PTR  12
#define DNS_T_MX   15
#define DNS_T_TXT  16
#define DNS_T_AAAA 28
#define DNS_T_OPT  41
#define DNS_T_TLSA 52

#define DNS_RCODE_NOERROR  0
#define DNS_RCODE_SERVFAIL 2
#define DNS_RCODE_NXDOMAIN 3

#define DNS_MAX_ANSWERS 64
#define DNS_NAME_MAX	256 /* text form with dots, no trailing dot, NUL */

struct dns_rr {
	char name[DNS_NAME_MAX];
	uint16_t type, cls;
	uint32_t ttl;
	uint16_t rdlen;
	size_t rdoff; /* offset of the RDATA in the message */
};

struct dns_msg {
	const uint8_t *buf; /* not owned; must outlive the struct */
	size_t len;
	uint16_t id;
	bool qr, tc, ad; /* response, truncated, authenticated data */
	int rcode;
	int nanswers; /* answer-section records kept */
	struct dns_rr answers[DNS_MAX_ANSWERS];
};

/* Parse a whole message.  Returns 0, or -1 with why (truncated, a malformed
 * name or one that is not a valid host name, RDATA past the end...). */
int dns_msg_parse(const uint8_t *buf, size_t len, struct dns_msg *m, char *why, size_t why_len);

/* Records of the answer section, decoded; each returns 0, -1 (malformed or
 * of another type) or -2: the name in it holds bytes no host name may
 * (anything but letters, digits, '-' and '_' in a label), so it is not
 * used, or printed, at all ("" in the buffer). */
int dns_rr_mx(const struct dns_msg *m, const struct dns_rr *rr, uint16_t *pref, char *host,
	      size_t host_size);
int dns_rr_ptr(const struct dns_msg *m, const struct dns_rr *rr, char *name, size_t name_size);

#define TLSA_DATA_MAX 1024
struct tlsa {
	uint8_t usage, selector, mtype;
	uint16_t len;
	uint8_t data[TLSA_DATA_MAX];
};
int dns_rr_tlsa(const struct dns_msg *m, const struct dns_rr *rr, struct tlsa *t);

/* A TXT record: its character-strings joined (RFC 7208 §3.3, RFC 8461
 * §3.1: a long record may be split) into out, NUL-terminated, *len bytes.
 * The bytes are the server's: any value, NUL included.  0, or -1 when
 * malformed, of another type, or longer than out_size - 1. */
int dns_rr_txt(const struct dns_msg *m, const struct dns_rr *rr, char *out, size_t out_size,
	       size_t *len);

/* A query for name/type with RD set; ad sets the AD bit (RFC 6840 §5.7: ask
 * the resolver to say whether it validated).  Returns the length, or 0 if
 * name is not a valid domain name or out is too small. */
size_t dns_query_build(uint8_t *out, size_t out_size, uint16_t id, const char *name, uint16_t type,
		       bool ad);

/* "4.3.2.1.in-addr.arpa" / nibbles ".ip6.arpa" for an address in text
 * form; 0 or -1. */
int dns_reverse_name(const char *addr, char *out, size_t out_size);

#ifdef MTAPROBE_UNITTEST
/* Read the (possibly compressed) name at off into out (lower case, no
 * trailing dot, "" for the root).  Compression pointers must point strictly
 * backwards, so no loop is possible; labels over 63 and names over 255
 * bytes are errors.  *next is the offset after the name as written there.
 * Returns 0, -1 (malformed), or -2 when a label holds a byte other than a
 * letter, digit, '-' or '_' (out is then ""). */
int dns_name_read(const uint8_t *buf, size_t len, size_t off, char *out, size_t out_size,
		  size_t *next);
#endif

#endif
