/* check_mta_starttls - STARTTLS offered and working: protocol, cipher,
 * handshake time, EHLO again over TLS. */
#include "cli/plugin.h"

int main(int argc, char **argv)
{
	return plugin_main(&binary_starttls, argc, argv);
}
