/* mtaprobe - the batch runner: every check of every target of a YAML
 * configuration, concurrently, into a Prometheus textfile, JSON or a table;
 * or, given a host, a quick report for a person at a terminal; or, with
 * --listen, a Prometheus multi-target exporter over the config's modules. */
#include <getopt.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "runner/file_replace.h"
#include "runner/config.h"
#include "lib/dns.h"
#include "cli/options.h"
#include "runner/report.h"
#include "runner/runner.h"
#include "runner/exporter.h"
#include "runner/exporter_http.h"

static const char usage[] =
	"Usage: mtaprobe -c FILE [-f prometheus|json|text] [-o FILE] [-j N]\n"
	"       mtaprobe --listen ADDR:PORT -c FILE [--max-probes N]\n"
	"       mtaprobe [-p PORT] [--checks port,banner,...] [--dns-server IP[:PORT]]\n"
	"                [-t SEC] [-s] [--sni NAME] [--ca-file FILE] [-4|-6] [-F NAME]\n"
	"                [-j N] HOST... | --mx DOMAIN\n";

/* The command line: the runner's own rows of the option table land here,
 * the check options of the terminal mode in quick (one target). */
struct args {
	const char *config, *output;
	const char *listen; /* --listen: the exporter */
	int format;	    /* -1: not given */
	int jobs;	    /* 0: not given */
	int max_probes;	    /* 0: not given */
	bool quiet;
	struct target quick;
	/* more HOSTs after the first (argv's strings): one target each, with
	 * the first's options */
	char **more;
	int nmore;
	struct target *many; /* quick and the more, made by quick_config */
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
	case RK_LISTEN:
		return &a->listen;
	case RK_MAX_PROBES:
		return &a->max_probes;
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
	/* HOST ...: each validated as -H would be */
	for (int k = first; k < argc; k++) {
		struct check_cfg scratch = { 0 };
		struct opt_dest sd = { &scratch, NULL, NULL };

		for (size_t i = 0; i < option_count; i++)
			if (option_table[i].yaml && strcmp(option_table[i].yaml, "host") == 0 &&
			    opt_apply(&option_table[i], argv[k], strlen(argv[k]), FROM_ARGV, NULL,
				      k == first ? &d : &sd, msg, sizeof(msg)) < 0) {
				options_free(&scratch);
				return bad("HOST: %s", msg);
			}
		options_free(&scratch);
	}
	if (argc - first > 1) {
		a->more = argv + first + 1;
		a->nmore = argc - first - 1;
	}
	if (!a->config && !a->quick.cfg.host && !a->quick.cfg.mx_domain)
		return bad("%s", "give -c FILE, a HOST or --mx DOMAIN");
	if (a->config && (a->quick.cfg.host || a->quick.cfg.mx_domain))
		return bad("%s", "-c and a HOST/--mx exclude each other");
	/* the plugin options of the terminal mode: a config says them per target */
	if (a->config &&
	    (a->quick.cfg.tls || a->quick.cfg.no_tls || a->quick.cfg.sni || a->quick.cfg.ehlo ||
	     a->quick.cfg.ca_file || a->quick.cfg.ca_path || a->quick.cfg.family != AF_UNSPEC))
		return bad("%s",
			   "-s, --no-tls, --sni, -F, --ca-file, --ca-path, -4 and -6 are "
			   "for a HOST; with -c the config says them per target");
	if (a->quick.cfg.host && a->quick.cfg.mx_domain)
		return bad("%s", "a HOST and --mx exclude each other");
	if (a->listen && !a->config)
		return bad("%s", "--listen needs -c FILE (its modules:)");
	if (a->listen && (a->output || a->format >= 0 || a->jobs))
		return bad("%s", "-f, -o and -j are for one run, not --listen (see --max-probes)");
	if (a->max_probes && !a->listen)
		return bad("%s", "--max-probes is for --listen");
	return -1;
}

