/* test_deadline.c - the one absolute deadline per check.
 *
 * The clock cannot be frozen, so nothing here asserts that something ends
 * within a short wall time: every check brackets a call between two clock
 * readings and asserts what must hold whatever happened in between. */
#include <math.h> /* NAN, a constant */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "lib/deadline.h"

/* Without libm (the Makefile links none). */
static double absd(double x)
{
	return x < 0 ? -x : x;
}

/* ceil(us / 1000) for us > 0, the rounding deadline_left_ms() promises. */
static int64_t ceil_ms(int64_t us)
{
	return (us + 999) / 1000;
}

static void test_init_positive(void **state)
{
	/* well below any cap, long enough that no scheduler delay expires it */
	static const double secs[] = { 1.0, 10.0, 59.5, 600.0 };

	(void)state;
	for (size_t i = 0; i < sizeof(secs) / sizeof(secs[0]); i++) {
		struct deadline d;
		int64_t t0 = mono_now_us(), t1, want_us = (int64_t)(secs[i] * 1e6);
		int left;

		deadline_init(&d, secs[i]);
		left = deadline_left_ms(&d);
		t1 = mono_now_us();
		assert_true(d.start_us >= t0 && d.start_us <= t1);
		assert_true(d.at_us - d.start_us == want_us);
		/* time remains, so 0 would be a lie; more than requested also */
		if (left <= 0 || left > (int)(want_us / 1000))
			fail_msg("%g s: left %d ms, requested %lld ms", secs[i], left,
				 (long long)(want_us / 1000));
	}
}

static void test_init_expired(void **state)
{
	/* seconds <= 0 means already expired; NaN compares false with > 0 too */
	static const double secs[] = { 0.0, -0.0, -1e-9, -0.5, -1.0, -86400.0, -1e12, NAN };

	(void)state;
	for (size_t i = 0; i < sizeof(secs) / sizeof(secs[0]); i++) {
		struct deadline d;

		deadline_init(&d, secs[i]);
		if (d.at_us != d.start_us)
			fail_msg("%g s: at_us - start_us = %lld", secs[i],
				 (long long)(d.at_us - d.start_us));
		assert_int_equal(deadline_left_ms(&d), 0);
		assert_true(deadline_elapsed(&d) >= 0);
	}
}

/* An expired deadline stays expired: it never restarts or wraps. */
static void test_expired_stays_expired(void **state)
{
	struct deadline d;

	(void)state;
	deadline_init(&d, 0);
	for (int i = 0; i < 1000; i++)
		assert_int_equal(deadline_left_ms(&d), 0);
	/* long past: a timestamp far behind now must not overflow into "left" */
	d.at_us = mono_now_us() - (int64_t)86400 * 1000000;
	assert_int_equal(deadline_left_ms(&d), 0);
}

/* Rounded up: the answer covers all the time that was left when the call
 * returned (never short, so poll() never wakes early and reports a timeout
 * with time to spare) and exceeds the time left when it began by less than a
 * millisecond.  Offsets with every sub-millisecond remainder. */
static void test_left_rounds_up(void **state)
{
	static const int64_t off_us[] = {
		10000000, 10000001, 10000499,  10000500,  10000999,
		10001000, 10001001, 123456789, 999999999,
	};

	(void)state;
	for (size_t i = 0; i < sizeof(off_us) / sizeof(off_us[0]); i++) {
		struct deadline d;
		int64_t t0, t1;
		int ms;

		t0 = mono_now_us();
		d.start_us = t0;
		d.at_us = t0 + off_us[i];
		ms = deadline_left_ms(&d);
		t1 = mono_now_us();
		if ((int64_t)ms * 1000 < d.at_us - t1 || ms > ceil_ms(d.at_us - t0))
			fail_msg("offset %lld us: %d ms, bounds [%lld, %lld]", (long long)off_us[i],
				 ms, (long long)((d.at_us - t1) / 1000),
				 (long long)ceil_ms(d.at_us - t0));
	}
}

/* A deadline 0.5 ms away reports 1 while any of it remains and 0 only once
 * it has passed; spin until it does (the clock always gets there). */
