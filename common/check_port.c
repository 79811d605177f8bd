/* check_port.c - TCP connect (SPEC §5 check_mta_port).  Everything happens
 * in probe_run(); the dialogue only states the fact. */
#include <stdio.h>

#include "check.h"

static void port_dialogue(const struct check_cfg *cfg, struct conn *c, struct result *r)
{
	(void)cfg;
	(void)c;
	snprintf(r->facts, sizeof(r->facts), "connected in %.3fs", r->t.connect);
}

const struct check_def check_port = {
	.name = "PORT",
	.threshold_label = "connect",
	.threshold_what = "connect",
	.dialogue = port_dialogue,
};
