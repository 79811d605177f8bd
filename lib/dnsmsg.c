/* dnsmsg.c - see dnsmsg.h */
#include "lib/dnsmsg.h"
#include "lib/unittest.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <string.h>

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

UNITTEST int dns_name_read(const uint8_t *buf, size_t len, size_t off, char *out, size_t out_size,
			   size_t *next)
{
	size_t o = 0, total = 0, pos = off, limit = off; /* pointers must go below limit */
	bool jumped = false, bad = false;

	if (out_size == 0)
		return -1;
	for (;;) {
		uint8_t l;

		if (pos >= len)
			return -1;
		l = buf[pos];
		if ((l & 0xC0) == 0xC0) { /* RFC 1035 §4.1.4 compression */
			size_t to;

			if (pos + 1 >= len)
				return -1;
			to = (size_t)(l & 0x3F) << 8 | buf[pos + 1];
			if (to >= limit) /* forward or self: could loop */
				return -1;
			if (!jumped)
				*next = pos + 2;
			jumped = true;
			limit = to;
			pos = to;
			continue;
		}
		if (l & 0xC0) /* 0x40, 0x80: obsolete/extended labels */
			return -1;
		if (l == 0) {
			if (!jumped)
				*next = pos + 1;
			out[o] = '\0';
			if (bad)
				out[0] = '\0';
			return bad ? -2 : 0;
		}
		if (pos + 1 + l > len)
			return -1;
		total += (size_t)l + 1;
		if (total > 255 || o + l + 2 > out_size)
			return -1;
		if (o > 0)
			out[o++] = '.';
		for (size_t i = 0; i < l; i++) {
			unsigned char c = buf[pos + 1 + i];

			/* letters, digits, '-' and '_' only: a '|', a newline, an
			 * ESC or a NUL in a label would forge output, a '.'
			 * inside one would make the name ambiguous */
			if (!isalnum(c) && c != '-' && c != '_')
				bad = true;
			out[o++] = (char)tolower(c);
		}
		pos += 1 + (size_t)l;
	}
}

int dns_msg_parse(const uint8_t *buf, size_t len, struct dns_msg *m, char *why, size_t why_len)
{
	size_t off = 12;
	unsigned qd, an;
	char name[DNS_NAME_MAX];

	memset(m, 0, sizeof(*m));
	m->buf = buf;
	m->len = len;
	if (len < 12) {
		snprintf(why, why_len, "DNS message shorter than its header");
		return -1;
	}
	m->id = get16(buf);
	m->qr = buf[2] & 0x80;
	m->tc = buf[2] & 0x02;
	m->ad = buf[3] & 0x20;
	m->rcode = buf[3] & 0x0F;
	qd = get16(buf + 4);
	an = get16(buf + 6);
	for (unsigned i = 0; i < qd; i++) {
		int rc = dns_name_read(buf, len, off, name, sizeof(name), &off);

		if (rc < 0 || off + 4 > len) {
			snprintf(why, why_len, "%s in the question section",
				 rc == -2 ? "a name that is not a valid host name"
					  : "malformed name");
			return -1;
		}
		off += 4;
	}
	for (unsigned i = 0; i < an; i++) {
		struct dns_rr rr;
		int rc = dns_name_read(buf, len, off, rr.name, sizeof(rr.name), &off);

		if (rc < 0 || off + 10 > len) {
			snprintf(why, why_len, "answer record %u: %s", i + 1,
				 rc == -2 ? "its name is not a valid host name" : "malformed");
			return -1;
		}
		rr.type = get16(buf + off);
		rr.cls = get16(buf + off + 2);
		rr.ttl = (uint32_t)get16(buf + off + 4) << 16 | get16(buf + off + 6);
		rr.rdlen = get16(buf + off + 8);
		rr.rdoff = off + 10;
		if (rr.rdoff + rr.rdlen > len) {
			snprintf(why, why_len, "answer record %u runs past the end of the message",
				 i + 1);
			return -1;
		}
		off = rr.rdoff + rr.rdlen;
		if (m->nanswers < DNS_MAX_ANSWERS)
			m->answers[m->nanswers++] = rr;
	}
	return 0;
}

