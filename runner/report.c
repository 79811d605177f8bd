/* report.c - see report.h */
#include "runner/report.h"

#include <math.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "lib/nagios.h"
#include "cli/options.h"

/* One check's series: an item's own result, or one of its children (-M). */
struct series {
	const struct run_item *it;
	const struct kept *r;
};

typedef void (*series_fn)(const struct series *s, void *arg);

static void each_series(const struct run *run, series_fn fn, void *arg)
{
	for (size_t i = 0; i < run->nitems; i++) {
		const struct run_item *it = &run->items[i];

		/* a domain's check (sts) is one series; its MX addresses are detail */
		if (it->r.nchildren == 0 || it->r.summary_own) {
			struct series s = { it, &it->r };

			fn(&s, arg);
			continue;
		}
		for (size_t k = 0; k < it->r.nchildren; k++) {
			struct series s = { it, &it->r.children[k] };

			fn(&s, arg);
		}
	}
}

void prom_value(struct strbuf *b, const char *v)
{
	while (*v) {
		size_t n = strcspn(v, "\\\"\n"); /* a run that needs no escape */

		strbuf_append(b, v, n);
		v += n;
		if (*v == '\n')
			strbuf_append(b, "\\n", 2);
		else if (*v)
			strbuf_printf(b, "\\%c", *v);
		if (*v)
			v++;
	}
}

static void prom_pair(struct strbuf *b, const char *name, const char *value)
{
	strbuf_printf(b, ",%s=\"", name);
	prom_value(b, value);
	strbuf_append(b, "\"", 1);
}

/* {target, [check,] host, address, port, the target's labels, then up to
 * two more (names NULL when not wanted)} */
static void prom_labels(struct strbuf *b, const struct target *t, const char *check,
			const char *host, const char *address, const char *extra_name,
			const char *extra_value, const char *name2, const char *value2)
{
	strbuf_append(b, "{target=\"", 9);
	prom_value(b, t->name);
	strbuf_append(b, "\"", 1);
	if (check)
		strbuf_printf(b, ",check=\"%s\"", check);
	prom_pair(b, "host", host);
	prom_pair(b, "address", address);
	strbuf_printf(b, ",port=\"%d\"", t->cfg.port);
	for (int i = 0; i < t->nlabels; i++)
		prom_pair(b, t->labels[i].name, t->labels[i].value);
	if (extra_name)
		prom_pair(b, extra_name, extra_value);
	if (name2)
		prom_pair(b, name2, value2);
	strbuf_append(b, "}", 1);
}

static void prom_number(struct strbuf *b, double v)
{
	if (v == floor(v) && fabs(v) < 1e15)
		strbuf_printf(b, " %.0f\n", v);
	else
		strbuf_printf(b, " %.9g\n", v);
}

static void family_head(struct strbuf *b, const char *name, const char *help)
{
	strbuf_printf(b, "# HELP %s %s\n# TYPE %s gauge\n", name, help, name);
}

/* ---- per check: state, success, duration, error ---------------------------- */

struct check_family {
	const char *name, *help;
	int what; /* 0 state, 1 success, 2 duration */
};

static const struct check_family check_families[] = {
	{ "mtaprobe_check_state", "State of the check: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.",
	  0 },
	{ "mtaprobe_check_success", "1 if the check was OK, else 0.", 1 },
	{ "mtaprobe_check_duration_seconds", "Wall time of the whole check.", 2 },
};

struct check_ctx {
	const struct check_family *f;
	struct strbuf *b;
};

static void check_series(const struct series *s, void *arg)
{
	struct check_ctx *c = arg;
	double v = c->f->what == 0   ? s->r->state
		   : c->f->what == 1 ? s->r->state == STATE_OK
				     : s->r->t.total;

	if (v < 0)
		return;
	strbuf_printf(c->b, "%s", c->f->name);
	prom_labels(c->b, s->it->target, check_kind_name(s->it->kind), s->r->host, s->r->address,
		    NULL, NULL, NULL, NULL);
	prom_number(c->b, v);
}

