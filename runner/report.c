/* report.c - see report.h */
#include "runner/report.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "lib/nagios.h"
#include "cli/options.h"

/* One series: an item's own result, or one of its children (-M). */
struct series {
	const struct run_item *it;
	const struct result *r;
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
	for (; *v; v++) {
		if (*v == '\\' || *v == '"')
			strbuf_printf(b, "\\%c", *v);
		else if (*v == '\n')
			strbuf_append(b, "\\n", 2);
		else
			strbuf_append(b, v, 1);
	}
}

/* The series' labels, then up to two more (names NULL when not wanted). */
static void prom_labels(struct strbuf *b, const struct series *s, const char *extra_name,
			const char *extra_value, const char *name2, const char *value2)
{
	const struct target *t = s->it->target;

	strbuf_append(b, "{target=\"", 9);
	prom_value(b, t->name);
	strbuf_printf(b, "\",check=\"%s\",host=\"", check_kind_name(s->it->kind));
	prom_value(b, s->r->host);
	strbuf_append(b, "\",address=\"", 11);
	prom_value(b, s->r->address);
	strbuf_printf(b, "\",port=\"%d\"", t->cfg.port);
	for (int i = 0; i < t->nlabels; i++) {
		strbuf_printf(b, ",%s=\"", t->labels[i].name);
		prom_value(b, t->labels[i].value);
		strbuf_append(b, "\"", 1);
	}
	if (extra_name) {
		strbuf_printf(b, ",%s=\"", extra_name);
		prom_value(b, extra_value);
		strbuf_append(b, "\"", 1);
	}
	if (name2) {
		strbuf_printf(b, ",%s=\"", name2);
		prom_value(b, value2);
		strbuf_append(b, "\"", 1);
	}
	strbuf_append(b, "}", 1);
}

struct family {
	const char *name, *help;
	/* the value for a series, or false when it has none */
	bool (*value)(const struct series *s, double *v, const char **lname, const char **lval);
};

static bool v_state(const struct series *s, double *v, const char **n, const char **l)
{
	(void)n, (void)l;
	*v = s->r->state;
	return true;
}

static bool v_success(const struct series *s, double *v, const char **n, const char **l)
{
	(void)n, (void)l;
	*v = s->r->state == STATE_OK;
	return true;
}

static bool v_total(const struct series *s, double *v, const char **n, const char **l)
{
	(void)n, (void)l;
	*v = s->r->t.total;
	return *v >= 0;
}

static bool v_connect(const struct series *s, double *v, const char **n, const char **l)
{
	(void)n, (void)l;
	*v = s->r->t.connect;
	return *v >= 0;
}

static bool v_banner(const struct series *s, double *v, const char **n, const char **l)
{
	(void)n, (void)l;
	*v = s->r->t.banner;
	return *v >= 0;
}

static bool v_handshake(const struct series *s, double *v, const char **n, const char **l)
{
	(void)n, (void)l;
	*v = s->r->t.handshake;
	return *v >= 0;
}

static bool v_starttls(const struct series *s, double *v, const char **n, const char **l)
{
	(void)n, (void)l;
	*v = s->r->starttls_offered;
	return s->r->starttls_offered >= 0;
}

static bool v_tls_version(const struct series *s, double *v, const char **n, const char **l)
{
	if (s->r->ntls == 0)
		return false;
	*v = 1;
	*n = "version";
	*l = s->r->tls[0].version_name;
	return true;
}

static bool has_cert(const struct series *s)
{
	return s->it->kind == CK_CERT && s->r->ntls > 0 && s->r->tls[0].ncerts > 0;
}

static bool v_not_after(const struct series *s, double *v, const char **n, const char **l)
{
	(void)n, (void)l;
	if (!has_cert(s))
		return false;
	*v = (double)s->r->tls[0].chain[0].not_after;
	for (int i = 1; i < s->r->ntls; i++) /* a dual-certificate server: the earlier */
		if (s->r->tls[i].ncerts > 0 && s->r->tls[i].chain[0].not_after < *v)
			*v = (double)s->r->tls[i].chain[0].not_after;
	return true;
}

