/* port.c - check_mta_port: TCP connect, and with implicit TLS the
 * handshake.  Everything happens in probe_run(); the dialogue only
 * states the fact. */
#include <stdio.h>

#include "checks/session.h"

static void port_dialogue(const struct check_cfg *cfg, struct conn *c, struct result *r)
{
	(void)cfg;
	(void)c;
	if (r->ntls)
		snprintf(r->facts, sizeof(r->facts), "connected in %.3fs, %s %s handshake in %.3fs",
			 r->t.connect, r->tls[0].version_name, r->tls[0].cipher, r->t.handshake);
	else
		snprintf(r->facts, sizeof(r->facts), "connected in %.3fs", r->t.connect);
}

const struct check_def check_port = {
	.name = "PORT",
	.threshold_label = "connect",
	.threshold_what = "connect",
	.dialogue = port_dialogue,
};
