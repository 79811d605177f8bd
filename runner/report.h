/* report.h - a run rendered as a Prometheus textfile, a JSON document, or a
 * table for a person.  Into a strbuf; the caller writes it. */
#ifndef MTAPROBE_REPORT_H
#define MTAPROBE_REPORT_H

#include <stdbool.h>

#include "runner/runner.h"
#include "lib/strbuf.h"

/* Prometheus text exposition format 0.0.4: HELP and TYPE for every family,
 * each family's series together, no timestamps (node_exporter's textfile
 * collector drops files with them), label values escaped.  The run-level
 * series (mtaprobe_run_*) carry config="CONFIG" (struct config's name), so
 * the textfiles of two runners can lie in one node_exporter directory. */
void report_prometheus(const struct run *run, const char *config, struct strbuf *b);

/* The same without the run-level series: the checks' families only (every
 * HELP and TYPE, the series of each item of run).  The exporter's /probe
 * answer, for a run of one target. */
void report_prometheus_checks(const struct run *run, struct strbuf *b);

/* One JSON document: {"version", "run": {...}, "results": [...]}. */
void report_json(const struct run *run, struct strbuf *b);

/* A table, one row per target, check and address; states coloured when
 * colour is true (a terminal). */
void report_text(const struct run *run, bool colour, struct strbuf *b);

/* Exit code of the runner for a run: 0, the checks ran. */

/* A Prometheus label value into b: backslash, double quote and newline
 * escaped. */
void prom_value(struct strbuf *b, const char *v);

#endif
