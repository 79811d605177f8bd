/* options.c - the option table and the code that reads it; see options.h */
#include "cli/options.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/dns.h"
#include "lib/net.h"
#include "lib/tls.h"
#include "lib/unittest.h"

#define OFF(field) offsetof(struct check_cfg, field)
#define TIMED	   (BIN_PORT | BIN_BANNER | BIN_STARTTLS | BIN_RELAY)
#define ALL	   (BIN_PLUGINS | BIN_STS | BIN_RUNNER)

const char *const check_names[CHECK_KINDS] = {
	"port", "banner", "starttls", "cert", "relay", "sts"
};

/* The order of the rows is the order of --help and of the YAML keys that
 * the runner's messages list. */
const struct opt option_table[] = {
	{ NULL, 0, OPT_NAME, NULL, "the target's name, its 'target' label (default: host or mx)",
	  NULL, "name", 0, 0, RK_NAME, 0 },
	{ "hostname", 'H', OPT_HOST, "HOST", "name or IP literal of the server", NULL, "host",
	  BIN_PLUGINS | BIN_STS, OFF(host), 0, 0 },
	{ "mx", 'M', OPT_DOMAIN, "DOMAIN",
	  "check every MX host of DOMAIN, every address of each, at once", NULL, "mx", ALL,
	  OFF(mx_domain), 0, 0 },
	{ "all-addresses", 'A', OPT_FLAG, NULL,
	  "check every address of HOST, not just the first that connects", NULL, NULL, BIN_PLUGINS,
	  OFF(all_addresses), 0, 0 },
	{ "port", 'p', OPT_PORT, "PORT", "TCP port", "25", "port", ALL, OFF(port), 0, 0 },
	{ "tls", 's', OPT_IMPLICIT_TLS, NULL,
	  "implicit TLS (SMTPS) on connect; default on port 465", NULL, "tls",
	  BIN_PLUGINS | BIN_RUNNER, OFF(tls), 0, 0 },
	{ "no-tls", 0, OPT_FLAG, NULL, "plain connect even on port 465", NULL, NULL,
	  BIN_PLUGINS | BIN_RUNNER, OFF(no_tls), 0, 0 },
	{ "sni", 0, OPT_HOST, "NAME",
	  "TLS server name, and the name the certificate is verified for\n"
	  "(default: the host name; with -H ADDRESS none, and the\n"
	  "certificate is verified for the address)",
	  NULL, "sni", BIN_PLUGINS | BIN_RUNNER, OFF(sni), 0, 0 },
	{ "ehlo", 'F', OPT_EHLO, "NAME",
	  "EHLO name (default: this host's FQDN, else our address literal)", NULL, "ehlo",
	  BIN_PLUGINS | BIN_STS | BIN_RUNNER, OFF(ehlo), 0, 0 },
	{ "timeout", 't', OPT_TIMEOUT, "SEC[:STATE]",
	  "one deadline for the whole check, at most 3600 seconds\n"
	  "(STATE on expiry: ok|warning|critical|unknown, critical if not given)",
	  "10", "timeout", ALL, OFF(timeout), 0, 0 },
	{ "checks", 0, OPT_CHECKS, "LIST",
	  "the checks to run: port,banner,starttls,cert,relay (and sts:\n"
	  "the domain's MTA-STS policy, asked for by name only)",
	  "port,banner,starttls,cert,relay", "checks", BIN_RUNNER, 0, RK_CHECKS, 0 },
	{ "warning", 'w', OPT_DAYS, "DAYS", "warning threshold", "30", "cert_days.warning",
	  BIN_CERT | BIN_STS, OFF(days_warn), 0, 0 },
	{ "critical", 'c', OPT_DAYS, "DAYS", "critical threshold", "14", "cert_days.critical",
	  BIN_CERT | BIN_STS, OFF(days_crit), 0, 0 },
	{ "warning", 'w', OPT_RANGE, "RANGE", "warning threshold", NULL, "time.warning", TIMED,
	  OFF(warn), 0, 0 },
	{ "critical", 'c', OPT_RANGE, "RANGE", "critical threshold", NULL, "time.critical", TIMED,
	  OFF(crit), 0, 0 },
	{ "min-tls", 0, OPT_TLS_VERSION, "1.0|1.1|1.2|1.3",
	  "lowest acceptable TLS version, else WARNING", "1.2", "min_tls", BIN_STARTTLS,
	  OFF(min_tls), 0, 0 },
	{ "scan-versions", 0, OPT_FLAG, NULL,
	  "also try one handshake per TLS version below --min-tls, each\n"
	  "pinned to it: any taken is WARNING (\"still accepts TLSv1\")",
	  NULL, "scan_versions", BIN_STARTTLS, OFF(scan_versions), 0, 0 },
	{ "injection", 0, OPT_FLAG, NULL,
	  "the STARTTLS command-injection probe (CVE-2011-0411): send\n"
	  "STARTTLS and NOOP in one write; NOOP answered over TLS:\n"
	  "CRITICAL.  Never by default (RFC 3207: no pipelining here)",
	  NULL, NULL, BIN_STARTTLS, OFF(injection), 0, 0 },
	{ "no-plain-auth", 0, OPT_FLAG, NULL,
	  "an AUTH offered before TLS is WARNING on any port (always on 587)", NULL, NULL,
	  BIN_STARTTLS, OFF(no_plain_auth), 0, 0 },
	{ "lmtp", 'L', OPT_FLAG, NULL, "the server speaks LMTP (RFC 2033): LHLO, no HELO", NULL,
	  NULL, BIN_BANNER | BIN_STARTTLS, OFF(lmtp), 0, 0 },
	{ "ca-file", 0, OPT_READ_PATH, "FILE", "trust anchors from FILE (PEM)", NULL, "ca_file",
	  BIN_PLUGINS | BIN_STS | BIN_RUNNER, OFF(ca_file), 0, 0 },
	{ "ca-path", 0, OPT_READ_PATH, "DIR",
	  "trust anchors from a hashed directory (default: the system's,\n"
	  "looked up per issuer, not loaded whole)",
	  NULL, "ca_path", BIN_PLUGINS | BIN_STS | BIN_RUNNER, OFF(ca_path), 0, 0 },
	{ "certificate", 'D', OPT_CERT_DAYS, "W[,C]",
	  "check_smtp's spelling of -w W -c C (days); W alone warns under\n"
	  "W days and is CRITICAL only when expired",
	  NULL, NULL, BIN_CERT, OFF(days_warn), 0, 0 },
	{ "no-verify", 0, OPT_FLAG, NULL, "do not judge chain and host-name verification", NULL,
	  "no_verify", BIN_CERT, OFF(no_verify), 0, 0 },
	{ "starttls", 'S', OPT_IGNORED, NULL,
	  "accepted for check_smtp users; STARTTLS is the default", NULL, NULL,
	  BIN_STARTTLS | BIN_CERT, 0, 0, 0 },
	{ "dane", 0, OPT_FLAG, NULL,
	  "look up TLSA at _PORT._tcp.HOST: with records, the chain must\n"
	  "match one (usages 2, 3); records not DNSSEC-authenticated\n"
	  "(no AD bit from the resolver): WARNING",
	  NULL, "dane", BIN_CERT, OFF(dane), 0, 0 },
	{ "fcrdns", 0, OPT_FLAG, NULL,
	  "the address's PTR name must resolve back to the address, and\n"
	  "the greeting's host name should be that name, else WARNING",
	  NULL, "fcrdns", BIN_BANNER, OFF(fcrdns), 0, 0 },
	{ "expect", 'e', OPT_TEXT, "TEXT", "greeting must contain TEXT, else WARNING", NULL,
	  "expect", BIN_BANNER, OFF(expect), 0, 0 },
	{ "require-ext", 0, OPT_KEYWORDS, "EXT[,EXT...]",
	  "each EHLO keyword must be advertised, else WARNING (given\n"
	  "again, the lists add up)",
	  NULL, "require_ext", BIN_BANNER, OFF(require_ext), 0, 0 },
	{ "command", 'C', OPT_COMMAND, "CMD",
	  "send CMD after EHLO (as check_smtp -C; never DATA, BDAT or QUIT)", NULL, NULL,
	  BIN_BANNER, OFF(command), 0, 0 },
	{ "response", 'R', OPT_REGEX, "REGEX",
	  "a line of the reply to -C (as \"CODE text\") must match the\n"
	  "extended regular expression REGEX, else WARNING",
	  NULL, NULL, BIN_BANNER, OFF(response), 0, 0 },
	{ "from", 'f', OPT_MAIL, "ADDR", "outside sender (default mtaprobe@example.org)", NULL,
	  "relay.from", BIN_RELAY, OFF(relay_from), 0, 0 },
	{ "to", 'r', OPT_MAIL, "ADDR", "outside recipient (default mtaprobe@example.net)", NULL,
	  "relay.to", BIN_RELAY, OFF(relay_to), 0, 0 },
	{ "thorough", 0, OPT_FLAG, NULL,
	  "add the classic address tricks (percent hack, quoted\n"
	  "local parts, source routes, bang paths, address literals)",
	  NULL, "relay.thorough", BIN_RELAY, OFF(relay_thorough), 0, 0 },
	{ "domain", 0, OPT_DOMAIN, "DOMAIN",
	  "the server's own domain for the spoofed sender and the\n"
	  "tricks (default: the greeting's host name, else -H)",
	  NULL, NULL, BIN_RELAY, OFF(relay_domain), 0, 0 },
	{ "starttls", 'S', OPT_FLAG, NULL, "test after STARTTLS (relay policy often differs)", NULL,
	  NULL, BIN_RELAY, OFF(relay_starttls), 0, 0 },
	{ "require", 0, OPT_FLAG, NULL, "no MTA-STS policy is CRITICAL (default: OK, said)", NULL,
	  NULL, BIN_STS, OFF(sts_require), 0, 0 },
	{ "require-tlsrpt", 0, OPT_FLAG, NULL,
	  "no TLS-RPT record (_smtp._tls.DOMAIN) is WARNING (default: said)", NULL, NULL, BIN_STS,
	  OFF(sts_require_tlsrpt), 0, 0 },
	{ "no-mx-tls", 0, OPT_FLAG, NULL,
	  "do not check the MX hosts' STARTTLS and certificates (only\n"
	  "the policy, its coverage of the MX set and TLS-RPT)",
	  NULL, NULL, BIN_STS, OFF(sts_no_mx_tls), 0, 0 },
	{ "dns-server", 0, OPT_SERVERS, "IP[:PORT][,...]",
	  "resolvers to use instead of /etc/resolv.conf (given again, the\n"
	  "lists add up)",
	  NULL, "dns_server", ALL, OFF(dns_servers), 0, 0 },
	{ "ipv4", '4', OPT_FAMILY, NULL, "use IPv4 addresses only", NULL, "ipv4",
	  BIN_PLUGINS | BIN_STS | BIN_RUNNER, OFF(family), 0, AF_INET },
	{ "ipv6", '6', OPT_FAMILY, NULL, "use IPv6 addresses only", NULL, "ipv6",
	  BIN_PLUGINS | BIN_STS | BIN_RUNNER, OFF(family), 0, AF_INET6 },
	{ "use-ipv4", 0, OPT_FAMILY, NULL, "the same as -4 (check_smtp's spelling)", NULL, NULL,
	  BIN_PLUGINS | BIN_STS, OFF(family), 0, AF_INET },
	{ "use-ipv6", 0, OPT_FAMILY, NULL, "the same as -6 (check_smtp's spelling)", NULL, NULL,
	  BIN_PLUGINS | BIN_STS, OFF(family), 0, AF_INET6 },
	{ "source", 0, OPT_ADDRESS, "ADDR", "local address to bind", NULL, NULL,
	  BIN_PLUGINS | BIN_STS, OFF(source), 0, 0 },
	{ "proxy-protocol", 0, OPT_PROXY, "1|2",
	  "send a PROXY protocol header first (servers behind HAProxy)", NULL, NULL, BIN_PLUGINS,
	  OFF(proxy_protocol), 0, 0 },
	{ NULL, 0, OPT_LABELS, NULL, "extra Prometheus labels, a mapping of names to strings", NULL,
	  "labels", 0, 0, RK_LABELS, 0 },
	{ "config", 'c', OPT_PATH, "FILE", "YAML configuration (see conf/mtaprobe.yaml)", NULL,
	  NULL, BIN_RUNNER, 0, RK_CONFIG, 0 },
	{ "format", 'f', OPT_FORMAT, "FORMAT", "prometheus (default with -c), json or text", NULL,
	  NULL, BIN_RUNNER, 0, RK_FORMAT, 0 },
	{ "output", 'o', OPT_PATH, "FILE",
	  "write there, atomically (FILE.tmp, fsync, rename); a failed run\n"
	  "leaves FILE as it was; default: the config's output path, else\n"
	  "standard output",
	  NULL, NULL, BIN_RUNNER, 0, RK_OUTPUT, 0 },
	{ "jobs", 'j', OPT_JOBS, "N",
	  "targets in flight (default: the config's concurrency, else 256;\n"
	  "each target's checks run side by side, all on a thread per CPU)",
	  NULL, NULL, BIN_RUNNER, 0, RK_JOBS, 0 },
	{ "quiet", 'q', OPT_FLAG, NULL, "no progress on the terminal", NULL, NULL, BIN_RUNNER, 0,
	  RK_QUIET, 0 },
	{ "listen", 0, OPT_LISTEN, "ADDR:PORT",
	  "exporter mode: serve /probe?target=HOST[:PORT]&module=NAME,\n"
	  "/metrics and /-/healthy over HTTP on ADDR:PORT (an IP address,\n"
	  "IPv6 in brackets) instead of one run; needs -c",
	  NULL, NULL, BIN_RUNNER, 0, RK_LISTEN, 0 },
	{ "max-probes", 0, OPT_JOBS, "N",
	  "with --listen: probes run at once (default 256); a request\n"
	  "beyond waits for a free slot at most half its timeout, then 503",
	  NULL, NULL, BIN_RUNNER, 0, RK_MAX_PROBES, 0 },
	{ "ignore-quit-failure", 'q', OPT_IGNORED, NULL,
	  "accepted for check_smtp users: a failed QUIT never changes the state", NULL, NULL,
	  BIN_PLUGINS, 0, 0, 0 },
	{ "verbose", 'v', OPT_COUNT, NULL, "more detail; -vvv prints the SMTP transcript", NULL,
	  NULL, BIN_PLUGINS | BIN_STS, OFF(verbose), 0, 0 },
	{ "help", 'h', OPT_HELP, NULL, "this help", NULL, NULL, ALL, 0, 0, 0 },
	{ "version", 'V', OPT_VERSION, NULL, "version line", NULL, NULL, ALL, 0, 0, 0 },
};
const size_t option_count = sizeof(option_table) / sizeof(option_table[0]);

