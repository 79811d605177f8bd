/* test_result.c - states, their order, and what a result records: problems,
 * perfdata, TLS facts, children.  Bounds are checked by filling past them;
 * frees by running under ASan/LSan (a leak or double free fails the run). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "lib/result.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* short names for the tables */
#define O STATE_OK
#define W STATE_WARNING
#define C STATE_CRITICAL
#define U STATE_UNKNOWN

/* Every ordered pair: CRITICAL > WARNING > UNKNOWN > OK. */
static void test_state_worst_pairs(void **state)
{
	static const struct {
		enum state a, b, want;
	} t[] = {
		/* one row per first operand */
		/* clang-format off */
		{ O, O, O }, { O, W, W }, { O, C, C }, { O, U, U },
		{ W, O, W }, { W, W, W }, { W, C, C }, { W, U, W },
		{ C, O, C }, { C, W, C }, { C, C, C }, { C, U, C },
		{ U, O, U }, { U, W, W }, { U, C, C }, { U, U, U },
		/* clang-format on */
	};

	(void)state;
	assert_int_equal(N(t), 16);
	for (size_t i = 0; i < N(t); i++) {
		enum state got = state_worst(t[i].a, t[i].b);

		if (got != t[i].want)
			fail_msg("state_worst(%s, %s) = %s, want %s", state_name(t[i].a),
				 state_name(t[i].b), state_name(got), state_name(t[i].want));
	}
}

/* Folding in any order gives the same answer (the runner and run_jobs fold
 * children in completion or address order). */
static void test_state_worst_fold_order(void **state)
{
	static const enum state all[] = { O, W, C, U };

	(void)state;
	for (int perm = 0; perm < 24; perm++) {
		enum state v[4], acc = O;
		int used = 0, p = perm;

		for (int k = 4; k > 0; k--) { /* perm-th permutation of all[] */
			int idx = p % k, j;

			p /= k;
			for (j = 0; j < 4; j++)
				if (!(used & 1 << j) && idx-- == 0)
					break;
			used |= 1 << j;
			v[4 - k] = all[j];
		}
		for (int k = 0; k < 4; k++)
			acc = state_worst(acc, v[k]);
		assert_int_equal(acc, C);
		/* without CRITICAL the worst is WARNING, whatever the order */
		acc = O;
		for (int k = 0; k < 4; k++)
			if (v[k] != C)
				acc = state_worst(acc, v[k]);
		assert_int_equal(acc, W);
	}
}

static void test_state_name(void **state)
{
	static const struct {
		enum state s;
		const char *name;
	} t[] = {
		{ STATE_OK, "OK" },
		{ STATE_WARNING, "WARNING" },
		{ STATE_CRITICAL, "CRITICAL" },
		{ STATE_UNKNOWN, "UNKNOWN" },
		/* a value that is no state is reported as UNKNOWN, never NULL */
		{ (enum state)4, "UNKNOWN" },
		{ (enum state)42, "UNKNOWN" },
	};

	(void)state;
	for (size_t i = 0; i < N(t); i++)
		assert_string_equal(state_name(t[i].s), t[i].name);
	/* the numeric values are the Nagios exit codes */
	assert_int_equal(STATE_OK, 0);
	assert_int_equal(STATE_WARNING, 1);
	assert_int_equal(STATE_CRITICAL, 2);
	assert_int_equal(STATE_UNKNOWN, 3);
}

static void assert_fresh(const struct result *r)
{
	assert_int_equal(r->state, STATE_OK);
	assert_int_equal(r->nproblems, 0);
	assert_int_equal(r->nperf, 0);
	assert_string_equal(r->address, "");
	assert_string_equal(r->facts, "");
	assert_string_equal(r->greeting, "");
	assert_int_equal(r->greeting_code, 0);
	assert_false(r->has_size);
	/* -1: not asked / phase not reached, 0 would mean "no" / "took 0 s" */
	assert_int_equal(r->starttls_offered, -1);
	assert_true(r->t.dns < 0 && r->t.connect < 0 && r->t.banner < 0 && r->t.ehlo < 0 &&
		    r->t.starttls < 0 && r->t.handshake < 0 && r->t.total < 0);
	assert_int_equal(r->ntls, 0);
	assert_null(r->tls);
	assert_null(r->children);
	assert_int_equal(r->nchildren, 0);
	assert_int_equal(r->err.kind, ERR_NONE);
	assert_string_equal(strbuf_str(&r->detail), "");
	assert_string_equal(strbuf_str(&r->transcript), "");
	assert_int_equal(r->relay_tests + r->relay_accepted + r->relay_refused + r->relay_tempfail,
			 0);
}

