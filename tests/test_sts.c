/* test_sts.c - MTA-STS TXT records and policies, TLS-RPT records and the
 * MX pattern rule (RFC 8461, RFC 8460), over raw bytes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "lib/sts.h"

static int txt(const char *s, char *id, char *why)
{
	return sts_txt_parse(s, strlen(s), id, 64, why, 128);
}

static void test_sts_txt(void **state)
{
	char id[64], why[128];

	(void)state;
	assert_int_equal(txt("v=STSv1; id=20261201T0000", id, why), 1);
	assert_string_equal(id, "20261201T0000");
	assert_int_equal(txt("v=STSv1;id=abc;", id, why), 1);
	assert_string_equal(id, "abc");
	assert_int_equal(txt("v=STSv1 ;  id=abc ; ext=1", id, why), 1);
	assert_int_equal(txt("v=STSv1; ext=x; id=Z9", id, why), 1);
	assert_string_equal(id, "Z9");
	/* other records at the name are not STS: ignored */
	assert_int_equal(txt("v=spf1 -all", id, why), 0);
	assert_int_equal(txt("v=STSv10; id=1", id, why), 0);
	assert_int_equal(txt("", id, why), 0);
	/* invalid STSv1 records */
	assert_int_equal(txt("v=STSv1;", id, why), -1);
	assert_non_null(strstr(why, "no id"));
	assert_int_equal(txt("v=STSv1; id=", id, why), -1);
	assert_int_equal(txt("v=STSv1; id=2026-12-01", id, why), -1);
	assert_non_null(strstr(why, "letters and digits"));
	assert_int_equal(txt("v=STSv1; id=123456789012345678901234567890123", id, why), -1);
	assert_int_equal(txt("v=STSv1; id=1; id=2", id, why), -1);
	assert_non_null(strstr(why, "twice"));
	assert_int_equal(txt("v=STSv1 id=1", id, why), -1);
	assert_int_equal(txt("v=STSv1; id", id, why), -1);
	/* a hostile id never reaches why raw */
	assert_int_equal(sts_txt_parse("v=STSv1; id=a\x1b[31m|x", 21, id, 64, why, 128), -1);
	assert_null(strchr(why, '\x1b'));
	assert_null(strchr(why, '|'));
}

static int pol(const char *s, struct sts_policy *p, char *why)
{
	return sts_policy_parse(s, strlen(s), p, why, 128);
}

static void test_policy(void **state)
{
	struct sts_policy p;
	char why[128];

	(void)state;
	assert_int_equal(pol("version: STSv1\nmode: enforce\nmx: mx1.example.test\n"
			     "mx: *.example.net\nmax_age: 604800\n",
			     &p, why),
			 0);
	assert_int_equal(p.mode, STS_ENFORCE);
	assert_int_equal(p.max_age, 604800);
	assert_int_equal(p.nmx, 2);
	assert_string_equal(p.mx[1], "*.example.net");
	/* CRLF, blanks around values, unknown keys, no final line end */
	assert_int_equal(pol("version: STSv1\r\nmode:testing\r\nfoo: bar baz\r\nmx:  a.example  "
			     "\r\nmax_age: 0",
			     &p, why),
			 0);
	assert_int_equal(p.mode, STS_TESTING);
	assert_int_equal(p.max_age, 0);
	assert_string_equal(p.mx[0], "a.example");
	/* mode none needs no mx */
	assert_int_equal(pol("version: STSv1\nmode: none\nmax_age: 86400\n", &p, why), 0);
	assert_int_equal(p.mode, STS_NONE);
	/* each missing or bad field named */
	assert_int_equal(pol("mode: enforce\nmx: a.b\nmax_age: 1\n", &p, why), -1);
	assert_non_null(strstr(why, "version"));
	assert_int_equal(pol("mode: enforce\nversion: STSv1\nmx: a.b\nmax_age: 1\n", &p, why), -1);
	assert_non_null(strstr(why, "first"));
	assert_int_equal(pol("version: STSv2\nmode: enforce\nmx: a.b\nmax_age: 1\n", &p, why), -1);
	assert_int_equal(pol("version: STSv1\nmx: a.b\nmax_age: 1\n", &p, why), -1);
	assert_non_null(strstr(why, "no mode"));
	assert_int_equal(pol("version: STSv1\nmode: strict\nmx: a.b\nmax_age: 1\n", &p, why), -1);
	assert_non_null(strstr(why, "mode 'strict'"));
	assert_int_equal(pol("version: STSv1\nmode: enforce\nmx: a.b\n", &p, why), -1);
	assert_non_null(strstr(why, "max_age"));
	assert_int_equal(
		pol("version: STSv1\nmode: enforce\nmx: a.b\nmax_age: 31557601\n", &p, why), -1);
	assert_int_equal(pol("version: STSv1\nmode: enforce\nmx: a.b\nmax_age: -1\n", &p, why), -1);
	assert_int_equal(
		pol("version: STSv1\nmode: enforce\nmx: a.b\nmax_age: 99999999999\n", &p, why), -1);
	assert_int_equal(pol("version: STSv1\nmode: enforce\nmax_age: 1\n", &p, why), -1);
	assert_non_null(strstr(why, "no mx"));
	assert_int_equal(pol("version: STSv1\nmode: enforce\nmx: a b\nmax_age: 1\n", &p, why), -1);
	assert_int_equal(pol("version: STSv1\nmode: enforce\nmx: *.\nmax_age: 1\n", &p, why), -1);
	assert_int_equal(
		pol("version: STSv1\nmode: enforce\nmode: none\nmx: a.b\nmax_age: 1\n", &p, why),
		-1);
	assert_non_null(strstr(why, "twice"));
	assert_int_equal(pol("version: STSv1\nmode enforce\n", &p, why), -1);
	assert_non_null(strstr(why, "line 2"));
	assert_int_equal(pol("<html>404</html>\n", &p, why), -1);
	/* control bytes: refused, never echoed */
	assert_int_equal(sts_policy_parse("version: STSv1\nmode: enf\x1b[0m\n", 29, &p, why, 128),
			 -1);
	assert_null(strchr(why, '\x1b'));
	assert_int_equal(sts_policy_parse("version: STSv1\0\nmode: none\n", 27, &p, why, 128), -1);
}

