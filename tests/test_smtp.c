/* test_smtp.c - the SMTP reply parser and EHLO keywords, over raw bytes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "lib/smtp.h"

struct pcase {
	const char *name;
	const char *bytes;
	int rc; /* expected smtp_reply_parse result */
	int code, nlines;
	const char *why; /* substring of the reason when rc == -1 */
};

static const struct pcase cases[] = {
	{ "single", "220 mx.example.org ESMTP\r\n", 1, 220, 1, NULL },
	{ "code only", "220\r\n", 1, 220, 1, NULL },
	{ "multi", "220-mx.example.org\r\n220-second\r\n220 third\r\n", 1, 220, 3, NULL },
	{ "bare LF", "220 mx ESMTP\n", 1, 220, 1, NULL },
	{ "mixed terminators", "250-a\n250 b\r\n", 1, 250, 2, NULL },
	{ "need more: no LF", "220 mx ESMTP", 0, 0, 0, NULL },
	{ "need more: continuation", "220-mx\r\n", 0, 0, 0, NULL },
	{ "mismatched codes", "220-mx\r\n250 other\r\n", -1, 0, 0, "began with 220" },
	{ "1xx code", "120 hello\r\n", -1, 0, 0, "not an SMTP reply" },
	{ "6xx code", "620 hello\r\n", -1, 0, 0, "not an SMTP reply" },
	{ "letters", "ABC hello\r\n", -1, 0, 0, "not an SMTP reply" },
	{ "bad separator", "220_hello\r\n", -1, 0, 0, "not an SMTP reply" },
	{ "too short", "22\r\n", -1, 0, 0, "not an SMTP reply" },
	{ "empty line", "\r\n", -1, 0, 0, "not an SMTP reply" },
	{ "garbage", "\x01\xff\x80\x00zz\r\n", -1, 0, 0, "not an SMTP reply" },
	{ "NUL in text", "220 a\0b\r\n", -1, 0, 0, "NUL" },
	{ "HTTP answer", "HTTP/1.1 400 Bad Request\r\n", -1, 0, 0, "not an SMTP reply" },
};

static void test_parse_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct pcase *c = &cases[i];
		size_t len = strlen(c->bytes), used = 0;
		struct smtp_reply r;
		char why[128] = "";
		int rc;

		if (strcmp(c->name, "NUL in text") == 0)
			len = 9;
		if (strcmp(c->name, "garbage") == 0)
			len = 8;
		smtp_reply_init(&r);
		rc = smtp_reply_parse(&r, c->bytes, len, &used, why, sizeof(why));
		if (rc != c->rc)
			fail_msg("%s: rc %d, expected %d (%s)", c->name, rc, c->rc, why);
		if (rc == 1) {
			assert_int_equal(r.code, c->code);
			assert_int_equal(r.nlines, c->nlines);
			assert_int_equal(used, len);
		}
		if (rc == -1 && strstr(why, c->why) == NULL)
			fail_msg("%s: reason '%s' lacks '%s'", c->name, why, c->why);
		smtp_reply_free(&r);
	}
}

static void test_lines_and_text(void **state)
{
	const char *in = "250-mx.example.org Hello\r\n250-PIPELINING\r\n250 SIZE 1000\r\n";
	struct smtp_reply r;
	size_t used, len;
	char why[64], word[64];
	const char *s;

	(void)state;
	smtp_reply_init(&r);
	assert_int_equal(smtp_reply_parse(&r, in, strlen(in), &used, why, sizeof(why)), 1);
	s = smtp_reply_line(&r, 0, &len);
	assert_int_equal(len, strlen("mx.example.org Hello"));
	assert_memory_equal(s, "mx.example.org Hello", len);
	s = smtp_reply_line(&r, 2, &len);
	assert_memory_equal(s, "SIZE 1000", len);
	assert_null(smtp_reply_line(&r, 3, &len));
	smtp_reply_first_word(&r, word, sizeof(word));
	assert_string_equal(word, "mx.example.org");
	assert_false(r.bare_lf);
	smtp_reply_free(&r);
}

static void test_bytes_after_reply_left(void **state)
{
	const char *in = "220 hi\r\n250 injected\r\n";
	struct smtp_reply r;
	size_t used;
	char why[64];

	(void)state;
	smtp_reply_init(&r);
	assert_int_equal(smtp_reply_parse(&r, in, strlen(in), &used, why, sizeof(why)), 1);
	assert_int_equal(used, strlen("220 hi\r\n"));
	smtp_reply_free(&r);
}

