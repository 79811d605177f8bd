/* tls_openssl.c - the OpenSSL side of tls.h, built into mtaprobe-tls.so (and
 * linked into the runner).  Only this file includes OpenSSL. */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/socket.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#if defined(__has_include)
#if __has_include(<openssl/engine.h>) /* a separate package on some systems */
#include <openssl/engine.h>
#define HAVE_OPENSSL_ENGINE_H 1
#endif
#endif

#include "lib/net.h"
#include "lib/strbuf.h"
#include "lib/tls.h"
#include "lib/sanitize.h"

/* Chain verification (X509_verify_cert: the signatures of the leaf and of
 * each intermediate, a quarter of a STARTTLS check's CPU) is remembered per
 * context for a minute, keyed by the chain as the server sent it and the
 * name it was verified for: a provider's many domains whose MX share one
 * certificate pay for it once per run, not once per domain.  What proves
 * the server holds the key (the handshake's CertificateVerify) is checked
 * by every handshake, remembered or not. */
#define VERIFIED_SLOTS 512
#define VERIFIED_US    (60 * 1000000LL)

struct verified {
	unsigned char key[32]; /* SHA-256 of the name and the chain's certificates */
	long code;	       /* X509_V_OK or the error X509_verify_cert gave */
	int64_t until_us;      /* monotonic; 0: empty */
};

struct tls_ctx {
	SSL_CTX *ctx;
	pthread_mutex_t mu; /* the slots: the runner shares a context */
	struct verified slot[VERIFIED_SLOTS];
};

struct tls_session {
	SSL *ssl;
	int fd;
	char verify_name[256]; /* what the chain is verified for ("" none) */
};

/* The newest OpenSSL error as a sanitised sentence fragment. */
static void ssl_reason(char *out, size_t n)
{
	unsigned long e = ERR_peek_last_error();
	const char *r = e ? ERR_reason_error_string(e) : NULL;
	char code[256];

	/* TLS reasons are always there; other libraries' strings are not
	 * loaded (1 M instructions per check): their code is still precise */
	if (r == NULL && e) {
		ERR_error_string_n(e, code, sizeof(code));
		r = code;
	}
	if (r == NULL)
		r = "unknown error";
	sanitize(out, n, r, strlen(r), n - 1);
	ERR_clear_error();
}

/* The slot key of the chain xs verifies, for the name s verifies it for.
 * 0, or -1 when it cannot be made (then no slot is used). */
static int chain_key(X509_STORE_CTX *xs, const struct tls_session *s, unsigned char *key)
{
	STACK_OF(X509) *chain = X509_STORE_CTX_get0_untrusted(xs);
	X509 *leaf = X509_STORE_CTX_get0_cert(xs);
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned char d[EVP_MAX_MD_SIZE];
	unsigned int dl;
	int ok = md != NULL && EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1 &&
		 EVP_DigestUpdate(md, s->verify_name, strlen(s->verify_name) + 1) == 1;

	/* the leaf, then the rest of the chain as sent (libssl's stack starts
	 * with the leaf: digested once, not twice) */
	if (ok && leaf && X509_digest(leaf, EVP_sha256(), d, &dl) == 1)
		ok = EVP_DigestUpdate(md, d, dl) == 1;
	for (int i = 0; ok && chain && i < sk_X509_num(chain); i++) {
		X509 *x = sk_X509_value(chain, i);

		if (x == leaf)
			continue;
		ok = X509_digest(x, EVP_sha256(), d, &dl) == 1 && EVP_DigestUpdate(md, d, dl) == 1;
	}
	dl = 0;
	ok = ok && leaf && EVP_DigestFinal_ex(md, key, &dl) == 1 && dl == 32;
	EVP_MD_CTX_free(md);
	return ok ? 0 : -1;
}

/* SSL_CTX_set_cert_verify_callback: X509_verify_cert, or what it said for
 * the same chain and name less than a minute ago. */
