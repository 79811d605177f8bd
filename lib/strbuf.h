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
	/* optional: what is held goes to drain() before len would pass
	 * drain_at, so a large output never sits in memory whole */
	int (*drain)(void *arg, const char *s, size_t n);
	void *drain_arg;
	size_t drain_at;
};

/* An empty buffer that will hold at most max bytes. */
void strbuf_init(struct strbuf *b, size_t max);
void strbuf_free(struct strbuf *b);
/* Append; on hitting max (or out of memory) truncates, returns -1 and takes
 * nothing more from then on. */
int strbuf_append(struct strbuf *b, const char *s, size_t n);
int strbuf_printf(struct strbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* From now on, hand the contents to fn(arg, s, n) whenever holding more
 * than at bytes; fn returns 0, or -1 to stop (the buffer is then
 * truncated).  strbuf_drain() hands over the rest. */
void strbuf_drain_into(struct strbuf *b, size_t at, int (*fn)(void *arg, const char *s, size_t n),
		       void *arg);
int strbuf_drain(struct strbuf *b);
/* The contents, "" when empty. */
const char *strbuf_str(const struct strbuf *b);

#endif
