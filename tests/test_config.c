/* test_config.c - the runner's YAML configuration: every key arrives in the
 * struct, defaults are inherited and overridden, labels merge, and every
 * error names file:line:column and what was expected. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <cmocka.h>

#include "runner/config.h"

/* the default: every check but sts (a domain's, asked for by name) */
#define ALL_CHECKS ((1u << CK_STS) - 1)

static int load(const char *yaml, struct config *cfg, char *err, size_t err_size)
{
	struct probe_err e;
	int rc = config_load_string(yaml, strlen(yaml), "t.yaml", cfg, &e);

	if (rc < 0)
		snprintf(err, err_size, "%s", e.msg);
	return rc;
}

/* The same for len bytes, and for a file: the message copied into err. */
static int load_n(const char *yaml, size_t len, const char *name, struct config *cfg, char *err,
		  size_t err_size)
{
	struct probe_err e;
	int rc = config_load_string(yaml, len, name, cfg, &e);

	if (rc < 0)
		snprintf(err, err_size, "%s", e.msg);
	return rc;
}

static int load_path(const char *path, struct config *cfg, char *err, size_t err_size)
{
	struct probe_err e;
	int rc = config_load(path, cfg, &e);

	if (rc < 0)
		snprintf(err, err_size, "%s", e.msg);
	return rc;
}

/* Load yaml that must be good; fails the test with the message if not. */
static void load_ok(const char *yaml, struct config *cfg)
{
	char err[512] = "";

	if (load(yaml, cfg, err, sizeof(err)) != 0)
		fail_msg("config rejected: %s\n--- yaml ---\n%s", err, yaml);
}

static const struct label *label(const struct target *t, const char *name)
{
	for (int i = 0; i < t->nlabels; i++)
		if (strcmp(t->labels[i].name, name) == 0)
			return &t->labels[i];
	return NULL;
}

static void test_every_key(void **state)
{
	static const char yaml[] =
		"output: {format: json, path: /tmp/out.json}\n"
		"concurrency: 7\n"
		"targets:\n"
		"  - name: edge\n"
		"    host: mx1.example.org\n"
		"    port: 2525\n"
		"    tls: yes\n"
		"    sni: mail.example.org\n"
		"    ehlo: probe.example.org\n"
		"    timeout: 2.5\n"
		"    checks: [banner, cert]\n"
		"    cert_days: {warning: 40, critical: \"@0:7\"}\n"
		"    time: {warning: 1.5, critical: \"~:3\"}\n"
		"    min_tls: TLSv1.3\n"
		"    ca_file: /etc/ssl/certs/ca-certificates.crt\n"
		"    ca_path: /etc/ssl/certs\n"
		"    no_verify: true\n"
		"    dane: True\n"
		"    fcrdns: YES\n"
		"    expect: ESMTP Postfix\n"
		"    require_ext: [PIPELINING, SIZE, 8BITMIME]\n"
		"    relay: {from: a@example.org, to: b@example.net, thorough: true}\n"
		"    dns_server: 127.0.0.1:5353,[::1]:5353\n"
		"    ipv6: true\n"
		"    labels: {site: fra1, team: mail}\n";
	struct config cfg;
	const struct target *t;

	(void)state;
	load_ok(yaml, &cfg);
	assert_string_equal(cfg.path, "t.yaml");
	assert_string_equal(cfg.name, "t");
	assert_int_equal(cfg.format, OUT_JSON);
	assert_string_equal(cfg.output_path, "/tmp/out.json");
	assert_int_equal(cfg.concurrency, 7);
	assert_int_equal(cfg.ntargets, 1);
	t = &cfg.targets[0];
	assert_string_equal(t->name, "edge");
	assert_string_equal(t->cfg.host, "mx1.example.org");
	assert_null(t->cfg.mx_domain);
	assert_int_equal(t->cfg.port, 2525);
	assert_true(check_implicit_tls(&t->cfg));
	assert_string_equal(t->cfg.sni, "mail.example.org");
	assert_string_equal(t->cfg.ehlo, "probe.example.org");
	assert_true(t->cfg.timeout == 2.5);
	assert_int_equal(t->checks, (1u << CK_BANNER) | (1u << CK_CERT));
	assert_string_equal(t->cfg.days_warn.text, "40:"); /* a bare number of days is "N:" */
	assert_true(t->cfg.days_warn.high_inf);
	assert_true(t->cfg.days_warn.low == 40);
	assert_string_equal(t->cfg.days_crit.text, "@0:7");
	assert_true(t->cfg.days_crit.inside);
	assert_string_equal(t->cfg.warn.text, "1.5"); /* plain threshold: 0..1.5 */
	assert_true(t->cfg.warn.set && !t->cfg.warn.high_inf && t->cfg.warn.high == 1.5);
	assert_string_equal(t->cfg.crit.text, "~:3");
	assert_int_equal(t->cfg.min_tls, 0x0304);
	assert_string_equal(t->cfg.ca_file, "/etc/ssl/certs/ca-certificates.crt");
	assert_string_equal(t->cfg.ca_path, "/etc/ssl/certs");
	assert_true(t->cfg.no_verify);
	assert_true(t->cfg.dane);
	assert_true(t->cfg.fcrdns);
	assert_string_equal(t->cfg.expect, "ESMTP Postfix");
	assert_string_equal(t->cfg.require_ext, "PIPELINING,SIZE,8BITMIME");
	assert_string_equal(t->cfg.relay_from, "a@example.org");
	assert_string_equal(t->cfg.relay_to, "b@example.net");
	assert_true(t->cfg.relay_thorough);
	assert_string_equal(t->cfg.dns_servers, "127.0.0.1:5353,[::1]:5353");
	assert_int_equal(t->cfg.family, AF_INET6);
	assert_int_equal(t->nlabels, 2);
	assert_string_equal(label(t, "site")->value, "fra1");
	assert_string_equal(label(t, "team")->value, "mail");
	config_free(&cfg);
}

/* A target that says nothing but its host gets target_defaults(). */
static void test_builtin_defaults(void **state)
{
	struct config cfg;
	const struct target *t;

	(void)state;
	load_ok("targets:\n  - host: mx.example.org\n", &cfg);
	assert_int_equal(cfg.format, OUT_PROMETHEUS);
	assert_null(cfg.output_path);
	assert_int_equal(cfg.concurrency, 256);
	t = &cfg.targets[0];
	assert_string_equal(t->name, "mx.example.org");
	assert_int_equal(t->cfg.port, 25);
	assert_false(check_implicit_tls(&t->cfg));
	assert_true(t->cfg.timeout == 10);
	assert_int_equal(t->checks, ALL_CHECKS);
	assert_string_equal(t->cfg.days_warn.text, "30:");
	assert_string_equal(t->cfg.days_crit.text, "14:");
	assert_false(t->cfg.warn.set);
	assert_false(t->cfg.crit.set);
	assert_int_equal(t->cfg.min_tls, 0x0303);
	assert_int_equal(t->cfg.family, AF_UNSPEC);
	assert_null(t->cfg.sni);
	assert_null(t->cfg.ehlo);
	assert_null(t->cfg.ca_file);
	assert_null(t->cfg.ca_path);
	assert_null(t->cfg.expect);
	assert_null(t->cfg.require_ext);
	assert_null(t->cfg.relay_from);
	assert_null(t->cfg.relay_to);
	assert_null(t->cfg.dns_servers);
	assert_false(t->cfg.no_verify || t->cfg.dane || t->cfg.fcrdns || t->cfg.relay_thorough);
	assert_int_equal(t->nlabels, 0);
	config_free(&cfg);
}

