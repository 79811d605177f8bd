/* test_options.c - the one option table (cli/options.c) itself: its rows
 * agree with each other for every binary, an option given on a command
 * line and the same value under its YAML key land in check_cfg alike, a
 * bad value is refused in both places with the option named, and no
 * control byte from a value comes back raw in a message.  The tests walk
 * option_table[], so a row added later is covered without a new case. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

#include "cli/options.h"
#include "runner/config.h"

#define OUT_MAX (1 << 16)
#define NBIN	(sizeof(binaries) / sizeof(binaries[0]))

/* A readable file for OPT_READ_PATH (ca-file, ca-path): the plugins check
 * readability on argv, so the sample must exist. */
static char read_path[64];

static int make_read_path(void **state)
{
	int fd;

	(void)state;
	snprintf(read_path, sizeof(read_path), "/tmp/test_options.XXXXXX");
	fd = mkstemp(read_path);
	if (fd < 0)
		return -1;
	if (write(fd, "x\n", 2) != 2) {
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

static int remove_read_path(void **state)
{
	(void)state;
	unlink(read_path);
	return 0;
}

/* ---- rows -------------------------------------------------------------- */

static bool takes(const struct binary *b, const struct opt *o)
{
	return (o->bins & b->bit) != 0;
}

/* Types that take no value on a command line. */
static bool no_value_type(enum opt_type t)
{
	return t == OPT_FLAG || t == OPT_IMPLICIT_TLS || t == OPT_FAMILY || t == OPT_COUNT ||
	       t == OPT_IGNORED || t == OPT_HELP || t == OPT_VERSION;
}

/* The check_cfg field a row of type t writes: its size, 0 for none. */
static size_t field_size(enum opt_type t)
{
	switch (t) {
	case OPT_FLAG:
	case OPT_IMPLICIT_TLS:
		return sizeof(bool);
	case OPT_FAMILY:
	case OPT_COUNT:
	case OPT_PORT:
	case OPT_PROXY:
	case OPT_TLS_VERSION:
	case OPT_JOBS:
	case OPT_FORMAT:
		return sizeof(int);
	case OPT_CHECKS:
		return sizeof(unsigned);
	case OPT_TIMEOUT:
		return sizeof(double);
	case OPT_RANGE:
	case OPT_DAYS:
		return sizeof(struct range);
	case OPT_CERT_DAYS: /* days_warn and days_crit, side by side */
		return 2 * sizeof(struct range);
	case OPT_IGNORED:
	case OPT_HELP:
	case OPT_VERSION:
		return 0;
	default:
		return sizeof(const char *); /* the strings and keywords */
	}
}

/* -H and -M are the target itself; every other row needs one of them. */
static bool is_target_row(const struct opt *o)
{
	return o->rk == RK_NONE &&
	       (o->off == offsetof(struct check_cfg, host) ||
		o->off == offsetof(struct check_cfg, mx_domain)) &&
	       (o->type == OPT_HOST || o->type == OPT_DOMAIN);
}

/* Values each type takes, none of them a row's default (the round trip
 * checks that the value changed something); NULL-terminated, and for the
 * types that take no value on argv the YAML words for "on". */
static const char *const *good_samples(enum opt_type t)
{
	static const char *const host[] = { "mx.example.org", "192.0.2.1", "2001:db8::1", NULL };
	static const char *const domain[] = { "example.org", "mx.example.org", NULL };
	static const char *const ehlo[] = { "probe.example.org", "[192.0.2.1]", NULL };
	static const char *const text[] = { "ESMTP Postfix",
					    "Gr\xc3\xbc\xc3\x9f"
					    "e",
					    NULL };
	static const char *const name[] = { "edge", NULL };
	static const char *const path[] = { "/tmp/out", NULL };
	static const char *const read[] = { read_path, NULL };
	static const char *const mail[] = { "a@example.org", "probe+tag@example.net", NULL };
	static const char *const servers[] = { "127.0.0.1:5353", "127.0.0.1,[::1]:53", NULL };
	static const char *const address[] = { "127.0.0.1", NULL };
	/* blanks after commas are forgiven */
	static const char *const keywords[] = { "PIPELINING, SIZE", "8BITMIME", NULL };
	static const char *const port[] = { "2525", "1", "65535", NULL };
	static const char *const timeout[] = { "7.5", "2.5:warning", "3600", ".5:OK", NULL };
	static const char *const range[] = { "~:3", "@1:2", "10", "1.5:", NULL };
	static const char *const days[] = { "21", "@0:7", "5:10", NULL };
	static const char *const cert_days[] = { "21", "21,7", NULL };
	static const char *const command[] = { "NOOP", "HELP SMTP", NULL };
	static const char *const regex[] = { "^250", "2[0-9]{2} .*ok$", NULL };
	static const char *const proxy[] = { "2", NULL };
	static const char *const tls_version[] = { "1.3", "TLSv1.1", "TLSv1", NULL };
	static const char *const jobs[] = { "8", NULL };
	static const char *const format[] = { "json", NULL };
	static const char *const checks[] = { "banner,cert", NULL };
	static const char *const on[] = { "true", "yes", "True", NULL };

	switch (t) {
	case OPT_HOST:
		return host;
	case OPT_DOMAIN:
		return domain;
	case OPT_EHLO:
		return ehlo;
	case OPT_TEXT:
		return text;
	case OPT_NAME:
		return name;
	case OPT_PATH:
		return path;
	case OPT_READ_PATH:
		return read;
	case OPT_MAIL:
		return mail;
	case OPT_SERVERS:
		return servers;
	case OPT_ADDRESS:
		return address;
	case OPT_KEYWORDS:
		return keywords;
	case OPT_PORT:
		return port;
	case OPT_TIMEOUT:
		return timeout;
	case OPT_RANGE:
		return range;
	case OPT_DAYS:
		return days;
	case OPT_CERT_DAYS:
		return cert_days;
	case OPT_COMMAND:
		return command;
	case OPT_REGEX:
		return regex;
	case OPT_PROXY:
		return proxy;
	case OPT_TLS_VERSION:
		return tls_version;
	case OPT_JOBS:
		return jobs;
	case OPT_FORMAT:
		return format;
	case OPT_CHECKS:
		return checks;
	case OPT_FLAG:
	case OPT_IMPLICIT_TLS:
	case OPT_FAMILY:
		return on;
	default:
		return NULL;
	}
}

/* The first sample, for argv: NULL for the types that take no value. */
static const char *good_sample(enum opt_type t)
{
	const char *const *v = good_samples(t);

	return v != NULL && !no_value_type(t) ? v[0] : NULL;
}

/* The field row o writes in cfg, as text, so that two configurations are
 * compared (and a mismatch reported) the same way for every type: ranges
 * by their text, flags and bounds, timeouts with their state. */
static void field_text(const struct opt *o, const struct check_cfg *cfg, char *buf, size_t size)
{
	const char *p = (const char *)cfg + o->off;

	switch (o->type) {
	case OPT_FLAG:
	case OPT_IMPLICIT_TLS:
		snprintf(buf, size, "%s", *(const bool *)p ? "true" : "false");
		break;
	case OPT_FAMILY:
	case OPT_COUNT:
	case OPT_PORT:
	case OPT_PROXY:
	case OPT_TLS_VERSION:
	case OPT_JOBS:
	case OPT_FORMAT:
		snprintf(buf, size, "%d", *(const int *)p);
		break;
	case OPT_CHECKS:
		snprintf(buf, size, "%#x", *(const unsigned *)p);
		break;
	case OPT_TIMEOUT:
		snprintf(buf, size, "%.17g s, state %d", *(const double *)p,
			 (int)cfg->timeout_state);
		break;
	case OPT_RANGE:
	case OPT_DAYS:
	case OPT_CERT_DAYS: {
		const struct range *r = (const struct range *)p;

		snprintf(buf, size, "'%s' set %d inside %d low %s%.17g high %s%.17g", r->text,
			 r->set, r->inside, r->low_inf ? "-inf " : "", r->low,
			 r->high_inf ? "+inf " : "", r->high);
		break;
	}
	default: {
		const char *s = *(const char *const *)p;

		if (s != NULL)
			snprintf(buf, size, "'%s'", s);
		else
			snprintf(buf, size, "(null)");
		break;
	}
	}
}

/* ---- command lines ----------------------------------------------------- */

/* Where mtaprobe's own rows land (runner/mtaprobe.c keeps them alike). */
struct runner_args {
	const char *config, *output;
	int format, jobs;
	bool quiet;
	unsigned checks;
};

static void *runner_slot(void *ctx, const struct opt *o)
{
	struct runner_args *a = ctx;

	switch (o->rk) {
	case RK_CONFIG:
		return &a->config;
	case RK_OUTPUT:
		return &a->output;
	case RK_FORMAT:
		return &a->format;
	case RK_JOBS:
		return &a->jobs;
	case RK_QUIET:
		return &a->quiet;
	case RK_CHECKS:
		return &a->checks;
	default:
		return NULL;
	}
}

/* One command line of binary b: args (NULL-terminated) after the program
 * name.  Plugins go through options_parse; mtaprobe through the getopt loop
 * with defaults as its main applies them (target_defaults: every row).
 * Returns options_parse's code: -1 go on, 3 help/version/usage error; for
 * mtaprobe also 2: a positional argument was left (its HOST, main's job). */
static int parse_bin(const struct binary *b, const char *const *args, struct check_cfg *cfg,
		     struct runner_args *ra, struct strbuf *out)
{
	struct opt_dest d = { cfg, runner_slot, ra };
	char *argv[32];
	int argc = 0, first, rc;

	argv[argc++] = (char *)b->prog;
	for (; *args && argc < 31; args++)
		argv[argc++] = (char *)*args;
	argv[argc] = NULL;
	strbuf_init(out, OUT_MAX);
	memset(ra, 0, sizeof(*ra));
	if (b->def != NULL)
		return options_parse(b, argc, argv, cfg, out);
	memset(cfg, 0, sizeof(*cfg));
	options_defaults(BIN_PLUGINS | BIN_RUNNER, &d);
	rc = options_getopt(b, "Usage: mtaprobe [options]\n", argc, argv, &d, out, &first);
	if (rc == 0)
		return 3; /* --help, --version: as the plugins count them */
	if (rc < 0 && first < argc)
		return 2; /* a positional argument: mtaprobe's HOST, not ours */
	return rc;
}

static void parse_done(struct check_cfg *cfg, struct runner_args *ra, struct strbuf *out)
{
	options_free(cfg);
	free((char *)ra->config);
	free((char *)ra->output);
	memset(ra, 0, sizeof(*ra));
	strbuf_free(out);
}

/* argv for row o on binary b: a target unless o is one, then --NAME
 * [VALUE].  The runner needs no target: its HOST is positional. */
static void row_args(const struct binary *b, const struct opt *o, const char *value, char *name_buf,
		     size_t name_size, const char **args)
{
	size_t n = 0;

	if (b->def != NULL && !is_target_row(o)) {
		args[n++] = "-H";
		args[n++] = "host.example.org";
	}
	snprintf(name_buf, name_size, "--%s", o->name);
	args[n++] = name_buf;
	if (value != NULL)
		args[n++] = value;
	args[n] = NULL;
}

/* The first line of s, into buf. */
static const char *first_line(const char *s, char *buf, size_t size)
{
	snprintf(buf, size, "%.*s", (int)strcspn(s, "\n"), s);
	return buf;
}

/* Failures collected over a whole table, so that one run reports every
 * case that is wrong, not only the first: each is printed as it is found,
 * the test fails at the end. */
struct failures {
	size_t n;
};

static void failure(struct failures *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void failure(struct failures *f, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (f->n < 12)
		print_message("#   %s\n", msg);
	else if (f->n == 12)
		print_message("#   ... (the rest not shown)\n");
	f->n++;
}

static void failures_check(const struct failures *f)
{
	if (f->n > 0)
		fail_msg("%zu case(s) failed, listed above", f->n);
}

/* ---- YAML -------------------------------------------------------------- */

/* value as a YAML double-quoted scalar: quotes, backslashes and control
 * bytes escaped, so any byte string can be handed to the loader. */
static void yaml_quote(const char *value, char *buf, size_t size)
{
	size_t used = 0;

	used += (size_t)snprintf(buf + used, size - used, "\"");
	for (const unsigned char *p = (const unsigned char *)value; *p && used + 8 < size; p++) {
		if (*p == '"' || *p == '\\')
			used += (size_t)snprintf(buf + used, size - used, "\\%c", *p);
		else if (*p < 0x20 || *p == 0x7f)
			used += (size_t)snprintf(buf + used, size - used, "\\x%02x", *p);
		else
			buf[used++] = (char)*p;
	}
	snprintf(buf + used, size - used, "\"");
}

/* One target with row o's key set to value: "relay.from" is written
 * "relay: {from: VALUE}"; a host is added unless o is the target itself. */
static void row_yaml(const struct opt *o, const char *value, char *buf, size_t size)
{
	const char *dot = strchr(o->yaml, '.');
	char q[512], kv[640];

	yaml_quote(value, q, sizeof(q));
	if (dot != NULL)
		snprintf(kv, sizeof(kv), "%.*s: {%s: %s}", (int)(dot - o->yaml), o->yaml, dot + 1,
			 q);
	else
		snprintf(kv, sizeof(kv), "%s: %s", o->yaml, q);
	snprintf(buf, size, "targets:\n  - %s%s\n",
		 is_target_row(o) ? "" : "host: host.example.org\n    ", kv);
}

/* The loader's message into err ("" when it loaded). */
static int load(const char *yaml, struct config *cfg, char *err, size_t err_size)
{
	struct probe_err e = { 0 };
	int rc = config_load_string(yaml, strlen(yaml), "t.yaml", cfg, &e);

	snprintf(err, err_size, "%s", rc < 0 ? e.msg : "");
	return rc;
}

/* The rows of a target that live in check_cfg: the round trip's subject. */
static bool cfg_yaml_row(const struct opt *o)
{
	return o->name != NULL && o->yaml != NULL && o->rk == RK_NONE;
}

/* ---- 1. the table agrees with itself ------------------------------------ */

/* getopt takes the first row of a name and --help would list both: two
 * rows of one binary with the same name are a silent shadow. */
static void test_names_unique_per_binary(void **state)
{
	(void)state;
	for (size_t bi = 0; bi < NBIN; bi++) {
		const struct binary *b = binaries[bi];

		for (size_t i = 0; i < option_count; i++) {
			const struct opt *x = &option_table[i];

			if (!takes(b, x) || x->name == NULL)
				continue;
			if (x->short_name != 0 && (x->short_name <= ' ' || x->short_name >= 127 ||
						   strchr(":?-;", x->short_name) != NULL))
				fail_msg("%s: --%s has short name '%c', which getopt cannot take",
					 b->prog, x->name, x->short_name);
			for (size_t j = i + 1; j < option_count; j++) {
				const struct opt *y = &option_table[j];

				if (!takes(b, y) || y->name == NULL)
					continue;
				if (strcmp(x->name, y->name) == 0)
					fail_msg("%s: rows %zu and %zu are both --%s", b->prog, i,
						 j, x->name);
				if (x->short_name != 0 && x->short_name == y->short_name)
					fail_msg("%s: --%s and --%s are both -%c", b->prog, x->name,
						 y->name, x->short_name);
			}
		}
	}
}

/* options_defaults throws opt_apply's error away, so a default that does
 * not parse would silently leave the field zero.  Each default must apply
 * by itself, change its field, and give what typing it explicitly gives. */
static void test_defaults_apply(void **state)
{
	(void)state;
	for (size_t bi = 0; bi < NBIN; bi++) {
		const struct binary *b = binaries[bi];

		for (size_t i = 0; i < option_count; i++) {
			const struct opt *o = &option_table[i];
			struct check_cfg zero = { 0 }, one = { 0 }, dflt, expl;
			struct runner_args ra = { 0 }, rd, re;
			struct opt_dest d = { &one, runner_slot, &ra };
			struct strbuf od, oe;
			const char *none[] = { NULL }, *args[8];
			char msg[640], name[64], a[256], z[256], e[256];
			int rc;

			if (o->dflt == NULL || !takes(b, o))
				continue;
			if (opt_apply(o, o->dflt, strlen(o->dflt), FROM_ARGV, NULL, &d, msg,
				      sizeof(msg)) != 0)
				fail_msg("%s: default '%s' of --%s is refused: %s", b->prog,
					 o->dflt, o->name, msg);
			options_free(&one);
			/* what the binary ends up with when the option is left out ... */
			row_args(b, o, NULL, name, sizeof(name), args);
			args[b->def != NULL ? 2 : 0] = NULL;
			rc = parse_bin(b, b->def != NULL ? args : none, &dflt, &rd, &od);
			if (rc != -1)
				fail_msg("%s: plain parse gave %d: %s", b->prog, rc,
					 strbuf_str(&od));
			/* ... and when it is given as the default's text */
			row_args(b, o, o->dflt, name, sizeof(name), args);
			rc = parse_bin(b, args, &expl, &re, &oe);
			if (rc != -1)
				fail_msg("%s: --%s %s gave %d: %s", b->prog, o->name, o->dflt, rc,
					 strbuf_str(&oe));
			if (o->rk == RK_CHECKS) {
				/* every check but sts, which is asked for by name */
				if (rd.checks != re.checks ||
				    rd.checks != (1u << (CHECK_KINDS - 1)) - 1)
					fail_msg("%s: --checks default %#x, explicit %#x", b->prog,
						 rd.checks, re.checks);
			} else {
				assert_int_equal(o->rk, RK_NONE);
				field_text(o, &dflt, a, sizeof(a));
				field_text(o, &expl, e, sizeof(e));
				field_text(o, &zero, z, sizeof(z));
				if (strcmp(a, e) != 0 || strcmp(a, z) == 0)
					fail_msg(
						"%s: --%s default gives %s, explicit '%s' "
						"gives %s, unset is %s",
						b->prog, o->name, a, o->dflt, e, z);
			}
			parse_done(&dflt, &rd, &od);
			parse_done(&expl, &re, &oe);
		}
	}
}

/* arg is what --help shows after the name and what decides getopt's
 * required_argument; a value type without it would be fed NULL, a flag
 * with it would eat the next word.  Checked on the table and on getopt. */
static void test_args_match_types(void **state)
{
	(void)state;
	for (size_t i = 0; i < option_count; i++) {
		const struct opt *o = &option_table[i];

		if (o->name == NULL)
			continue;
		if ((o->arg != NULL) == no_value_type(o->type))
			fail_msg("--%s: arg %s%s%s, but its type %s a value", o->name,
				 o->arg ? "'" : "", o->arg ? o->arg : "NULL", o->arg ? "'" : "",
				 no_value_type(o->type) ? "takes no" : "needs");
	}
	for (size_t bi = 0; bi < NBIN; bi++) {
		const struct binary *b = binaries[bi];

		for (size_t i = 0; i < option_count; i++) {
			const struct opt *o = &option_table[i];
			struct check_cfg cfg;
			struct runner_args ra;
			struct strbuf out;
			const char *args[8];
			char name[96], line[1024];
			int rc;

			if (o->name == NULL || !takes(b, o))
				continue;
			if (o->arg != NULL) {
				/* the value left out: getopt must ask for it */
				row_args(b, o, NULL, name, sizeof(name), args);
				rc = parse_bin(b, args, &cfg, &ra, &out);
				first_line(strbuf_str(&out), line, sizeof(line));
				parse_done(&cfg, &ra, &out);
				if (rc != 3 || strstr(line, "needs an argument") == NULL ||
				    strstr(line, name) == NULL)
					fail_msg("%s %s (no value): rc %d, '%s'", b->prog, name, rc,
						 line);
			} else {
				/* a value glued on: refused, the option named */
				row_args(b, o, NULL, name, sizeof(name), args);
				strcat(name, "=1");
				rc = parse_bin(b, args, &cfg, &ra, &out);
				first_line(strbuf_str(&out), line, sizeof(line));
				parse_done(&cfg, &ra, &out);
				name[strlen(name) - 2] = '\0';
				if (rc != 3 || strstr(line, name) == NULL)
					fail_msg("%s %s=1: rc %d, '%s'", b->prog, name, rc, line);
			}
		}
	}
}

/* A known option with a value it does not take is not an unknown option:
 * "unknown option '--tls'" sends the user looking for a typo in a name
 * that --help lists. */
static void test_flag_with_value_message(void **state)
{
	(void)state;
	for (size_t bi = 0; bi < NBIN; bi++) {
		const struct binary *b = binaries[bi];

		for (size_t i = 0; i < option_count; i++) {
			const struct opt *o = &option_table[i];
			struct check_cfg cfg;
			struct runner_args ra;
			struct strbuf out;
			const char *args[8];
			char name[96], line[1024];
			int rc;

			if (o->name == NULL || o->arg != NULL || !takes(b, o))
				continue;
			row_args(b, o, NULL, name, sizeof(name), args);
			strcat(name, "=1");
			rc = parse_bin(b, args, &cfg, &ra, &out);
			first_line(strbuf_str(&out), line, sizeof(line));
			parse_done(&cfg, &ra, &out);
			if (rc != 3 || strstr(line, "unknown option") != NULL)
				fail_msg(
					"%s %s: rc %d, '%s' (the option exists; it takes no value)",
					b->prog, name, rc, line);
		}
	}
}

/* The token "--name" in s, not as the start of a longer name. */
static bool has_option(const char *s, const char *name)
{
	size_t n = strlen(name);

	for (const char *p = s; (p = strstr(p, "--")) != NULL; p += 2)
		if (strncmp(p + 2, name, n) == 0 &&
		    (p[2 + n] == ' ' || p[2 + n] == '\n' || p[2 + n] == '\0' || p[2 + n] == ','))
			return true;
	return false;
}

/* --help's Options: section lists exactly the rows the binary takes. */
static void test_help_lists_rows(void **state)
{
	(void)state;
	for (size_t bi = 0; bi < NBIN; bi++) {
		const struct binary *b = binaries[bi];
		struct strbuf out;
		const char *s, *opts, *end;
		char *section;

		strbuf_init(&out, OUT_MAX);
		options_help(b, "Usage: x\n", &out);
		s = strbuf_str(&out);
		assert_false(out.truncated);
		opts = strstr(s, "\nOptions:\n");
		if (opts == NULL)
			fail_msg("%s --help has no Options: section:\n%s", b->prog, s);
		end = strstr(opts, "\n\n"); /* opts[1] is the O of Options */
		section = strndup(opts, end ? (size_t)(end - opts) : strlen(opts));
		assert_non_null(section);
		for (size_t i = 0; i < option_count; i++) {
			const struct opt *o = &option_table[i];
			bool other = false;

			if (o->name == NULL)
				continue;
			/* a name the binary takes from another row may be listed */
			for (size_t j = 0; j < option_count; j++)
				if (j != i && option_table[j].name && takes(b, &option_table[j]) &&
				    strcmp(option_table[j].name, o->name) == 0)
					other = true;
			if (takes(b, o) && !has_option(section, o->name))
				fail_msg("%s --help does not list --%s:\n%s", b->prog, o->name,
					 section);
			if (!takes(b, o) && !other && has_option(section, o->name))
				fail_msg("%s --help lists --%s, which it does not take:\n%s",
					 b->prog, o->name, section);
		}
		free(section);
		strbuf_free(&out);
	}
}

/* A row's off is only meaningful inside check_cfg, and a row must write
 * its own field and nothing else (a wrong off or type would overwrite a
 * neighbour).  The timeout's state is the one field a row shares. */
static void test_rows_land_in_cfg(void **state)
{
	(void)state;
	for (size_t i = 0; i < option_count; i++) {
		const struct opt *o = &option_table[i];
		struct check_cfg cfg;
		struct opt_dest d = { &cfg, NULL, NULL };
		const unsigned char *p = (const unsigned char *)&cfg;
		const char *v = good_sample(o->type);
		char msg[640];

		if (o->rk != RK_NONE || (o->yaml == NULL && o->name == NULL))
			continue;
		if (o->off + field_size(o->type) > sizeof(struct check_cfg))
			fail_msg("row %zu (%s): off %zu + %zu is outside check_cfg (%zu bytes)", i,
				 o->yaml ? o->yaml : o->name, o->off, field_size(o->type),
				 sizeof(struct check_cfg));
		if (o->type == OPT_HELP || o->type == OPT_VERSION || o->type == OPT_IGNORED)
			continue;
		if (v == NULL && !no_value_type(o->type))
			fail_msg("row %zu: no sample value for type %d", i, o->type);
		memset(&cfg, 0, sizeof(cfg));
		if (opt_apply(o, v, v ? strlen(v) : 0, FROM_ARGV, NULL, &d, msg, sizeof(msg)) != 0)
			fail_msg("row %zu (--%s): sample '%s' refused: %s", i, o->name, v ? v : "",
				 msg);
		for (size_t k = 0; k < sizeof(cfg); k++) {
			bool own = k >= o->off && k < o->off + field_size(o->type);
			bool state_byte = o->type == OPT_TIMEOUT &&
					  k >= offsetof(struct check_cfg, timeout_state) &&
					  k < offsetof(struct check_cfg, timeout_state) +
							  sizeof(cfg.timeout_state);

			if (p[k] != 0 && !own && !state_byte)
				fail_msg(
					"row %zu (--%s) wrote byte %zu of check_cfg, outside its "
					"field at %zu..%zu",
					i, o->name, k, o->off, o->off + field_size(o->type));
		}
		options_free(&cfg);
		/* two rows on one field: only -4 and -6 (and --use-ipv4/6), which pick its value */
		for (size_t j = i + 1; j < option_count; j++) {
			const struct opt *x = &option_table[j];
			size_t a = field_size(o->type), b = field_size(x->type);

			if (x->rk != RK_NONE || a == 0 || b == 0 || o->off >= x->off + b ||
			    x->off >= o->off + a)
				continue;
			if (o->type == OPT_FAMILY && x->type == OPT_FAMILY && o->off == x->off)
				continue;
			/* ... and -D, check_smtp's spelling of -w and -c */
			if ((o->type == OPT_CERT_DAYS && x->type == OPT_DAYS) ||
			    (x->type == OPT_CERT_DAYS && o->type == OPT_DAYS))
				continue;
			fail_msg("rows %zu (--%s) and %zu (--%s) overlap in check_cfg at %zu/%zu",
				 i, o->name ? o->name : o->yaml, j, x->name ? x->name : x->yaml,
				 o->off, x->off);
		}
	}
}

/* ---- 2. argv and YAML land alike ----------------------------------------- */

/* Every row with both a long name and a YAML key: the same value given on
 * each command line that takes it and under its key in a target gives the
 * same field; and the field is not what leaving the option out gives, so
 * two no-ops cannot pass as agreement. */
static void test_argv_yaml_round_trip(void **state)
{
	size_t rows = 0, runs = 0;

	(void)state;
	for (size_t i = 0; i < option_count; i++) {
		const struct opt *o = &option_table[i];
		const char *const *samples = good_samples(o->type);

		if (!cfg_yaml_row(o))
			continue;
		rows++;
		if (samples == NULL)
			fail_msg("--%s: no sample values for type %d", o->name, o->type);
		for (const char *const *v = samples; *v != NULL; v++) {
			const char *argv_value = no_value_type(o->type) ? NULL : *v;
			struct config conf;
			char yaml[1024], err[1024], y[256];

			row_yaml(o, *v, yaml, sizeof(yaml));
			if (load(yaml, &conf, err, sizeof(err)) != 0)
				fail_msg("--%s: YAML refused: %s\n--- yaml ---\n%s", o->name, err,
					 yaml);
			assert_int_equal(conf.ntargets, 1);
			field_text(o, &conf.targets[0].cfg, y, sizeof(y));
			config_free(&conf);
			for (size_t bi = 0; bi < NBIN; bi++) {
				const struct binary *b = binaries[bi];
				struct check_cfg with, without;
				struct runner_args rw, ro;
				struct strbuf ow, oo;
				const char *args[8];
				char name[64], a[256], n[256], out[1024];
				int rc;

				if (!takes(b, o))
					continue;
				runs++;
				row_args(b, o, argv_value, name, sizeof(name), args);
				rc = parse_bin(b, args, &with, &rw, &ow);
				field_text(o, &with, a, sizeof(a));
				snprintf(out, sizeof(out), "%s", strbuf_str(&ow));
				parse_done(&with, &rw, &ow);
				if (rc != -1)
					fail_msg("%s --%s %s: rc %d: %s", b->prog, o->name, *v, rc,
						 out);
				if (strcmp(a, y) != 0)
					fail_msg("--%s '%s': %s gives %s, YAML '%s: %s' gives %s",
						 o->name, *v, b->prog, a, o->yaml, *v, y);
				/* the same command line without the option */
				args[b->def != NULL && !is_target_row(o) ? 2 : 0] = NULL;
				if (b->def != NULL && is_target_row(o)) {
					args[0] = o->type == OPT_HOST ? "-M" : "-H";
					args[1] = "other.example.org";
					args[2] = NULL;
				}
				rc = parse_bin(b, args, &without, &ro, &oo);
				field_text(o, &without, n, sizeof(n));
				parse_done(&without, &ro, &oo);
				assert_int_equal(rc, -1);
				if (strcmp(a, n) == 0)
					fail_msg("%s: --%s '%s' changes nothing (%s)", b->prog,
						 o->name, *v, a);
			}
		}
	}
	assert_true(rows >= 20); /* the walk found the table, not nothing */
	assert_true(runs >= rows);
}

/* ---- 3. the same bad value is refused in both places ---------------------- */

struct bad_value {
	enum opt_type type;
	const char *value;
};

static const struct bad_value bad_values[] = {
	{ OPT_PORT, "0" },
	{ OPT_PORT, "65536" },
	{ OPT_PORT, "025" }, /* YAML 1.1 octal elsewhere */
	{ OPT_PORT, "25x" },
	{ OPT_TIMEOUT, "0" },
	{ OPT_TIMEOUT, "3601" },
	{ OPT_TIMEOUT, "10:maybe" },
	{ OPT_TIMEOUT, "inf" },
	{ OPT_RANGE, "abc" },
	{ OPT_RANGE, "5:1" },
	{ OPT_DAYS, "x" },
	{ OPT_DAYS, "@" },
	{ OPT_TLS_VERSION, "1.4" },
	{ OPT_TLS_VERSION, "TLSv1.4" },
	{ OPT_MAIL, "nobody" },
	{ OPT_MAIL, "<a@example.org>" },
	{ OPT_SERVERS, "resolver.example.org" },
	{ OPT_SERVERS, "127.0.0.1:0" }, /* ports as -p takes them: 1-65535 */
	{ OPT_SERVERS, "127.0.0.1:65536" },
	{ OPT_HOST, "a b" },
	{ OPT_HOST, "" },
	{ OPT_DOMAIN, "a b" },
	{ OPT_DOMAIN, "a/b" },
	{ OPT_EHLO, "a b" },
	{ OPT_TEXT, "" },
	{ OPT_READ_PATH, "" },
	{ OPT_KEYWORDS, "A,,B" },
	{ OPT_KEYWORDS, "A B" },
	{ OPT_KEYWORDS, "" },
};

static void test_bad_value_refused_alike(void **state)
{
	struct failures f = { 0 };

	(void)state;
	for (size_t k = 0; k < sizeof(bad_values) / sizeof(bad_values[0]); k++) {
		const struct bad_value *bv = &bad_values[k];
		size_t rows = 0;

		for (size_t i = 0; i < option_count; i++) {
			const struct opt *o = &option_table[i];
			struct config conf;
			char yaml[1024], err[1024], want[96], dn[64];

			if (o->type != bv->type || !cfg_yaml_row(o))
				continue;
			rows++;
			opt_display_name(o, dn, sizeof(dn));
			for (size_t bi = 0; bi < NBIN; bi++) {
				const struct binary *b = binaries[bi];
				struct check_cfg cfg;
				struct runner_args ra;
				struct strbuf out;
				const char *args[8];
				char name[64], line[1024];
				int rc;

				if (!takes(b, o))
					continue;
				row_args(b, o, bv->value, name, sizeof(name), args);
				rc = parse_bin(b, args, &cfg, &ra, &out);
				first_line(strbuf_str(&out), line, sizeof(line));
				parse_done(&cfg, &ra, &out);
				if (rc != 3 || strstr(line, dn) == NULL)
					failure(&f, "%s %s '%s': rc %d, '%s' (wanted 3, naming %s)",
						b->prog, name, bv->value, rc, line, dn);
			}
			row_yaml(o, bv->value, yaml, sizeof(yaml));
			snprintf(want, sizeof(want), "'%s'", o->yaml);
			if (load(yaml, &conf, err, sizeof(err)) != -1 ||
			    strstr(err, want) == NULL || strncmp(err, "t.yaml:", 7) != 0) {
				config_free(&conf); /* loaded, or already zeroed */
				failure(&f, "YAML %s '%s': '%s' (wanted -1, naming %s)", o->yaml,
					bv->value, err, want);
			}
		}
		if (rows == 0)
			failure(&f, "no row of type %d for bad value '%s'", bv->type, bv->value);
	}
	failures_check(&f);
}

/* Flags take no value on argv, but in YAML they take true or false only. */
static void test_bad_flag_in_yaml(void **state)
{
	(void)state;
	for (size_t i = 0; i < option_count; i++) {
		const struct opt *o = &option_table[i];
		struct config conf;
		char yaml[1024], err[1024], want[96];

		if (!cfg_yaml_row(o) || !no_value_type(o->type))
			continue;
		row_yaml(o, "maybe", yaml, sizeof(yaml));
		snprintf(want, sizeof(want), "'%s'", o->yaml);
		if (load(yaml, &conf, err, sizeof(err)) != -1 || strstr(err, want) == NULL) {
			config_free(&conf);
			fail_msg("YAML %s: maybe: '%s'", o->yaml, err);
		}
	}
}

/* ---- 4. control bytes never come back raw --------------------------------- */

/* out: a usage error whose first line has no control byte, and whose only
 * control bytes are the '\n' that end lines; the line after the first is
 * the usage, so a value's '\n' did not start a line of its own. */
static void check_clean(const char *what, int rc, const char *out)
{
	char line[1024];
	size_t n = strcspn(out, "\n");

	first_line(out, line, sizeof(line));
	if (rc != 3)
		fail_msg("%s: rc %d, wanted 3: '%s'", what, rc, out);
	for (const unsigned char *p = (const unsigned char *)out; *p; p++)
		if ((*p < 0x20 && *p != '\n') || *p == 0x7f)
			fail_msg("%s: control byte 0x%02x at %zu in '%s'", what, *p,
				 (size_t)(p - (const unsigned char *)out), line);
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)out[i] < 0x20 || out[i] == 0x7f)
			fail_msg("%s: first line has a control byte: '%s'", what, line);
	if (out[n] != '\n' || strncmp(out + n + 1, "Usage: ", 7) != 0)
		fail_msg("%s: the line after the error is not the usage:\n%s", what, out);
}

static const char *const dirty[] = {
	"\x1b[31mred\nMTA OK - all fine",
	"ok\n\x1b[0m",
	"127.0.0.1\r\n",
	"a\x7f"
	"b",
};

/* Every row that takes a value, on every binary that takes it. */
static void test_control_bytes_argv(void **state)
{
	size_t runs = 0;

	(void)state;
	for (size_t bi = 0; bi < NBIN; bi++) {
		const struct binary *b = binaries[bi];

		for (size_t i = 0; i < option_count; i++) {
			const struct opt *o = &option_table[i];

			if (o->name == NULL || o->arg == NULL || !takes(b, o))
				continue;
			for (size_t k = 0; k < sizeof(dirty) / sizeof(dirty[0]); k++) {
				struct check_cfg cfg;
				struct runner_args ra;
				struct strbuf out;
				const char *args[8];
				char name[64], what[128], text[4096];
				int rc;

				row_args(b, o, dirty[k], name, sizeof(name), args);
				rc = parse_bin(b, args, &cfg, &ra, &out);
				snprintf(what, sizeof(what), "%s %s (value %zu)", b->prog, name, k);
				snprintf(text, sizeof(text), "%s", strbuf_str(&out));
				parse_done(&cfg, &ra, &out);
				check_clean(what, rc, text);
				runs++;
			}
		}
	}
	assert_true(runs > 50);
}

/* The messages getopt's own errors make, which quote argv too. */
static void test_control_bytes_getopt(void **state)
{
	static const char *const cases[][4] = {
		{ "--bo\x1b[31mgus\nMTA OK", NULL }, /* unknown long */
		{ "--bogus=\x1b[31m\n", NULL },	     /* its value */
		{ "-\x1b", NULL },		     /* unknown short */
		{ "-A\x1b\n", NULL },		     /* ... in a cluster */
		{ "--port=\x1b[31m\n", NULL },	     /* glued value */
		{ "--\x1b[31m\n", NULL },
		{ "\x1b[31m\nMTA OK", NULL }, /* positional */
	};

	(void)state;
	for (size_t bi = 0; bi < NBIN; bi++) {
		const struct binary *b = binaries[bi];

		for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
			struct check_cfg cfg;
			struct runner_args ra;
			struct strbuf out;
			const char *args[8] = { "-H", "host.example.org", cases[k][0], NULL };
			char what[128], text[4096];
			int rc;

			if (b->def == NULL && strchr(cases[k][0], '-') != cases[k][0])
				continue; /* mtaprobe's HOST is its main's, not getopt's */
			if (b->def == NULL && strncmp(cases[k][0], "-A", 2) == 0)
				continue; /* mtaprobe has no -A */
			rc = parse_bin(b, b->def ? args : args + 2, &cfg, &ra, &out);
			snprintf(what, sizeof(what), "%s case %zu", b->prog, k);
			snprintf(text, sizeof(text), "%s", strbuf_str(&out));
			parse_done(&cfg, &ra, &out);
			check_clean(what, rc, text);
		}
	}
}

