/* result.c - see result.h */
#include "lib/result.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *state_name(enum state s)
{
	switch (s) {
	case STATE_OK:
		return "OK";
	case STATE_WARNING:
		return "WARNING";
	case STATE_CRITICAL:
		return "CRITICAL";
	default:
		return "UNKNOWN";
	}
}

static int severity(enum state s)
{
	static const int rank[] = { 0, 2, 3, 1 };

	return rank[(unsigned)s & 3];
}

enum state state_worst(enum state a, enum state b)
{
	return severity(b) > severity(a) ? b : a;
}

void result_init(struct result *r, const char *check, const char *host, int port)
{
	memset(r, 0, sizeof(*r));
	r->check = check;
	r->port = port;
	snprintf(r->host, sizeof(r->host), "%s", host ? host : "");
	snprintf(r->target, sizeof(r->target), "%s:%d", r->host, port);
	r->sts_policy = -1;
	r->versions_below = -1;
	memset(r->scan, -1, sizeof(r->scan));
	r->t = (struct timings){ -1, -1, -1, -1, -1, -1, -1 };
	r->starttls_offered = -1;
	strbuf_init(&r->detail, 16384);
	strbuf_init(&r->transcript, 65536);
}

void result_free(struct result *r)
{
	if (r == NULL)
		return;
	strbuf_free(&r->detail);
	strbuf_free(&r->transcript);
	free(r->tls);
	r->tls = NULL;
	for (size_t i = 0; i < r->nchildren; i++)
		result_free(&r->children[i]);
	free(r->children);
	r->children = NULL;
	r->nchildren = 0;
}

struct result *result_new(const char *check, const char *host, int port)
{
	struct result *r = malloc(sizeof(*r));

	if (r != NULL)
		result_init(r, check, host, port);
	return r;
}

void result_delete(struct result *r)
{
	result_free(r);
	free(r);
}

struct tls_facts *result_tls(struct result *r, int i)
{
	if (r->tls == NULL)
		r->tls = calloc(2, sizeof(*r->tls));
	return r->tls ? &r->tls[i] : NULL;
}

static void raise_v(struct result *r, enum state s, const char *fmt, va_list ap)
{
	struct problem *p;

	r->state = state_worst(r->state, s);
	if (r->nproblems == RESULT_MAX_PROBLEMS)
		return;
	p = &r->problems[r->nproblems++];
	p->state = s;
	vsnprintf(p->text, sizeof(p->text), fmt, ap);
}

void result_raise(struct result *r, enum state s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	raise_v(r, s, fmt, ap);
	va_end(ap);
}

void result_fail(struct result *r, enum state s, enum err_kind kind, const char *step,
		 const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (r->err.kind == ERR_NONE) {
		va_list copy;

		va_copy(copy, ap);
		r->err.kind = kind;
		snprintf(r->err.stage, sizeof(r->err.stage), "%s", step);
		vsnprintf(r->err.msg, sizeof(r->err.msg), fmt, copy);
		va_end(copy);
	}
	raise_v(r, s, fmt, ap);
	va_end(ap);
}

void result_perf(struct result *r, const char *label, double value, const char *uom, int decimals,
		 const struct range *warn, const struct range *crit)
{
	struct perf *p;

	if (r->nperf == RESULT_MAX_PERF)
		return;
	p = &r->perf[r->nperf++];
	memset(p, 0, sizeof(*p));
	snprintf(p->label, sizeof(p->label), "%s", label);
	p->value = value;
	p->uom = uom ? uom : "";
	p->decimals = decimals;
	if (warn && warn->set)
		snprintf(p->warn, sizeof(p->warn), "%s", warn->text);
	if (crit && crit->set)
		snprintf(p->crit, sizeof(p->crit), "%s", crit->text);
	p->has_min = true;
	p->min = 0;
}

void result_perf_timings(struct result *r, const char *thresholded, const struct range *warn,
			 const struct range *crit)
{
	const struct {
		const char *label;
		double v;
	} t[] = {
		{ "dns", r->t.dns },	       { "connect", r->t.connect },
		{ "banner", r->t.banner },     { "ehlo", r->t.ehlo },
		{ "starttls", r->t.starttls }, { "handshake", r->t.handshake },
		{ "time", r->t.total },
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		bool th = thresholded && strcmp(thresholded, t[i].label) == 0;

		if (t[i].v >= 0)
			result_perf(r, t[i].label, t[i].v, "s", 6, th ? warn : NULL,
				    th ? crit : NULL);
	}
}
