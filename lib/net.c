/* net.c - see net.h */
#include "lib/net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "lib/sched.h"

int addr_from_literal(const char *s, int port, struct addr *a)
{
	char buf[64];
	size_t n = strlen(s);

	memset(a, 0, sizeof(*a));
	if (n >= 2 && s[0] == '[' && s[n - 1] == ']') {
		if (n - 2 >= sizeof(buf))
			return -1;
		memcpy(buf, s + 1, n - 2);
		buf[n - 2] = '\0';
		s = buf;
	}
	struct sockaddr_in *in4 = (struct sockaddr_in *)&a->ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&a->ss;

	if (inet_pton(AF_INET, s, &in4->sin_addr) == 1) {
		in4->sin_family = AF_INET;
		in4->sin_port = htons((uint16_t)port);
		a->len = sizeof(*in4);
	} else if (inet_pton(AF_INET6, s, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)port);
		a->len = sizeof(*in6);
	} else {
		return -1;
	}
	addr_format(a);
	return 0;
}

void addr_format(struct addr *a)
{
	const void *p = a->ss.ss_family == AF_INET6
				? (const void *)&((struct sockaddr_in6 *)&a->ss)->sin6_addr
				: (const void *)&((struct sockaddr_in *)&a->ss)->sin_addr;

	if (inet_ntop(a->ss.ss_family, p, a->text, sizeof(a->text)) == NULL)
		snprintf(a->text, sizeof(a->text), "?");
}

void addr_target(char *out, size_t out_size, const char *host, const struct addr *a, int port)
{
	struct addr lit;
	bool v6 = a->ss.ss_family == AF_INET6;

	if (addr_from_literal(host, port, &lit) == 0 && strcmp(lit.text, a->text) == 0)
		snprintf(out, out_size, v6 ? "[%s]:%d" : "%s:%d", a->text, port);
	else
		snprintf(out, out_size, "%s[%s]:%d", host, a->text, port);
}

int net_wait(int fd, short events, const struct deadline *dl)
{
	struct pollfd p = { .fd = fd, .events = events };

	for (;;) {
		int left = deadline_left_ms(dl);
		int rc;

		if (left == 0)
			return 0;
		rc = sched_poll(dl, &p, 1, left);
		if (rc > 0)
			return 1;
		if (rc < 0 && errno != EINTR)
			return -1;
	}
}

int net_connect(const struct addr *a, const struct addr *source, const struct deadline *dl,
		int budget_ms, struct probe_err *e)
{
	struct deadline attempt = *dl;
	int64_t t0 = mono_now_us();
	int fd, err = 0, rc;
	socklen_t elen = sizeof(err);

	if (budget_ms > 0 && budget_ms < deadline_left_ms(dl))
		attempt.at_us = t0 + (int64_t)budget_ms * 1000;
	fd = socket(a->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return err_set(e, ERR_CONNECT, "connect", "cannot create socket: %s",
			       strerror(errno));
	if (source != NULL && bind(fd, (const struct sockaddr *)&source->ss, source->len) < 0) {
		err_set(e, ERR_CONNECT, "connect", "cannot bind to source address %s: %s",
			source->text, strerror(errno));
		close(fd);
		return -1;
	}
	if (connect(fd, (const struct sockaddr *)&a->ss, a->len) == 0)
		return fd;
	if (errno != EINPROGRESS) {
		err = errno;
		goto fail;
	}
	rc = net_wait(fd, POLLOUT, &attempt);
	if (rc == 0) {
		close(fd);
		return err_set(e, ERR_TIMEOUT, "connect", "no answer to connect after %.1fs",
			       us_to_s(mono_now_us() - t0));
	}
	if (rc < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) < 0)
		err = errno;
	if (err == 0)
		return fd;
fail:
	close(fd);
	return err_set(e, ERR_CONNECT, "connect", "%s", strerror(err));
}