static bool v_chain(const struct series *s, double *v, const char **n, const char **l)
{
	(void)n, (void)l;
	if (!has_cert(s))
		return false;
	*v = INFINITY;
	for (int i = 0; i < s->r->ntls; i++)
		for (int k = 0; k < s->r->tls[i].ncerts; k++)
			if (s->r->tls[i].chain[k].not_after < *v)
				*v = (double)s->r->tls[i].chain[k].not_after;
	return true;
}

static bool v_verified(const struct series *s, double *v, const char **n, const char **l)
{
	(void)n, (void)l;
	if (!has_cert(s))
		return false;
	*v = 1;
	for (int i = 0; i < s->r->ntls; i++)
		if (s->r->tls[i].verify_code != 0)
			*v = 0;
	return true;
}

static bool v_relay(const struct series *s, double *v, const char **n, const char **l)
{
	(void)n, (void)l;
	if (s->it->kind != CK_RELAY || s->r->relay_tests == 0)
		return false;
	*v = s->r->relay_accepted;
	return true;
}

static const struct family families[] = {
	{ "mtaprobe_check_state", "State of the check: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.",
	  v_state },
	{ "mtaprobe_check_success", "1 if the check was OK, else 0.", v_success },
	{ "mtaprobe_check_duration_seconds", "Wall time of the whole check.", v_total },
	{ "mtaprobe_connect_duration_seconds", "Time to establish the TCP connection.", v_connect },
	{ "mtaprobe_banner_duration_seconds",
	  "Time from the start of connect to the complete greeting.", v_banner },
	{ "mtaprobe_tls_handshake_duration_seconds", "Time of the TLS handshake.", v_handshake },
	{ "mtaprobe_starttls_offered", "1 if EHLO advertised STARTTLS, else 0.", v_starttls },
	{ "mtaprobe_tls_version_info", "The negotiated TLS protocol version.", v_tls_version },
	{ "mtaprobe_cert_not_after_timestamp_seconds",
	  "Expiry of the server certificate (the earliest of a dual RSA+ECDSA server).",
	  v_not_after },
	{ "mtaprobe_cert_chain_earliest_not_after_timestamp_seconds",
	  "Earliest expiry in the certificate chain sent by the server.", v_chain },
	{ "mtaprobe_cert_verified", "1 if chain and host name verified, else 0.", v_verified },
	{ "mtaprobe_relay_accepted",
	  "Relay tests whose RCPT the server accepted (0: refuses to relay).", v_relay },
};

/* check_mta_sts's facts belong to the domain, not to an MX address: one
 * series per target (the top result), only where a policy is announced. */
static bool sts_valid(const struct series *s)
{
	return s->it->kind == CK_STS && s->r->sts_policy == 1;
}

static bool v_sts_valid(const struct series *s, double *v, const char **n, const char **l)
{
	(void)n, (void)l;
	if (s->it->kind != CK_STS || s->r->sts_policy < 1)
		return false;
	*v = s->r->sts_policy == 1;
	return true;
}

static bool v_sts_mode(const struct series *s, double *v, const char **n, const char **l)
{
	static const char *const modes[] = { "", "enforce", "testing", "none" };

	if (!sts_valid(s) || s->r->sts_mode < 1 || s->r->sts_mode > 3)
		return false;
	*v = 1;
	*n = "mode";
	*l = modes[s->r->sts_mode];
	return true;
}

static bool v_sts_max_age(const struct series *s, double *v, const char **n, const char **l)
{
	(void)n, (void)l;
	if (!sts_valid(s))
		return false;
	*v = (double)s->r->sts_max_age;
	return true;
}