/* result_init zeroes whatever was there (it is used on stack garbage). */
static void test_init(void **state)
{
	struct result *r = malloc(sizeof(*r));
	char longhost[400];

	(void)state;
	assert_non_null(r);
	memset(r, 0xa5, sizeof(*r));
	result_init(r, "PORT", "mx.example.org", 25);
	assert_fresh(r);
	assert_string_equal(r->check, "PORT");
	assert_string_equal(r->host, "mx.example.org");
	assert_int_equal(r->port, 25);
	assert_string_equal(r->target, "mx.example.org:25");
	result_free(r);

	/* no host */
	memset(r, 0x5a, sizeof(*r));
	result_init(r, "BANNER", NULL, 587);
	assert_fresh(r);
	assert_string_equal(r->host, "");
	assert_string_equal(r->target, ":587");
	result_free(r);

	/* a host longer than the field is cut, still terminated */
	memset(longhost, 'h', sizeof(longhost) - 1);
	longhost[sizeof(longhost) - 1] = '\0';
	result_init(r, "CERT", longhost, 465);
	assert_int_equal(strlen(r->host), sizeof(r->host) - 1);
	assert_memory_equal(r->host, longhost, sizeof(r->host) - 1);
	assert_true(strlen(r->target) < sizeof(r->target));
	assert_non_null(strstr(r->target, ":465"));
	result_free(r);
	free(r);
}

/* (not "test_free": cmocka defines that as a macro) */
static void test_result_free(void **state)
{
	struct result r;

	(void)state;
	/* never used */
	result_init(&r, "PORT", "h", 25);
	result_free(&r);
	/* twice is harmless, as is NULL */
	result_free(&r);
	result_free(NULL);

	/* used to the full, freed, initialised again and used again */
	for (int round = 0; round < 3; round++) {
		result_init(&r, "STARTTLS", "h", 25);
		assert_fresh(&r);
		strbuf_printf(&r.detail, "round %d\n", round);
		strbuf_printf(&r.transcript, "S: 220 h ESMTP\r\n");
		assert_non_null(result_tls(&r, 0));
		result_raise(&r, STATE_WARNING, "round %d", round);
		result_perf(&r, "time", 0.5, "s", 6, NULL, NULL);
		result_free(&r);
		assert_null(r.tls);
		assert_null(r.children);
		result_free(&r);
	}
}

/* Sequences of findings and the state they leave: raising never lowers. */
static void test_raise_never_lowers(void **state)
{
	static const struct {
		enum state seq[5];
		int n;
		enum state want;
	} t[] = {
		{ { O }, 1, O },
		{ { W }, 1, W },
		{ { U }, 1, U },
		{ { C }, 1, C },
		{ { C, O }, 2, C },
		{ { C, W }, 2, C },
		{ { C, U }, 2, C },
		{ { W, O }, 2, W },
		{ { W, U }, 2, W },
		{ { U, O }, 2, U },
		{ { U, W }, 2, W },
		{ { O, U, W, U, O }, 5, W },
		{ { U, W, C, W, U }, 5, C },
	};

	(void)state;
	for (size_t i = 0; i < N(t); i++) {
		struct result r;
		enum state prev = STATE_OK;

		result_init(&r, "PORT", "h", 25);
		for (int k = 0; k < t[i].n; k++) {
			result_raise(&r, t[i].seq[k], "finding %d", k);
			/* never better than before */
			assert_int_equal(state_worst(r.state, prev), r.state);
			prev = r.state;
		}
		if (r.state != t[i].want)
			fail_msg("case %zu: %s, want %s", i, state_name(r.state),
				 state_name(t[i].want));
		/* each finding is kept with its own state and text */
		assert_int_equal(r.nproblems, t[i].n);
		for (int k = 0; k < t[i].n; k++) {
			char want[32];

			snprintf(want, sizeof(want), "finding %d", k);
			assert_int_equal(r.problems[k].state, t[i].seq[k]);
			assert_string_equal(r.problems[k].text, want);
		}
		result_free(&r);
	}
}

/* Past RESULT_MAX_PROBLEMS findings are dropped, but their state still
 * counts: a CRITICAL found ninth must not leave the check at WARNING. */
