/* tls.h - TLS on an already-connected socket, and certificate facts as plain
 * structs.
 *
 * OpenSSL costs 3.3 M instructions just to be loaded (relocations and
 * constructors of libssl/libcrypto) and 11 M more for the first SSL_CTX, three
 * times a whole plain banner check.  So the OpenSSL code lives in a module,
 * mtaprobe-tls.so, which the plugins load only when a check needs TLS
 * (tls_ops_get); the runner links the same code in directly.  Everything
 * above this header sees plain structs and never includes OpenSSL. */
#ifndef MTAPROBE_TLS_H
#define MTAPROBE_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "lib/deadline.h"
#include "lib/dnsmsg.h"
#include "lib/err.h"

#define TLS_OPS_ABI   5 /* 5: struct deadline names its scheduler */
#define TLS_CHAIN_MAX 8

enum key_type { KEY_UNKNOWN = 0, KEY_RSA, KEY_EC, KEY_ED25519, KEY_ED448, KEY_DSA };

struct cert_facts {
	int64_t not_before, not_after; /* seconds since the epoch (UTC) */
	enum key_type key_type;
	int key_bits;
	char key_name[16]; /* "RSA", "EC", "ED25519" ... */
	char sig_alg[48];  /* "sha256WithRSAEncryption" ... */
	bool sig_weak;	   /* MD5 or SHA-1 based signature */
	bool self_signed;
	char subject[256]; /* RFC 2253, sanitised */
	char issuer[256];
	char sans[512];		       /* "DNS:a, DNS:b, IP:1.2.3.4", sanitised */
	unsigned char spki_sha256[32]; /* for DANE selector 1 */
	unsigned char cert_sha256[32]; /* for DANE selector 0 */
};

struct tls_facts {
	int version;	       /* 0x0301 TLS 1.0 .. 0x0304 TLS 1.3 */
	char version_name[16]; /* "TLSv1.3" */
	char cipher[64];
	char group[32];		 /* key exchange group, "" if unknown */
	long verify_code;	 /* X509_V_OK (0) when chain and name verified */
	char verify_reason[160]; /* OpenSSL's words for verify_code */
	int ncerts;		 /* chain as sent by the server, leaf first */
	struct cert_facts chain[TLS_CHAIN_MAX];
};

/* Which server certificates a handshake may select (for dual RSA+ECDSA),
 * plus TLS_PIN(version): allow that one protocol version only (0x0301 TLS
 * 1.0 .. 0x0304), for asking a server which old versions it still takes. */
enum tls_want { TLS_WANT_ANY = 0, TLS_WANT_RSA, TLS_WANT_ECDSA, TLS_WANT_MASK = 0xff };
#define TLS_PIN(version) ((enum tls_want)((version) << 8))

struct tls_ctx;	    /* a client configuration (SSL_CTX); share it */
struct tls_session; /* one TLS connection on a socket */

struct tls_ops {
	int abi;
	/* A client context: trust anchors from ca_file and/or ca_path, else
	 * the system store as a hashed directory (looked up lazily, per
	 * issuer, not parsed whole).  Permissive on purpose: security level
	 * 0 and TLS 1.0 allowed, so old servers and weak certificates can be
	 * judged rather than merely fail.  NULL with why on error. */
	struct tls_ctx *(*ctx_new)(const char *ca_file, const char *ca_path, char *why,
				   size_t why_len);
	void (*ctx_free)(struct tls_ctx *ctx);
	/* Handshake on connected fd under dl.  sni: server name or NULL;
	 * verify_name: host name (or IP literal) to verify the certificate
	 * against, or NULL for chain only.  NULL with e on failure. */
	struct tls_session *(*handshake)(struct tls_ctx *ctx, int fd, const char *sni,
					 const char *verify_name, enum tls_want want,
					 const struct deadline *dl, struct probe_err *e);
	/* Read up to len bytes: >0 read, 0 closed, -1 with e (incl. timeout). */
	ssize_t (*read)(struct tls_session *s, void *buf, size_t len, const struct deadline *dl,
			const char *stage, struct probe_err *e);
	/* Write all of buf: 0 or -1 with e. */
	int (*write)(struct tls_session *s, const void *buf, size_t len, const struct deadline *dl,
		     const char *stage, struct probe_err *e);
	/* Facts of the negotiated session and the peer's chain. */
	void (*facts)(struct tls_session *s, struct tls_facts *f);
	/* DANE (RFC 6698, RFC 7672 for SMTP): the first of the n TLSA records
	 * that matches the peer's chain as sent -- usage 3 (DANE-EE) the leaf,
	 * usage 2 (DANE-TA) a certificate above it; selector 0 (certificate)
	 * or 1 (public key); matching type 0 (exact), 1 (SHA-256), 2
	 * (SHA-512).  Returns its index with *depth, or -1.  Usages 0/1 and
	 * unknown selectors or matching types never match (RFC 7672 §3.1.3). */
	int (*tlsa_match)(struct tls_session *s, const struct tlsa *t, int n, int *depth);
	/* Facts of one DER-encoded certificate: 0, or -1 if it does not parse. */
	int (*der_facts)(const unsigned char *der, size_t len, struct cert_facts *f);
	/* Send close_notify (without waiting) and free; NULL is fine. */
	void (*close)(struct tls_session *s);
};

/* The TLS implementation: linked in (the runner) or loaded from
 * mtaprobe-tls.so on first use (plugins), once per process.  NULL with why
 * when the module cannot be loaded. */
const struct tls_ops *tls_ops_get(char *why, size_t why_len);

/* "TLSv1.2" -> 0x0303 etc.; -1 if unknown.  Accepts "1.0".."1.3" too. */
int tls_version_parse(const char *s);

/* 0x0303 -> "TLSv1.2" (OpenSSL's spelling); "unknown" otherwise. */
const char *tls_version_name(int version);

#endif
