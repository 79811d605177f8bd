/* fuzz_sts.c - libFuzzer target: MTA-STS policies and TXT records, TLS-RPT
 * records and the MX pattern rule (lib/sts.c), all over bytes from the
 * outside world.  Invariants: a parsed policy has a mode, a max_age in
 * range and, unless mode none, an mx pattern; ids are 1-32 letters and
 * digits; every message is NUL-terminated with no control byte, '|' or
 * newline; a pattern always matches itself when it is a plain name.
 * tests/fuzz.sh runs it. */
#include <ctype.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/sts.h"

#define BROKEN() (fprintf(stderr, "fuzz: invariant broken at %s:%d\n", __FILE__, __LINE__), abort())

static void printable(const char *s, size_t size)
{
	if (memchr(s, '\0', size) == NULL)
		BROKEN();
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f || *s == '|')
			BROKEN();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	struct sts_policy *p = malloc(sizeof(*p));
	char why[128], id[64], rua[256];
	int rc;

	if (p == NULL)
		return 0;
	if (sts_policy_parse(s, size, p, why, sizeof(why)) == 0) {
		if (p->mode == STS_MODE_UNSET || p->max_age < 0 || p->max_age > STS_MAX_AGE_MAX ||
		    (p->mode != STS_NONE && p->nmx == 0) || p->nmx > STS_MX_MAX ||
		    p->nmx > p->mx_total)
			BROKEN();
		for (int i = 0; i < p->nmx; i++) {
			printable(p->mx[i], sizeof(p->mx[i]));
			if (p->mx[i][0] != '*' && !sts_mx_match(p->mx[i], p->mx[i]))
				BROKEN();
		}
	} else {
		printable(why, sizeof(why));
		if (why[0] == '\0')
			BROKEN();
	}
	rc = sts_txt_parse(s, size, id, sizeof(id), why, sizeof(why));
	if (rc == 1) {
		size_t n = strlen(id);

		if (n == 0 || n > STS_ID_MAX)
			BROKEN();
		for (size_t i = 0; i < n; i++)
			if (!isalnum((unsigned char)id[i]))
				BROKEN();
	} else if (rc == -1) {
		printable(why, sizeof(why));
	} else if (rc != 0) {
		BROKEN();
	}
	rc = tlsrpt_txt_parse(s, size, rua, sizeof(rua), why, sizeof(why));
	if (rc == 1)
		printable(rua, sizeof(rua));
	else if (rc == -1)
		printable(why, sizeof(why));
	/* the input split in two as a pattern and a host name */
	if (size > 1 && size < 600) {
		char a[300], b[300];
		size_t half = size / 2;

		snprintf(a, sizeof(a), "%.*s", (int)half, s);
		snprintf(b, sizeof(b), "%.*s", (int)(size - half), s + half);
		(void)sts_mx_match(a, b);
	}
	free(p);
	return 0;
}