/* Lists given twice on a command line add up, as Icinga passes an array
 * variable (--require-ext A --require-ext B); each piece is validated, and
 * the whole list too. */
static void test_repeated_lists_add_up(void **state)
{
	static const char *const ext[] = { "-H",  "mx.example.org", "--require-ext",
					   "foo", "--require-ext",  "PIPELINING,size",
					   NULL };
	static const char *const dns[] = { "-H",	"mx.example.org", "--dns-server",
					   "127.0.0.1", "--dns-server",	  "[::1]:5353",
					   NULL };
	static const char *const bad[] = { "-H",	"mx.example.org", "--dns-server",
					   "127.0.0.1", "--dns-server",	  "not-an-ip",
					   NULL };
	struct check_cfg cfg;
	struct runner_args ra;
	struct strbuf out;

	(void)state;
	assert_int_equal(parse_bin(&binary_banner, ext, &cfg, &ra, &out), -1);
	assert_string_equal(cfg.require_ext, "foo,PIPELINING,size");
	parse_done(&cfg, &ra, &out);
	assert_int_equal(parse_bin(&binary_banner, dns, &cfg, &ra, &out), -1);
	assert_string_equal(cfg.dns_servers, "127.0.0.1,[::1]:5353");
	parse_done(&cfg, &ra, &out);
	assert_int_equal(parse_bin(&binary_banner, bad, &cfg, &ra, &out), 3);
	assert_non_null(strstr(strbuf_str(&out), "--dns-server"));
	parse_done(&cfg, &ra, &out);
}

