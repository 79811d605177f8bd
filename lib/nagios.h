/* output.h - a result rendered for Nagios/Icinga (plugin guidelines):
 *
 *   MTA <CHECK> <STATE> - <summary> | <perfdata>
 *   <long output lines>
 */
#ifndef MTAPROBE_NAGIOS_H
#define MTAPROBE_NAGIOS_H

#include "lib/result.h"
#include "lib/strbuf.h"

/* The summary (after "STATE - ") of r into out. */
void nagios_summary(const struct result *r, char *out, size_t out_size);

/* The summary of r alone, children aside ("target problems; facts"). */
void nagios_own_summary(const struct result *r, char *out, size_t out_size);

/* Whole plugin output into b: first line, perfdata, long output (-v detail,
 * -vvv transcript).  Ends with a newline. */
void nagios_output(const struct result *r, int verbosity, struct strbuf *b);

#ifdef MTAPROBE_UNITTEST
/* One perfdata item "label=value[uom];warn;crit;min;" appended to b; the
 * label is prefixed with prefix (may be NULL) and quoted when needed. */
void nagios_perf_item(struct strbuf *b, const char *prefix, const struct perf *p);
#endif

#endif
