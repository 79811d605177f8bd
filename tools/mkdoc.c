/* mkdoc.c - what users read and configure, from the one option table:
 *
 *   mkdoc man PROG     the man page of PROG (check_mta_cert, mtaprobe, ...)
 *   mkdoc icinga2      one Icinga 2 CheckCommand per plugin (ITL style)
 *   mkdoc nagios       Nagios / Naemon command definitions
 *   mkdoc migration    the check_smtp / check_ssl_cert migration table (Markdown)
 *
 * on standard output.  Every option a binary takes is a row of
 * cli/options.c, so a page or a definition cannot miss one or drift from
 * --help: tests/docs.sh regenerates conf/ and compares, and checks each
 * page against --help.  A build tool, never installed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/options.h"

/* ---- man pages (man(7) macros) ---------------------------------------- */

/* Text into roff: backslashes and hyphens escaped (options must stay
 * ASCII "-" when copied), a control character at a line start defused,
 * leading blanks of a line dropped in filled text. */
static void roff(const char *s, size_t n, bool fill)
{
	bool bol = true;

	for (size_t i = 0; i < n; i++) {
		char ch = s[i];

		if (bol && fill && ch == ' ')
			continue;
		if (bol && (ch == '.' || ch == '\''))
			fputs("\\&", stdout);
		bol = ch == '\n';
		if (ch == '\\')
			fputs("\\e", stdout);
		else if (ch == '-')
			fputs("\\-", stdout);
		else
			putchar(ch);
	}
}

static void roffs(const char *s)
{
	roff(s, strlen(s), true);
}

static bool takes(const struct binary *b, const struct opt *o)
{
	return o->name && (o->bins & b->bit);
}

/* "-H, --hostname HOST" in bold and italics. */
static void man_option_head(const struct opt *o)
{
	fputs(".TP\n", stdout);
	if (o->short_name)
		printf("\\fB\\-%c\\fR, ", o->short_name);
	fputs("\\fB\\-\\-", stdout);
	roffs(o->name);
	fputs("\\fR", stdout);
	if (o->arg) {
		fputs(" \\fI", stdout);
		roffs(o->arg);
		fputs("\\fR", stdout);
	}
	putchar('\n');
}

/* A sentence of the table's text: the full stop it leaves out. */
static void sentence(const char *s)
{
	size_t n = strlen(s);

	roffs(s);
	if (n && !strchr(".)!?", s[n - 1]))
		putchar('.');
	putchar('\n');
}

static void man_option(const struct binary *b, const struct opt *o)
{
	man_option_head(o);
	if ((o->type == OPT_RANGE || o->type == OPT_DAYS) && b->threshold_help) {
		roffs(o->help);
		fputs(": ", stdout);
		sentence(b->threshold_help);
	} else {
		sentence(o->help);
	}
	if (o->dflt && o->type != OPT_CHECKS) {
		fputs("Default: ", stdout);
		roffs(o->dflt);
		fputs(".\n", stdout);
	}
	if (o->yaml && b->bit != BIN_RUNNER) {
		fputs("In the runner's configuration: \\fB", stdout);
		roffs(o->yaml);
		fputs("\\fR.\n", stdout);
	}
}

/* What check_smtp, check_ssmtp (check_tcp) and check_ssl_cert users type,
 * and ours; bins: the pages that show the row. */