/* An unknown byte inside a cluster of short options ("-v\x01v"): getopt
 * has not moved optind past that word yet when it reports the byte, so
 * argv[optind - 1] is the word before it.  The message must name an option
 * ("unknown option '-..."), never the previous word: not the host name or
 * -j's value, and not "--hostname=..." as a flag given a value. */
static void test_unknown_short_in_cluster(void **state)
{
	/* '#' is a flag the binary takes */
	static const char *const forms[] = { "-#\x01#", "-\x01#", "-#\x1b", "-#\xff#", "-#Z#" };
	struct failures f = { 0 };
	static const char *const before[][2][3] = {
		{ { "-H", "host.example.org", NULL }, { "--hostname=host.example.org", NULL } },
		{ { "-j", "4", NULL }, { "--jobs=4", NULL } }, /* mtaprobe */
	};

	(void)state;
	for (size_t bi = 0; bi < NBIN; bi++) {
		const struct binary *b = binaries[bi];
		char flag = b->def != NULL ? 'v' : 'q';

		for (size_t k = 0; k < sizeof(forms) / sizeof(forms[0]); k++) {
			for (size_t w = 0; w < 2; w++) {
				const char *const *pre = before[b->def != NULL ? 0 : 1][w];
				struct check_cfg cfg;
				struct runner_args ra;
				struct strbuf out;
				const char *args[8];
				char word[16], line[1024], what[96];
				size_t n = 0;
				int rc;

				snprintf(word, sizeof(word), "%s", forms[k]);
				for (char *p = word; (p = strchr(p, '#')) != NULL;)
					*p = flag;
				for (; pre[n] != NULL; n++)
					args[n] = pre[n];
				args[n++] = word;
				args[n] = NULL;
				rc = parse_bin(b, args, &cfg, &ra, &out);
				first_line(strbuf_str(&out), line, sizeof(line));
				parse_done(&cfg, &ra, &out);
				snprintf(what, sizeof(what), "%s %s, form %zu", b->prog, pre[0], k);
				for (const char *p = line; *p; p++)
					if ((unsigned char)*p < 0x20 || *p == 0x7f)
						fail_msg("%s: control byte in '%s'", what, line);
				if (rc != 3 || strstr(line, "unknown option '-") == NULL)
					failure(&f, "%s: rc %d, '%s' (wanted the bad option named)",
						what, rc, line);
			}
		}
	}
	failures_check(&f);
}

