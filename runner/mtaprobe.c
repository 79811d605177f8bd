/* mtaprobe - the batch runner: every check of every target of a YAML
 * configuration, concurrently, into a Prometheus textfile, JSON or a table;
 * or, given a host, a quick report for a person at a terminal. */
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "runner/file_replace.h"
#include "runner/config.h"
#include "lib/dns.h"
#include "cli/options.h"
#include "runner/report.h"
#include "runner/runner.h"

static const char usage[] =
	"Usage: mtaprobe -c FILE [-f prometheus|json|text] [-o FILE] [-j N]\n"
	"       mtaprobe [-p PORT] [--checks port,banner,...] [--dns-server IP[:PORT]]\n"
	"                [-t SEC] [-j N] HOST | --mx DOMAIN\n";

/* The command line: the runner's own rows of the option table land here,
 * the check options of the terminal mode in quick (one target). */
struct args {
	const char *config, *output;
	int format; /* -1: not given */
	int jobs;   /* 0: not given */
	bool quiet;
	struct target quick;
};

static void *args_slot(void *ctx, const struct opt *o)
{
	struct args *a = ctx;

	switch (o->rk) {
	case RK_CONFIG:
		return &a->config;
	case RK_FORMAT:
		return &a->format;
	case RK_OUTPUT:
		return &a->output;
	case RK_JOBS:
		return &a->jobs;
	case RK_QUIET:
		return &a->quiet;
	case RK_CHECKS:
		return &a->quick.checks;
	default:
		return NULL;
	}
}

static int bad(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int bad(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "mtaprobe: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n%s", usage);
	return 3;
}

/* -1 to go on, or the exit code (3) after printing help, version or the
 * usage error. */
static int parse_args(int argc, char **argv, struct args *a)
{
	struct opt_dest d = { &a->quick.cfg, args_slot, a };
	struct strbuf out;
	char msg[640];
	int rc, first;

	memset(a, 0, sizeof(*a));
	a->format = -1;
	target_defaults(&a->quick);
	strbuf_init(&out, 1 << 16);
	rc = options_getopt(&binary_runner, usage, argc, argv, &d, &out, &first);
	if (rc >= 0) {
		fwrite(strbuf_str(&out), 1, out.len, rc ? stderr : stdout);
		strbuf_free(&out);
		return 3;
	}
	strbuf_free(&out);
	if (first < argc) {
		for (size_t i = 0; i < option_count; i++)
			if (option_table[i].yaml && strcmp(option_table[i].yaml, "host") == 0 &&
			    opt_apply(&option_table[i], argv[first], strlen(argv[first]), FROM_ARGV,
				      NULL, &d, msg, sizeof(msg)) < 0)
				return bad("HOST: %s", msg);
		first++;
	}
	if (first < argc)
		return bad("unexpected argument '%s'",
			   opt_shown(argv[first], strlen(argv[first]), msg, sizeof(msg)));
	if (!a->config && !a->quick.cfg.host && !a->quick.cfg.mx_domain)
		return bad("%s", "give -c FILE, a HOST or --mx DOMAIN");
	if (a->config && (a->quick.cfg.host || a->quick.cfg.mx_domain))
		return bad("%s", "-c and a HOST/--mx exclude each other");
	if (a->quick.cfg.host && a->quick.cfg.mx_domain)
		return bad("%s", "a HOST and --mx exclude each other");
	return -1;
}

/* The quick report: the one target from the command line.  Its config
 * name (the run-level series' "config" label, with -f prometheus) is the
 * target's, HOST or the --mx DOMAIN, so quick reports of two servers
 * written into one textfile directory do not collide; cfg borrows it, and
 * main frees it with the target. */
static void quick_config(struct args *a, struct config *cfg)
{
	struct target *t = &a->quick;

	memset(cfg, 0, sizeof(*cfg));
	t->name = strdup(t->cfg.host ? t->cfg.host : t->cfg.mx_domain);
	cfg->name = t->name;
	cfg->targets = t;
	cfg->ntargets = 1;
	cfg->format = OUT_TEXT;
	cfg->concurrency = 32;
}

static void progress(size_t done, size_t total, void *arg)
{
	(void)arg;
	fprintf(stderr, "\r%zu/%zu targets", done, total);
	if (done == total)
		fprintf(stderr, "\r%*s\r", 40, "");
}

int main(int argc, char **argv)
{
	struct args a;
	struct config cfg;
	struct run run;
	struct strbuf out;
	struct probe_err e;
	enum out_format fmt;
	const char *path;
	int rc = parse_args(argc, argv, &a);

	if (rc >= 0)
		goto done_args;
	if (a.config) {
		if (config_load(a.config, &cfg, &e) < 0) {
			fprintf(stderr, "mtaprobe: %s\n", e.msg);
			rc = 3;
			goto done_args;
		}
	} else {
		quick_config(&a, &cfg);
	}
	fmt = a.format >= 0 ? (enum out_format)a.format : cfg.format;
	/* the config's path is for the config's format; -f something else
	 * without -o is for the terminal */
	path = a.output ? a.output : fmt == cfg.format ? cfg.output_path : NULL;
	if (dns_global_init() < 0) {
		fprintf(stderr, "mtaprobe: cannot initialise c-ares\n");
		rc = 3;
		goto done;
	}
	/* -j, when given, wins over the config's concurrency */
	if (runner_run(&cfg, a.jobs ? a.jobs : cfg.concurrency,
		       !a.quiet && isatty(2) ? progress : NULL, NULL, &run, &e) < 0) {
		fprintf(stderr, "mtaprobe: %s\n", e.msg);
		rc = 3;
		goto done;
	}
	strbuf_init(&out, (size_t)1 << 30);
	if (fmt == OUT_PROMETHEUS)
		report_prometheus(&run, cfg.name ? cfg.name : "", &out);
	else if (fmt == OUT_JSON)
		report_json(&run, &out);
	else
		report_text(&run, !path && isatty(1), &out);
	rc = 0;
	if (out.truncated) {
		fprintf(stderr, "mtaprobe: output too large, nothing written\n");
		rc = 3;
	} else if (path) {
		if (file_replace(path, strbuf_str(&out), out.len, &e) < 0) {
			fprintf(stderr, "mtaprobe: %s; the previous file is left as it was\n",
				e.msg);
			rc = 3;
		}
	} else if (fwrite(strbuf_str(&out), 1, out.len, stdout) != out.len || fflush(stdout) != 0) {
		rc = 3;
	}
	strbuf_free(&out);
	run_free(&run);
	dns_global_cleanup();
done:
	if (a.config)
		config_free(&cfg);
done_args:
	options_free(&a.quick.cfg);
	free(a.quick.name);
	free((char *)a.config);
	free((char *)a.output);
	return rc;
}