static const struct {
	const char *theirs, *ours, *note;
	unsigned bins;
} migration[] = {
	{ "check_smtp -H HOST -p PORT", "-H HOST -p PORT", "the same", BIN_PLUGINS },
	{ "check_smtp -4, -6 (--use-ipv4, --use-ipv6)", "-4, -6 (--ipv4, --ipv6)",
	  "the same; --use-ipv4 and --use-ipv6 are accepted too", BIN_PLUGINS },
	{ "check_smtp -t SEC", "-t SEC[:STATE]",
	  "one deadline for the whole check, the state on expiry selectable", BIN_PLUGINS },
	{ "check_smtp -w SEC -c SEC", "-w RANGE -c RANGE",
	  "seconds (connect for check_mta_port, the greeting for check_mta_banner, the "
	  "handshake for check_mta_starttls); any threshold range",
	  BIN_PORT | BIN_BANNER | BIN_STARTTLS },
	{ "check_smtp -F FQDN", "-F NAME (--ehlo)", "the EHLO name", BIN_PLUGINS },
	{ "check_smtp -e 220", "check_mta_banner -e TEXT",
	  "any greeting but 220 is CRITICAL anyway; -e asks for TEXT anywhere in it (WARNING)",
	  BIN_BANNER },
	{ "check_smtp -S", "check_mta_starttls",
	  "STARTTLS offered and working, with protocol and cipher; -S is accepted",
	  BIN_STARTTLS | BIN_CERT },
	{ "check_smtp -S -D 30,14", "check_mta_cert -w 30 -c 14 (or -D 30,14)",
	  "days left on the certificate, with chain, host name and key strength judged too; "
	  "-D 30 alone warns under 30 days and is CRITICAL only when expired",
	  BIN_CERT },
	{ "check_smtp -C CMD -R REGEX", "check_mta_banner -C CMD -R REGEX",
	  "CMD after EHLO, its reply's first line (CODE text) matched as an extended regex; "
	  "WARNING on a mismatch; DATA, BDAT, BURL and QUIT are never sent",
	  BIN_BANNER },
	{ "check_smtp -f FROM", "check_mta_relay -f ADDR",
	  "the sender of the relay tests; the relay check never sends DATA", BIN_RELAY },
	{ "check_smtp -r (--proxy)", "--proxy-protocol 1", "version 2 too", BIN_PLUGINS },
	{ "check_smtp -q", "-q", "accepted: a failed QUIT never changes the state here",
	  BIN_PLUGINS },
	{ "check_smtp -A, -U, -P", "(none)", "no login is ever attempted", BIN_PLUGINS },
	{ "check_smtp -v", "-v", "-vvv prints the SMTP transcript", BIN_PLUGINS },
	{ "check_ssmtp -H HOST", "check_mta_banner -H HOST -p 465",
	  "port 465 means implicit TLS; -s makes any port implicit TLS", BIN_PORT | BIN_BANNER },
	{ "check_ssmtp -D DAYS", "check_mta_cert -p 465 -w DAYS", "", BIN_CERT },
	{ "check_ssl_cert -H HOST -P smtp", "check_mta_cert -H HOST", "STARTTLS on port 25",
	  BIN_CERT },
	{ "check_ssl_cert -P smtps", "check_mta_cert -p 465", "", BIN_CERT },
	{ "check_ssl_cert -w DAYS -c DAYS", "-w DAYS -c DAYS",
	  "the same meaning; the defaults here are 30 and 14", BIN_CERT },
	{ "check_ssl_cert --sni NAME, -n NAME", "--sni NAME",
	  "sent as SNI and verified as the host name, also when -H is an address", BIN_CERT },
	{ "check_ssl_cert -r FILE, --rootcert-dir DIR", "--ca-file FILE, --ca-path DIR", "",
	  BIN_CERT },
	{ "check_ssl_cert -A (--noauth)", "--no-verify", "", BIN_CERT },
	{ "check_ssl_cert --dane", "--dane", "TLSA at _PORT._tcp.HOST, DNSSEC (AD bit) required",
	  BIN_CERT },
};

static void man_migration(const struct binary *b)
{
	fputs(".SH MIGRATING FROM CHECK_SMTP, CHECK_SSMTP AND CHECK_SSL_CERT\n"
	      "The options of monitoring-plugins' check_smtp and check_ssmtp and of\n"
	      "check_ssl_cert, and what to write here instead.\n",
	      stdout);
	for (size_t i = 0; i < sizeof(migration) / sizeof(migration[0]); i++) {
		if (!(migration[i].bins & b->bit))
			continue;
		fputs(".TP\n\\fB", stdout);
		roffs(migration[i].theirs);
		fputs("\\fR\n\\(->\\ \\fB", stdout);
		roffs(migration[i].ours);
		fputs("\\fR", stdout);
		if (migration[i].note[0]) {
			fputs(": ", stdout);
			roffs(migration[i].note);
		}
		putchar('\n');
	}
}