/* An abbreviation several of a binary's options share ("--ca" for
 * --ca-file and --ca-path) is refused; when every one of them takes a
 * value, "--ca=X" must not be called an option that takes no value. */
static void test_ambiguous_abbreviation(void **state)
{
	struct failures f = { 0 };
	size_t seen = 0;

	(void)state;
	for (size_t bi = 0; bi < NBIN; bi++) {
		const struct binary *b = binaries[bi];

		for (size_t i = 0; i < option_count; i++) {
			const struct opt *o = &option_table[i];

			if (o->name == NULL || !takes(b, o))
				continue;
			for (size_t len = 1; len < strlen(o->name); len++) {
				size_t matches = 0, with_value = 0, exact = 0;
				struct check_cfg cfg;
				struct runner_args ra;
				struct strbuf out;
				char word[80], line[1024];
				const char *args[4] = { "-H", "host.example.org", word, NULL };
				int rc;

				bool first = true;

				for (size_t j = 0; j < option_count; j++) {
					const struct opt *x = &option_table[j];

					if (x->name == NULL || !takes(b, x) ||
					    strncmp(x->name, o->name, len) != 0)
						continue;
					first = first && j >= i; /* each prefix once */
					matches++;
					with_value += x->arg != NULL;
					exact += strlen(x->name) == len;
				}
				if (!first || matches < 2 || exact || with_value != matches)
					continue;
				seen++;
				snprintf(word, sizeof(word), "--%.*s=1", (int)len, o->name);
				rc = parse_bin(b, b->def != NULL ? args : args + 2, &cfg, &ra,
					       &out);
				first_line(strbuf_str(&out), line, sizeof(line));
				parse_done(&cfg, &ra, &out);
				if (rc != 3 || strstr(line, "takes no value") != NULL)
					failure(&f,
						"%s %s: rc %d, '%s' (every --%.*s... takes "
						"a value)",
						b->prog, word, rc, line, (int)len, o->name);
			}
		}
	}
	assert_true(seen > 0); /* --ca and --p at least */
	failures_check(&f);
}

