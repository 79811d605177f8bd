/* check_mta_port - is the mail server's port accepting TCP connections? */
#include "cli/options.h"

static const struct plugin_info info = {
	.prog = "check_mta_port",
	.def = &check_port,
	.default_port = 25,
	.purpose = "Checks that a mail server accepts TCP connections on its port: OK once the\n"
		   "connection is established; CRITICAL when refused, unreachable, timed out or\n"
		   "the name does not resolve.  Sends nothing to the server.",
	.threshold_help = "seconds to connect",
	.examples = "  check_mta_port -H mail.example.org -p 587 -w 1 -c 3\n"
		    "  check_mta_port -H mail.example.org -A -t 5     # every address of the host\n",
};

int main(int argc, char **argv)
{
	return plugin_main(&info, argc, argv);
}
