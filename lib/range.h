/* range.h - the Nagios threshold range grammar (Monitoring Plugins guidelines).
 *
 *   N     alert if value < 0 or > N      ~:N   alert if value > N
 *   N:    alert if value < N             N:M   alert if outside [N, M]
 *   @N:M  alert if inside [N, M]
 */
#ifndef MTAPROBE_RANGE_H
#define MTAPROBE_RANGE_H

#include <stdbool.h>

struct range {
	bool set;      /* false: no threshold given, never alerts */
	bool inside;   /* '@': alert when inside */
	bool low_inf;  /* start is -infinity ("~") */
	bool high_inf; /* end is +infinity ("N:") */
	double low, high;
	char text[32]; /* as given, for perfdata */
};

/* Parse s into r.  Returns 0, or -1 with a reason in why (why_len bytes). */
int range_parse(const char *s, struct range *r, char *why, int why_len);

/* True when value alerts under r (false when r is not set). */
bool range_alerts(const struct range *r, double value);

#endif