static void man_perfdata(const struct binary *b)
{
	const char *p = b->perfdata;

	fputs(".SH PERFORMANCE DATA\n"
	      "After \\fB|\\fR on the first line, in the form\n"
	      "\\fIlabel\\fB=\\fIvalue\\fR[\\fIunit\\fR]\\fB;\\fIwarn\\fB;\\fIcrit\\fB;\\fImin\\fB;"
	      "\\fImax\\fR, times in seconds (unit \\fBs\\fR), days without a unit.  Each label\n"
	      "appears once the check reaches that step; with \\fB\\-M\\fR or \\fB\\-A\\fR every\n"
	      "label is prefixed with the host and address it belongs to.\n",
	      stdout);
	while (p && *p) {
		const char *tab = strchr(p, '\t'), *nl = strchr(p, '\n');

		if (tab == NULL || nl == NULL || tab > nl)
			break;
		fputs(".TP\n\\fB", stdout);
		roff(p, (size_t)(tab - p), true);
		fputs("\\fR\n", stdout);
		roff(tab + 1, (size_t)(nl - tab - 1), true);
		putchar('\n');
		p = nl + 1;
	}
}

static void man_runner_metrics(void)
{
	fputs(".SH METRICS\n"
	      "Gauges; every series has the labels \\fBtarget\\fR, \\fBhost\\fR, "
	      "\\fBaddress\\fR, \\fBport\\fR and the\n"
	      "config's \\fBlabels\\fR.  Per check (also \\fBcheck\\fR):\n"
	      "\\fBmtaprobe_check_state\\fR (0 OK .. 3 UNKNOWN), \\fBmtaprobe_check_success\\fR,\n"
	      "\\fBmtaprobe_check_duration_seconds\\fR, \\fBmtaprobe_check_error_info\\fR{kind,step}.\n"
	      "Per target address, from the first check that measured it:\n"
	      "\\fBmtaprobe_phase_duration_seconds\\fR{phase} (dns, connect, banner, ehlo, starttls,\n"
	      "handshake),\n"
	      "\\fBmtaprobe_starttls_offered\\fR, \\fBmtaprobe_tls_version_info\\fR{version},\n"
	      "\\fBmtaprobe_cert_not_after_timestamp_seconds\\fR,\n"
	      "\\fBmtaprobe_cert_chain_earliest_not_after_timestamp_seconds\\fR, "
	      "\\fBmtaprobe_cert_verified\\fR,\n"
	      "\\fBmtaprobe_tls_version_accepted\\fR{version},\n"
	      "\\fBmtaprobe_relay_tests\\fR{outcome} (accepted, refused, tempfail); per domain\n"
	      "\\fBmtaprobe_sts_*\\fR; per run \\fBmtaprobe_run_timestamp_seconds\\fR and\n"
	      "\\fBmtaprobe_run_duration_seconds\\fR{config}.  The README has the table and the\n"
	      "names of earlier builds.\n",
	      stdout);
}

