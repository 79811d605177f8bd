/* sts.c - see sts.h */
#include "lib/sts.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/sanitize.h"

const char *sts_mode_name(enum sts_mode m)
{
	switch (m) {
	case STS_ENFORCE:
		return "enforce";
	case STS_TESTING:
		return "testing";
	case STS_NONE:
		return "none";
	default:
		return "?";
	}
}

static bool wsp(char c)
{
	return c == ' ' || c == '\t';
}

/* s[0..n) shown in a message: quoted by the caller, at most 40 chars. */
static const char *shown(char *buf, size_t size, const char *s, size_t n)
{
	return sanitize(buf, size, s, n, 40);
}

/* The fields of "v=X; a=b; c=d" records (RFC 8461 §3.1, RFC 8460 §3):
 * *WSP ";" *WSP between them, an optional ";" at the end.  Calls field()
 * for each "name=value" after the version; -1 from it stops. */
struct field_ctx {
	char *out;
	size_t out_size;
	char *why;
	size_t why_len;
	int seen;
};

typedef int (*field_fn)(struct field_ctx *x, const char *name, size_t nl, const char *val,
			size_t vl);

static int tagged_record(const char *t, size_t len, const char *version, struct field_ctx *x,
			 field_fn field)
{
	size_t vlen = strlen(version), i;

	if (len < vlen || memcmp(t, version, vlen) != 0 ||
	    (len > vlen && t[vlen] != ';' && !wsp(t[vlen])))
		return 0; /* not this kind of record: ignored */
	i = vlen;
	for (;;) {
		size_t ns, nl, vs, vl;
		char b[64];

		while (i < len && wsp(t[i]))
			i++;
		if (i == len)
			return 1;
		if (t[i] != ';') {
			snprintf(x->why, x->why_len, "'%s' where ';' was expected",
				 shown(b, sizeof(b), t + i, len - i));
			return -1;
		}
		i++;
		while (i < len && wsp(t[i]))
			i++;
		if (i == len)
			return 1; /* a trailing ';' */
		ns = i;
		while (i < len &&
		       (isalnum((unsigned char)t[i]) || t[i] == '_' || t[i] == '.' || t[i] == '-'))
			i++;
		nl = i - ns;
		if (nl == 0 || i == len || t[i] != '=') {
			size_t end = ns;

			while (end < len && t[end] != ';')
				end++;
			snprintf(x->why, x->why_len, "field '%s' is not name=value",
				 shown(b, sizeof(b), t + ns, end - ns));
			return -1;
		}
		vs = ++i;
		/* a value: visible characters but ';' and '=' (';' ends it) */
		while (i < len && t[i] > ' ' && t[i] < 0x7f && t[i] != ';' && t[i] != '=')
			i++;
		vl = i - vs;
		if (i < len && t[i] != ';' && !wsp(t[i])) {
			snprintf(x->why, x->why_len, "field '%.*s' has a byte no value may hold",
				 (int)nl, t + ns);
			return -1;
		}
		if (field(x, t + ns, nl, t + vs, vl) < 0)
			return -1;
	}
}

static int sts_field(struct field_ctx *x, const char *name, size_t nl, const char *val, size_t vl)
{
	char b[64];

	if (nl != 2 || memcmp(name, "id", 2) != 0)
		return 0; /* an extension: ignored */
	if (x->seen++) {
		snprintf(x->why, x->why_len, "id given twice");
		return -1;
	}
	if (vl == 0 || vl > STS_ID_MAX) {
		snprintf(x->why, x->why_len, "id '%s' is not 1 to 32 letters and digits",
			 shown(b, sizeof(b), val, vl));
		return -1;
	}
	for (size_t i = 0; i < vl; i++)
		if (!isalnum((unsigned char)val[i])) {
			snprintf(x->why, x->why_len, "id '%s' is not 1 to 32 letters and digits",
				 shown(b, sizeof(b), val, vl));
			return -1;
		}
	snprintf(x->out, x->out_size, "%.*s", (int)vl, val);
	return 0;
}

