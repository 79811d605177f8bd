/* check_mta_relay - prove the mail server refuses to relay, without ever
 * sending mail (no DATA, no BDAT, no body). */
#include "cli/plugin.h"

int main(int argc, char **argv)
{
	return plugin_main(&binary_relay, argc, argv);
}