static void man_runner_config(void)
{
	fputs(".SH CONFIGURATION\n"
	      "A YAML file (\\fB\\-c\\fR): \\fBtargets:\\fR, a list of targets, each a mapping of\n"
	      "the keys below; \\fBdefaults:\\fR, the same keys for every target (a target's own\n"
	      "value wins); \\fBoutput:\\fR {\\fBformat\\fR, \\fBpath\\fR};\n"
	      "\\fBconcurrency:\\fR.  Unknown keys are errors, reported with file, line and\n"
	      "column.  The per-target keys and the plugin options they stand for:\n",
	      stdout);
	for (size_t i = 0; i < option_count; i++) {
		const struct opt *o = &option_table[i];

		if (o->yaml == NULL || (o->name && o->type == OPT_DAYS) ||
		    (i > 0 && option_table[i - 1].yaml &&
		     strcmp(option_table[i - 1].yaml, o->yaml) == 0))
			continue;
		fputs(".TP\n\\fB", stdout);
		roffs(o->yaml);
		fputs("\\fR\n", stdout);
		roffs(o->help);
		if (o->name) {
			fputs(" (\\fB\\-\\-", stdout);
			roffs(o->name);
			fputs("\\fR)", stdout);
		}
		putchar('\n');
	}
	fputs(".TP\n\\fBcert_days\\fR\n"
	      "{\\fBwarning\\fR, \\fBcritical\\fR}: days left on the certificate, as\n"
	      "check_mta_cert's \\fB\\-w\\fR and \\fB\\-c\\fR.\n"
	      ".PP\n"
	      "The sample configuration, with every key explained, is installed as\n"
	      "\\fI/etc/mtaprobe/mtaprobe.yaml\\fR.\n",
	      stdout);
}

