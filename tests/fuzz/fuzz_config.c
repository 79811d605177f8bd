/* fuzz_config.c - libFuzzer target: the runner's YAML configuration
 * (config_load_string over libyaml and the option table's YAML keys).
 * Invariants: success leaves at least a path and sane counts, failure an
 * ERR_CONFIG message that is NUL-terminated; nothing leaks either way
 * (LeakSanitizer).  tests/fuzz.sh runs it. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/err.h"
#include "runner/config.h"

/* An invariant does not hold: say where (the condition is the "if" just
 * above that line), then abort, which libFuzzer reports as a crash. */
#define BROKEN() (fprintf(stderr, "fuzz: invariant broken at %s:%d\n", __FILE__, __LINE__), abort())

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config cfg;
	struct probe_err e;

	memset(&e, 0, sizeof(e));
	if (config_load_string((const char *)data, size, "fuzz.yaml", &cfg, &e) == 0) {
		if (cfg.path == NULL || strcmp(cfg.path, "fuzz.yaml") != 0 || cfg.concurrency < 1 ||
		    cfg.concurrency > 1024)
			BROKEN();
		for (size_t i = 0; i < cfg.ntargets; i++) {
			const struct target *t = &cfg.targets[i];

			if (t->name == NULL || t->nlabels < 0 || t->nlabels > CONFIG_MAX_LABELS)
				BROKEN();
			for (int k = 0; k < t->nlabels; k++)
				if (t->labels[k].name == NULL || t->labels[k].value == NULL)
					BROKEN();
		}
		config_free(&cfg);
	} else {
		if (e.kind != ERR_CONFIG || memchr(e.msg, '\0', sizeof(e.msg)) == NULL ||
		    e.msg[0] == '\0')
			BROKEN();
	}
	return 0;
}
