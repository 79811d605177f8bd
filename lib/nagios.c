/* nagios.c - see nagios.h */
#include "lib/nagios.h"
#include "lib/unittest.h"

#include <stdio.h>
#include <string.h>

/* Problems in order of severity, joined by "; ", then the facts. */
void nagios_own_summary(const struct result *r, char *out, size_t out_size)
{
	static const enum state order[] = { STATE_CRITICAL, STATE_WARNING, STATE_UNKNOWN,
					    STATE_OK };
	size_t o = 0;

	o += (size_t)snprintf(out, out_size, "%s", r->target);
	for (size_t k = 0; k < sizeof(order) / sizeof(order[0]); k++)
		for (int i = 0; i < r->nproblems && o < out_size; i++)
			if (r->problems[i].state == order[k])
				o += (size_t)snprintf(out + o, out_size - o, "%s%s",
						      o > strlen(r->target) ? "; " : " ",
						      r->problems[i].text);
	if (r->facts[0] && o < out_size)
		snprintf(out + o, out_size - o, "%s%s", r->nproblems ? "; " : " ", r->facts);
}

void nagios_summary(const struct result *r, char *out, size_t out_size)
{
	size_t nok = 0, worst = 0;

	if (r->nchildren == 0 || r->summary_own) {
		nagios_own_summary(r, out, out_size);
		return;
	}
	for (size_t i = 0; i < r->nchildren; i++) {
		if (r->children[i].state == STATE_OK)
			nok++;
		if (state_worst(r->children[worst].state, r->children[i].state) !=
		    r->children[worst].state)
			worst = i;
	}
	if (nok == r->nchildren) {
		snprintf(out, out_size, "%s: %zu of %zu addresses OK", r->host, nok, r->nchildren);
	} else {
		char child[1024];

		nagios_own_summary(&r->children[worst], child, sizeof(child));
		snprintf(out, out_size, "%s: %zu of %zu addresses failed: %s", r->host,
			 r->nchildren - nok, r->nchildren, child);
	}
	/* what the parent itself found, such as a cap on what was checked */
	for (int i = 0; i < r->nproblems; i++) {
		size_t o = strlen(out);

		snprintf(out + o, out_size - o, "; %s", r->problems[i].text);
	}
}

static bool label_plain(const char *s)
{
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '_' || *s == '.' || *s == '-'))
			return false;
	return true;
}

UNITTEST void nagios_perf_item(struct strbuf *b, const char *prefix, const struct perf *p)
{
	char label[320];

	snprintf(label, sizeof(label), "%s%s%s", prefix ? prefix : "", prefix ? "_" : "", p->label);
	for (char *s = label; *s; s++)
		if (*s == '\'' || *s == '=' || *s == ' ')
			*s = '_';
	if (label_plain(label))
		strbuf_printf(b, "%s=", label);
	else
		strbuf_printf(b, "'%s'=", label);
	strbuf_printf(b, "%.*f%s;%s;%s;", p->decimals, p->value, p->uom, p->warn, p->crit);
	if (p->has_min)
		strbuf_printf(b, "%.0f", p->min);
	strbuf_append(b, ";", 1);
}

static void perf_all(const struct result *r, const char *prefix, struct strbuf *b)
{
	for (int i = 0; i < r->nperf; i++) {
		if (b->len > 0 && b->s[b->len - 1] != ' ')
			strbuf_append(b, " ", 1);
		nagios_perf_item(b, prefix, &r->perf[i]);
	}
}

static void append_block(struct strbuf *b, const char *indent, const struct strbuf *text)
{
	const char *s = strbuf_str(text);

	while (*s) {
		const char *nl = strchr(s, '\n');
		size_t n = nl ? (size_t)(nl - s) : strlen(s);

		strbuf_printf(b, "%s%.*s\n", indent, (int)n, s);
		s += n + (nl ? 1 : 0);
	}
}

void nagios_output(const struct result *r, int verbosity, struct strbuf *b)
{
	char summary[2048];

	nagios_summary(r, summary, sizeof(summary));
	strbuf_printf(b, "MTA %s %s - %s", r->check, state_name(r->state), summary);
	if (r->nperf > 0 || r->nchildren > 0) {
		size_t before = b->len, mark;

		strbuf_append(b, " | ", 3);
		mark = b->len;
		perf_all(r, NULL, b);
		for (size_t i = 0; i < r->nchildren; i++) {
			const struct result *c = &r->children[i];
			char prefix[320];

			snprintf(prefix, sizeof(prefix), "%s_%s", c->host,
				 c->address[0] ? c->address : "none");
			perf_all(c, prefix, b);
		}
		if (b->len == mark && mark == before + 3) { /* nothing after all: drop " | " */
			b->len = before;
			b->s[b->len] = '\0';
		}
	}
	strbuf_append(b, "\n", 1);
	for (size_t i = 0; i < r->nchildren; i++) {
		const struct result *c = &r->children[i];
		char line[2048];

		nagios_own_summary(c, line, sizeof(line));
		strbuf_printf(b, "[%s] %s\n", state_name(c->state), line);
		if (verbosity >= 1)
			append_block(b, "    ", &c->detail);
		if (verbosity >= 3)
			append_block(b, "    ", &c->transcript);
	}
	if (verbosity >= 1)
		append_block(b, "", &r->detail);
	if (verbosity >= 3)
		append_block(b, "", &r->transcript);
}
