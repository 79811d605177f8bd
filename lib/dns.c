/* dns.c - see dns.h */
#include "lib/dns.h"
#include "lib/sched.h"

#include <ares.h>
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
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
	int *pending; /* counts down to 0 when every query is done */
};

static void gai_done(void *arg, int status, int timeouts, struct ares_addrinfo *res)
{
	struct gai_state *st = arg;

	(void)timeouts;
	st->done = true;
	if (st->pending)
		(*st->pending)--;
	st->status = status;
	if (status == ARES_SUCCESS && res != NULL) {
		for (struct ares_addrinfo_node *n = res->nodes; n; n = n->ai_next) {
			struct addr *a;

			if (n->ai_family != AF_INET && n->ai_family != AF_INET6)
				continue;
			if (st->family != AF_UNSPEC && n->ai_family != st->family)
				continue;
			if ((size_t)n->ai_addrlen > sizeof(struct sockaddr_storage))
				continue;
			st->out->total++;
			if (st->out->n >= ADDR_LIST_MAX)
				continue; /* counted, so the cap can be stated */
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

/* Drive the channel with poll() until *busy is 0 or dl passes. */
static void drive(ares_channel ch, const int *busy, const struct deadline *dl)
{
	while (*busy) {
		ares_socket_t socks[ARES_GETSOCK_MAXNUM];
		struct pollfd pfd[ARES_GETSOCK_MAXNUM];
		struct timeval tv, *tvp;
		/* unsigned: c-ares' own ARES_GETSOCK_WRITABLE shifts 1 into the
		 * sign bit of an int for the last socket */
		unsigned bits = (unsigned)ares_getsock(ch, socks, ARES_GETSOCK_MAXNUM);
		int n = 0, left = deadline_left_ms(dl), wait;

		if (left == 0)
			return;
		for (int i = 0; i < ARES_GETSOCK_MAXNUM; i++) {
			short ev =
				(short)((bits & (1u << i) ? POLLIN : 0) |
					(bits & (1u << (i + ARES_GETSOCK_MAXNUM)) ? POLLOUT : 0));
			if (ev)
				pfd[n++] = (struct pollfd){ .fd = socks[i], .events = ev };
		}
		tvp = ares_timeout(ch, NULL, &tv);
		wait = left;
		if (tvp && tvp->tv_sec * 1000 + tvp->tv_usec / 1000 < wait)
			wait = (int)(tvp->tv_sec * 1000 + (tvp->tv_usec + 999) / 1000);
		if (sched_poll(dl, pfd, (nfds_t)n, wait) < 0 && errno != EINTR)
			return;
		if (n == 0) {
			ares_process_fd(ch, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
			continue;
		}
		for (int i = 0; i < n; i++)
			ares_process_fd(ch,
					(pfd[i].revents & (POLLIN | POLLERR | POLLHUP))
						? pfd[i].fd
						: ARES_SOCKET_BAD,
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
		/* c-ares 1.18 says this both for an unreachable server and for
		 * one that answered REFUSED: we cannot tell them apart */
		return "no DNS server gave an answer (unreachable, or REFUSED)";
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

	out->n = out->total = 0;
	if (addr_from_literal(host, port, &out->v[0]) == 0) {
		if (family != AF_UNSPEC && out->v[0].ss.ss_family != family)
			return err_set(e, ERR_RESOLVE, "DNS", "%s is not an IPv%c address",
				       out->v[0].text, family == AF_INET ? '4' : '6');
		out->n = out->total = 1;
		return 0;
	}
	if (ares_init_options(&ch, &opt, ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES) != ARES_SUCCESS)
		return err_set(e, ERR_INTERNAL, "DNS", "cannot initialise the resolver");
	if (servers && ares_set_servers_ports_csv(ch, servers) != ARES_SUCCESS) {
		ares_destroy(ch);
		return err_set(e, ERR_INTERNAL, "DNS", "bad --dns-server list");
	}
	snprintf(portstr, sizeof(portstr), "%d", port);
	{
		int pending = 1;

		st.pending = &pending;
		ares_getaddrinfo(ch, host, portstr, &hints, gai_done, &st);
		drive(ch, &pending, dl);
		st.pending = NULL;
	}
	ares_destroy(ch); /* runs the callback with ARES_EDESTRUCTION if pending */
	if (!st.done || st.status == ARES_EDESTRUCTION || deadline_left_ms(dl) == 0)
		if (out->n == 0)
			return err_set(e, ERR_TIMEOUT, "DNS", "timeout after %.1fs resolving %s",
				       deadline_elapsed(dl), host);
	if (st.status != ARES_SUCCESS)
		return err_set(e, ERR_RESOLVE, "DNS", "%s", status_text(st.status));
	return 0;
}

/* A channel for our resolvers: resolv.conf's, or --dns-server's. */
static int channel(ares_channel *ch, const char *servers, struct probe_err *e)
{
	struct ares_options opt = { .timeout = 2000, .tries = 3 };

	if (ares_init_options(ch, &opt, ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES) != ARES_SUCCESS)
		return err_set(e, ERR_INTERNAL, "DNS", "cannot initialise the resolver");
	if (servers && ares_set_servers_ports_csv(*ch, servers) != ARES_SUCCESS) {
		ares_destroy(*ch);
		return err_set(e, ERR_INTERNAL, "DNS", "bad --dns-server list");
	}
	return 0;
}

int dns_resolve_many(const char *const *names, size_t n, int port, int family, const char *servers,
		     const struct deadline *dl, struct addr_list *out, struct probe_err *errs)
{
	struct ares_addrinfo_hints hints = { .ai_family = family, .ai_socktype = SOCK_STREAM };
	struct gai_state st[MX_MAX * 2];
	ares_channel ch;
	char portstr[8];
	int pending = 0, ok = 0;

	if (n > sizeof(st) / sizeof(st[0]))
		n = sizeof(st) / sizeof(st[0]);
	snprintf(portstr, sizeof(portstr), "%d", port);
	for (size_t i = 0; i < n; i++)
		out[i].n = out[i].total = 0;
	if (channel(&ch, servers, &errs[0]) < 0) {
		for (size_t i = 1; i < n; i++)
			errs[i] = errs[0];
		return 0;
	}
	for (size_t i = 0; i < n; i++) {
		st[i] = (struct gai_state){ .out = &out[i], .family = family, .pending = &pending };
		if (names[i][0] == '\0') /* a name refused as invalid is not looked up */
			continue;
		pending++;
		ares_getaddrinfo(ch, names[i], portstr, &hints, gai_done, &st[i]);
	}
	drive(ch, &pending, dl);
	ares_destroy(ch);
	for (size_t i = 0; i < n; i++) {
		if (out[i].n > 0) {
			ok++;
			continue;
		}
		if (names[i][0] == '\0')
			err_set(&errs[i], ERR_RESOLVE, "DNS", "the name is not a valid host name");
		else if (!st[i].done || st[i].status == ARES_EDESTRUCTION)
			err_set(&errs[i], ERR_TIMEOUT, "DNS", "timeout after %.1fs resolving %s",
				deadline_elapsed(dl), names[i]);
		else
			err_set(&errs[i], ERR_RESOLVE, "DNS", "%s", status_text(st[i].status));
	}
	return ok;
}

struct raw_state {
	int pending;
	int status;
	uint8_t *buf;
	size_t cap, len;
	bool got;
};

static void raw_done(void *arg, int status, int timeouts, unsigned char *abuf, int alen)
{
	struct raw_state *st = arg;

	(void)timeouts;
	st->pending = 0;
	st->status = status;
	if (abuf && alen > 0) {
		st->len = (size_t)alen < st->cap ? (size_t)alen : st->cap;
		memcpy(st->buf, abuf, st->len);
		st->got = true;
	}
}

int dns_query(const char *name, uint16_t type, const char *servers, const struct deadline *dl,
	      uint8_t *buf, size_t cap, struct dns_msg *m, struct probe_err *e)
{
	struct raw_state st = { .pending = 1, .buf = buf, .cap = cap };
	uint8_t q[300];
	size_t qlen = dns_query_build(q, sizeof(q), 0, name, type, true);
	ares_channel ch;
	char why[128];

	if (qlen == 0)
		return err_set(e, ERR_RESOLVE, "DNS", "'%s' is not a domain name", name);
	if (channel(&ch, servers, e) < 0)
		return -1;
	ares_send(ch, q, (int)qlen, raw_done, &st);
	drive(ch, &st.pending, dl);
	ares_destroy(ch);
	if (!st.got) {
		if (st.pending || st.status == ARES_EDESTRUCTION || st.status == ARES_ETIMEOUT)
			return err_set(e, ERR_TIMEOUT, "DNS", "timeout after %.1fs querying %s",
				       deadline_elapsed(dl), name);
		return err_set(e, ERR_RESOLVE, "DNS", "%s: %s", name, status_text(st.status));
	}
	if (st.len == cap || dns_msg_parse(buf, st.len, m, why, sizeof(why)) < 0)
		return err_set(e, ERR_PROTOCOL, "DNS", "%s: malformed answer (%s)", name,
			       st.len == cap ? "too long" : why);
	return 0;
}

static const char *rcode_text(int rcode)
{
	switch (rcode) {
	case DNS_RCODE_NXDOMAIN:
		return "does not exist (NXDOMAIN)";
	case DNS_RCODE_SERVFAIL:
		return "DNS server failure (SERVFAIL)";
	case 5:
		return "DNS query refused (REFUSED)";
	default:
		return "DNS error";
	}
}

int dns_mx(const char *domain, const char *servers, const struct deadline *dl, struct mx_set *mx,
	   struct probe_err *e)
{
	uint8_t *buf = malloc(65536);
	struct dns_msg *m = malloc(sizeof(*m));
	__typeof__(mx->host[0]) *all = calloc(DNS_MAX_ANSWERS, sizeof(*all));
	int rc = -1;

	memset(mx, 0, sizeof(*mx));
	if (buf == NULL || m == NULL || all == NULL) {
		err_set(e, ERR_INTERNAL, "DNS", "out of memory");
		goto out;
	}
	if (dns_query(domain, DNS_T_MX, servers, dl, buf, 65536, m, e) < 0)
		goto out;
	if (m->rcode != DNS_RCODE_NOERROR) {
		err_set(e, ERR_RESOLVE, "DNS", "%s %s", domain, rcode_text(m->rcode));
		goto out;
	}
	mx->ad = m->ad;
	/* every MX of the answer, sorted by preference (stable), and only then
	 * the MX_MAX most preferred kept: the cap must never drop the best */
	for (int i = 0; i < m->nanswers; i++) {
		uint16_t pref;
		int got = dns_rr_mx(m, &m->answers[i], &pref, all[mx->total].name,
				    sizeof(all[0].name));

		if (got == -1)
			continue;
		all[mx->total].pref = pref;
		all[mx->total].bad = got == -2;
		mx->total++;
	}
	for (int i = 1; i < mx->total; i++)
		for (int j = i; j > 0 && all[j].pref < all[j - 1].pref; j--) {
			__typeof__(all[0]) t = all[j];

			all[j] = all[j - 1];
			all[j - 1] = t;
		}
	mx->n = mx->total < MX_MAX ? mx->total : MX_MAX;
	memcpy(mx->host, all, sizeof(all[0]) * (size_t)mx->n);
	/* RFC 7505 §3: a single MX of preference 0 with the root as host */
	if (mx->n == 1 && mx->host[0].pref == 0 && mx->host[0].name[0] == '\0' && !mx->host[0].bad)
		mx->null_mx = true;
	if (mx->n == 0) { /* RFC 5321 §5.1: the domain itself */
		mx->implicit = true;
		mx->n = 1;
		snprintf(mx->host[0].name, sizeof(mx->host[0].name), "%s", domain);
	}
	rc = 0;
out:
	free(buf);
	free(m);
	free(all);
	return rc;
}

int dns_txt(const char *name, const char *servers, const struct deadline *dl, struct txt_set *out,
	    struct probe_err *e)
{
	uint8_t *buf = malloc(65536);
	struct dns_msg *m = malloc(sizeof(*m));
	int rc = -1;

	out->n = out->total = 0;
	if (buf == NULL || m == NULL) {
		err_set(e, ERR_INTERNAL, "DNS", "out of memory");
		goto out;
	}
	if (dns_query(name, DNS_T_TXT, servers, dl, buf, 65536, m, e) < 0)
		goto out;
	if (m->rcode != DNS_RCODE_NOERROR && m->rcode != DNS_RCODE_NXDOMAIN) {
		err_set(e, ERR_RESOLVE, "DNS", "TXT %s %s", name, rcode_text(m->rcode));
		goto out;
	}
	/* any TXT of the answer: the resolver followed a CNAME, if there was one */
	for (int i = 0; i < m->nanswers; i++) {
		if (m->answers[i].type != DNS_T_TXT)
			continue;
		out->total++;
		if (out->n < TXT_MAX &&
		    dns_rr_txt(m, &m->answers[i], out->rec[out->n].text, sizeof(out->rec[0].text),
			       &out->rec[out->n].len) == 0)
			out->n++;
	}
	rc = 0;
out:
	free(buf);
	free(m);
	return rc;
}
