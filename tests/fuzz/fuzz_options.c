/* fuzz_options.c - libFuzzer target: a plugin's command line.  The input,
 * split on NUL bytes, is an argv (program name first, at most 32 arguments)
 * given to options_parse for each of the five plugins (getopt over the
 * option table, every validator).  Invariants: the result is -1 (go on) or
 * 3 (UNKNOWN, with text); going on means a host or an MX domain and a port
 * 1-65535; the first line of the text holds no control byte (argv is
 * quoted with '?' for them).  Nothing leaks (LeakSanitizer).
 * tests/fuzz.sh runs it. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/options.h"
#include "lib/strbuf.h"

/* An invariant does not hold: say where (the condition is the "if" just
 * above that line), then abort, which libFuzzer reports as a crash. */
#define BROKEN() (fprintf(stderr, "fuzz: invariant broken at %s:%d\n", __FILE__, __LINE__), abort())

#define MAX_ARGS 32

static void first_line_clean(const struct strbuf *out)
{
	const char *s = strbuf_str(out);

	for (; *s && *s != '\n'; s++) {
		unsigned char c = (unsigned char)*s;

		if (c < 0x20 || c == 0x7f)
			BROKEN();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *copy = malloc(size + 1), *argv[MAX_ARGS + 2];
	int argc = 1;

	argv[0] = NULL;

	if (copy == NULL)
		return 0;
	memcpy(copy, data, size);
	copy[size] = '\0';
	/* "a\0b\0" is two arguments, "a\0b" too; a trailing NUL ends the last */
	for (size_t off = 0; off < size && argc < MAX_ARGS + 1;) {
		size_t len = strlen(copy + off);

		argv[argc++] = copy + off;
		off += len + 1;
	}
	argv[argc] = NULL;

	for (int b = 0; b < 5; b++) {
		char *args[MAX_ARGS + 2];
		struct check_cfg cfg;
		struct strbuf out;
		int rc;

		/* getopt permutes argv: each binary gets its own copy */
		memcpy(args, argv, sizeof(args[0]) * (size_t)(argc + 1));
		args[0] = (char *)binaries[b]->prog;
		strbuf_init(&out, 1 << 16);
		rc = options_parse(binaries[b], argc, args, &cfg, &out);
		if (rc != -1 && rc != 3)
			BROKEN();
		if (rc == 3 && out.len == 0)
			BROKEN();
		if (rc == -1 && ((cfg.host == NULL && cfg.mx_domain == NULL) || cfg.port < 1 ||
				 cfg.port > 65535))
			BROKEN();
		first_line_clean(&out);
		options_free(&cfg);
		strbuf_free(&out);
	}
	free(copy);
	return 0;
}