static void test_left_sub_ms(void **state)
{
	struct deadline d;
	int ones = 0;

	(void)state;
	deadline_init(&d, 0.0005);
	assert_true(d.at_us - d.start_us == 500);
	for (;;) {
		int64_t t0 = mono_now_us();
		int ms = deadline_left_ms(&d);
		int64_t t1 = mono_now_us();

		if (ms == 0) {
			/* 0 is only allowed once the deadline was reached */
			if (t1 < d.at_us)
				fail_msg("0 ms reported %lld us before the deadline",
					 (long long)(d.at_us - t1));
			break;
		}
		assert_int_equal(ms, 1);
		assert_true(t0 < d.at_us);
		ones++;
	}
	/* whether any 1 was seen depends on scheduling: not asserted */
	(void)ones;
}

/* What poll() is given must never outlast the deadline, also for long -t
 * values (the option allows up to 86400 s). */
static void test_left_long_deadline(void **state)
{
	static const double secs[] = { 1000.0, 1073.0, 1074.0, 1100.0, 2000.0, 3600.0, 86400.0 };

	(void)state;
	for (size_t i = 0; i < sizeof(secs) / sizeof(secs[0]); i++) {
		struct deadline d;
		int left;

		deadline_init(&d, secs[i]);
		left = deadline_left_ms(&d);
		if (left <= 0 || (double)left > secs[i] * 1000)
			fail_msg("deadline %g s away: deadline_left_ms %d ms (%.1f s)", secs[i],
				 left, left / 1000.0);
	}
}

static void test_left_monotone(void **state)
{
	struct deadline d;
	int prev;

	(void)state;
	deadline_init(&d, 600);
	prev = deadline_left_ms(&d);
	for (int i = 0; i < 100000; i++) {
		int left = deadline_left_ms(&d);

		if (left > prev)
			fail_msg("call %d: %d ms after %d ms", i, left, prev);
		prev = left;
	}
}

static void test_elapsed_grows(void **state)
{
	struct deadline d;
	double prev;

	(void)state;
	deadline_init(&d, 600);
	prev = deadline_elapsed(&d);
	assert_true(prev >= 0);
	for (int i = 0; i < 100000; i++) {
		double e = deadline_elapsed(&d);

		if (e < prev)
			fail_msg("call %d: elapsed %.9f after %.9f", i, e, prev);
		prev = e;
	}
	/* wait for the clock (not a bound on how long that takes) */
	while (mono_now_us() < d.start_us + 2000)
		;
	assert_true(deadline_elapsed(&d) >= 0.002);

	/* elapsed counts from the start, expired or not */
	deadline_init(&d, -5);
	while (mono_now_us() < d.start_us + 1000)
		;
	assert_true(deadline_elapsed(&d) >= 0.001);
}

static void test_us_to_s(void **state)
{
	static const struct {
		int64_t us;
		double s;
	} t[] = {
		{ 0, 0.0 },
		{ 1, 1e-6 },
		{ 999, 0.000999 },
		{ 1000, 0.001 },
		{ 1000000, 1.0 },
		{ 1500000, 1.5 },
		{ -250000, -0.25 },
		{ 86400000000LL, 86400.0 },
		/* far beyond a check's life: still exact to the microsecond */
		{ 4102444800000000LL, 4102444800.0 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		double s = us_to_s(t[i].us);

		if (absd(s - t[i].s) > 1e-9 * (absd(t[i].s) + 1e-6))
			fail_msg("us_to_s(%lld) = %.12g, want %.12g", (long long)t[i].us, s,
				 t[i].s);
	}
}

static void test_mono_now_monotonic(void **state)
{
	int64_t prev = mono_now_us();

	(void)state;
	assert_true(prev > 0);
	for (int i = 0; i < 100000; i++) {
		int64_t now = mono_now_us();

		if (now < prev)
			fail_msg("call %d: %lld after %lld", i, (long long)now, (long long)prev);
		prev = now;
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_init_positive),
		cmocka_unit_test(test_init_expired),
		cmocka_unit_test(test_expired_stays_expired),
		cmocka_unit_test(test_left_rounds_up),
		cmocka_unit_test(test_left_sub_ms),
		cmocka_unit_test(test_left_long_deadline),
		cmocka_unit_test(test_left_monotone),
		cmocka_unit_test(test_elapsed_grows),
		cmocka_unit_test(test_us_to_s),
		cmocka_unit_test(test_mono_now_monotonic),
	};
	return cmocka_run_group_tests_name("deadline", tests, NULL, NULL);
}
