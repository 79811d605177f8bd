/* config.h - the runner's YAML configuration (SPEC §6), loaded with libyaml.
 *
 * Every per-target key may also stand under "defaults:"; a target's own
 * value wins.  Unknown keys, wrong types and missing hosts are errors that
 * name file:line:column and what was expected; nothing is half-loaded. */
#ifndef MTAPROBE_CONFIG_H
#define MTAPROBE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/range.h"

enum check_kind { CK_PORT = 0, CK_BANNER, CK_STARTTLS, CK_CERT, CK_RELAY, CK_COUNT };

/* "port" -> CK_PORT ...; -1 if unknown. */
int check_kind_parse(const char *s);
const char *check_kind_name(enum check_kind k);

#define CONFIG_MAX_LABELS 16

struct label {
	char *name, *value;
};

/* One target with defaults applied.  Strings are owned by the config. */
struct target {
	char *name;		/* default: host, or mx */
	char *host;		/* exactly one of host, mx */
	char *mx;
	int port;		/* default 25 */
	bool tls;		/* implicit TLS */
	char *sni, *ehlo;
	double timeout;		/* default 10 */
	unsigned checks;	/* bit (1 << enum check_kind); default all five */
	struct range cert_warn, cert_crit;	/* cert_days: default 30: / 14: */
	struct range time_warn, time_crit;	/* time: seconds (connect/banner/handshake) */
	int min_tls;		/* 0x0301..0x0304; default 0x0303 */
	char *ca_file, *ca_path;
	bool no_verify, dane, fcrdns;
	char *expect;
	char *require_ext;	/* comma-separated, as for the plugin */
	char *relay_from, *relay_to;
	bool relay_thorough;
	char *dns_server;	/* "IP[:PORT][,...]" */
	int family;		/* AF_UNSPEC; ipv4: true -> AF_INET; ipv6: true -> AF_INET6 */
	int nlabels;
	struct label labels[CONFIG_MAX_LABELS];
};

enum out_format { OUT_PROMETHEUS = 0, OUT_JSON, OUT_TEXT };

struct config {
	char *path;		/* the file, for messages */
	enum out_format format;	/* output: {format:}; default prometheus */
	char *output_path;	/* output: {path:}; NULL: stdout */
	int concurrency;	/* default 32 */
	size_t ntargets;
	struct target *targets;
};

/* Load path into *cfg.  Returns 0, or -1 with a message "FILE:LINE:COLUMN:
 * what was wrong, what was expected" in err (err_size bytes); on error
 * nothing needs freeing. */
int config_load(const char *path, struct config *cfg, char *err, size_t err_size);

/* The same from a string (tests); name is used in messages. */
int config_load_string(const char *yaml, size_t len, const char *name, struct config *cfg,
		       char *err, size_t err_size);

void config_free(struct config *cfg);

/* A target with every default set (port 25, timeout 10, all checks, cert_days
 * 30:/14:, min_tls TLS 1.2, AF_UNSPEC), strings NULL. */
void target_defaults(struct target *t);

#endif
