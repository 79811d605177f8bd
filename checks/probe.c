/* probe.c - probe_run(): what every check shares; see check.h */
#include "checks/check.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "checks/session.h"
#include "lib/dns.h"
#include "lib/net.h"
#include "lib/sched.h"
#include "lib/tls_lazy.h"

/* Connected: PROXY header, implicit TLS, then the check's dialogue. */
static void converse(const struct check_cfg *cfg, const struct check_def *def, struct conn *c,
		     struct result *r)
{
	if (cfg->proxy_protocol && conn_send_proxy_header(c, cfg->proxy_protocol, &r->err) < 0) {
		check_fail(cfg, r, &r->err);
		return;
	}
	if (!def->own_tls && check_implicit_tls(cfg)) {
		if (check_handshake(cfg, c, r, TLS_WANT_ANY, result_tls(r, 0)) < 0)
			return;
		r->ntls = 1;
	}
	if (def->dialogue)
		def->dialogue(cfg, c, r);
}

/* The server could not be reached (DNS, connect): the check's own state for
 * that, or the failure's. */
static void fail_unreachable(const struct check_cfg *cfg, const struct check_def *def,
			     struct result *r)
{
	if (def->unreachable_unknown)
		result_raise(r, STATE_UNKNOWN, "%s: %s", r->err.stage, r->err.msg);
	else
		check_fail(cfg, r, &r->err);
}

static void set_target(struct result *r, const struct addr *a)
{
	snprintf(r->address, sizeof(r->address), "%s", a->text);
	addr_target(r->target, sizeof(r->target), r->host, a, r->port);
}

/* Connect to one address and converse; the whole check for that address. */
static void probe_addr(const struct check_cfg *cfg, const struct check_def *def,
		       const struct addr *a, const struct addr *src, const struct deadline *dl,
		       int budget_ms, struct tls_lazy *tlsl, struct result *r, bool *connected)
{
	struct conn *c;

	set_target(r, a);
	c = conn_open(a, src, dl, budget_ms, tlsl, cfg->verbose >= 3 ? &r->transcript : NULL,
		      &r->err);
	*connected = c != NULL;
	if (c == NULL)
		return;
	r->err = (struct probe_err){ 0 }; /* an earlier address's failure is history */
	r->t.connect = us_to_s(mono_now_us() - conn_started_us(c));
	converse(cfg, def, c, r);
	conn_free(c);
}

/* -w/-c on the timing the check names; CRITICAL first. */
static void apply_thresholds(const struct check_cfg *cfg, const struct check_def *def,
			     struct result *r)
{
	double v;

	if (def->threshold_label == NULL)
		return;
	v = strcmp(def->threshold_label, "connect") == 0  ? r->t.connect
	    : strcmp(def->threshold_label, "banner") == 0 ? r->t.banner
							  : r->t.handshake;
	if (v < 0)
		return;
	if (range_alerts(&cfg->crit, v))
		result_raise(r, STATE_CRITICAL, "%s took %.3fs (critical %s)", def->threshold_what,
			     v, cfg->crit.text);
	else if (range_alerts(&cfg->warn, v))
		result_raise(r, STATE_WARNING, "%s took %.3fs (warning %s)", def->threshold_what, v,
			     cfg->warn.text);
}

static void finish(const struct check_cfg *cfg, const struct check_def *def, struct result *r,
		   const struct deadline *dl)
{
	apply_thresholds(cfg, def, r);
	r->t.total = deadline_elapsed(dl);
	/* perfdata: the check's own facts were added by the dialogue; timings go
	 * first so that every check's perfdata reads alike. */
	struct perf own[RESULT_MAX_PERF];
	int nown = r->nperf;

	memcpy(own, r->perf, sizeof(own[0]) * (size_t)nown);
	r->nperf = 0;
	result_perf_timings(r, def->threshold_label, &cfg->warn, &cfg->crit);
	for (int i = 0; i < nown && r->nperf < RESULT_MAX_PERF; i++)
		r->perf[r->nperf++] = own[i];
}

#define FANOUT_MAX 64

/* One address to check with -A or -M: its own copy of the configuration
 * (with -M, host is the MX host name: SNI and certificate names use it). */
struct job {
	struct check_cfg cfg;
	const struct check_def *def;
	const struct addr *a, *src;
	const struct probe_err *dns_err; /* the MX host did not resolve */
	const struct deadline *dl;
	struct tls_lazy *tlsl;
	struct result *r;
};