static int verify_chain(X509_STORE_CTX *xs, void *arg)
{
	struct tls_ctx *t = arg;
	SSL *ssl = X509_STORE_CTX_get_ex_data(xs, SSL_get_ex_data_X509_STORE_CTX_idx());
	const struct tls_session *s = ssl ? SSL_get_app_data(ssl) : NULL;
	unsigned char key[32];
	struct verified *v;
	int64_t now = mono_now_us();
	long code;
	int ok;

	if (s == NULL || chain_key(xs, s, key) < 0)
		return X509_verify_cert(xs);
	v = &t->slot[((unsigned)key[0] | (unsigned)key[1] << 8) % VERIFIED_SLOTS];
	pthread_mutex_lock(&t->mu);
	if (v->until_us > now && memcmp(v->key, key, sizeof(key)) == 0) {
		code = v->code;
		pthread_mutex_unlock(&t->mu);
		X509_STORE_CTX_set_error(xs, (int)code);
		return code == X509_V_OK;
	}
	pthread_mutex_unlock(&t->mu);
	ok = X509_verify_cert(xs);
	code = X509_STORE_CTX_get_error(xs);
	if (ok < 0 || (ok == 0 && code == X509_V_OK) || code == X509_V_ERR_OUT_OF_MEM ||
	    code == X509_V_ERR_UNSPECIFIED)
		return ok; /* not an answer about the chain: nothing to remember */
	pthread_mutex_lock(&t->mu);
	memcpy(v->key, key, sizeof(key));
	v->code = code;
	v->until_us = now + VERIFIED_US;
	pthread_mutex_unlock(&t->mu);
	return ok;
}

/* Certificate keys as OpenSSL 1.1.1 made them.  OpenSSL 3 turns the public
 * key of every certificate it parses (the server's chain, each handshake)
 * into an EVP_PKEY through a chain of provider decoders that it builds
 * from scratch each time: 1.2 M instructions per certificate in 3.0, 40 %
 * of a whole STARTTLS check (3.2 caches the chain, still 3x 1.1.1).  It
 * takes its built-in decoder instead when an ENGINE claims the key type,
 * so this ENGINE claims RSA and EC and hands back libcrypto's own built-in
 * methods, unchanged: the key is the same, made in 0.05 M.  Those methods
 * then also do what is done with such a key (the signatures of the chain
 * and of the handshake, RSA key transport, ECDHE on the NIST curves): the
 * same code as 1.1.1's.  X25519 and every other type keep the providers.
 * Without ENGINE support (or if this fails) nothing changes but the cost. */
#if defined(HAVE_OPENSSL_ENGINE_H) && !defined(OPENSSL_NO_ENGINE) && OPENSSL_VERSION_MAJOR < 4
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
static int builtin_meths(ENGINE *e, EVP_PKEY_METHOD **pm, const int **nids, int nid)
{
	static const int ours[] = { EVP_PKEY_RSA, EVP_PKEY_EC };

	(void)e;
	if (pm == NULL) {
		*nids = ours;
		return 2;
	}
	*pm = nid == EVP_PKEY_RSA || nid == EVP_PKEY_EC ? (EVP_PKEY_METHOD *)EVP_PKEY_meth_find(nid)
							: NULL;
	return *pm != NULL;
}

static void builtin_keys(void)
{
	ENGINE *e = ENGINE_new();

	if (e != NULL && ENGINE_set_id(e, "mtaprobe-builtin-keys") &&
	    ENGINE_set_name(e, "libcrypto's built-in RSA and EC key methods") &&
	    ENGINE_set_pkey_meths(e, builtin_meths))
		ENGINE_set_default_pkey_meths(e);
	ENGINE_free(e); /* the registration holds its own reference */
	ERR_clear_error();
}
#pragma GCC diagnostic pop
#else
static void builtin_keys(void)
{
}
#endif
static pthread_once_t builtin_once = PTHREAD_ONCE_INIT;

static struct tls_ctx *ctx_new(const char *ca_file, const char *ca_path, char *why, size_t wl)
{
	struct tls_ctx *t;
	SSL_CTX *c;

