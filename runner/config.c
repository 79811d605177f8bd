/* config.c - see config.h.
 *
 * Two passes over the text, both with libyaml.  The first pulls events only
 * to bound the input's shape: libyaml's scanner is quadratic in nesting
 * depth (200000 '[' took four minutes) and its composer in the number of
 * anchors, so a hostile 1 MiB file could stall the runner before we saw a
 * single key.  The second builds libyaml's node tree, which keeps every
 * node's position; we walk it against fixed key tables, so each error can
 * name file:line:column and the keys that would have been accepted. */
#include "runner/config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <yaml.h>

#include "cli/options.h"
#include "lib/unittest.h"

#define CONFIG_MAX_BYTES   (1024 * 1024)
#define CONFIG_MAX_TARGETS 10000
/* Our schema nests four deep (targets, a target, labels); the margin only
 * lets us report a misplaced key instead of a depth error. */
#define CONFIG_MAX_DEPTH   16
#define CONFIG_MAX_ANCHORS 100
#define CONFIG_MAX_ALIASES 1000
#define CONFIG_MAX_MODULES 256
#define MAX_KEYS	   32
#define MAX_SUBKEYS	   4

struct schema;

struct loader {
	const char *name;	    /* the file, for messages */
	const unsigned char *input; /* for reader errors, which carry an offset only */
	size_t len;
	yaml_document_t *doc;
	const struct schema *schema;	    /* the per-target keys */
	const struct schema *module_schema; /* those less host, mx and name */
	char *err;
	size_t err_size;
};

/* ---- messages ---------------------------------------------------------- */

static int fail_at(struct loader *ld, size_t line, size_t column, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int fail_at(struct loader *ld, size_t line, size_t column, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(ld->err, ld->err_size, "%s:%zu:%zu: %s", ld->name, line + 1, column + 1, msg);
	return -1;
}

#define fail(ld, node, ...)                                                                        \
	fail_at((ld), (node)->start_mark.line, (node)->start_mark.column, __VA_ARGS__)

/* A value quoted back to the user: capped, control bytes shown as '?', so a
 * stray binary blob cannot garble the terminal or the log. */
static const char *shown(const yaml_node_t *n, char *buf, size_t size)
{
	return opt_shown((const char *)n->data.scalar.value, n->data.scalar.length, buf, size);
}

/* "a mapping", "a list", "'text'", "nothing" - what the user wrote instead. */
static const char *describe(const yaml_node_t *n, char *buf, size_t size)
{
	char tmp[64];

	if (n->type == YAML_MAPPING_NODE)
		return "a mapping";
	if (n->type == YAML_SEQUENCE_NODE)
		return "a list";
	snprintf(buf, size, "'%s'", shown(n, tmp, sizeof(tmp)));
	return buf;
}

static void join_names(const char *const *names, size_t n, char *buf, size_t size)
{
	size_t used = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < n && used < size; i++) {
		snprintf(buf + used, size - used, "%s%s", i ? ", " : "", names[i]);
		used += strlen(buf + used);
	}
}

/* ---- scalars ----------------------------------------------------------- */

static const char *sval(const yaml_node_t *n)
{
	return (const char *)n->data.scalar.value;
}

/* YAML 1.1's null: an empty plain scalar, ~ or null.  Quoted, it is text. */
static bool is_null(const yaml_node_t *n)
{
	static const char *const nulls[] = { "", "~", "null", "Null", "NULL" };

	if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return false;
	for (size_t i = 0; i < sizeof(nulls) / sizeof(nulls[0]); i++)
		if (strcmp(sval(n), nulls[i]) == 0)
			return true;
	return false;
}

/* A scalar C can read as a string: "\0" in a quoted scalar would make
 * "25\0junk" read as 25. */
static bool is_text(const yaml_node_t *n)
{
	return n->type == YAML_SCALAR_NODE && strlen(sval(n)) == n->data.scalar.length;
}

/* The value must be a scalar; "expect" completes "'KEY' must be ...". */
static int need_scalar(struct loader *ld, const yaml_node_t *n, const char *key, const char *expect)
{
	char b[64];

	if (is_text(n))
		return 0;
	if (n->type == YAML_SCALAR_NODE)
		return fail(ld, n, "'%s' must be %s, not text with a NUL byte", key, expect);
	return fail(ld, n, "'%s' must be %s, not %s", key, expect, describe(n, b, sizeof(b)));
}

static int need_mapping(struct loader *ld, const yaml_node_t *n, const char *key,
			const char *const *names, size_t nnames)
{
	char list[512], b[64];

	if (n->type == YAML_MAPPING_NODE)
		return 0;
	join_names(names, nnames, list, sizeof(list));
	return fail(ld, n, "'%s' must be a mapping of %s, not %s", key, list,
		    describe(n, b, sizeof(b)));
}

static int set_string(struct loader *ld, const yaml_node_t *n, const char *s, size_t len,
		      char **slot)
{
	char *copy = strndup(s, len);

	if (copy == NULL)
		return fail(ld, n, "out of memory");
	free(*slot);
	*slot = copy;
	return 0;
}

/* ---- mappings ---------------------------------------------------------- */

typedef int (*pair_fn)(struct loader *ld, size_t idx, const yaml_node_t *key,
		       const yaml_node_t *val, void *ctx);

struct keyset {
	const char *where; /* "in target", "at the top level", for messages */
	const char *const *names;
	size_t n;
};

static size_t key_index(const struct keyset *ks, const yaml_node_t *key)
{
	for (size_t i = 0; i < ks->n && is_text(key); i++)
		if (strcmp(sval(key), ks->names[i]) == 0)
			return i;
	return ks->n;
}

/* Call fn for each pair of mapping m.  Keys must be plain strings from ks,
 * each at most once; values must not be null.  seen[i] (ks->n entries, may
 * be NULL) gets the key node of names[i], for checks across keys. */
