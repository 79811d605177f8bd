/* fuzz_der.c - libFuzzer target: certificate facts from DER bytes, as a
 * server's chain delivers them, through the TLS module's der_facts
 * (lib/tls_openssl.c linked in: tls_ops_get finds mtaprobe_tls_ops, as in
 * the runner).  Invariants: every text field is NUL-terminated inside its
 * array; subject, issuer and SANs (sanitised) hold no control byte and no
 * '|'; the key type is one of enum key_type.  tests/fuzz.sh runs it. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/tls.h"

/* An invariant does not hold: say where (the condition is the "if" just
 * above that line), then abort, which libFuzzer reports as a crash. */
#define BROKEN() (fprintf(stderr, "fuzz: invariant broken at %s:%d\n", __FILE__, __LINE__), abort())

static void text(const char *s, size_t size, int clean)
{
	const char *end = memchr(s, '\0', size);

	if (end == NULL)
		BROKEN();
	for (const char *p = s; clean && p < end; p++) {
		unsigned char c = (unsigned char)*p;

		if (c < 0x20 || c >= 0x7f || c == '|')
			BROKEN();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct tls_ops *ops;
	struct cert_facts *f;
	char why[256];

	if (ops == NULL) {
		ops = tls_ops_get(why, sizeof(why));
		if (ops == NULL || ops->abi != TLS_OPS_ABI || ops->der_facts == NULL)
			BROKEN(); /* mtaprobe_tls_ops is not linked in */
	}
	f = malloc(sizeof(*f));
	if (f == NULL)
		return 0;
	memset(f, 0x5a, sizeof(*f));
	if (ops->der_facts(data, size, f) == 0) {
		if (f->key_type < KEY_UNKNOWN || f->key_type > KEY_DSA)
			BROKEN();
		text(f->key_name, sizeof(f->key_name), 1);
		text(f->sig_alg, sizeof(f->sig_alg), 0);
		text(f->subject, sizeof(f->subject), 1);
		text(f->issuer, sizeof(f->issuer), 1);
		text(f->sans, sizeof(f->sans), 1);
	}
	free(f);
	return 0;
}