	/* The system openssl.cnf is not read: its MinProtocol/SECLEVEL would
	 * stop us from seeing (and judging) what old servers offer.  No
	 * OPENSSL_cleanup at exit either: 1.4 M instructions to free memory
	 * the process is about to give back anyway.  No legacy cipher name
	 * table (TLS fetches ciphers from the provider; 2.3 M) and no error
	 * strings of the crypto library (1 M; TLS's own are kept). */
	OPENSSL_init_ssl(OPENSSL_INIT_NO_LOAD_CONFIG | OPENSSL_INIT_NO_ATEXIT |
				 OPENSSL_INIT_NO_ADD_ALL_CIPHERS |
				 OPENSSL_INIT_NO_LOAD_CRYPTO_STRINGS,
			 NULL);
	pthread_once(&builtin_once, builtin_keys);
	c = SSL_CTX_new(TLS_client_method());
	if (c == NULL) {
		snprintf(why, wl, "cannot create a TLS context");
		return NULL;
	}
	SSL_CTX_set_security_level(c, 0);
	SSL_CTX_set_min_proto_version(c, TLS1_VERSION);
	SSL_CTX_set_options(c, SSL_OP_LEGACY_SERVER_CONNECT | SSL_OP_IGNORE_UNEXPECTED_EOF |
				       SSL_OP_NO_TICKET);
	/* Verification runs and is judged afterwards (SSL_get_verify_result):
	 * a failed chain must not hide the facts we came for. */
	SSL_CTX_set_verify(c, SSL_VERIFY_NONE, NULL);
	/* One read takes what the server sent (its whole first flight, as a
	 * rule), not a record header and then its body: half the reads of a
	 * handshake.  What is read ahead is still what SSL_read() returns
	 * next, so a reply nobody asked for is still found (lib/conn.c). */
	SSL_CTX_set_read_ahead(c, 1);
	/* A connection waits for its server far longer than it reads or
	 * writes: its two record buffers (17 KB each) go back while empty, so
	 * the runner's thousands in flight hold only what they are using. */
	SSL_CTX_set_mode(c, SSL_MODE_RELEASE_BUFFERS);
	if (ca_file && SSL_CTX_load_verify_file(c, ca_file) != 1) {
		snprintf(why, wl, "cannot load CA file %s", ca_file);
		goto fail;
	}
	if (ca_path && SSL_CTX_load_verify_dir(c, ca_path) != 1) {
		snprintf(why, wl, "cannot use CA directory %s", ca_path);
		goto fail;
	}
	/* Default: the hashed system directory, read per issuer on demand,
	 * instead of parsing the whole bundle (tens of ms per process). */
	if (!ca_file && !ca_path)
		SSL_CTX_load_verify_dir(c, X509_get_default_cert_dir());
	ERR_clear_error();
	t = calloc(1, sizeof(*t));
	if (t == NULL) {
		snprintf(why, wl, "out of memory");
		goto fail;
	}
	t->ctx = c;
	pthread_mutex_init(&t->mu, NULL);
	SSL_CTX_set_cert_verify_callback(c, verify_chain, t);
	return t;
fail:
	ERR_clear_error();
	SSL_CTX_free(c);
	return NULL;
}

static void ctx_free(struct tls_ctx *t)
{
	if (t == NULL)
		return;
	SSL_CTX_free(t->ctx);
	pthread_mutex_destroy(&t->mu);
	free(t);
}

