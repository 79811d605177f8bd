/* test_tls.c - certificate facts extracted from real certificates (made
 * here with OpenSSL, dates relative to now), and check_mta_cert's mapping
 * of facts to states. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "checks/check.h"
#include "cli/options.h"
#include "lib/tls.h"

extern const struct tls_ops mtaprobe_tls_ops;

static EVP_PKEY *key_ec(const char *curve)
{
	return EVP_PKEY_Q_keygen(NULL, NULL, "EC", curve);
}

static EVP_PKEY *key_rsa(unsigned bits)
{
	return EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)bits);
}

/* A certificate for key, valid from now+from_days to now+to_days, signed by
 * signer (itself when NULL) with md, as DER into *der. */
static int make_cert(EVP_PKEY *key, EVP_PKEY *signer, const EVP_MD *md, long from_days,
		     long to_days, const char *cn, const char *san, unsigned char **der)
{
	X509 *x = X509_new();
	X509_NAME *n = X509_NAME_new();
	X509V3_CTX v3;
	X509_EXTENSION *ext;
	int len;

	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 4711);
	X509_gmtime_adj(X509_getm_notBefore(x), from_days * 86400);
	X509_gmtime_adj(X509_getm_notAfter(x), to_days * 86400 + 3600);
	X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
	X509_set_subject_name(x, n);
	X509_set_issuer_name(x, n);
	X509_set_pubkey(x, key);
	if (san) {
		X509V3_set_ctx_nodb(&v3);
		X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
		ext = X509V3_EXT_conf_nid(NULL, &v3, NID_subject_alt_name, san);
		X509_add_ext(x, ext, -1);
		X509_EXTENSION_free(ext);
	}
	X509_sign(x, signer ? signer : key, md);
	*der = NULL;
	len = i2d_X509(x, der);
	X509_NAME_free(n);
	X509_free(x);
	return len;
}

static void test_facts_ec(void **state)
{
	EVP_PKEY *k = key_ec("P-256");
	unsigned char *der;
	int len = make_cert(k, NULL, EVP_sha256(), -1, 365, "mail.example.test",
			    "DNS:mail.example.test,DNS:localhost,IP:127.0.0.1,IP:::1", &der);
	struct cert_facts f;
	int64_t now = (int64_t)time(NULL);

	(void)state;
	assert_int_equal(mtaprobe_tls_ops.der_facts(der, (size_t)len, &f), 0);
	assert_int_equal(f.key_type, KEY_EC);
	assert_int_equal(f.key_bits, 256);
	assert_string_equal(f.key_name, "EC");
	assert_string_equal(f.sig_alg, "ecdsa-with-SHA256");
	assert_false(f.sig_weak);
	assert_true(f.self_signed);
	assert_string_equal(f.subject, "CN=mail.example.test");
	assert_string_equal(f.sans, "DNS:mail.example.test, DNS:localhost, IP:127.0.0.1, IP:::1");
	assert_true(f.not_before <= now - 86400 + 5 && f.not_before >= now - 86400 - 5);
	assert_true(f.not_after >= now + 365 * 86400 + 3600 - 5 &&
		    f.not_after <= now + 365 * 86400 + 3605);
	OPENSSL_free(der);
	EVP_PKEY_free(k);
}

static void test_facts_weak(void **state)
{
	EVP_PKEY *small = key_rsa(1024), *rsa = key_rsa(2048);
	unsigned char *der;
	struct cert_facts f;
	int len;

	(void)state;
	len = make_cert(small, NULL, EVP_sha256(), -1, 30, "rsa1024.example.test", NULL, &der);
	assert_int_equal(mtaprobe_tls_ops.der_facts(der, (size_t)len, &f), 0);
	assert_int_equal(f.key_type, KEY_RSA);
	assert_int_equal(f.key_bits, 1024);
	assert_string_equal(f.sig_alg, "sha256WithRSAEncryption");
	assert_false(f.sig_weak);
	OPENSSL_free(der);

	len = make_cert(rsa, small, EVP_sha1(), -1, 30, "sha1.example.test", NULL, &der);
	assert_int_equal(mtaprobe_tls_ops.der_facts(der, (size_t)len, &f), 0);
	assert_string_equal(f.sig_alg, "sha1WithRSAEncryption");
	assert_true(f.sig_weak);
	assert_int_equal(f.key_bits, 2048);
	OPENSSL_free(der);

	/* hostile names are sanitised */
	len = make_cert(rsa, NULL, EVP_sha256(), -1, 30, "evil\x1b[31m|perf=1", NULL, &der);
	assert_int_equal(mtaprobe_tls_ops.der_facts(der, (size_t)len, &f), 0);
	assert_null(strchr(f.subject, '\x1b'));
	assert_null(strchr(f.subject, '|'));
	OPENSSL_free(der);
	EVP_PKEY_free(small);
	EVP_PKEY_free(rsa);
}

