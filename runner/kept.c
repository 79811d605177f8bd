/* kept.c - what a finished check keeps (runner.h, struct kept) */
#include "runner/runner.h"

#include <stdlib.h>
#include <string.h>

#include "lib/nagios.h"

static const char empty[] = "";
static const char oom_summary[] = "out of memory keeping the result";

/* s copied, "" shared; on out of memory "" and *oom set. */
static const char *keep_str(const char *s, bool *oom)
{
	char *c;

	if (s == NULL || *s == '\0')
		return empty;
	c = strdup(s);
	if (c == NULL) {
		*oom = true;
		return empty;
	}
	return c;
}

static const char unknown[] = "?";

static void drop_str(const char *s)
{
	if (s != empty && s != oom_summary && s != unknown)
		free((char *)s);
}

static void keep_tls(struct kept_tls *k, const struct tls_facts *f, bool *oom)
{
	k->verify_code = f->verify_code;
	k->version_name = keep_str(f->version_name, oom);
	k->cipher = keep_str(f->cipher, oom);
	k->verify_reason = keep_str(f->verify_code ? f->verify_reason : "", oom);
	k->ncerts = 0;
	k->chain = f->ncerts > 0 ? calloc((size_t)f->ncerts, sizeof(*k->chain)) : NULL;
	if (f->ncerts > 0 && k->chain == NULL) {
		*oom = true;
		return;
	}
	for (int i = 0; i < f->ncerts; i++) {
		const struct cert_facts *c = &f->chain[i];
		struct kept_cert *d = &k->chain[i];

		d->not_before = c->not_before;
		d->not_after = c->not_after;
		d->key_bits = c->key_bits;
		d->subject = keep_str(c->subject, oom);
		d->issuer = keep_str(c->issuer, oom);
		d->key_name = keep_str(c->key_name, oom);
		d->sig_alg = keep_str(c->sig_alg, oom);
		k->ncerts++;
	}
}

static void keep(struct kept *k, const struct result *r, bool *oom)
{
	char summary[2048];
	size_t tl = strlen(r->target);

	memset(k, 0, sizeof(*k));
	k->state = r->state;
	k->port = r->port;
	k->host = keep_str(r->host, oom);
	k->address = keep_str(r->address, oom);
	nagios_summary(r, summary, sizeof(summary));
	k->summary = keep_str(summary, oom);
	/* the table's words: the own summary after the target, which is the
	 * summary itself unless children speak for r */
	if ((r->nchildren == 0 || r->summary_own) && strncmp(k->summary, r->target, tl) == 0) {
		k->fact_at = tl;
		while (k->summary[k->fact_at] == ' ')
			k->fact_at++;
	}
	k->t = r->t;
	k->err_kind = r->err.kind;
	memcpy(k->err_stage, r->err.stage, sizeof(k->err_stage));
	k->err_stage[sizeof(k->err_stage) - 1] = '\0';
	k->err_msg = keep_str(r->err.kind != ERR_NONE ? r->err.msg : "", oom);
	k->greeting_code = r->greeting_code;
	k->greeting = keep_str(r->greeting_code ? r->greeting : "", oom);
	k->has_size = r->has_size;
	k->size = r->size;
	k->starttls_offered = r->starttls_offered;
	memcpy(k->scan, r->scan, sizeof(k->scan));
	k->relay_tests = r->relay_tests;
	k->relay_accepted = r->relay_accepted;
	k->relay_refused = r->relay_refused;
	k->relay_tempfail = r->relay_tempfail;
	k->sts_policy = r->sts_policy;
	k->sts_mode = r->sts_mode;
	k->sts_max_age = r->sts_max_age;
	k->sts_mx_total = r->sts_mx_total;
	k->sts_mx_covered = r->sts_mx_covered;
	k->sts_tlsrpt = r->sts_tlsrpt;
	k->sts_id = keep_str(r->sts_id, oom);
	k->summary_own = r->summary_own;
	if (r->ntls > 0 && r->tls != NULL) {
		k->tls = calloc((size_t)r->ntls, sizeof(*k->tls));
		if (k->tls == NULL)
			*oom = true;
		for (int i = 0; k->tls && i < r->ntls; i++) {
			keep_tls(&k->tls[i], &r->tls[i], oom);
			k->ntls++;
		}
	}
	if (r->nchildren > 0) {
		if (r->nproblems > 0) {
			k->problems = calloc((size_t)r->nproblems, sizeof(*k->problems));
			if (k->problems == NULL)
				*oom = true;
			for (int i = 0; k->problems && i < r->nproblems; i++) {
				k->problems[i] = keep_str(r->problems[i].text, oom);
				k->nproblems++;
			}
		}
		k->children = calloc(r->nchildren, sizeof(*k->children));
		if (k->children == NULL)
			*oom = true;
		for (size_t i = 0; k->children && i < r->nchildren; i++) {
			keep(&k->children[i], &r->children[i], oom);
			k->nchildren++;
		}
	}
}

int kept_from(struct kept *k, const struct result *r)
{
	bool oom = false;

	keep(k, r, &oom);
	if (!oom)
		return 0;
	kept_free(k);
	memset(k, 0, sizeof(*k));
	/* what the check found is lost: not known, rather than its state
	 * without its reasons */
	k->state = STATE_UNKNOWN;
	k->port = r->port;
	oom = false;
	k->host = keep_str(r->host, &oom);
	k->address = keep_str(r->address, &oom);
	if (oom) {
		drop_str(k->host);
		drop_str(k->address);
		k->host = k->address = unknown;
	}
	k->err_msg = k->greeting = k->sts_id = empty;
	k->summary = oom_summary;
	k->err_kind = ERR_INTERNAL;
	k->starttls_offered = -1;
	k->sts_policy = -1;
	k->t = (struct timings){ -1, -1, -1, -1, -1, -1, r->t.total };
	memset(k->scan, -1, sizeof(k->scan));
	return -1;
}

void kept_free(struct kept *k)
{
	drop_str(k->host); /* (NULL in what was never kept: free(NULL)) */
	drop_str(k->address);
	drop_str(k->summary);
	drop_str(k->err_msg);
	drop_str(k->greeting);
	drop_str(k->sts_id);
	for (int i = 0; i < k->ntls; i++) {
		struct kept_tls *t = &k->tls[i];

		drop_str(t->version_name);
		drop_str(t->cipher);
		drop_str(t->verify_reason);
		for (int c = 0; c < t->ncerts; c++) {
			drop_str(t->chain[c].subject);
			drop_str(t->chain[c].issuer);
			drop_str(t->chain[c].key_name);
			drop_str(t->chain[c].sig_alg);
		}
		free(t->chain);
	}
	free(k->tls);
	for (int i = 0; i < k->nproblems; i++)
		drop_str(k->problems[i]);
	free(k->problems);
	for (size_t i = 0; i < k->nchildren; i++)
		kept_free(&k->children[i]);
	free(k->children);
	memset(k, 0, sizeof(*k));
}
