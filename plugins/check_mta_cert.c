/* check_mta_cert - the mail server's certificate(s): days left, chain and
 * host name, key and signature strength, both of a dual RSA+ECDSA server. */
#include "cli/plugin.h"

int main(int argc, char **argv)
{
	return plugin_main(&binary_cert, argc, argv);
}