static void test_facts_garbage(void **state)
{
	static const unsigned char junk[] = { 0x30, 0x82, 0xff, 0xff, 0x01, 0x02 };
	struct cert_facts f;

	(void)state;
	assert_int_equal(mtaprobe_tls_ops.der_facts(junk, sizeof(junk), &f), -1);
	assert_int_equal(mtaprobe_tls_ops.der_facts(junk, 0, &f), -1);
}

/* --- check_cert_judge: facts -> states, no OpenSSL ------------------------ */

#define DAY 86400
static const int64_t NOW = 1800000000;

static struct tls_facts leaf(enum key_type kt, int bits, double days_left)
{
	struct tls_facts f;

	memset(&f, 0, sizeof(f));
	f.ncerts = 1;
	f.chain[0].key_type = kt;
	f.chain[0].key_bits = bits;
	snprintf(f.chain[0].key_name, sizeof(f.chain[0].key_name), "%s",
		 kt == KEY_RSA ? "RSA" : "EC");
	snprintf(f.chain[0].sig_alg, sizeof(f.chain[0].sig_alg), "ecdsa-with-SHA256");
	f.chain[0].not_before = NOW - 30 * DAY;
	f.chain[0].not_after = NOW + (int64_t)(days_left * DAY);
	return f;
}

static enum state judge(struct check_cfg *cfg, const struct tls_facts *f, double *days, char *text,
			size_t n)
{
	struct result r;
	double chain_days = 1e9;
	enum state s;

	result_init(&r, "CERT", "mx", 25);
	*days = check_cert_judge(cfg, &r, f, NOW, &chain_days);
	s = r.state;
	text[0] = '\0';
	for (int i = 0; i < r.nproblems; i++)
		snprintf(text + strlen(text), n - strlen(text), "%s; ", r.problems[i].text);
	result_free(&r);
	return s;
}

static void cfg_days(struct check_cfg *cfg, const char *w, const char *c)
{
	char why[64];

	memset(cfg, 0, sizeof(*cfg));
	options_defaults(BIN_CERT, &(struct opt_dest){ cfg, NULL, NULL });
	range_parse(w, &cfg->days_warn, why, sizeof(why));
	range_parse(c, &cfg->days_crit, why, sizeof(why));
}