/* The quick report: the one target from the command line.  Its config
 * name (the run-level series' "config" label, with -f prometheus) is the
 * target's, HOST or the --mx DOMAIN, so quick reports of two servers
 * written into one textfile directory do not collide; cfg borrows it, and
 * main frees it with the target. */
static int quick_config(struct args *a, struct config *cfg)
{
	struct target *t = &a->quick;

	memset(cfg, 0, sizeof(*cfg));
	t->name = strdup(t->cfg.host ? t->cfg.host : t->cfg.mx_domain);
	if (t->name == NULL)
		return -1;
	cfg->name = t->name;
	cfg->targets = t;
	cfg->ntargets = 1;
	cfg->format = OUT_TEXT;
	cfg->concurrency = 32;
	if (a->nmore == 0)
		return 0;
	/* several HOSTs: copies of the first target, which borrow its
	 * strings; each owns only its name */
	a->many = calloc((size_t)a->nmore + 1, sizeof(*a->many));
	if (a->many == NULL)
		return -1;
	a->many[0] = *t;
	for (int i = 0; i < a->nmore; i++) {
		struct target *m = &a->many[i + 1];

		*m = *t;
		m->cfg.host = a->more[i];
		m->name = strdup(a->more[i]);
		if (m->name == NULL)
			return -1;
	}
	cfg->targets = a->many;
	cfg->ntargets = (size_t)a->nmore + 1;
	return 0;
}

static void http_log(void *arg, const char *line)
{
	(void)arg;
	fprintf(stderr, "mtaprobe: http: %s\n", line);
}

/* Descriptors: every connection one, every target in flight a few per
 * check (its socket, DNS, the addresses of -M, a version scan); the soft
 * limit goes up to the hard one, as far as needed. */
static rlim_t raise_nofile(rlim_t want)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return want;
	if (rl.rlim_cur >= want)
		return rl.rlim_cur;
	rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > want ? want : rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) < 0 && getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return want;
	return rl.rlim_cur;
}

/* Descriptors a target in flight may hold: a socket per check, DNS, the
 * addresses of -M, a version scan. */
#define FDS_PER_TARGET ((rlim_t)CK_COUNT * 4)

/* --listen: serve until SIGTERM or SIGINT, which every thread has blocked
 * (they are taken here, by sigwait), then answer what is in flight. */
