/* smtp.h - SMTP reply parsing (pure functions over bytes) and EHLO keywords.
 *
 * RFC 5321 §4.2: a reply is one or more lines "NNN-text" ending with a line
 * "NNN text" (or just "NNN"); every line carries the same code.  Limits:
 * a line may be up to SMTP_LINE_MAX bytes (RFC 5321 §4.5.3.1.5
 * says 512, real servers send up to 1000; we tolerate 4096), a reply up to
 * SMTP_REPLY_MAX_LINES lines and SMTP_REPLY_MAX_BYTES bytes.  Anything past
 * that is a malformed reply, so memory is bounded whatever a server sends. */
#ifndef MTAPROBE_SMTP_H
#define MTAPROBE_SMTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/strbuf.h"

#define SMTP_LINE_MAX	     4096
#define SMTP_REPLY_MAX_LINES 100
#define SMTP_REPLY_MAX_BYTES 65536

struct smtp_reply {
	int code; /* 200..599 once the first line is parsed */
	int nlines;
	size_t nbytes; /* raw bytes including line terminators */
	bool bare_lf;  /* some line ended in LF without CR */
	bool done;
	char enhanced[16];  /* RFC 3463 "x.y.z" of the first line, or "" */
	struct strbuf text; /* line texts (after "NNN-"), joined by '\n' */
	uint32_t line_off[SMTP_REPLY_MAX_LINES];
};

void smtp_reply_init(struct smtp_reply *r);
/* Ready for the next reply (keeps the allocation). */
void smtp_reply_reset(struct smtp_reply *r);
void smtp_reply_free(struct smtp_reply *r);

/* Find the end of the next line in buf[0..len).  Returns 1 with *line_len
 * (without terminator) and *term_len (1 for LF, 2 for CRLF); 0 if no line
 * terminator yet and the line is still within SMTP_LINE_MAX; -1 if the line
 * is already longer than SMTP_LINE_MAX. */
int smtp_next_line(const char *buf, size_t len, size_t *line_len, size_t *term_len);

/* Add one line (without terminator; term_len as from smtp_next_line) to r.
 * Returns 1 when the reply is complete, 0 when more lines must follow, -1
 * when malformed, with the reason in why. */
int smtp_reply_add_line(struct smtp_reply *r, const char *line, size_t len, size_t term_len,
			char *why, size_t why_len);

/* Parse one whole reply from buf[0..len).  Returns 1 and sets *consumed,
 * 0 when more bytes are needed, -1 when malformed (reason in why). */
int smtp_reply_parse(struct smtp_reply *r, const char *buf, size_t len, size_t *consumed, char *why,
		     size_t why_len);

/* Text of line i (0-based) of a parsed reply; *len set; NULL if no such line. */
const char *smtp_reply_line(const struct smtp_reply *r, int i, size_t *len);

/* First word of the first line (a greeting's host name) into out; "" if none. */
void smtp_reply_first_word(const struct smtp_reply *r, char *out, size_t out_size);

#define SMTP_MAX_KEYWORDS 64

/* EHLO keywords (RFC 5321 §4.1.1.1), upper-cased, from lines 2..n. */
struct smtp_caps {
	int nkw;
	char kw[SMTP_MAX_KEYWORDS][24];
	bool has_size;
	unsigned long long size; /* 0 when SIZE has no limit */
	bool auth_bare;		 /* AUTH advertised with no mechanism */
	char auth[128];		 /* AUTH's mechanisms, "PLAIN LOGIN" (letters, digits,
				    '-', '_'; cut at 127 bytes) */
};

void smtp_caps_parse(const struct smtp_reply *ehlo, struct smtp_caps *caps);
/* Is keyword advertised (any case)? */
bool smtp_caps_has(const struct smtp_caps *caps, const char *keyword);
/* Advertised and usable: AUTH needs at least one mechanism (RFC 4954 §3),
 * which Dovecot's submission service, for one, leaves out before TLS.  When
 * not usable though advertised, *why says so (else it is set to NULL). */
bool smtp_caps_usable(const struct smtp_caps *caps, const char *keyword, const char **why);

#endif
