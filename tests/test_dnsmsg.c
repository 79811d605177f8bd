/* test_dnsmsg.c - DNS message building and parsing over raw bytes: MX, PTR
 * and TLSA decoding, the AD bit, and hostile answers (compression loops,
 * lengths past the end, truncation at every byte). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "lib/dnsmsg.h"

/* A message under construction. */
struct w {
	uint8_t b[4096];
	size_t n;
};

static void put(struct w *w, const void *p, size_t n)
{
	memcpy(w->b + w->n, p, n);
	w->n += n;
}

static void put16(struct w *w, unsigned v)
{
	uint8_t b[2] = { (uint8_t)(v >> 8), (uint8_t)v };

	put(w, b, 2);
}

static void put_name(struct w *w, const char *name)
{
	while (*name) {
		size_t l = strcspn(name, ".");
		uint8_t len = (uint8_t)l;

		put(w, &len, 1);
		put(w, name, l);
		name += l + (name[l] == '.');
	}
	put(w, "", 1);
}

/* Header + question; returns the offset of the question name (for pointers). */
static size_t header(struct w *w, unsigned flags2, unsigned an, const char *qname, unsigned qtype)
{
	size_t qoff;

	w->n = 0;
	put16(w, 0x1234);
	put16(w, 0x8180 | flags2); /* QR, RD, RA (+ AD 0x20 / rcode) */
	put16(w, 1);
	put16(w, an);
	put16(w, 0);
	put16(w, 0);
	qoff = w->n;
	put_name(w, qname);
	put16(w, qtype);
	put16(w, 1);
	return qoff;
}

static void rr_head(struct w *w, size_t name_ptr, unsigned type, unsigned rdlen)
{
	put16(w, 0xC000 | (unsigned)name_ptr);
	put16(w, type);
	put16(w, 1);
	put16(w, 0);
	put16(w, 300);
	put16(w, rdlen);
}

static void test_mx_with_compression(void **state)
{
	struct w w;
	struct dns_msg m;
	char why[128], host[DNS_NAME_MAX];
	uint16_t pref;
	size_t q = header(&w, 0x20, 2, "example.test", DNS_T_MX);

	(void)state;
	rr_head(&w, q, DNS_T_MX, 2 + 4 + 2);
	put16(&w, 10);
	put(&w, "\x03mx1", 4);
	put16(&w, 0xC000 | (unsigned)q); /* mx1.<example.test> */
	rr_head(&w, q, DNS_T_MX, 2 + 1);
	put16(&w, 0);
	put(&w, "", 1); /* Null MX: "0 ." */
	w.b[7] = 2;
	assert_int_equal(dns_msg_parse(w.b, w.n, &m, why, sizeof(why)), 0);
	assert_true(m.ad);
	assert_true(m.qr);
	assert_int_equal(m.rcode, 0);
	assert_int_equal(m.nanswers, 2);
	assert_string_equal(m.answers[0].name, "example.test");
	assert_int_equal(dns_rr_mx(&m, &m.answers[0], &pref, host, sizeof(host)), 0);
	assert_int_equal(pref, 10);
	assert_string_equal(host, "mx1.example.test");
	assert_int_equal(dns_rr_mx(&m, &m.answers[1], &pref, host, sizeof(host)), 0);
	assert_int_equal(pref, 0);
	assert_string_equal(host, "");
	/* an MX decoder on a TLSA record refuses */
	assert_int_equal(dns_rr_ptr(&m, &m.answers[0], host, sizeof(host)), -1);
}

static void test_ptr_and_tlsa(void **state)
{
	struct w w;
	struct dns_msg m;
	struct tlsa t;
	char why[128], name[DNS_NAME_MAX];
	size_t q = header(&w, 0, 1, "11.0.0.127.in-addr.arpa", DNS_T_PTR);

	(void)state;
	rr_head(&w, q, DNS_T_PTR, 18);
	put_name(&w, "mx1.example.test");
	assert_int_equal(dns_msg_parse(w.b, w.n, &m, why, sizeof(why)), 0);
	assert_false(m.ad);
	assert_int_equal(dns_rr_ptr(&m, &m.answers[0], name, sizeof(name)), 0);
	assert_string_equal(name, "mx1.example.test");

	q = header(&w, 0x20, 1, "_25._tcp.mx1.example.test", DNS_T_TLSA);
	rr_head(&w, q, DNS_T_TLSA, 3 + 32);
	put(&w, "\x03\x01\x01", 3);
	for (int i = 0; i < 32; i++)
		put(&w, &(uint8_t){ (uint8_t)i }, 1);
	assert_int_equal(dns_msg_parse(w.b, w.n, &m, why, sizeof(why)), 0);
	assert_int_equal(dns_rr_tlsa(&m, &m.answers[0], &t), 0);
	assert_int_equal(t.usage, 3);
	assert_int_equal(t.selector, 1);
	assert_int_equal(t.mtype, 1);
	assert_int_equal(t.len, 32);
	assert_int_equal(t.data[31], 31);
}