static void test_defaults_inherited_and_overridden(void **state)
{
	static const char yaml[] =
		"defaults:\n"
		"  port: 587\n"
		"  timeout: 4\n"
		"  ehlo: monitor.example.org\n"
		"  checks: [port, banner]\n"
		"  cert_days: {warning: 20, critical: 10}\n"
		"  time: {warning: 2, critical: 5}\n"
		"  min_tls: 1.2\n"
		"  ca_path: /etc/ssl/certs\n"
		"  no_verify: yes\n"
		"  expect: ESMTP\n"
		"  require_ext: PIPELINING\n"
		"  relay: {from: probe@example.org, thorough: yes}\n"
		"  dns_server: 127.0.0.1\n"
		"  ipv4: true\n"
		"targets:\n"
		"  - host: a.example.org\n"
		"  - host: b.example.org\n"
		"    port: 25\n"
		"    timeout: 8\n"
		"    ehlo: other.example.org\n"
		"    checks: [relay]\n"
		"    cert_days: {critical: 3}\n"
		"    time: {warning: 1}\n"
		"    min_tls: \"1.3\"\n"
		"    no_verify: no\n"
		"    require_ext: STARTTLS, SIZE\n"
		"    relay: {to: x@example.net, thorough: false}\n"
		"    ipv4: false\n"
		"  - mx: example.net\n"
		"    ipv6: true\n";
	struct config cfg;
	const struct target *a, *b, *c;

	(void)state;
	load_ok(yaml, &cfg);
	assert_int_equal(cfg.ntargets, 3);
	a = &cfg.targets[0];
	b = &cfg.targets[1];
	c = &cfg.targets[2];
	/* a: everything from defaults */
	assert_int_equal(a->cfg.port, 587);
	assert_true(a->cfg.timeout == 4);
	assert_string_equal(a->cfg.ehlo, "monitor.example.org");
	assert_int_equal(a->checks, (1u << CK_PORT) | (1u << CK_BANNER));
	assert_string_equal(a->cfg.days_warn.text, "20:");
	assert_string_equal(a->cfg.days_crit.text, "10:");
	assert_string_equal(a->cfg.warn.text, "2");
	assert_string_equal(a->cfg.crit.text, "5");
	assert_int_equal(a->cfg.min_tls, 0x0303);
	assert_string_equal(a->cfg.ca_path, "/etc/ssl/certs");
	assert_true(a->cfg.no_verify);
	assert_string_equal(a->cfg.expect, "ESMTP");
	assert_string_equal(a->cfg.require_ext, "PIPELINING");
	assert_string_equal(a->cfg.relay_from, "probe@example.org");
	assert_null(a->cfg.relay_to);
	assert_true(a->cfg.relay_thorough);
	assert_string_equal(a->cfg.dns_servers, "127.0.0.1");
	assert_int_equal(a->cfg.family, AF_INET);
	/* b: its own values win, sub-keys it leaves out come from defaults */
	assert_int_equal(b->cfg.port, 25);
	assert_true(b->cfg.timeout == 8);
	assert_string_equal(b->cfg.ehlo, "other.example.org");
	assert_int_equal(b->checks, 1u << CK_RELAY);
	assert_string_equal(b->cfg.days_warn.text, "20:");
	assert_string_equal(b->cfg.days_crit.text, "3:");
	assert_string_equal(b->cfg.warn.text, "1");
	assert_string_equal(b->cfg.crit.text, "5");
	assert_int_equal(b->cfg.min_tls, 0x0304);
	assert_false(b->cfg.no_verify);
	assert_string_equal(b->cfg.require_ext, "STARTTLS,SIZE");
	assert_string_equal(b->cfg.relay_from, "probe@example.org");
	assert_string_equal(b->cfg.relay_to, "x@example.net");
	assert_false(b->cfg.relay_thorough);
	assert_int_equal(b->cfg.family, AF_UNSPEC);
	/* c: mx target, ipv6 replaces the defaults' ipv4, name is the domain */
	assert_null(c->cfg.host);
	assert_string_equal(c->cfg.mx_domain, "example.net");
	assert_string_equal(c->name, "example.net");
	assert_int_equal(c->cfg.family, AF_INET6);
	config_free(&cfg);
}

/* host and mx are one choice: a target's own replaces the defaults'. */
static void test_host_mx_override(void **state)
{
	struct config cfg;

	(void)state;
	load_ok("defaults: {host: fallback.example.org}\n"
		"targets:\n  - {name: one, mx: example.org}\n  - {name: two}\n",
		&cfg);
	assert_null(cfg.targets[0].cfg.host);
	assert_string_equal(cfg.targets[0].cfg.mx_domain, "example.org");
	assert_string_equal(cfg.targets[1].cfg.host, "fallback.example.org");
	assert_null(cfg.targets[1].cfg.mx_domain);
	config_free(&cfg);
}

static void test_labels_merge(void **state)
{
	static const char yaml[] =
		"defaults:\n"
		"  labels: {env: prod, team: mail}\n"
		"targets:\n"
		"  - host: a.example.org\n"
		"  - host: b.example.org\n"
		"    labels: {team: postmaster, site: \"1\"}\n";
	struct config cfg;
	const struct target *a, *b;

	(void)state;
	load_ok(yaml, &cfg);
	a = &cfg.targets[0];
	b = &cfg.targets[1];
	assert_int_equal(a->nlabels, 2);
	assert_string_equal(label(a, "env")->value, "prod");
	assert_string_equal(label(a, "team")->value, "mail");
	assert_int_equal(b->nlabels, 3);
	assert_string_equal(label(b, "env")->value, "prod");
	assert_string_equal(label(b, "team")->value, "postmaster");
	assert_string_equal(label(b, "site")->value, "1");
	config_free(&cfg);
}

/* Values written the other ways the loader accepts. */
struct variant {
	const char *target; /* flow mapping body of the only target */
	const char *field;
	const char *want; /* the field printed back */
};

static void show_field(const struct config *cfg, const char *field, char *buf, size_t size)
{
	const struct target *t = &cfg->targets[0];

	if (strcmp(field, "port") == 0)
		snprintf(buf, size, "%d", t->cfg.port);
	else if (strcmp(field, "tls") == 0)
		snprintf(buf, size, "%d", check_implicit_tls(&t->cfg));
	else if (strcmp(field, "timeout") == 0)
		snprintf(buf, size, "%g", t->cfg.timeout);
	else if (strcmp(field, "min_tls") == 0)
		snprintf(buf, size, "%#06x", (unsigned)t->cfg.min_tls);
	else if (strcmp(field, "require_ext") == 0)
		snprintf(buf, size, "%s", t->cfg.require_ext);
	else if (strcmp(field, "cert_warn") == 0)
		snprintf(buf, size, "%s", t->cfg.days_warn.text);
	else if (strcmp(field, "time_warn") == 0)
		snprintf(buf, size, "%s", t->cfg.warn.text);
	else if (strcmp(field, "name") == 0)
		snprintf(buf, size, "%s", t->name);
	else if (strcmp(field, "checks") == 0)
		snprintf(buf, size, "%#x", t->checks);
	else if (strcmp(field, "family") == 0)
		snprintf(buf, size, "%s",
			 t->cfg.family == AF_INET    ? "4"
			 : t->cfg.family == AF_INET6 ? "6"
						     : "any");
	else if (strcmp(field, "ehlo") == 0)
		snprintf(buf, size, "%s", t->cfg.ehlo);
	else
		fail_msg("no field %s", field);
}