static bool v_sts_uncovered(const struct series *s, double *v, const char **n, const char **l)
{
	(void)n, (void)l;
	if (!sts_valid(s) || s->r->sts_mode == 3 /* none */)
		return false;
	*v = s->r->sts_mx_total - s->r->sts_mx_covered;
	return true;
}

static const struct family sts_families[] = {
	{ "mtaprobe_sts_policy_valid",
	  "1 if the domain's announced MTA-STS policy was fetched and is valid, else 0.",
	  v_sts_valid },
	{ "mtaprobe_sts_mode_info", "The MTA-STS policy's mode.", v_sts_mode },
	{ "mtaprobe_sts_max_age_seconds", "The MTA-STS policy's max_age.", v_sts_max_age },
	{ "mtaprobe_sts_mx_uncovered", "MX hosts no mx: pattern of the MTA-STS policy matches.",
	  v_sts_uncovered },
};

struct fam_ctx {
	const struct family *f;
	struct strbuf *b;
};

static void fam_series(const struct series *s, void *arg)
{
	struct fam_ctx *c = arg;
	const char *lname = NULL, *lval = NULL;
	double v;

	if (!c->f->value(s, &v, &lname, &lval))
		return;
	strbuf_printf(c->b, "%s", c->f->name);
	prom_labels(c->b, s, lname, lval, NULL, NULL);
	if (v == floor(v) && fabs(v) < 1e15)
		strbuf_printf(c->b, " %.0f\n", v);
	else
		strbuf_printf(c->b, " %.9g\n", v);
}

static void error_series(const struct series *s, void *arg)
{
	struct strbuf *b = arg;

	if (s->r->err.kind == ERR_NONE)
		return;
	strbuf_printf(b, "mtaprobe_check_error_info");
	prom_labels(b, s, "kind", err_kind_name(s->r->err.kind), "step", s->r->err.stage);
	strbuf_append(b, " 1\n", 3);
}