static void test_judge_days(void **state)
{
	static const struct {
		double left;
		enum state s;
		double days;
		const char *says;
	} t[] = {
		{ 364.5, STATE_OK, 364, "EC-256 certificate expires in 364 days" },
		{ 30.0, STATE_OK, 30, "expires in 30 days" },
		{ 29.99, STATE_WARNING, 29, "expires in 29 days" },
		{ 20.5, STATE_WARNING, 20, "expires in 20 days" },
		{ 14.0, STATE_WARNING, 14, "expires in 14 days" },
		{ 13.9, STATE_CRITICAL, 13, "expires in 13 days" },
		{ 0.5, STATE_CRITICAL, 0, "expires in 0 days" },
		{ -1.5, STATE_CRITICAL, -1, "expired 1 day ago" },
		{ -3.5, STATE_CRITICAL, -3, "expired 3 days ago" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct check_cfg cfg;
		struct tls_facts f = leaf(KEY_EC, 256, t[i].left);
		double days;
		char text[400];

		cfg_days(&cfg, "30:", "14:");
		if (judge(&cfg, &f, &days, text, sizeof(text)) != t[i].s || days != t[i].days ||
		    strstr(text, t[i].says) == NULL)
			fail_msg("%.2f days left: state/days/text wrong: %g '%s'", t[i].left, days,
				 text);
	}
}

static void test_judge_validity_and_verify(void **state)
{
	struct check_cfg cfg;
	struct tls_facts f;
	double days;
	char text[400];

	(void)state;
	cfg_days(&cfg, "30:", "14:");
	f = leaf(KEY_EC, 256, 400);
	f.chain[0].not_before = NOW + 30 * DAY;
	assert_int_equal(judge(&cfg, &f, &days, text, sizeof(text)), STATE_CRITICAL);
	assert_non_null(strstr(text, "is not valid before"));

	f = leaf(KEY_EC, 256, 300);
	f.verify_code = 62;
	snprintf(f.verify_reason, sizeof(f.verify_reason), "hostname mismatch");
	assert_int_equal(judge(&cfg, &f, &days, text, sizeof(text)), STATE_CRITICAL);
	assert_non_null(strstr(text, "verification failed: hostname mismatch"));
	cfg.no_verify = true;
	assert_int_equal(judge(&cfg, &f, &days, text, sizeof(text)), STATE_OK);
}

static void test_judge_weak(void **state)
{
	struct check_cfg cfg;
	struct tls_facts f;
	double days;
	char text[400];

	(void)state;
	cfg_days(&cfg, "30:", "14:");
	f = leaf(KEY_RSA, 1024, 300);
	assert_int_equal(judge(&cfg, &f, &days, text, sizeof(text)), STATE_WARNING);
	f = leaf(KEY_RSA, 2048, 300);
	assert_int_equal(judge(&cfg, &f, &days, text, sizeof(text)), STATE_OK);
	f = leaf(KEY_EC, 224, 300);
	assert_int_equal(judge(&cfg, &f, &days, text, sizeof(text)), STATE_WARNING);
	f = leaf(KEY_EC, 256, 300);
	f.chain[0].sig_weak = true;
	assert_int_equal(judge(&cfg, &f, &days, text, sizeof(text)), STATE_WARNING);
	/* SHA-1 on a self-signed root at the end of the chain does not count */
	f = leaf(KEY_EC, 256, 300);
	f.ncerts = 2;
	f.chain[1] = f.chain[0];
	f.chain[1].sig_weak = true;
	f.chain[1].self_signed = true;
	f.chain[1].not_after = NOW + 10 * DAY;
	assert_int_equal(judge(&cfg, &f, &days, text, sizeof(text)), STATE_OK);
}

static void test_chain_days(void **state)
{
	struct check_cfg cfg;
	struct tls_facts f = leaf(KEY_EC, 256, 300);
	struct result r;
	double chain_days = 1e9;

	(void)state;
	cfg_days(&cfg, "30:", "14:");
	f.ncerts = 2;
	f.chain[1] = f.chain[0];
	f.chain[1].not_after = NOW + 20 * DAY + 10;
	result_init(&r, "CERT", "mx", 25);
	assert_true(check_cert_judge(&cfg, &r, &f, NOW, &chain_days) == 300);
	assert_true(chain_days == 20);
	assert_int_equal(r.state, STATE_OK); /* -w/-c judge the leaf */
	result_free(&r);
}

static void test_version_parse(void **state)
{
	(void)state;
	assert_int_equal(tls_version_parse("1.2"), 0x0303);
	assert_int_equal(tls_version_parse("TLSv1.3"), 0x0304);
	assert_int_equal(tls_version_parse("1.0"), 0x0301);
	assert_int_equal(tls_version_parse("TLSv1"), 0x0301);
	assert_int_equal(tls_version_parse("1.4"), -1);
	assert_int_equal(tls_version_parse("ssl3"), -1);
	assert_string_equal(tls_version_name(0x0301), "TLSv1");
	assert_string_equal(tls_version_name(0x0304), "TLSv1.3");
	assert_string_equal(tls_version_name(0x0300), "unknown");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_facts_ec),
		cmocka_unit_test(test_facts_weak),
		cmocka_unit_test(test_facts_garbage),
		cmocka_unit_test(test_judge_days),
		cmocka_unit_test(test_judge_validity_and_verify),
		cmocka_unit_test(test_judge_weak),
		cmocka_unit_test(test_chain_days),
		cmocka_unit_test(test_version_parse),
	};
	return cmocka_run_group_tests_name("tls", tests, NULL, NULL);
}
