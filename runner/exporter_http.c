/* exporter_http.c - see exporter_http.h */
#include "runner/exporter_http.h"

#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "lib/net.h"
#include "lib/sanitize.h"

struct exporter_http {
	struct exporter *x;
	struct MHD_Daemon *d;
	exporter_log_fn log;
	void *log_arg;
};

static const char *query_arg(void *ctx, const char *name, size_t *len)
{
	const char *v = NULL;

	*len = 0;
	if (MHD_lookup_connection_value_n(ctx, MHD_GET_ARGUMENT_KIND, name, strlen(name), &v,
					  len) != MHD_YES)
		return NULL;
	if (v == NULL) /* "?target" without '=' */
		v = "", *len = 0;
	return v;
}

static const char *header(void *ctx, const char *name)
{
	return MHD_lookup_connection_value(ctx, MHD_HEADER_KIND, name);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version, const char *upload_data,
				  size_t *upload_data_size, void **req_cls)
{
	struct exporter_http *h = cls;
	struct exporter_request rq = { method, url, query_arg, header, conn };
	struct exporter_response rs;
	struct MHD_Response *resp;
	enum MHD_Result rc;

	(void)version;
	(void)upload_data;
	if (*req_cls == NULL) { /* the headers: the next call answers */
		*req_cls = h;
		return MHD_YES;
	}
	if (*upload_data_size != 0) { /* a body nobody asked for: dropped */
		*upload_data_size = 0;
		return MHD_YES;
	}
	exporter_handle(h->x, &rq, &rs);
	resp = MHD_create_response_from_buffer(rs.body.len, (void *)strbuf_str(&rs.body),
					       MHD_RESPMEM_MUST_COPY);
	if (resp == NULL) {
		strbuf_free(&rs.body);
		return MHD_NO; /* out of memory: the connection is closed */
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, rs.content_type);
	if (rs.allow)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, rs.allow);
	rc = MHD_queue_response(conn, (unsigned)rs.status, resp);
	MHD_destroy_response(resp);
	strbuf_free(&rs.body);
	return rc;
}

static void logger(void *cls, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

static void logger(void *cls, const char *fmt, va_list ap)
{
	struct exporter_http *h = cls;
	char raw[512], line[1024];
	size_t n;

	vsnprintf(raw, sizeof(raw), fmt, ap);
	n = strlen(raw);
	while (n > 0 && (raw[n - 1] == '\n' || raw[n - 1] == '\r'))
		n--;
	if (h->log)
		h->log(h->log_arg, sanitize(line, sizeof(line), raw, n, 400));
}

/* A listening socket on "IP:PORT" / "[IPv6]:PORT" (IPv6 only, not also the
 * IPv4 addresses), or -1 with e. */
static int listen_on(const char *where, struct probe_err *e)
{
	const char *colon = strrchr(where, ':');
	char host[64];
	struct addr a;
	int fd, one = 1;

	if (colon == NULL || (size_t)(colon - where) >= sizeof(host))
		return err_set(e, ERR_CONFIG, "listen", "--listen %s: not IP:PORT", where);
	memcpy(host, where, (size_t)(colon - where));
	host[colon - where] = '\0';
	if (addr_from_literal(host, (int)strtol(colon + 1, NULL, 10), &a) < 0)
		return err_set(e, ERR_CONFIG, "listen", "--listen %s: not IP:PORT", where);
	fd = socket(a.ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return err_set(e, ERR_CONFIG, "listen", "cannot listen on %s: socket: %s", where,
			       strerror(errno));
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (a.ss.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, (const struct sockaddr *)&a.ss, a.len) < 0 || listen(fd, SOMAXCONN) < 0) {
		err_set(e, ERR_CONFIG, "listen", "cannot listen on %s: %s", where, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

struct exporter_http *exporter_http_start(struct exporter *x, const char *where, int max_conns,
					  exporter_log_fn log, void *log_arg, struct probe_err *e)
{
	struct exporter_http *h = calloc(1, sizeof(*h));
	int fd;

	if (h == NULL) {
		err_set(e, ERR_INTERNAL, "listen", "out of memory");
		return NULL;
	}
	*h = (struct exporter_http){ x, NULL, log, log_arg };
	fd = listen_on(where, e);
	if (fd < 0) {
		free(h);
		return NULL;
	}
	/* one thread per connection: a probe blocks its request's thread for
	 * up to its budget; poll(), not select(), for descriptors past 1024;
	 * ITC: a connection's thread, ending, wakes the listening thread to
	 * close its socket at once (else that waits for the next connection) */
	h->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION |
					MHD_USE_POLL | MHD_USE_ITC | MHD_USE_ERROR_LOG,
				0, NULL, NULL, on_request, h, MHD_OPTION_EXTERNAL_LOGGER, logger, h,
				MHD_OPTION_LISTEN_SOCKET, fd, MHD_OPTION_CONNECTION_LIMIT,
				(unsigned)max_conns, MHD_OPTION_CONNECTION_TIMEOUT,
				(unsigned)EXPORTER_IDLE_SECONDS, MHD_OPTION_END);
	if (h->d == NULL) {
		err_set(e, ERR_CONFIG, "listen", "cannot start the HTTP server on %s", where);
		close(fd);
		free(h);
		return NULL;
	}
	return h;
}

void exporter_http_stop(struct exporter_http *h)
{
	if (h == NULL)
		return;
	MHD_stop_daemon(h->d);
	free(h);
}