static int man(const char *prog)
{
	const struct binary *b = NULL;
	char upper[64];

	for (size_t i = 0; i < sizeof(binaries) / sizeof(binaries[0]); i++)
		if (strcmp(binaries[i]->prog, prog) == 0)
			b = binaries[i];
	if (b == NULL) {
		fprintf(stderr, "mkdoc: no binary '%s'\n", prog);
		return 2;
	}
	snprintf(upper, sizeof(upper), "%s", prog);
	for (char *u = upper; *u; u++)
		if (*u >= 'a' && *u <= 'z')
			*u = (char)(*u - 'a' + 'A');
	printf(".\\\" Generated by tools/mkdoc.c from the option table; do not edit.\n"
	       ".TH %s 1 \"\" \"mtaprobe %s\" \"mtaprobe\"\n"
	       ".nh\n.ad l\n",
	       upper, MTAPROBE_VERSION);
	fputs(".SH NAME\n", stdout);
	roffs(b->prog);
	fputs(" \\- ", stdout);
	roffs(b->summary);
	fputs("\n.SH SYNOPSIS\n", stdout);
	if (b->bit == BIN_STS)
		printf(".B %s\n\\fB\\-M\\fR \\fIDOMAIN\\fR [\\fIOPTIONS\\fR]\n", b->prog);
	else if (b->def)
		printf(".B %s\n\\fB\\-H\\fR \\fIHOST\\fR | \\fB\\-M\\fR \\fIDOMAIN\\fR "
		       "[\\fIOPTIONS\\fR]\n",
		       b->prog);
	else
		fputs(".B mtaprobe\n\\fB\\-c\\fR \\fIFILE\\fR [\\fB\\-f\\fR "
		      "\\fBprometheus\\fR|\\fBjson\\fR|\\fBtext\\fR] [\\fB\\-o\\fR \\fIFILE\\fR] "
		      "[\\fB\\-j\\fR \\fIN\\fR]\n.br\n"
		      ".B mtaprobe\n[\\fIOPTIONS\\fR] \\fIHOST\\fR | \\fB\\-\\-mx\\fR "
		      "\\fIDOMAIN\\fR\n",
		      stdout);
	fputs(".SH DESCRIPTION\n", stdout);
	roffs(b->purpose);
	putchar('\n');
	if (b->def)
		fputs(".PP\n"
		      "The client sends nothing before the server's greeting is complete, and\n"
		      "everything the server says is shown with control characters escaped and\n"
		      "its length capped.  One deadline (\\fB\\-t\\fR) bounds the whole check,\n"
		      "name lookups included.\n",
		      stdout);
	fputs(".SH OPTIONS\n", stdout);
	for (size_t i = 0; i < option_count; i++)
		if (takes(b, &option_table[i]))
			man_option(b, &option_table[i]);
	if (b->def) {
		fputs(".SH THRESHOLDS\n"
		      "\\fB\\-w\\fR and \\fB\\-c\\fR take a range: \\fIN\\fR (alert if < 0 or > "
		      "\\fIN\\fR), \\fIN\\fB:\\fR (alert if < \\fIN\\fR), \\fB~:\\fIN\\fR (alert if "
		      "> \\fIN\\fR), \\fIN\\fB:\\fIM\\fR (alert outside \\fIN\\fR..\\fIM\\fR) or "
		      "\\fB@\\fIN\\fB:\\fIM\\fR (alert inside); decimals allowed.  Here they "
		      "measure: ",
		      stdout);
		roffs(b->threshold_help);
		fputs(".\n.SH OUTPUT\n"
		      "One status line, \\fBMTA\\fR \\fICHECK\\fR \\fISTATE\\fR \\fB\\-\\fR "
		      "\\fIsummary\\fR \\fB|\\fR \\fIperfdata\\fR, the summary naming the target and "
		      "the fact that decided the state first; with \\fB\\-v\\fR, \\fB\\-M\\fR or "
		      "\\fB\\-A\\fR more lines follow (one per host and address).\n",
		      stdout);
		man_perfdata(b);
		fputs(".SH EXIT STATUS\n"
		      ".TP\n\\fB0\\fR\nOK\n.TP\n\\fB1\\fR\nWARNING\n.TP\n\\fB2\\fR\nCRITICAL\n"
		      ".TP\n\\fB3\\fR\nUNKNOWN; also for \\fB\\-\\-help\\fR, \\fB\\-\\-version\\fR and "
		      "usage errors, as Monitoring Plugins do.\n",
		      stdout);
	} else {
		man_runner_config();
		man_runner_metrics();
		fputs(".SH EXIT STATUS\n"
		      "With \\fB\\-c\\fR: 0 when every check ran and the output was written; 3 on\n"
		      "a usage, configuration or output error (nothing is written then, a previous\n"
		      "file is left as it was; an unwritable output is found before any check\n"
		      "runs).  The terminal mode (\\fIHOST\\fR) exits with the worst state, 0 to 3,\n"
		      "as a plugin does.\n"
		      ".SH FILES\n"
		      ".TP\n\\fI/etc/mtaprobe/mtaprobe.yaml\\fR\nthe configuration the "
		      "systemd service \\fBmtaprobe.service\\fR uses\n"
		      ".TP\n\\fI/var/lib/prometheus/node\\-exporter/mtaprobe.prom\\fR\n"
		      "the textfile it writes, every minute from \\fBmtaprobe.timer\\fR, for "
		      "node_exporter's textfile collector\n",
		      stdout);
	}
	fputs(".SH EXAMPLES\n.nf\n", stdout);
	roff(b->examples, strlen(b->examples), false);
	fputs(".fi\n", stdout);
	if (b->def && b->bit != BIN_STS) /* nothing in those does MTA-STS */
		man_migration(b);
	fputs(".SH SEE ALSO\n", stdout);
	for (size_t i = 0, n = 0; i < sizeof(binaries) / sizeof(binaries[0]); i++) {
		if (binaries[i] == b)
			continue;
		printf("%s\\fB", n++ ? ",\n" : "");
		roffs(binaries[i]->prog);
		fputs("\\fR(1)", stdout);
	}
	fputs("\n", stdout);
	return 0;
}

/* The migration table in Markdown, for the README (tests/docs.sh checks
 * that README.md holds exactly this). */
static int migration_md(void)
{
	static const char *const progs[] = { "check_mta_port", "check_mta_banner",
					     "check_mta_starttls", "check_mta_cert",
					     "check_mta_relay" };

	puts("| you have | write instead | notes | in |\n|---|---|---|---|");
	for (size_t i = 0; i < sizeof(migration) / sizeof(migration[0]); i++) {
		char in[128] = "";

		if ((migration[i].bins & BIN_PLUGINS) == BIN_PLUGINS) {
			snprintf(in, sizeof(in), "every plugin");
		} else {
			for (size_t j = 0; j < 5; j++)
				if (migration[i].bins & (1u << j))
					snprintf(in + strlen(in), sizeof(in) - strlen(in), "%s%s",
						 in[0] ? ", " : "",
						 progs[j] + strlen("check_mta_"));
		}
		printf("| `%s` | `%s` | %s | %s |\n", migration[i].theirs, migration[i].ours,
		       migration[i].note, in);
	}
	return 0;
}