static void test_variants(void **state)
{
	static const struct variant v[] = {
		{ "port: \"25\"", "port", "25" },
		{ "port: '465'", "port", "465" },
		{ "port: 65535", "port", "65535" },
		{ "port: 1", "port", "1" },
		{ "port: 465", "tls", "1" }, /* 465 is implicit TLS */
		{ "port: 465, tls: false", "tls", "0" },
		{ "tls: No", "tls", "0" },
		{ "tls: TRUE", "tls", "1" },
		{ "tls: \"yes\"", "tls", "1" },
		{ "timeout: 10.", "timeout", "10" },
		{ "timeout: .5", "timeout", "0.5" },
		{ "timeout: 3600", "timeout", "3600" },
		{ "timeout: \"0.01\"", "timeout", "0.01" },
		{ "min_tls: 1.0", "min_tls", "0x0301" },
		{ "min_tls: \"1.1\"", "min_tls", "0x0302" },
		{ "min_tls: tlsv1.2", "min_tls", "0x0303" },
		{ "min_tls: TLSv1", "min_tls", "0x0301" },
		{ "require_ext: SIZE", "require_ext", "SIZE" },
		{ "require_ext: 'PIPELINING,SIZE'", "require_ext", "PIPELINING,SIZE" },
		{ "require_ext: [8BITMIME]", "require_ext", "8BITMIME" },
		{ "require_ext: \" SMTPUTF8 , CHUNKING \"", "require_ext", "SMTPUTF8,CHUNKING" },
		{ "cert_days: {warning: \"30\"}", "cert_warn", "30:" },
		{ "cert_days: {warning: 7.5}", "cert_warn", "7.5:" },
		{ "cert_days: {warning: \"10:20\"}", "cert_warn", "10:20" },
		{ "cert_days: {warning: \"~:400\"}", "cert_warn", "~:400" },
		{ "time: {warning: 3}", "time_warn", "3" },
		{ "time: {warning: \"1:\"}", "time_warn", "1:" },
		{ "time: {warning: \"@1:2\"}", "time_warn", "@1:2" },
		{ "name: \"null\"", "name", "null" }, /* quoted, it is text */
		{ "name: 25", "name", "25" },
		{ "name: ~x", "name", "~x" },
		{ "name: Zürich", "name", "Zürich" },
		{ "checks: [relay, port]", "checks", "0x11" },
		{ "checks: [port, banner, starttls, cert, relay]", "checks", "0x1f" },
		{ "ipv4: yes", "family", "4" },
		{ "ipv4: false, ipv6: true", "family", "6" },
		{ "ipv4: false, ipv6: false", "family", "any" },
		{ "ehlo: '[192.0.2.1]'", "ehlo", "[192.0.2.1]" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		char yaml[256], got[64];
		struct config cfg;

		snprintf(yaml, sizeof(yaml), "targets:\n  - {host: h.example.org, %s}\n",
			 v[i].target);
		load_ok(yaml, &cfg);
		show_field(&cfg, v[i].field, got, sizeof(got));
		if (strcmp(got, v[i].want) != 0)
			fail_msg("'%s': %s is '%s', expected '%s'", v[i].target, v[i].field, got,
				 v[i].want);
		config_free(&cfg);
	}
}

/* The config's name (the run-level series' "config" label): name:, else
 * the file's base name without its extension. */
static void test_config_name(void **state)
{
	static const struct {
		const char *file, *want;
	} from_file[] = {
		{ "/etc/mtaprobe/mtaprobe.yaml", "mtaprobe" },
		{ "conf/edge.prod.yml", "edge.prod" },
		{ "/etc/mtaprobe.d/plain", "plain" },
		{ "dir/.hidden.yaml", ".hidden" },
		{ "edge", "edge" },
		{ "Zürich.yaml", "Zürich" },
	};
	static const char targets[] = "targets:\n  - host: a\n";
	char yaml[512], err[512], *s;
	struct config cfg;

	(void)state;
	load_ok("name: edge\ntargets:\n  - host: a\n", &cfg);
	assert_string_equal(cfg.name, "edge");
	config_free(&cfg);
	/* any label value: quotes and backslashes are escaped by the report */
	load_ok("name: 'mail \"fra1\" \\ Zürich'\ntargets:\n  - host: a\n", &cfg);
	assert_string_equal(cfg.name, "mail \"fra1\" \\ Zürich");
	config_free(&cfg);
	/* a target's name, even under defaults, is not the config's */
	load_ok("defaults: {name: x}\ntargets:\n  - host: a\n", &cfg);
	assert_string_equal(cfg.name, "t");
	assert_string_equal(cfg.targets[0].name, "x");
	config_free(&cfg);
	for (size_t i = 0; i < sizeof(from_file) / sizeof(from_file[0]); i++) {
		if (load_n(targets, strlen(targets), from_file[i].file, &cfg, err, sizeof(err)) !=
		    0)
			fail_msg("%s: %s", from_file[i].file, err);
		assert_string_equal(cfg.name, from_file[i].want);
		assert_string_equal(cfg.path, from_file[i].file);
		config_free(&cfg);
	}
	/* name: wins over the file's name */
	snprintf(yaml, sizeof(yaml), "name: b\n%s", targets);
	assert_int_equal(load_n(yaml, strlen(yaml), "/x/a.yaml", &cfg, err, sizeof(err)), 0);
	assert_string_equal(cfg.name, "b");
	config_free(&cfg);
	/* a file name that makes no name asks for name: */
	assert_int_equal(load_n(targets, strlen(targets), "dir/", &cfg, err, sizeof(err)), -1);
	assert_string_equal(err,
			    "dir/:1:1: no 'name' at the top level, and the file's name makes "
			    "none: 'name' must be a config name, not '' (it is empty)");
	assert_int_equal(load_n(targets, strlen(targets), "x\033[2J.yaml", &cfg, err, sizeof(err)),
			 -1);
	assert_non_null(strstr(err,
			       ":1:1: no 'name' at the top level, and the file's name makes "
			       "none: 'name' must be a config name, not 'x?[2J' (control"));
	snprintf(yaml, sizeof(yaml), "name: ok\n%s", targets);
	assert_int_equal(load_n(yaml, strlen(yaml), "x\033[2J.yaml", &cfg, err, sizeof(err)), 0);
	assert_string_equal(cfg.name, "ok");
	config_free(&cfg);
	/* at most 255 bytes, like a target's name */
	s = calloc(1, 1024);
	assert_non_null(s);
	snprintf(s, 1024, "name: %0255d\n%s", 0, targets);
	load_ok(s, &cfg);
	assert_int_equal(strlen(cfg.name), 255);
	config_free(&cfg);
	snprintf(s, 1024, "name: %0256d\n%s", 0, targets);
	assert_int_equal(load(s, &cfg, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "t.yaml:1:7: 'name' must be a config name, not '000"));
	assert_non_null(strstr(err, "(it is longer than 255 bytes)"));
	free(s);
}

/* The same document in block style, with comments, anchors and the
 * explicit document markers. */
static void test_yaml_forms(void **state)
{
	static const char yaml[] =
		"%YAML 1.1\n"
		"---\n"
		"# comment\n"
		"common_labels: &common {team: mail}\n";
	static const char yaml2[] =
		"---\n"
		"defaults:\n"
		"  labels: &common\n"
		"    team: mail   # trailing comment\n"
		"targets:\n"
		"- name: a\n"
		"  host: a.example.org\n"
		"  labels: *common\n"
		"- name: \"b\"\n"
		"  host: 'b.example.org'\n"
		"  checks:\n"
		"  - port\n"
		"  - cert\n"
		"...\n";
	struct config cfg;
	char err[512];

	(void)state;
	/* an unknown top-level key, even one only holding an anchor */
	assert_int_equal(load(yaml, &cfg, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "unknown key 'common_labels' at the top level"));
	load_ok(yaml2, &cfg);
	assert_int_equal(cfg.ntargets, 2);
	assert_string_equal(label(&cfg.targets[0], "team")->value, "mail");
	assert_string_equal(cfg.targets[1].name, "b");
	assert_string_equal(cfg.targets[1].cfg.host, "b.example.org");
	assert_int_equal(cfg.targets[1].checks, (1u << CK_PORT) | (1u << CK_CERT));
	config_free(&cfg);
}

/* Every error: "t.yaml:LINE:COLUMN: " then a fragment of the message. */
struct bad {
	const char *yaml;
	const char *pos;
	const char *msg;
};

#define T "targets:\n  - " /* the target then starts at 2:5 */

static const struct bad bad[] = {
	/* the file as a whole */
	{ "", "1:1",
	  "the file is empty (expected a mapping of name, defaults, output, concurrency, targets, "
	  "modules)" },
	{ "# only a comment\n", "1:1", "the file is empty" },
	{ "---\n", "1:1", "the file is empty" },
	{ "- a\n- b\n", "1:1",
	  "the top level must be a mapping of name, defaults, output, concurrency, targets, "
	  "modules, not a list" },
	{ "hello\n", "1:1", "the top level must be a mapping" },
	{ "targets: [\n", "2:1",
	  "YAML syntax error: did not find expected node content (while parsing a flow node at "
	  "line 2, column 1)" },
	{ "targets:\n  - host: a\n   port: 25\n", "3:4",
	  "YAML syntax error: did not find expected '-' indicator (while parsing a block "
	  "collection at line 2, column 3)" },
	{ "targets:\n\t- host: a\n", "2:1",
	  "YAML syntax error: found character that cannot start any token (while scanning for "
	  "the next token" },
	{ "a: \"x\xff\"\n", "1:6", "not valid YAML text: invalid leading UTF-8 octet (byte 0xff)" },
	{ "targets: []\n---\ntargets: []\n", "2:1", "a second YAML document (expected only one)" },
	{ "targets: *nope\n", "1:10", "YAML syntax error: found undefined alias" },
	{ "a: [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]\n", "1:19",
	  "nested more than 16 levels deep" }, /* the top-level mapping is the first */
	/* the top level */
	{ "output: {format: prometheus}\n", "1:1",
	  "no 'targets' (expected a list of at least one target, or 'modules' for mtaprobe "
	  "--listen)" },
	{ "targets: []\n", "1:10", "'targets' must list at least one target" },
	{ "targets: mx.example.org\n", "1:10",
	  "'targets' must be a list of targets, not 'mx.example.org'" },
	{ "targets:\n", "1:1", "'targets' at the top level needs a value" },
	{ "targets: ~\n", "1:1", "'targets' at the top level needs a value" },
	{ "target: []\n", "1:1",
	  "unknown key 'target' at the top level (expected one of: name, defaults, output, "
	  "concurrency, targets, modules)" },
	{ "concurrency: 4\nconcurrency: 5\n", "2:1",
	  "duplicate key 'concurrency' at the top level (first at line 1)" },
	{ "concurrency: 0\n", "1:14", "'concurrency' must be an integer 1-4096, not '0'" },
	/* modules: (mtaprobe --listen) */
	{ "modules: x\n", "1:10",
	  "'modules' must be a mapping of module names to mappings of per-target keys, not 'x'" },
	{ "modules:\n", "1:1", "'modules' at the top level needs a value" },
	{ "modules:\n  smtp: x\n", "2:9",
	  "module 'smtp' must be a mapping of port, tls, sni, ehlo, timeout, checks" },
	{ "modules:\n  smtp:\n", "2:3",
	  "module 'smtp' needs a value (a mapping of port, tls, sni, ehlo, timeout, checks" },
	{ "modules:\n  smtp: {host: a}\n", "2:10",
	  "'host' is not taken in a module: /probe?target=HOST[:PORT] names the server" },
	{ "modules:\n  smtp: {mx: a}\n", "2:10", "'mx' is not taken in a module" },
	{ "modules:\n  smtp: {name: a}\n", "2:10", "'name' is not taken in a module" },
	{ "modules:\n  smtp: {prot: 25}\n", "2:10",
	  "unknown key 'prot' in module 'smtp' (expected one of: port, tls, sni, ehlo" },
	{ "modules:\n  smtp: {port: 0}\n", "2:16", "'port' must be an integer 1-65535, not '0'" },
	{ "modules:\n  smtp: {checks: [ping]}\n", "2:19", "unknown check 'ping' in 'checks'" },
	{ "modules:\n  'a b': {}\n", "2:3",
	  "bad module name 'a b': module names are 1-64 letters, digits, '_', '.' or '-'" },
	{ "modules:\n  '': {}\n", "2:3", "bad module name ''" },
	{ "modules:\n  [a]: {}\n", "2:3", "bad module name a list" },
	{ "modules:\n  smtp: {}\n  smtp: {port: 26}\n", "3:3",
	  "duplicate module 'smtp' (first at line 2)" },
	/* defaults: is checked first, also for the modules */
	{ "defaults: {prot: 25}\nmodules: {smtp: {}}\n", "1:12", "unknown key 'prot' in defaults" },
	{ "concurrency: 4097\n", "1:14", "'concurrency' must be an integer 1-4096, not '4097'" },
	/* the config's name: the run-level series' "config" label */
	{ "name: \"\"\n" T "host: a\n", "1:7",
	  "'name' must be a config name, not '' (it is empty)" },
	{ "name: [a]\n" T "host: a\n", "1:7", "'name' must be a config name, not a list" },
	{ "name: {a: b}\n" T "host: a\n", "1:7", "'name' must be a config name, not a mapping" },
	{ "name: \"edge\\n\"\n" T "host: a\n", "1:7",
	  "'name' must be a config name, not 'edge?' (control characters are not allowed)" },
	{ "name: \"ed\\x00ge\"\n" T "host: a\n", "1:7",
	  "'name' must be a config name, not text with a NUL byte" },
	{ "name: \"a\\u2028b\"\n" T "host: a\n", "1:7",
	  "'name' must be a config name, not 'a???b' (it is not valid UTF-8, or holds a control or "
	  "line separator)" },
	{ "name:\n" T "host: a\n", "1:1", "'name' at the top level needs a value" },
	{ "name: a\nname: b\n" T "host: a\n", "2:1",
	  "duplicate key 'name' at the top level (first at line 1)" },
	/* checked before the targets, whatever their errors */
	{ "name: \"\"\ntargets: []\n", "1:7", "'name' must be a config name" },
	{ "output: {format: xml}\n", "1:18",
	  "'output.format' must be prometheus, json or text, not 'xml'" },
	{ "output: {path: ''}\n", "1:16",
	  "'output.path' must be a file or directory name, not '' (it is empty)" },
	{ "output: {fromat: json}\n", "1:10",
	  "unknown key 'fromat' in 'output' (expected one of: format, path)" },
	{ "output: json\n", "1:9", "'output' must be a mapping of format, path, not 'json'" },
	{ "defaults: [port]\n", "1:11", "'defaults' must be a mapping of name, host, mx, port" },
	{ "defaults: {prot: 25}\n" T "host: a\n", "1:12",
	  "unknown key 'prot' in defaults (expected one of: name, host, mx, port, tls, sni" },
	{ "defaults: {host: a, mx: b}\n" T "name: x\n", "1:11",
	  "defaults has both 'host' and 'mx'" },
	{ "targets:\n  - mx.example.org\n", "2:5",
	  "each target must be a mapping of name, host, mx" },
	/* a target's keys */
	{ T "hots: a\n", "2:5",
	  "unknown key 'hots' in target (expected one of: name, host, mx, port, tls, sni, ehlo, "
	  "timeout, checks, cert_days, time, min_tls, scan_versions, ca_file, ca_path, no_verify, dane, fcrdns, "
	  "expect, require_ext, relay, dns_server, ipv4, ipv6, labels)" },
	{ T "host: a\n    port: 25\n    port: 26\n", "4:5",
	  "duplicate key 'port' in target (first at line 3)" },
	{ T "name: x\n", "2:5", "target has neither 'host' nor 'mx'" },
	{ T "host: a\n    mx: b\n", "2:5", "target has both 'host' and 'mx'" },
	{ T "host:\n", "2:5", "'host' in target needs a value" },
	{ T "host: a\n    port: ~\n", "3:5", "'port' in target needs a value" },
	{ T "host: a\n    port: null\n", "3:5", "'port' in target needs a value" },
	{ T "host: a\n    [port]: 25\n", "3:5", "keys must be plain words, not a list" },
	{ T "host: a\n    port: abc\n", "3:11", "'port' must be an integer 1-65535, not 'abc'" },
	{ T "host: a\n    port: 0\n", "3:11", "'port' must be an integer 1-65535, not '0'" },
	{ T "host: a\n    port: 65536\n", "3:11",
	  "'port' must be an integer 1-65535, not '65536'" },
	{ T "host: a\n    port: -25\n", "3:11", "'port' must be an integer 1-65535, not '-25'" },
	{ T "host: a\n    port: 025\n", "3:11", "'port' must be an integer 1-65535, not '025'" },
	{ T "host: a\n    port: 0x19\n", "3:11", "'port' must be an integer 1-65535, not '0x19'" },
	{ T "host: a\n    port: 25.0\n", "3:11", "'port' must be an integer 1-65535, not '25.0'" },
	{ T "host: a\n    port: \" 25\"\n", "3:11",
	  "'port' must be an integer 1-65535, not ' 25'" },
	{ T "host: a\n    port: \"2\\x005\"\n", "3:11",
	  "'port' must be an integer 1-65535, not text with a NUL byte" },
	{ T "host: a\n    port: [25]\n", "3:11", "'port' must be an integer 1-65535, not a list" },
	{ T "host: a\n    port: 99999999999999999999\n", "3:11",
	  "'port' must be an integer 1-65535" },
	{ T "host: a\n    tls: maybe\n", "3:10",
	  "'tls' must be true or false (or yes, no), not 'maybe'" },
	{ T "host: a\n    tls: 1\n", "3:10", "'tls' must be true or false (or yes, no), not '1'" },
	{ T "host: a\n    tls: on\n", "3:10", "'tls' must be true or false" },
	{ T "host: a b\n", "2:11", "'host' must be a host name, not 'a b' (' ' is not allowed)" },
	{ T "host: \"\"\n", "2:11", "'host' must be a host name, not '' (it is empty)" },
	{ T "host: \"a\\r\\nQUIT\"\n", "2:11",
	  "'host' must be a host name, not 'a??QUIT' (control characters are not allowed)" },
	{ T "host: {a: b}\n", "2:11", "'host' must be a host name, not a mapping" },
	{ T "mx: example.org/24\n", "2:9",
	  "'mx' must be a domain name, not 'example.org/24' ('/' is not allowed)" },
	{ T "host: a\n    sni: \"x y\"\n", "3:10", "'sni' must be a host name" },
	{ T "host: a\n    ehlo: \"probe\\n\"\n", "3:11",
	  "'ehlo' must be an EHLO name, not 'probe?' (control characters are not allowed)" },
	{ T "host: a\n    timeout: 0\n", "3:14",
	  "'timeout' must be a number of seconds, more than 0 and at most 3600, not '0'" },
	{ T "host: a\n    timeout: 3600.5\n", "3:14", "'timeout' must be a number of seconds" },
	{ T "host: a\n    timeout: 10s\n", "3:14", "not '10s'" },
	{ T "host: a\n    timeout: -1\n", "3:14", "not '-1'" },
	{ T "host: a\n    timeout: 1e3\n", "3:14", "not '1e3'" },
	{ T "host: a\n    timeout: .inf\n", "3:14", "not '.inf'" },
	{ T "host: a\n    checks: port\n", "3:13",
	  "'checks' must be a list of checks (port, banner, starttls, cert, relay, sts), not 'port'" },
	{ T "host: a\n    checks: []\n", "3:13", "'checks' must list at least one check" },
	{ T "host: a\n    checks: [port, tls]\n", "3:20",
	  "unknown check 'tls' in 'checks' (expected one of: port, banner, starttls, cert, "
	  "relay, sts)" },
	{ T "host: a\n    checks: [port, [cert]]\n", "3:20", "unknown check a list in 'checks'" },
	{ T "host: a\n    checks: [cert, banner, cert]\n", "3:28",
	  "check 'cert' is listed twice in 'checks'" },
	{ T "host: a\n    cert_days: 30\n", "3:16",
	  "'cert_days' must be a mapping of warning, critical, not '30'" },
	{ T "host: a\n    cert_days: {warn: 30}\n", "3:17",
	  "unknown key 'warn' in 'cert_days' (expected one of: warning, critical)" },
	{ T "host: a\n    cert_days: {warning: abc}\n", "3:26",
	  "'cert_days.warning': 'abc' is not a range (N, N:, ~:N, N:M or @N:M)" },
	{ T "host: a\n    cert_days: {critical: \"20:10\"}\n", "3:27",
	  "'cert_days.critical': start of range '20:10' is greater" },
	{ T "host: a\n    cert_days: {warning: .}\n", "3:26",
	  "'cert_days.warning': '.' is not a range" },
	{ T "host: a\n    cert_days: {warning: [1]}\n", "3:26",
	  "'cert_days.warning' must be a number or a range" },
	{ T "host: a\n    cert_days: {warning: 30, warning: 20}\n", "3:30",
	  "duplicate key 'warning' in 'cert_days'" },
	{ T "host: a\n    time: {critical: 5s}\n", "3:22", "'time.critical': '5s' is not a range" },
	{ T "host: a\n    time: {warning: }\n", "3:12", "'warning' in 'time' needs a value" },
	{ T "host: a\n    min_tls: 1.4\n", "3:14",
	  "'min_tls' must be a TLS version (1.0, 1.1, 1.2, 1.3 or TLSv1.x), not '1.4'" },
	{ T "host: a\n    min_tls: SSLv3\n", "3:14", "not 'SSLv3'" },
	{ T "host: a\n    ca_file: \"\"\n", "3:14",
	  "'ca_file' must be a file or directory name, not ''" },
	{ T "host: a\n    ca_path: [a]\n", "3:14",
	  "'ca_path' must be a file or directory name, not a list" },
	{ T "host: a\n    no_verify: 2\n", "3:16", "'no_verify' must be true or false" },
	{ T "host: a\n    dane: yess\n", "3:11", "'dane' must be true or false" },
	{ T "host: a\n    fcrdns: {}\n", "3:13",
	  "'fcrdns' must be true or false (or yes, no), not a mapping" },
	{ T "host: a\n    expect: ''\n", "3:13", "'expect' must be a non-empty string" },
	{ T "host: a\n    require_ext: SIZE=10\n", "3:18",
	  "'require_ext' must be EHLO keywords (letters, digits, '-'), not 'SIZE=10'" },
	{ T "host: a\n    require_ext: \"A,,B\"\n", "3:18", "'require_ext' must be EHLO keywords" },
	{ T "host: a\n    require_ext: []\n", "3:18",
	  "'require_ext' must list at least one EHLO keyword" },
	{ T "host: a\n    require_ext: [SIZE, \"8 BIT\"]\n", "3:25", "not '8 BIT'" },
	{ T "host: a\n    require_ext: {a: b}\n", "3:18",
	  "'require_ext' must be EHLO keywords (\"PIPELINING,SIZE\" or a list), not a mapping" },
	{ T "host: a\n    relay: yes\n", "3:12",
	  "'relay' must be a mapping of from, to, thorough, not 'yes'" },
	{ T "host: a\n    relay: {form: a@b}\n", "3:13",
	  "unknown key 'form' in 'relay' (expected one of: from, to, thorough)" },
	{ T "host: a\n    relay: {from: nobody}\n", "3:19",
	  "'relay.from' must be a mail address (user@domain), not 'nobody' (it has no '@')" },
	{ T "host: a\n    relay: {to: \"<a@b>\"}\n", "3:17",
	  "'relay.to' must be a mail address (user@domain), not '<a@b>' ('<' is not allowed)" },
	{ T "host: a\n    relay: {to: \"\"}\n", "3:17", "'relay.to' must be a mail address" },
	{ T "host: a\n    relay: {thorough: very}\n", "3:23",
	  "'relay.thorough' must be true or false" },
	{ T "host: a\n    dns_server: resolver.example.org\n", "3:17",
	  "'dns_server' must be a list of IP[:PORT], not 'resolver.example.org'" },
	{ T "host: a\n    dns_server: \"\"\n", "3:17",
	  "'dns_server' must be a list of IP[:PORT], not '' (it is empty)" },
	{ T "host: a\n    ipv4: true\n    ipv6: true\n", "4:11",
	  "'ipv4' and 'ipv6' are both true" },
	{ T "host: a\n    ipv6: yes\n    ipv4: yes\n", "4:11", "'ipv4' and 'ipv6' are both true" },
	{ T "host: a\n    ipv4: v4\n", "3:11", "'ipv4' must be true or false" },
	{ T "host: a\n    labels: [a]\n", "3:13",
	  "'labels' must be a mapping of label names to values, not a list" },
	{ T "host: a\n    labels: {target: x}\n", "3:14",
	  "bad label name 'target': it is one of mtaprobe's own labels" },
	{ T "host: a\n    labels: {check: x}\n", "3:14", "bad label name 'check'" },
	{ T "host: a\n    labels: {host: x}\n", "3:14", "bad label name 'host'" },
	{ T "host: a\n    labels: {address: x}\n", "3:14", "bad label name 'address'" },
	{ T "host: a\n    labels: {port: x}\n", "3:14", "bad label name 'port'" },
	{ T "host: a\n    labels: {version: x}\n", "3:14", "bad label name 'version'" },
	{ T "host: a\n    labels: {1st: x}\n", "3:14",
	  "bad label name '1st': label names must match [a-zA-Z_][a-zA-Z0-9_]*" },
	{ T "host: a\n    labels: {my-label: x}\n", "3:14", "bad label name 'my-label'" },
	{ T "host: a\n    labels: {\"\": x}\n", "3:14", "bad label name ''" },
	{ T "host: a\n    labels: {__name__: x}\n", "3:14",
	  "bad label name '__name__': label names starting with '__' are reserved" },
	{ T "host: a\n    labels: {env: }\n", "3:14", "label 'env' needs a value" },
	{ T "host: a\n    labels: {env: [a]}\n", "3:19",
	  "'labels.env' must be a label value, not a list" },
	{ T "host: a\n    labels: {env: \"a\\nb\"}\n", "3:19",
	  "'labels.env' must be a label value, not 'a?b' (control characters" },
	{ T "host: a\n    labels: {env: a, team: b, env: c}\n", "3:31",
	  "duplicate label 'env' (first at line 3)" },
	{ T "host: a\n    labels: {[x]: a}\n", "3:14",
	  "label names must be plain words, not a list" },
	{ "defaults:\n  labels: {a: 1, b: 1, c: 1, d: 1, e: 1, f: 1, g: 1, h: 1}\n" T
	  "host: a\n    labels: {i: 1, j: 1, k: 1, l: 1, m: 1, n: 1, o: 1, p: 1, a: 2, q: 1}\n",
	  "5:68", "too many labels (at most 16 per target, defaults included)" },
	{ T "host: a\n  - 42\n", "3:5", "each target must be a mapping" },
	/* names: the Prometheus 'target' label, unique */
	{ T "host: a\n  - host: b\n  - {name: a, host: c}\n", "4:12",
	  "duplicate target name 'a' (first at line 2; names are the 'target' label and must be "
	  "unique)" },
	{ T "host: a.example.org\n  - host: a.example.org\n", "3:5",
	  "duplicate target name 'a.example.org' (first at line 2" },
	{ T "{name: x, host: a}\n  - {name: y, host: a}\n  - {name: y, host: b}\n"
	    "  - {name: x, host: c}\n",
	  "4:12", "duplicate target name 'y' (first at line 3" },
	{ "defaults: {name: same}\n" T "host: a\n  - host: b\n", "4:5",
	  "duplicate target name 'same'" },
	{ T "name: \"\"\n    host: a\n", "2:11",
	  "'name' must be a target name, not '' (it is empty)" },
	/* errors in defaults are reported once, at the defaults' position */
	{ "defaults:\n  relay: {to: }\n" T "host: a\n", "2:11", "'to' in 'relay' needs a value" },
	{ "defaults:\n" T "host: a\n", "1:1", "'defaults' at the top level needs a value" },
	{ "defaults:\n  port: http\n" T "host: a\n", "2:9",
	  "'port' must be an integer 1-65535, not 'http'" },
	{ "defaults:\n  ipv4: true\n  ipv6: true\n" T "host: a\n", "3:9",
	  "'ipv4' and 'ipv6' are both true" },
};

/* Every case is tried and every mismatch printed, then the test fails. */
static void test_errors(void **state)
{
	int failed = 0;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct config cfg, zero;
		char err[1024] = "", prefix[64];

		memset(&zero, 0, sizeof(zero));
		if (load(bad[i].yaml, &cfg, err, sizeof(err)) != -1) {
			print_error("case %zu accepted:\n%s\n", i, bad[i].yaml);
			config_free(&cfg);
			failed++;
			continue;
		}
		snprintf(prefix, sizeof(prefix), "t.yaml:%s: ", bad[i].pos);
		if (strncmp(err, prefix, strlen(prefix)) != 0 || strstr(err, bad[i].msg) == NULL) {
			print_error("case %zu:\n%s\nexpected: %s...%s\ngot:      %s\n\n", i,
				    bad[i].yaml, prefix, bad[i].msg, err);
			failed++;
		}
		/* nothing half-loaded */
		assert_memory_equal(&cfg, &zero, sizeof(cfg));
	}
	assert_int_equal(failed, 0);
}