static void *job_run(void *arg)
{
	struct job *j = arg;
	bool connected = false;

	if (j->dns_err) {
		j->r->err = *j->dns_err;
		fail_unreachable(&j->cfg, j->def, j->r);
	} else {
		probe_addr(&j->cfg, j->def, j->a, j->src, j->dl, 0, j->tlsl, j->r, &connected);
		if (!connected)
			fail_unreachable(&j->cfg, j->def, j->r);
	}
	finish(&j->cfg, j->def, j->r, j->dl);
	return NULL;
}

/* Every job at once (fibers of the runner's scheduler, or a thread each),
 * one child result each, all under the same deadline; the parent's state
 * is the worst child's. */
static void run_jobs(struct job *jobs, size_t n, struct result *r)
{
	sched_all(n ? jobs[0].dl->sched : NULL, job_run, jobs, sizeof(*jobs), n);
	for (size_t i = 0; i < n; i++)
		r->state = state_worst(r->state, jobs[i].r->state);
}

static struct result *children(struct result *r, size_t n)
{
	r->children = calloc(n ? n : 1, sizeof(*r->children));
	if (r->children == NULL)
		result_fail(r, STATE_UNKNOWN, ERR_INTERNAL, "", "out of memory");
	else
		r->nchildren = n;
	return r->children;
}

/* -A: every address of the host. */
static void probe_all(const struct check_cfg *cfg, const struct check_def *def,
		      const struct addr_list *al, const struct addr *src, const struct deadline *dl,
		      struct tls_lazy *tlsl, struct result *r)
{
	struct job jobs[ADDR_LIST_MAX];

	if (children(r, al->n) == NULL)
		return;
	for (size_t i = 0; i < al->n; i++) {
		result_init(&r->children[i], r->check, r->host, r->port);
		r->children[i].t.dns = r->t.dns;
		jobs[i] =
			(struct job){ *cfg, def, &al->v[i], src, NULL, dl, tlsl, &r->children[i] };
	}
	run_jobs(jobs, al->n, r);
}

/* -M: the MX set of the domain, every address of every MX host. */
static void probe_mx(const struct check_cfg *cfg, const struct check_def *def,
		     const struct addr *src, const struct deadline *dl, struct tls_lazy *tlsl,
		     struct result *r)
{
	struct mx_set *mx = malloc(sizeof(*mx));
	struct addr_list *al = calloc(MX_MAX, sizeof(*al));
	struct probe_err errs[MX_MAX];
	struct job *jobs = calloc(FANOUT_MAX, sizeof(*jobs));
	const char *names[MX_MAX];
	int64_t t0 = mono_now_us();
	size_t n = 0, found = 0, used = 0;

	if (mx == NULL || al == NULL || jobs == NULL) {
		result_fail(r, STATE_UNKNOWN, ERR_INTERNAL, "", "out of memory");
		goto out;
	}
	if (dns_mx(cfg->mx_domain, cfg->dns_servers, dl, mx, &r->err) < 0) {
		r->t.dns = us_to_s(mono_now_us() - t0);
		fail_unreachable(cfg, def, r);
		goto out;
	}
	if (mx->null_mx) {
		r->t.dns = us_to_s(mono_now_us() - t0);
		result_fail(r, STATE_CRITICAL, ERR_REJECTED, "DNS",
			    "Null MX (RFC 7505): %s accepts no mail", cfg->mx_domain);
		goto out;
	}
	if (mx->implicit)
		strbuf_printf(&r->detail,
			      "no MX records: the domain's own addresses are used "
			      "(RFC 5321 5.1)\n");
	if (mx->total > mx->n)
		result_raise(r, STATE_OK, "%d of %d MX hosts checked (the most preferred)", mx->n,
			     mx->total);
	for (int i = 0; i < mx->n; i++)
		names[i] = mx->host[i].name; /* "" for a bad name: not looked up */
	dns_resolve_many(names, (size_t)mx->n, cfg->port, src ? src->ss.ss_family : cfg->family,
			 cfg->dns_servers, dl, al, errs);
	r->t.dns = us_to_s(mono_now_us() - t0);
	for (int i = 0; i < mx->n; i++) {
		/* a name refused as invalid is never printed, not even sanitised */
		const char *host = mx->host[i].bad ? "(invalid MX name)" : mx->host[i].name;

		found += al[i].total;
		strbuf_printf(&r->detail, "MX %u %s:", mx->host[i].pref, host);
		for (size_t k = 0; k < al[i].n; k++)
			strbuf_printf(&r->detail, " %s", al[i].v[k].text);
		strbuf_printf(&r->detail, "%s\n", al[i].n ? "" : " no addresses");
		for (size_t k = 0; k < (al[i].n ? al[i].n : 1); k++) {
			if (n == FANOUT_MAX)
				break;
			if (al[i].n)
				used++;
			jobs[n].cfg = *cfg;
			jobs[n].cfg.host = host;
			jobs[n].def = def;
			jobs[n].a = al[i].n ? &al[i].v[k] : NULL;
			jobs[n].dns_err = al[i].n ? NULL : &errs[i];
			jobs[n].src = src;
			jobs[n].dl = dl;
			jobs[n].tlsl = tlsl;
			n++;
		}
	}
	if (found > used)
		result_raise(r, STATE_OK, "%zu of %zu addresses checked", used, found);
	if (children(r, n) == NULL)
		goto out;
	for (size_t i = 0; i < n; i++) {
		result_init(&r->children[i], r->check, jobs[i].cfg.host, r->port);
		r->children[i].t.dns = r->t.dns;
		jobs[i].r = &r->children[i];
	}
	run_jobs(jobs, n, r);
out:
	free(mx);
	free(al);
	free(jobs);
}

