/* runner.c - see runner.h */
#include "runner/runner.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "lib/sched.h"
#include "lib/tls.h"

static const struct check_def *runner_check_def(enum check_kind kind)
{
	static const struct check_def *const defs[CK_COUNT] = {
		[CK_PORT] = &check_port,	 [CK_BANNER] = &check_banner,
		[CK_STARTTLS] = &check_starttls, [CK_CERT] = &check_cert,
		[CK_RELAY] = &check_relay,	 [CK_STS] = &check_sts,
	};

	return defs[kind];
}

/* One SSL_CTX per distinct trust configuration, shared by every target
 * that uses it: per target, only the handshake is paid. */
struct runner_tls {
	pthread_mutex_t mu;
	const struct tls_ops *ops;
	size_t n;
	struct {
		const char *ca_file, *ca_path;
		struct tls_ctx *ctx;
		char why[256];
	} e[64];
};

static bool same(const char *a, const char *b)
{
	return (a == NULL && b == NULL) || (a && b && strcmp(a, b) == 0);
}

/* The shared context for t, made on first use; NULL (why filled) if it
 * cannot be made -- the check then makes its own and reports why. */
static struct tls_ctx *shared_ctx(struct runner_tls *c, const struct target *t)
{
	struct tls_ctx *ctx = NULL;
	char why[256];
	size_t i;

	pthread_mutex_lock(&c->mu);
	if (c->ops == NULL)
		c->ops = tls_ops_get(why, sizeof(why));
	for (i = 0; i < c->n; i++)
		if (same(c->e[i].ca_file, t->cfg.ca_file) && same(c->e[i].ca_path, t->cfg.ca_path))
			break;
	if (i == c->n && c->ops && c->n < sizeof(c->e) / sizeof(c->e[0])) {
		c->e[i].ca_file = t->cfg.ca_file;
		c->e[i].ca_path = t->cfg.ca_path;
		c->e[i].ctx = c->ops->ctx_new(t->cfg.ca_file, t->cfg.ca_path, c->e[i].why,
					      sizeof(c->e[i].why));
		c->n++;
	}
	if (i < c->n)
		ctx = c->e[i].ctx;
	pthread_mutex_unlock(&c->mu);
	return ctx;
}

struct runner_tls *runner_tls_new(void)
{
	struct runner_tls *c = calloc(1, sizeof(*c));

	if (c != NULL)
		pthread_mutex_init(&c->mu, NULL);
	return c;
}

void runner_tls_free(struct runner_tls *c)
{
	if (c == NULL)
		return;
	for (size_t i = 0; i < c->n; i++)
		if (c->e[i].ctx)
			c->ops->ctx_free(c->e[i].ctx);
	pthread_mutex_destroy(&c->mu);
	free(c);
}

static bool needs_tls(const struct target *t, enum check_kind k)
{
	return k == CK_STARTTLS || k == CK_CERT || check_implicit_tls(&t->cfg);
}

/* The targets are shared by every thread; each thread runs a scheduler
 * (lib/sched.h) whose lanes take one target at a time, so -j lanes in all
 * keep -j targets in flight on a few threads, and a target's checks run
 * side by side as fibers of its lane's scheduler. */
struct pool {
	const struct config *cfg;
	struct run *run;
	size_t *first_item; /* per target: index of its first item */
	size_t next, done;  /* next target to take; targets finished */
	pthread_mutex_t mu;
	struct runner_tls *ctxs;
	progress_fn progress;
	void *progress_arg;
};

struct worker {
	struct pool *p;
	size_t lanes;
	struct sched *s;
};

struct item_job {
	struct pool *p;
	struct sched *s;
	struct run_item *it;
};

/* No memory for a result: UNKNOWN "out of memory", from a result of its
 * own frame, kept out of run_item's (10 KB on every check's stack). */
static __attribute__((noinline)) void keep_oom(struct run_item *it)
{
	struct result none;

	result_init(&none, "", it->target->cfg.host ? it->target->cfg.host : "",
		    it->target->cfg.port);
	result_fail(&none, STATE_UNKNOWN, ERR_INTERNAL, "", "out of memory");
	kept_from(&it->r, &none);
	result_free(&none);
}

static void *run_item(void *arg)
{
	struct item_job *j = arg;
	struct check_cfg cc = j->it->target->cfg; /* borrows the target's strings */
	struct result *r;

	if (needs_tls(j->it->target, j->it->kind))
		cc.tls_ctx = shared_ctx(j->p->ctxs, j->it->target);
	cc.sched = j->s;
	r = malloc(sizeof(*r));
	if (r == NULL) {
		keep_oom(j->it);
		return NULL;
	}
	probe_run(&cc, runner_check_def(j->it->kind), r);
	/* what was on the wire goes; the figures and words stay */
	kept_from(&j->it->r, r);
	result_free(r);
	free(r);
	return NULL;
}