/* Build "targets:" with n targets into a malloc'd string. */
static char *many_targets(size_t n, const char *extra)
{
	size_t size = n * 48 + 64, used;
	char *s = malloc(size);

	assert_non_null(s);
	used = (size_t)snprintf(s, size, "%stargets:\n", extra);
	for (size_t i = 0; i < n; i++)
		used += (size_t)snprintf(s + used, size - used, "- {name: t%zu, host: h}\n", i);
	return s;
}

static void test_limits(void **state)
{
	struct config cfg;
	char err[512], *s;
	size_t big = 1024 * 1024 + 1;

	(void)state;
	/* 10000 targets load, 10001 do not */
	s = many_targets(10000, "");
	load_ok(s, &cfg);
	assert_int_equal(cfg.ntargets, 10000);
	assert_string_equal(cfg.targets[9999].name, "t9999");
	config_free(&cfg);
	free(s);
	s = many_targets(10001, "");
	assert_int_equal(load(s, &cfg, err, sizeof(err)), -1);
	assert_string_equal(err, "t.yaml:2:1: too many targets: 10001 (at most 10000)");
	free(s);
	/* more than 1 MiB */
	s = malloc(big + 1);
	assert_non_null(s);
	memset(s, '#', big);
	s[big] = '\0';
	assert_int_equal(load_n(s, big, "big.yaml", &cfg, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "big.yaml: larger than 1 MiB"));
	/* a nesting bomb stops at once instead of taking libyaml minutes */
	memset(s, '[', big - 1);
	memcpy(s, "a: ", 3);
	assert_int_equal(load_n(s, big - 1, "deep.yaml", &cfg, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "deep.yaml:1:19: nested more than 16 levels deep"));
	free(s);
}