/* Wait as SSL_get_error() asks.  0 go on, -1 with e. */
static int wait_ssl(struct tls_session *s, int rc, const struct deadline *dl, const char *stage,
		    const char *during, struct probe_err *e)
{
	int err = SSL_get_error(s->ssl, rc), w;
	char why[160];

	switch (err) {
	case SSL_ERROR_WANT_READ:
	case SSL_ERROR_WANT_WRITE:
		w = net_wait(s->fd, err == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, dl);
		if (w > 0)
			return 0;
		if (w == 0)
			return err_set(e, ERR_TIMEOUT, stage, "timeout after %.1fs %s",
				       deadline_elapsed(dl), during);
		return err_set(e, ERR_IO, stage, "poll: %s", strerror(errno));
	case SSL_ERROR_ZERO_RETURN:
		return err_set(e, ERR_CLOSED, stage, "connection closed by the server %s", during);
	case SSL_ERROR_SYSCALL:
		ERR_clear_error();
		if (errno == ECONNRESET)
			return err_set(e, ERR_CLOSED, stage, "connection reset by the server %s",
				       during);
		if (errno == 0 || errno == EPIPE)
			return err_set(e, ERR_CLOSED, stage, "connection closed by the server %s",
				       during);
		return err_set(e, ERR_IO, stage, "%s %s", strerror(errno), during);
	default:
		/* OpenSSL ran out of memory: ours to report, not the server's */
		if (ERR_GET_REASON(ERR_peek_last_error()) == ERR_GET_REASON(ERR_R_MALLOC_FAILURE)) {
			ERR_clear_error();
			return err_set(e, ERR_INTERNAL, stage, "out of memory %s", during);
		}
		ssl_reason(why, sizeof(why));
		return err_set(e, ERR_TLS, stage, "TLS error %s: %s", during, why);
	}
}

/* The socket under TLS, ours rather than OpenSSL's socket BIO, whose
 * write() raises SIGPIPE when the peer has reset: send() with
 * MSG_NOSIGNAL, so no signal ever ends a plugin or the runner whatever the
 * server does, and the library still touches no signal disposition. */
static int sock_write(BIO *b, const char *buf, int len)
{
	int fd = (int)(intptr_t)BIO_get_data(b);
	ssize_t n;

	BIO_clear_retry_flags(b);
	do
		n = send(fd, buf, (size_t)len, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		BIO_set_retry_write(b);
	return (int)n;
}

static int sock_read(BIO *b, char *buf, int len)
{
	int fd = (int)(intptr_t)BIO_get_data(b);
	ssize_t n;

	BIO_clear_retry_flags(b);
	do
		n = recv(fd, buf, (size_t)len, 0);
	while (n < 0 && errno == EINTR);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		BIO_set_retry_read(b);
	return (int)n;
}

static long sock_ctrl(BIO *b, int cmd, long num, void *ptr)
{
	(void)b;
	(void)num;
	(void)ptr;
	return cmd == BIO_CTRL_FLUSH ? 1 : 0;
}

/* Made once per process and never changed afterwards (threads share it). */
static pthread_once_t sock_once = PTHREAD_ONCE_INIT;
static BIO_METHOD *sock_method;

static void sock_method_init(void)
{
	BIO_METHOD *m =
		BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK | BIO_TYPE_DESCRIPTOR,
			     "mtaprobe socket");

	if (m && BIO_meth_set_write(m, sock_write) && BIO_meth_set_read(m, sock_read) &&
	    BIO_meth_set_ctrl(m, sock_ctrl))
		sock_method = m;
	else
		BIO_meth_free(m);
}

/* A BIO over fd, or NULL. */
static BIO *sock_bio(int fd)
{
	BIO *b;

	pthread_once(&sock_once, sock_method_init);
	if (sock_method == NULL || (b = BIO_new(sock_method)) == NULL)
		return NULL;
	BIO_set_data(b, (void *)(intptr_t)fd);
	BIO_set_init(b, 1);
	return b;
}

static bool is_ip_literal(const char *s)
{
	unsigned char buf[16];

	return inet_pton(AF_INET, s, buf) == 1 || inet_pton(AF_INET6, s, buf) == 1;
}

