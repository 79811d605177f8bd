/* opts.h - the common options of every plugin (SPEC §3), extended by each
 * plugin's own, and the shared plugin main(). */
#ifndef MTAPROBE_OPTIONS_H
#define MTAPROBE_OPTIONS_H

#include <stddef.h>

#include "checks/check.h"
#include "lib/strbuf.h"

#define MTAPROBE_VERSION "0.1.0"

struct opt_extra {
	const char *long_name;
	int short_name;		/* 0: long only */
	int has_arg;		/* no_argument / required_argument */
	const char *arg_name;	/* for --help, e.g. "TEXT" */
	const char *help;
	int key;		/* passed to plugin_info.handle */
};

struct plugin_info {
	const char *prog;	/* "check_mta_banner" */
	const struct check_def *def;
	int default_port;
	const char *purpose;	/* one paragraph for --help */
	const char *threshold_help;	/* what -w/-c measure */
	const char *examples;
	const struct opt_extra *extra;
	size_t nextra;
	/* -w/-c as days (check_mta_cert): a bare N means "N:" (fewer than N),
	 * with these defaults when not given. */
	bool bare_range_is_minimum;
	int default_min_tls;	/* check_mta_starttls: 0x0303 */
	const char *default_warn, *default_crit;
	/* Apply one of the plugin's own options: 0, or -1 with why. */
	int (*handle)(struct check_cfg *cfg, int key, const char *arg, char *why, size_t why_len);
};

/* Parse argv into cfg.  Returns -1 to go on with the check, or the exit code
 * (always 3, as Monitoring Plugins do for --help, --version and usage errors)
 * with the text to print to stdout in out. */
int opts_parse(const struct plugin_info *pi, int argc, char **argv, struct check_cfg *cfg,
	       struct strbuf *out);

/* The whole plugin: parse, run, print, return the exit code. */
int plugin_main(const struct plugin_info *pi, int argc, char **argv);

#endif