/* ---- Icinga 2 ----------------------------------------------------------- */

/* The ITL-style variable of row o: <command>_<long option, '-' -> '_'>,
 * -H being <command>_address. */
static void var_name(const char *cmd, const struct opt *o, char *out, size_t size)
{
	int n = snprintf(out, size, "%s_%s", cmd,
			 strcmp(o->name, "hostname") == 0 ? "address" : o->name);

	for (int i = (int)strlen(cmd); i < n && (size_t)i < size; i++)
		if (out[i] == '-')
			out[i] = '_';
}

static bool is_switch(const struct opt *o)
{
	switch (o->type) {
	case OPT_FLAG:
	case OPT_IMPLICIT_TLS:
	case OPT_FAMILY:
	case OPT_COUNT:
	case OPT_IGNORED:
		return true;
	default:
		return false;
	}
}

/* A description on one line, quotes escaped. */
static void icinga_string(const struct binary *b, const struct opt *o)
{
	putchar('"');
	for (const char *s = o->help; *s; s++)
		if (*s == '\n')
			putchar(' ');
		else if (*s == '"' || *s == '\\')
			printf("\\%c", *s);
		else
			putchar(*s);
	if ((o->type == OPT_RANGE || o->type == OPT_DAYS) && b->threshold_help) {
		fputs(": ", stdout);
		for (const char *s = b->threshold_help; *s; s++)
			putchar(*s == '\n' ? ' ' : *s);
	}
	if (o->dflt)
		printf(" (default %s)", o->dflt);
	putchar('"');
}

static int icinga2(void)
{
	puts("/* mtaprobe CheckCommands for Icinga 2, generated by tools/mkdoc.c from the\n"
	     " * option table: every option of every plugin, as the variable\n"
	     " * <command>_<long option with '-' as '_'> (mtaprobe_cert_warning,\n"
	     " * mtaprobe_cert_ca_file, mtaprobe_relay_thorough ...); switches are booleans.\n"
	     " * -H is <command>_address, by default the host's address (or address6,\n"
	     " * as <command>_ipv4 / _ipv6 choose); it is left out when <command>_mx is\n"
	     " * set.  To check a real certificate by address, set <command>_sni to the\n"
	     " * name it is issued for.  mtaprobe_sts checks a mail domain: set\n"
	     " * mtaprobe_sts_mx to it.  Installed as\n"
	     " * /usr/share/icinga2/include/plugins-contrib.d/mtaprobe.conf, read by\n"
	     " * include <plugins-contrib>.  Do not edit: make conf regenerates it. */");
	for (size_t i = 0; i < NBINARIES && binaries[i]->def; i++) {
		const struct binary *b = binaries[i];
		char cmd[64], var[128];

		snprintf(cmd, sizeof(cmd), "mtaprobe_%s", b->prog + strlen("check_mta_"));
		printf("\nobject CheckCommand \"%s\" {\n"
		       "\timport \"ipv4-or-ipv6\"\n\n"
		       "\tcommand = [ PluginDir + \"/%s\" ]\n\n"
		       "\targuments = {\n",
		       cmd, b->prog);
		for (size_t j = 0; j < option_count; j++) {
			const struct opt *o = &option_table[j];
			char key[40];

			if (!takes(b, o) || o->type == OPT_HELP || o->type == OPT_VERSION)
				continue;
			if (o->short_name)
				snprintf(key, sizeof(key), "-%c", o->short_name);
			else
				snprintf(key, sizeof(key), "--%s", o->name);
			var_name(cmd, o, var, sizeof(var));
			printf("\t\t\"%s\" = {\n", key);
			if (is_switch(o)) {
				printf("\t\t\tset_if = \"$%s$\"\n", var);
			} else {
				printf("\t\t\tvalue = \"$%s$\"\n", var);
				if (strcmp(o->name, "hostname") == 0)
					printf("\t\t\tset_if = {{ !macro(\"$%s_mx$\") }}\n", cmd);
			}
			fputs("\t\t\tdescription = ", stdout);
			icinga_string(b, o);
			fputs("\n\t\t}\n", stdout);
		}
		/* check_mta_sts checks a mail domain: -M (or -H) is the domain,
		 * no host address makes sense as a default */
		if (b->bit == BIN_STS)
			printf("\t}\n\n"
			       "\tvars.check_ipv4 = \"$%s_ipv4$\"\n"
			       "\tvars.check_ipv6 = \"$%s_ipv6$\"\n"
			       "}\n",
			       cmd, cmd);
		else
			printf("\t}\n\n"
			       "\tvars.%s_address = \"$check_address$\"\n"
			       "\tvars.check_ipv4 = \"$%s_ipv4$\"\n"
			       "\tvars.check_ipv6 = \"$%s_ipv6$\"\n"
			       "}\n",
			       cmd, cmd, cmd);
	}
	return 0;
}