/* The YAML side of the same: the loader's one-line error has no control
 * byte at all, whatever the value held. */
static void test_control_bytes_yaml(void **state)
{
	(void)state;
	for (size_t i = 0; i < option_count; i++) {
		const struct opt *o = &option_table[i];

		if (o->yaml == NULL || o->rk != RK_NONE)
			continue;
		for (size_t k = 0; k < sizeof(dirty) / sizeof(dirty[0]); k++) {
			struct config conf;
			char yaml[1024], err[1024];

			row_yaml(o, dirty[k], yaml, sizeof(yaml));
			if (load(yaml, &conf, err, sizeof(err)) != -1) {
				config_free(&conf);
				fail_msg("YAML %s (value %zu) was accepted", o->yaml, k);
			}
			for (const unsigned char *p = (const unsigned char *)err; *p; p++)
				if (*p < 0x20 || *p == 0x7f)
					fail_msg("YAML %s (value %zu): control byte 0x%02x in '%s'",
						 o->yaml, k, *p, err);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names_unique_per_binary),
		cmocka_unit_test(test_defaults_apply),
		cmocka_unit_test(test_args_match_types),
		cmocka_unit_test(test_flag_with_value_message),
		cmocka_unit_test(test_help_lists_rows),
		cmocka_unit_test(test_rows_land_in_cfg),
		cmocka_unit_test(test_argv_yaml_round_trip),
		cmocka_unit_test(test_bad_value_refused_alike),
		cmocka_unit_test(test_bad_flag_in_yaml),
		cmocka_unit_test(test_control_bytes_argv),
		cmocka_unit_test(test_control_bytes_getopt),
		cmocka_unit_test(test_repeated_lists_add_up),
		cmocka_unit_test(test_unknown_short_in_cluster),
		cmocka_unit_test(test_ambiguous_abbreviation),
		cmocka_unit_test(test_control_bytes_yaml),
	};
	return cmocka_run_group_tests_name("options", tests, make_read_path, remove_read_path);
}