/* All checks of one target at once (the target's own timeout bounds each). */
static void run_target(struct pool *p, struct sched *s, size_t ti)
{
	size_t first = p->first_item[ti], last = p->first_item[ti + 1];
	struct item_job jobs[CK_COUNT];

	for (size_t i = first; i < last; i++)
		jobs[i - first] = (struct item_job){ p, s, &p->run->items[i] };
	sched_all(s, run_item, jobs, sizeof(jobs[0]), last - first);
}

/* One lane: targets one after the other until none is left. */
static void *lane(void *arg)
{
	struct worker *w = arg;
	struct pool *p = w->p;

	for (;;) {
		size_t ti, done;

		pthread_mutex_lock(&p->mu);
		ti = p->next < p->cfg->ntargets ? p->next++ : (size_t)-1;
		if (ti != (size_t)-1 && p->progress)
			p->progress(p->next, p->done, p->cfg->ntargets, p->progress_arg);
		pthread_mutex_unlock(&p->mu);
		if (ti == (size_t)-1)
			return NULL;
		run_target(p, w->s, ti);
		pthread_mutex_lock(&p->mu);
		done = ++p->done;
		if (p->progress)
			p->progress(p->next, done, p->cfg->ntargets, p->progress_arg);
		pthread_mutex_unlock(&p->mu);
	}
}

/* A thread's scheduler and its lanes; without a scheduler (no memory, no
 * epoll) one lane on the thread itself, a target at a time.  A run of one
 * target (an exporter's probe, the terminal mode's one host) needs no
 * scheduler: its checks take a thread each, which costs less than making
 * a scheduler and fiber stacks for one probe. */
static void *worker(void *arg)
{
	struct worker *w = arg;
	size_t started = 0;

	if (w->p->cfg->ntargets == 1) {
		lane(w);
		return NULL;
	}
	w->s = sched_new();
	for (size_t i = 0; w->s && i < w->lanes; i++)
		started += sched_spawn(w->s, lane, w) == 0;
	if (started > 0)
		sched_run(w->s);
	sched_free(w->s);
	w->s = NULL;
	lane(w); /* whatever is left when no lane could start */
	return NULL;
}

static size_t cpus(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	return n < 1 ? 1 : n > 64 ? 64 : (size_t)n;
}

int runner_run(const struct config *cfg, int jobs, progress_fn progress, void *progress_arg,
	       struct run *run, struct probe_err *e)
{
	return runner_run_tls(cfg, jobs, NULL, progress, progress_arg, run, e);
}

/* ---- a service: schedulers kept for many runs ------------------------------ */

struct svc_thread {
	struct runner_service *svc;
	pthread_t tid;
	struct sched *s; /* NULL: none could be had on this thread */
	bool ready;
};

struct runner_service {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	size_t n;
	unsigned next; /* round robin over t */
	struct svc_thread t[64];
};

/* A service thread: its scheduler, said to runner_service_new(), served
 * until runner_service_free() stops it. */
static void *svc_main(void *arg)
{
	struct svc_thread *t = arg;
	struct sched *s = sched_new();

	if (s != NULL && sched_listen(s) < 0) {
		sched_free(s);
		s = NULL;
	}
	pthread_mutex_lock(&t->svc->mu);
	t->s = s;
	t->ready = true;
	pthread_cond_broadcast(&t->svc->cv);
	pthread_mutex_unlock(&t->svc->mu);
	if (s != NULL) {
		sched_serve(s);
		sched_free(s);
	}
	return NULL;
}

struct runner_service *runner_service_new(void)
{
	struct runner_service *svc = calloc(1, sizeof(*svc));
	size_t want = cpus();

	if (svc == NULL)
		return NULL;
	pthread_mutex_init(&svc->mu, NULL);
	pthread_cond_init(&svc->cv, NULL);
	for (size_t i = 0; i < want; i++) {
		svc->t[svc->n].svc = svc;
		if (pthread_create(&svc->t[svc->n].tid, NULL, svc_main, &svc->t[svc->n]) == 0)
			svc->n++;
	}
	pthread_mutex_lock(&svc->mu);
	for (size_t i = 0; i < svc->n; i++)
		while (!svc->t[i].ready)
			pthread_cond_wait(&svc->cv, &svc->mu);
	pthread_mutex_unlock(&svc->mu);
	return svc;
}

void runner_service_free(struct runner_service *svc)
{
	if (svc == NULL)
		return;
	for (size_t i = 0; i < svc->n; i++)
		if (svc->t[i].s)
			sched_stop(svc->t[i].s);
	for (size_t i = 0; i < svc->n; i++)
		pthread_join(svc->t[i].tid, NULL);
	pthread_mutex_destroy(&svc->mu);
	pthread_cond_destroy(&svc->cv);
	free(svc);
}

struct svc_job {
	struct worker w;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool done;
};

static void *svc_lane(void *arg)
{
	struct svc_job *j = arg;

	lane(&j->w);
	pthread_mutex_lock(&j->mu);
	j->done = true; /* j is the poster's: not touched after this */
	pthread_cond_signal(&j->cv);
	pthread_mutex_unlock(&j->mu);
	return NULL;
}