/* ---- Nagios ------------------------------------------------------------- */

static int nagios(void)
{
	puts("# mtaprobe command definitions for Nagios 4 and Naemon, generated by\n"
	     "# tools/mkdoc.c; do not edit.  Installed as\n"
	     "# /etc/nagios-plugins/config/mtaprobe.cfg.  $USER1$ is the plugin directory.\n"
	     "#\n"
	     "#   check_mta_X!ARGS       -H $HOSTADDRESS$ and ARGS (any options, see man check_mta_X)\n"
	     "#   check_mta_X_sni!ARGS   the same, with --sni $HOSTNAME$: the certificate is\n"
	     "#                          verified for the host's name, not its address\n"
	     "#   check_mta_X_mx!DOMAIN!ARGS   every MX host of DOMAIN, every address of each\n"
	     "#   check_mta_sts!DOMAIN!ARGS    DOMAIN's MTA-STS policy and TLS-RPT record\n"
	     "#\n"
	     "# Example: check_command check_mta_cert_sni!-w 21 -c 7");
	for (size_t i = 0; i < NBINARIES && binaries[i]->def; i++) {
		const char *p = binaries[i]->prog;

		if (binaries[i]->bit == BIN_STS) {
			printf("\ndefine command {\n"
			       "\tcommand_name\t%s\n"
			       "\tcommand_line\t$USER1$/%s -M $ARG1$ $ARG2$\n"
			       "}\n",
			       p, p);
			continue;
		}
		printf("\ndefine command {\n"
		       "\tcommand_name\t%s\n"
		       "\tcommand_line\t$USER1$/%s -H $HOSTADDRESS$ $ARG1$\n"
		       "}\n"
		       "\ndefine command {\n"
		       "\tcommand_name\t%s_sni\n"
		       "\tcommand_line\t$USER1$/%s -H $HOSTADDRESS$ --sni $HOSTNAME$ $ARG1$\n"
		       "}\n"
		       "\ndefine command {\n"
		       "\tcommand_name\t%s_mx\n"
		       "\tcommand_line\t$USER1$/%s -M $ARG1$ $ARG2$\n"
		       "}\n",
		       p, p, p, p, p, p);
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "man") == 0)
		return man(argv[2]);
	if (argc == 2 && strcmp(argv[1], "icinga2") == 0)
		return icinga2();
	if (argc == 2 && strcmp(argv[1], "nagios") == 0)
		return nagios();
	if (argc == 2 && strcmp(argv[1], "migration") == 0)
		return migration_md();
	fputs("usage: mkdoc man PROG | mkdoc icinga2 | mkdoc nagios | mkdoc migration\n", stderr);
	return 2;
}
