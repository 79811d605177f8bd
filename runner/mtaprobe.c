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

static const char help[] =
	"Runs the checks of check_mta_port, check_mta_banner, check_mta_starttls,\n"
	"check_mta_cert and check_mta_relay over many targets at once.\n\n"
	"  -c, --config FILE     YAML configuration (see conf/mtaprobe.yaml)\n"
	"  -f, --format FORMAT   prometheus (default with -c), json or text\n"
	"  -o, --output FILE     write there, atomically (FILE.tmp, fsync, rename); a\n"
	"                        failed run leaves FILE as it was; default: the config's\n"
	"                        output path, else standard output\n"
	"  -j, --jobs N          targets in flight (default 32; each target's checks run\n"
	"                        side by side)\n"
	"  -q, --quiet           no progress on the terminal\n"
	"Without -c, for a person at a terminal:\n"
	"  HOST | -M, --mx DOMAIN   the server, or every MX host of DOMAIN\n"
	"  -p, --port PORT       (default 25)\n"
	"      --checks LIST     port,banner,starttls,cert,relay (default all)\n"
	"      --dns-server IP[:PORT][,...]\n"
	"  -t, --timeout SEC     per target (default 10)\n"
	"Exit: 0 when every check ran and the output was written; 3 on a usage,\n"
	"configuration or output error (nothing is written then).\n";

struct args {
	const char *config, *format, *output, *host, *mx, *checks, *dns;
	int jobs, port;
	double timeout;
	bool quiet;
};

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

