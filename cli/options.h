/* options.h - the one option table of every binary, and what reads it.
 *
 * Each row is one option: its long and short name, the type of its value
 * (one validator per type: port, seconds, range, days, host name, path...),
 * its default, its --help text, its per-target YAML key and where the value
 * lands.  getopt parsing, --help, the runner's YAML loader and (through
 * the same rows) man pages and monitoring definitions all come from it, so
 * an option added once is everywhere and is validated the same way
 * everywhere. */
#ifndef MTAPROBE_OPTIONS_H
#define MTAPROBE_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>

#include "checks/check.h"
#include "lib/strbuf.h"

#define MTAPROBE_VERSION "0.1.0"

/* The binaries, one bit each, for the rows' `bins`. */
enum {
	BIN_PORT = 1 << 0,
	BIN_BANNER = 1 << 1,
	BIN_STARTTLS = 1 << 2,
	BIN_CERT = 1 << 3,
	BIN_RELAY = 1 << 4,
	BIN_RUNNER = 1 << 5, /* mtaprobe's own command line */
	BIN_STS = 1 << 6,    /* check_mta_sts: a mail domain, not one server */
	/* the plugins that talk SMTP to one server (or each of -M's) */
	BIN_PLUGINS = BIN_PORT | BIN_BANNER | BIN_STARTTLS | BIN_CERT | BIN_RELAY,
};

enum opt_type {
	/* no argument */
	OPT_FLAG,	  /* a bool; YAML true/false */
	OPT_IMPLICIT_TLS, /* -s; YAML tls: false also means "not even on 465" */
	OPT_FAMILY,	  /* -4/-6: val is AF_INET or AF_INET6; YAML true/false */
	OPT_COUNT,	  /* repeatable: -vvv */
	OPT_IGNORED,	  /* accepted for check_smtp users, changes nothing */
	OPT_HELP,
	OPT_VERSION,
	/* strings, kept as copies (options_free) */
	OPT_HOST,
	OPT_DOMAIN,
	OPT_EHLO,
	OPT_TEXT,
	OPT_COMMAND, /* an SMTP command to send (-C): no line ends, never DATA/BDAT */
	OPT_REGEX,   /* a POSIX extended regular expression (-R) */
	OPT_NAME,
	OPT_PATH,
	OPT_READ_PATH, /* a path that must be readable when given on argv */
	OPT_MAIL,
	OPT_SERVERS,  /* IP[:PORT][,...] */
	OPT_LISTEN,   /* IP:PORT or [IPv6]:PORT, the port required */
	OPT_ADDRESS,  /* an IP literal */
	OPT_KEYWORDS, /* EHLO keywords "A,B" (YAML: or a list), kept as "A,B" */
	/* numbers */
	OPT_PORT,	 /* int 1-65535 */
	OPT_TIMEOUT,	 /* SEC[:STATE] into timeout and timeout_state */
	OPT_RANGE,	 /* struct range */
	OPT_DAYS,	 /* struct range; a bare N means "N:" (fewer than N) */
	OPT_CERT_DAYS,	 /* check_smtp's -D W[,C]: days_warn and days_crit */
	OPT_PROXY,	 /* int 1 or 2 */
	OPT_TLS_VERSION, /* int 0x0301..0x0304 */
	OPT_JOBS,	 /* int 1-1024 */
	OPT_FORMAT,	 /* int: enum out_format order, prometheus|json|text */
	OPT_CHECKS,	 /* unsigned bit mask of check_names[]; YAML a list */
	OPT_LABELS,	 /* YAML only: a mapping of strings (the loader's) */
};

/* Rows whose value the runner keeps (opt_dest.slot says where). */
enum runner_key {
	RK_NONE = 0,
	RK_NAME,
	RK_CHECKS,
	RK_LABELS,
	RK_CONFIG,
	RK_FORMAT,
	RK_OUTPUT,
	RK_JOBS,
	RK_QUIET,
	RK_LISTEN,
	RK_MAX_PROBES,
};