/* ---- values ------------------------------------------------------------ */

/* What a string value may hold.  Every string ends up in an SMTP command,
 * a TLS option, a file name or a Prometheus label, so control bytes are
 * refused everywhere. */
struct str_rule {
	size_t max;
	const char *reject; /* bytes refused besides control bytes */
	bool ascii;
	bool need_at;
};

struct type_info {
	const char *expect;   /* YAML: "'KEY' must be EXPECT, not 'VALUE'" */
	const char *is_not;   /* argv: "NAME: 'VALUE' IS_NOT" */
	struct str_rule rule; /* strings: max 0 for non-strings */
};

static const struct type_info types[] = {
	[OPT_FLAG] = { "true or false (or yes, no)", NULL, { 0 } },
	[OPT_IMPLICIT_TLS] = { "true or false (or yes, no)", NULL, { 0 } },
	[OPT_FAMILY] = { "true or false (or yes, no)", NULL, { 0 } },
	[OPT_HOST] = { "a host name", "is not a host name", { 253, " ", false, false } },
	[OPT_DOMAIN] = { "a domain name", "is not a domain name", { 253, " /:@[]", false, false } },
	[OPT_EHLO] = { "an EHLO name", "is not an EHLO name", { 255, " ", false, false } },
	[OPT_TEXT] = { "a non-empty string", "cannot be used", { 1024, "", false, false } },
	[OPT_COMMAND] = { "an SMTP command", "cannot be sent", { 500, "", false, false } },
	[OPT_REGEX] = { "an extended regular expression",
			"is not an extended regular expression",
			{ 1024, "", false, false } },
	[OPT_NAME] = { "a target name", "is not a target name", { 255, "", false, false } },
	[OPT_PATH] = { "a file or directory name",
		       "is not a file name",
		       { 4095, "", false, false } },
	[OPT_READ_PATH] = { "a file or directory name",
			    "is not a file name",
			    { 4095, "", false, false } },
	[OPT_MAIL] = { "a mail address (user@domain)",
		       "is not a mail address (user@domain)",
		       { 254, " <>", true, true } },
	[OPT_SERVERS] = { "a list of IP[:PORT]",
			  "is not a list of IP[:PORT]",
			  { 1024, " ", true, false } },
	[OPT_LISTEN] = { "an address and port (IP:PORT, [IPv6]:PORT)",
			 "is not IP:PORT ([IPv6]:PORT; an address, not a name, and a port "
			 "1-65535)",
			 { 64, " ", true, false } },
	[OPT_ADDRESS] = { "an IP address", "is not an IP address", { 64, " ", true, false } },
	[OPT_KEYWORDS] = { "EHLO keywords (letters, digits, '-')",
			   "is not a comma-separated list of EHLO keywords",
			   { 0 } },
	[OPT_LABELS] = { "a label value", "is not a label value", { 1024, "", false, false } },
	[OPT_PORT] = { "an integer 1-65535", "is not a port number (1-65535)", { 0 } },
	[OPT_TIMEOUT] = { "a number of seconds, more than 0 and at most 3600",
			  "is not SECONDS[:STATE] (seconds more than 0 and at most 3600, state "
			  "ok, warning, critical or unknown)",
			  { 0 } },
	[OPT_RANGE] = { "a number or a range (N, N:, ~:N, N:M, @N:M)", NULL, { 0 } },
	[OPT_DAYS] = { "a number or a range (N, N:, ~:N, N:M, @N:M)", NULL, { 0 } },
	[OPT_CERT_DAYS] = { "W or W,C (days)", "is not W or W,C (whole days)", { 0 } },
	[OPT_PROXY] = { "1 or 2", "must be 1 or 2", { 0 } },
	[OPT_TLS_VERSION] = { "a TLS version (1.0, 1.1, 1.2, 1.3 or TLSv1.x)",
			      "is not 1.0, 1.1, 1.2 or 1.3",
			      { 0 } },
	[OPT_JOBS] = { "an integer 1-4096", "is not a number 1-4096", { 0 } },
	[OPT_FORMAT] = { "prometheus, json or text", "is not prometheus, json or text", { 0 } },
	[OPT_CHECKS] = { "a list of checks (port, banner, starttls, cert, relay, sts)",
			 "is not a list of checks (port, banner, starttls, cert, relay, sts)",
			 { 0 } },
};

