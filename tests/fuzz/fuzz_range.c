/* fuzz_range.c - libFuzzer target: the Nagios threshold range grammar
 * (range_parse on at most 64 bytes, NUL-terminated, then range_alerts on a
 * few values).  Invariants: a parsed range keeps low <= high when both are
 * finite, its text is NUL-terminated, and "inside" alerts exactly where
 * "outside" does not.  tests/fuzz.sh runs it. */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/range.h"

/* An invariant does not hold: say where (the condition is the "if" just
 * above that line), then abort, which libFuzzer reports as a crash. */
#define BROKEN() (fprintf(stderr, "fuzz: invariant broken at %s:%d\n", __FILE__, __LINE__), abort())

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const double values[] = { -1e300, -1, -0.5, 0, 0.5, 1, 2, 10, 99.99, 1e300 };
	char s[65], why[128];
	struct range r;
	size_t n = size < 64 ? size : 64;

	memcpy(s, data, n);
	s[n] = '\0';
	memset(&r, 0, sizeof(r));
	if (range_parse(s, &r, why, (int)sizeof(why)) != 0) {
		if (memchr(why, '\0', sizeof(why)) == NULL)
			BROKEN();
		(void)range_parse(s, &r, why, 1);
		return 0;
	}
	if (memchr(r.text, '\0', sizeof(r.text)) == NULL)
		BROKEN();
	if (!r.set)
		return 0;
	if (!r.low_inf && !isfinite(r.low))
		BROKEN();
	if (!r.high_inf && !isfinite(r.high))
		BROKEN();
	if (!r.low_inf && !r.high_inf && r.low > r.high)
		BROKEN();
	for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
		struct range flipped = r;
		bool a = range_alerts(&r, values[i]);

		flipped.inside = !r.inside;
		if (range_alerts(&flipped, values[i]) == a)
			BROKEN();
	}
	return 0;
}
