/* check_mta_port - is the mail server's port accepting TCP connections? */
#include "cli/plugin.h"

int main(int argc, char **argv)
{
	return plugin_main(&binary_port, argc, argv);
}