static int walk_mapping(struct loader *ld, const yaml_node_t *m, const struct keyset *ks,
			const yaml_node_t **seen, pair_fn fn, void *ctx)
{
	const yaml_node_t *first[MAX_KEYS] = { NULL };
	char list[512], b[64];

	for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top;
	     p++) {
		yaml_node_t *key = yaml_document_get_node(ld->doc, p->key);
		yaml_node_t *val = yaml_document_get_node(ld->doc, p->value);
		size_t i;

		if (key->type != YAML_SCALAR_NODE)
			return fail(ld, key, "keys must be plain words, not %s",
				    describe(key, b, sizeof(b)));
		i = key_index(ks, key);
		if (i == ks->n) {
			join_names(ks->names, ks->n, list, sizeof(list));
			return fail(ld, key, "unknown key '%s' %s (expected one of: %s)",
				    shown(key, b, sizeof(b)), ks->where, list);
		}
		if (first[i] != NULL)
			return fail(ld, key, "duplicate key '%s' %s (first at line %zu)",
				    ks->names[i], ks->where, first[i]->start_mark.line + 1);
		first[i] = key;
		if (is_null(val))
			return fail(ld, key, "'%s' %s needs a value", ks->names[i], ks->where);
		if (fn(ld, i, key, val, ctx) < 0)
			return -1;
	}
	if (seen != NULL)
		memcpy(seen, first, ks->n * sizeof(first[0]));
	return 0;
}

/* ---- per-target keys: the option table's YAML keys ---------------------- */

/* A target's key: one row ("port"), or a mapping of rows ("relay" holds
 * relay.from, relay.to, relay.thorough). */
struct tkey {
	char name[24];
	const struct opt *row;
	size_t nsub;
	const struct opt *sub[MAX_SUBKEYS];
	const char *subname[MAX_SUBKEYS];
};

struct schema {
	size_t n;
	struct tkey k[MAX_KEYS];
	const char *names[MAX_KEYS];
};

/* The keys in table order, which is the order messages list them in. */
static void schema_build(struct schema *sc)
{
	memset(sc, 0, sizeof(*sc));
	for (size_t i = 0; i < option_count; i++) {
		const struct opt *o = &option_table[i];
		const char *dot;
		size_t len, j;

		if (o->yaml == NULL)
			continue;
		dot = strchr(o->yaml, '.');
		len = dot ? (size_t)(dot - o->yaml) : strlen(o->yaml);
		for (j = 0; j < sc->n; j++)
			if (strlen(sc->k[j].name) == len &&
			    strncmp(sc->k[j].name, o->yaml, len) == 0)
				break;
		if (j == sc->n) {
			if (sc->n == MAX_KEYS)
				continue;
			snprintf(sc->k[j].name, sizeof(sc->k[j].name), "%.*s", (int)len, o->yaml);
			sc->names[j] = sc->k[j].name;
			sc->n++;
		}
		if (dot == NULL) {
			sc->k[j].row = o;
		} else if (sc->k[j].nsub < MAX_SUBKEYS) {
			sc->k[j].subname[sc->k[j].nsub] = dot + 1;
			sc->k[j].sub[sc->k[j].nsub++] = o;
		}
	}
}

/* A module's keys: a target's, less what the probe's target= gives. */
static void module_schema_build(struct schema *msc, const struct schema *sc)
{
	static const char *const not_in_module[] = { "host", "mx", "name" };

	memset(msc, 0, sizeof(*msc));
	for (size_t i = 0; i < sc->n; i++) {
		bool skip = false;

		for (size_t k = 0; k < sizeof(not_in_module) / sizeof(not_in_module[0]); k++)
			skip |= strcmp(sc->k[i].name, not_in_module[k]) == 0;
		if (skip)
			continue;
		msc->k[msc->n] = sc->k[i];
		msc->names[msc->n] = msc->k[msc->n].name;
		msc->n++;
	}
}

static const struct opt *row_of(enum runner_key rk)
{
	for (size_t i = 0; i < option_count; i++)
		if (option_table[i].rk == rk)
			return &option_table[i];
	return NULL;
}

/* One target being built: defaults applied first, then its own mapping. */
struct tctx {
	struct target *t;
	const struct schema *sc;
	const yaml_node_t *name_node; /* the target's own name:, for duplicate messages */
	bool v4_here, v6_here;	      /* ipv4/ipv6: true in the mapping being applied */
	char *label_value;	      /* where a label's value is checked into */
};

static void *target_slot(void *ctx, const struct opt *o)
{
	struct tctx *c = ctx;

	switch (o->rk) {
	case RK_NAME:
		return &c->t->name;
	case RK_CHECKS:
		return &c->t->checks;
	case RK_LABELS:
		return &c->label_value;
	default:
		return NULL;
	}
}

UNITTEST int check_kind_parse(const char *s)
{
	for (int i = 0; i < CK_COUNT; i++)
		if (strcmp(s, check_names[i]) == 0)
			return i;
	return -1;
}

const char *check_kind_name(enum check_kind k)
{
	return (unsigned)k < CK_COUNT ? check_names[k] : "unknown";
}

static int get_checks(struct loader *ld, const yaml_node_t *n, unsigned *slot)
{
	char list[128], b[64];
	unsigned bits = 0;

	join_names(check_names, CK_COUNT, list, sizeof(list));
	if (n->type != YAML_SEQUENCE_NODE)
		return fail(ld, n, "'checks' must be a list of checks (%s), not %s", list,
			    describe(n, b, sizeof(b)));
	for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top;
	     it++) {
		yaml_node_t *item = yaml_document_get_node(ld->doc, *it);
		int k = is_text(item) ? check_kind_parse(sval(item)) : -1;

		if (k < 0)
			return fail(ld, item, "unknown check %s in 'checks' (expected one of: %s)",
				    describe(item, b, sizeof(b)), list);
		if (bits & (1u << k))
			return fail(ld, item, "check '%s' is listed twice in 'checks'",
				    check_names[k]);
		bits |= 1u << k;
	}
	if (bits == 0)
		return fail(ld, n, "'checks' must list at least one check (%s)", list);
	*slot = bits;
	return 0;
}

