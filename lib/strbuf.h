/* strbuf.h - bounded strings.
 *
 * Every buffer here carries its own cap: appending past it truncates and
 * sets `truncated`, it never grows without bound. */
#ifndef MTAPROBE_STRBUF_H
#define MTAPROBE_STRBUF_H

#include <stdbool.h>
#include <stddef.h>

struct strbuf {
	char *s;	      /* NUL-terminated, NULL until first append */
	size_t len, cap, max; /* max: hard limit on len */
	bool truncated;
};

/* An empty buffer that will hold at most max bytes. */
void strbuf_init(struct strbuf *b, size_t max);
void strbuf_free(struct strbuf *b);
/* Append; on hitting max (or out of memory) truncates, returns -1 and takes
 * nothing more from then on. */
int strbuf_append(struct strbuf *b, const char *s, size_t n);
int strbuf_printf(struct strbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The contents, "" when empty. */
const char *strbuf_str(const struct strbuf *b);

#endif