static int parse_args(int argc, char **argv, struct args *a)
{
	static const struct option lo[] = {
		{ "config", 1, NULL, 'c' },  { "format", 1, NULL, 'f' }, { "output", 1, NULL, 'o' },
		{ "jobs", 1, NULL, 'j' },    { "port", 1, NULL, 'p' },	 { "checks", 1, NULL, 'C' },
		{ "dns-server", 1, NULL, 'D' }, { "timeout", 1, NULL, 't' }, { "mx", 1, NULL, 'M' },
		{ "quiet", 0, NULL, 'q' },   { "help", 0, NULL, 'h' },	 { "version", 0, NULL, 'V' },
		{ 0 },
	};
	char *end;
	int c;

	memset(a, 0, sizeof(*a));
	a->jobs = 32;
	a->port = 25;
	a->timeout = 10;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":c:f:o:j:p:t:M:qhV", lo, NULL)) != -1) {
		switch (c) {
		case 'c': a->config = optarg; break;
		case 'f': a->format = optarg; break;
		case 'o': a->output = optarg; break;
		case 'C': a->checks = optarg; break;
		case 'D': a->dns = optarg; break;
		case 'M': a->mx = optarg; break;
		case 'q': a->quiet = true; break;
		case 'j':
			a->jobs = (int)strtol(optarg, &end, 10);
			if (*end || a->jobs < 1 || a->jobs > 1024)
				return bad("-j/--jobs: '%s' is not a number 1-1024", optarg);
			break;
		case 'p':
			a->port = (int)strtol(optarg, &end, 10);
			if (*end || a->port < 1 || a->port > 65535)
				return bad("-p/--port: '%s' is not a port number (1-65535)", optarg);
			break;
		case 't':
			a->timeout = strtod(optarg, &end);
			if (*end || !(a->timeout > 0) || a->timeout > 3600)
				return bad("-t/--timeout: '%s' is not seconds (0-3600)", optarg);
			break;
		case 'h':
			printf("mtaprobe %s\n\n%s\n%s", MTAPROBE_VERSION, usage, help);
			return 3;
		case 'V':
			printf("mtaprobe %s\n", MTAPROBE_VERSION);
			return 3;
		case ':':
			return bad("option '%s' needs an argument", argv[optind - 1]);
		default:
			return bad("unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		a->host = argv[optind++];
	if (optind < argc)
		return bad("unexpected argument '%s'", argv[optind]);
	if (!a->config && !a->host && !a->mx)
		return bad("%s", "give -c FILE, a HOST or --mx DOMAIN");
	if (a->config && (a->host || a->mx))
		return bad("%s", "-c and a HOST/--mx exclude each other");
	if (a->host && a->mx)
		return bad("%s", "a HOST and --mx exclude each other");
	if (a->format && strcmp(a->format, "prometheus") && strcmp(a->format, "json") &&
	    strcmp(a->format, "text"))
		return bad("-f/--format: '%s' is not prometheus, json or text", a->format);
	return -1;
}

/* The quick report: one target from the command line. */
static int quick_config(const struct args *a, struct config *cfg, struct target *t)
{
	memset(cfg, 0, sizeof(*cfg));
	target_defaults(t);
	t->host = (char *)a->host;
	t->mx = (char *)a->mx;
	t->name = (char *)(a->host ? a->host : a->mx);
	t->port = a->port;
	t->timeout = a->timeout;
	t->dns_server = (char *)a->dns;
	if (a->dns && dns_servers_valid(a->dns) < 0)
		return bad("--dns-server: '%s' is not a list of IP[:PORT]", a->dns);
	if (a->checks) {
		char buf[256], *save = NULL;

		snprintf(buf, sizeof(buf), "%s", a->checks);
		t->checks = 0;
		for (char *w = strtok_r(buf, ",", &save); w; w = strtok_r(NULL, ",", &save)) {
			int k = check_kind_parse(w);

			if (k < 0)
				return bad("--checks: unknown check '%s' (port, banner, starttls, cert, relay)", w);
			t->checks |= 1u << k;
		}
	}
	cfg->targets = t;
	cfg->ntargets = 1;
	cfg->format = OUT_TEXT;
	cfg->concurrency = a->jobs;
	return -1;
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
	struct target quick;
	struct run run;
	struct strbuf out;
	char err[1024];
	enum out_format fmt;
	const char *path;
	int rc = parse_args(argc, argv, &a);

	if (rc >= 0)
		return rc;
	if (a.config) {
		if (config_load(a.config, &cfg, err, sizeof(err)) < 0) {
			fprintf(stderr, "mtaprobe: %s\n", err);
			return 3;
		}
	} else if ((rc = quick_config(&a, &cfg, &quick)) >= 0) {
		return rc;
	}
	fmt = a.format ? (a.format[0] == 'p' ? OUT_PROMETHEUS : a.format[0] == 'j' ? OUT_JSON : OUT_TEXT)
		       : cfg.format;
	/* the config's path is for the config's format; -f something else
	 * without -o is for the terminal */
	path = a.output ? a.output : fmt == cfg.format ? cfg.output_path : NULL;
	if (dns_global_init() < 0) {
		fprintf(stderr, "mtaprobe: cannot initialise c-ares\n");
		rc = 3;
		goto done;
	}
	if (runner_run(&cfg, a.config && a.jobs == 32 && cfg.concurrency ? cfg.concurrency : a.jobs,
		       !a.quiet && isatty(2) ? progress : NULL, NULL, &run, err, sizeof(err)) < 0) {
		fprintf(stderr, "mtaprobe: %s\n", err);
		rc = 3;
		goto done;
	}
	strbuf_init(&out, (size_t)1 << 30);
	if (fmt == OUT_PROMETHEUS)
		report_prometheus(&run, &out);
	else if (fmt == OUT_JSON)
		report_json(&run, &out);
	else
		report_text(&run, !path && isatty(1), &out);
	rc = 0;
	if (out.truncated) {
		fprintf(stderr, "mtaprobe: output too large, nothing written\n");
		rc = 3;
	} else if (path) {
		if (file_replace(path, strbuf_str(&out), out.len, err, sizeof(err)) < 0) {
			fprintf(stderr, "mtaprobe: %s; the previous file is left as it was\n", err);
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
	return rc;
}