/* TXT: character-strings joined; lengths past the RDATA, or a record too
 * long for the buffer, refused; the bytes are kept as they are (NUL too). */
static void test_txt(void **state)
{
	struct w w;
	struct dns_msg m;
	char why[128], out[64], small[8];
	size_t len;
	size_t q = header(&w, 0, 3, "_mta-sts.example.test", DNS_T_TXT);

	(void)state;
	rr_head(&w, q, DNS_T_TXT, 1 + 8 + 1 + 12);
	put(&w, "\x08v=STSv1;", 9);
	put(&w, "\x0c id=20261201", 13);
	rr_head(&w, q, DNS_T_TXT, 1 + 3);
	put(&w,
	    "\x03"
	    "a\0b",
	    4);
	rr_head(&w, q, DNS_T_TXT, 1 + 2);
	put(&w,
	    "\x05"
	    "ab",
	    3); /* says 5, has 2 */
	assert_int_equal(dns_msg_parse(w.b, w.n, &m, why, sizeof(why)), 0);
	assert_int_equal(m.nanswers, 3);
	assert_int_equal(dns_rr_txt(&m, &m.answers[0], out, sizeof(out), &len), 0);
	assert_string_equal(out, "v=STSv1; id=20261201");
	assert_int_equal(len, 20);
	assert_int_equal(dns_rr_txt(&m, &m.answers[0], small, sizeof(small), &len), -1);
	assert_int_equal(dns_rr_txt(&m, &m.answers[1], out, sizeof(out), &len), 0);
	assert_int_equal(len, 3);
	assert_memory_equal(out, "a\0b", 3);
	assert_int_equal(dns_rr_txt(&m, &m.answers[2], out, sizeof(out), &len), -1);
	/* a TXT decoder on an MX record refuses */
	m.answers[0].type = DNS_T_MX;
	assert_int_equal(dns_rr_txt(&m, &m.answers[0], out, sizeof(out), &len), -1);
}

static void test_rcode_and_empty(void **state)
{
	struct w w;
	struct dns_msg m;
	char why[128];

	(void)state;
	header(&w, 3, 0, "missing.example.test", DNS_T_A); /* NXDOMAIN */
	assert_int_equal(dns_msg_parse(w.b, w.n, &m, why, sizeof(why)), 0);
	assert_int_equal(m.rcode, DNS_RCODE_NXDOMAIN);
	assert_int_equal(m.nanswers, 0);
}

static void test_hostile(void **state)
{
	struct w w;
	struct dns_msg m;
	char why[128], host[DNS_NAME_MAX];
	size_t q, rd, next;
	uint16_t pref;

	(void)state;
	/* pointer to itself */
	q = header(&w, 0, 1, "a.test", DNS_T_MX);
	rr_head(&w, q, DNS_T_MX, 4);
	put16(&w, 10);
	rd = w.n;
	put16(&w, 0xC000 | (unsigned)rd);
	assert_int_equal(dns_msg_parse(w.b, w.n, &m, why, sizeof(why)), 0);
	assert_int_equal(dns_rr_mx(&m, &m.answers[0], &pref, host, sizeof(host)), -1);

	/* two pointers pointing at each other: the second points forward */
	q = header(&w, 0, 1, "a.test", DNS_T_MX);
	rr_head(&w, q, DNS_T_MX, 6);
	put16(&w, 10);
	rd = w.n;
	put16(&w, 0xC000 | (unsigned)(rd + 2));
	put16(&w, 0xC000 | (unsigned)rd);
	assert_int_equal(dns_msg_parse(w.b, w.n, &m, why, sizeof(why)), 0);
	assert_int_equal(dns_rr_mx(&m, &m.answers[0], &pref, host, sizeof(host)), -1);
	assert_int_equal(dns_name_read(w.b, w.n, rd + 2, host, sizeof(host), &next), -1);

	/* RDATA length past the end */
	q = header(&w, 0, 1, "a.test", DNS_T_TLSA);
	rr_head(&w, q, DNS_T_TLSA, 200);
	put(&w, "\x03\x01\x01", 3);
	assert_int_equal(dns_msg_parse(w.b, w.n, &m, why, sizeof(why)), -1);
	assert_non_null(strstr(why, "past the end"));

	/* more answers claimed than present */
	q = header(&w, 0, 5, "a.test", DNS_T_A);
	rr_head(&w, q, DNS_T_A, 4);
	put(&w, "\x7f\0\0\x01", 4);
	assert_int_equal(dns_msg_parse(w.b, w.n, &m, why, sizeof(why)), -1);

	/* a label of 64 bytes (0x40 is not a length) */
	w.n = 0;
	put(&w, "\x40", 1);
	for (int i = 0; i < 64; i++)
		put(&w, "a", 1);
	put(&w, "", 1);
	assert_int_equal(dns_name_read(w.b, w.n, 0, host, sizeof(host), &next), -1);

	/* a name longer than 255 bytes */
	w.n = 0;
	for (int k = 0; k < 5; k++) {
		put(&w, "\x3f", 1);
		for (int i = 0; i < 63; i++)
			put(&w, "b", 1);
	}
	put(&w, "", 1);
	assert_int_equal(dns_name_read(w.b, w.n, 0, host, sizeof(host), &next), -1);

	/* MX whose name runs beyond its RDATA into the next record */
	q = header(&w, 0, 1, "a.test", DNS_T_MX);
	rr_head(&w, q, DNS_T_MX, 3);
	put16(&w, 10);
	put(&w, "\x03mx1\0", 5);
	assert_int_equal(dns_msg_parse(w.b, w.n, &m, why, sizeof(why)), 0);
	assert_int_equal(dns_rr_mx(&m, &m.answers[0], &pref, host, sizeof(host)), -1);

	/* TLSA without association data, and with too much */
	q = header(&w, 0, 1, "a.test", DNS_T_TLSA);
	rr_head(&w, q, DNS_T_TLSA, 3);
	put(&w, "\x03\x01\x01", 3);
	assert_int_equal(dns_msg_parse(w.b, w.n, &m, why, sizeof(why)), 0);
	{
		struct tlsa t;

		assert_int_equal(dns_rr_tlsa(&m, &m.answers[0], &t), -1);
	}
}