static void test_raise_cap(void **state)
{
	struct result r;

	(void)state;
	result_init(&r, "RELAY", "h", 25);
	for (int i = 0; i < RESULT_MAX_PROBLEMS; i++)
		result_raise(&r, STATE_WARNING, "warning %d", i);
	assert_int_equal(r.nproblems, RESULT_MAX_PROBLEMS);
	for (int i = 0; i < 3 * RESULT_MAX_PROBLEMS; i++)
		result_raise(&r, i == 5 ? STATE_CRITICAL : STATE_UNKNOWN, "extra %d", i);
	assert_int_equal(r.state, STATE_CRITICAL);
	assert_int_equal(r.nproblems, RESULT_MAX_PROBLEMS);
	for (int i = 0; i < RESULT_MAX_PROBLEMS; i++) {
		char want[32];

		snprintf(want, sizeof(want), "warning %d", i);
		assert_string_equal(r.problems[i].text, want);
		assert_int_equal(r.problems[i].state, STATE_WARNING);
	}
	/* the fields after the array are intact */
	assert_true(r.t.dns < 0 && r.t.total < 0);
	assert_int_equal(r.nperf, 0);
	result_free(&r);
}

/* A text longer than the slot is cut and terminated, whatever the format. */
static void test_raise_long_text(void **state)
{
	struct result r;
	char big[2000];

	(void)state;
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	result_init(&r, "BANNER", "h", 25);
	result_raise(&r, STATE_CRITICAL, "greeting '%s' too long", big);
	assert_int_equal(strlen(r.problems[0].text), sizeof(r.problems[0].text) - 1);
	assert_memory_equal(r.problems[0].text, "greeting 'xxx", 13);
	result_raise(&r, STATE_WARNING, "%s", "");
	assert_string_equal(r.problems[1].text, "");
	assert_int_equal(r.nproblems, 2);
	result_free(&r);
}

static void test_perf_item(void **state)
{
	struct result r;
	struct range warn, crit, unset = { 0 };
	char why[64], label[64], longlabel[100];

	(void)state;
	assert_int_equal(range_parse("5", &warn, why, sizeof(why)), 0);
	assert_int_equal(range_parse("@10:20", &crit, why, sizeof(why)), 0);
	result_init(&r, "PORT", "h", 25);

	/* the label is copied: the caller's buffer may change afterwards */
	snprintf(label, sizeof(label), "connect");
	result_perf(&r, label, 0.25, "s", 6, &warn, &crit);
	memset(label, 'Z', sizeof(label) - 1);
	assert_string_equal(r.perf[0].label, "connect");
	assert_true(r.perf[0].value == 0.25);
	assert_string_equal(r.perf[0].uom, "s");
	assert_int_equal(r.perf[0].decimals, 6);
	assert_string_equal(r.perf[0].warn, "5");
	assert_string_equal(r.perf[0].crit, "@10:20");
	assert_true(r.perf[0].has_min);
	assert_true(r.perf[0].min == 0);

	/* no uom, no thresholds, unset thresholds: all empty, never NULL */
	result_perf(&r, "size", 10240000, NULL, 0, NULL, NULL);
	assert_string_equal(r.perf[1].uom, "");
	assert_string_equal(r.perf[1].warn, "");
	assert_string_equal(r.perf[1].crit, "");
	result_perf(&r, "days", 30, "", 0, &unset, &unset);
	assert_string_equal(r.perf[2].warn, "");
	assert_string_equal(r.perf[2].crit, "");

	/* a long label is cut, terminated */
	memset(longlabel, 'l', sizeof(longlabel) - 1);
	longlabel[sizeof(longlabel) - 1] = '\0';
	result_perf(&r, longlabel, 1, "B", 0, NULL, NULL);
	assert_int_equal(strlen(r.perf[3].label), sizeof(r.perf[3].label) - 1);
	assert_int_equal(r.nperf, 4);
	result_free(&r);
}

/* Past RESULT_MAX_PERF items are dropped; nothing is written beyond. */
static void test_perf_cap(void **state)
{
	struct result r;

	(void)state;
	result_init(&r, "CERT", "h", 25);
	for (int i = 0; i < RESULT_MAX_PERF + 10; i++) {
		char label[16];

		snprintf(label, sizeof(label), "p%d", i);
		result_perf(&r, label, i, "", 0, NULL, NULL);
	}
	assert_int_equal(r.nperf, RESULT_MAX_PERF);
	assert_string_equal(r.perf[RESULT_MAX_PERF - 1].label, "p15");
	assert_true(r.perf[RESULT_MAX_PERF - 1].value == RESULT_MAX_PERF - 1);
	/* timings on a full result add nothing either */
	r.t.dns = r.t.connect = r.t.total = 0.1;
	result_perf_timings(&r, "time", NULL, NULL);
	assert_int_equal(r.nperf, RESULT_MAX_PERF);
	result_free(&r);
}

