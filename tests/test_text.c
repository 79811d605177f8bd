/* test_text.c - sanitising server text and bounded string buffers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "lib/strbuf.h"
#include "lib/sanitize.h"

static void test_sanitize_table(void **state)
{
	static const struct {
		const char *in;
		size_t n;
		size_t max;
		const char *out;
	} t[] = {
		{ "mx.example.org ESMTP", 20, 100, "mx.example.org ESMTP" },
		{ "a\x1b[31mred\x07", 10, 100, "a\\x1b[31mred\\x07" },
		{ "tab\there", 8, 100, "tab\\x09here" },
		{ "cr\rlf\n", 6, 100, "cr\\x0dlf\\x0a" },
		{ "pipe|perf=1", 11, 100, "pipe\\x7cperf=1" },
		{ "back\\slash", 10, 100, "back\\x5cslash" },
		{ "nul\0x", 5, 100, "nul\\x00x" },
		{ "\xc3\xa9t\xc3\xa9", 5, 100, "\\xc3\\xa9t\\xc3\\xa9" },
		{ "\x7f", 1, 100, "\\x7f" },
		{ "0123456789", 10, 5, "01..." },
		{ "\x01\x02\x03", 3, 7, "\\x01..." },
		{ "", 0, 100, "" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		char out[64];

		sanitize(out, sizeof(out), t[i].in, t[i].n, t[i].max);
		assert_string_equal(out, t[i].out);
	}
}

static void test_sanitize_small_dst(void **state)
{
	char out[8];
	char big[1000];

	(void)state;
	memset(big, 'z', sizeof(big));
	sanitize(out, sizeof(out), big, sizeof(big), 500);
	assert_true(strlen(out) < sizeof(out));
	assert_non_null(strstr(out, "..."));
	/* no output byte is ever a control character */
	for (int c = 0; c < 256; c++) {
		char in = (char)c, o[16];

		sanitize(o, sizeof(o), &in, 1, 10);
		for (char *p = o; *p; p++)
			assert_true(*p >= 0x20 && *p < 0x7f && *p != '|');
	}
}

static void test_strbuf_cap(void **state)
{
	struct strbuf b;

	(void)state;
	strbuf_init(&b, 10);
	assert_string_equal(strbuf_str(&b), "");
	assert_int_equal(strbuf_append(&b, "hello", 5), 0);
	assert_int_equal(strbuf_printf(&b, " %s", "world!"), -1);
	assert_string_equal(strbuf_str(&b), "hello worl");
	assert_true(b.truncated);
	assert_int_equal(strbuf_append(&b, "x", 1), -1);
	assert_int_equal(b.len, 10);
	strbuf_free(&b);
	strbuf_free(&b); /* twice is harmless */
	strbuf_free(NULL);

	strbuf_init(&b, 100000);
	for (int i = 0; i < 1000; i++)
		strbuf_printf(&b, "%04d;", i);
	assert_int_equal(b.len, 5000);
	assert_memory_equal(b.s + 4995, "0999;", 5);
	strbuf_free(&b);
}

struct sink {
	char got[8192];
	size_t len;
	int calls, fail_at; /* fail the fail_at-th call (0: never) */
};

static int to_sink(void *arg, const char *s, size_t n)
{
	struct sink *k = arg;

	if (++k->calls == k->fail_at)
		return -1;
	assert_true(k->len + n <= sizeof(k->got));
	memcpy(k->got + k->len, s, n);
	k->len += n;
	return 0;
}

/* A draining buffer holds at most about `at` bytes; what it hands over,
 * in order and with the rest from strbuf_drain(), is everything; a sink
 * that fails truncates it. */
static void test_strbuf_drain(void **state)
{
	struct strbuf b;
	struct sink k = { .fail_at = 0 };
	char want[8192];
	size_t wl = 0;

	(void)state;
	strbuf_init(&b, 1 << 20);
	strbuf_drain_into(&b, 100, to_sink, &k);
	for (int i = 0; i < 500; i++) {
		wl += (size_t)snprintf(want + wl, sizeof(want) - wl, "line %d\n", i);
		assert_int_equal(strbuf_printf(&b, "line %d\n", i), 0);
		assert_true(b.len <= 100);
	}
	assert_true(k.calls > 30);
	assert_int_equal(strbuf_drain(&b), 0);
	assert_int_equal(b.len, 0);
	assert_int_equal(k.len, wl);
	assert_memory_equal(k.got, want, wl);
	strbuf_free(&b);

	k = (struct sink){ .fail_at = 3 };
	strbuf_init(&b, 1 << 20);
	strbuf_drain_into(&b, 10, to_sink, &k);
	for (int i = 0; i < 10; i++)
		strbuf_append(&b, "0123456789", 10);
	assert_true(b.truncated);
	assert_int_equal(strbuf_drain(&b), -1);
	assert_int_equal(k.calls, 3);
	strbuf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_strbuf_drain),
		cmocka_unit_test(test_sanitize_table),
		cmocka_unit_test(test_sanitize_small_dst),
		cmocka_unit_test(test_strbuf_cap),
	};
	return cmocka_run_group_tests_name("text", tests, NULL, NULL);
}
