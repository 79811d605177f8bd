/* options.c - see options.h */
#include "cli/options.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "lib/dns.h"
#include "lib/net.h"
#include "lib/nagios.h"

enum {
	OPT_DNS_SERVER = 1000,
	OPT_SOURCE,
	OPT_PROXY,
	OPT_NO_TLS,
	OPT_SNI,
	OPT_CA_FILE,
	OPT_CA_PATH,
	OPT_EXTRA = 2000,	/* + index into plugin_info.extra */
};

static const struct opt_extra common_opts[] = {
	{ "hostname", 'H', required_argument, "HOST", "name or IP literal of the server", 'H' },
	{ "mx", 'M', required_argument, "DOMAIN",
	  "check every MX host of DOMAIN, every address of each, at once", 'M' },
	{ "all-addresses", 'A', no_argument, NULL,
	  "check every address of HOST, not just the first that connects", 'A' },
	{ "port", 'p', required_argument, "PORT", "TCP port", 'p' },
	{ "ipv4", '4', no_argument, NULL, "use IPv4 addresses only", '4' },
	{ "ipv6", '6', no_argument, NULL, "use IPv6 addresses only", '6' },
	{ "timeout", 't', required_argument, "SEC[:STATE]",
	  "one deadline for the whole check (default 10); STATE on expiry:\n"
	  "ok|warning|critical|unknown (default critical)", 't' },
	{ "warning", 'w', required_argument, "RANGE", "warning threshold", 'w' },
	{ "critical", 'c', required_argument, "RANGE", "critical threshold", 'c' },
	{ "ehlo", 'F', required_argument, "NAME",
	  "EHLO name (default: this host's FQDN, else our address literal)", 'F' },
	{ "tls", 's', no_argument, NULL, "implicit TLS (SMTPS) on connect; default on port 465", 's' },
	{ "no-tls", 0, no_argument, NULL, "plain connect even on port 465", OPT_NO_TLS },
	{ "sni", 0, required_argument, "NAME",
	  "TLS server name (default: the host name, none for IP literals)", OPT_SNI },
	{ "ca-file", 0, required_argument, "FILE", "trust anchors from FILE (PEM)", OPT_CA_FILE },
	{ "ca-path", 0, required_argument, "DIR",
	  "trust anchors from a hashed directory (default: the system's,\n"
	  "looked up per issuer, not loaded whole)", OPT_CA_PATH },
	{ "dns-server", 0, required_argument, "IP[:PORT][,...]",
	  "resolvers to use instead of /etc/resolv.conf", OPT_DNS_SERVER },
	{ "source", 0, required_argument, "ADDR", "local address to bind", OPT_SOURCE },
	{ "proxy-protocol", 0, required_argument, "1|2",
	  "send a PROXY protocol header first (servers behind HAProxy)", OPT_PROXY },
	{ "verbose", 'v', no_argument, NULL, "more detail; -vvv prints the SMTP transcript", 'v' },
	{ "help", 'h', no_argument, NULL, "this help", 'h' },
	{ "version", 'V', no_argument, NULL, "version line", 'V' },
};
#define NCOMMON (sizeof(common_opts) / sizeof(common_opts[0]))

static void help_option(struct strbuf *b, const struct plugin_info *pi, const struct opt_extra *o)
{
	char left[64], help[512];
	const char *h, *nl;

	if (o->short_name)
		snprintf(left, sizeof(left), "-%c, --%s%s%s", o->short_name, o->long_name,
			 o->arg_name ? " " : "", o->arg_name ? o->arg_name : "");
	else
		snprintf(left, sizeof(left), "    --%s%s%s", o->long_name, o->arg_name ? " " : "",
			 o->arg_name ? o->arg_name : "");
	if (o->key == 'p')
		snprintf(help, sizeof(help), "%s (default %d)", o->help, pi->default_port);
	else if (o->key == 'w' || o->key == 'c')
		snprintf(help, sizeof(help), "%s: %s", o->help, pi->threshold_help);
	else
		snprintf(help, sizeof(help), "%s", o->help);
	for (h = help; (nl = strchr(h, '\n')) != NULL; h = nl + 1) {
		strbuf_printf(b, "  %-30s %.*s\n", left, (int)(nl - h), h);
		left[0] = '\0';
	}
	strbuf_printf(b, "  %-30s %s\n", left, h);
}

