/* dns.c - see dns.h */
#include "dns.h"

#include <ares.h>
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>

int dns_global_init(void)
{
	return ares_library_init(ARES_LIB_INIT_ALL) == ARES_SUCCESS ? 0 : -1;
}

void dns_global_cleanup(void)
{
	ares_library_cleanup();
}

struct gai_state {
	bool done;
	int status;
	struct addr_list *out;
	int family;
};

static void gai_done(void *arg, int status, int timeouts, struct ares_addrinfo *res)
{
	struct gai_state *st = arg;

	(void)timeouts;
	st->done = true;
	st->status = status;
	if (status == ARES_SUCCESS && res != NULL) {
		for (struct ares_addrinfo_node *n = res->nodes; n; n = n->ai_next) {
			struct addr *a;

			if (st->out->n >= ADDR_LIST_MAX)
				break;
			if (n->ai_family != AF_INET && n->ai_family != AF_INET6)
				continue;
			if (st->family != AF_UNSPEC && n->ai_family != st->family)
				continue;
			if ((size_t)n->ai_addrlen > sizeof(struct sockaddr_storage))
				continue;
			a = &st->out->v[st->out->n++];
			memset(a, 0, sizeof(*a));
			memcpy(&a->ss, n->ai_addr, n->ai_addrlen);
			a->len = n->ai_addrlen;
			addr_format(a);
		}
		if (st->out->n == 0)
			st->status = ARES_ENODATA;
	}
	if (res)
		ares_freeaddrinfo(res);
}

/* Drive the channel with poll() until the query finishes or dl passes. */
static void drive(ares_channel ch, struct gai_state *st, const struct deadline *dl)
{
	while (!st->done) {
		ares_socket_t socks[ARES_GETSOCK_MAXNUM];
		struct pollfd pfd[ARES_GETSOCK_MAXNUM];
		struct timeval tv, *tvp;
		int bits = ares_getsock(ch, socks, ARES_GETSOCK_MAXNUM);
		int n = 0, left = deadline_left_ms(dl), wait;

		if (left == 0)
			return;
		for (int i = 0; i < ARES_GETSOCK_MAXNUM; i++) {
			short ev = (short)((ARES_GETSOCK_READABLE(bits, i) ? POLLIN : 0) |
					   (ARES_GETSOCK_WRITABLE(bits, i) ? POLLOUT : 0));
			if (ev)
				pfd[n++] = (struct pollfd){ .fd = socks[i], .events = ev };
		}
		tvp = ares_timeout(ch, NULL, &tv);
		wait = left;
		if (tvp && tvp->tv_sec * 1000 + tvp->tv_usec / 1000 < wait)
			wait = (int)(tvp->tv_sec * 1000 + (tvp->tv_usec + 999) / 1000);
		if (poll(pfd, (nfds_t)n, wait) < 0 && errno != EINTR)
			return;
		if (n == 0) {
			ares_process_fd(ch, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
			continue;
		}
		for (int i = 0; i < n; i++)
			ares_process_fd(ch, (pfd[i].revents & (POLLIN | POLLERR | POLLHUP)) ? pfd[i].fd : ARES_SOCKET_BAD,
					(pfd[i].revents & POLLOUT) ? pfd[i].fd : ARES_SOCKET_BAD);
	}
}

static const char *status_text(int status)
{
	switch (status) {
	case ARES_ENOTFOUND:
		return "name does not exist (NXDOMAIN)";
	case ARES_ENODATA:
		return "name has no addresses";
	case ARES_ESERVFAIL:
		return "DNS server failure (SERVFAIL)";
	case ARES_EREFUSED:
		return "DNS query refused";
	case ARES_ETIMEOUT:
		return "DNS timeout";
	case ARES_ECONNREFUSED:
		return "could not contact the DNS servers";
	default:
		return ares_strerror(status);
	}
}

int dns_servers_valid(const char *servers)
{
	ares_channel ch;
	struct ares_options opt = { .flags = 0 };
	int rc;

	if (ares_init_options(&ch, &opt, ARES_OPT_FLAGS) != ARES_SUCCESS)
		return -1;
	rc = ares_set_servers_ports_csv(ch, servers);
	ares_destroy(ch);
	return rc == ARES_SUCCESS ? 0 : -1;
}

int dns_resolve(const char *host, int port, int family, const char *servers,
		const struct deadline *dl, struct addr_list *out, struct probe_err *e)
{
	struct ares_addrinfo_hints hints = { .ai_family = family, .ai_socktype = SOCK_STREAM };
	struct gai_state st = { .out = out, .family = family };
	struct ares_options opt = { .timeout = 2000, .tries = 3 };
	ares_channel ch;
	char portstr[8];

	out->n = 0;
	if (addr_from_literal(host, port, &out->v[0]) == 0) {
		if (family != AF_UNSPEC && out->v[0].ss.ss_family != family)
			return err_set(e, ERR_RESOLVE, "DNS", "%s is not an IPv%c address",
				       out->v[0].text, family == AF_INET ? '4' : '6');
		out->n = 1;
		return 0;
	}
	if (ares_init_options(&ch, &opt, ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES) != ARES_SUCCESS)
		return err_set(e, ERR_INTERNAL, "DNS", "cannot initialise the resolver");
	if (servers && ares_set_servers_ports_csv(ch, servers) != ARES_SUCCESS) {
		ares_destroy(ch);
		return err_set(e, ERR_INTERNAL, "DNS", "bad --dns-server list");
	}
	snprintf(portstr, sizeof(portstr), "%d", port);
	ares_getaddrinfo(ch, host, portstr, &hints, gai_done, &st);
	drive(ch, &st, dl);
	ares_destroy(ch);	/* runs the callback with ARES_EDESTRUCTION if pending */
	if (!st.done || st.status == ARES_EDESTRUCTION || deadline_left_ms(dl) == 0)
		if (out->n == 0)
			return err_set(e, ERR_TIMEOUT, "DNS", "timeout after %.1fs resolving %s",
				       deadline_elapsed(dl), host);
	if (st.status != ARES_SUCCESS)
		return err_set(e, ERR_RESOLVE, "DNS", "%s", status_text(st.status));
	return 0;
}
