/* starttls.c - check_mta_starttls, STARTTLS offered and working: EHLO, STARTTLS, handshake with
 * SNI, EHLO again over TLS.  On implicit TLS (465, -s) the handshake comes first, then greeting and
 * EHLO over TLS. */
#include <stdio.h>

#include "checks/session.h"

static void starttls_dialogue(const struct check_cfg *cfg, struct conn *c, struct result *r)
{
	struct tls_facts *f = result_tls(r, 0); /* NULL: out of memory, said below */
	struct smtp_reply rep;
	struct smtp_caps caps;
	bool implicit = check_implicit_tls(cfg);

	smtp_reply_init(&rep);
	if (check_tls_session(cfg, c, r, TLS_WANT_ANY, f) < 0)
		goto out;
	r->ntls = 1;
	check_tls_detail(r, f);
	if (implicit && check_greeting(cfg, c, r, &rep) != 0)
		goto out;
	/* RFC 3207 §4.2: forget what was said before TLS, ask again. */
	switch (check_ehlo(cfg, c, r, &rep, &caps)) {
	case -1:
		goto out;
	case 0:
		result_fail(r, STATE_CRITICAL, ERR_REJECTED, "EHLO",
			    "EHLO over TLS was not accepted");
		break;
	}
	if (cfg->min_tls && f->version < cfg->min_tls)
		result_raise(r, STATE_WARNING, "%s is below the minimum %s", f->version_name,
			     tls_version_name(cfg->min_tls));
	snprintf(r->facts, sizeof(r->facts), "%s%s %s (handshake %.3fs)",
		 implicit ? "implicit TLS: " : "STARTTLS: ", f->version_name, f->cipher,
		 r->t.handshake);
	check_quit(c, &rep, r);
out:
	smtp_reply_free(&rep);
}

const struct check_def check_starttls = {
	.name = "STARTTLS",
	.threshold_label = "handshake",
	.threshold_what = "TLS handshake",
	.own_tls = true,
	.dialogue = starttls_dialogue,
};