int sts_txt_parse(const char *txt, size_t len, char *id, size_t id_size, char *why, size_t why_len)
{
	struct field_ctx x = { id, id_size, why, why_len, 0 };
	int rc;

	id[0] = '\0';
	why[0] = '\0';
	rc = tagged_record(txt, len, "v=STSv1", &x, sts_field);
	if (rc == 1 && !x.seen) {
		snprintf(why, why_len, "no id= field");
		return -1;
	}
	return rc;
}

static int rpt_field(struct field_ctx *x, const char *name, size_t nl, const char *val, size_t vl)
{
	char b[64];
	size_t i = 0;

	if (nl != 3 || memcmp(name, "rua", 3) != 0)
		return 0;
	if (x->seen++) {
		snprintf(x->why, x->why_len, "rua given twice");
		return -1;
	}
	/* tlsrpt-uri *("," tlsrpt-uri): mailto: or https: each */
	while (i <= vl) {
		size_t n = 0;

		while (i + n < vl && val[i + n] != ',')
			n++;
		if (!((n > 7 && strncasecmp(val + i, "mailto:", 7) == 0) ||
		      (n > 8 && strncasecmp(val + i, "https://", 8) == 0))) {
			snprintf(x->why, x->why_len, "rua '%s' is not a mailto: or https: URI",
				 shown(b, sizeof(b), val + i, n));
			return -1;
		}
		i += n + 1;
	}
	sanitize(x->out, x->out_size, val, vl, 200);
	return 0;
}

int tlsrpt_txt_parse(const char *txt, size_t len, char *rua, size_t rua_size, char *why,
		     size_t why_len)
{
	struct field_ctx x = { rua, rua_size, why, why_len, 0 };
	int rc;

	rua[0] = '\0';
	why[0] = '\0';
	rc = tagged_record(txt, len, "v=TLSRPTv1", &x, rpt_field);
	if (rc == 1 && !x.seen) {
		snprintf(why, why_len, "no rua= field");
		return -1;
	}
	return rc;
}

/* A host name pattern: "*." then a name, or a name; labels of letters,
 * digits and '-', at least one dot, a trailing dot allowed. */
static bool pattern_ok(const char *s, size_t n)
{
	size_t label = 0, dots = 0;

	if (n > 2 && s[0] == '*' && s[1] == '.') {
		s += 2;
		n -= 2;
	}
	if (n > 0 && s[n - 1] == '.')
		n--;
	if (n == 0 || n > 253)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '.') {
			if (label == 0)
				return false;
			label = 0;
			dots++;
		} else if (isalnum((unsigned char)s[i]) || s[i] == '-') {
			if (++label > 63)
				return false;
		} else {
			return false;
		}
	}
	return label > 0 && dots > 0;
}

static int set_field(int lineno, const char *key, size_t kl, const char *val, size_t vl,
		     struct sts_policy *p, int *have, char *why, size_t why_len)
{
	char b[64];

	if (kl == 7 && memcmp(key, "version", 7) == 0) {
		if (*have & 1)
			goto twice;
		*have |= 1;
		if (vl != 5 || memcmp(val, "STSv1", 5) != 0) {
			snprintf(why, why_len, "version '%s' is not STSv1",
				 shown(b, sizeof(b), val, vl));
			return -1;
		}
		if (lineno != 1) { /* §3.2: the version comes first */
			snprintf(why, why_len, "version is on line %d, not the first", lineno);
			return -1;
		}
	} else if (kl == 4 && memcmp(key, "mode", 4) == 0) {
		if (*have & 2)
			goto twice;
		*have |= 2;
		if (vl == 7 && memcmp(val, "enforce", 7) == 0)
			p->mode = STS_ENFORCE;
		else if (vl == 7 && memcmp(val, "testing", 7) == 0)
			p->mode = STS_TESTING;
		else if (vl == 4 && memcmp(val, "none", 4) == 0)
			p->mode = STS_NONE;
		else {
			snprintf(why, why_len, "mode '%s' is not enforce, testing or none",
				 shown(b, sizeof(b), val, vl));
			return -1;
		}
	} else if (kl == 7 && memcmp(key, "max_age", 7) == 0) {
		long v = 0;

		if (*have & 4)
			goto twice;
		*have |= 4;
		if (vl == 0 || vl > 10)
			goto bad_age;
		for (size_t i = 0; i < vl; i++) {
			if (!isdigit((unsigned char)val[i]))
				goto bad_age;
			v = v * 10 + (val[i] - '0');
		}
		if (v > STS_MAX_AGE_MAX)
			goto bad_age;
		p->max_age = v;
	} else if (kl == 2 && memcmp(key, "mx", 2) == 0) {
		if (!pattern_ok(val, vl)) {
			snprintf(why, why_len, "mx '%s' is not a host name pattern",
				 shown(b, sizeof(b), val, vl));
			return -1;
		}
		p->mx_total++;
		if (p->nmx < STS_MX_MAX)
			snprintf(p->mx[p->nmx++], STS_PATTERN_MAX, "%.*s", (int)vl, val);
	}
	return 0; /* any other key: an extension, ignored */
twice:
	snprintf(why, why_len, "%.*s given twice", (int)kl, key);
	return -1;
bad_age:
	snprintf(why, why_len, "max_age '%s' is not a number of seconds 0 to %ld",
		 shown(b, sizeof(b), val, vl), STS_MAX_AGE_MAX);
	return -1;
}

