/* config.h - the runner's YAML configuration, loaded with libyaml.
 *
 * Every per-target key may also stand under "defaults:"; a target's own
 * value wins.  Unknown keys, wrong types and missing hosts are errors that
 * name file:line:column and what was expected; nothing is half-loaded.
 *
 * "modules:" (mtaprobe --listen) maps names to mappings of the same keys,
 * less host, mx and name: what /probe?module=NAME runs against the
 * request's target.  A module is defaults: plus its own keys. */
#ifndef MTAPROBE_CONFIG_H
#define MTAPROBE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "checks/check.h"
#include "lib/err.h"

enum check_kind { CK_PORT = 0, CK_BANNER, CK_STARTTLS, CK_CERT, CK_RELAY, CK_STS, CK_COUNT };

const char *check_kind_name(enum check_kind k);

#define CONFIG_MAX_LABELS 16

struct label {
	char *name, *value;
};

/* One target with defaults applied: what its checks run with (filled by
 * the option table's YAML keys), and what the runner adds. */
struct target {
	struct check_cfg cfg; /* owned: freed by config_free */
	char *name;	      /* default: host, or mx */
	unsigned checks;      /* bit (1 << enum check_kind); default all five */
	int nlabels;
	struct label labels[CONFIG_MAX_LABELS];
};

/* A module of the exporter: a target without host (defaults applied; the
 * probe's target= supplies host and, optionally, port). */
struct module {
	char *name; /* [A-Za-z0-9_.-], at most CONFIG_MODULE_NAME_MAX bytes */
	struct target t;
};

#define CONFIG_MODULE_NAME_MAX 64

enum out_format { OUT_PROMETHEUS = 0, OUT_JSON, OUT_TEXT };

/* A config's name is the "config" label of the run-level series
 * (report.h), so that two runners writing two textfiles into one
 * node_exporter directory never export the same series:
 * "/etc/mtaprobe/edge.yaml" is "edge" unless it says name: at the top
 * level.  It is validated like a target's name; a file name that makes no
 * valid name (control bytes, not UTF-8) is an error asking for name:. */
struct config {
	char *path;		/* the file, for messages */
	char *name;		/* name:, else the file's base name without its extension */
	enum out_format format; /* output: {format:}; default prometheus */
	char *output_path;	/* output: {path:}; NULL: stdout */
	int concurrency;	/* default 32 */
	size_t ntargets;	/* at least 1, unless the file has modules: */
	struct target *targets;
	/* modules: in file order, then "default" (defaults: alone) when the
	 * file names no module so; never empty */
	size_t nmodules;
	struct module *modules;
};

/* The module called name, or NULL. */
const struct module *config_module(const struct config *cfg, const char *name);

/* Load path into *cfg.  Returns 0, or -1 with e (ERR_CONFIG, step "config",
 * the message "FILE:LINE:COLUMN: what was wrong, what was expected"); on
 * error nothing needs freeing. */
int config_load(const char *path, struct config *cfg, struct probe_err *e);

/* The same from a string (tests); name is used in messages, and its base
 * name for the config's name. */
int config_load_string(const char *yaml, size_t len, const char *name, struct config *cfg,
		       struct probe_err *e);

void config_free(struct config *cfg);

/* A target with every default of the option table set (port 25, timeout
 * 10, all checks, cert_days 30:/14:, min_tls TLS 1.2, any family). */
void target_defaults(struct target *t);

#ifdef MTAPROBE_UNITTEST
/* "port" -> CK_PORT ...; -1 if unknown. */
int check_kind_parse(const char *s);
#endif

#endif
