/* check_mta_starttls - STARTTLS offered and working: protocol, cipher,
 * handshake time, EHLO again over TLS. */
#include <stdio.h>

#include "cli/options.h"

enum { OPT_STARTTLS = 1, OPT_MIN_TLS };

static const struct opt_extra extra[] = {
	{ "starttls", 'S', 0, NULL, "accepted for check_smtp users; always implied", OPT_STARTTLS },
	{ "min-tls", 0, 1, "1.0|1.1|1.2|1.3",
	  "lowest acceptable protocol version (default 1.2), else WARNING", OPT_MIN_TLS },
};

static int handle(struct check_cfg *cfg, int key, const char *arg, char *why, size_t why_len)
{
	switch (key) {
	case OPT_STARTTLS:
		return 0;
	case OPT_MIN_TLS:
		cfg->min_tls = tls_version_parse(arg);
		if (cfg->min_tls < 0) {
			snprintf(why, why_len, "'%s' is not 1.0, 1.1, 1.2 or 1.3", arg);
			return -1;
		}
		return 0;
	}
	return -1;
}

static const struct plugin_info info = {
	.prog = "check_mta_starttls",
	.def = &check_starttls,
	.default_port = 25,
	.default_min_tls = 0x0303,
	.purpose = "Checks that a mail server offers STARTTLS and that it works: EHLO must\n"
		   "advertise STARTTLS (else CRITICAL), STARTTLS must get 220, the TLS handshake\n"
		   "(with SNI) must complete and EHLO over TLS must get 250.  The summary names\n"
		   "protocol and cipher; -v adds the group, certificate subject and issuer.\n"
		   "On port 465 or with -s it checks the implicit-TLS handshake instead.\n"
		   "The client connects permissively (OpenSSL security level 0, TLS 1.0 allowed)\n"
		   "so that old protocols are seen and judged (--min-tls) rather than just failing.",
	.threshold_help = "seconds for the TLS handshake",
	.examples = "  check_mta_starttls -H mx.example.org\n"
		    "  check_mta_starttls -H smtp.example.org -p 587 --min-tls 1.3 -w 0.5 -c 2\n"
		    "  check_mta_starttls -H smtp.example.org -p 465       # implicit TLS\n",
	.extra = extra,
	.nextra = sizeof(extra) / sizeof(extra[0]),
	.handle = handle,
};

int main(int argc, char **argv)
{
	return plugin_main(&info, argc, argv);
}