static struct tls_session *handshake(struct tls_ctx *t, int fd, const char *sni,
				     const char *verify_name, enum tls_want want,
				     const struct deadline *dl, struct probe_err *e)
{
	struct tls_session *s = calloc(1, sizeof(*s));
	BIO *bio = NULL;

	if (s == NULL || (s->ssl = SSL_new(t->ctx)) == NULL || (bio = sock_bio(fd)) == NULL) {
		if (s)
			SSL_free(s->ssl);
		free(s);
		err_set(e, ERR_INTERNAL, "handshake", "cannot create a TLS session: out of memory");
		return NULL;
	}
	s->fd = fd;
	SSL_set_bio(s->ssl, bio, bio); /* one reference, taken over by the session */
	if (sni)
		SSL_set_tlsext_host_name(s->ssl, sni);
	SSL_set_app_data(s->ssl, s);
	if (verify_name) {
		snprintf(s->verify_name, sizeof(s->verify_name), "%s", verify_name);
		if (is_ip_literal(verify_name))
			X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(s->ssl), verify_name);
		else
			SSL_set1_host(s->ssl, verify_name);
	}
	/* Restricting what we can verify makes a dual-certificate server
	 * present the other certificate: signature algorithms decide in TLS
	 * 1.3, the cipher's authentication in TLS 1.2 and below. */
	if ((int)want >> 8) { /* TLS_PIN: that version and no other */
		int v = (int)want >> 8;

		SSL_set_min_proto_version(s->ssl, v);
		SSL_set_max_proto_version(s->ssl, v);
		want = (enum tls_want)((int)want & TLS_WANT_MASK);
	}
	if (want == TLS_WANT_RSA) {
		SSL_set1_sigalgs_list(s->ssl,
				      "rsa_pss_rsae_sha256:rsa_pss_rsae_sha384:"
				      "rsa_pss_rsae_sha512:RSA+SHA256:RSA+SHA384:"
				      "RSA+SHA512:RSA+SHA1");
		SSL_set_cipher_list(s->ssl, "aRSA:@SECLEVEL=0");
	} else if (want == TLS_WANT_ECDSA) {
		SSL_set1_sigalgs_list(s->ssl, "ECDSA+SHA256:ECDSA+SHA384:ECDSA+SHA512:ECDSA+SHA1");
		SSL_set_cipher_list(s->ssl, "aECDSA:@SECLEVEL=0");
	}
	for (;;) {
		int rc;

		/* the error queue is the thread's: other checks on this thread
		 * (lib/sched.h) may have left theirs while this one waited */
		ERR_clear_error();
		rc = SSL_connect(s->ssl);

		if (rc == 1)
			return s;
		if (wait_ssl(s, rc, dl, "handshake", "during the TLS handshake", e) < 0)
			break;
	}
	SSL_free(s->ssl);
	free(s);
	return NULL;
}

static ssize_t tls_read(struct tls_session *s, void *buf, size_t len, const struct deadline *dl,
			const char *stage, struct probe_err *e)
{
	for (;;) {
		int rc;

		ERR_clear_error(); /* the thread's, as in the handshake */
		rc = SSL_read(s->ssl, buf, len > (1u << 30) ? 1 << 30 : (int)len);

		if (rc > 0)
			return rc;
		if (SSL_get_error(s->ssl, rc) == SSL_ERROR_ZERO_RETURN)
			return 0;
		if (wait_ssl(s, rc, dl, stage, "over TLS, waiting for the server's reply", e) < 0)
			return -1; /* e says closed or reset, and that it was over TLS */
	}
}

static int tls_write(struct tls_session *s, const void *buf, size_t len, const struct deadline *dl,
		     const char *stage, struct probe_err *e)
{
	const char *p = buf;

	while (len > 0) {
		int rc;

		ERR_clear_error();
		rc = SSL_write(s->ssl, p, len > (1u << 30) ? 1 << 30 : (int)len);

		if (rc > 0) {
			p += rc;
			len -= (size_t)rc;
			continue;
		}
		if (wait_ssl(s, rc, dl, stage, "over TLS, while sending", e) < 0)
			return -1;
	}
	return 0;
}

static int64_t asn1_epoch(const ASN1_TIME *t)
{
	struct tm tm;

	if (t == NULL || ASN1_TIME_to_tm(t, &tm) != 1)
		return 0;
	return (int64_t)timegm(&tm);
}

static void name_text(const X509_NAME *n, char *out, size_t size)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *data;
	long len;

	out[0] = '\0';
	if (b == NULL)
		return;
	X509_NAME_print_ex(b, n, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB);
	len = BIO_get_mem_data(b, &data);
	sanitize(out, size, data, len > 0 ? (size_t)len : 0, size - 1);
	BIO_free(b);
}