/* p's targets as one lane on one of svc's schedulers, waited for; false
 * when it could not be posted (no scheduler, no memory). */
static bool svc_run(struct runner_service *svc, struct pool *p)
{
	struct sched *s = NULL;
	struct svc_job j = { .w = { p, 1, NULL } };

	pthread_mutex_lock(&svc->mu);
	for (size_t i = 0; i < svc->n && s == NULL; i++)
		s = svc->t[svc->next++ % svc->n].s;
	pthread_mutex_unlock(&svc->mu);
	if (s == NULL)
		return false;
	j.w.s = s;
	pthread_mutex_init(&j.mu, NULL);
	pthread_cond_init(&j.cv, NULL);
	if (sched_post(s, svc_lane, &j) < 0) {
		pthread_mutex_destroy(&j.mu);
		pthread_cond_destroy(&j.cv);
		return false;
	}
	pthread_mutex_lock(&j.mu);
	while (!j.done)
		pthread_cond_wait(&j.cv, &j.mu);
	pthread_mutex_unlock(&j.mu);
	pthread_mutex_destroy(&j.mu);
	pthread_cond_destroy(&j.cv);
	return true;
}

static int run_cfg(const struct config *cfg, int jobs, struct runner_tls *tls,
		   struct runner_service *svc, progress_fn progress, void *progress_arg,
		   struct run *run, struct probe_err *e);

int runner_run_tls(const struct config *cfg, int jobs, struct runner_tls *tls, progress_fn progress,
		   void *progress_arg, struct run *run, struct probe_err *e)
{
	return run_cfg(cfg, jobs, tls, NULL, progress, progress_arg, run, e);
}

int runner_run_on(const struct config *cfg, struct runner_service *svc, struct runner_tls *tls,
		  struct run *run, struct probe_err *e)
{
	return run_cfg(cfg, 1, tls, svc, NULL, NULL, run, e);
}

static int run_cfg(const struct config *cfg, int jobs, struct runner_tls *tls,
		   struct runner_service *svc, progress_fn progress, void *progress_arg,
		   struct run *run, struct probe_err *e)
{
	struct pool p = {
		.cfg = cfg, .run = run, .progress = progress, .progress_arg = progress_arg
	};
	struct runner_tls *ctxs = tls ? tls : runner_tls_new();
	pthread_t tid[64];
	bool up[64] = { false };
	struct worker ws[64];
	size_t n = 0, nthreads, lanes;
	struct timespec t0;
	int64_t m0 = mono_now_us();

	memset(run, 0, sizeof(*run));
	clock_gettime(CLOCK_REALTIME, &t0);
	run->started = (int64_t)t0.tv_sec;
	for (size_t i = 0; i < cfg->ntargets; i++)
		n += (size_t)__builtin_popcount(cfg->targets[i].checks);
	run->items = calloc(n ? n : 1, sizeof(*run->items));
	p.first_item = calloc(cfg->ntargets + 1, sizeof(*p.first_item));
	if (run->items == NULL || p.first_item == NULL || ctxs == NULL) {
		err_set(e, ERR_INTERNAL, "runner", "out of memory");
		free(run->items);
		run->items = NULL;
		free(p.first_item);
		if (tls == NULL)
			runner_tls_free(ctxs);
		return -1;
	}
	for (size_t i = 0; i < cfg->ntargets; i++) {
		p.first_item[i] = run->nitems;
		for (int k = 0; k < CK_COUNT; k++)
			if (cfg->targets[i].checks & (1u << k))
				run->items[run->nitems++] =
					(struct run_item){ .target = &cfg->targets[i], .kind = k };
	}
	p.first_item[cfg->ntargets] = run->nitems;
	pthread_mutex_init(&p.mu, NULL);
	p.ctxs = ctxs;
	lanes = jobs < 1 ? 1 : (size_t)jobs;
	if (lanes > cfg->ntargets)
		lanes = cfg->ntargets ? cfg->ntargets : 1;
	/* a thread per CPU (the handshakes are the CPU), never more than lanes */
	nthreads = cpus() < lanes ? cpus() : lanes;
	for (size_t t = 0; t < nthreads; t++)
		ws[t] = (struct worker){ &p, lanes / nthreads + (t < lanes % nthreads), NULL };
	if (svc == NULL || !svc_run(svc, &p)) {
		/* the first on this thread */
		for (size_t t = 1; t < nthreads; t++)
			up[t] = pthread_create(&tid[t], NULL, worker, &ws[t]) == 0;
		worker(&ws[0]);
		for (size_t t = 1; t < nthreads; t++)
			if (up[t])
				pthread_join(tid[t], NULL);
	}
	run->duration = us_to_s(mono_now_us() - m0);
	if (tls == NULL)
		runner_tls_free(ctxs);
	pthread_mutex_destroy(&p.mu);
	free(p.first_item);
	return 0;
}

void run_free(struct run *run)
{
	for (size_t i = 0; i < run->nitems; i++)
		kept_free(&run->items[i].r);
	free(run->items);
	memset(run, 0, sizeof(*run));
}