static void test_many_mx(void **state)
{
	char buf[8192];
	size_t n =
		(size_t)snprintf(buf, sizeof(buf), "version: STSv1\nmode: enforce\nmax_age: 1\n");
	struct sts_policy p;
	char why[128];

	(void)state;
	for (int i = 0; i < 40; i++)
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "mx: mx%d.example.test\n", i);
	assert_int_equal(sts_policy_parse(buf, n, &p, why, sizeof(why)), 0);
	assert_int_equal(p.nmx, STS_MX_MAX);
	assert_int_equal(p.mx_total, 40);
}

static void test_mx_match(void **state)
{
	(void)state;
	assert_true(sts_mx_match("mx1.example.test", "mx1.example.test"));
	assert_true(sts_mx_match("MX1.Example.Test", "mx1.example.test."));
	assert_true(sts_mx_match("mx1.example.test.", "MX1.EXAMPLE.TEST"));
	assert_false(sts_mx_match("mx1.example.test", "mx2.example.test"));
	assert_false(sts_mx_match("example.test", "mx1.example.test"));
	/* one leftmost label only (RFC 8461 §4.1) */
	assert_true(sts_mx_match("*.example.net", "mx.example.net"));
	assert_true(sts_mx_match("*.example.net", "MX.Example.NET."));
	assert_false(sts_mx_match("*.example.net", "a.b.example.net"));
	assert_false(sts_mx_match("*.example.net", "example.net"));
	assert_false(sts_mx_match("*.example.net", ".example.net"));
	assert_false(sts_mx_match("*.example.net", "mx.example.net.evil"));
	assert_false(sts_mx_match("*.example.net", "mxexample.net"));
}

static int rpt(const char *s, char *rua, char *why)
{
	return tlsrpt_txt_parse(s, strlen(s), rua, 256, why, 128);
}

static void test_tlsrpt(void **state)
{
	char rua[256], why[128];

	(void)state;
	assert_int_equal(rpt("v=TLSRPTv1; rua=mailto:tlsrpt@example.test", rua, why), 1);
	assert_string_equal(rua, "mailto:tlsrpt@example.test");
	assert_int_equal(rpt("v=TLSRPTv1;rua=mailto:a@b.test,https://r.example.test/v1", rua, why),
			 1);
	assert_int_equal(rpt("v=spf1 -all", rua, why), 0);
	assert_int_equal(rpt("v=TLSRPTv1;", rua, why), -1);
	assert_non_null(strstr(why, "no rua"));
	assert_int_equal(rpt("v=TLSRPTv1; rua=http://insecure.example/", rua, why), -1);
	assert_non_null(strstr(why, "mailto: or https:"));
	assert_int_equal(rpt("v=TLSRPTv1; rua=mailto:a@b,ftp://x", rua, why), -1);
	assert_int_equal(rpt("v=TLSRPTv1; rua=mailto:a@b; rua=mailto:c@d", rua, why), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sts_txt), cmocka_unit_test(test_policy),
		cmocka_unit_test(test_many_mx), cmocka_unit_test(test_mx_match),
		cmocka_unit_test(test_tlsrpt),
	};

	return cmocka_run_group_tests_name("sts", tests, NULL, NULL);
}
