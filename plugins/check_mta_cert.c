/* check_mta_cert - the mail server's certificate(s): days left, chain and
 * host name, key and signature strength, both of a dual RSA+ECDSA server. */
#include <stdio.h>

#include "cli/options.h"

enum { OPT_NO_VERIFY = 1, OPT_STARTTLS, OPT_DANE };

static const struct opt_extra extra[] = {
	{ "no-verify", 0, 0, NULL, "do not judge chain and host-name verification", OPT_NO_VERIFY },
	{ "starttls", 'S', 0, NULL, "accepted for check_smtp users; STARTTLS is the default",
	  OPT_STARTTLS },
	{ "dane", 0, 0, NULL, "look up TLSA at _PORT._tcp.HOST: with records, the chain must\n"
			      "match one (usages 2, 3); records not DNSSEC-authenticated\n"
			      "(no AD bit from the resolver): WARNING", OPT_DANE },
};

static int handle(struct check_cfg *cfg, int key, const char *arg, char *why, size_t why_len)
{
	(void)arg;
	(void)why;
	(void)why_len;
	if (key == OPT_NO_VERIFY)
		cfg->no_verify = true;
	if (key == OPT_DANE)
		cfg->dane = true;
	return 0;
}

static const struct plugin_info info = {
	.prog = "check_mta_cert",
	.def = &check_cert,
	.default_port = 25,
	.bare_range_is_minimum = true,
	.default_warn = "30",
	.default_crit = "14",
	.purpose = "Gets the server's certificate chain over STARTTLS (implicit TLS on port 465\n"
		   "or with -s) and judges it: CRITICAL when expired, not yet valid, fewer than\n"
		   "-c days left, or when chain or host-name verification fails (OpenSSL's reason\n"
		   "is shown; --no-verify skips this); WARNING under -w days, for SHA-1/MD5\n"
		   "signatures, RSA keys under 2048 bits and EC keys under 256 bits.  A server\n"
		   "with both an RSA and an ECDSA certificate is asked for each (one handshake\n"
		   "each, offering only that signature type) and both are judged.  The client\n"
		   "connects permissively (security level 0, TLS 1.0 allowed) so that weak\n"
		   "certificates can be fetched and judged.  Days are whole days, rounded down.",
	.threshold_help = "days left on the certificate; a bare N means fewer than N\n"
			  "(N:); defaults -w 30 -c 14",
	.examples = "  check_mta_cert -H mx.example.org -w 30 -c 14\n"
		    "  check_mta_cert -H smtp.example.org -p 465 --ca-file /etc/ssl/private-ca.pem\n",
	.extra = extra,
	.nextra = sizeof(extra) / sizeof(extra[0]),
	.handle = handle,
};

int main(int argc, char **argv)
{
	return plugin_main(&info, argc, argv);
}