static void usage_line(struct strbuf *b, const struct plugin_info *pi)
{
	strbuf_printf(b, "Usage: %s -H HOST|-M DOMAIN [-p PORT] [-w RANGE] [-c RANGE] [-t SEC[:STATE]] [options]\n",
		      pi->prog);
}

static void help(struct strbuf *b, const struct plugin_info *pi)
{
	strbuf_printf(b, "%s %s (mtaprobe)\n\n%s\n\n", pi->prog, MTAPROBE_VERSION, pi->purpose);
	usage_line(b, pi);
	strbuf_printf(b, "\nOptions:\n");
	for (size_t i = 0; i < NCOMMON; i++)
		help_option(b, pi, &common_opts[i]);
	for (size_t i = 0; i < pi->nextra; i++)
		help_option(b, pi, &pi->extra[i]);
	strbuf_printf(b,
		      "\nRANGE is N (alert if < 0 or > N), N: (alert if < N), ~:N (alert if > N),\n"
		      "N:M (alert outside N..M) or @N:M (alert inside); decimals allowed.\n"
		      "Exit codes: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN (also --help, --version\n"
		      "and usage errors).\n\nExamples:\n%s", pi->examples);
}

static int usage_error(struct strbuf *out, const struct plugin_info *pi, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int usage_error(struct strbuf *out, const struct plugin_info *pi, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	strbuf_printf(out, "MTA %s UNKNOWN - %s\n", pi->def->name, msg);
	usage_line(out, pi);
	strbuf_printf(out, "Try '%s --help' for more information.\n", pi->prog);
	return 3;
}

static int parse_port(const char *s, int *port)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < 1 || v > 65535)
		return -1;
	*port = (int)v;
	return 0;
}

static int parse_timeout(const char *s, struct check_cfg *cfg)
{
	static const char *const names[] = { "ok", "warning", "critical", "unknown" };
	const char *colon = strchr(s, ':');
	char num[32], *end;
	size_t n = colon ? (size_t)(colon - s) : strlen(s);
	double v;

	if (n == 0 || n >= sizeof(num))
		return -1;
	memcpy(num, s, n);
	num[n] = '\0';
	errno = 0;
	v = strtod(num, &end);
	if (errno || *end || !(v > 0) || v > 86400 || num[0] == '+' || num[0] == '-' ||
	    !(num[0] >= '0' && num[0] <= '9'))
		return -1;
	cfg->timeout = v;
	if (colon == NULL)
		return 0;
	for (int i = 0; i < 4; i++)
		if (strcasecmp(colon + 1, names[i]) == 0) {
			cfg->timeout_state = (enum state)i;
			return 0;
		}
	return -1;
}

/* Long names for getopt_long, the option string, and key lookup. */
struct optset {
	struct option lo[NCOMMON + 32];
	char shortopts[128];
	const struct opt_extra *by_index[NCOMMON + 32];
	size_t n;
};

static void optset_add(struct optset *s, const struct opt_extra *o, int val)
{
	size_t k = strlen(s->shortopts);

	s->by_index[s->n] = o;
	s->lo[s->n++] = (struct option){ o->long_name, o->has_arg, NULL, val };
	if (o->short_name && k + 3 < sizeof(s->shortopts)) {
		s->shortopts[k++] = (char)o->short_name;
		if (o->has_arg == required_argument)
			s->shortopts[k++] = ':';
		s->shortopts[k] = '\0';
	}
}

/* Name of the option that getopt just rejected or processed, for messages. */
static const char *bad_name(char **argv, int idx, int optopt_c, char *buf, size_t n)
{
	if (optopt_c > ' ' && optopt_c < 127)
		snprintf(buf, n, "-%c", optopt_c);
	else
		snprintf(buf, n, "%s", argv[idx]);
	char *eq = strchr(buf, '=');
	if (eq)
		*eq = '\0';
	return buf;
}