static void error_series(const struct series *s, void *arg)
{
	struct strbuf *b = arg;

	if (s->r->err_kind == ERR_NONE)
		return;
	strbuf_printf(b, "mtaprobe_check_error_info");
	prom_labels(b, s->it->target, check_kind_name(s->it->kind), s->r->host, s->r->address,
		    "kind", err_kind_name(s->r->err_kind), "step", s->r->err_stage);
	strbuf_append(b, " 1\n", 3);
}

/* ---- per target address: phases, TLS, certificate, relay -------------------- */

/* One address of one target, and what each of its checks found there: a
 * phase measured by several checks is one series, from the first check
 * (port, banner, starttls, cert, relay) that reached it. */
struct row {
	const struct target *t;
	const char *host, *address;
	const struct kept *by[CK_COUNT];
};

struct rows {
	struct row *v;
	size_t n, cap;
};

static void row_add(struct rows *rs, const struct target *t, enum check_kind kind,
		    const struct kept *r)
{
	size_t i = rs->n;

	/* the same target's rows are the last ones */
	while (i > 0 && rs->v[i - 1].t == t) {
		i--;
		if (strcmp(rs->v[i].host, r->host) == 0 &&
		    strcmp(rs->v[i].address, r->address) == 0) {
			if (rs->v[i].by[kind] == NULL)
				rs->v[i].by[kind] = r;
			return;
		}
	}
	if (rs->n == rs->cap) {
		size_t cap = rs->cap ? 2 * rs->cap : 64;
		struct row *v = realloc(rs->v, cap * sizeof(*v));

		if (v == NULL)
			return; /* out of memory: this address's rows go unsaid */
		rs->v = v;
		rs->cap = cap;
	}
	rs->v[rs->n] = (struct row){ .t = t, .host = r->host, .address = r->address };
	rs->v[rs->n].by[kind] = r;
	rs->n++;
}

static void row_series(const struct series *s, void *arg)
{
	row_add(arg, s->it->target, s->it->kind, s->r);
}

static const char *const phase_names[] = { "dns",  "connect",  "banner",
					   "ehlo", "starttls", "handshake" };

static double phase_of(const struct kept *r, int p)
{
	const double v[] = { r->t.dns,	r->t.connect,  r->t.banner,
			     r->t.ehlo, r->t.starttls, r->t.handshake };

	return v[p];
}

/* The first of the row's checks (in check order, the domain check aside)
 * for which ok() holds. */
static const struct kept *first(const struct row *w, bool (*ok)(const struct kept *))
{
	for (int k = 0; k < CK_COUNT; k++)
		if (k != CK_STS && w->by[k] && ok(w->by[k]))
			return w->by[k];
	return NULL;
}

static bool knows_starttls(const struct kept *r)
{
	return r->starttls_offered >= 0;
}

static bool knows_tls(const struct kept *r)
{
	return r->ntls > 0;
}

static void row_labels(struct strbuf *b, const char *family, const struct row *w,
		       const char *extra_name, const char *extra_value)
{
	strbuf_printf(b, "%s", family);
	prom_labels(b, w->t, NULL, w->host, w->address, extra_name, extra_value, NULL, NULL);
}

static void phases(const struct rows *rs, struct strbuf *b)
{
	family_head(b, "mtaprobe_phase_duration_seconds",
		    "Duration of each phase at the target address (dns, connect, banner, ehlo, "
		    "starttls, handshake), from the first check that reached it.");
	for (size_t i = 0; i < rs->n; i++)
		for (int p = 0; p < 6; p++)
			for (int k = 0; k < CK_COUNT; k++) {
				const struct kept *r = rs->v[i].by[k];

				if (k == CK_STS || r == NULL || phase_of(r, p) < 0)
					continue;
				row_labels(b, "mtaprobe_phase_duration_seconds", &rs->v[i], "phase",
					   phase_names[p]);
				prom_number(b, phase_of(r, p));
				break;
			}
}

/* 0 when any check at the address saw EHLO without STARTTLS: behind a
 * balancer, one backend of two that lost it is still a server without. */
