/* exporter_http.h - the exporter (exporter.h) served over HTTP with
 * libmicrohttpd: one thread per connection (a probe blocks its request for
 * up to its budget, so no connection waits behind another's), polled with
 * poll() (no FD_SETSIZE limit), at most EXPORTER_CONNECTIONS(max_probes)
 * connections, idle ones closed after EXPORTER_IDLE_SECONDS.  Only the
 * mtaprobe binary links it (and libmicrohttpd with it). */
#ifndef MTAPROBE_EXPORTER_HTTP_H
#define MTAPROBE_EXPORTER_HTTP_H

#include "runner/exporter.h"
#include "lib/err.h"

/* Room for every probe running and as many waiting, and for /metrics. */
#define EXPORTER_CONNECTIONS(max_probes) (2 * (max_probes) + 32)
#define EXPORTER_IDLE_SECONDS		 120

struct exporter_http;

/* What the server has to say (a connection it could not take, ...):
 * one line, control bytes escaped, no newline. */
typedef void (*exporter_log_fn)(void *arg, const char *line);

/* Listen on where ("IP:PORT", "[IPv6]:PORT", as --listen takes it) and
 * serve x with at most max_conns connections.  NULL with e (ERR_CONFIG,
 * step "listen") when the address cannot be bound or the server not
 * started. */
struct exporter_http *exporter_http_start(struct exporter *x, const char *where, int max_conns,
					  exporter_log_fn log, void *log_arg, struct probe_err *e);

/* Close the listening socket and every connection, after the requests in
 * flight are answered (exporter_shutdown first, so none waits for a slot). */
void exporter_http_stop(struct exporter_http *h);

#endif