/* A threshold; for days a bare number N means "N:" (alert below N). */
static int parse_threshold(const struct plugin_info *pi, const char *arg, struct range *r,
			   char *why, size_t wl)
{
	char buf[40];

	if (pi->bare_range_is_minimum && arg[strspn(arg, "0123456789.")] == '\0' &&
	    strlen(arg) + 2 < sizeof(buf)) {
		snprintf(buf, sizeof(buf), "%s:", arg);
		arg = buf;
	}
	return range_parse(arg, r, why, (int)wl);
}

static int apply_common(struct check_cfg *cfg, int key, const char *arg, struct strbuf *out,
			const struct plugin_info *pi, const char *optname, char *why, size_t wl)
{
	switch (key) {
	case 'H':
		if (*arg == '\0' || strlen(arg) > 253)
			return usage_error(out, pi, "%s: '%s' is not a host name", optname, arg);
		cfg->host = arg;
		break;
	case 'M':
		if (*arg == '\0' || strlen(arg) > 253 || strpbrk(arg, " \t\r\n/:@[]"))
			return usage_error(out, pi, "%s: '%s' is not a domain name", optname, arg);
		cfg->mx_domain = arg;
		break;
	case 'A':
		cfg->all_addresses = true;
		break;
	case 'p':
		if (parse_port(arg, &cfg->port) < 0)
			return usage_error(out, pi, "%s: '%s' is not a port number (1-65535)", optname, arg);
		break;
	case '4':
		cfg->family = AF_INET;
		break;
	case '6':
		cfg->family = AF_INET6;
		break;
	case 't':
		if (parse_timeout(arg, cfg) < 0)
			return usage_error(out, pi,
					   "%s: '%s' is not SECONDS[:STATE] (seconds > 0, state "
					   "ok|warning|critical|unknown)", optname, arg);
		break;
	case 'w':
	case 'c':
		if (parse_threshold(pi, arg, key == 'w' ? &cfg->warn : &cfg->crit, why, wl) < 0)
			return usage_error(out, pi, "%s: %s", optname, why);
		break;
	case 'F':
		if (*arg == '\0' || strlen(arg) > 255 || strpbrk(arg, " \t\r\n"))
			return usage_error(out, pi, "%s: '%s' is not a valid EHLO name", optname, arg);
		cfg->ehlo = arg;
		break;
	case 's':
		cfg->tls = true;
		break;
	case OPT_NO_TLS:
		cfg->no_tls = true;
		break;
	case OPT_SNI:
		if (*arg == '\0' || strlen(arg) > 253 || strpbrk(arg, " \t\r\n"))
			return usage_error(out, pi, "%s: '%s' is not a host name", optname, arg);
		cfg->sni = arg;
		break;
	case OPT_CA_FILE:
	case OPT_CA_PATH:
		if (access(arg, R_OK) != 0)
			return usage_error(out, pi, "%s: cannot read '%s': %s", optname, arg, strerror(errno));
		*(key == OPT_CA_FILE ? &cfg->ca_file : &cfg->ca_path) = arg;
		break;
	case OPT_DNS_SERVER:
		if (dns_servers_valid(arg) < 0)
			return usage_error(out, pi, "%s: '%s' is not a list of IP[:PORT]", optname, arg);
		cfg->dns_servers = arg;
		break;
	case OPT_SOURCE: {
		struct addr a;

		if (addr_from_literal(arg, 0, &a) < 0)
			return usage_error(out, pi, "%s: '%s' is not an IP address", optname, arg);
		cfg->source = arg;
		break;
	}
	case OPT_PROXY:
		if (strcmp(arg, "1") && strcmp(arg, "2"))
			return usage_error(out, pi, "%s: '%s' must be 1 or 2", optname, arg);
		cfg->proxy_protocol = arg[0] - '0';
		break;
	case 'v':
		cfg->verbose++;
		break;
	case 'h':
		help(out, pi);
		return 3;
	case 'V':
		strbuf_printf(out, "%s %s (mtaprobe)\n", pi->prog, MTAPROBE_VERSION);
		return 3;
	}
	return -1;
}