static void starttls_offered(const struct rows *rs, struct strbuf *b)
{
	family_head(b, "mtaprobe_starttls_offered",
		    "1 if EHLO advertised STARTTLS, else 0 (0 if any check at the address saw "
		    "it missing).");
	for (size_t i = 0; i < rs->n; i++) {
		int v = -1;

		for (int k = 0; k < CK_COUNT; k++) {
			const struct kept *r = rs->v[i].by[k];

			if (k != CK_STS && r && knows_starttls(r) &&
			    (v < 0 || r->starttls_offered < v))
				v = r->starttls_offered;
		}
		if (v < 0)
			continue;
		row_labels(b, "mtaprobe_starttls_offered", &rs->v[i], NULL, NULL);
		prom_number(b, v);
	}
}

static void tls_version(const struct rows *rs, struct strbuf *b)
{
	family_head(b, "mtaprobe_tls_version_info", "The negotiated TLS protocol version.");
	for (size_t i = 0; i < rs->n; i++) {
		const struct kept *r = first(&rs->v[i], knows_tls);

		if (r == NULL || r->tls[0].version_name[0] == '\0')
			continue;
		row_labels(b, "mtaprobe_tls_version_info", &rs->v[i], "version",
			   r->tls[0].version_name);
		prom_number(b, 1);
	}
}

/* The certificate check's facts: expiry, earliest in the chain, verified. */
static void certs(const struct rows *rs, struct strbuf *b)
{
	static const char *const names[] = { "mtaprobe_cert_not_after_timestamp_seconds",
					     "mtaprobe_cert_chain_earliest_not_after_timestamp_"
					     "seconds",
					     "mtaprobe_cert_verified" };
	static const char *const helps[] = {
		"Expiry of the server certificate (the earliest of a dual RSA+ECDSA server).",
		"Earliest expiry in the certificate chain sent by the server.",
		"1 if chain and host name verified, else 0.",
	};

	for (int f = 0; f < 3; f++) {
		family_head(b, names[f], helps[f]);
		for (size_t i = 0; i < rs->n; i++) {
			const struct kept *r = rs->v[i].by[CK_CERT];
			double v = f == 1 ? INFINITY : f == 2 ? 1 : 0;

			if (r == NULL || r->ntls == 0 || r->tls[0].ncerts == 0)
				continue;
			for (int t = 0; t < r->ntls; t++) {
				if (f == 0 && r->tls[t].ncerts > 0 &&
				    (t == 0 || r->tls[t].chain[0].not_after < v))
					v = (double)r->tls[t].chain[0].not_after;
				for (int c = 0; f == 1 && c < r->tls[t].ncerts; c++)
					if (r->tls[t].chain[c].not_after < v)
						v = (double)r->tls[t].chain[c].not_after;
				if (f == 2 && r->tls[t].verify_code != 0)
					v = 0;
			}
			row_labels(b, names[f], &rs->v[i], NULL, NULL);
			prom_number(b, v);
		}
	}
}

/* --scan-versions (scan_versions: true): one series per version asked. */
static void versions_accepted(const struct rows *rs, struct strbuf *b)
{
	static const char *const names[] = { "TLSv1", "TLSv1.1", "TLSv1.2" };

	family_head(b, "mtaprobe_tls_version_accepted",
		    "1 if the server completed a handshake pinned to that protocol version "
		    "(below min_tls), else 0.");
	for (size_t i = 0; i < rs->n; i++) {
		const struct kept *r = rs->v[i].by[CK_STARTTLS];

		for (int v = 0; r && v < 3; v++) {
			if (r->scan[v] < 0)
				continue;
			row_labels(b, "mtaprobe_tls_version_accepted", &rs->v[i], "version",
				   names[v]);
			prom_number(b, r->scan[v]);
		}
	}
}

static void relay(const struct rows *rs, struct strbuf *b)
{
	static const char *const outcomes[] = { "accepted", "refused", "tempfail" };

	family_head(b, "mtaprobe_relay_tests",
		    "Relay tests by how the server answered their RCPT: accepted (an open "
		    "relay when above 0), refused, tempfail.");
	for (size_t i = 0; i < rs->n; i++) {
		const struct kept *r = rs->v[i].by[CK_RELAY];
		const int n[] = { r ? r->relay_accepted : 0, r ? r->relay_refused : 0,
				  r ? r->relay_tempfail : 0 };

		if (r == NULL || r->relay_tests == 0)
			continue;
		for (int o = 0; o < 3; o++) {
			row_labels(b, "mtaprobe_relay_tests", &rs->v[i], "outcome", outcomes[o]);
			prom_number(b, n[o]);
		}
	}
}

