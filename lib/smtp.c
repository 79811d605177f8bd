/* smtp.c - see smtp.h */
#include "lib/smtp.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

void smtp_reply_init(struct smtp_reply *r)
{
	memset(r, 0, sizeof(*r));
	strbuf_init(&r->text, SMTP_REPLY_MAX_BYTES);
}

void smtp_reply_reset(struct smtp_reply *r)
{
	struct strbuf keep = r->text;

	memset(r, 0, sizeof(*r));
	r->text = keep;
	r->text.len = 0;
	r->text.truncated = false;
	if (r->text.s)
		r->text.s[0] = '\0';
}

void smtp_reply_free(struct smtp_reply *r)
{
	if (r)
		strbuf_free(&r->text);
}

int smtp_next_line(const char *buf, size_t len, size_t *line_len, size_t *term_len)
{
	size_t scan = len < SMTP_LINE_MAX + 2 ? len : SMTP_LINE_MAX + 2;
	const char *lf = memchr(buf, '\n', scan);
	size_t n;

	if (lf == NULL)
		return len > SMTP_LINE_MAX + 1 ? -1 : 0;
	n = (size_t)(lf - buf);
	*term_len = 1;
	if (n > 0 && buf[n - 1] == '\r') {
		n--;
		*term_len = 2;
	}
	if (n > SMTP_LINE_MAX)
		return -1;
	*line_len = n;
	return 1;
}

/* RFC 3463: class "." subject "." detail, class matching the reply's first digit. */
static void parse_enhanced(struct smtp_reply *r, const char *t, size_t n)
{
	size_t i = 0, part = 0, digits = 0;

	if (n == 0 || t[0] != '0' + r->code / 100)
		return;
	for (; i < n && t[i] != ' '; i++) {
		if (isdigit((unsigned char)t[i])) {
			if (++digits > 3)
				return;
		} else if (t[i] == '.' && digits > 0 && part < 2) {
			part++;
			digits = 0;
		} else {
			return;
		}
	}
	if (part != 2 || digits == 0 || i >= sizeof(r->enhanced))
		return;
	memcpy(r->enhanced, t, i);
	r->enhanced[i] = '\0';
}

int smtp_reply_add_line(struct smtp_reply *r, const char *line, size_t len, size_t term_len,
			char *why, size_t why_len)
{
	int code;
	bool last;

	if (r->done) {
		snprintf(why, why_len, "line after the end of the reply");
		return -1;
	}
	if (term_len == 1)
		r->bare_lf = true;
	r->nbytes += len + term_len;
	if (len > SMTP_LINE_MAX) {
		snprintf(why, why_len, "reply line longer than %d bytes", SMTP_LINE_MAX);
		return -1;
	}
	if (r->nlines >= SMTP_REPLY_MAX_LINES) {
		snprintf(why, why_len, "reply longer than %d lines", SMTP_REPLY_MAX_LINES);
		return -1;
	}
	if (r->nbytes > SMTP_REPLY_MAX_BYTES) {
		snprintf(why, why_len, "reply longer than %d bytes", SMTP_REPLY_MAX_BYTES);
		return -1;
	}
	/* Reply-code = %x32-35 %x30-35 %x30-39 (RFC 5321 §4.2); we accept any
	 * second digit, as deployed servers do, but nothing else. */
	if (len < 3 || line[0] < '2' || line[0] > '5' || !isdigit((unsigned char)line[1]) ||
	    !isdigit((unsigned char)line[2]) || (len > 3 && line[3] != ' ' && line[3] != '-')) {
		snprintf(why, why_len, "line %d is not an SMTP reply line", r->nlines + 1);
		return -1;
	}
	if (memchr(line, '\0', len) != NULL) {
		snprintf(why, why_len, "NUL byte in reply line %d", r->nlines + 1);
		return -1;
	}
	code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
	if (r->nlines > 0 && code != r->code) {
		snprintf(why, why_len, "line %d has code %d, the reply began with %d",
			 r->nlines + 1, code, r->code);
		return -1;
	}
	last = len == 3 || line[3] == ' ';
	r->code = code;
	r->line_off[r->nlines] = (uint32_t)(r->text.len + (r->nlines ? 1 : 0));
	if (r->nlines > 0)
		strbuf_append(&r->text, "\n", 1);
	if (len > 4)
		strbuf_append(&r->text, line + 4, len - 4);
	if (r->nlines == 0 && len > 4)
		parse_enhanced(r, line + 4, len - 4);
	r->nlines++;
	r->done = last;
	return last ? 1 : 0;
}