/* "PIPELINING, SIZE" as the plugin takes it, or a list [PIPELINING, SIZE]:
 * each item checked as the option's value, then all of them as one. */
static int get_keyword_list(struct loader *ld, const yaml_node_t *n, const struct opt *o,
			    const struct opt_dest *d)
{
	char list[1024] = "", msg[1024];
	size_t used = 0;

	for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top;
	     it++) {
		yaml_node_t *item = yaml_document_get_node(ld->doc, *it);
		struct check_cfg one = { 0 };
		struct opt_dest od = { &one, NULL, NULL };
		int rc;

		if (need_scalar(ld, item, o->yaml, "a list of EHLO keywords") < 0)
			return -1;
		rc = opt_apply(o, sval(item), item->data.scalar.length, FROM_YAML, NULL, &od, msg,
			       sizeof(msg));
		if (rc == 0 && used + strlen(one.require_ext) + 2 > sizeof(list))
			rc = fail(ld, item, "'%s' is longer than %zu bytes", o->yaml,
				  sizeof(list) - 1);
		else if (rc < 0)
			fail(ld, item, "%s", msg);
		else
			used += (size_t)snprintf(list + used, sizeof(list) - used, "%s%s",
						 used ? "," : "", one.require_ext);
		options_free(&one);
		if (rc < 0)
			return -1;
	}
	if (used == 0)
		return fail(ld, n, "'%s' must list at least one EHLO keyword", o->yaml);
	if (opt_apply(o, list, used, FROM_YAML, NULL, d, msg, sizeof(msg)) < 0)
		return fail(ld, n, "%s", msg);
	return 0;
}

/* Prometheus label names; the runner's own labels cannot be redefined, or
 * the series would carry the same label twice ("version" is on
 * mtaprobe_tls_version_info, "kind" and "step" on mtaprobe_check_error_info,
 * "phase" on mtaprobe_phase_duration_seconds, "outcome" on
 * mtaprobe_relay_tests, "mode" on mtaprobe_sts_mode_info). */
