/* fuzz_reply.c - libFuzzer target: the SMTP reply parser and EHLO keyword
 * parser over arbitrary bytes, replies back to back as a connection would
 * deliver them.  `make fuzz` builds and runs it. */
#include <stddef.h>
#include <stdint.h>

#include "lib/smtp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct smtp_reply r;
	struct smtp_caps caps;
	char why[128], word[64];
	size_t off = 0;

	smtp_reply_init(&r);
	while (off < size) {
		size_t used = 0;
		int rc = smtp_reply_parse(&r, (const char *)data + off, size - off, &used, why,
					  sizeof(why));

		if (rc != 1)
			break;
		smtp_caps_parse(&r, &caps);
		smtp_reply_first_word(&r, word, sizeof(word));
		if (r.text.len > SMTP_REPLY_MAX_BYTES || r.nlines > SMTP_REPLY_MAX_LINES)
			__builtin_trap();
		off += used;
		smtp_reply_reset(&r);
	}
	smtp_reply_free(&r);
	return 0;
}