/* check_mta_sts's facts belong to the domain, not to an MX address: one
 * series per target, only where a policy is announced. */
static void sts(const struct rows *rs, struct strbuf *b)
{
	static const char *const modes[] = { "", "enforce", "testing", "none" };
	static const char *const names[] = { "mtaprobe_sts_policy_valid", "mtaprobe_sts_mode_info",
					     "mtaprobe_sts_max_age_seconds",
					     "mtaprobe_sts_mx_uncovered" };
	static const char *const helps[] = {
		"1 if the domain's announced MTA-STS policy was fetched and is valid, else 0.",
		"The MTA-STS policy's mode.",
		"The MTA-STS policy's max_age.",
		"MX hosts no mx: pattern of the MTA-STS policy matches.",
	};

	for (int f = 0; f < 4; f++) {
		family_head(b, names[f], helps[f]);
		for (size_t i = 0; i < rs->n; i++) {
			const struct kept *r = rs->v[i].by[CK_STS];
			bool valid = r && r->sts_policy == 1;

			if (r == NULL || r->sts_policy < 1 || (f > 0 && !valid))
				continue;
			if (f == 0) {
				row_labels(b, names[f], &rs->v[i], NULL, NULL);
				prom_number(b, valid);
			} else if (f == 1 && r->sts_mode >= 1 && r->sts_mode <= 3) {
				row_labels(b, names[f], &rs->v[i], "mode", modes[r->sts_mode]);
				prom_number(b, 1);
			} else if (f == 2) {
				row_labels(b, names[f], &rs->v[i], NULL, NULL);
				prom_number(b, (double)r->sts_max_age);
			} else if (f == 3 && r->sts_mode != 3 /* none */) {
				row_labels(b, names[f], &rs->v[i], NULL, NULL);
				prom_number(b, r->sts_mx_total - r->sts_mx_covered);
			}
		}
	}
}

void report_prometheus_checks(const struct run *run, struct strbuf *b)
{
	struct rows rs = { NULL, 0, 0 };

	for (size_t i = 0; i < sizeof(check_families) / sizeof(check_families[0]); i++) {
		struct check_ctx c = { &check_families[i], b };

		family_head(b, check_families[i].name, check_families[i].help);
		each_series(run, check_series, &c);
	}
	family_head(b, "mtaprobe_check_error_info",
		    "The kind and step of the failure a check ended on (only for checks that "
		    "failed).");
	each_series(run, error_series, b);
	each_series(run, row_series, &rs);
	phases(&rs, b);
	starttls_offered(&rs, b);
	tls_version(&rs, b);
	certs(&rs, b);
	versions_accepted(&rs, b);
	relay(&rs, b);
	sts(&rs, b);
	free(rs.v);
}

void report_prometheus(const struct run *run, const char *config, struct strbuf *b)
{
	report_prometheus_checks(run, b);
	strbuf_printf(b,
		      "# HELP mtaprobe_run_timestamp_seconds When this run started.\n"
		      "# TYPE mtaprobe_run_timestamp_seconds gauge\n"
		      "mtaprobe_run_timestamp_seconds{config=\"");
	prom_value(b, config);
	strbuf_printf(b,
		      "\"} %lld\n"
		      "# HELP mtaprobe_run_duration_seconds Wall time of this run.\n"
		      "# TYPE mtaprobe_run_duration_seconds gauge\n"
		      "mtaprobe_run_duration_seconds{config=\"",
		      (long long)run->started);
	prom_value(b, config);
	strbuf_printf(b, "\"} %.6f\n", run->duration);
}

/* JSON string: quotes, backslash and every control byte escaped. */
static void json_str(struct strbuf *b, const char *s)
{
	strbuf_append(b, "\"", 1);
	for (; s && *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			strbuf_printf(b, "\\%c", c);
		else if (c < 0x20 || c >= 0x7f)
			strbuf_printf(b, "\\u%04x", c);
		else
			strbuf_append(b, s, 1);
	}
	strbuf_append(b, "\"", 1);
}

static void json_num(struct strbuf *b, const char *key, double v, bool *first)
{
	if (v < 0)
		return;
	strbuf_printf(b, "%s\"%s\": %.6f", *first ? "" : ", ", key, v);
	*first = false;
}

