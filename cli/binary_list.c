/* binary_list.c - every binary, for the generators (tools/mkdoc.c) and the
 * option table's tests.  Not linked into the plugins: it names every check. */
#include "cli/options.h"

const struct binary *const binaries[NBINARIES] = {
	&binary_port,  &binary_banner, &binary_starttls, &binary_cert,
	&binary_relay, &binary_sts,    &binary_runner,
};
