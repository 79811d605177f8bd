/* fuzz_dnsmsg.c - libFuzzer target: a DNS answer as a resolver (or anyone
 * on the path) may send it, through dns_msg_parse and the MX, PTR and TLSA
 * decoders of every answer kept; the same bytes as a name for
 * dns_query_build (whose output must parse back as a question) and as an
 * address for dns_reverse_name.  Invariants: names handed out are host
 * names (dnsmsg.h), a refused one (-2) is "", RDATA lies inside the
 * message.  tests/fuzz.sh runs it. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/dnsmsg.h"

/* An invariant does not hold: say where (the condition is the "if" just
 * above that line), then abort, which libFuzzer reports as a crash. */
#define BROKEN() (fprintf(stderr, "fuzz: invariant broken at %s:%d\n", __FILE__, __LINE__), abort())

static bool host_byte(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '_' || c == '.';
}

/* A name as the parser hands it out: NUL-terminated in its buffer, and
 * (dnsmsg.h) only lower-case letters, digits, '-', '_' and the dots between
 * labels. */
static void check_name(const char *s, size_t size)
{
	const char *end = memchr(s, '\0', size);

	if (end == NULL)
		BROKEN();
	for (; s < end; s++)
		if (!host_byte(*s) || (*s >= 'A' && *s <= 'Z'))
			BROKEN();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dns_msg *m = malloc(sizeof(*m));
	char why[128], host[DNS_NAME_MAX], small[8];
	uint8_t q[512];
	char *name;
	size_t qlen;

	if (m == NULL)
		return 0;
	if (dns_msg_parse(data, size, m, why, sizeof(why)) == 0) {
		if (m->nanswers < 0 || m->nanswers > DNS_MAX_ANSWERS || m->buf != data ||
		    m->len != size)
			BROKEN();
		for (int i = 0; i < m->nanswers; i++) {
			const struct dns_rr *rr = &m->answers[i];
			struct tlsa t;
			uint16_t pref;
			int rc;

			check_name(rr->name, sizeof(rr->name));
			if (rr->rdoff > size || rr->rdlen > size - rr->rdoff)
				BROKEN();
			rc = dns_rr_mx(m, rr, &pref, host, sizeof(host));
			if (rc == 0) {
				check_name(host, sizeof(host));
				if (rr->type != DNS_T_MX)
					BROKEN();
			} else if (rc == -2 && host[0] != '\0') {
				BROKEN(); /* a name refused is not handed out */
			} else if (rc != -1 && rc != -2) {
				BROKEN();
			}
			(void)dns_rr_mx(m, rr, &pref, small, sizeof(small));
			rc = dns_rr_ptr(m, rr, host, sizeof(host));
			if (rc == 0) {
				check_name(host, sizeof(host));
				if (rr->type != DNS_T_PTR)
					BROKEN();
			} else if (rc == -2 && host[0] != '\0') {
				BROKEN();
			} else if (rc != -1 && rc != -2) {
				BROKEN();
			}
			(void)dns_rr_ptr(m, rr, small, sizeof(small));
			if (dns_rr_tlsa(m, rr, &t) == 0) {
				if (rr->type != DNS_T_TLSA || t.len > TLSA_DATA_MAX ||
				    t.len + 3u != rr->rdlen)
					BROKEN();
			}
		}
	}

	/* the input as a name to ask for */
	name = malloc(size + 1);
	if (name == NULL) {
		free(m);
		return 0;
	}
	memcpy(name, data, size);
	name[size] = '\0';
	qlen = dns_query_build(q, sizeof(q), 0xbeef, name, DNS_T_TLSA, true);
	if (qlen > sizeof(q))
		BROKEN();
	/* a query we built parses back, if its name is a host name */
	if (qlen > 0 && strspn(name,
			       "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
			       "0123456789-_.") == size) {
		if (dns_msg_parse(q, qlen, m, why, sizeof(why)) != 0 || m->id != 0xbeef || m->qr ||
		    !m->ad || m->nanswers != 0)
			BROKEN();
	}
	(void)dns_query_build(q, 20, 1, name, DNS_T_MX, false);
	if (dns_reverse_name(name, host, sizeof(host)) == 0)
		check_name(host, sizeof(host));
	(void)dns_reverse_name(name, small, sizeof(small));
	free(name);
	free(m);
	return 0;
}