static void json_result(struct strbuf *b, const struct run_item *it, const struct kept *r)
{
	bool first = true;

	strbuf_append(b, "{\"target\": ", 11);
	json_str(b, it->target->name);
	strbuf_printf(b, ", \"check\": \"%s\", \"host\": ", check_kind_name(it->kind));
	json_str(b, r->host);
	strbuf_append(b, ", \"address\": ", 13);
	json_str(b, r->address);
	strbuf_printf(b, ", \"port\": %d, \"state\": \"%s\", \"exit_code\": %d, \"summary\": ",
		      r->port, state_name(r->state), (int)r->state);
	json_str(b, r->summary);
	strbuf_append(b, ", \"timings\": {", 14);
	json_num(b, "dns", r->t.dns, &first);
	json_num(b, "connect", r->t.connect, &first);
	json_num(b, "banner", r->t.banner, &first);
	json_num(b, "ehlo", r->t.ehlo, &first);
	json_num(b, "starttls", r->t.starttls, &first);
	json_num(b, "handshake", r->t.handshake, &first);
	json_num(b, "total", r->t.total, &first);
	strbuf_append(b, "}", 1);
	if (r->err_kind != ERR_NONE) {
		strbuf_printf(b, ", \"error\": {\"kind\": \"%s\", \"step\": ",
			      err_kind_name(r->err_kind));
		json_str(b, r->err_stage);
		strbuf_append(b, ", \"message\": ", 13);
		json_str(b, r->err_msg);
		strbuf_append(b, "}", 1);
	}
	if (r->greeting_code) {
		strbuf_printf(b, ", \"greeting_code\": %d, \"greeting\": ", r->greeting_code);
		json_str(b, r->greeting);
	}
	if (r->starttls_offered >= 0)
		strbuf_printf(b, ", \"starttls_offered\": %s",
			      r->starttls_offered ? "true" : "false");
	if (r->has_size)
		strbuf_printf(b, ", \"size\": %llu", r->size);
	if (r->ntls) {
		strbuf_append(b, ", \"tls\": [", 10);
		for (int i = 0; i < r->ntls; i++) {
			const struct kept_tls *f = &r->tls[i];

			strbuf_printf(b, "%s{\"version\": ", i ? ", " : "");
			json_str(b, f->version_name);
			strbuf_append(b, ", \"cipher\": ", 12);
			json_str(b, f->cipher);
			strbuf_printf(b, ", \"verified\": %s, \"verify_reason\": ",
				      f->verify_code ? "false" : "true");
			json_str(b, f->verify_code ? f->verify_reason : "");
			strbuf_append(b, ", \"chain\": [", 12);
			for (int k = 0; k < f->ncerts; k++) {
				const struct kept_cert *c = &f->chain[k];

				strbuf_printf(b, "%s{\"subject\": ", k ? ", " : "");
				json_str(b, c->subject);
				strbuf_append(b, ", \"issuer\": ", 12);
				json_str(b, c->issuer);
				strbuf_printf(
					b,
					", \"not_before\": %lld, \"not_after\": %lld, \"key\": \"%s\", "
					"\"bits\": %d, \"signature\": ",
					(long long)c->not_before, (long long)c->not_after,
					c->key_name, c->key_bits);
				json_str(b, c->sig_alg);
				strbuf_append(b, "}", 1);
			}
			strbuf_append(b, "]}", 2);
		}
		strbuf_append(b, "]", 1);
	}
	if (it->kind == CK_STS && r->sts_policy >= 0) {
		static const char *const modes[] = { "", "enforce", "testing", "none" };

		strbuf_printf(b, ", \"sts\": {\"policy\": \"%s\"",
			      r->sts_policy == 0   ? "none"
			      : r->sts_policy == 1 ? "valid"
						   : "invalid");
		if (r->sts_id[0]) {
			strbuf_append(b, ", \"id\": ", 8);
			json_str(b, r->sts_id);
		}
		if (r->sts_policy == 1)
			strbuf_printf(b,
				      ", \"mode\": \"%s\", \"max_age\": %ld, \"mx_total\": %d, "
				      "\"mx_covered\": %d",
				      modes[r->sts_mode >= 1 && r->sts_mode <= 3 ? r->sts_mode : 0],
				      r->sts_max_age, r->sts_mx_total, r->sts_mx_covered);
		strbuf_printf(b, ", \"tlsrpt\": %s}", r->sts_tlsrpt ? "true" : "false");
	}
	if (it->kind == CK_RELAY && r->relay_tests)
		strbuf_printf(b,
			      ", \"relay\": {\"tests\": %d, \"accepted\": %d, \"refused\": %d, "
			      "\"tempfail\": %d}",
			      r->relay_tests, r->relay_accepted, r->relay_refused,
			      r->relay_tempfail);
	if (r->nchildren) {
		strbuf_append(b, ", \"children\": [", 15);
		for (size_t k = 0; k < r->nchildren; k++) {
			if (k)
				strbuf_append(b, ", ", 2);
			json_result(b, it, &r->children[k]);
		}
		strbuf_append(b, "]", 1);
	}
	strbuf_append(b, "}", 1);
}