void report_prometheus_checks(const struct run *run, struct strbuf *b)
{
	for (size_t i = 0; i < sizeof(families) / sizeof(families[0]); i++) {
		struct fam_ctx c = { &families[i], b };

		strbuf_printf(b, "# HELP %s %s\n# TYPE %s gauge\n", families[i].name,
			      families[i].help, families[i].name);
		each_series(run, fam_series, &c);
	}
	for (size_t i = 0; i < sizeof(sts_families) / sizeof(sts_families[0]); i++) {
		struct fam_ctx c = { &sts_families[i], b };

		strbuf_printf(b, "# HELP %s %s\n# TYPE %s gauge\n", sts_families[i].name,
			      sts_families[i].help, sts_families[i].name);
		for (size_t k = 0; k < run->nitems; k++) {
			struct series s = { &run->items[k], &run->items[k].r };

			fam_series(&s, &c);
		}
	}
	/* --scan-versions (scan_versions: true): one series per version asked */
	strbuf_printf(b,
		      "# HELP mtaprobe_tls_version_accepted 1 if the server completed a "
		      "handshake pinned to that protocol version (below min_tls), else 0.\n"
		      "# TYPE mtaprobe_tls_version_accepted gauge\n");
	for (size_t k = 0; k < run->nitems; k++) {
		const struct run_item *it = &run->items[k];
		static const char *const names[] = { "TLSv1", "TLSv1.1", "TLSv1.2" };

		for (size_t c = 0; c < (it->r.nchildren ? it->r.nchildren : 1); c++) {
			struct series s = { it, it->r.nchildren ? &it->r.children[c] : &it->r };

			for (int v = 0; v < 3; v++) {
				if (it->kind != CK_STARTTLS || s.r->scan[v] < 0)
					continue;
				strbuf_printf(b, "mtaprobe_tls_version_accepted");
				prom_labels(b, &s, "version", names[v], NULL, NULL);
				strbuf_printf(b, " %d\n", s.r->scan[v]);
			}
		}
	}
	strbuf_printf(b,
		      "# HELP mtaprobe_check_error_info The kind and step of the failure a check "
		      "ended on (only for checks that failed).\n"
		      "# TYPE mtaprobe_check_error_info gauge\n");
	each_series(run, error_series, b);
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

static void json_result(struct strbuf *b, const struct run_item *it, const struct result *r)
{
	char summary[2048];
	bool first = true;

	nagios_summary(r, summary, sizeof(summary));
	strbuf_append(b, "{\"target\": ", 11);
	json_str(b, it->target->name);
	strbuf_printf(b, ", \"check\": \"%s\", \"host\": ", check_kind_name(it->kind));
	json_str(b, r->host);
	strbuf_append(b, ", \"address\": ", 13);
	json_str(b, r->address);
	strbuf_printf(b, ", \"port\": %d, \"state\": \"%s\", \"exit_code\": %d, \"summary\": ",
		      r->port, state_name(r->state), (int)r->state);
	json_str(b, summary);
	strbuf_append(b, ", \"timings\": {", 14);
	json_num(b, "dns", r->t.dns, &first);
	json_num(b, "connect", r->t.connect, &first);
	json_num(b, "banner", r->t.banner, &first);
	json_num(b, "ehlo", r->t.ehlo, &first);
	json_num(b, "starttls", r->t.starttls, &first);
	json_num(b, "handshake", r->t.handshake, &first);
	json_num(b, "total", r->t.total, &first);
	strbuf_append(b, "}", 1);
	if (r->err.kind != ERR_NONE) {
		strbuf_printf(b, ", \"error\": {\"kind\": \"%s\", \"step\": ",
			      err_kind_name(r->err.kind));
		json_str(b, r->err.stage);
		strbuf_append(b, ", \"message\": ", 13);
		json_str(b, r->err.msg);
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
			const struct tls_facts *f = &r->tls[i];

			strbuf_printf(b, "%s{\"version\": ", i ? ", " : "");
			json_str(b, f->version_name);
			strbuf_append(b, ", \"cipher\": ", 12);
			json_str(b, f->cipher);
			strbuf_printf(b, ", \"verified\": %s, \"verify_reason\": ",
				      f->verify_code ? "false" : "true");
			json_str(b, f->verify_code ? f->verify_reason : "");
			strbuf_append(b, ", \"chain\": [", 12);
			for (int k = 0; k < f->ncerts; k++) {
				const struct cert_facts *c = &f->chain[k];

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
	const struct result *r = s->r;
	char summary[2048], addr[64];
	const char *fact;

	nagios_own_summary(r, summary, sizeof(summary));
	/* the summary starts with the target; the table has its own columns */
	fact = summary + strlen(r->target);
	while (*fact == ' ')
		fact++;
	snprintf(addr, sizeof(addr), "%s", r->address[0] ? r->address : "-");
	strbuf_printf(c->b, "%-16.16s %-8s %-24.24s %-28.28s %s%-8s%s %s\n", s->it->target->name,
		      check_kind_name(s->it->kind), r->host, addr,
		      c->colour ? colour_of(r->state) : "", state_name(r->state),
		      c->colour ? "\033[0m" : "", fact);
}

/* Did r (the same target's previous check) have this problem already? */
static bool said_before(const struct result *r, const char *text)
{
	for (int k = 0; k < r->nproblems; k++)
		if (strcmp(r->problems[k].text, text) == 0)
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
			if (first || !said_before(&run->items[i - 1].r, it->r.problems[k].text))
				strbuf_printf(b, "%-16.16s %-8s %s\n", it->target->name,
					      check_kind_name(it->kind), it->r.problems[k].text);
	}
	for (size_t i = 0; i < run->nitems; i++)
		n[run->items[i].r.state & 3]++;
	strbuf_printf(b, "\n%zu checks in %.2fs: %zu OK, %zu WARNING, %zu CRITICAL, %zu UNKNOWN\n",
		      run->nitems, run->duration, n[0], n[1], n[2], n[3]);
}
