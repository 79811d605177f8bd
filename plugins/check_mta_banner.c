/* check_mta_banner - the SMTP greeting, its text and timing, EHLO and its
 * extensions. */
#include <stdio.h>
#include <string.h>

#include "cli/options.h"

enum { OPT_EXPECT = 1, OPT_REQUIRE_EXT, OPT_FCRDNS };

static const struct opt_extra extra[] = {
	{ "expect", 'e', 1, "TEXT", "greeting must contain TEXT, else WARNING", OPT_EXPECT },
	{ "require-ext", 0, 1, "EXT[,EXT...]",
	  "each EHLO keyword must be advertised, else WARNING", OPT_REQUIRE_EXT },
	{ "fcrdns", 0, 0, NULL, "the address's PTR name must resolve back to the address, and\n"
				"the greeting's host name should be that name, else WARNING", OPT_FCRDNS },
};

static int handle(struct check_cfg *cfg, int key, const char *arg, char *why, size_t why_len)
{
	switch (key) {
	case OPT_EXPECT:
		if (*arg == '\0') {
			snprintf(why, why_len, "TEXT must not be empty");
			return -1;
		}
		cfg->expect = arg;
		return 0;
	case OPT_FCRDNS:
		cfg->fcrdns = true;
		return 0;
	case OPT_REQUIRE_EXT:
		if (arg[strspn(arg, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-,")] ||
		    *arg == '\0') {
			snprintf(why, why_len, "'%s' is not a comma-separated list of EHLO keywords", arg);
			return -1;
		}
		cfg->require_ext = arg;
		return 0;
	}
	return -1;
}

static const struct plugin_info info = {
	.prog = "check_mta_banner",
	.def = &check_banner,
	.default_port = 25,
	.purpose = "Reads a mail server's whole (possibly multi-line) greeting, sends EHLO\n"
		   "(HELO if EHLO gets a 5xx), then QUIT.  OK on a 220 greeting; CRITICAL on\n"
		   "421, 554 or any other code, a malformed or overlong reply, or no answer in\n"
		   "time; WARNING when --expect or --require-ext are not met or EHLO/HELO are\n"
		   "refused.  Nothing is sent before the greeting is complete.",
	.threshold_help = "seconds from connect start to the full greeting",
	.examples = "  check_mta_banner -H mail.example.org -w 2 -c 5\n"
		    "  check_mta_banner -H mail.example.org --expect ESMTP --require-ext PIPELINING,SIZE\n"
		    "  check_mta_banner -M example.org --fcrdns       # every MX, every address\n",
	.extra = extra,
	.nextra = sizeof(extra) / sizeof(extra[0]),
	.handle = handle,
};

int main(int argc, char **argv)
{
	return plugin_main(&info, argc, argv);
}
