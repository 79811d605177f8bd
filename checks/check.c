/* check.c - what the checks share about their configuration and failures;
 * see check.h */
#include "checks/check.h"

bool check_implicit_tls(const struct check_cfg *cfg)
{
	return cfg->tls || (cfg->port == 465 && !cfg->no_tls);
}

/* The state for a failure of this kind under cfg (timeouts: -t's STATE). */
static enum state check_err_state(const struct check_cfg *cfg, const struct probe_err *e)
{
	switch (e->kind) {
	case ERR_NONE:
		return STATE_OK;
	case ERR_TIMEOUT:
		return cfg->timeout_state;
	case ERR_INTERNAL:
		return STATE_UNKNOWN;
	default:
		return STATE_CRITICAL;
	}
}

void check_fail(const struct check_cfg *cfg, struct result *r, const struct probe_err *e)
{
	if (&r->err != e && r->err.kind == ERR_NONE)
		r->err = *e;
	if (e->stage[0])
		result_raise(r, check_err_state(cfg, e), "%s: %s", e->stage, e->msg);
	else
		result_raise(r, check_err_state(cfg, e), "%s", e->msg);
}