/* Every truncation of a valid answer parses or fails cleanly: no read past
 * the end (ASan watches), never a crash. */
static void test_every_truncation(void **state)
{
	struct w w;
	size_t q = header(&w, 0x20, 1, "example.test", DNS_T_MX);

	(void)state;
	rr_head(&w, q, DNS_T_MX, 2 + 4 + 2);
	put16(&w, 10);
	put(&w, "\x03mx1", 4);
	put16(&w, 0xC000 | (unsigned)q);
	for (size_t n = 0; n < w.n; n++) {
		uint8_t *copy = malloc(n ? n : 1);
		struct dns_msg m;
		char why[128], host[DNS_NAME_MAX];
		uint16_t pref;

		memcpy(copy, w.b, n);
		if (dns_msg_parse(copy, n, &m, why, sizeof(why)) == 0)
			for (int i = 0; i < m.nanswers; i++)
				dns_rr_mx(&m, &m.answers[i], &pref, host, sizeof(host));
		free(copy);
	}
}

static void test_query_build(void **state)
{
	uint8_t q[512];
	struct dns_msg m;
	char why[64], name[DNS_NAME_MAX];
	size_t n = dns_query_build(q, sizeof(q), 0xBEEF, "_25._tcp.MX1.example.test.", DNS_T_TLSA,
				   true);
	size_t next;

	(void)state;
	assert_true(n > 12);
	assert_int_equal(q[3] & 0x20, 0x20); /* AD requested */
	assert_int_equal(q[2] & 0x01, 0x01); /* RD */
	assert_int_equal(dns_msg_parse(q, n, &m, why, sizeof(why)), 0);
	assert_int_equal(m.id, 0xBEEF);
	assert_int_equal(dns_name_read(q, n, 12, name, sizeof(name), &next), 0);
	assert_string_equal(name, "_25._tcp.mx1.example.test");
	assert_int_equal(q[next], 0);
	assert_int_equal(q[next + 1], DNS_T_TLSA);
	assert_int_equal(dns_query_build(q, sizeof(q), 1, "a..b", DNS_T_A, false), 0);
	assert_int_equal(dns_query_build(q, sizeof(q), 1, "", DNS_T_A, false), 0);
	assert_int_equal(dns_query_build(q, 20, 1, "example.test", DNS_T_A, false), 0);
}

static void test_reverse(void **state)
{
	char out[128];

	(void)state;
	assert_int_equal(dns_reverse_name("127.0.0.11", out, sizeof(out)), 0);
	assert_string_equal(out, "11.0.0.127.in-addr.arpa");
	assert_int_equal(dns_reverse_name("::1", out, sizeof(out)), 0);
	assert_string_equal(
		out, "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.ip6.arpa");
	assert_int_equal(dns_reverse_name("2001:db8::25", out, sizeof(out)), 0);
	assert_string_equal(
		out, "5.2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa");
	assert_int_equal(dns_reverse_name("mx.example.test", out, sizeof(out)), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mx_with_compression),
		cmocka_unit_test(test_ptr_and_tlsa),
		cmocka_unit_test(test_txt),
		cmocka_unit_test(test_rcode_and_empty),
		cmocka_unit_test(test_hostile),
		cmocka_unit_test(test_every_truncation),
		cmocka_unit_test(test_query_build),
		cmocka_unit_test(test_reverse),
	};
	return cmocka_run_group_tests_name("dnsmsg", tests, NULL, NULL);
}
