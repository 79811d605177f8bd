/* binaries.c - what each binary is for: its --help text and examples.
 * Their options are rows of the one table in options.c. */
#include "cli/options.h"

const struct binary binary_port = {
	.prog = "check_mta_port",
	.bit = BIN_PORT,
	.def = &check_port,
	.summary = "check that a mail server accepts TCP (and TLS) connections",
	.purpose =
		"Checks that a mail server accepts TCP connections on its port: OK once the\n"
		"connection is established; CRITICAL when refused, unreachable, timed out or\n"
		"the name does not resolve.  Sends nothing to the server.",
	.threshold_help = "seconds to connect",
	.perfdata =
		"dns\tseconds to resolve the name (when -H is a name)\n"
		"connect\tseconds to establish the TCP connection\n"
		"handshake\tseconds for the TLS handshake (with -s or on port 465)\n"
		"time\tseconds for the whole check\n",
	.examples =
		"  check_mta_port -H mail.example.org -p 587 -w 1 -c 3\n"
		"  check_mta_port -H mail.example.org -A -t 5     # every address of the host\n",
};

const struct binary binary_banner = {
	.prog = "check_mta_banner",
	.bit = BIN_BANNER,
	.def = &check_banner,
	.summary = "check a mail server's greeting and EHLO",
	.purpose =
		"Reads a mail server's whole (possibly multi-line) greeting, sends EHLO\n"
		"(HELO if EHLO gets a 5xx), then QUIT.  OK on a 220 greeting; CRITICAL on\n"
		"421, 554 or any other code, a malformed or overlong reply, or no answer in\n"
		"time; WARNING when --expect or --require-ext are not met or EHLO/HELO are\n"
		"refused.  Nothing is sent before the greeting is complete.",
	.threshold_help = "seconds from connect start to the full greeting",
	.perfdata =
		"dns\tseconds to resolve the name (when -H is a name)\n"
		"connect\tseconds to establish the TCP connection\n"
		"banner\tseconds from connect start to the full greeting (-w/-c)\n"
		"ehlo\tseconds for the EHLO reply\n"
		"time\tseconds for the whole check\n"
		"size\tthe SIZE limit the server advertises, in bytes (when it does)\n",
	.examples =
		"  check_mta_banner -H mail.example.org -w 2 -c 5\n"
		"  check_mta_banner -H mail.example.org --expect ESMTP --require-ext PIPELINING,SIZE\n"
		"  check_mta_banner -M example.org --fcrdns       # every MX, every address\n",
};

const struct binary binary_starttls = {
	.prog = "check_mta_starttls",
	.bit = BIN_STARTTLS,
	.def = &check_starttls,
	.summary = "check that a mail server's STARTTLS works",
	.purpose =
		"Checks that a mail server offers STARTTLS and that it works: EHLO must\n"
		"advertise STARTTLS (else CRITICAL), STARTTLS must get 220, the TLS handshake\n"
		"(with SNI) must complete and EHLO over TLS must get 250.  The summary names\n"
		"protocol and cipher; -v adds the group, certificate subject and issuer.\n"
		"On port 465 or with -s it checks the implicit-TLS handshake instead.\n"
		"The client connects permissively (OpenSSL security level 0, TLS 1.0 allowed)\n"
		"so that old protocols are seen and judged (--min-tls) rather than just failing.",
	.threshold_help = "seconds for the TLS handshake",
	.perfdata =
		"dns\tseconds to resolve the name (when -H is a name)\n"
		"connect\tseconds to establish the TCP connection\n"
		"banner\tseconds to the full greeting\n"
		"ehlo\tseconds for the EHLO reply\n"
		"starttls\tseconds for the reply to STARTTLS\n"
		"handshake\tseconds for the TLS handshake (-w/-c)\n"
		"time\tseconds for the whole check\n",
	.examples =
		"  check_mta_starttls -H mx.example.org\n"
		"  check_mta_starttls -H smtp.example.org -p 587 --min-tls 1.3 -w 0.5 -c 2\n"
		"  check_mta_starttls -H smtp.example.org -p 465       # implicit TLS\n",
};

