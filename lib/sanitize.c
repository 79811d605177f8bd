/* sanitize.c - see sanitize.h */
#include "lib/sanitize.h"

#include <stdbool.h>
#include <string.h>

static bool plain_byte(unsigned char c)
{
	return c >= 0x20 && c < 0x7f && c != '|' && c != '\\';
}

char *sanitize(char *dst, size_t dst_size, const char *src, size_t n, size_t max_out)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0, i, full = 0, limit;

	if (dst_size == 0)
		return dst;
	if (max_out > dst_size - 1)
		max_out = dst_size - 1;
	for (i = 0; i < n && full <= max_out; i++)
		full += plain_byte((unsigned char)src[i]) ? 1 : 4;
	/* Everything fits, or stop early enough to leave room for "...". */
	limit = full <= max_out ? max_out : (max_out >= 3 ? max_out - 3 : 0);
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)src[i];
		bool plain = plain_byte(c);

		if (o + (plain ? 1 : 4) > limit)
			break;
		if (plain) {
			dst[o++] = (char)c;
		} else {
			dst[o++] = '\\';
			dst[o++] = 'x';
			dst[o++] = hex[c >> 4];
			dst[o++] = hex[c & 15];
		}
	}
	if (i < n && max_out >= 3) {
		memcpy(dst + o, "...", 3);
		o += 3;
	}
	dst[o] = '\0';
	return dst;
}
