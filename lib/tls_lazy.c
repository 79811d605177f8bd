/* tls_lazy.c - see tls_lazy.h */
#include "lib/tls_lazy.h"

#include <string.h>

void tls_lazy_init(struct tls_lazy *l, const char *ca_file, const char *ca_path,
		   struct tls_ctx *shared)
{
	memset(l, 0, sizeof(*l));
	pthread_mutex_init(&l->mu, NULL);
	l->ca_file = ca_file;
	l->ca_path = ca_path;
	l->ctx = shared;
}

int tls_lazy_get(struct tls_lazy *l)
{
	int rc;

	pthread_mutex_lock(&l->mu);
	if (!l->tried) {
		l->tried = true;
		l->ops = tls_ops_get(l->why, sizeof(l->why));
		if (l->ops && l->ctx == NULL) {
			l->ctx = l->ops->ctx_new(l->ca_file, l->ca_path, l->why, sizeof(l->why));
			l->owned = l->ctx != NULL;
		}
	}
	rc = l->ops && l->ctx ? 0 : -1;
	pthread_mutex_unlock(&l->mu);
	return rc;
}

void tls_lazy_free(struct tls_lazy *l)
{
	if (l->owned)
		l->ops->ctx_free(l->ctx);
	l->ctx = NULL;
	pthread_mutex_destroy(&l->mu);
}