static void test_enhanced(void **state)
{
	static const struct {
		const char *in, *enh;
	} t[] = {
		{ "554 5.7.1 Relay access denied\r\n", "5.7.1" },
		{ "250 2.1.0 Ok\r\n", "2.1.0" },
		{ "421 4.3.2 closing\r\n", "4.3.2" },
		{ "554 4.7.1 wrong class\r\n", "" },
		{ "250 2.1 too short\r\n", "" },
		{ "250 2.1.0.1 too long\r\n", "" },
		{ "250 2.1000.0 detail\r\n", "" },
		{ "220 mx ESMTP\r\n", "" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct smtp_reply r;
		size_t used;
		char why[64];

		smtp_reply_init(&r);
		assert_int_equal(
			smtp_reply_parse(&r, t[i].in, strlen(t[i].in), &used, why, sizeof(why)), 1);
		assert_string_equal(r.enhanced, t[i].enh);
		smtp_reply_free(&r);
	}
}

/* Build n copies of line into a heap buffer. */
static char *repeat(const char *line, size_t n, size_t *len)
{
	size_t l = strlen(line);
	char *b = malloc(l * n + 1);

	for (size_t i = 0; i < n; i++)
		memcpy(b + i * l, line, l);
	b[l * n] = '\0';
	*len = l * n;
	return b;
}

static void test_limits(void **state)
{
	struct smtp_reply r;
	size_t len, used;
	char why[128];
	char *b;

	(void)state;
	/* a line of exactly SMTP_LINE_MAX bytes is accepted */
	b = malloc(SMTP_LINE_MAX + 3);
	memcpy(b, "220 ", 4);
	memset(b + 4, 'x', SMTP_LINE_MAX - 4);
	memcpy(b + SMTP_LINE_MAX, "\r\n", 2);
	smtp_reply_init(&r);
	assert_int_equal(smtp_reply_parse(&r, b, SMTP_LINE_MAX + 2, &used, why, sizeof(why)), 1);
	smtp_reply_free(&r);
	/* one byte more is not, and is detected before the terminator arrives */
	b = realloc(b, 1 << 20);
	memset(b, 'x', 1 << 20);
	memcpy(b, "220 ", 4);
	smtp_reply_init(&r);
	assert_int_equal(smtp_reply_parse(&r, b, 1 << 20, &used, why, sizeof(why)), -1);
	assert_non_null(strstr(why, "longer than 4096 bytes"));
	smtp_reply_free(&r);
	free(b);

	/* 100 lines fine, 101 malformed */
	b = repeat("250-x\r\n", 99, &len);
	b = realloc(b, len + 8);
	strcpy(b + len, "250 x\r\n");
	smtp_reply_init(&r);
	assert_int_equal(smtp_reply_parse(&r, b, len + 7, &used, why, sizeof(why)), 1);
	assert_int_equal(r.nlines, 100);
	smtp_reply_free(&r);
	free(b);
	b = repeat("220-endless\r\n", 200, &len);
	smtp_reply_init(&r);
	assert_int_equal(smtp_reply_parse(&r, b, len, &used, why, sizeof(why)), -1);
	assert_non_null(strstr(why, "longer than 100 lines"));
	smtp_reply_free(&r);
	free(b);

	/* 64 KiB in fewer than 100 lines: 20 lines of 4000 bytes */
	b = malloc(20 * 4002);
	for (int i = 0; i < 20; i++) {
		char *l = b + i * 4002;

		memset(l, 'y', 4000);
		memcpy(l, "250-", 4);
		memcpy(l + 4000, "\r\n", 2);
	}
	smtp_reply_init(&r);
	assert_int_equal(smtp_reply_parse(&r, b, 20 * 4002, &used, why, sizeof(why)), -1);
	assert_non_null(strstr(why, "longer than 65536 bytes"));
	assert_true(r.text.len <= SMTP_REPLY_MAX_BYTES);
	smtp_reply_free(&r);
	free(b);
}

static void test_line_by_line_equals_parse(void **state)
{
	const char *in = "220-a\r\n220-b\n220 c\r\n";
	struct smtp_reply r;
	char why[64];
	size_t off = 0, ll, tl;
	int rc = 0;

	(void)state;
	smtp_reply_init(&r);
	while (rc == 0 && smtp_next_line(in + off, strlen(in) - off, &ll, &tl) == 1) {
		rc = smtp_reply_add_line(&r, in + off, ll, tl, why, sizeof(why));
		off += ll + tl;
	}
	assert_int_equal(rc, 1);
	assert_int_equal(r.nlines, 3);
	assert_true(r.bare_lf);
	assert_int_equal(r.nbytes, strlen(in));
	/* a line after the end is an error */
	assert_int_equal(smtp_reply_add_line(&r, "220 d", 5, 2, why, sizeof(why)), -1);
	smtp_reply_reset(&r);
	assert_int_equal(r.nlines, 0);
	assert_int_equal(smtp_reply_add_line(&r, "250 ok", 6, 2, why, sizeof(why)), 1);
	smtp_reply_free(&r);
}

static void test_caps(void **state)
{
	const char *in =
		"250-mx.example.org\r\n250-PIPELINING\r\n250-size 10240000\r\n"
		"250-8BITMIME\r\n250-AUTH PLAIN LOGIN\r\n250-bad_kw\r\n250--dash\r\n"
		"250-X-LONGKEYWORDTHATISWAYTOOLONGFORUS\r\n250 STARTTLS\r\n";
	struct smtp_reply r;
	struct smtp_caps caps;
	size_t used;
	char why[64];

	(void)state;
	smtp_reply_init(&r);
	assert_int_equal(smtp_reply_parse(&r, in, strlen(in), &used, why, sizeof(why)), 1);
	smtp_caps_parse(&r, &caps);
	assert_true(smtp_caps_has(&caps, "PIPELINING"));
	assert_true(smtp_caps_has(&caps, "pipelining"));
	assert_true(smtp_caps_has(&caps, "SIZE"));
	assert_true(smtp_caps_has(&caps, "AUTH"));
	assert_true(smtp_caps_has(&caps, "STARTTLS"));
	assert_false(smtp_caps_has(&caps, "mx.example.org"));
	assert_false(smtp_caps_has(&caps, "BAD_KW"));
	assert_false(smtp_caps_has(&caps, "-DASH"));
	assert_false(smtp_caps_has(&caps, "CHUNKING"));
	assert_true(caps.has_size);
	assert_int_equal(caps.size, 10240000);
	assert_int_equal(caps.nkw, 5);
	assert_string_equal(caps.auth, "PLAIN LOGIN");
	smtp_reply_free(&r);
}

/* Dovecot's submission service before TLS: "250-AUTH " and nothing else. */
static void test_caps_auth_bare(void **state)
{
	const char *bare = "250-mx.example.org\r\n250-AUTH \r\n250 STARTTLS\r\n";
	const char *odd = "250-mx.example.org\r\n250 AUTH  plain\x01\x1b[31m  cram-md5 \r\n";
	struct smtp_reply r;
	struct smtp_caps caps;
	size_t used;
	char why[64];
	const char *reason;

	(void)state;
	smtp_reply_init(&r);
	assert_int_equal(smtp_reply_parse(&r, bare, strlen(bare), &used, why, sizeof(why)), 1);
	smtp_caps_parse(&r, &caps);
	assert_true(smtp_caps_has(&caps, "AUTH"));
	assert_true(caps.auth_bare);
	assert_false(smtp_caps_usable(&caps, "AUTH", &reason));
	assert_non_null(reason);
	assert_non_null(strstr(reason, "without a mechanism"));
	assert_true(smtp_caps_usable(&caps, "starttls", &reason));
	assert_null(reason);
	assert_false(smtp_caps_usable(&caps, "PIPELINING", &reason));
	assert_null(reason);
	smtp_reply_free(&r);

	/* mechanisms are kept as letters, digits, '-' and '_' only */
	smtp_reply_init(&r);
	assert_int_equal(smtp_reply_parse(&r, odd, strlen(odd), &used, why, sizeof(why)), 1);
	smtp_caps_parse(&r, &caps);
	assert_false(caps.auth_bare);
	assert_string_equal(caps.auth, "PLAIN31M CRAM-MD5");
	assert_true(smtp_caps_usable(&caps, "AUTH", &reason));
	smtp_reply_free(&r);
}

static void test_size_forms(void **state)
{
	static const struct {
		const char *in;
		bool has;
		unsigned long long v;
	} t[] = {
		{ "250-x\r\n250 SIZE\r\n", true, 0 },
		{ "250-x\r\n250 SIZE 0\r\n", true, 0 },
		{ "250-x\r\n250 SIZE 52428800\r\n", true, 52428800ULL },
		{ "250-x\r\n250 SIZE abc\r\n", false, 0 },
		{ "250-x\r\n250 SIZE 99999999999999999999999\r\n", false, 0 },
		{ "250 x\r\n", false, 0 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct smtp_reply r;
		struct smtp_caps caps;
		size_t used;
		char why[64];

		smtp_reply_init(&r);
		assert_int_equal(
			smtp_reply_parse(&r, t[i].in, strlen(t[i].in), &used, why, sizeof(why)), 1);
		smtp_caps_parse(&r, &caps);
		assert_int_equal(caps.has_size, t[i].has);
		assert_int_equal(caps.size, t[i].v);
		smtp_reply_free(&r);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_table),
		cmocka_unit_test(test_lines_and_text),
		cmocka_unit_test(test_bytes_after_reply_left),
		cmocka_unit_test(test_enhanced),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_line_by_line_equals_parse),
		cmocka_unit_test(test_caps),
		cmocka_unit_test(test_caps_auth_bare),
		cmocka_unit_test(test_size_forms),
	};
	return cmocka_run_group_tests_name("smtp", tests, NULL, NULL);
}
