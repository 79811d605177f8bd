/* test_range.c - the threshold range grammar, every form and malformed ones. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "lib/range.h"

struct probe {
	double value;
	bool alerts;
};
struct case_ {
	const char *text;
	struct probe p[5];
	int np;
};

static const struct case_ good[] = {
	/* N: alert if < 0 or > N */
	{ "10", { { -0.1, true }, { 0, false }, { 5, false }, { 10, false }, { 10.01, true } }, 5 },
	/* N: alert if < N */
	{ "10:", { { 9.99, true }, { 10, false }, { 1e9, false } }, 3 },
	/* ~:N alert if > N */
	{ "~:10", { { -1e9, false }, { 10, false }, { 10.5, true } }, 3 },
	/* N:M alert outside */
	{ "10:20", { { 9, true }, { 10, false }, { 15, false }, { 20, false }, { 21, true } }, 5 },
	/* @N:M alert inside */
	{ "@10:20", { { 9, false }, { 10, true }, { 15, true }, { 20, true }, { 21, false } }, 5 },
	{ "0.5", { { 0.4, false }, { 0.6, true } }, 2 },
	{ "-5:-1", { { -6, true }, { -3, false }, { 0, true } }, 3 },
	{ "@~:2", { { -100, true }, { 2, true }, { 2.1, false } }, 3 },
	{ "1.5:2.25", { { 1.49, true }, { 2.25, false }, { 2.26, true } }, 3 },
	{ "0", { { 0, false }, { 0.001, true } }, 2 },
};

static void test_good_ranges(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		struct range r;
		char why[128];

		assert_int_equal(range_parse(good[i].text, &r, why, sizeof(why)), 0);
		assert_true(r.set);
		assert_string_equal(r.text, good[i].text);
		for (int k = 0; k < good[i].np; k++) {
			if (range_alerts(&r, good[i].p[k].value) != good[i].p[k].alerts)
				fail_msg("range '%s' value %g: expected alerts=%d", good[i].text,
					 good[i].p[k].value, good[i].p[k].alerts);
		}
	}
}

static void test_bad_ranges(void **state)
{
	static const char *const bad[] = {
		/* clang-format off */
		"", "abc", "10:5", "1:2:3", "@", ":", "~", "1e3", "inf", "nan", "0x10",
		"10 ", " 10", "--1", "1..2", "@@1:2", "~:~", "1:~", "5s", ".", "-",
		"123456789012345678901234567890123",
		/* clang-format on */
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct range r;
		char why[128] = "";

		if (range_parse(bad[i], &r, why, sizeof(why)) != -1)
			fail_msg("'%s' was accepted", bad[i]);
		assert_false(r.set);
		assert_true(why[0] != '\0');
	}
}

static void test_unset_never_alerts(void **state)
{
	struct range r = { 0 };

	(void)state;
	assert_false(range_alerts(&r, -1e9));
	assert_false(range_alerts(&r, 1e9));
}

static void test_null(void **state)
{
	struct range r;
	char why[64];

	(void)state;
	assert_int_equal(range_parse(NULL, &r, why, sizeof(why)), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good_ranges),
		cmocka_unit_test(test_bad_ranges),
		cmocka_unit_test(test_unset_never_alerts),
		cmocka_unit_test(test_null),
	};
	return cmocka_run_group_tests_name("range", tests, NULL, NULL);
}