void report_json(const struct run *run, struct strbuf *b)
{
	strbuf_printf(
		b,
		"{\"version\": \"%s\", \"run\": {\"timestamp\": %lld, \"duration_seconds\": %.6f, "
		"\"checks\": %zu}, \"results\": [",
		MTAPROBE_VERSION, (long long)run->started, run->duration, run->nitems);
	for (size_t i = 0; i < run->nitems; i++) {
		strbuf_append(b, i ? ",\n  " : "\n  ", i ? 4 : 3);
		json_result(b, &run->items[i], &run->items[i].r);
	}
	strbuf_append(b, "\n]}\n", 4);
}

static const char *colour_of(enum state s)
{
	static const char *const c[] = { "\033[32m", "\033[33m", "\033[31m", "\033[35m" };

	return c[s & 3];
}

struct text_ctx {
	struct strbuf *b;
	bool colour;
};

static void text_row(const struct series *s, void *arg)
{
	struct text_ctx *c = arg;
	const struct kept *r = s->r;
	/* the summary starts with the target; the table has its own columns */
	const char *fact = r->summary + r->fact_at;
	char addr[64];

	snprintf(addr, sizeof(addr), "%s", r->address[0] ? r->address : "-");
	strbuf_printf(c->b, "%-16.16s %-8s %-24.24s %-28.28s %s%-8s%s %s\n", s->it->target->name,
		      check_kind_name(s->it->kind), r->host, addr,
		      c->colour ? colour_of(r->state) : "", state_name(r->state),
		      c->colour ? "\033[0m" : "", fact);
}

/* Did r (the same target's previous check) have this problem already? */
static bool said_before(const struct kept *r, const char *text)
{
	for (int k = 0; k < r->nproblems; k++)
		if (strcmp(r->problems[k], text) == 0)
			return true;
	return false;
}

void report_text(const struct run *run, bool colour, struct strbuf *b)
{
	struct text_ctx c = { b, colour };
	size_t n[4] = { 0 };

	strbuf_printf(b, "%-16s %-8s %-24s %-28s %-8s %s\n", "TARGET", "CHECK", "HOST", "ADDRESS",
		      "STATE", "WHAT DECIDED IT");
	each_series(run, text_row, &c);
	/* what an -M target's own result says, such as a cap on what was
	 * checked, once per target (its checks share the MX set) */
	for (size_t i = 0; i < run->nitems; i++) {
		const struct run_item *it = &run->items[i];
		bool first = i == 0 || run->items[i - 1].target != it->target;

		if (it->r.nchildren == 0)
			continue;
		for (int k = 0; k < it->r.nproblems; k++)
			if (first || !said_before(&run->items[i - 1].r, it->r.problems[k]))
				strbuf_printf(b, "%-16.16s %-8s %s\n", it->target->name,
					      check_kind_name(it->kind), it->r.problems[k]);
	}
	for (size_t i = 0; i < run->nitems; i++)
		n[run->items[i].r.state & 3]++;
	strbuf_printf(b, "\n%zu checks in %.2fs: %zu OK, %zu WARNING, %zu CRITICAL, %zu UNKNOWN\n",
		      run->nitems, run->duration, n[0], n[1], n[2], n[3]);
}
