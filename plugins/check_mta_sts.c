/* check_mta_sts - a mail domain's MTA-STS policy and TLS-RPT record. */
#include "cli/plugin.h"

int main(int argc, char **argv)
{
	return plugin_main(&binary_sts, argc, argv);
}