static void test_anchor_limits(void **state)
{
	size_t size = 64 * 1024, used;
	char *s = malloc(size), err[512];
	struct config cfg;

	(void)state;
	assert_non_null(s);
	used = (size_t)snprintf(s, size, "x: [");
	for (int i = 0; i < 101; i++)
		used += (size_t)snprintf(s + used, size - used, "&a%d 1, ", i);
	snprintf(s + used, size - used, "]\n");
	assert_int_equal(load(s, &cfg, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "more than 100 anchors"));
	used = (size_t)snprintf(s, size, "x: [&a 1");
	for (int i = 0; i < 1001; i++)
		used += (size_t)snprintf(s + used, size - used, ", *a");
	snprintf(s + used, size - used, "]\n");
	assert_int_equal(load(s, &cfg, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "more than 1000 aliases"));
	free(s);
}

static void test_file(void **state)
{
	struct config cfg, zero;
	char err[512];

	(void)state;
	memset(&zero, 0, sizeof(zero));
	assert_int_equal(load_path("tests/no-such-config.yaml", &cfg, err, sizeof(err)), -1);
	assert_string_equal(err,
			    "tests/no-such-config.yaml: cannot open: No such file or directory");
	assert_memory_equal(&cfg, &zero, sizeof(cfg));
	assert_int_equal(load_path("tests", &cfg, err, sizeof(err)), -1);
	assert_string_equal(err, "tests: cannot read: Is a directory");
	assert_memory_equal(&cfg, &zero, sizeof(cfg));
}

