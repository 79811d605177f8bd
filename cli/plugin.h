/* plugin.h - the shared main() of every plugin: options, the check, its
 * output.  The only place of a plugin that prints. */
#ifndef MTAPROBE_PLUGIN_H
#define MTAPROBE_PLUGIN_H

#include "cli/options.h"

/* Parse argv, run b's check, print the Nagios output; the exit code. */
int plugin_main(const struct binary *b, int argc, char **argv);

#endif