const char *opt_expect(const struct opt *o)
{
	return types[o->type].expect ? types[o->type].expect : "nothing";
}

UNITTEST void opt_display_name(const struct opt *o, char *out, size_t size)
{
	if (o->name == NULL)
		snprintf(out, size, "%s", o->yaml ? o->yaml : "?");
	else if (o->short_name)
		snprintf(out, size, "-%c/--%s", o->short_name, o->name);
	else
		snprintf(out, size, "--%s", o->name);
}

/* The length of the UTF-8 sequence at s (at most len bytes) that is a
 * character we may print: no C1 control (U+0080..U+009F), no line or
 * paragraph separator (U+2028, U+2029), which terminals and log viewers
 * take as line breaks; 0 for those and for invalid UTF-8. */
static size_t utf8_printable(const unsigned char *s, size_t len)
{
	unsigned cp;
	size_t n;

	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2, cp = s[0] & 0x1fu;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		n = 3, cp = s[0] & 0x0fu;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		n = 4, cp = s[0] & 0x07u;
	else
		return 0;
	if (n > len)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3fu);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0; /* overlong, out of range, surrogate */
	if ((cp >= 0x80 && cp <= 0x9f) || cp == 0x2028 || cp == 0x2029)
		return 0;
	return n;
}

/* A value quoted back to the user: capped, control bytes shown as '?', so a
 * stray binary blob cannot garble the terminal or the log. */