/* The key written as a key (after a blank, '{' or a line start, before ':'). */
static bool has_key(const char *text, const char *key)
{
	size_t n = strlen(key);

	for (const char *p = strstr(text, key); p; p = strstr(p + 1, key))
		if ((p == text || strchr(" {\n", p[-1]) != NULL) && p[n] == ':')
			return true;
	return false;
}

static char *read_text(const char *path)
{
	FILE *f = fopen(path, "r");
	char *s = calloc(1, 1 << 16);
	size_t n;

	assert_non_null(f);
	assert_non_null(s);
	n = fread(s, 1, (1 << 16) - 1, f);
	s[n] = '\0';
	fclose(f);
	return s;
}

/* The shipped sample must load, and show every key at least once. */
static void test_sample(void **state)
{
	static const char *const keys[] = {
		"defaults", "output",	  "format",	 "path",      "concurrency", "targets",
		"name",	    "host",	  "mx",		 "port",      "tls",	     "sni",
		"ehlo",	    "timeout",	  "checks",	 "cert_days", "warning",     "critical",
		"time",	    "min_tls",	  "ca_file",	 "ca_path",   "no_verify",   "dane",
		"fcrdns",   "expect",	  "require_ext", "relay",     "from",	     "to",
		"thorough", "dns_server", "ipv4",	 "ipv6",      "labels",	     "modules",
	};
	struct config cfg;
	char err[512] = "", *text;
	bool relay = false, labels = false, dane = false, fcrdns = false, expect = false,
	     require_ext = false, ipv4 = false, dns_server = false, sni = false, ca_file = false,
	     min_tls = false, mx = false, tls = false;

	(void)state;
	if (load_path("conf/mtaprobe.yaml", &cfg, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	assert_string_equal(cfg.path, "conf/mtaprobe.yaml");
	assert_string_equal(cfg.name, "mtaprobe"); /* name: is left out: the file's name */
	assert_int_equal(cfg.format, OUT_PROMETHEUS);
	assert_string_equal(cfg.output_path, "/var/lib/prometheus/node-exporter/mtaprobe.prom");
	assert_int_equal(cfg.concurrency, 256);
	assert_true(cfg.ntargets >= 5);
	assert_string_equal(cfg.targets[0].name, "primary");
	for (size_t i = 0; i < cfg.ntargets; i++) {
		const struct target *t = &cfg.targets[i];

		relay |= t->cfg.relay_from && t->cfg.relay_to && t->cfg.relay_thorough;
		labels |= t->nlabels > 0;
		dane |= t->cfg.dane;
		fcrdns |= t->cfg.fcrdns;
		expect |= t->cfg.expect != NULL;
		require_ext |= t->cfg.require_ext != NULL;
		ipv4 |= t->cfg.family == AF_INET;
		dns_server |= t->cfg.dns_servers != NULL;
		sni |= t->cfg.sni != NULL;
		ca_file |= t->cfg.ca_file != NULL;
		min_tls |= t->cfg.min_tls != 0x0303;
		mx |= t->cfg.mx_domain != NULL;
		tls |= check_implicit_tls(&t->cfg);
		assert_string_equal(t->cfg.ehlo, "monitor.example.org"); /* from defaults */
		assert_true(t->cfg.warn.set);
	}
	assert_true(relay && labels && dane && fcrdns && expect && require_ext && ipv4 &&
		    dns_server && sni && ca_file && min_tls && mx && tls);
	/* the exporter's modules, and "default" */
	assert_int_equal(cfg.nmodules, 4);
	assert_int_equal(config_module(&cfg, "submission")->t.checks,
			 (1u << CK_STARTTLS) | (1u << CK_CERT));
	assert_int_equal(config_module(&cfg, "submission")->t.cfg.port, 587);
	assert_true(config_module(&cfg, "smtps")->t.cfg.timeout == 5);
	assert_int_equal(config_module(&cfg, "default")->t.checks, ALL_CHECKS);
	assert_string_equal(config_module(&cfg, "smtp")->t.cfg.ehlo, "monitor.example.org");
	config_free(&cfg);
	text = read_text("conf/mtaprobe.yaml");
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (!has_key(text, keys[i]))
			fail_msg("conf/mtaprobe.yaml does not show '%s'", keys[i]);
	free(text);
}

/* modules: defaults: and then the module's own keys; host, mx and name of
 * defaults: are not a module's; "default" is implied when not written;
 * targets: may then be left out. */
static void test_modules(void **state)
{
	static const char yaml[] =
		"defaults:\n"
		"  timeout: 7\n"
		"  ehlo: monitor.example.test\n"
		"  host: ignored.example.org\n"
		"  name: ignored\n"
		"  labels: {site: lab}\n"
		"modules:\n"
		"  smtp_banner:\n"
		"    checks: [banner]\n"
		"    port: 2525\n"
		"    labels: {tier: edge, site: dc1}\n"
		"  submission.tls-1:\n"
		"    port: 587\n"
		"    timeout: 3:warning\n"
		"    min_tls: 1.3\n"
		"targets:\n"
		"  - host: a.example.org\n";
	static const char only_modules[] =
		"modules:\n"
		"  default: {timeout: 4, checks: [port]}\n";
	const struct module *m;
	struct config cfg;

	(void)state;
	load_ok(yaml, &cfg);
	assert_int_equal(cfg.ntargets, 1);
	assert_int_equal(cfg.nmodules, 3); /* and "default", implied */
	m = config_module(&cfg, "smtp_banner");
	assert_ptr_equal(m, &cfg.modules[0]);
	assert_int_equal(m->t.checks, 1u << CK_BANNER);
	assert_int_equal(m->t.cfg.port, 2525);
	assert_true(m->t.cfg.timeout == 7);
	assert_string_equal(m->t.cfg.ehlo, "monitor.example.test");
	assert_null(m->t.cfg.host);
	assert_null(m->t.cfg.mx_domain);
	assert_null(m->t.name);
	assert_string_equal(label(&m->t, "site")->value, "dc1");
	assert_string_equal(label(&m->t, "tier")->value, "edge");
	m = config_module(&cfg, "submission.tls-1");
	assert_non_null(m);
	assert_int_equal(m->t.cfg.port, 587);
	assert_true(m->t.cfg.timeout == 3);
	assert_int_equal(m->t.cfg.timeout_state, STATE_WARNING);
	assert_int_equal(m->t.cfg.min_tls, 0x0304);
	assert_int_equal(m->t.checks, ALL_CHECKS);
	assert_string_equal(label(&m->t, "site")->value, "lab");
	m = config_module(&cfg, "default"); /* defaults: alone */
	assert_ptr_equal(m, &cfg.modules[2]);
	assert_int_equal(m->t.cfg.port, 25);
	assert_true(m->t.cfg.timeout == 7);
	assert_int_equal(m->t.checks, ALL_CHECKS);
	assert_null(m->t.cfg.host);
	assert_null(m->t.name);
	assert_null(config_module(&cfg, "nope"));
	assert_null(config_module(&cfg, "smtp"));
	config_free(&cfg);

	/* modules alone, no targets: a config for --listen; a written
	 * "default" is the one */
	load_ok(only_modules, &cfg);
	assert_int_equal(cfg.ntargets, 0);
	assert_null(cfg.targets);
	assert_int_equal(cfg.nmodules, 1);
	m = config_module(&cfg, "default");
	assert_non_null(m);
	assert_true(m->t.cfg.timeout == 4);
	assert_int_equal(m->t.checks, 1u << CK_PORT);
	config_free(&cfg);

	/* no modules: "default" all the same */
	load_ok(T "host: a\n", &cfg);
	assert_int_equal(cfg.nmodules, 1);
	assert_string_equal(cfg.modules[0].name, "default");
	assert_true(cfg.modules[0].t.cfg.timeout == 10);
	config_free(&cfg);
}

static void test_free_and_checks(void **state)
{
	struct config cfg;

	(void)state;
	memset(&cfg, 0, sizeof(cfg));
	config_free(&cfg);
	config_free(NULL);
	for (int k = 0; k < CK_COUNT; k++)
		assert_int_equal(check_kind_parse(check_kind_name((enum check_kind)k)), k);
	assert_string_equal(check_kind_name(CK_STARTTLS), "starttls");
	assert_int_equal(check_kind_parse("tls"), -1);
	assert_int_equal(check_kind_parse("Port"), -1);
	assert_string_equal(check_kind_name(CK_COUNT), "unknown");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_key),
		cmocka_unit_test(test_builtin_defaults),
		cmocka_unit_test(test_defaults_inherited_and_overridden),
		cmocka_unit_test(test_host_mx_override),
		cmocka_unit_test(test_labels_merge),
		cmocka_unit_test(test_variants),
		cmocka_unit_test(test_config_name),
		cmocka_unit_test(test_yaml_forms),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_anchor_limits),
		cmocka_unit_test(test_file),
		cmocka_unit_test(test_sample),
		cmocka_unit_test(test_modules),
		cmocka_unit_test(test_free_and_checks),
	};
	return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
