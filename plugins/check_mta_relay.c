/* check_mta_relay - prove the mail server refuses to relay, without ever
 * sending mail (no DATA, no BDAT, no body). */
#include <stdio.h>
#include <string.h>

#include "cli/options.h"

enum { OPT_FROM = 1, OPT_TO, OPT_THOROUGH, OPT_DOMAIN, OPT_STARTTLS };

static const struct opt_extra extra[] = {
	{ "from", 'f', 1, "ADDR", "outside sender (default mtaprobe@example.org)", OPT_FROM },
	{ "to", 'r', 1, "ADDR", "outside recipient (default mtaprobe@example.net)", OPT_TO },
	{ "thorough", 0, 0, NULL, "add the classic address tricks (percent hack, quoted\n"
				  "local parts, source routes, bang paths, address literals)", OPT_THOROUGH },
	{ "domain", 0, 1, "DOMAIN", "the server's own domain for the spoofed sender and the\n"
				    "tricks (default: the greeting's host name, else -H)", OPT_DOMAIN },
	{ "starttls", 'S', 0, NULL, "test after STARTTLS (relay policy often differs)", OPT_STARTTLS },
};

/* An address we are willing to put between < and >: no blanks, no
 * brackets, no control bytes, one @ at least (or empty for -f <>). */
static bool sane_address(const char *a)
{
	if (strlen(a) > 254)
		return false;
	for (const char *p = a; *p; p++)
		if ((unsigned char)*p <= ' ' || *p == '<' || *p == '>' || (unsigned char)*p >= 0x7f)
			return false;
	return strchr(a, '@') != NULL;
}

static int handle(struct check_cfg *cfg, int key, const char *arg, char *why, size_t why_len)
{
	switch (key) {
	case OPT_FROM:
	case OPT_TO:
		if (!sane_address(arg)) {
			snprintf(why, why_len, "'%s' is not a mail address (user@domain)", arg);
			return -1;
		}
		*(key == OPT_FROM ? &cfg->relay_from : &cfg->relay_to) = arg;
		return 0;
	case OPT_DOMAIN:
		if (*arg == '\0' || strlen(arg) > 253 || arg[strspn(arg, "abcdefghijklmnopqrstuvwxyz"
									"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.")]) {
			snprintf(why, why_len, "'%s' is not a domain name", arg);
			return -1;
		}
		cfg->relay_domain = arg;
		return 0;
	case OPT_THOROUGH:
		cfg->relay_thorough = true;
		return 0;
	case OPT_STARTTLS:
		cfg->relay_starttls = true;
		return 0;
	}
	return -1;
}

static const struct plugin_info info = {
	.prog = "check_mta_relay",
	.def = &check_relay,
	.default_port = 25,
	.purpose = "Proves that a mail server refuses to relay for outside domains.  After EHLO\n"
		   "(and STARTTLS with -S) it tries sender/recipient pairs with MAIL FROM and\n"
		   "RCPT TO, then RSET; it never sends DATA, BDAT or a message body, and QUITs\n"
		   "at the end.  Quick set: outside sender, null sender <>, and a sender spoofing\n"
		   "the server's own domain, each to an outside recipient; --thorough adds the\n"
		   "classic address tricks.  Any RCPT accepted: CRITICAL, naming each pair.\n"
		   "Only refusals (5xx): OK.  Temporary refusals (4xx) and no acceptance: WARNING\n"
		   "(inconclusive).  Server unreachable: UNKNOWN (the other checks report outages).\n"
		   "A server that drops the session (421 or close) is reconnected to.",
	.threshold_help = "not used",
	.examples = "  check_mta_relay -H mx.example.org\n"
		    "  check_mta_relay -H mx.example.org --thorough -v\n"
		    "  check_mta_relay -H smtp.example.org -p 587 -S -f monitor@example.com\n",
	.extra = extra,
	.nextra = sizeof(extra) / sizeof(extra[0]),
	.handle = handle,
};

int main(int argc, char **argv)
{
	return plugin_main(&info, argc, argv);
}
