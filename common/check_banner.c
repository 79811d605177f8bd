/* check_banner.c - greeting, EHLO (HELO fallback), QUIT (SPEC §5
 * check_mta_banner).  The client sends nothing before the whole greeting
 * has arrived: early talkers are dropped by postscreen and greet_pause. */
#include <stdio.h>
#include <string.h>

#include "check.h"

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

	smtp_reply_init(&rep);
	if (check_greeting(cfg, c, r, &rep) != 0)
		goto out;
	if (cfg->expect && !greeting_contains(&rep, cfg->expect))
		result_raise(r, STATE_WARNING, "greeting does not contain '%s'", cfg->expect);
	if (check_ehlo(cfg, c, r, &rep, &caps) < 0)
		goto out;
	if (caps.has_size) {
		r->has_size = true;
		r->size = caps.size;
		result_perf(r, "size", (double)caps.size, "B", 0, NULL, NULL);
	}
	r->starttls_offered = smtp_caps_has(&caps, "STARTTLS");
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
