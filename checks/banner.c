/* banner.c - check_mta_banner: greeting, EHLO (HELO fallback), QUIT.  The client sends nothing
 * before the whole greeting has arrived: early talkers are dropped by postscreen and greet_pause.
 */
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "checks/session.h"
#include "lib/sanitize.h"
#include "lib/dns.h"

#define PTR_MAX 8

/* Forward-confirmed reverse DNS: the address's PTR names, each looked up
 * forward; a name that resolves back to the address is confirmed.  The
 * greeting's host name should be one of them. */
static void fcrdns(const struct check_cfg *cfg, const struct conn *c, struct result *r)
{
	uint8_t *buf = malloc(65536);
	struct dns_msg *m = malloc(sizeof(*m));
	char rev[128], names[PTR_MAX][DNS_NAME_MAX], greet[256], confirmed[DNS_NAME_MAX] = "";
	const char *gname = greet;
	struct probe_err e;
	int n = 0, bad = 0, literal = 0;

	if (buf == NULL || m == NULL || dns_reverse_name(r->address, rev, sizeof(rev)) < 0)
		goto out;
	snprintf(greet, sizeof(greet), "%.*s", (int)strcspn(r->greeting, " "), r->greeting);
	if (dns_query(rev, DNS_T_PTR, cfg->dns_servers, conn_deadline(c), buf, 65536, m, &e) < 0) {
		result_raise(r, STATE_WARNING, "FCrDNS: PTR lookup for %s failed: %s", r->address,
			     e.msg);
		goto out;
	}
	for (int i = 0; i < m->nanswers && n < PTR_MAX; i++) {
		int got = dns_rr_ptr(m, &m->answers[i], names[n], sizeof(names[0]));

		if (got == -2)
			bad++;
		else if (got == 0)
			n++;
	}
	if (n == 0) {
		const char *why = m->rcode == DNS_RCODE_NXDOMAIN ? " (NXDOMAIN)" : "";

		result_raise(r, STATE_WARNING, "FCrDNS: %s has no PTR record%s", r->address,
			     bad ? " with a valid host name" : why);
		goto out;
	}
	for (int i = 0; i < n && !confirmed[0]; i++) {
		struct addr_list *al = malloc(sizeof(*al));
		struct addr lit;

		/* a PTR naming an address literal confirms nothing: the forward
		 * "lookup" of a literal is the literal itself */
		if (addr_from_literal(names[i], 0, &lit) == 0) {
			strbuf_printf(&r->detail,
				      "FCrDNS: %s PTR %s is an address, not a host name\n",
				      r->address, names[i]);
			free(al);
			continue;
		}
		if (al && dns_resolve(names[i], r->port, AF_UNSPEC, cfg->dns_servers,
				      conn_deadline(c), al, &e) == 0)
			for (size_t k = 0; k < al->n; k++)
				if (strcmp(al->v[k].text, r->address) == 0)
					snprintf(confirmed, sizeof(confirmed), "%s", names[i]);
		strbuf_printf(&r->detail, "FCrDNS: %s PTR %s%s\n", r->address, names[i],
			      confirmed[0] ? " (resolves back)" : " (does not resolve back)");
		free(al);
	}
	if (!confirmed[0] && literal == n) {
		result_raise(r, STATE_WARNING,
			     "FCrDNS: the PTR of %s names an address (%s), not a host name",
			     r->address, names[0]);
		goto out;
	}
	if (!confirmed[0]) {
		result_raise(r, STATE_WARNING, "FCrDNS: PTR %s does not resolve back to %s",
			     names[0], r->address);
		goto out;
	}
	if (strcasecmp(gname, confirmed) != 0)
		result_raise(r, STATE_WARNING,
			     "FCrDNS: greeting name '%s' differs from the PTR name %s", gname,
			     confirmed);
	else
		result_raise(r, STATE_OK, "FCrDNS: %s is %s, as the greeting says", r->address,
			     confirmed);
out:
	free(buf);
	free(m);
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

/* -C CMD after EHLO, and with -R its reply (first line, "CODE text") must
 * match the extended regular expression (check_smtp's -C/-R).  0, or -1
 * when the session is gone (recorded). */
static int command(const struct check_cfg *cfg, struct conn *c, struct result *r,
		   struct smtp_reply *rep)
{
	char line[400], clean[300], cmd[64];
	size_t len;
	const char *t;
	regex_t re;

	if (conn_command(c, cfg->command, rep, "command", &r->err) < 0) {
		check_fail(cfg, r, &r->err);
		return -1;
	}
	t = smtp_reply_line(rep, 0, &len);
	snprintf(line, sizeof(line), "%d %.*s", rep->code, t ? (int)len : 0, t ? t : "");
	sanitize(clean, sizeof(clean), line, strlen(line), 200);
	sanitize(cmd, sizeof(cmd), cfg->command, strlen(cfg->command), 40);
	strbuf_printf(&r->detail, "%s: %s\n", cmd, clean);
	if (cfg->response == NULL)
		return 0;
	/* the option table compiled it once already: it compiles */
	if (regcomp(&re, cfg->response, REG_EXTENDED | REG_NOSUB) != 0)
		return 0;
	/* any line of the reply, as "CODE text" */
	for (int i = 0; i < rep->nlines; i++) {
		char each[400];

		t = smtp_reply_line(rep, i, &len);
		snprintf(each, sizeof(each), "%d %.*s", rep->code, t ? (int)len : 0, t ? t : "");
		if (regexec(&re, each, 0, NULL, 0) == 0) {
			regfree(&re);
			return 0;
		}
	}
	result_raise(r, STATE_WARNING, "reply to %s does not match '%s': %s", cmd, cfg->response,
		     clean);
	regfree(&re);
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
			const char *why;

			if (!smtp_caps_usable(caps, kw, &why)) {
				size_t m = strlen(missing);

				if (why)
					strbuf_printf(&r->detail, "%s\n", why);
				snprintf(missing + m, sizeof(missing) - m, "%s%s", m ? "," : "",
					 kw);
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
	if (cfg->fcrdns)
		fcrdns(cfg, c, r);
	if (cfg->expect && !greeting_contains(&rep, cfg->expect))
		result_raise(r, STATE_WARNING, "greeting does not contain '%s'", cfg->expect);
	if (check_ehlo(cfg, c, r, &rep, &caps) < 0)
		goto out;
	if (caps.has_size) {
		r->has_size = true;
		r->size = caps.size;
		if (caps.size > 0) /* a bare SIZE says "no limit" (Dovecot), not 0 bytes */
			result_perf(r, "size", (double)caps.size, "B", 0, NULL, NULL);
	}
	r->starttls_offered = smtp_caps_has(&caps, "STARTTLS");
	if (cfg->require_ext)
		require_extensions(cfg, &caps, r);
	if (cfg->command && command(cfg, c, r, &rep) < 0)
		goto out;
	check_quit(c, &rep, r);
out:
	smtp_reply_free(&rep);
}

const struct check_def check_banner = {
	.name = "BANNER",
	.threshold_label = "banner",
	.threshold_what = "greeting",
	.dialogue = banner_dialogue,
};
