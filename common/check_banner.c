/* check_banner.c - greeting, EHLO (HELO fallback), QUIT (SPEC §5
 * check_mta_banner).  The client sends nothing before the whole greeting
 * has arrived: early talkers are dropped by postscreen and greet_pause. */
#include <stdio.h>
#include <string.h>

#include "check.h"

/* Facts line: "220 <first greeting line> (0.041s)". */
static void greeting_facts(struct result *r, const struct smtp_reply *g)
{
	size_t len;
	const char *s = smtp_reply_line(g, 0, &len);

	sanitize(r->greeting, sizeof(r->greeting), s ? s : "", s ? len : 0, 200);
	snprintf(r->facts, sizeof(r->facts), "%d %s (%.3fs)", g->code, r->greeting, r->t.banner);
	for (int i = 0; i < g->nlines; i++) {
		char clean[512];

		s = smtp_reply_line(g, i, &len);
		strbuf_printf(&r->detail, "greeting: %d%c%s\n", g->code, i + 1 < g->nlines ? '-' : ' ',
			      sanitize(clean, sizeof(clean), s, len, 400));
	}
}

static bool greeting_contains(const struct smtp_reply *g, const char *needle)
{
	size_t nlen = strlen(needle);

	for (int i = 0; i < g->nlines; i++) {
		size_t len;
		const char *s = smtp_reply_line(g, i, &len);

		if (nlen <= len && memmem(s, len, needle, nlen) != NULL)
			return true;
	}
	return false;
}

static void first_line(const struct smtp_reply *rep, char *out, size_t out_size)
{
	size_t len;
	const char *s = smtp_reply_line(rep, 0, &len);
	char clean[256];

	snprintf(out, out_size, "%d %s", rep->code, s ? sanitize(clean, sizeof(clean), s, len, 160) : "");
}

/* EHLO, falling back to HELO on a 5xx (RFC 5321 §4.1.4).  Returns 1 with
 * caps when EHLO succeeded, 0 when only HELO did or neither was accepted
 * (recorded on r), -1 on a connection or protocol failure (recorded). */
static int greet(const struct check_cfg *cfg, struct conn *c, struct result *r,
		 struct smtp_reply *rep, struct smtp_caps *caps)
{
	char name[300], cmd[320], ehlo_reply[300], helo_reply[300];
	int64_t t0 = mono_now_us();

	check_ehlo_name(cfg, c, name, sizeof(name));
	snprintf(cmd, sizeof(cmd), "EHLO %s", name);
	if (conn_command(c, cmd, rep, "EHLO", &r->err) < 0) {
		check_fail(cfg, r, &r->err);
		return -1;
	}
	r->t.ehlo = us_to_s(mono_now_us() - t0);
	if (rep->code == 250) {
		smtp_caps_parse(rep, caps);
		for (int i = 0; i < caps->nkw; i++)
			strbuf_printf(&r->detail, "extension: %s\n", caps->kw[i]);
		return 1;
	}
	first_line(rep, ehlo_reply, sizeof(ehlo_reply));
	if (rep->code / 100 != 5) {
		result_raise(r, STATE_WARNING, "EHLO %s refused: %s", name, ehlo_reply);
		return 0;
	}
	snprintf(cmd, sizeof(cmd), "HELO %s", name);
	if (conn_command(c, cmd, rep, "HELO", &r->err) < 0) {
		check_fail(cfg, r, &r->err);
		return -1;
	}
	r->t.ehlo = us_to_s(mono_now_us() - t0);
	if (rep->code == 250) {
		strbuf_printf(&r->detail, "EHLO refused (%s), HELO accepted: no extensions\n", ehlo_reply);
		return 0;
	}
	first_line(rep, helo_reply, sizeof(helo_reply));
	result_raise(r, STATE_WARNING, "EHLO and HELO %s refused: %s / %s", name, ehlo_reply, helo_reply);
	return 0;
}

static void require_extensions(const struct check_cfg *cfg, const struct smtp_caps *caps,
			       struct result *r)
{
	char missing[256] = "";
	const char *p = cfg->require_ext;

	while (p && *p) {
		size_t n = strcspn(p, ",");
		char kw[64];

		if (n > 0 && n < sizeof(kw)) {
			memcpy(kw, p, n);
			kw[n] = '\0';
			if (!smtp_caps_has(caps, kw)) {
				size_t m = strlen(missing);

				snprintf(missing + m, sizeof(missing) - m, "%s%s", m ? "," : "", kw);
			}
		}
		p += n + (p[n] == ',');
	}
	if (missing[0])
		result_raise(r, STATE_WARNING, "extension %s not advertised", missing);
}

static void banner_dialogue(const struct check_cfg *cfg, struct conn *c, struct result *r)
{
	struct smtp_reply rep;
	struct smtp_caps caps;
	int rc;

	memset(&caps, 0, sizeof(caps));
	smtp_reply_init(&rep);
	if (conn_read_reply(c, &rep, "greeting", &r->err) < 0) {
		check_fail(cfg, r, &r->err);
		goto out;
	}
	r->t.banner = us_to_s(mono_now_us() - c->connect_start_us);
	r->greeting_code = rep.code;
	greeting_facts(r, &rep);
	if (rep.code != 220) {
		/* RFC 5321 §3.1: after 554 the client should QUIT; after 421 the
		 * server closes.  Either way the greeting decides. */
		result_raise(r, STATE_CRITICAL, "greeting refused with %d", rep.code);
		if (rep.code != 421)
			check_quit(c, &rep);
		goto out;
	}
	if (cfg->expect && !greeting_contains(&rep, cfg->expect))
		result_raise(r, STATE_WARNING, "greeting does not contain '%s'", cfg->expect);
	rc = greet(cfg, c, r, &rep, &caps);
	if (rc < 0)
		goto out;
	if (caps.has_size) {
		r->has_size = true;
		r->size = caps.size;
		result_perf(r, "size", (double)caps.size, "B", 0, NULL, NULL);
	}
	if (cfg->require_ext)
		require_extensions(cfg, &caps, r);
	check_quit(c, &rep);
out:
	smtp_reply_free(&rep);
}

const struct check_def check_banner = {
	.name = "BANNER",
	.threshold_label = "banner",
	.threshold_what = "greeting",
	.dialogue = banner_dialogue,
};