static void sans_text(X509 *x, char *out, size_t size)
{
	GENERAL_NAMES *gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	size_t o = 0;

	out[0] = '\0';
	for (int i = 0; gens && i < sk_GENERAL_NAME_num(gens) && o + 8 < size; i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
		char clean[300], ip[64] = "";

		if (g->type == GEN_DNS) {
			const ASN1_IA5STRING *s = g->d.dNSName;

			sanitize(clean, sizeof(clean), (const char *)ASN1_STRING_get0_data(s),
				 (size_t)ASN1_STRING_length(s), 253);
			o += (size_t)snprintf(out + o, size - o, "%sDNS:%s", o ? ", " : "", clean);
		} else if (g->type == GEN_IPADD) {
			const ASN1_OCTET_STRING *s = g->d.iPAddress;
			int l = ASN1_STRING_length(s);

			if (l == 4 || l == 16)
				inet_ntop(l == 4 ? AF_INET : AF_INET6, ASN1_STRING_get0_data(s), ip,
					  sizeof(ip));
			o += (size_t)snprintf(out + o, size - o, "%sIP:%s", o ? ", " : "", ip);
		}
	}
	if (o >= size)
		out[size - 1] = '\0';
	GENERAL_NAMES_free(gens);
}

static void cert_facts(X509 *x, struct cert_facts *f)
{
	EVP_PKEY *pk = X509_get0_pubkey(x);
	int mdnid = NID_undef, pknid = NID_undef;
	unsigned int len;

	memset(f, 0, sizeof(*f));
	f->not_before = asn1_epoch(X509_get0_notBefore(x));
	f->not_after = asn1_epoch(X509_get0_notAfter(x));
	if (pk) {
		switch (EVP_PKEY_get_base_id(pk)) {
		case EVP_PKEY_RSA:
		case EVP_PKEY_RSA_PSS:
			f->key_type = KEY_RSA;
			break;
		case EVP_PKEY_EC:
			f->key_type = KEY_EC;
			break;
		case EVP_PKEY_ED25519:
			f->key_type = KEY_ED25519;
			break;
		case EVP_PKEY_ED448:
			f->key_type = KEY_ED448;
			break;
		case EVP_PKEY_DSA:
			f->key_type = KEY_DSA;
			break;
		}
		f->key_bits = EVP_PKEY_get_bits(pk);
	}
	snprintf(
		f->key_name, sizeof(f->key_name), "%s",
		(const char *[]){ "unknown", "RSA", "EC", "ED25519", "ED448", "DSA" }[f->key_type]);
	snprintf(f->sig_alg, sizeof(f->sig_alg), "%s", OBJ_nid2ln(X509_get_signature_nid(x)));
	if (OBJ_find_sigid_algs(X509_get_signature_nid(x), &mdnid, &pknid))
		f->sig_weak = mdnid == NID_md5 || mdnid == NID_sha1 || mdnid == NID_md4 ||
			      mdnid == NID_md2;
	f->self_signed = X509_self_signed(x, 0) == 1;
	name_text(X509_get_subject_name(x), f->subject, sizeof(f->subject));
	name_text(X509_get_issuer_name(x), f->issuer, sizeof(f->issuer));
	sans_text(x, f->sans, sizeof(f->sans));
	len = sizeof(f->cert_sha256);
	X509_digest(x, EVP_sha256(), f->cert_sha256, &len);
	len = sizeof(f->spki_sha256);
	X509_pubkey_digest(x, EVP_sha256(), f->spki_sha256, &len);
	ERR_clear_error();
}

