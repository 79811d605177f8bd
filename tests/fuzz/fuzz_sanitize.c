/* fuzz_sanitize.c - libFuzzer target: sanitize() over arbitrary bytes with
 * several destination sizes and output caps.  Invariants: the output is
 * NUL-terminated inside dst, no longer than max_out or dst_size - 1, holds
 * only printable ASCII other than '|', and is exactly a reference escaping
 * of the input (or of a prefix of it followed by "..." when cut).
 * tests/fuzz.sh runs it. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/sanitize.h"

/* An invariant does not hold: say where (the condition is the "if" just
 * above that line), then abort, which libFuzzer reports as a crash. */
#define BROKEN() (fprintf(stderr, "fuzz: invariant broken at %s:%d\n", __FILE__, __LINE__), abort())

static bool plain(unsigned char c)
{
	return c >= 0x20 && c < 0x7f && c != '|' && c != '\\';
}

/* The whole escaping of src[0..n) into out (4n + 1 bytes); its length. */
static size_t reference(const uint8_t *src, size_t n, char *out)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		if (plain(src[i])) {
			out[o++] = (char)src[i];
		} else {
			out[o++] = '\\';
			out[o++] = 'x';
			out[o++] = hex[src[i] >> 4];
			out[o++] = hex[src[i] & 15];
		}
	}
	out[o] = '\0';
	return o;
}

static void one(const uint8_t *data, size_t size, const char *ref, size_t ref_len, size_t dst_size,
		size_t max_out)
{
	char *dst = malloc(dst_size ? dst_size : 1);
	size_t cap = max_out < dst_size - 1 ? max_out : dst_size - 1, len;

	if (dst == NULL)
		return;
	memset(dst, 'Z', dst_size);
	if (sanitize(dst, dst_size, (const char *)data, size, max_out) != dst)
		BROKEN();
	if (memchr(dst, '\0', dst_size) == NULL)
		BROKEN();
	len = strlen(dst);
	if (len > cap)
		BROKEN();
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)dst[i];

		if (c < 0x20 || c >= 0x7f || c == '|')
			BROKEN();
	}
	if (ref_len <= cap) {
		if (len != ref_len || memcmp(dst, ref, len) != 0)
			BROKEN();
	} else {
		/* cut: the longest prefix of whole escapes within cap - 3 (nothing
		 * when cap < 3), then "..." (when cap >= 3) */
		size_t limit = cap >= 3 ? cap - 3 : 0, body = 0;

		for (size_t i = 0; i < size; i++) {
			size_t w = plain(data[i]) ? 1 : 4;

			if (body + w > limit)
				break;
			body += w;
		}
		if (len != body + (cap >= 3 ? 3 : 0) || memcmp(dst, ref, body) != 0)
			BROKEN();
		if (cap >= 3 && memcmp(dst + body, "...", 3) != 0)
			BROKEN();
	}
	free(dst);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const size_t dst_sizes[] = { 1, 2, 3, 4, 5, 8, 17, 64, 256, 4096 };
	static const size_t max_outs[] = { 0, 1, 2, 3, 4, 7, 40, 200, 1000, (size_t)-1 };
	char *ref;
	size_t ref_len;
	char z = 'Z';

	if (size > 65536)
		return 0;
	ref = malloc(4 * size + 1);
	if (ref == NULL)
		return 0;
	ref_len = reference(data, size, ref);
	for (size_t i = 0; i < sizeof(dst_sizes) / sizeof(dst_sizes[0]); i++)
		for (size_t k = 0; k < sizeof(max_outs) / sizeof(max_outs[0]); k++)
			one(data, size, ref, ref_len, dst_sizes[i], max_outs[k]);
	one(data, size, ref, ref_len, 4 * size + 1, (size_t)-1);
	/* dst_size 0 writes nothing */
	if (sanitize(&z, 0, (const char *)data, size, 10) != &z || z != 'Z')
		BROKEN();
	free(ref);
	return 0;
}