int sts_policy_parse(const char *buf, size_t len, struct sts_policy *p, char *why, size_t why_len)
{
	size_t i = 0;
	int lineno = 0, have = 0;

	memset(p, 0, sizeof(*p));
	p->max_age = -1;
	why[0] = '\0';
	while (i < len) {
		size_t s = i, e, k, ke, v, ve;
		char b[64];

		while (i < len && buf[i] != '\n')
			i++;
		e = i; /* the line is buf[s..e), its LF (if any) at e */
		if (e > s && buf[e - 1] == '\r')
			e--;
		i++;
		lineno++;
		if (e == s)
			continue; /* a blank line (the last one, typically) */
		for (k = s;
		     k < e && (isalnum((unsigned char)buf[k]) || buf[k] == '_' || buf[k] == '-');
		     k++)
			;
		ke = k;
		if (ke == s || k == e || buf[k] != ':') {
			snprintf(why, why_len, "line %d '%s' is not 'key: value'", lineno,
				 shown(b, sizeof(b), buf + s, e - s));
			return -1;
		}
		for (v = k + 1; v < e && wsp(buf[v]); v++)
			;
		for (ve = e; ve > v && wsp(buf[ve - 1]); ve--)
			;
		for (size_t j = v; j < ve; j++)
			if ((unsigned char)buf[j] < 0x20 || (unsigned char)buf[j] >= 0x7f) {
				snprintf(why, why_len, "line %d holds a control or non-ASCII byte",
					 lineno);
				return -1;
			}
		if (set_field(lineno, buf + s, ke - s, buf + v, ve - v, p, &have, why, why_len) < 0)
			return -1;
	}
	if (!(have & 1)) {
		snprintf(why, why_len, "no version: STSv1 line");
		return -1;
	}
	if (!(have & 2)) {
		snprintf(why, why_len, "no mode");
		return -1;
	}
	if (!(have & 4)) {
		snprintf(why, why_len, "no max_age");
		return -1;
	}
	if (p->mode != STS_NONE && p->mx_total == 0) {
		snprintf(why, why_len, "no mx: line (mode %s needs one)", sts_mode_name(p->mode));
		return -1;
	}
	return 0;
}

/* a host name without its trailing dot: length */
static size_t bare_len(const char *s)
{
	size_t n = strlen(s);

	return n > 0 && s[n - 1] == '.' ? n - 1 : n;
}

bool sts_mx_match(const char *pattern, const char *host)
{
	size_t pl = bare_len(pattern), hl = bare_len(host);

	if (pl > 2 && pattern[0] == '*' && pattern[1] == '.') {
		/* "*.example.net": exactly one label, then ".example.net" */
		const char *dot = memchr(host, '.', hl);

		if (dot == NULL || dot == host)
			return false;
		return (size_t)(host + hl - dot) == pl - 1 &&
		       strncasecmp(dot, pattern + 1, pl - 1) == 0;
	}
	return pl == hl && strncasecmp(pattern, host, pl) == 0;
}
