/* fuzz_smtp.c - libFuzzer target: SMTP replies back to back, as a connection
 * delivers them, through smtp_reply_parse, and every reply read as an EHLO
 * answer (smtp_caps_parse); a second pass feeds the same bytes line by line
 * through smtp_next_line/smtp_reply_add_line, the path conn.c takes.
 * Invariants: a parsed reply has a code 200..599, 1..SMTP_REPLY_MAX_LINES
 * lines, at most SMTP_REPLY_MAX_BYTES bytes, every line reachable; EHLO
 * keywords are NUL-terminated, non-empty and upper case.  tests/fuzz.sh runs it. */
#include <ctype.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/smtp.h"

/* An invariant does not hold: say where (the condition is the "if" just
 * above that line), then abort, which libFuzzer reports as a crash. */
#define BROKEN() (fprintf(stderr, "fuzz: invariant broken at %s:%d\n", __FILE__, __LINE__), abort())

static void check_reply(const struct smtp_reply *r, size_t used)
{
	struct smtp_caps caps;
	char word[64];

	if (r->code < 200 || r->code > 599 || r->nlines < 1 || r->nlines > SMTP_REPLY_MAX_LINES)
		BROKEN();
	if (r->nbytes > SMTP_REPLY_MAX_BYTES || r->text.len > SMTP_REPLY_MAX_BYTES)
		BROKEN();
	if (used != 0 && used != r->nbytes)
		BROKEN();
	if (memchr(r->enhanced, '\0', sizeof(r->enhanced)) == NULL)
		BROKEN();
	for (int i = 0; i < r->nlines; i++) {
		size_t len;
		const char *s = smtp_reply_line(r, i, &len);

		if (s == NULL || len > SMTP_LINE_MAX)
			BROKEN();
	}
	{
		size_t len;

		if (smtp_reply_line(r, r->nlines, &len) != NULL ||
		    smtp_reply_line(r, -1, &len) != NULL)
			BROKEN();
	}
	smtp_reply_first_word(r, word, sizeof(word));
	if (memchr(word, '\0', sizeof(word)) == NULL)
		BROKEN();
	smtp_reply_first_word(r, word, 1);
	if (word[0] != '\0')
		BROKEN();

	smtp_caps_parse(r, &caps);
	if (caps.nkw < 0 || caps.nkw > SMTP_MAX_KEYWORDS)
		BROKEN();
	for (int i = 0; i < caps.nkw; i++) {
		size_t n = strnlen(caps.kw[i], sizeof(caps.kw[i]));

		if (n == 0 || n == sizeof(caps.kw[i]))
			BROKEN();
		for (size_t k = 0; k < n; k++)
			if (islower((unsigned char)caps.kw[i][k]))
				BROKEN();
		if (!smtp_caps_has(&caps, caps.kw[i]))
			BROKEN();
	}
	if (!caps.has_size && caps.size != 0)
		BROKEN();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data;
	struct smtp_reply r;
	char why[128];
	size_t off = 0;

	/* whole replies, back to back */
	smtp_reply_init(&r);
	while (off < size) {
		size_t used = 0;
		int rc = smtp_reply_parse(&r, buf + off, size - off, &used, why, sizeof(why));

		if (rc != 1)
			break;
		if (used == 0 || used > size - off)
			BROKEN();
		check_reply(&r, used);
		off += used;
		smtp_reply_reset(&r);
	}
	smtp_reply_free(&r);

	/* line by line, as conn.c reads them */
	smtp_reply_init(&r);
	for (off = 0; off < size;) {
		size_t len = 0, term = 0;
		int rc = smtp_next_line(buf + off, size - off, &len, &term);

		if (rc != 1)
			break;
		if ((term != 1 && term != 2) || len + term > size - off || len > SMTP_LINE_MAX)
			BROKEN();
		rc = smtp_reply_add_line(&r, buf + off, len, term, why, sizeof(why));
		off += len + term;
		if (rc < 0) {
			smtp_reply_reset(&r);
			continue;
		}
		if (rc == 1) {
			check_reply(&r, 0);
			smtp_reply_reset(&r);
		}
	}
	smtp_reply_free(&r);
	return 0;
}