int dns_rr_mx(const struct dns_msg *m, const struct dns_rr *rr, uint16_t *pref, char *host,
	      size_t host_size)
{
	size_t next;
	int rc;

	if (rr->type != DNS_T_MX || rr->rdlen < 3)
		return -1;
	*pref = get16(m->buf + rr->rdoff);
	/* the name may be compressed, but must end inside the RDATA */
	rc = dns_name_read(m->buf, m->len, rr->rdoff + 2, host, host_size, &next);
	if (rc == -1 || next > rr->rdoff + rr->rdlen)
		return -1;
	return rc;
}

int dns_rr_ptr(const struct dns_msg *m, const struct dns_rr *rr, char *name, size_t name_size)
{
	size_t next;
	int rc;

	if (rr->type != DNS_T_PTR || rr->rdlen < 1)
		return -1;
	rc = dns_name_read(m->buf, m->len, rr->rdoff, name, name_size, &next);
	if (rc == -1 || next > rr->rdoff + rr->rdlen)
		return -1;
	return rc;
}

int dns_rr_tlsa(const struct dns_msg *m, const struct dns_rr *rr, struct tlsa *t)
{
	const uint8_t *p = m->buf + rr->rdoff;

	/* RFC 6698 §2.1: usage, selector, matching type, association data */
	if (rr->type != DNS_T_TLSA || rr->rdlen < 4 || rr->rdlen - 3 > TLSA_DATA_MAX)
		return -1;
	t->usage = p[0];
	t->selector = p[1];
	t->mtype = p[2];
	t->len = (uint16_t)(rr->rdlen - 3);
	memcpy(t->data, p + 3, t->len);
	return 0;
}

int dns_rr_txt(const struct dns_msg *m, const struct dns_rr *rr, char *out, size_t out_size,
	       size_t *len)
{
	const uint8_t *p = m->buf + rr->rdoff;
	size_t i = 0, o = 0;

	*len = 0;
	if (out_size == 0)
		return -1;
	out[0] = '\0';
	if (rr->type != DNS_T_TXT || rr->rdlen == 0)
		return -1;
	while (i < rr->rdlen) {
		size_t n = p[i++];

		if (n > rr->rdlen - i || o + n >= out_size)
			return -1;
		memcpy(out + o, p + i, n);
		o += n;
		i += n;
	}
	out[o] = '\0';
	*len = o;
	return 0;
}

size_t dns_query_build(uint8_t *out, size_t out_size, uint16_t id, const char *name, uint16_t type,
		       bool ad)
{
	size_t o = 12, n = strlen(name);

	if (n > 0 && name[n - 1] == '.')
		n--;
	if (n == 0 || n > 253 || out_size < 12 + n + 2 + 4)
		return 0;
	memset(out, 0, 12);
	out[0] = (uint8_t)(id >> 8);
	out[1] = (uint8_t)id;
	out[2] = 0x01;		/* RD */
	out[3] = ad ? 0x20 : 0; /* AD */
	out[5] = 1;		/* one question */
	for (size_t i = 0; i < n;) {
		size_t l = strcspn(name + i, ".");

		if (l == 0 || l > 63 || i + l > n)
			return 0;
		out[o++] = (uint8_t)l;
		memcpy(out + o, name + i, l);
		o += l;
		i += l + 1;
	}
	out[o++] = 0;
	out[o++] = (uint8_t)(type >> 8);
	out[o++] = (uint8_t)type;
	out[o++] = 0;
	out[o++] = 1; /* class IN */
	return o;
}

int dns_reverse_name(const char *addr, char *out, size_t out_size)
{
	unsigned char b[16];
	size_t o = 0;

	if (inet_pton(AF_INET, addr, b) == 1) {
		snprintf(out, out_size, "%u.%u.%u.%u.in-addr.arpa", b[3], b[2], b[1], b[0]);
		return 0;
	}
	if (inet_pton(AF_INET6, addr, b) != 1 || out_size < 16 * 4 + 9)
		return -1;
	for (int i = 15; i >= 0; i--)
		o += (size_t)snprintf(out + o, out_size - o, "%x.%x.", b[i] & 15, b[i] >> 4);
	snprintf(out + o, out_size - o, "ip6.arpa");
	return 0;
}