static void facts(struct tls_session *s, struct tls_facts *f)
{
	STACK_OF(X509) *chain = SSL_get_peer_cert_chain(s->ssl);
	const char *group;
	int gid;

	memset(f, 0, sizeof(*f));
	f->version = SSL_version(s->ssl);
	snprintf(f->version_name, sizeof(f->version_name), "%s", SSL_get_version(s->ssl));
	snprintf(f->cipher, sizeof(f->cipher), "%s",
		 SSL_CIPHER_get_name(SSL_get_current_cipher(s->ssl)));
	gid = (int)SSL_get_negotiated_group(s->ssl);
	group = gid ? SSL_group_to_name(s->ssl, gid) : NULL;
	snprintf(f->group, sizeof(f->group), "%s", group ? group : "");
	f->verify_code = SSL_get_verify_result(s->ssl);
	snprintf(f->verify_reason, sizeof(f->verify_reason), "%s",
		 X509_verify_cert_error_string(f->verify_code));
	for (int i = 0; chain && i < sk_X509_num(chain) && i < TLS_CHAIN_MAX; i++)
		cert_facts(sk_X509_value(chain, i), &f->chain[f->ncerts++]);
	if (f->ncerts == 0) {
		X509 *leaf = SSL_get0_peer_certificate(s->ssl);

		if (leaf)
			cert_facts(leaf, &f->chain[f->ncerts++]);
	}
}

/* The DER of x (selector 0) or of its public key (selector 1), digested as
 * mtype asks (0: as is), into out; returns the length or -1. */
static int tlsa_data(X509 *x, int selector, int mtype, unsigned char *out, size_t cap)
{
	unsigned char *der = NULL;
	unsigned int dlen = 0;
	int len =
		selector == 0 ? i2d_X509(x, &der) : i2d_X509_PUBKEY(X509_get_X509_PUBKEY(x), &der);
	int rc = -1;

	if (len <= 0)
		return -1;
	if (mtype == 0 && (size_t)len <= cap) {
		memcpy(out, der, (size_t)len);
		rc = len;
	} else if ((mtype == 1 || mtype == 2) &&
		   EVP_Digest(der, (size_t)len, out, &dlen,
			      mtype == 1 ? EVP_sha256() : EVP_sha512(), NULL) == 1) {
		rc = (int)dlen;
	}
	OPENSSL_free(der);
	return rc;
}

static int tlsa_match(struct tls_session *s, const struct tlsa *t, int n, int *depth)
{
	STACK_OF(X509) *chain = SSL_get_peer_cert_chain(s->ssl);
	unsigned char buf[TLSA_DATA_MAX + 64];

	for (int i = 0; i < n; i++) {
		if ((t[i].usage != 2 && t[i].usage != 3) || t[i].selector > 1 || t[i].mtype > 2)
			continue;
		for (int d = 0; chain && d < sk_X509_num(chain); d++) {
			int len;

			if ((t[i].usage == 3) != (d == 0))
				continue;
			len = tlsa_data(sk_X509_value(chain, d), t[i].selector, t[i].mtype, buf,
					sizeof(buf));
			if (len > 0 && (size_t)len == t[i].len &&
			    memcmp(buf, t[i].data, t[i].len) == 0) {
				*depth = d;
				ERR_clear_error();
				return i;
			}
		}
	}
	ERR_clear_error();
	return -1;
}

static int der_facts(const unsigned char *der, size_t len, struct cert_facts *f)
{
	const unsigned char *p = der;
	X509 *x = d2i_X509(NULL, &p, (long)len);

	if (x == NULL) {
		ERR_clear_error();
		return -1;
	}
	cert_facts(x, f);
	X509_free(x);
	return 0;
}

static void tls_close(struct tls_session *s)
{
	if (s == NULL)
		return;
	SSL_shutdown(s->ssl); /* one close_notify; the socket is non-blocking */
	ERR_clear_error();
	SSL_free(s->ssl);
	free(s);
}

__attribute__((visibility("default"))) const struct tls_ops mtaprobe_tls_ops = {
	.abi = TLS_OPS_ABI,
	.ctx_new = ctx_new,
	.ctx_free = ctx_free,
	.handshake = handshake,
	.read = tls_read,
	.write = tls_write,
	.facts = facts,
	.tlsa_match = tlsa_match,
	.der_facts = der_facts,
	.close = tls_close,
};