const struct binary binary_cert = {
	.prog = "check_mta_cert",
	.bit = BIN_CERT,
	.def = &check_cert,
	.summary = "check a mail server's TLS certificate: expiry, chain, name, strength, DANE",
	.purpose =
		"Gets the server's certificate chain over STARTTLS (implicit TLS on port 465\n"
		"or with -s) and judges it: CRITICAL when expired, not yet valid, fewer than\n"
		"-c days left, or when chain or host-name verification fails (OpenSSL's reason\n"
		"is shown; --no-verify skips this); WARNING under -w days, for SHA-1/MD5\n"
		"signatures, RSA keys under 2048 bits and EC keys under 256 bits.  A server\n"
		"with both an RSA and an ECDSA certificate is asked for each (one handshake\n"
		"each, offering only that signature type) and both are judged.  The client\n"
		"connects permissively (security level 0, TLS 1.0 allowed) so that weak\n"
		"certificates can be fetched and judged.  Days are whole days, rounded down.",
	.threshold_help =
		"days left on the certificate; a bare N means fewer than\n"
		"N (N:)",
	.perfdata =
		"dns\tseconds to resolve the name (when -H is a name)\n"
		"connect\tseconds to establish the TCP connection\n"
		"banner\tseconds to the full greeting\n"
		"ehlo\tseconds for the EHLO reply\n"
		"starttls\tseconds for the reply to STARTTLS\n"
		"handshake\tseconds for the TLS handshake\n"
		"time\tseconds for the whole check\n"
		"days\twhole days left on the leaf certificate (-w/-c)\n"
		"chain_days\twhole days left on the chain's earliest certificate\n",
	.examples =
		"  check_mta_cert -H mx.example.org -w 30 -c 14\n"
		"  check_mta_cert -H smtp.example.org -p 465 --ca-file /etc/ssl/private-ca.pem\n",
};

const struct binary binary_relay = {
	.prog = "check_mta_relay",
	.bit = BIN_RELAY,
	.def = &check_relay,
	.summary = "check that a mail server refuses to relay for outside domains",
	.purpose =
		"Proves that a mail server refuses to relay for outside domains.  After EHLO\n"
		"(and STARTTLS with -S) it tries sender/recipient pairs with MAIL FROM and\n"
		"RCPT TO, then RSET; it never sends DATA, BDAT or a message body, and QUITs\n"
		"at the end.  Quick set: outside sender, null sender <>, and a sender spoofing\n"
		"the server's own domain, each to an outside recipient; --thorough adds the\n"
		"classic address tricks.  Any RCPT accepted: CRITICAL, naming each pair.\n"
		"Only refusals (5xx): OK.  Temporary refusals (4xx) and no acceptance: WARNING\n"
		"(inconclusive).  Server unreachable: UNKNOWN (the other checks report outages).\n"
		"A refused MAIL FROM is retried with <>; no sender taken at all: WARNING (not\n"
		"tested).  530 on a plain session offering STARTTLS: the tests run over TLS;\n"
		"530 there or without STARTTLS: refused, \"requires authentication\".  Under a\n"
		"catch-all, tricks the server may take as local are inconclusive (WARNING).\n"
		"A server that drops the session (421 or close) is reconnected to; a run the\n"
		"deadline cuts short says so and takes -t's state.",
	.threshold_help = "not used",
	.perfdata =
		"dns\tseconds to resolve the name (when -H is a name)\n"
		"connect\tseconds to establish the TCP connection\n"
		"banner\tseconds to the full greeting\n"
		"ehlo\tseconds for the EHLO reply\n"
		"time\tseconds for the whole check\n"
		"accepted\trelay tests whose RCPT was accepted (any is an open relay)\n"
		"refused\trelay tests refused (5xx)\n"
		"tempfail\trelay tests temporarily refused (4xx)\n"
		"tests\trelay tests made\n"
		"inconclusive\taddress tricks accepted under a catch-all (with --thorough)\n",
	.examples =
		"  check_mta_relay -H mx.example.org\n"
		"  check_mta_relay -H mx.example.org --thorough -v\n"
		"  check_mta_relay -H smtp.example.org -p 587 -S -f monitor@example.com\n",
};

const struct binary binary_runner = {
	.prog = "mtaprobe",
	.bit = BIN_RUNNER,
	.def = NULL,
	.summary =
		"run the mtaprobe checks over many mail servers into Prometheus, JSON or a table",
	.purpose =
		"Runs the checks of check_mta_port, check_mta_banner, check_mta_starttls,\n"
		"check_mta_cert and check_mta_relay over many targets at once: every target\n"
		"of a YAML configuration (-c) into a Prometheus textfile, JSON or a table, or\n"
		"one or more HOSTs (or --mx DOMAIN) as a quick report for a person at a terminal.\n"
		"With --listen, a Prometheus multi-target exporter instead (blackbox_exporter's\n"
		"pattern): GET /probe?target=HOST[:PORT]&module=NAME runs the checks of a\n"
		"module of the configuration (modules:) against HOST then and there.\n"
		"Exit with -c: 0 when every check ran and the output was written (--listen:\n"
		"after SIGTERM or SIGINT); 3 on a usage, configuration or output error\n"
		"(nothing is written then; an unwritable output is found before any check\n"
		"runs).  The terminal mode (HOST) exits with the worst state, as a plugin.",
	.threshold_help = NULL,
	.examples =
		"  mtaprobe -c /etc/mtaprobe/mtaprobe.yaml\n"
		"  mtaprobe -c mtaprobe.yaml -f json -o /tmp/mtaprobe.json\n"
		"  mtaprobe mx.example.org --checks banner,starttls,cert\n"
		"  mtaprobe --mx example.org\n"
		"  mtaprobe --listen 127.0.0.1:9125 -c /etc/mtaprobe/mtaprobe.yaml\n",
};
