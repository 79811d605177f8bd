/* range.c - see range.h */
#include "lib/range.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A plain decimal: optional sign, digits, optional fraction.  strtod alone
 * would also take "inf", "nan", hex and exponents, which no threshold means. */
static int parse_decimal(const char *s, size_t len, double *out)
{
	char buf[32];
	size_t i = 0, digits = 0;
	char *end;

	if (len == 0 || len >= sizeof(buf))
		return -1;
	if (s[0] == '-' || s[0] == '+')
		i++;
	for (; i < len && isdigit((unsigned char)s[i]); i++)
		digits++;
	if (i < len && s[i] == '.')
		for (i++; i < len && isdigit((unsigned char)s[i]); i++)
			digits++;
	if (i != len || digits == 0)
		return -1;
	memcpy(buf, s, len);
	buf[len] = '\0';
	errno = 0;
	*out = strtod(buf, &end);
	if (errno != 0 || *end != '\0' || !isfinite(*out))
		return -1;
	return 0;
}

int range_parse(const char *s, struct range *r, char *why, int why_len)
{
	const char *p = s, *colon;

	memset(r, 0, sizeof(*r));
	if (s == NULL || *s == '\0') {
		snprintf(why, why_len, "empty range");
		return -1;
	}
	if (strlen(s) >= sizeof(r->text)) {
		snprintf(why, why_len, "range too long");
		return -1;
	}
	snprintf(r->text, sizeof(r->text), "%s", s);
	if (*p == '@') {
		r->inside = true;
		p++;
	}
	colon = strchr(p, ':');
	if (colon == NULL) {
		/* "N": 0..N */
		if (parse_decimal(p, strlen(p), &r->high) < 0)
			goto bad;
		r->low = 0;
	} else {
		if (strchr(colon + 1, ':') != NULL)
			goto bad;
		if (colon - p == 1 && *p == '~')
			r->low_inf = true;
		else if (parse_decimal(p, (size_t)(colon - p), &r->low) < 0)
			goto bad;
		if (colon[1] == '\0')
			r->high_inf = true;
		else if (parse_decimal(colon + 1, strlen(colon + 1), &r->high) < 0)
			goto bad;
	}
	if (!r->low_inf && !r->high_inf && r->low > r->high) {
		snprintf(why, why_len, "start of range '%s' is greater than its end", s);
		return -1;
	}
	r->set = true;
	return 0;
bad:
	snprintf(why, why_len, "'%s' is not a range (N, N:, ~:N, N:M or @N:M)", s);
	memset(r, 0, sizeof(*r));
	return -1;
}

bool range_alerts(const struct range *r, double value)
{
	bool in;

	if (!r->set)
		return false;
	in = (r->low_inf || value >= r->low) && (r->high_inf || value <= r->high);
	return r->inside ? in : !in;
}
