/* sanitize.h - text from a server (or any peer) made safe to print: every
 * byte that could end a status line, start perfdata or drive a terminal
 * is escaped, and the length is capped. */
#ifndef MTAPROBE_SANITIZE_H
#define MTAPROBE_SANITIZE_H

#include <stddef.h>

/* Write src[0..n) into dst (size dst_size, always NUL-terminated) with every
 * byte outside printable ASCII, and '|' (the perfdata separator), and '\\',
 * escaped as \xNN; output longer than max_out chars ends in "...".
 * Returns dst. */
char *sanitize(char *dst, size_t dst_size, const char *src, size_t n, size_t max_out);

#endif
