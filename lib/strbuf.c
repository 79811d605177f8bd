/* strbuf.c - see strbuf.h */
#include "lib/strbuf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void strbuf_init(struct strbuf *b, size_t max)
{
	memset(b, 0, sizeof(*b));
	b->max = max;
}

void strbuf_free(struct strbuf *b)
{
	if (b == NULL)
		return;
	free(b->s);
	b->s = NULL;
	b->len = b->cap = 0;
}

int strbuf_append(struct strbuf *b, const char *s, size_t n)
{
	int rc = 0;

	/* once something is missing, nothing more: a later piece must not
	 * follow a hole (a status line without its start) */
	if (b->truncated)
		return -1;
	if (b->drain && b->len > 0 && b->len + n > b->drain_at && strbuf_drain(b) < 0)
		return -1;
	if (b->len + n > b->max) {
		n = b->max - b->len;
		b->truncated = true;
		rc = -1;
	}
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 64;
		char *p;

		while (cap < b->len + n + 1)
			cap *= 2;
		if (cap > b->max + 1)
			cap = b->max + 1;
		p = realloc(b->s, cap);
		if (p == NULL) {
			b->truncated = true;
			return -1;
		}
		b->s = p;
		b->cap = cap;
	}
	memcpy(b->s + b->len, s, n);
	b->len += n;
	b->s[b->len] = '\0';
	return rc;
}

int strbuf_printf(struct strbuf *b, const char *fmt, ...)
{
	char small[512], *big = NULL;
	va_list ap;
	int n, rc;

	va_start(ap, fmt);
	n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n < 0)
		return -1;
	if ((size_t)n < sizeof(small))
		return strbuf_append(b, small, (size_t)n);
	big = malloc((size_t)n + 1);
	if (big == NULL)
		return -1;
	va_start(ap, fmt);
	vsnprintf(big, (size_t)n + 1, fmt, ap);
	va_end(ap);
	rc = strbuf_append(b, big, (size_t)n);
	free(big);
	return rc;
}

void strbuf_drain_into(struct strbuf *b, size_t at, int (*fn)(void *arg, const char *s, size_t n),
		       void *arg)
{
	b->drain = fn;
	b->drain_arg = arg;
	b->drain_at = at;
}

int strbuf_drain(struct strbuf *b)
{
	if (b->truncated)
		return -1;
	if (b->drain == NULL || b->len == 0)
		return 0;
	if (b->drain(b->drain_arg, b->s, b->len) < 0) {
		b->truncated = true;
		return -1;
	}
	b->len = 0;
	b->s[0] = '\0';
	return 0;
}

const char *strbuf_str(const struct strbuf *b)
{
	return b->s ? b->s : "";
}
