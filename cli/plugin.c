/* plugin.c - see plugin.h */
#include "cli/plugin.h"

#include <stdio.h>
#include <string.h>

#include "lib/dns.h"
#include "lib/nagios.h"

int plugin_main(const struct binary *b, int argc, char **argv)
{
	struct check_cfg cfg;
	struct strbuf out;
	struct result r;
	int rc;

	strbuf_init(&out, 1 << 20);
	rc = options_parse(b, argc, argv, &cfg, &out);
	if (rc < 0 && dns_global_init() < 0) {
		strbuf_printf(&out, "MTA %s UNKNOWN - cannot initialise c-ares\n", b->def->name);
		rc = 3;
	} else if (rc < 0) {
		probe_run(&cfg, b->def, &r);
		nagios_output(&r, cfg.verbose, &out);
		rc = (int)r.state;
		result_free(&r);
		dns_global_cleanup();
	}
	if (out.truncated && (out.len == 0 || strchr(strbuf_str(&out), '\n') == NULL)) {
		/* not even the status line could be made */
		strbuf_free(&out);
		printf("MTA %s UNKNOWN - out of memory\n", b->def->name);
		options_free(&cfg);
		return 3;
	}
	fwrite(strbuf_str(&out), 1, out.len, stdout);
	strbuf_free(&out);
	options_free(&cfg);
	return rc;
}
