/* https_curl.c - see https.h.  libcurl does HTTP and TLS; we own the
 * clock: curl's sockets and timer are handed to us (CURLMOPT_SOCKETFUNCTION,
 * CURLMOPT_TIMERFUNCTION) and polled here under the check's deadline, so a
 * stalling server costs no more than -t. */
#include "lib/https.h"

#include <curl/curl.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/sanitize.h"
#include "lib/sched.h"

#define MAX_SOCKETS 8

/* One transfer's state, reached from curl's callbacks. */
struct xfer {
	struct https_result *res;
	size_t max_bytes, cap;
	struct {
		curl_socket_t fd;
		int what; /* CURL_POLL_IN / OUT / INOUT */
	} socks[MAX_SOCKETS];
	int nsocks;
	long timer_ms; /* -1: none */
	bool cert_read;
	CURL *easy;
};

static pthread_once_t once = PTHREAD_ONCE_INIT;
static CURLcode global_rc = CURLE_FAILED_INIT;

static void global_init(void)
{
	global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static int on_socket(CURL *easy, curl_socket_t fd, int what, void *userp, void *sockp)
{
	struct xfer *x = userp;
	int i;

	(void)easy;
	(void)sockp;
	for (i = 0; i < x->nsocks && x->socks[i].fd != fd; i++)
		;
	if (what == CURL_POLL_REMOVE) {
		if (i < x->nsocks)
			x->socks[i] = x->socks[--x->nsocks];
		return 0;
	}
	if (i == x->nsocks) {
		if (x->nsocks == MAX_SOCKETS)
			return -1; /* curl gives up the transfer */
		x->nsocks++;
	}
	x->socks[i].fd = fd;
	x->socks[i].what = what;
	return 0;
}

static int on_timer(CURLM *multi, long timeout_ms, void *userp)
{
	struct xfer *x = userp;

	(void)multi;
	x->timer_ms = timeout_ms;
	return 0;
}

/* The leaf certificate's dates and names, once the handshake is done
 * (the TLS session is only reachable while the transfer runs). */
static void read_cert(struct xfer *x)
{
	struct curl_tlssessioninfo *info = NULL;
	X509 *leaf;
	char line[512];
	int days, secs;
	ASN1_TIME *epoch;

	x->cert_read = true;
	if (curl_easy_getinfo(x->easy, CURLINFO_TLS_SSL_PTR, &info) != CURLE_OK || info == NULL ||
	    info->backend != CURLSSLBACKEND_OPENSSL || info->internals == NULL)
		return;
	leaf = SSL_get1_peer_certificate(info->internals);
	if (leaf == NULL)
		return;
	epoch = ASN1_TIME_set(NULL, 0);
	if (epoch && ASN1_TIME_diff(&days, &secs, epoch, X509_get0_notAfter(leaf))) {
		x->res->have_cert = true;
		x->res->not_after = (int64_t)days * 86400 + secs;
	}
	ASN1_TIME_free(epoch);
	X509_NAME_oneline(X509_get_subject_name(leaf), line, sizeof(line));
	sanitize(x->res->subject, sizeof(x->res->subject), line, strlen(line), 200);
	X509_NAME_oneline(X509_get_issuer_name(leaf), line, sizeof(line));
	sanitize(x->res->issuer, sizeof(x->res->issuer), line, strlen(line), 200);
	X509_free(leaf);
}

static size_t on_header(char *p, size_t size, size_t n, void *userp)
{
	struct xfer *x = userp;

	(void)p;
	if (!x->cert_read)
		read_cert(x);
	return size * n;
}

static size_t on_body(char *p, size_t size, size_t n, void *userp)
{
	struct xfer *x = userp;
	struct https_result *res = x->res;
	size_t add = size * n;

	if (add > x->max_bytes - res->len) {
		res->too_large = true;
		return 0; /* CURLE_WRITE_ERROR: the transfer stops here */
	}
	if (res->len + add + 1 > x->cap) {
		size_t cap = x->cap ? x->cap : 8192;
		char *nb;

		while (cap < res->len + add + 1)
			cap *= 2;
		nb = realloc(res->body, cap);
		if (nb == NULL)
			return 0;
		res->body = nb;
		x->cap = cap;
	}
	memcpy(res->body + res->len, p, add);
	res->len += add;
	res->body[res->len] = '\0';
	return add;
}

/* "host:port:addr1,addr2" for CURLOPT_RESOLVE, IPv6 in brackets. */
static struct curl_slist *resolve_list(const char *host, int port, const struct addr_list *addrs)
{
	char line[64 + 256 + ADDR_LIST_MAX * 50];
	size_t m = (size_t)snprintf(line, sizeof(line), "%s:%d:", host, port);

	for (size_t i = 0; i < addrs->n && m < sizeof(line); i++)
		m += (size_t)snprintf(line + m, sizeof(line) - m,
				      strchr(addrs->v[i].text, ':') ? "%s[%s]" : "%s%s",
				      i ? "," : "", addrs->v[i].text);
	return m < sizeof(line) ? curl_slist_append(NULL, line) : NULL;
}

/* What a failed transfer was: its kind and the step it failed on. */
static int failed(CURLcode rc, const char *errbuf, struct https_result *res,
		  const struct deadline *dl, struct probe_err *e)
{
	const char *why = errbuf[0] ? errbuf : curl_easy_strerror(rc);
	char clean[300];

	sanitize(clean, sizeof(clean), why, strlen(why), 200);
	if (res->too_large || rc == CURLE_FILESIZE_EXCEEDED) {
		res->too_large = true; /* announced by Content-Length, or sent */
		return err_set(e, ERR_PROTOCOL, "HTTP", "larger than the limit");
	}
	switch (rc) {
	case CURLE_OPERATION_TIMEDOUT:
		return err_set(e, ERR_TIMEOUT, "HTTP", "timeout after %.1fs", deadline_elapsed(dl));
	case CURLE_COULDNT_CONNECT:
	case CURLE_COULDNT_RESOLVE_HOST:
		return err_set(e, ERR_CONNECT, "connect", "%s", clean);
	case CURLE_PEER_FAILED_VERIFICATION:
		return err_set(e, ERR_VERIFY, "TLS", "%s", clean);
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_CACERT_BADFILE:
		return err_set(e, ERR_TLS, "TLS", "%s", clean);
	case CURLE_OUT_OF_MEMORY:
		return err_set(e, ERR_INTERNAL, "HTTP", "out of memory");
	case CURLE_GOT_NOTHING:
	case CURLE_RECV_ERROR:
	case CURLE_SEND_ERROR:
		return err_set(e, ERR_CLOSED, "HTTP", "%s", clean);
	default:
		return err_set(e, ERR_PROTOCOL, "HTTP", "%s", clean);
	}
}

/* Run the transfer under dl: poll curl's sockets, tell curl what
 * happened, until it says done or the deadline passes.  The result code. */
static CURLcode drive(CURLM *multi, struct xfer *x, const struct deadline *dl)
{
	int running = 1;

	if (curl_multi_socket_action(multi, CURL_SOCKET_TIMEOUT, 0, &running) != CURLM_OK)
		return CURLE_FAILED_INIT;
	while (running) {
		struct pollfd pfd[MAX_SOCKETS];
		int left = deadline_left_ms(dl), wait = left, n = x->nsocks, rc;

		if (left == 0)
			return CURLE_OPERATION_TIMEDOUT;
		if (x->timer_ms >= 0 && x->timer_ms < wait)
			wait = (int)x->timer_ms;
		for (int i = 0; i < n; i++) {
			pfd[i].fd = x->socks[i].fd;
			pfd[i].events = (short)((x->socks[i].what & CURL_POLL_IN ? POLLIN : 0) |
						(x->socks[i].what & CURL_POLL_OUT ? POLLOUT : 0));
			pfd[i].revents = 0;
		}
		rc = sched_poll(dl, pfd, (nfds_t)n, wait);
		if (rc < 0)
			continue; /* EINTR: the deadline decides */
		if (rc == 0) {
			x->timer_ms = -1;
			if (curl_multi_socket_action(multi, CURL_SOCKET_TIMEOUT, 0, &running) !=
			    CURLM_OK)
				return CURLE_FAILED_INIT;
			continue;
		}
		for (int i = 0; i < n; i++) {
			int ev = 0;

			if (pfd[i].revents & POLLIN)
				ev |= CURL_CSELECT_IN;
			if (pfd[i].revents & POLLOUT)
				ev |= CURL_CSELECT_OUT;
			if (pfd[i].revents & (POLLERR | POLLHUP | POLLNVAL))
				ev |= CURL_CSELECT_ERR;
			if (ev &&
			    curl_multi_socket_action(multi, pfd[i].fd, ev, &running) != CURLM_OK)
				return CURLE_FAILED_INIT;
		}
	}
	for (;;) {
		int q;
		CURLMsg *msg = curl_multi_info_read(multi, &q);

		if (msg == NULL)
			return CURLE_FAILED_INIT;
		if (msg->msg == CURLMSG_DONE)
			return msg->data.result;
	}
}

int https_get(const char *host, int port, const char *path, const struct addr_list *addrs,
	      const char *ca_file, const char *ca_path, size_t max_bytes, const struct deadline *dl,
	      struct https_result *res, struct probe_err *e)
{
	struct xfer x = { .res = res, .max_bytes = max_bytes, .timer_ms = -1 };
	struct curl_slist *resolve = NULL;
	char url[600], errbuf[CURL_ERROR_SIZE] = "";
	CURLM *multi = NULL;
	CURLcode rc;
	int ret = -1;
	long status = 0;
	char *ct = NULL, *loc = NULL;
	double t;

	memset(res, 0, sizeof(*res));
	pthread_once(&once, global_init);
	if (global_rc != CURLE_OK)
		return err_set(e, ERR_INTERNAL, "HTTP", "cannot initialise libcurl");
	if (addrs->n == 0)
		return err_set(e, ERR_CONNECT, "connect", "no address for %s", host);
	snprintf(url, sizeof(url), "https://%s:%d%s", host, port, path);
	x.easy = curl_easy_init();
	multi = curl_multi_init();
	resolve = resolve_list(host, port, addrs);
	if (x.easy == NULL || multi == NULL || resolve == NULL) {
		err_set(e, ERR_INTERNAL, "HTTP", "out of memory");
		goto out;
	}
	curl_easy_setopt(x.easy, CURLOPT_URL, url);
	curl_easy_setopt(x.easy, CURLOPT_PROTOCOLS_STR, "https");
	curl_easy_setopt(x.easy, CURLOPT_FOLLOWLOCATION, 0L); /* RFC 8461 §3.3 */
	curl_easy_setopt(x.easy, CURLOPT_RESOLVE, resolve);
	curl_easy_setopt(x.easy, CURLOPT_NOPROXY, "*");
	curl_easy_setopt(x.easy, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(x.easy, CURLOPT_SSL_VERIFYHOST, 2L);
	if (ca_file)
		curl_easy_setopt(x.easy, CURLOPT_CAINFO, ca_file);
	if (ca_path)
		curl_easy_setopt(x.easy, CURLOPT_CAPATH, ca_path);
	curl_easy_setopt(x.easy, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)max_bytes);
	curl_easy_setopt(x.easy, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(x.easy, CURLOPT_WRITEDATA, &x);
	curl_easy_setopt(x.easy, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(x.easy, CURLOPT_HEADERDATA, &x);
	curl_easy_setopt(x.easy, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(x.easy, CURLOPT_USERAGENT, "mtaprobe");
	curl_easy_setopt(x.easy, CURLOPT_NOSIGNAL, 1L);
	/* a backstop only: drive() keeps the deadline */
	curl_easy_setopt(x.easy, CURLOPT_TIMEOUT_MS, (long)deadline_left_ms(dl) + 1000);
	curl_multi_setopt(multi, CURLMOPT_SOCKETFUNCTION, on_socket);
	curl_multi_setopt(multi, CURLMOPT_SOCKETDATA, &x);
	curl_multi_setopt(multi, CURLMOPT_TIMERFUNCTION, on_timer);
	curl_multi_setopt(multi, CURLMOPT_TIMERDATA, &x);
	if (curl_multi_add_handle(multi, x.easy) != CURLM_OK) {
		err_set(e, ERR_INTERNAL, "HTTP", "cannot start the transfer");
		goto out;
	}
	rc = drive(multi, &x, dl);
	if (curl_easy_getinfo(x.easy, CURLINFO_CONNECT_TIME, &t) == CURLE_OK)
		res->connect = t;
	if (curl_easy_getinfo(x.easy, CURLINFO_APPCONNECT_TIME, &t) == CURLE_OK && t > 0)
		res->handshake = t - res->connect;
	if (curl_easy_getinfo(x.easy, CURLINFO_TOTAL_TIME, &t) == CURLE_OK)
		res->total = t;
	if (rc == CURLE_OPERATION_TIMEDOUT || deadline_left_ms(dl) == 0) {
		err_set(e, ERR_TIMEOUT, "HTTP", "timeout after %.1fs", deadline_elapsed(dl));
		goto detach;
	}
	if (rc != CURLE_OK) {
		failed(rc, errbuf, res, dl, e);
		goto detach;
	}
	curl_easy_getinfo(x.easy, CURLINFO_RESPONSE_CODE, &status);
	res->status = (int)status;
	if (curl_easy_getinfo(x.easy, CURLINFO_CONTENT_TYPE, &ct) == CURLE_OK && ct)
		sanitize(res->content_type, sizeof(res->content_type), ct, strlen(ct), 100);
	if (curl_easy_getinfo(x.easy, CURLINFO_REDIRECT_URL, &loc) == CURLE_OK && loc)
		sanitize(res->location, sizeof(res->location), loc, strlen(loc), 200);
	if (res->body == NULL) {
		res->body = calloc(1, 1);
		if (res->body == NULL) {
			err_set(e, ERR_INTERNAL, "HTTP", "out of memory");
			goto detach;
		}
	}
	ret = 0;
detach:
	curl_multi_remove_handle(multi, x.easy);
out:
	curl_slist_free_all(resolve);
	if (x.easy)
		curl_easy_cleanup(x.easy);
	if (multi)
		curl_multi_cleanup(multi);
	if (ret < 0) {
		free(res->body);
		res->body = NULL;
		res->len = 0;
	}
	return ret;
}

void https_result_free(struct https_result *res)
{
	free(res->body);
	res->body = NULL;
	res->len = 0;
}