/* Only phases reached (>= 0) become perfdata, in the fixed phase order, and
 * the thresholds go to the one label named. */
static void test_perf_timings(void **state)
{
	static const struct {
		struct timings t;
		const char *thresholded;
		const char *labels;  /* expected, space-separated */
		const char *with_th; /* the label carrying thresholds, or NULL */
	} c[] = {
		{ { -1, -1, -1, -1, -1, -1, -1 }, "time", "", NULL },
		{ { 0.01, -1, -1, -1, -1, -1, 0.01 }, "time", "dns time", "time" },
		/* 0 s is reached (a cached answer), not "missing" */
		{ { 0, 0.002, -1, -1, -1, -1, 0.003 }, "connect", "dns connect time", "connect" },
		{ { -1, 0.002, 0.1, 0.2, -1, -1, 0.3 }, NULL, "connect banner ehlo time", NULL },
		{ { 0.001, 0.002, 0.1, 0.2, 0.25, 0.3, 0.4 },
		  "handshake",
		  "dns connect banner ehlo starttls handshake time",
		  "handshake" },
		/* thresholds named for a phase not reached go nowhere */
		{ { -1, 0.002, -1, -1, -1, -1, 0.01 }, "banner", "connect time", NULL },
		{ { -1, 0.002, -1, -1, -1, -1, 0.01 }, "nonsense", "connect time", NULL },
		/* only the total: a check that failed before DNS still reports time */
		{ { -1, -1, -1, -1, -1, -1, 5.0 }, "time", "time", "time" },
	};
	struct range warn, crit;
	char why[64];

	(void)state;
	assert_int_equal(range_parse("1", &warn, why, sizeof(why)), 0);
	assert_int_equal(range_parse("2", &crit, why, sizeof(why)), 0);
	for (size_t i = 0; i < N(c); i++) {
		struct result r;
		char got[128] = "";

		result_init(&r, "BANNER", "h", 25);
		r.t = c[i].t;
		result_perf_timings(&r, c[i].thresholded, &warn, &crit);
		for (int k = 0; k < r.nperf; k++) {
			const struct perf *p = &r.perf[k];
			bool th = c[i].with_th && strcmp(p->label, c[i].with_th) == 0;

			snprintf(got + strlen(got), sizeof(got) - strlen(got), "%s%s", k ? " " : "",
				 p->label);
			assert_string_equal(p->uom, "s");
			assert_int_equal(p->decimals, 6);
			assert_true(p->value >= 0);
			if (strcmp(p->warn, th ? "1" : "") != 0 ||
			    strcmp(p->crit, th ? "2" : "") != 0)
				fail_msg("case %zu label %s: warn '%s' crit '%s'", i, p->label,
					 p->warn, p->crit);
		}
		if (strcmp(got, c[i].labels) != 0)
			fail_msg("case %zu: labels '%s', want '%s'", i, got, c[i].labels);
		result_free(&r);
	}
}

/* TLS facts: none until asked for, then both slots at once, zeroed, stable. */
static void test_tls_lazy(void **state)
{
	struct result r;
	struct tls_facts *a, *b;

	(void)state;
	result_init(&r, "STARTTLS", "h", 25);
	assert_null(r.tls);
	a = result_tls(&r, 0);
	assert_non_null(a);
	assert_ptr_equal(a, r.tls);
	for (size_t k = 0; k < sizeof(*a); k++)
		if (((const unsigned char *)a)[k] != 0)
			fail_msg("slot 0 byte %zu not zero", k);
	snprintf(a->cipher, sizeof(a->cipher), "TLS_AES_256_GCM_SHA384");
	a->ncerts = 2;
	/* slot 1 came with the first call; asking again allocates nothing */
	b = result_tls(&r, 1);
	assert_ptr_equal(b, a + 1);
	assert_int_equal(b->ncerts, 0);
	b->version = 0x0303;
	assert_ptr_equal(result_tls(&r, 0), a);
	assert_string_equal(result_tls(&r, 0)->cipher, "TLS_AES_256_GCM_SHA384");
	assert_int_equal(result_tls(&r, 1)->version, 0x0303);
	result_free(&r);
	assert_null(r.tls);
	/* slot 1 first works as well */
	result_init(&r, "CERT", "h", 25);
	b = result_tls(&r, 1);
	assert_non_null(r.tls);
	assert_ptr_equal(b, r.tls + 1);
	result_free(&r);
}

