/* sts.h - MTA-STS (RFC 8461) and TLS-RPT (RFC 8460) records and policies
 * as bytes: pure functions, bounded, for unit tests and fuzzing.  Every
 * input is the outside world's (a TXT record, an HTTPS body); nothing here
 * prints, and the texts set in why are already safe to print. */
#ifndef MTAPROBE_STS_H
#define MTAPROBE_STS_H

#include <stdbool.h>
#include <stddef.h>

#define STS_ID_MAX	32
#define STS_MX_MAX	32
#define STS_MAX_AGE_MAX 31557600L /* RFC 8461 §3.2: about a year */
#define STS_POLICY_MAX	65536	  /* §3.3: senders may refuse a larger policy */
#define STS_PATTERN_MAX 256

enum sts_mode { STS_MODE_UNSET = 0, STS_ENFORCE, STS_TESTING, STS_NONE };

struct sts_policy {
	enum sts_mode mode;
	long max_age; /* -1 until given */
	int nmx;      /* patterns kept (at most STS_MX_MAX) */
	int mx_total; /* mx: lines seen */
	char mx[STS_MX_MAX][STS_PATTERN_MAX];
};

/* "enforce", "testing", "none", or "?" */
const char *sts_mode_name(enum sts_mode m);

/* A TXT record at _mta-sts.DOMAIN (RFC 8461 §3.1).  Returns 0 when it is
 * not an STSv1 record at all (senders ignore it), 1 for a valid one with
 * its id, -1 for an STSv1 record that is invalid (why says how). */
int sts_txt_parse(const char *txt, size_t len, char *id, size_t id_size, char *why, size_t why_len);

/* The policy body (§3.2): "key: value" lines ended by CRLF or LF, version
 * STSv1, mode, max_age, mx (at least one unless mode is none); unknown keys
 * are ignored.  0, or -1 with why naming the field or line. */
int sts_policy_parse(const char *buf, size_t len, struct sts_policy *p, char *why, size_t why_len);

/* §4.1: does MX host name host match the policy's mx pattern?  Exact, or
 * "*.example.net" standing for exactly one leftmost label; any case; a
 * trailing dot on either is ignored. */
bool sts_mx_match(const char *pattern, const char *host);

/* A TXT record at _smtp._tls.DOMAIN (RFC 8460 §3).  0 when it is not a
 * TLSRPTv1 record, 1 for a valid one (its rua URIs, comma-separated, into
 * rua), -1 for an invalid one (why). */
int tlsrpt_txt_parse(const char *txt, size_t len, char *rua, size_t rua_size, char *why,
		     size_t why_len);

#endif
