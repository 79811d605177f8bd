/* err.c - see err.h */
#include "lib/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int err_set(struct probe_err *e, enum err_kind kind, const char *stage, const char *fmt, ...)
{
	va_list ap;

	if (e == NULL)
		return -1;
	e->kind = kind;
	snprintf(e->stage, sizeof(e->stage), "%s", stage ? stage : "");
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	return -1;
}

const char *err_kind_name(enum err_kind kind)
{
	static const char *const names[] = {
		[ERR_NONE] = "none",	   [ERR_INTERNAL] = "internal", [ERR_RESOLVE] = "dns",
		[ERR_CONNECT] = "refused", [ERR_TIMEOUT] = "timeout",	[ERR_CLOSED] = "reset",
		[ERR_IO] = "reset",	   [ERR_PROTOCOL] = "protocol", [ERR_REJECTED] = "refused",
		[ERR_TLS] = "tls",	   [ERR_VERIFY] = "verify",	[ERR_CONFIG] = "config",
	};

	if ((unsigned)kind < sizeof(names) / sizeof(names[0]))
		return names[kind];
	return "unknown";
}