int opts_parse(const struct plugin_info *pi, int argc, char **argv, struct check_cfg *cfg,
	       struct strbuf *out)
{
	struct optset set;
	char why[256], name[64];
	int c, idx;

	check_cfg_init(cfg, pi->default_port);
	cfg->min_tls = pi->default_min_tls;
	memset(&set, 0, sizeof(set));
	set.shortopts[0] = ':';	/* first: report missing arguments as ':' */
	for (size_t i = 0; i < NCOMMON; i++)
		optset_add(&set, &common_opts[i], common_opts[i].key);
	for (size_t i = 0; i < pi->nextra && i < 32; i++)
		optset_add(&set, &pi->extra[i], OPT_EXTRA + (int)i);
	set.lo[set.n] = (struct option){ 0 };

	optind = 0;	/* GNU: full re-initialisation, so tests may parse again */
	opterr = 0;
	for (;;) {
		const struct opt_extra *o;
		int rc;

		c = getopt_long(argc, argv, set.shortopts, set.lo, &idx);
		if (c == -1)
			break;
		if (c == '?')
			return usage_error(out, pi, "unknown option '%s'",
					   bad_name(argv, optind - 1, optopt, name, sizeof(name)));
		if (c == ':')
			return usage_error(out, pi, "option '%s' needs an argument",
					   bad_name(argv, optind - 1, optopt, name, sizeof(name)));
		o = c >= OPT_EXTRA ? &pi->extra[c - OPT_EXTRA] : NULL;
		for (size_t i = 0; o == NULL && i < NCOMMON; i++)
			if (common_opts[i].key == c)
				o = &common_opts[i];
		for (size_t i = 0; o == NULL && i < pi->nextra; i++)
			if (pi->extra[i].short_name == c) {
				o = &pi->extra[i];
				c = OPT_EXTRA + (int)i;
			}
		if (o == NULL)
			return usage_error(out, pi, "unknown option");
		if (o->short_name)
			snprintf(name, sizeof(name), "-%c/--%s", o->short_name, o->long_name);
		else
			snprintf(name, sizeof(name), "--%s", o->long_name);
		if (c >= OPT_EXTRA) {
			if (pi->handle(cfg, o->key, optarg, why, sizeof(why)) < 0)
				return usage_error(out, pi, "%s: %s", name, why);
			continue;
		}
		rc = apply_common(cfg, c, optarg, out, pi, name, why, sizeof(why));
		if (rc >= 0)
			return rc;
	}
	if (optind < argc)
		return usage_error(out, pi, "unexpected argument '%s'", argv[optind]);
	if (cfg->host == NULL && cfg->mx_domain == NULL)
		return usage_error(out, pi, "-H/--hostname or -M/--mx is required");
	if (cfg->host && cfg->mx_domain)
		return usage_error(out, pi, "-H/--hostname and -M/--mx exclude each other");
	if (pi->default_warn && !cfg->warn.set)
		parse_threshold(pi, pi->default_warn, &cfg->warn, why, sizeof(why));
	if (pi->default_crit && !cfg->crit.set)
		parse_threshold(pi, pi->default_crit, &cfg->crit, why, sizeof(why));
	if (cfg->tls && cfg->no_tls)
		return usage_error(out, pi, "-s/--tls and --no-tls contradict each other");
	return -1;
}

int plugin_main(const struct plugin_info *pi, int argc, char **argv)
{
	struct check_cfg cfg;
	struct strbuf out;
	struct result r;
	int rc;

	strbuf_init(&out, 1 << 20);
	rc = opts_parse(pi, argc, argv, &cfg, &out);
	if (rc < 0) {
		if (dns_global_init() < 0) {
			printf("MTA %s UNKNOWN - cannot initialise c-ares\n", pi->def->name);
			strbuf_free(&out);
			return 3;
		}
		probe_run(&cfg, pi->def, &r);
		nagios_output(&r, cfg.verbose, &out);
		rc = (int)r.state;
		result_free(&r);
		dns_global_cleanup();
	}
	fwrite(strbuf_str(&out), 1, out.len, stdout);
	strbuf_free(&out);
	return rc;
}