void probe_run(const struct check_cfg *cfg, const struct check_def *def, struct result *r)
{
	struct deadline dl;
	struct addr_list *al;
	struct addr src, lit, *srcp = NULL;
	struct tls_lazy tlsl;
	int64_t t0;

	if (def->run) {
		result_init(r, def->name, cfg->mx_domain ? cfg->mx_domain : cfg->host, cfg->port);
		def->run(cfg, r);
		return;
	}
	deadline_init(&dl, cfg->timeout);
	dl.sched = cfg->sched;
	tls_lazy_init(&tlsl, cfg->ca_file, cfg->ca_path, cfg->tls_ctx);
	result_init(r, def->name, cfg->mx_domain ? cfg->mx_domain : cfg->host, cfg->port);
	al = malloc(sizeof(*al));
	if (al == NULL) {
		result_fail(r, STATE_UNKNOWN, ERR_INTERNAL, "", "out of memory");
		return;
	}
	if (cfg->source) {
		if (addr_from_literal(cfg->source, 0, &src) < 0) {
			result_fail(r, STATE_UNKNOWN, ERR_INTERNAL, "connect",
				    "--source %s is not an IP address", cfg->source);
			goto out;
		}
		srcp = &src;
	}
	if (cfg->mx_domain) {
		probe_mx(cfg, def, srcp, &dl, &tlsl, r);
		r->t.total = deadline_elapsed(&dl);
		goto out;
	}
	t0 = mono_now_us();
	if (dns_resolve(cfg->host, cfg->port, srcp ? srcp->ss.ss_family : cfg->family,
			cfg->dns_servers, &dl, al, &r->err) < 0) {
		r->t.dns = us_to_s(mono_now_us() - t0);
		fail_unreachable(cfg, def, r);
		finish(cfg, def, r, &dl);
		goto out;
	}
	if (addr_from_literal(cfg->host, cfg->port, &lit) < 0)
		r->t.dns = us_to_s(mono_now_us() - t0);

	if (cfg->all_addresses) {
		probe_all(cfg, def, al, srcp, &dl, &tlsl, r);
		r->t.total = deadline_elapsed(&dl);
		goto out;
	}
	/* Try every address in order until one connects.  Each attempt but the
	 * last gets an equal share of the time left, so a filtered first
	 * address cannot starve the others. */
	for (size_t i = 0; i < al->n; i++) {
		bool connected;
		int budget = (int)((size_t)deadline_left_ms(&dl) / (al->n - i));

		probe_addr(cfg, def, &al->v[i], srcp, &dl, i + 1 < al->n ? budget : 0, &tlsl, r,
			   &connected);
		if (connected)
			break;
		if (i + 1 < al->n)
			strbuf_printf(&r->detail, "%s: %s\n", r->target, r->err.msg);
		else
			fail_unreachable(cfg, def, r);
	}
	finish(cfg, def, r, &dl);
out:
	tls_lazy_free(&tlsl);
	free(al);
}