static const char *label_name_problem(const char *s, size_t len)
{
	static const char *const builtin[] = { "target", "check",   "host", "address",
					       "port",	 "version", "kind", "step",
					       "phase",	 "outcome", "mode" };
	static const char first[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_";

	if (len == 0 || len > 100 || strchr(first, s[0]) == NULL ||
	    strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_0123456789") != len)
		return "label names must match [a-zA-Z_][a-zA-Z0-9_]* (at most 100 characters)";
	if (s[0] == '_' && s[1] == '_')
		return "label names starting with '__' are reserved by Prometheus";
	for (size_t i = 0; i < sizeof(builtin) / sizeof(builtin[0]); i++)
		if (strcmp(s, builtin[i]) == 0)
			return "it is one of mtaprobe's own labels (target, check, host, address, "
			       "port, version, kind, step, phase, outcome, mode)";
	return NULL;
}

/* Set name=value on t (value is taken over): a name already there (from
 * defaults) is replaced. */
static int set_label(struct loader *ld, const yaml_node_t *key, char *value, struct target *t)
{
	int i;

	for (i = 0; i < t->nlabels; i++)
		if (strcmp(t->labels[i].name, sval(key)) == 0)
			break;
	if (i == CONFIG_MAX_LABELS) {
		free(value);
		return fail(ld, key, "too many labels (at most %d per target, defaults included)",
			    CONFIG_MAX_LABELS);
	}
	if (i == t->nlabels) {
		if (set_string(ld, key, sval(key), key->data.scalar.length, &t->labels[i].name) <
		    0) {
			free(value);
			return -1;
		}
		t->nlabels++;
	}
	free(t->labels[i].value);
	t->labels[i].value = value;
	return 0;
}

static int label_pair(struct loader *ld, const yaml_node_t *m, yaml_node_pair_t *p,
		      const struct opt *o, struct tctx *c)
{
	yaml_node_t *key = yaml_document_get_node(ld->doc, p->key);
	yaml_node_t *val = yaml_document_get_node(ld->doc, p->value);
	struct opt_dest d = { &c->t->cfg, target_slot, c };
	char b[64], what[160], msg[1024], *value;
	const char *problem;

	if (key->type != YAML_SCALAR_NODE)
		return fail(ld, key, "label names must be plain words, not %s",
			    describe(key, b, sizeof(b)));
	problem = label_name_problem(sval(key), key->data.scalar.length);
	if (problem != NULL)
		return fail(ld, key, "bad label name '%s': %s", shown(key, b, sizeof(b)), problem);
	for (yaml_node_pair_t *q = m->data.mapping.pairs.start; q < p; q++) {
		yaml_node_t *prev = yaml_document_get_node(ld->doc, q->key);

		if (strcmp(sval(prev), sval(key)) == 0)
			return fail(ld, key, "duplicate label '%s' (first at line %zu)", sval(key),
				    prev->start_mark.line + 1);
	}
	if (is_null(val))
		return fail(ld, key, "label '%s' needs a value", sval(key));
	snprintf(what, sizeof(what), "labels.%s", sval(key));
	if (need_scalar(ld, val, what, opt_expect(o)) < 0)
		return -1;
	if (opt_apply(o, sval(val), val->data.scalar.length, FROM_YAML, what, &d, msg,
		      sizeof(msg)) < 0)
		return fail(ld, val, "%s", msg);
	value = c->label_value; /* set_label takes it over */
	c->label_value = NULL;
	return set_label(ld, key, value, c->t);
}

static int get_labels(struct loader *ld, const yaml_node_t *n, const struct opt *o, struct tctx *c)
{
	char b[64];

	if (n->type != YAML_MAPPING_NODE)
		return fail(ld, n, "'labels' must be a mapping of label names to values, not %s",
			    describe(n, b, sizeof(b)));
	for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++)
		if (label_pair(ld, n, p, o, c) < 0)
			return -1;
	return 0;
}

/* ipv4: true / ipv6: true pick a family; false undoes only its own (so a
 * target can say ipv4: false to drop an ipv4: true from defaults); both
 * true in one mapping is a contradiction. */
static int check_family(struct loader *ld, const yaml_node_t *n, const struct opt *o,
			struct tctx *c)
{
	bool on = c->t->cfg.family == o->val;
	bool v6 = o->val == AF_INET6;

	if (on && (v6 ? c->v4_here : c->v6_here))
		return fail(ld, n,
			    "'ipv4' and 'ipv6' are both true (leave both out to use either)");
	*(v6 ? &c->v6_here : &c->v4_here) = on;
	return 0;
}

/* One value of a target's (or defaults:') key for row o. */
static int apply_row(struct loader *ld, struct tctx *c, const struct opt *o, const char *key,
		     const yaml_node_t *val)
{
	struct opt_dest d = { &c->t->cfg, target_slot, c };
	struct check_cfg *cfg = &c->t->cfg;
	char msg[1024];

	switch (o->type) {
	case OPT_CHECKS:
		return get_checks(ld, val, &c->t->checks);
	case OPT_LABELS:
		return get_labels(ld, val, o, c);
	case OPT_KEYWORDS:
		if (val->type == YAML_SEQUENCE_NODE)
			return get_keyword_list(ld, val, o, &d);
		if (val->type != YAML_SCALAR_NODE)
			return need_scalar(ld, val, key,
					   "EHLO keywords (\"PIPELINING,SIZE\" or a list)");
		break;
	default:
		break;
	}
	if (need_scalar(ld, val, key, opt_expect(o)) < 0)
		return -1;
	if (opt_apply(o, sval(val), val->data.scalar.length, FROM_YAML, key, &d, msg, sizeof(msg)) <
	    0)
		return fail(ld, val, "%s", msg);
	/* host and mx are one choice: setting one drops the other */
	if (o->rk == RK_NONE && o->off == offsetof(struct check_cfg, host)) {
		free((char *)cfg->mx_domain);
		cfg->mx_domain = NULL;
	} else if (o->rk == RK_NONE && o->off == offsetof(struct check_cfg, mx_domain)) {
		free((char *)cfg->host);
		cfg->host = NULL;
	}
	if (o->rk == RK_NAME)
		c->name_node = val;
	return o->type == OPT_FAMILY ? check_family(ld, val, o, c) : 0;
}

struct sub_ctx {
	struct tctx *c;
	const struct tkey *k;
};

static int sub_pair(struct loader *ld, size_t idx, const yaml_node_t *key, const yaml_node_t *val,
		    void *ctx)
{
	struct sub_ctx *s = ctx;

	(void)key;
	return apply_row(ld, s->c, s->k->sub[idx], s->k->sub[idx]->yaml, val);
}

static int target_pair(struct loader *ld, size_t idx, const yaml_node_t *key,
		       const yaml_node_t *val, void *ctx)
{
	struct tctx *c = ctx;
	const struct tkey *k = &c->sc->k[idx];
	char where[48];
	struct keyset ks = { where, k->subname, k->nsub };
	struct sub_ctx s = { c, k };

	(void)key;
	if (k->row != NULL)
		return apply_row(ld, c, k->row, k->name, val);
	snprintf(where, sizeof(where), "in '%s'", k->name);
	if (need_mapping(ld, val, k->name, k->subname, k->nsub) < 0)
		return -1;
	return walk_mapping(ld, val, &ks, NULL, sub_pair, &s);
}

/* Apply one mapping of per-target keys (a target's, or defaults:) to c->t. */
static int apply_target_map(struct loader *ld, const yaml_node_t *m, const char *what,
			    struct tctx *c)
{
	char where[96];
	struct keyset ks = { where, c->sc->names, c->sc->n };
	const yaml_node_t *seen[MAX_KEYS];
	size_t host = c->sc->n, mx = c->sc->n;

	snprintf(where, sizeof(where), "in %s", what);
	c->v4_here = c->v6_here = false;
	if (walk_mapping(ld, m, &ks, seen, target_pair, c) < 0)
		return -1;
	for (size_t i = 0; i < c->sc->n; i++) {
		if (strcmp(c->sc->names[i], "host") == 0)
			host = i;
		if (strcmp(c->sc->names[i], "mx") == 0)
			mx = i;
	}
	if (host < c->sc->n && mx < c->sc->n && seen[host] != NULL && seen[mx] != NULL)
		return fail(ld, m, "%s has both 'host' and 'mx'", what);
	return 0;
}

void target_defaults(struct target *t)
{
	struct tctx c = { .t = t };
	struct opt_dest d = { &t->cfg, target_slot, &c };

	memset(t, 0, sizeof(*t));
	options_defaults(BIN_PLUGINS | BIN_RUNNER, &d);
}

static void target_free(struct target *t)
{
	options_free(&t->cfg);
	free(t->name);
	for (int i = 0; i < t->nlabels; i++) {
		free(t->labels[i].name);
		free(t->labels[i].value);
	}
	memset(t, 0, sizeof(*t));
}

/* ---- targets ----------------------------------------------------------- */

static int load_target(struct loader *ld, const yaml_node_t *item, const yaml_node_t *defaults,
		       struct target *t, yaml_mark_t *name_at)
{
	struct tctx c = { .t = t, .sc = ld->schema };
	const char *dflt;
	char list[512], b[64];

	target_defaults(t);
	if (item->type != YAML_MAPPING_NODE) {
		join_names(ld->schema->names, ld->schema->n, list, sizeof(list));
		return fail(ld, item, "each target must be a mapping of %s, not %s", list,
			    describe(item, b, sizeof(b)));
	}
	if (defaults != NULL && apply_target_map(ld, defaults, "defaults", &c) < 0)
		return -1;
	c.name_node = NULL; /* a name from defaults is not this target's position */
	if (apply_target_map(ld, item, "target", &c) < 0)
		return -1;
	if (t->cfg.host == NULL && t->cfg.mx_domain == NULL)
		return fail(ld, item, "target has neither 'host' nor 'mx'");
	dflt = t->cfg.host ? t->cfg.host : t->cfg.mx_domain;
	if (t->name == NULL && (t->name = strdup(dflt)) == NULL)
		return fail(ld, item, "out of memory");
	*name_at = (c.name_node ? c.name_node : item)->start_mark;
	return 0;
}

struct name_pos {
	const char *name;
	size_t index;
	yaml_mark_t mark;
};

static int name_pos_cmp(const void *a, const void *b)
{
	const struct name_pos *x = a, *y = b;
	int d = strcmp(x->name, y->name);

	if (d != 0)
		return d;
	return x->index < y->index ? -1 : x->index > y->index;
}

/* Target names are the "target" label, so two alike would merge series.
 * Sorted, every repeat follows an equal name; the earliest repeat in the
 * file is the one to report. */
static int check_unique_names(struct loader *ld, const struct config *cfg, const yaml_mark_t *marks)
{
	struct name_pos *v = calloc(cfg->ntargets, sizeof(*v));
	size_t best = cfg->ntargets, first = 0;

	if (v == NULL)
		return fail_at(ld, 0, 0, "out of memory");
	for (size_t i = 0; i < cfg->ntargets; i++)
		v[i] = (struct name_pos){ cfg->targets[i].name, i, marks[i] };
	qsort(v, cfg->ntargets, sizeof(*v), name_pos_cmp);
	for (size_t i = 1; i < cfg->ntargets; i++) {
		if (strcmp(v[i].name, v[i - 1].name) != 0)
			continue;
		if (best == cfg->ntargets || v[i].index < v[best].index)
			best = i;
	}
	if (best == cfg->ntargets) {
		free(v);
		return 0;
	}
	for (first = best; first > 0 && strcmp(v[first - 1].name, v[best].name) == 0; first--)
		;
	fail_at(ld, v[best].mark.line, v[best].mark.column,
		"duplicate target name '%s' (first at line %zu; names are the 'target' label "
		"and must be unique)",
		v[best].name, v[first].mark.line + 1);
	free(v);
	return -1;
}

static int load_targets(struct loader *ld, const yaml_node_t *seq, const yaml_node_t *defaults,
			struct config *cfg)
{
	size_t n;
	yaml_mark_t *marks;
	char b[64];
	int rc = 0;

	if (seq->type != YAML_SEQUENCE_NODE)
		return fail(ld, seq, "'targets' must be a list of targets, not %s",
			    describe(seq, b, sizeof(b)));
	n = (size_t)(seq->data.sequence.items.top - seq->data.sequence.items.start);
	if (n == 0)
		return fail(ld, seq, "'targets' must list at least one target");
	if (n > CONFIG_MAX_TARGETS)
		return fail(ld, seq, "too many targets: %zu (at most %d)", n, CONFIG_MAX_TARGETS);
	cfg->targets = calloc(n, sizeof(*cfg->targets));
	marks = calloc(n, sizeof(*marks));
	if (cfg->targets == NULL || marks == NULL) {
		free(marks);
		return fail(ld, seq, "out of memory");
	}
	for (size_t i = 0; i < n && rc == 0; i++) {
		yaml_node_t *item =
			yaml_document_get_node(ld->doc, seq->data.sequence.items.start[i]);

		cfg->ntargets = i + 1; /* so config_free frees a half-built one */
		rc = load_target(ld, item, defaults, &cfg->targets[i], &marks[i]);
	}
	if (rc == 0)
		rc = check_unique_names(ld, cfg, marks);
	free(marks);
	return rc;
}

/* ---- the top level ----------------------------------------------------- */

static const char *const top_keys[] = { "name",	       "defaults", "output",
					"concurrency", "targets",  "modules" };
enum { TOP_NAME, TOP_DEFAULTS, TOP_OUTPUT, TOP_CONCURRENCY, TOP_TARGETS, TOP_MODULES, TOP_KEYS };
static const char *const output_keys[] = { "format", "path" };

static void *top_slot(void *ctx, const struct opt *o)
{
	struct config *cfg = ctx;

	switch (o->rk) {
	case RK_NAME:
		return &cfg->name;
	case RK_FORMAT:
		return &cfg->format;
	case RK_OUTPUT:
		return &cfg->output_path;
	case RK_JOBS:
		return &cfg->concurrency;
	default:
		return NULL;
	}
}

/* A top-level value with the runner's own option row rk (-f, -o, -j). */
static int top_value(struct loader *ld, const yaml_node_t *val, const char *key, enum runner_key rk,
		     struct config *cfg)
{
	const struct opt *o = row_of(rk);
	struct opt_dest d = { NULL, top_slot, cfg };
	char msg[1024];

	if (need_scalar(ld, val, key, opt_expect(o)) < 0)
		return -1;
	if (opt_apply(o, sval(val), val->data.scalar.length, FROM_YAML, key, &d, msg, sizeof(msg)) <
	    0)
		return fail(ld, val, "%s", msg);
	return 0;
}

/* The config's name through the target name's row: the same bytes are
 * refused (control bytes, invalid UTF-8, empty, over 255 bytes).  The row's
 * messages call it a target name; here it is the config's. */
static int apply_name(const char *s, size_t len, struct config *cfg, char *msg, size_t size)
{
	const struct opt *o = row_of(RK_NAME);
	struct opt_dest d = { NULL, top_slot, cfg };
	const char *expect = opt_expect(o), *at;
	char row_msg[1024];

	if (opt_apply(o, s, len, FROM_YAML, "name", &d, row_msg, sizeof(row_msg)) == 0)
		return 0;
	at = strstr(row_msg, expect);
	if (at == NULL)
		snprintf(msg, size, "%s", row_msg);
	else
		snprintf(msg, size, "%.*sa config name%s", (int)(at - row_msg), row_msg,
			 at + strlen(expect));
	return -1;
}

/* name:, or else the file's base name without its extension
 * ("/etc/mtaprobe/edge.yaml" is "edge", ".hidden.yaml" ".hidden"). */
static int load_name(struct loader *ld, const yaml_node_t *val, struct config *cfg)
{
	const char *base = strrchr(ld->name, '/'), *dot;
	char msg[1024];
	size_t len;

	if (val != NULL) {
		if (need_scalar(ld, val, "name", "a config name") < 0)
			return -1;
		if (apply_name(sval(val), val->data.scalar.length, cfg, msg, sizeof(msg)) < 0)
			return fail(ld, val, "%s", msg);
		return 0;
	}
	base = base ? base + 1 : ld->name;
	dot = strrchr(base, '.');
	len = dot && dot > base ? (size_t)(dot - base) : strlen(base);
	if (apply_name(base, len, cfg, msg, sizeof(msg)) < 0)
		return fail_at(ld, 0, 0,
			       "no 'name' at the top level, and the file's name makes none: %s",
			       msg);
	return 0;
}

static int output_pair(struct loader *ld, size_t idx, const yaml_node_t *key,
		       const yaml_node_t *val, void *ctx)
{
	(void)key;
	if (idx == 1)
		return top_value(ld, val, "output.path", RK_OUTPUT, ctx);
	return top_value(ld, val, "output.format", RK_FORMAT, ctx);
}

static int top_pair(struct loader *ld, size_t idx, const yaml_node_t *key, const yaml_node_t *val,
		    void *ctx)
{
	const yaml_node_t **top = ctx;

	(void)ld;
	(void)key;
	top[idx] = val;
	return 0;
}

/* defaults: is applied again to every target; checking it once first
 * reports its errors even when the targets have some of their own. */
static int check_defaults(struct loader *ld, const yaml_node_t *n)
{
	struct target scratch;
	struct tctx c = { .t = &scratch, .sc = ld->schema };
	int rc;

	if (need_mapping(ld, n, "defaults", ld->schema->names, ld->schema->n) < 0)
		return -1;
	target_defaults(&scratch);
	rc = apply_target_map(ld, n, "defaults", &c);
	target_free(&scratch);
	return rc;
}

/* ---- modules (mtaprobe --listen) ------------------------------------------ */

/* A module's name is a URL parameter and a label value: letters, digits,
 * '_', '.', '-'. */
static bool module_name_ok(const yaml_node_t *key)
{
	static const char ok[] =
		"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-";
	size_t len = key->data.scalar.length;

	return is_text(key) && len > 0 && len <= CONFIG_MODULE_NAME_MAX &&
	       strspn(sval(key), ok) == len;
}

/* defaults: (already checked), then the module's own keys. */
static int load_module(struct loader *ld, const yaml_node_t *key, const yaml_node_t *val,
		       const yaml_node_t *defaults, struct module *m)
{
	struct tctx c = { .t = &m->t, .sc = ld->schema };
	char what[96], list[512], b[64];

	target_defaults(&m->t);
	if (set_string(ld, key, sval(key), key->data.scalar.length, &m->name) < 0)
		return -1;
	snprintf(what, sizeof(what), "module '%s'", m->name);
	join_names(ld->module_schema->names, ld->module_schema->n, list, sizeof(list));
	if (is_null(val))
		return fail(ld, key, "%s needs a value (a mapping of %s; {} for defaults: alone)",
			    what, list);
	if (val->type != YAML_MAPPING_NODE)
		return fail(ld, val, "%s must be a mapping of %s, not %s", what, list,
			    describe(val, b, sizeof(b)));
	if (defaults != NULL && apply_target_map(ld, defaults, "defaults", &c) < 0)
		return -1;
	c.sc = ld->module_schema;
	for (yaml_node_pair_t *p = val->data.mapping.pairs.start; p < val->data.mapping.pairs.top;
	     p++) {
		yaml_node_t *k = yaml_document_get_node(ld->doc, p->key);

		if (is_text(k) && (strcmp(sval(k), "host") == 0 || strcmp(sval(k), "mx") == 0 ||
				   strcmp(sval(k), "name") == 0))
			return fail(ld, k,
				    "'%s' is not taken in a module: /probe?target=HOST[:PORT] "
				    "names the server",
				    sval(k));
	}
	if (apply_target_map(ld, val, what, &c) < 0)
		return -1;
	/* the probe's target= gives host (and the name); a host or mx of
	 * defaults: is not the module's */
	free((char *)m->t.cfg.host);
	free((char *)m->t.cfg.mx_domain);
	free(m->t.name);
	m->t.cfg.host = m->t.cfg.mx_domain = NULL;
	m->t.name = NULL;
	return 0;
}

/* modules: in file order, then "default" (defaults: alone) unless the
 * file has a module of that name. */
static int load_modules(struct loader *ld, const yaml_node_t *map, const yaml_node_t *defaults,
			struct config *cfg)
{
	size_t n = 0;
	bool have_default = false;
	char b[64];

	if (map != NULL) {
		if (map->type != YAML_MAPPING_NODE)
			return fail(ld, map,
				    "'modules' must be a mapping of module names to mappings of "
				    "per-target keys, not %s",
				    describe(map, b, sizeof(b)));
		n = (size_t)(map->data.mapping.pairs.top - map->data.mapping.pairs.start);
		if (n > CONFIG_MAX_MODULES)
			return fail(ld, map, "too many modules: %zu (at most %d)", n,
				    CONFIG_MAX_MODULES);
	}
	cfg->modules = calloc(n + 1, sizeof(*cfg->modules));
	if (cfg->modules == NULL)
		return fail_at(ld, 0, 0, "out of memory");
	for (size_t i = 0; i < n; i++) {
		yaml_node_pair_t *p = &map->data.mapping.pairs.start[i];
		yaml_node_t *key = yaml_document_get_node(ld->doc, p->key);
		yaml_node_t *val = yaml_document_get_node(ld->doc, p->value);

		if (key->type != YAML_SCALAR_NODE || !module_name_ok(key))
			return fail(ld, key,
				    "bad module name %s: module names are 1-%d letters, digits, "
				    "'_', '.' or '-'",
				    describe(key, b, sizeof(b)), CONFIG_MODULE_NAME_MAX);
		for (size_t k = 0; k < i; k++)
			if (strcmp(cfg->modules[k].name, sval(key)) == 0)
				return fail(ld, key, "duplicate module '%s' (first at line %zu)",
					    sval(key),
					    yaml_document_get_node(
						    ld->doc, map->data.mapping.pairs.start[k].key)
							    ->start_mark.line +
						    1);
		cfg->nmodules = i + 1; /* so config_free frees a half-built one */
		if (load_module(ld, key, val, defaults, &cfg->modules[i]) < 0)
			return -1;
		have_default |= strcmp(cfg->modules[i].name, "default") == 0;
	}
	if (!have_default) {
		struct module *m = &cfg->modules[cfg->nmodules++];
		struct tctx c = { .t = &m->t, .sc = ld->schema };

		target_defaults(&m->t);
		m->name = strdup("default");
		if (m->name == NULL)
			return fail_at(ld, 0, 0, "out of memory");
		if (defaults != NULL && apply_target_map(ld, defaults, "defaults", &c) < 0)
			return -1;
		free((char *)m->t.cfg.host);
		free((char *)m->t.cfg.mx_domain);
		free(m->t.name);
		m->t.cfg.host = m->t.cfg.mx_domain = NULL;
		m->t.name = NULL;
	}
	return 0;
}

const struct module *config_module(const struct config *cfg, const char *name)
{
	for (size_t i = 0; i < cfg->nmodules; i++)
		if (strcmp(cfg->modules[i].name, name) == 0)
			return &cfg->modules[i];
	return NULL;
}

static int load_root(struct loader *ld, const yaml_node_t *root, struct config *cfg)
{
	static const struct keyset ks = { "at the top level", top_keys, TOP_KEYS };
	static const struct keyset out = { "in 'output'", output_keys, 2 };
	const yaml_node_t *top[TOP_KEYS] = { NULL };
	char list[128], b[64];

	join_names(top_keys, TOP_KEYS, list, sizeof(list));
	if (root == NULL || is_null(root))
		return fail_at(ld, 0, 0, "the file is empty (expected a mapping of %s)", list);
	if (root->type != YAML_MAPPING_NODE)
		return fail(ld, root, "the top level must be a mapping of %s, not %s", list,
			    describe(root, b, sizeof(b)));
	if (walk_mapping(ld, root, &ks, NULL, top_pair, top) < 0)
		return -1;
	if (load_name(ld, top[TOP_NAME], cfg) < 0)
		return -1;
	if (top[TOP_DEFAULTS] != NULL && check_defaults(ld, top[TOP_DEFAULTS]) < 0)
		return -1;
	if (top[TOP_OUTPUT] != NULL &&
	    (need_mapping(ld, top[TOP_OUTPUT], "output", output_keys, 2) < 0 ||
	     walk_mapping(ld, top[TOP_OUTPUT], &out, NULL, output_pair, cfg) < 0))
		return -1;
	if (top[TOP_CONCURRENCY] != NULL &&
	    top_value(ld, top[TOP_CONCURRENCY], "concurrency", RK_JOBS, cfg) < 0)
		return -1;
	if (top[TOP_TARGETS] == NULL && top[TOP_MODULES] == NULL)
		return fail(ld, root,
			    "no 'targets' (expected a list of at least one target, or 'modules' "
			    "for mtaprobe --listen)");
	if (top[TOP_TARGETS] != NULL &&
	    load_targets(ld, top[TOP_TARGETS], top[TOP_DEFAULTS], cfg) < 0)
		return -1;
	return load_modules(ld, top[TOP_MODULES], top[TOP_DEFAULTS], cfg);
}

/* ---- parsing ----------------------------------------------------------- */

/* libyaml's reader errors carry a byte offset, not a mark. */
static void offset_position(const struct loader *ld, size_t offset, size_t *line, size_t *col)
{
	*line = *col = 0;
	for (size_t i = 0; i < offset && i < ld->len; i++) {
		if (ld->input[i] == '\n') {
			(*line)++;
			*col = 0;
		} else if ((ld->input[i] & 0xc0) != 0x80) {
			(*col)++;
		}
	}
}

static int syntax_error(struct loader *ld, const yaml_parser_t *p)
{
	size_t line = p->problem_mark.line, col = p->problem_mark.column;

	if (p->error == YAML_MEMORY_ERROR)
		return fail_at(ld, 0, 0, "out of memory");
	if (p->error == YAML_READER_ERROR) {
		offset_position(ld, p->problem_offset, &line, &col);
		if (p->problem_value != -1)
			return fail_at(ld, line, col, "not valid YAML text: %s (byte 0x%02x)",
				       p->problem, (unsigned)p->problem_value & 0xff);
		return fail_at(ld, line, col, "not valid YAML text: %s", p->problem);
	}
	if (p->context != NULL)
		return fail_at(ld, line, col, "YAML syntax error: %s (%s at line %zu, column %zu)",
			       p->problem ? p->problem : "unknown problem", p->context,
			       p->context_mark.line + 1, p->context_mark.column + 1);
	return fail_at(ld, line, col, "YAML syntax error: %s",
		       p->problem ? p->problem : "unknown problem");
}

/* One event of the bounding pass; 1 at the end of the stream, 0 to go on. */
static int bound_event(struct loader *ld, const yaml_event_t *e, int *depth, int *docs,
		       int *anchors, int *aliases)
{
	size_t line = e->start_mark.line, col = e->start_mark.column;
	bool anchored = (e->type == YAML_SCALAR_EVENT && e->data.scalar.anchor) ||
			(e->type == YAML_SEQUENCE_START_EVENT && e->data.sequence_start.anchor) ||
			(e->type == YAML_MAPPING_START_EVENT && e->data.mapping_start.anchor);

	if (anchored && ++*anchors > CONFIG_MAX_ANCHORS)
		return fail_at(ld, line, col, "more than %d anchors (&name)", CONFIG_MAX_ANCHORS);
	switch (e->type) {
	case YAML_STREAM_END_EVENT:
		return 1;
	case YAML_DOCUMENT_START_EVENT:
		if (++*docs > 1)
			return fail_at(ld, line, col, "a second YAML document (expected only one)");
		break;
	case YAML_ALIAS_EVENT:
		if (++*aliases > CONFIG_MAX_ALIASES)
			return fail_at(ld, line, col, "more than %d aliases (*name)",
				       CONFIG_MAX_ALIASES);
		break;
	case YAML_SEQUENCE_START_EVENT:
	case YAML_MAPPING_START_EVENT:
		if (++*depth > CONFIG_MAX_DEPTH)
			return fail_at(ld, line, col, "nested more than %d levels deep",
				       CONFIG_MAX_DEPTH);
		break;
	case YAML_SEQUENCE_END_EVENT:
	case YAML_MAPPING_END_EVENT:
		--*depth;
		break;
	default:
		break;
	}
	return 0;
}

/* The bounding pass: syntax, one document, depth and anchors within limits. */
static int bound_stream(struct loader *ld)
{
	yaml_parser_t p;
	yaml_event_t e;
	int depth = 0, docs = 0, anchors = 0, aliases = 0, rc = 0;

	if (!yaml_parser_initialize(&p))
		return fail_at(ld, 0, 0, "out of memory");
	yaml_parser_set_input_string(&p, ld->input, ld->len);
	while (rc == 0) {
		if (!yaml_parser_parse(&p, &e)) {
			rc = syntax_error(ld, &p);
			break;
		}
		rc = bound_event(ld, &e, &depth, &docs, &anchors, &aliases);
		yaml_event_delete(&e);
	}
	yaml_parser_delete(&p);
	return rc < 0 ? -1 : 0;
}

static int load_string(const char *yaml, size_t len, const char *name, struct config *cfg,
		       char *err, size_t err_size)
{
	struct schema sc, msc;
	struct loader ld = {
		name, (const unsigned char *)(yaml ? yaml : ""), len, NULL, &sc, &msc, err, err_size
	};
	yaml_parser_t p;
	yaml_document_t doc;
	int rc;

	memset(cfg, 0, sizeof(*cfg));
	schema_build(&sc);
	module_schema_build(&msc, &sc);
	if (len > CONFIG_MAX_BYTES) {
		snprintf(err, err_size, "%s: larger than 1 MiB (%zu bytes); not loading it", name,
			 len);
		return -1;
	}
	if (bound_stream(&ld) < 0)
		return -1;
	if (!yaml_parser_initialize(&p))
		return fail_at(&ld, 0, 0, "out of memory");
	yaml_parser_set_input_string(&p, ld.input, len);
	if (!yaml_parser_load(&p, &doc)) {
		rc = syntax_error(&ld, &p);
		yaml_parser_delete(&p);
		return rc;
	}
	ld.doc = &doc;
	cfg->concurrency = 256;
	cfg->format = OUT_PROMETHEUS;
	cfg->path = strdup(name);
	if (cfg->path == NULL)
		rc = fail_at(&ld, 0, 0, "out of memory");
	else
		rc = load_root(&ld, yaml_document_get_root_node(&doc), cfg);
	yaml_document_delete(&doc);
	yaml_parser_delete(&p);
	if (rc < 0)
		config_free(cfg);
	return rc;
}

static int load_file(const char *path, struct config *cfg, char *err, size_t err_size)
{
	FILE *f = fopen(path, "re");
	char *buf;
	size_t len;
	int rc;

	memset(cfg, 0, sizeof(*cfg));
	if (f == NULL) {
		snprintf(err, err_size, "%s: cannot open: %s", path, strerror(errno));
		return -1;
	}
	/* one byte more than allowed tells a too-large file from one at the cap */
	buf = malloc(CONFIG_MAX_BYTES + 1);
	if (buf == NULL) {
		fclose(f);
		snprintf(err, err_size, "%s: out of memory", path);
		return -1;
	}
	len = fread(buf, 1, CONFIG_MAX_BYTES + 1, f);
	if (ferror(f)) {
		snprintf(err, err_size, "%s: cannot read: %s", path, strerror(errno));
		rc = -1;
	} else {
		rc = load_string(buf, len, path, cfg, err, err_size);
	}
	fclose(f);
	free(buf);
	return rc;
}

int config_load_string(const char *yaml, size_t len, const char *name, struct config *cfg,
		       struct probe_err *e)
{
	if (load_string(yaml, len, name, cfg, e->msg, sizeof(e->msg)) == 0)
		return 0;
	e->kind = ERR_CONFIG;
	snprintf(e->stage, sizeof(e->stage), "config");
	return -1;
}

int config_load(const char *path, struct config *cfg, struct probe_err *e)
{
	if (load_file(path, cfg, e->msg, sizeof(e->msg)) == 0)
		return 0;
	e->kind = ERR_CONFIG;
	snprintf(e->stage, sizeof(e->stage), "config");
	return -1;
}

void config_free(struct config *cfg)
{
	if (cfg == NULL)
		return;
	for (size_t i = 0; i < cfg->ntargets; i++)
		target_free(&cfg->targets[i]);
	free(cfg->targets);
	for (size_t i = 0; i < cfg->nmodules; i++) {
		target_free(&cfg->modules[i].t);
		free(cfg->modules[i].name);
	}
	free(cfg->modules);
	free(cfg->path);
	free(cfg->name);
	free(cfg->output_path);
	memset(cfg, 0, sizeof(*cfg));
}