/* The result tree of -A / -M.  lib/result.c only owns and frees the tree;
 * the parent's state is folded by the caller (run_jobs in checks/probe.c:
 * r->state = state_worst(r->state, child->state) for each child), so that
 * is what is done here, starting from the parent's own state. */
static void test_tree(void **state)
{
	static const struct {
		enum state parent; /* the parent's own, before the fold */
		enum state kids[4];
		int n;
		enum state want;
	} t[] = {
		{ O, { O, O, O }, 3, O },
		{ O, { O, U }, 2, U },
		{ O, { U, W, O }, 3, W },
		{ O, { W, C, U, O }, 4, C },
		{ O, { C }, 1, C },
		/* the parent's own UNKNOWN (e.g. out of memory) survives OK children */
		{ U, { O, O }, 2, U },
		{ U, { W, O }, 2, W },
		{ C, { O, O }, 2, C },
		{ O, { O }, 0, O },
	};

	(void)state;
	for (size_t i = 0; i < N(t); i++) {
		struct result r;

		result_init(&r, "BANNER", "mx.example.org", 25);
		if (t[i].parent != STATE_OK)
			result_raise(&r, t[i].parent, "parent");
		/* calloc as probe.c's children() does, one for n == 0 */
		r.children = calloc(t[i].n ? (size_t)t[i].n : 1, sizeof(*r.children));
		assert_non_null(r.children);
		r.nchildren = (size_t)t[i].n;
		for (int k = 0; k < t[i].n; k++) {
			struct result *ch = &r.children[k];

			result_init(ch, r.check, r.host, r.port);
			snprintf(ch->address, sizeof(ch->address), "192.0.2.%d", k + 1);
			if (t[i].kids[k] != STATE_OK)
				result_raise(ch, t[i].kids[k], "child %d", k);
			/* give every child something to free */
			strbuf_printf(&ch->detail, "child %d\n", k);
			strbuf_printf(&ch->transcript, "S: 220\r\n");
			if (k % 2 == 0)
				assert_non_null(result_tls(ch, 0));
		}
		for (size_t k = 0; k < r.nchildren; k++)
			r.state = state_worst(r.state, r.children[k].state);
		if (r.state != t[i].want)
			fail_msg("case %zu: parent %s, want %s", i, state_name(r.state),
				 state_name(t[i].want));
		/* a child's own findings stay the child's */
		for (size_t k = 0; k < r.nchildren; k++)
			assert_int_equal(r.children[k].nproblems, t[i].kids[k] != STATE_OK);
		/* one free for the whole tree; LSan reports any child left behind */
		result_free(&r);
		assert_null(r.children);
		assert_int_equal(r.nchildren, 0);
		result_free(&r);
	}
}

/* result_free recurses: grandchildren (not made by the plugins today, but
 * the struct allows them) are freed too. */
static void test_tree_nested(void **state)
{
	struct result r;

	(void)state;
	result_init(&r, "PORT", "h", 25);
	r.children = calloc(2, sizeof(*r.children));
	assert_non_null(r.children);
	r.nchildren = 2;
	for (int k = 0; k < 2; k++) {
		struct result *ch = &r.children[k];

		result_init(ch, "PORT", "h", 25);
		ch->children = calloc(3, sizeof(*ch->children));
		assert_non_null(ch->children);
		ch->nchildren = 3;
		for (int g = 0; g < 3; g++) {
			result_init(&ch->children[g], "PORT", "h", 25);
			strbuf_printf(&ch->children[g].detail, "grandchild %d.%d", k, g);
			assert_non_null(result_tls(&ch->children[g], 1));
		}
	}
	result_free(&r);
	assert_null(r.children);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_state_worst_pairs),
		cmocka_unit_test(test_state_worst_fold_order),
		cmocka_unit_test(test_state_name),
		cmocka_unit_test(test_init),
		cmocka_unit_test(test_result_free),
		cmocka_unit_test(test_raise_never_lowers),
		cmocka_unit_test(test_raise_cap),
		cmocka_unit_test(test_raise_long_text),
		cmocka_unit_test(test_perf_item),
		cmocka_unit_test(test_perf_cap),
		cmocka_unit_test(test_perf_timings),
		cmocka_unit_test(test_tls_lazy),
		cmocka_unit_test(test_tree),
		cmocka_unit_test(test_tree_nested),
	};
	return cmocka_run_group_tests_name("result", tests, NULL, NULL);
}