struct opt {
	const char *name; /* long option; NULL: YAML only */
	char short_name;  /* 0: long only */
	enum opt_type type;
	const char *arg;    /* argument's name for --help, NULL for none */
	const char *help;   /* '\n' breaks lines in --help */
	const char *dflt;   /* applied as if given, NULL: none */
	const char *yaml;   /* per-target key ("ca_file", "relay.from"), NULL: none */
	unsigned bins;	    /* the binaries whose command line takes it */
	size_t off;	    /* where it lands in struct check_cfg ... */
	enum runner_key rk; /* ... or, if set, where the runner says */
	int val;	    /* OPT_FAMILY: the family */
};

extern const struct opt option_table[];
extern const size_t option_count;

/* The names of the checks, in enum order: "port", "banner", ...; the runner's
 * --checks and checks: take them. */
#define CHECK_KINDS 6
extern const char *const check_names[CHECK_KINDS];

/* Where values land: check options in cfg, runner rows where slot(ctx, o)
 * points (NULL: this caller takes no such row). */
struct opt_dest {
	struct check_cfg *cfg;
	void *(*slot)(void *ctx, const struct opt *o);
	void *ctx;
};

/* How a value arrives: typed on a command line, or as a YAML scalar. */
enum opt_from { FROM_ARGV, FROM_YAML };

/* Validate s[0..len) for row o and store it.  0, or -1 with the reason in
 * msg: from argv "-X/--name: 'VALUE' is not ..." (the whole message), from
 * YAML "'KEY' must be ..., not 'VALUE'" (key: o->yaml, or the given key). */
int opt_apply(const struct opt *o, const char *s, size_t len, enum opt_from from, const char *key,
	      const struct opt_dest *d, char *msg, size_t msg_size);

/* YAML's words for what row o takes ("an integer 1-65535"). */
const char *opt_expect(const struct opt *o);

/* Every row's default (dflt) for the binaries bins, onto a zeroed cfg. */
void options_defaults(unsigned bins, const struct opt_dest *d);

/* Free the strings options put in cfg, and zero it. */
void options_free(struct check_cfg *cfg);

/* s[0..len) as messages quote it: at most 40 bytes (then "..."), control
 * bytes shown as '?'; into buf (size at least 48), which is returned. */
const char *opt_shown(const char *s, size_t len, char *buf, size_t size);

/* A binary: its name, what it checks, its --help. */
struct binary {
	const char *prog;	     /* "check_mta_banner" */
	unsigned bit;		     /* BIN_BANNER */
	const struct check_def *def; /* NULL: the runner */
	const char *summary;	     /* one line: the man page's NAME */
	const char *purpose;	     /* one paragraph for --help */
	const char *threshold_help;  /* what -w/-c measure */
	const char *perfdata;	     /* the man page: "label\tmeaning\n" rows */
	const char *examples;
};

extern const struct binary binary_port, binary_banner, binary_starttls, binary_cert, binary_relay,
	binary_sts, binary_runner;
/* Every binary, the plugins first (those with a def), for generators of
 * man pages and configs (cli/binary_list.c: it pulls in every check, and
 * check_mta_sts's libcurl with it, so the plugins do not link it). */
#define NBINARIES 7
extern const struct binary *const binaries[NBINARIES];

/* --help for b: usage, every row b takes, ranges, exit codes, examples. */
void options_help(const struct binary *b, const char *usage, struct strbuf *out);

/* Parse a plugin's argv into cfg (defaults first).  Returns -1 to go on
 * with the check, or the exit code (always 3, as Monitoring Plugins do for
 * --help, --version and usage errors) with the text for stdout in out. */
int options_parse(const struct binary *b, int argc, char **argv, struct check_cfg *cfg,
		  struct strbuf *out);

/* The getopt loop over b's rows into d, for any binary.  Returns -1 when
 * all options were taken (*first_arg: the index of the first non-option);
 * 0 with the --help or --version text in out; 3 with the usage error in
 * out ("MTA CHECK UNKNOWN - reason" for plugins, "prog: reason" else),
 * followed by usage (the usage line(s)).  Error text is shown with control
 * bytes as '?'. */
int options_getopt(const struct binary *b, const char *usage, int argc, char **argv,
		   const struct opt_dest *d, struct strbuf *out, int *first_arg);

#ifdef MTAPROBE_UNITTEST
/* "-H/--hostname", "--sni", "-S" for messages. */
void opt_display_name(const struct opt *o, char *out, size_t size);
#endif

#endif