const char *opt_shown(const char *s, size_t len, char *buf, size_t size)
{
	size_t i = 0, o = 0;

	/* at most 40 bytes of input, whole characters; room for "..." */
	while (i < len && i < 40 && o + 8 < size) {
		unsigned char c = (unsigned char)s[i];
		size_t n = c >= 0x80 ? utf8_printable((const unsigned char *)s + i, len - i) : 1;

		if (c < 0x20 || c == 0x7f || n == 0) {
			buf[o++] = '?';
			i++;
			continue;
		}
		memcpy(buf + o, s + i, n);
		o += n;
		i += n;
	}
	buf[o] = '\0';
	if (i < len)
		snprintf(buf + o, size - o, "...");
	return buf;
}

/* What a range may hold before range_parse() judges it: a value with
 * control bytes is refused here, so its echo can be shown safely. */
static const struct str_rule range_chars = { 60, "", true, false };

/* A DNS name as we accept it: letters, digits, '-', '_' and dots.  The
 * offending byte into bad. */
static bool dns_chars(const char *s, size_t len, char *bad)
{
	for (size_t i = 0; i < len; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '-' && s[i] != '_' && s[i] != '.') {
			*bad = s[i];
			return false;
		}
	return true;
}

/* Why s breaks rule r, or NULL when it does not. */
static const char *str_problem(const struct str_rule *r, const char *s, size_t len, char *buf,
			       size_t size)
{
	if (len == 0)
		return "it is empty";
	if (len > r->max) {
		snprintf(buf, size, "it is longer than %zu bytes", r->max);
		return buf;
	}
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 0x20 || c == 0x7f)
			return "control characters are not allowed";
		if (r->ascii && c > 0x7f)
			return "only ASCII is allowed";
		if (c > 0x7f) {
			size_t n = utf8_printable((const unsigned char *)s + i, len - i);

			if (n == 0)
				return "it is not valid UTF-8, or holds a control or line separator";
			i += n - 1;
			continue;
		}
		if (strchr(r->reject, c) != NULL) {
			snprintf(buf, size, "'%c' is not allowed", c);
			return buf;
		}
	}
	if (r->need_at && memchr(s, '@', len) == NULL)
		return "it has no '@'";
	return NULL;
}

/* Decimal digits only: no sign, no 0x/0o, no _ separators, and no leading
 * zero, which YAML 1.1 reads as octal ("025" would be port 21 elsewhere). */
static int parse_uint(const char *s, size_t len, long max, long *out)
{
	char buf[16];

	if (len == 0 || len > 9 || strspn(s, "0123456789") < len || (s[0] == '0' && len > 1))
		return -1;
	memcpy(buf, s, len);
	buf[len] = '\0';
	*out = strtol(buf, NULL, 10);
	return *out <= max ? 0 : -1;
}

/* "10", "2.5", ".5": what a person writes for seconds or days.  strtod
 * alone would also take inf, nan, hex and exponents. */
static int parse_decimal(const char *s, size_t len, double *out)
{
	size_t whole = strspn(s, "0123456789"), frac = 0;
	char buf[24];

	if (whole > len)
		whole = len;
	if (whole < len && s[whole] == '.')
		frac = strspn(s + whole + 1, "0123456789");
	if (whole + frac == 0 || whole > 9 || frac > 9 ||
	    whole + (whole < len && s[whole] == '.') + frac != len)
		return -1;
	memcpy(buf, s, len);
	buf[len] = '\0';
	*out = strtod(buf, NULL);
	return 0;
}

static int parse_bool(const char *s, bool *out)
{
	if (strcasecmp(s, "true") == 0 || strcasecmp(s, "yes") == 0)
		*out = true;
	else if (strcasecmp(s, "false") == 0 || strcasecmp(s, "no") == 0)
		*out = false;
	else
		return -1;
	return 0;
}

static int parse_timeout(const char *s, size_t len, double *secs, enum state *st)
{
	static const char *const names[] = { "ok", "warning", "critical", "unknown" };
	const char *colon = memchr(s, ':', len);
	size_t n = colon ? (size_t)(colon - s) : len;

	if (parse_decimal(s, n, secs) < 0 || !(*secs > 0) || *secs > 3600)
		return -1;
	*st = STATE_CRITICAL;
	if (colon == NULL)
		return 0;
	for (int i = 0; i < 4; i++)
		if (strcasecmp(colon + 1, names[i]) == 0) {
			*st = (enum state)i;
			return 0;
		}
	return -1;
}