int smtp_reply_parse(struct smtp_reply *r, const char *buf, size_t len, size_t *consumed, char *why,
		     size_t why_len)
{
	size_t off = 0;

	for (;;) {
		size_t ll, tl;
		int rc = smtp_next_line(buf + off, len - off, &ll, &tl);

		if (rc < 0) {
			snprintf(why, why_len, "reply line longer than %d bytes", SMTP_LINE_MAX);
			return -1;
		}
		if (rc == 0)
			return 0;
		rc = smtp_reply_add_line(r, buf + off, ll, tl, why, why_len);
		off += ll + tl;
		if (rc != 0) {
			*consumed = off;
			return rc;
		}
	}
}

const char *smtp_reply_line(const struct smtp_reply *r, int i, size_t *len)
{
	const char *s = strbuf_str(&r->text);
	size_t start, end;

	if (i < 0 || i >= r->nlines)
		return NULL;
	start = r->line_off[i];
	end = i + 1 < r->nlines ? r->line_off[i + 1] - 1 : r->text.len;
	if (start > r->text.len || end < start)
		start = end = r->text.len; /* text was truncated */
	*len = end - start;
	return s + start;
}

void smtp_reply_first_word(const struct smtp_reply *r, char *out, size_t out_size)
{
	size_t len = 0, n = 0;
	const char *s = smtp_reply_line(r, 0, &len);

	if (out_size == 0)
		return;
	while (s && n < len && s[n] != ' ' && n + 1 < out_size)
		n++;
	if (s)
		memcpy(out, s, n);
	out[n] = '\0';
}

void smtp_caps_parse(const struct smtp_reply *ehlo, struct smtp_caps *caps)
{
	memset(caps, 0, sizeof(*caps));
	/* Line 1 is the server's greeting name; each further line is
	 * ehlo-keyword *(SP ehlo-param), keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-"). */
	for (int i = 1; i < ehlo->nlines && caps->nkw < SMTP_MAX_KEYWORDS; i++) {
		size_t len, k = 0;
		const char *s = smtp_reply_line(ehlo, i, &len);
		char *kw = caps->kw[caps->nkw];

		while (k < len && (isalnum((unsigned char)s[k]) || (k > 0 && s[k] == '-')))
			k++;
		if (k == 0 || k >= sizeof(caps->kw[0]) || (k < len && s[k] != ' '))
			continue;
		for (size_t j = 0; j < k; j++)
			kw[j] = (char)toupper((unsigned char)s[j]);
		kw[k] = '\0';
		caps->nkw++;
		if (strcmp(kw, "AUTH") == 0) {
			size_t m = 0;

			for (size_t j = k; j < len && m + 1 < sizeof(caps->auth); j++) {
				char ch = s[j];

				if (isalnum((unsigned char)ch) || ch == '-' || ch == '_')
					caps->auth[m++] = (char)toupper((unsigned char)ch);
				else if (ch == ' ' && m > 0 && caps->auth[m - 1] != ' ')
					caps->auth[m++] = ' ';
			}
			while (m > 0 && caps->auth[m - 1] == ' ')
				m--;
			caps->auth[m] = '\0';
			caps->auth_bare = m == 0;
		}
		if (strcmp(kw, "SIZE") == 0) {
			unsigned long long v = 0;
			size_t j = k + 1;
			bool ok = true;

			for (; j < len && isdigit((unsigned char)s[j]); j++) {
				if (v > (~0ULL - 9) / 10)
					ok = false;
				v = v * 10 + (unsigned)(s[j] - '0');
			}
			if (k == len || (ok && j > k + 1 && (j == len || s[j] == ' '))) {
				caps->has_size = true;
				caps->size = v;
			}
		}
	}
}

bool smtp_caps_has(const struct smtp_caps *caps, const char *keyword)
{
	for (int i = 0; i < caps->nkw; i++)
		if (strcasecmp(caps->kw[i], keyword) == 0)
			return true;
	return false;
}

bool smtp_caps_usable(const struct smtp_caps *caps, const char *keyword, const char **why)
{
	*why = NULL;
	if (!smtp_caps_has(caps, keyword))
		return false;
	if (strcasecmp(keyword, "AUTH") == 0 && caps->auth_bare) {
		*why = "AUTH is advertised without a mechanism (RFC 4954 needs one): not usable";
		return false;
	}
	return true;
}
