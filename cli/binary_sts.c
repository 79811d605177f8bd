/* binary_sts.c - check_mta_sts's --help text.  A file of its own: the
 * check pulls in libcurl, which only check_mta_sts (and the runner) link. */
#include "cli/options.h"

const struct binary binary_sts = {
	.prog = "check_mta_sts",
	.bit = BIN_STS,
	.def = &check_sts,
	.summary = "check a mail domain's MTA-STS policy and TLS-RPT record against its MX hosts",
	.purpose =
		"Checks a mail domain's MTA-STS policy (RFC 8461) and TLS-RPT record (RFC 8460)\n"
		"against its real MX set and their certificates, under one deadline: the TXT\n"
		"record _mta-sts.DOMAIN (exactly one STSv1 record with a valid id, else WARNING:\n"
		"senders ignore the policy); the policy from https://mta-sts.DOMAIN/.well-known/\n"
		"mta-sts.txt, verified for that name, no redirect followed, status 200,\n"
		"text/plain, at most 64 KiB (any failure: CRITICAL naming the step); its syntax\n"
		"(CRITICAL naming the field; max_age under a day: WARNING); every MX host matched\n"
		"by an mx: pattern; every MX address's STARTTLS and certificate, valid for the MX\n"
		"host's name, all at once (--no-mx-tls skips this); TXT _smtp._tls.DOMAIN.  An\n"
		"uncovered MX or an MX failing TLS is CRITICAL in mode enforce (senders honouring\n"
		"the policy will not deliver there) and WARNING in mode testing; mode none is OK.\n"
		"No policy at all is OK (--require: CRITICAL).  The policy host's certificate\n"
		"and the MX certificates are judged for days left with -w/-c.  -M DOMAIN (or\n"
		"-H DOMAIN) names the mail domain; -p is the MX hosts' SMTP port.",
	.threshold_help =
		"days left on the policy host's and the MX hosts' certificates;\n"
		"a bare N means fewer than N (N:)",
	.perfdata =
		"dns\tseconds for the TXT lookup\n"
		"connect\tseconds to connect to the policy host\n"
		"handshake\tseconds for the policy host's TLS handshake\n"
		"time\tseconds for the whole check\n"
		"policy\tseconds for the HTTPS fetch of the policy\n"
		"days\twhole days left on the policy host's certificate (-w/-c)\n"
		"max_age\tthe policy's max_age, in seconds\n"
		"mx_covered\tMX hosts matched by an mx: pattern\n"
		"mx_total\tMX hosts of the domain\n",
	.examples =
		"  check_mta_sts -M example.org\n"
		"  check_mta_sts -M example.org --require --require-tlsrpt -w 21 -c 7\n"
		"  check_mta_sts -M example.org --no-mx-tls     # the policy and its MX coverage\n",
};