/* "A, B,C" -> "A,B,C" (RFC 5321 §4.1.1.1 keywords: letters, digits, '-');
 * blanks around commas are forgiven, empty items are not. */
static int parse_keywords(const char *s, size_t len, char *out, size_t size)
{
	static const char ok[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-";
	const char *p = s, *end = s + len;
	size_t used = 0;

	out[0] = '\0';
	while (p <= end) {
		const char *comma = memchr(p, ',', (size_t)(end - p));
		const char *stop = comma ? comma : end, *a = p, *z = stop;

		while (a < z && *a == ' ')
			a++;
		while (z > a && z[-1] == ' ')
			z--;
		if (a == z || used + (size_t)(z - a) + 2 > size)
			return -1;
		for (const char *q = a; q < z; q++)
			if (*q == '\0' || strchr(ok, *q) == NULL)
				return -1;
		used += (size_t)snprintf(out + used, size - used, "%s%.*s", used ? "," : "",
					 (int)(z - a), a);
		p = stop + 1;
	}
	return 0;
}

static int parse_checks(const char *s, size_t len, unsigned *mask)
{
	const char *p = s, *end = s + len;

	*mask = 0;
	while (p < end) {
		size_t n = strcspn(p, ",");
		int k = -1;

		if (n > (size_t)(end - p))
			n = (size_t)(end - p);
		for (int i = 0; i < CHECK_KINDS; i++)
			if (strlen(check_names[i]) == n && strncmp(p, check_names[i], n) == 0)
				k = i;
		if (k < 0)
			return -1;
		*mask |= 1u << k;
		p += n + 1;
	}
	return *mask ? 0 : -1;
}

/* One resolver: "IP", "IPv4:PORT", "[IPv6]" or "[IPv6]:PORT", port 1-65535
 * (c-ares itself would take port 70889 as 5353); with need_port (--listen)
 * the port must be there. */
static int server_ok(const char *s, size_t len, bool need_port)
{
	const char *colon = memchr(s, ':', len), *port = NULL;
	char host[64];
	struct addr a;
	long p;
	size_t hl = len;

	if (len > 0 && s[0] == '[') {
		const char *close = memchr(s, ']', len);

		if (close == NULL)
			return -1;
		hl = (size_t)(close - s) + 1;
		if (hl < len) {
			if (s[hl] != ':')
				return -1;
			port = s + hl + 1;
		}
	} else if (colon && memchr(colon + 1, ':', len - (size_t)(colon - s) - 1) == NULL) {
		hl = (size_t)(colon - s); /* one colon: IPv4:PORT */
		port = colon + 1;
	}
	if (hl == 0 || hl >= sizeof(host))
		return -1;
	memcpy(host, s, hl);
	host[hl] = '\0';
	if (addr_from_literal(host, 0, &a) < 0)
		return -1;
	if (port == NULL)
		return need_port ? -1 : 0;
	return parse_uint(port, len - (size_t)(port - s), 65535, &p) < 0 || p < 1 ? -1 : 0;
}

/* "IP[:PORT][,...]": each server as server_ok(), and taken by c-ares. */
static int servers_ok(const char *s, size_t len)
{
	const char *p = s, *end = s + len;

	for (;;) {
		const char *comma = memchr(p, ',', (size_t)(end - p));
		const char *stop = comma ? comma : end;

		if (server_ok(p, (size_t)(stop - p), false) < 0)
			return -1;
		if (comma == NULL)
			break;
		p = comma + 1;
	}
	return dns_servers_valid(s);
}

static int store_string(const char **slot, const char *s, size_t len)
{
	char *copy = strndup(s, len);

	if (copy == NULL)
		return -1;
	free((char *)*slot);
	*slot = copy;
	return 0;
}

/* A list option given again on a command line adds to the list (-x A -x B
 * is -x A,B), as Icinga passes an array variable; in YAML a target's value
 * replaces the defaults'. */
static bool adds_up(const struct opt *o, enum opt_from from, const char **slot)
{
	return from == FROM_ARGV && (o->type == OPT_KEYWORDS || o->type == OPT_SERVERS) &&
	       *slot != NULL;
}

static int append_string(const char **slot, const char *s, size_t len)
{
	char *joined;

	if (asprintf(&joined, "%s,%.*s", *slot, (int)len, s) < 0)
		return -1;
	free((char *)*slot);
	*slot = joined;
	return 0;
}

static void *slot_of(const struct opt *o, const struct opt_dest *d)
{
	if (o->rk != RK_NONE)
		return d->slot ? d->slot(d->ctx, o) : NULL;
	return d->cfg ? (char *)d->cfg + o->off : NULL;
}

static bool is_string(enum opt_type t)
{
	return (t >= OPT_HOST && t <= OPT_ADDRESS) || t == OPT_LABELS;
}

/* A host name (-H, --sni: or an IP literal), a domain (-M, --domain) or an
 * EHLO name (or an address literal "[192.0.2.1]", "[IPv6:2001:db8::1]"):
 * what goes into a status line, a DNS query or an SMTP command, so only
 * the bytes a DNS name may hold.  0, or -1 with why. */
static int name_problem(enum opt_type t, const char *s, size_t len, char *why, size_t wl)
{
	char lit[80], bad = 0;
	struct addr a;

	if (t != OPT_DOMAIN && len < sizeof(lit)) {
		size_t skip = t == OPT_EHLO && len > 7 && strncasecmp(s, "[IPv6:", 6) == 0 ? 6 : 1;

		if (t == OPT_EHLO && len > 2 && s[0] == '[' && s[len - 1] == ']')
			snprintf(lit, sizeof(lit), "%.*s", (int)(len - 1 - skip), s + skip);
		else
			snprintf(lit, sizeof(lit), "%.*s", (int)len, s);
		if (addr_from_literal(lit, 0, &a) == 0)
			return 0;
	}
	if (dns_chars(s, len, &bad))
		return 0;
	snprintf(why, wl, "'%c' is not allowed", bad);
	return -1;
}

/* -f and output.format, in enum out_format order (runner/config.h). */
static const char *const formats[] = { "prometheus", "json", "text" };

/* Parse and store; -1 with why (a detail, or for ranges the whole reason). */
static int parse_value(const struct opt *o, const char *s, size_t len, enum opt_from from,
		       const struct opt_dest *d, void *slot, char *why, size_t wl)
{
	const struct type_info *ti = &types[o->type];
	char buf[1100];
	const char *problem;
	long n;
	double x;
	bool b;

	why[0] = '\0';
	if (is_string(o->type)) {
		problem = str_problem(&ti->rule, s, len, buf, sizeof(buf));
		if (problem != NULL) {
			snprintf(why, wl, "%s", problem);
			return -1;
		}
		if (o->type == OPT_HOST || o->type == OPT_DOMAIN || o->type == OPT_EHLO) {
			if (name_problem(o->type, s, len, why, wl) < 0)
				return -1;
		} else if (o->type == OPT_COMMAND) {
			/* this check never sends a message: no DATA, BDAT or BURL;
			 * QUIT is its own to send; a command starts with its word */
			static const char *const never[] = { "DATA", "BDAT", "BURL", "QUIT" };
			size_t w = 0;

			if (!isalpha((unsigned char)s[0])) {
				snprintf(why, wl, "a command starts with its word (a letter)");
				return -1;
			}
			while (w < len && s[w] != ' ' && s[w] != '\t')
				w++;
			for (size_t i = 0; i < sizeof(never) / sizeof(never[0]); i++)
				if (w == strlen(never[i]) && strncasecmp(s, never[i], w) == 0) {
					snprintf(
						why, wl, "%s",
						i == 3 ? "QUIT ends every check anyway: it is the "
							 "check's own to send"
						       : "DATA, BDAT and BURL are never sent: no message "
							 "can come of a check");
					return -1;
				}
		} else if (o->type == OPT_REGEX) {
			regex_t re;
			int rc;

			memcpy(buf, s, len);
			buf[len] = '\0';
			rc = regcomp(&re, buf, REG_EXTENDED | REG_NOSUB);
			if (rc != 0) {
				char msg[100];

				regerror(rc, &re, msg, sizeof(msg));
				snprintf(why, wl, "%s", msg);
				return -1;
			}
			regfree(&re);
		} else if (o->type == OPT_LISTEN) {
			if (server_ok(s, len, true) < 0)
				return -1;
		} else if (o->type == OPT_SERVERS || o->type == OPT_ADDRESS) {
			struct addr a;
			size_t m = 0;

			if (adds_up(o, from, slot)) { /* the whole list is judged */
				m = (size_t)snprintf(buf, sizeof(buf), "%s,", *(const char **)slot);
				if (m + len >= sizeof(buf)) {
					snprintf(why, wl, "too many servers");
					return -1;
				}
			}
			memcpy(buf + m, s, len);
			buf[m + len] = '\0';
			if (o->type == OPT_SERVERS ? servers_ok(buf, m + len) < 0
						   : addr_from_literal(buf, 0, &a) < 0)
				return -1;
		}
		if ((adds_up(o, from, slot) ? append_string(slot, s, len)
					    : store_string(slot, s, len)) < 0) {
			snprintf(why, wl, "out of memory");
			return -1;
		}
		return 0;
	}
	switch (o->type) {
	case OPT_FLAG:
	case OPT_IMPLICIT_TLS:
	case OPT_FAMILY:
		if (from == FROM_ARGV)
			b = true;
		else if (parse_bool(s, &b) < 0)
			return -1;
		if (o->type != OPT_FAMILY)
			*(bool *)slot = b;
		else if (b)
			*(int *)slot = o->val;
		else if (*(int *)slot == o->val) /* false undoes only its own family */
			*(int *)slot = AF_UNSPEC;
		/* tls: false in YAML says "plain, even on port 465" */
		if (o->type == OPT_IMPLICIT_TLS && from == FROM_YAML && d->cfg)
			d->cfg->no_tls = !b;
		return 0;
	case OPT_COUNT:
		++*(int *)slot;
		return 0;
	case OPT_KEYWORDS:
		if (parse_keywords(s, len, buf, sizeof(buf)) < 0)
			return -1;
		if (adds_up(o, from, slot))
			return append_string(slot, buf, strlen(buf));
		return store_string(slot, buf, strlen(buf));
	case OPT_PORT:
		if (parse_uint(s, len, 65535, &n) < 0 || n < 1)
			return -1;
		*(int *)slot = (int)n;
		return 0;
	case OPT_JOBS:
		if (parse_uint(s, len, 4096, &n) < 0 || n < 1)
			return -1;
		*(int *)slot = (int)n;
		return 0;
	case OPT_TIMEOUT:
		if (parse_timeout(s, len, &x, &d->cfg->timeout_state) < 0)
			return -1;
		*(double *)slot = x;
		return 0;
	case OPT_RANGE:
	case OPT_DAYS:
		if (str_problem(&range_chars, s, len, buf, sizeof(buf))) {
			snprintf(why, wl, "'%s' is not a range (N, N:, ~:N, N:M or @N:M)",
				 opt_shown(s, len, buf, sizeof(buf)));
			return -1;
		}
		/* for days, a bare N means "N:": alert when fewer than N are left */
		snprintf(buf, sizeof(buf), "%.*s%s", (int)len, s,
			 o->type == OPT_DAYS && parse_decimal(s, len, &x) == 0 ? ":" : "");
		return range_parse(buf, slot, why, (int)wl);
	case OPT_CERT_DAYS: {
		/* -D W[,C]: W warns; C (if given) is critical; else only an
		 * expired certificate is, as check_smtp has it */
		struct opt days = *o;
		const char *comma = memchr(s, ',', len);
		size_t w = comma ? (size_t)(comma - s) : len;

		days.type = OPT_DAYS;
		if (d->cfg == NULL || w == 0 || parse_decimal(s, w, &x) < 0 ||
		    (comma && parse_decimal(comma + 1, len - w - 1, &x) < 0))
			return -1;
		if (parse_value(&days, s, w, from, d, &d->cfg->days_warn, why, wl) < 0)
			return -1;
		if (comma)
			return parse_value(&days, comma + 1, len - w - 1, from, d,
					   &d->cfg->days_crit, why, wl);
		memset(&d->cfg->days_crit, 0, sizeof(d->cfg->days_crit));
		return 0;
	}
	case OPT_PROXY:
		if (len != 1 || (s[0] != '1' && s[0] != '2'))
			return -1;
		*(int *)slot = s[0] - '0';
		return 0;
	case OPT_TLS_VERSION:
		n = tls_version_parse(s);
		if (n < 0)
			return -1;
		*(int *)slot = (int)n;
		return 0;
	case OPT_FORMAT:
		for (int i = 0; i < 3; i++)
			if (strcmp(s, formats[i]) == 0) {
				*(int *)slot = i;
				return 0;
			}
		return -1;
	case OPT_CHECKS:
		return parse_checks(s, len, slot);
	default:
		snprintf(why, wl, "this option takes no value");
		return -1;
	}
}

int opt_apply(const struct opt *o, const char *s, size_t len, enum opt_from from, const char *key,
	      const struct opt_dest *d, char *msg, size_t msg_size)
{
	const struct type_info *ti = &types[o->type];
	char why[512], name[64], b[64];
	void *slot = slot_of(o, d);

	if (s == NULL)
		s = "", len = 0;
	if (slot == NULL && o->type != OPT_IGNORED) {
		snprintf(msg, msg_size, "%s is not taken here", o->name ? o->name : o->yaml);
		return -1;
	}
	if (o->type == OPT_IGNORED ||
	    parse_value(o, s, len, from, d, slot, why, sizeof(why)) == 0) {
		if (o->type != OPT_READ_PATH || from != FROM_ARGV || access(s, R_OK) == 0)
			return 0;
		opt_display_name(o, name, sizeof(name));
		snprintf(msg, msg_size, "%s: cannot read '%s': %s", name,
			 opt_shown(s, len, b, sizeof(b)), strerror(errno));
		return -1;
	}
	if (key == NULL)
		key = o->yaml;
	opt_display_name(o, name, sizeof(name));
	if (o->type == OPT_RANGE || o->type == OPT_DAYS) /* range_parse's reason says it all */
		snprintf(msg, msg_size, from == FROM_ARGV ? "%s: %s" : "'%s': %s",
			 from == FROM_ARGV ? name : key, why);
	else if (from == FROM_YAML)
		snprintf(msg, msg_size, "'%s' must be %s, not '%s'%s%s%s", key, ti->expect,
			 opt_shown(s, len, b, sizeof(b)), why[0] ? " (" : "", why,
			 why[0] ? ")" : "");
	else if (o->type == OPT_TEXT && len == 0)
		snprintf(msg, msg_size, "%s: %s must not be empty", name, o->arg);
	else
		snprintf(msg, msg_size, "%s: '%s' %s%s%s%s", name, opt_shown(s, len, b, sizeof(b)),
			 ti->is_not, why[0] ? " (" : "", why, why[0] ? ")" : "");
	return -1;
}

void options_defaults(unsigned bins, const struct opt_dest *d)
{
	char msg[256];

	for (size_t i = 0; i < option_count; i++) {
		const struct opt *o = &option_table[i];

		if (o->dflt && (o->bins & bins) && slot_of(o, d) != NULL)
			opt_apply(o, o->dflt, strlen(o->dflt), FROM_ARGV, NULL, d, msg,
				  sizeof(msg));
	}
}

void options_free(struct check_cfg *cfg)
{
	if (cfg == NULL)
		return;
	for (size_t i = 0; i < option_count; i++) {
		const struct opt *o = &option_table[i];

		if (o->rk == RK_NONE && (is_string(o->type) || o->type == OPT_KEYWORDS)) {
			const char **p = (const char **)((char *)cfg + o->off);

			free((char *)*p);
			*p = NULL;
		}
	}
	memset(cfg, 0, sizeof(*cfg));
}

/* ---- --help ------------------------------------------------------------ */

static void help_row(struct strbuf *out, const struct binary *b, const struct opt *o)
{
	char left[64], help[640];
	const char *h, *nl;

	if (o->short_name)
		snprintf(left, sizeof(left), "-%c, --%s%s%s", o->short_name, o->name,
			 o->arg ? " " : "", o->arg ? o->arg : "");
	else
		snprintf(left, sizeof(left), "    --%s%s%s", o->name, o->arg ? " " : "",
			 o->arg ? o->arg : "");
	/* the default goes at the end of the help's first line */
	nl = strchr(o->help, '\n');
	snprintf(help, sizeof(help), "%.*s", nl ? (int)(nl - o->help) : (int)strlen(o->help),
		 o->help);
	if ((o->type == OPT_RANGE || o->type == OPT_DAYS) && b->threshold_help)
		snprintf(help + strlen(help), sizeof(help) - strlen(help), ": %s",
			 b->threshold_help);
	if (o->dflt && o->type != OPT_CHECKS)
		snprintf(help + strlen(help), sizeof(help) - strlen(help), " (default %s)",
			 o->dflt);
	if (nl)
		snprintf(help + strlen(help), sizeof(help) - strlen(help), "%s", nl);
	for (h = help; (nl = strchr(h, '\n')) != NULL; h = nl + 1) {
		strbuf_printf(out, "  %-30s %.*s\n", left, (int)(nl - h), h);
		left[0] = '\0';
	}
	strbuf_printf(out, "  %-30s %s\n", left, h);
}

void options_help(const struct binary *b, const char *usage, struct strbuf *out)
{
	strbuf_printf(out, "%s %s (mtaprobe)\n\n%s\n\n%s", b->prog, MTAPROBE_VERSION, b->purpose,
		      usage);
	strbuf_printf(out, "\nOptions:\n");
	for (size_t i = 0; i < option_count; i++)
		if (option_table[i].name && (option_table[i].bins & b->bit))
			help_row(out, b, &option_table[i]);
	if (b->def)
		strbuf_printf(
			out,
			"\nRANGE is N (alert if < 0 or > N), N: (alert if < N), ~:N (alert if > N),\n"
			"N:M (alert outside N..M) or @N:M (alert inside); decimals allowed.\n"
			"Exit codes: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN (also --help, --version\n"
			"and usage errors).\n");
	strbuf_printf(out, "\nExamples:\n%s", b->examples);
}

/* ---- getopt ------------------------------------------------------------ */

#define MAX_ROWS 64

static int usage_error(const struct binary *b, const char *usage, struct strbuf *out,
		       const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static int usage_error(const struct binary *b, const char *usage, struct strbuf *out,
		       const char *fmt, ...)
{
	char msg[640];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	strbuf_free(out);
	if (b->def)
		strbuf_printf(out, "MTA %s UNKNOWN - %s\n%s", b->def->name, msg, usage);
	else
		strbuf_printf(out, "%s: %s\n%s", b->prog, msg, usage);
	strbuf_printf(out, "Try '%s --help' for more information.\n", b->prog);
	return 3;
}

/* Why getopt refused the word at argv[idx] (optopt as getopt left it):
 * an unknown short option inside a cluster ("-vZv": optopt 'Z'), a flag
 * given a value ("--tls=1": optopt is the row's val), an ambiguous or an
 * unknown long option.  Values are quoted with control bytes as '?'. */
static void refused_option(char **argv, int idx, int opt, const struct option *lo, char *msg,
			   size_t size)
{
	char b[64], word[64], list[256] = "";
	size_t n, matches = 0;

	if (opt != 0 && opt < 256) { /* a short option; a byte >= 0x80 comes as < 0 */
		snprintf(word, sizeof(word), "-%c", (char)opt);
		snprintf(msg, size, "unknown option '%s'",
			 opt_shown(word, strlen(word), b, sizeof(b)));
		return;
	}
	if (opt >= 256) {
		snprintf(msg, size, "option '--%s' takes no value", lo[opt - 256].name);
		return;
	}
	n = strcspn(argv[idx], "=");
	if (n > 2 && strncmp(argv[idx], "--", 2) == 0)
		for (const struct option *o = lo; o->name; o++)
			if (strncmp(argv[idx] + 2, o->name, n - 2) == 0 && ++matches <= 4)
				snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s--%s",
					 matches > 1 ? ", " : "", o->name);
	opt_shown(argv[idx], n, b, sizeof(b));
	if (matches > 1)
		snprintf(msg, size, "option '%s' is ambiguous (%s%s)", b, list,
			 matches > 4 ? ", ..." : "");
	else
		snprintf(msg, size, "unknown option '%s'", b);
}

/* The name of an option that lacks its argument: "-p", "--dns-server". */
static const char *missing_name(char **argv, int idx, int opt, const struct option *lo, char *buf,
				size_t size)
{
	char raw[64];

	if (opt != 0 && opt < 256)
		snprintf(raw, sizeof(raw), "-%c", (char)opt);
	else if (opt >= 256)
		snprintf(raw, sizeof(raw), "--%s", lo[opt - 256].name);
	else
		snprintf(raw, sizeof(raw), "%.*s", (int)strcspn(argv[idx], "="), argv[idx]);
	return opt_shown(raw, strlen(raw), buf, size);
}

int options_getopt(const struct binary *b, const char *usage, int argc, char **argv,
		   const struct opt_dest *d, struct strbuf *out, int *first_arg)
{
	struct option lo[MAX_ROWS + 1];
	const struct opt *row[MAX_ROWS];
	char shortopts[2 * MAX_ROWS + 2] = ":", name[64], msg[640];
	size_t n = 0, k = 1;
	int c;

	for (size_t i = 0; i < option_count && n < MAX_ROWS; i++) {
		const struct opt *o = &option_table[i];
		bool arg = o->arg != NULL;

		if (o->name == NULL || !(o->bins & b->bit))
			continue;
		row[n] = o;
		lo[n] = (struct option){ o->name, arg ? required_argument : no_argument, NULL,
					 256 + (int)n };
		n++;
		if (o->short_name) {
			shortopts[k++] = o->short_name;
			if (arg)
				shortopts[k++] = ':';
		}
	}
	lo[n] = (struct option){ 0 };
	shortopts[k] = '\0';
	optind = 0; /* GNU: full re-initialisation, so tests may parse again */
	opterr = 0;
	while ((c = getopt_long(argc, argv, shortopts, lo, NULL)) != -1) {
		const struct opt *o = NULL;

		if (c == '?') {
			refused_option(argv, optind - 1, optopt, lo, msg, sizeof(msg));
			return usage_error(b, usage, out, "%s", msg);
		}
		if (c == ':')
			return usage_error(
				b, usage, out, "option '%s' needs an argument",
				missing_name(argv, optind - 1, optopt, lo, name, sizeof(name)));
		if (c >= 256)
			o = row[c - 256];
		for (size_t i = 0; o == NULL && i < n; i++)
			if (row[i]->short_name == c)
				o = row[i];
		if (o == NULL)
			return usage_error(b, usage, out, "unknown option");
		if (o->type == OPT_HELP) {
			strbuf_free(out);
			options_help(b, usage, out);
			return 0;
		}
		if (o->type == OPT_VERSION) {
			strbuf_free(out);
			strbuf_printf(out, "%s %s (mtaprobe)\n", b->prog, MTAPROBE_VERSION);
			return 0;
		}
		if (opt_apply(o, optarg, optarg ? strlen(optarg) : 0, FROM_ARGV, NULL, d, msg,
			      sizeof(msg)) < 0)
			return usage_error(b, usage, out, "%s", msg);
	}
	*first_arg = optind;
	return -1;
}

int options_parse(const struct binary *b, int argc, char **argv, struct check_cfg *cfg,
		  struct strbuf *out)
{
	struct opt_dest d = { cfg, NULL, NULL };
	char usage[256], b64[64];
	int rc, first;

	snprintf(usage, sizeof(usage),
		 "Usage: %s -H HOST|-M DOMAIN [-p PORT] [-w RANGE] [-c RANGE] [-t SEC[:STATE]] "
		 "[options]\n",
		 b->prog);
	memset(cfg, 0, sizeof(*cfg));
	options_defaults(b->bit, &d);
	rc = options_getopt(b, usage, argc, argv, &d, out, &first);
	if (rc == 0)
		return 3;
	if (rc > 0)
		return rc;
	if (first < argc)
		return usage_error(b, usage, out, "unexpected argument '%s'",
				   opt_shown(argv[first], strlen(argv[first]), b64, sizeof(b64)));
	if (cfg->host == NULL && cfg->mx_domain == NULL)
		return usage_error(b, usage, out, "-H/--hostname or -M/--mx is required");
	if (cfg->host && cfg->mx_domain)
		return usage_error(b, usage, out, "-H/--hostname and -M/--mx exclude each other");
	if (cfg->tls && cfg->no_tls)
		return usage_error(b, usage, out, "-s/--tls and --no-tls contradict each other");
	if (cfg->response && cfg->command == NULL)
		return usage_error(b, usage, out,
				   "-R/--response needs -C/--command (the reply it judges)");
	return -1;
}
