/* check_mta_banner - the SMTP greeting, its text and timing, EHLO and its
 * extensions. */
#include "cli/plugin.h"

int main(int argc, char **argv)
{
	return plugin_main(&binary_banner, argc, argv);
}