static int run_exporter(const struct args *a, const struct config *cfg)
{
	int max = a->max_probes ? a->max_probes : EXPORTER_MAX_PROBES, sig = 0;
	struct sigaction ign = { .sa_handler = SIG_IGN };
	struct exporter_http *h;
	struct exporter *x;
	struct probe_err e;
	sigset_t stop;

	/* Threads come and go with connections and checks, and glibc gives
	 * them up to 8 malloc arenas a core, each keeping what was freed in
	 * it: a few arenas keep a process that runs for weeks small whatever
	 * the core count (probes wait on the network, not on malloc).
	 * MALLOC_ARENA_MAX in the environment wins. */
	if (getenv("MALLOC_ARENA_MAX") == NULL)
		mallopt(M_ARENA_MAX, 4);
	sigemptyset(&stop);
	sigaddset(&stop, SIGTERM);
	sigaddset(&stop, SIGINT);
	pthread_sigmask(SIG_BLOCK, &stop, NULL);
	sigaction(SIGPIPE, &ign, NULL);
	raise_nofile((rlim_t)EXPORTER_CONNECTIONS(max) + (rlim_t)max * 16 + 64);
	x = exporter_new(cfg, max);
	if (x == NULL) {
		fprintf(stderr, "mtaprobe: out of memory\n");
		return 3;
	}
	h = exporter_http_start(x, a->listen, EXPORTER_CONNECTIONS(max), http_log, NULL, &e);
	if (h == NULL) {
		fprintf(stderr, "mtaprobe: %s\n", e.msg);
		exporter_free(x);
		return 3;
	}
	fprintf(stderr, "mtaprobe: exporter listening on %s (%zu modules, at most %d probes)\n",
		a->listen, cfg->nmodules, max);
	while (sigwait(&stop, &sig) != 0)
		;
	fprintf(stderr, "mtaprobe: %s: stopping\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
	exporter_shutdown(x);
	exporter_http_stop(h);
	exporter_free(x);
	return 0;
}

/* Progress on a terminal: redrawn when a target starts or is done, and
 * every half second while checks are in flight, so a hanging target shows
 * as time passing rather than a frozen line. */
struct progress {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	size_t started, done, total;
	bool stop;
	int64_t t0;
	pthread_t ticker;
	bool ticking;
};

static void progress_draw(const struct progress *p)
{
	fprintf(stderr, "\r%zu/%zu targets done, %zu in flight, %.1fs  ", p->done, p->total,
		p->started - p->done, us_to_s(mono_now_us() - p->t0));
}

static void progress(size_t started, size_t done, size_t total, void *arg)
{
	struct progress *p = arg;

	pthread_mutex_lock(&p->mu);
	p->started = started;
	p->done = done;
	p->total = total;
	progress_draw(p);
	pthread_mutex_unlock(&p->mu);
}

static void *progress_tick(void *arg)
{
	struct progress *p = arg;

	pthread_mutex_lock(&p->mu);
	while (!p->stop) {
		struct timespec ts;

		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_nsec += 500000000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		pthread_cond_timedwait(&p->cv, &p->mu, &ts);
		if (!p->stop && p->started > p->done)
			progress_draw(p);
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

static void progress_start(struct progress *p, size_t total)
{
	pthread_condattr_t ca;

	memset(p, 0, sizeof(*p));
	p->total = total;
	p->t0 = mono_now_us();
	pthread_mutex_init(&p->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&p->cv, &ca);
	pthread_condattr_destroy(&ca);
	p->ticking = pthread_create(&p->ticker, NULL, progress_tick, p) == 0;
}

/* The line is cleared: the report follows on a clean terminal. */
static void progress_end(struct progress *p)
{
	pthread_mutex_lock(&p->mu);
	p->stop = true;
	pthread_cond_signal(&p->cv);
	pthread_mutex_unlock(&p->mu);
	if (p->ticking)
		pthread_join(p->ticker, NULL);
	fprintf(stderr, "\r%*s\r", 60, "");
	pthread_cond_destroy(&p->cv);
	pthread_mutex_destroy(&p->mu);
}

/* NO_COLOR (no-color.org) set, or TERM=dumb: plain text on a terminal. */
static bool want_color(void)
{
	const char *nc = getenv("NO_COLOR"), *term = getenv("TERM");

	return !(nc && nc[0]) && !(term && strcmp(term, "dumb") == 0);
}

static int worst_state(const struct run *run)
{
	enum state w = STATE_OK;

	for (size_t i = 0; i < run->nitems; i++)
		w = state_worst(w, run->items[i].r.state);
	return (int)w;
}

/* The output file being written (struct strbuf's drain). */
struct out_file {
	struct file_replace f;
	bool open;
	struct probe_err e;
};

static int drain_to_file(void *arg, const char *s, size_t n)
{
	struct out_file *o = arg;

	return file_replace_write(&o->f, s, n, &o->e);
}

int main(int argc, char **argv)
{
	struct args a;
	struct config cfg;
	struct run run;
	struct strbuf out;
	struct out_file tx = { .f.fd = -1, .open = false };
	struct progress prog;
	bool show;
	struct probe_err e;
	enum out_format fmt;
	const char *path;
	int jobs, rc = parse_args(argc, argv, &a);
	rlim_t have;

	if (rc >= 0)
		goto done_args;
	if (a.config) {
		if (config_load(a.config, &cfg, &e) < 0) {
			fprintf(stderr, "mtaprobe: %s\n", e.msg);
			rc = 3;
			goto done_args;
		}
	} else if (quick_config(&a, &cfg) < 0) {
		fprintf(stderr, "mtaprobe: out of memory\n");
		rc = 3;
		goto done_args;
	}
	fmt = a.format >= 0 ? (enum out_format)a.format : cfg.format;
	/* the config's path is for the config's format; -f something else
	 * without -o is for the terminal */
	path = a.output ? a.output : fmt == cfg.format ? cfg.output_path : NULL;
	if (!a.listen && cfg.ntargets == 0) {
		fprintf(stderr, "mtaprobe: %s has no targets (its modules: are for --listen)\n",
			a.config);
		rc = 3;
		goto done;
	}
	if (dns_global_init() < 0) {
		fprintf(stderr, "mtaprobe: cannot initialise c-ares\n");
		rc = 3;
		goto done;
	}
	if (a.listen) {
		rc = run_exporter(&a, &cfg);
		dns_global_cleanup();
		goto done;
	}
	/* before any check runs: a run must not find out at its end */
	if (path && file_replace_check(path, &e) < 0) {
		fprintf(stderr, "mtaprobe: %s; nothing was run\n", e.msg);
		dns_global_cleanup();
		rc = 3;
		goto done;
	}
	/* -j, when given, wins over the config's concurrency */
	jobs = a.jobs ? a.jobs : cfg.concurrency;
	/* more targets in flight than descriptors allow would turn into
	 * checks failing with "too many open files": fewer, and said so */
	if (cfg.ntargets > 0 && (size_t)jobs > cfg.ntargets)
		jobs = (int)cfg.ntargets; /* never more lanes than targets */
	have = raise_nofile((rlim_t)jobs * FDS_PER_TARGET + 64);
	if ((rlim_t)jobs * FDS_PER_TARGET + 64 > have) {
		int fit = have > 64 + FDS_PER_TARGET ? (int)((have - 64) / FDS_PER_TARGET) : 1;

		fprintf(stderr,
			"mtaprobe: %d targets in flight need about %llu open files, the limit is "
			"%llu: running %d at once\n",
			jobs, (unsigned long long)((rlim_t)jobs * FDS_PER_TARGET + 64),
			(unsigned long long)have, fit);
		jobs = fit;
	}
	show = !a.quiet && isatty(2);
	if (show)
		progress_start(&prog, cfg.ntargets);
	rc = runner_run(&cfg, jobs, show ? progress : NULL, &prog, &run, &e);
	if (show)
		progress_end(&prog);
	if (rc < 0) {
		fprintf(stderr, "mtaprobe: %s\n", e.msg);
		rc = 3;
		goto done;
	}
	strbuf_init(&out, (size_t)1 << 30);
	/* to a file: written as it is made, a MiB at a time, so the report of
	 * 10,000 targets never sits in memory whole */
	if (path && file_replace_open(&tx.f, path, &tx.e) == 0) {
		tx.open = true;
		strbuf_drain_into(&out, (size_t)1 << 20, drain_to_file, &tx);
	}
	if (fmt == OUT_PROMETHEUS)
		report_prometheus(&run, cfg.name ? cfg.name : "", &out);
	else if (fmt == OUT_JSON)
		report_json(&run, &out);
	else
		report_text(&run, !path && isatty(1) && want_color(), &out);
	/* the terminal mode answers like a plugin: its exit code is the worst
	 * state; a configured run's is whether it ran and wrote */
	rc = a.config ? 0 : worst_state(&run);
	if (path) {
		if (!tx.open || strbuf_drain(&out) < 0 || file_replace_commit(&tx.f, &tx.e) < 0) {
			file_replace_abort(&tx.f);
			fprintf(stderr, "mtaprobe: %s; the previous file is left as it was\n",
				tx.e.kind != ERR_NONE ? tx.e.msg : "out of memory for the output");
			rc = 3;
		}
	} else if (out.truncated) {
		fprintf(stderr, "mtaprobe: output too large, nothing written\n");
		rc = 3;
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
	for (int i = 0; a.many && i < a.nmore; i++)
		free(a.many[i + 1].name);
	free(a.many);
	options_free(&a.quick.cfg);
	free(a.quick.name);
	free((char *)a.config);
	free((char *)a.output);
	free((char *)a.listen);
	return rc;
}
