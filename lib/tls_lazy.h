/* tlsl.h - a check run's TLS context, made on first use and shared by the
 * connections of that run (several with -A): plain checks never load
 * OpenSSL at all. */
#ifndef MTAPROBE_TLS_LAZY_H
#define MTAPROBE_TLS_LAZY_H

#include <pthread.h>
#include <stdbool.h>

#include "lib/tls.h"

struct tls_lazy {
	pthread_mutex_t mu;
	const char *ca_file, *ca_path;
	const struct tls_ops *ops;
	struct tls_ctx *ctx;
	bool owned, tried;
	char why[300];
};

/* shared: a context to use as it is (the runner's), or NULL. */
void tls_lazy_init(struct tls_lazy *l, const char *ca_file, const char *ca_path,
		   struct tls_ctx *shared);
/* 0 with l->ops and l->ctx ready, or -1 with l->why. */
int tls_lazy_get(struct tls_lazy *l);
void tls_lazy_free(struct tls_lazy *l);

#endif
