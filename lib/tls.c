/* tls.c - finding the TLS implementation (see tls.h), and version names. */
#include "lib/tls.h"

#include <dlfcn.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

/* MTAPROBE_LIBDIR, where the module is installed, comes from the Makefile. */
#define TLS_MODULE "mtaprobe-tls.so"

/* Linked in by the runner; absent (NULL) in the plugins. */
extern const struct tls_ops mtaprobe_tls_ops __attribute__((weak));

/* Loaded once per process, like a library's own initialisation; never
 * changes afterwards, so threads may share it. */
static pthread_once_t once = PTHREAD_ONCE_INIT;
static const struct tls_ops *loaded;
static char load_error[256];

static const struct tls_ops *try_load(const char *path)
{
	void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	const struct tls_ops *ops;

	if (h == NULL) {
		snprintf(load_error, sizeof(load_error), "%s", dlerror());
		return NULL;
	}
	ops = dlsym(h, "mtaprobe_tls_ops");
	if (ops == NULL || ops->abi != TLS_OPS_ABI) {
		snprintf(load_error, sizeof(load_error), "%s is not a matching TLS module", path);
		dlclose(h);
		return NULL;
	}
	return ops; /* stays loaded for the life of the process */
}

static void load(void)
{
	char exe[PATH_MAX], path[PATH_MAX + 32];
	ssize_t n;

	if (&mtaprobe_tls_ops != NULL) {
		loaded = &mtaprobe_tls_ops;
		return;
	}
	/* Next to the binary first (the build tree, a relocated install),
	 * then the installed library directory. */
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0) {
		char *slash;

		exe[n] = '\0';
		slash = strrchr(exe, '/');
		if (slash) {
			*slash = '\0';
			snprintf(path, sizeof(path), "%s/%s", exe, TLS_MODULE);
			if (access(path, R_OK) == 0 && (loaded = try_load(path)) != NULL)
				return;
		}
	}
	loaded = try_load(MTAPROBE_LIBDIR "/" TLS_MODULE);
}

const struct tls_ops *tls_ops_get(char *why, size_t why_len)
{
	pthread_once(&once, load);
	if (loaded == NULL)
		snprintf(why, why_len, "cannot load the TLS module: %s", load_error);
	return loaded;
}

static const struct {
	const char *a, *b;
	int v;
} versions[] = {
	{ "1.0", "TLSv1", 0x0301 },
	{ "1.1", "TLSv1.1", 0x0302 },
	{ "1.2", "TLSv1.2", 0x0303 },
	{ "1.3", "TLSv1.3", 0x0304 },
};

const char *tls_version_name(int version)
{
	for (size_t i = 0; i < sizeof(versions) / sizeof(versions[0]); i++)
		if (versions[i].v == version)
			return versions[i].b;
	return "unknown";
}

int tls_version_parse(const char *s)
{

	for (size_t i = 0; i < sizeof(versions) / sizeof(versions[0]); i++)
		if (strcasecmp(s, versions[i].a) == 0 || strcasecmp(s, versions[i].b) == 0)
			return versions[i].v;
	if (strcasecmp(s, "TLSv1.0") == 0)
		return 0x0301;
	return -1;
}
