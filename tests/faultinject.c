/*
 * faultinject.so - an LD_PRELOAD shim that makes one call fail.
 *
 *   cc -shared -fPIC -O2 -o build/faultinject.so tests/faultinject.c -ldl
 *   FAULT_N=37 FAULT_REPORT=1 LD_PRELOAD=build/faultinject.so build/check_mta_banner ...
 *
 * Counts the calls the process makes, after main() starts, to
 *   socket connect poll recv send read write malloc calloc realloc
 *   epoll_create1 epoll_ctl (the runner's scheduler; only EPOLL_CTL_ADD)
 * (or only those named in FAULT_CALLS=name,name,...), and makes the N-th
 * counted call (FAULT_N=N, from 1) fail once the way the real call can
 * fail, then behaves normally:
 *
 *   socket   -1 EMFILE             connect  -1 ECONNREFUSED
 *   poll     -1 ENOMEM             recv     -1 ECONNRESET
 *   send     -1 ECONNRESET         read/write -1 ECONNRESET on a socket,
 *   malloc/calloc/realloc NULL ENOMEM           -1 EIO on anything else
 *   epoll_create1 -1 EMFILE        epoll_ctl -1 ENOMEM (no memory for a watch)
 *
 * (never EINTR: the code retries it, so it would test nothing).  OpenSSL's
 * socket BIO reads and writes with read()/write() (or recv()/send()), so
 * the TLS path is covered by the same wrappers; its allocations go through
 * malloc/realloc.  Calls made by any library of the process count, calls
 * made by the dynamic loader before main() and after main() returns (or
 * exit() is called) do not, and neither do those a new thread makes before
 * or after its start routine (the thread library's, ASan's).  Counting is
 * atomic (the runner has threads); with threads the same N may hit a
 * different call from run to run.
 *
 * FAULT_N unset (or 0) and FAULT_REPORT unset: the shim does nothing but
 * pass every call on.  FAULT_REPORT=1: "faultinject: failed call N (name)
 * from OBJECT+0xOFFSET (SYMBOL)" on stderr when the fault fires (the caller:
 * the program, or libcrypto for OpenSSL's allocations; addr2line -e OBJECT
 * OFFSET names the line), and when main() returns or exit() is
 * called "faultinject: counted C calls (malloc 120, recv 9, ...)" -- C
 * tells a sweep how far to go.  FAULT_TRACE=1 additionally prints every
 * counted call as "faultinject: call N (name)".  FAULT_LEAKCHECK=1 (ASan
 * builds): when main() returns or exit() is called, LeakSanitizer's
 * recoverable check runs and prints its report plus "faultinject: leaks
 * found", leaving the exit code alone; use it with
 * ASAN_OPTIONS=detect_leaks=1:leak_check_at_exit=0.
 *
 * The real functions come from dlsym(RTLD_NEXT).  dlsym itself may call
 * calloc/malloc: while it runs they are served from a small static
 * buffer, which free() and realloc() recognise.
 *
 * With an ASan binary set ASAN_OPTIONS=verify_asan_link_order=0: the shim
 * must come before libasan to see the program's allocations (ASan's own
 * malloc is then the "real" one behind it).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <poll.h>
#include <sys/epoll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

enum fn {
	F_SOCKET,
	F_CONNECT,
	F_POLL,
	F_RECV,
	F_SEND,
	F_READ,
	F_WRITE,
	F_MALLOC,
	F_CALLOC,
	F_REALLOC,
	F_EPOLL_CREATE,
	F_EPOLL_CTL,
	F_COUNT
};

static const char *const fn_name[F_COUNT] = {
	"socket", "connect", "poll",   "recv",	  "send",	   "read",
	"write",  "malloc",  "calloc", "realloc", "epoll_create1", "epoll_ctl",
};

/* --- the real functions ------------------------------------------------ */

static int (*real_socket)(int, int, int);
static int (*real_connect)(int, const struct sockaddr *, socklen_t);
static int (*real_poll)(struct pollfd *, nfds_t, int);
static int (*real_epoll_create1)(int);
static int (*real_epoll_ctl)(int, int, int, struct epoll_event *);
static ssize_t (*real_recv)(int, void *, size_t, int);
static ssize_t (*real_send)(int, const void *, size_t, int);
static ssize_t (*real_read)(int, void *, size_t);
static ssize_t (*real_write)(int, const void *, size_t);
static void *(*real_malloc)(size_t);
static void *(*real_calloc)(size_t, size_t);
static void *(*real_realloc)(void *, size_t);
static void (*real_free)(void *);
static void (*real_exit)(int);

static volatile int resolving;
static volatile int resolved;

/* bootstrap heap for dlsym's own allocations */
static _Alignas(16) unsigned char boot[16384];
static size_t boot_used;

static int in_boot(const void *p)
{
	return (const unsigned char *)p >= boot && (const unsigned char *)p < boot + sizeof(boot);
}

static void *boot_alloc(size_t n)
{
	size_t off = (boot_used + 15) & ~(size_t)15;

	if (n > sizeof(boot) - off)
		return NULL;
	boot_used = off + n;
	return boot + off; /* static storage: already zero */
}

static void resolve(void)
{
	if (resolved || resolving)
		return;
	resolving = 1;
	real_malloc = (void *(*)(size_t))dlsym(RTLD_NEXT, "malloc");
	real_calloc = (void *(*)(size_t, size_t))dlsym(RTLD_NEXT, "calloc");
	real_realloc = (void *(*)(void *, size_t))dlsym(RTLD_NEXT, "realloc");
	real_free = (void (*)(void *))dlsym(RTLD_NEXT, "free");
	real_socket = (int (*)(int, int, int))dlsym(RTLD_NEXT, "socket");
	real_connect =
		(int (*)(int, const struct sockaddr *, socklen_t))dlsym(RTLD_NEXT, "connect");
	real_poll = (int (*)(struct pollfd *, nfds_t, int))dlsym(RTLD_NEXT, "poll");
	real_epoll_create1 = (int (*)(int))dlsym(RTLD_NEXT, "epoll_create1");
	real_epoll_ctl =
		(int (*)(int, int, int, struct epoll_event *))dlsym(RTLD_NEXT, "epoll_ctl");
	real_recv = (ssize_t(*)(int, void *, size_t, int))dlsym(RTLD_NEXT, "recv");
	real_send = (ssize_t(*)(int, const void *, size_t, int))dlsym(RTLD_NEXT, "send");
	real_read = (ssize_t(*)(int, void *, size_t))dlsym(RTLD_NEXT, "read");
	real_write = (ssize_t(*)(int, const void *, size_t))dlsym(RTLD_NEXT, "write");
	real_exit = (void (*)(int))dlsym(RTLD_NEXT, "exit");
	resolving = 0;
	resolved = 1;
}

__attribute__((constructor)) static void fi_init(void)
{
	resolve();
}

/* --- configuration and counting ---------------------------------------- */

static long fault_n; /* 0: never fail */
static unsigned fault_mask = (1u << F_COUNT) - 1;
static int fault_report, fault_trace, fault_leakcheck;
static volatile int armed;	/* between main() and its end */
static long counter;		/* atomic */
static long per_fn[F_COUNT];	/* atomic */
static int reported;		/* atomic */
static __thread int in_shim;	/* our own printing must not count */
static __thread int in_program; /* this thread runs main() or a start routine */

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void say(const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	int n;

	in_shim++;
	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n > (int)sizeof(buf) - 1)
		n = (int)sizeof(buf) - 1;
	if (n > 0 && real_write)
		(void)!real_write(2, buf, (size_t)n);
	in_shim--;
}

static void parse_env(void)
{
	const char *s = getenv("FAULT_N"), *c = getenv("FAULT_CALLS"), *r = getenv("FAULT_REPORT");
	const char *t = getenv("FAULT_TRACE"), *l = getenv("FAULT_LEAKCHECK");

	fault_n = s && *s ? strtol(s, NULL, 10) : 0;
	if (fault_n < 0)
		fault_n = 0;
	fault_report = r && *r && strcmp(r, "0") != 0;
	fault_trace = t && *t && strcmp(t, "0") != 0;
	fault_leakcheck = l && *l && strcmp(l, "0") != 0;
	if (c && *c) {
		fault_mask = 0;
		while (*c) {
			size_t len = strcspn(c, ", ");

			for (int i = 0; i < F_COUNT; i++)
				if (strlen(fn_name[i]) == len && strncmp(c, fn_name[i], len) == 0)
					fault_mask |= 1u << i;
			if (len == 3 && strncmp(c, "all", 3) == 0)
				fault_mask = (1u << F_COUNT) - 1;
			c += len;
			c += strspn(c, ", ");
		}
	}
}

/* where the call came from: "libcrypto.so.3+0x1a2b3 (CRYPTO_malloc)" */
static void caller_of(const void *ra, char *buf, size_t size)
{
	Dl_info di;
	const char *obj, *slash;

	if (!ra || !dladdr(ra, &di) || !di.dli_fname) {
		snprintf(buf, size, "%p", ra);
		return;
	}
	obj = di.dli_fname;
	slash = strrchr(obj, '/');
	if (slash)
		obj = slash + 1;
	if (di.dli_sname)
		snprintf(buf, size, "%s+0x%lx (%s)", *obj ? obj : "?",
			 (unsigned long)((const char *)ra - (const char *)di.dli_fbase),
			 di.dli_sname);
	else
		snprintf(buf, size, "%s+0x%lx", *obj ? obj : "?",
			 (unsigned long)((const char *)ra - (const char *)di.dli_fbase));
}

/* 1 if this call (from return address ra) is to fail */
static int hit(enum fn f, const void *ra)
{
	long n;

	if (!armed || in_shim || !in_program || !(fault_mask & (1u << f)))
		return 0;
	n = __atomic_add_fetch(&counter, 1, __ATOMIC_RELAXED);
	__atomic_add_fetch(&per_fn[f], 1, __ATOMIC_RELAXED);
	if (fault_trace)
		say("faultinject: call %ld (%s)\n", n, fn_name[f]);
	if (n != fault_n)
		return 0;
	if (fault_report) {
		char from[320];

		in_shim++;
		caller_of(ra, from, sizeof(from));
		in_shim--;
		say("faultinject: failed call %ld (%s) from %s\n", n, fn_name[f], from);
	}
	return 1;
}

static void finish(void)
{
	char detail[400];
	size_t len = 0;

	if (!armed)
		return;
	armed = 0;
	if (__atomic_exchange_n(&reported, 1, __ATOMIC_RELAXED))
		return;
	if (fault_leakcheck) {
		/* an ASan/LSan binary: report leaks now, without changing the
		 * exit code (run with ASAN_OPTIONS=leak_check_at_exit=0) */
		int (*check)(void) =
			(int (*)(void))dlsym(RTLD_DEFAULT, "__lsan_do_recoverable_leak_check");

		if (check && check())
			say("faultinject: leaks found\n");
	}
	if (!fault_report)
		return;
	detail[0] = 0;
	for (int i = 0; i < F_COUNT; i++) {
		long k = __atomic_load_n(&per_fn[i], __ATOMIC_RELAXED);

		if (k && len < sizeof(detail))
			len += (size_t)snprintf(detail + len, sizeof(detail) - len, "%s%s %ld",
						len ? ", " : "", fn_name[i], k);
	}
	say("faultinject: counted %ld calls (%s)\n", __atomic_load_n(&counter, __ATOMIC_RELAXED),
	    detail);
}

/* --- main() and exit() ---------------------------------------------------- */

static int (*real_main)(int, char **, char **);

static int fi_main(int argc, char **argv, char **envp)
{
	int rc;

	resolve();
	parse_env();
	armed = fault_n > 0 || fault_report || fault_trace || fault_leakcheck;
	in_program = 1;
	rc = real_main(argc, argv, envp);
	in_program = 0;
	finish();
	return rc;
}

/* Threads: only what the start routine does counts, not what the thread
 * library (or ASan's thread set-up, which fails hard) does around it. */
struct start {
	void *(*fn)(void *);
	void *arg;
};

static void *fi_thread(void *p)
{
	struct start st = *(struct start *)p;
	void *ret;

	real_free(p);
	in_program = 1;
	ret = st.fn(st.arg);
	in_program = 0;
	return ret;
}

int pthread_create(pthread_t *t, const pthread_attr_t *attr, void *(*fn)(void *), void *arg)
{
	static int (*real)(pthread_t *, const pthread_attr_t *, void *(*)(void *), void *);
	struct start *st;
	int rc;

	if (!real)
		real = (int (*)(pthread_t *, const pthread_attr_t *, void *(*)(void *),
				void *))dlsym(RTLD_NEXT, "pthread_create");
	if (!resolved)
		resolve();
	st = real_malloc(sizeof(*st)); /* never a counted call */
	if (st == NULL)
		return real(t, attr, fn, arg);
	st->fn = fn;
	st->arg = arg;
	rc = real(t, attr, fi_thread, st);
	if (rc != 0)
		real_free(st);
	return rc;
}

int __libc_start_main(int (*main)(int, char **, char **), int argc, char **argv, void (*init)(void),
		      void (*fini)(void), void (*rtld_fini)(void), void *stack_end)
{
	int (*real)(int (*)(int, char **, char **), int, char **, void (*)(void), void (*)(void),
		    void (*)(void), void *);

	real = (int (*)(int (*)(int, char **, char **), int, char **, void (*)(void),
			void (*)(void), void (*)(void), void *))dlsym(RTLD_NEXT,
								      "__libc_start_main");
	real_main = main;
	return real(fi_main, argc, argv, init, fini, rtld_fini, stack_end);
}

void exit(int status)
{
	finish();
	if (!real_exit)
		resolve();
	real_exit(status);
	__builtin_unreachable();
}

/* --- the wrapped calls ---------------------------------------------------- */

static int is_socket(int fd)
{
	struct stat st;

	return fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode);
}

int socket(int domain, int type, int protocol)
{
	if (!real_socket)
		resolve();
	if (hit(F_SOCKET, __builtin_return_address(0))) {
		errno = EMFILE;
		return -1;
	}
	return real_socket(domain, type, protocol);
}

int connect(int fd, const struct sockaddr *sa, socklen_t len)
{
	if (!real_connect)
		resolve();
	if (hit(F_CONNECT, __builtin_return_address(0))) {
		errno = ECONNREFUSED;
		return -1;
	}
	return real_connect(fd, sa, len);
}

int poll(struct pollfd *fds, nfds_t nfds, int timeout)
{
	if (!real_poll)
		resolve();
	if (hit(F_POLL, __builtin_return_address(0))) {
		errno = ENOMEM;
		return -1;
	}
	return real_poll(fds, nfds, timeout);
}

int epoll_create1(int flags)
{
	if (!real_epoll_create1)
		resolve();
	if (hit(F_EPOLL_CREATE, __builtin_return_address(0))) {
		errno = EMFILE;
		return -1;
	}
	return real_epoll_create1(flags);
}

int epoll_ctl(int ep, int op, int fd, struct epoll_event *ev)
{
	if (!real_epoll_ctl)
		resolve();
	if (op == EPOLL_CTL_ADD && hit(F_EPOLL_CTL, __builtin_return_address(0))) {
		errno = ENOMEM;
		return -1;
	}
	return real_epoll_ctl(ep, op, fd, ev);
}

ssize_t recv(int fd, void *buf, size_t len, int flags)
{
	if (!real_recv)
		resolve();
	if (hit(F_RECV, __builtin_return_address(0))) {
		errno = ECONNRESET;
		return -1;
	}
	return real_recv(fd, buf, len, flags);
}

ssize_t send(int fd, const void *buf, size_t len, int flags)
{
	if (!real_send)
		resolve();
	if (hit(F_SEND, __builtin_return_address(0))) {
		errno = ECONNRESET;
		return -1;
	}
	return real_send(fd, buf, len, flags);
}

ssize_t read(int fd, void *buf, size_t len)
{
	if (!real_read)
		resolve();
	if (hit(F_READ, __builtin_return_address(0))) {
		errno = is_socket(fd) ? ECONNRESET : EIO;
		return -1;
	}
	return real_read(fd, buf, len);
}

ssize_t write(int fd, const void *buf, size_t len)
{
	if (!real_write)
		resolve();
	if (hit(F_WRITE, __builtin_return_address(0))) {
		errno = is_socket(fd) ? ECONNRESET : EIO;
		return -1;
	}
	return real_write(fd, buf, len);
}

void *malloc(size_t n)
{
	if (!real_malloc) {
		if (resolving)
			return boot_alloc(n);
		resolve();
		if (!real_malloc)
			return boot_alloc(n);
	}
	if (hit(F_MALLOC, __builtin_return_address(0))) {
		errno = ENOMEM;
		return NULL;
	}
	return real_malloc(n);
}

void *calloc(size_t k, size_t n)
{
	if (!real_calloc) {
		if (resolving || (resolve(), !real_calloc)) {
			if (n && k > SIZE_MAX / n)
				return NULL;
			return boot_alloc(k * n);
		}
	}
	if (hit(F_CALLOC, __builtin_return_address(0))) {
		errno = ENOMEM;
		return NULL;
	}
	return real_calloc(k, n);
}

void *realloc(void *p, size_t n)
{
	if (p && in_boot(p)) {
		/* from the bootstrap buffer: move it to the real heap */
		size_t have = (size_t)(boot + sizeof(boot) - (unsigned char *)p);
		void *q = malloc(n);

		if (q)
			memcpy(q, p, have < n ? have : n);
		return q;
	}
	if (!real_realloc) {
		if (resolving || (resolve(), !real_realloc))
			return p ? NULL : boot_alloc(n);
	}
	if (hit(F_REALLOC, __builtin_return_address(0))) {
		errno = ENOMEM;
		return NULL;
	}
	return real_realloc(p, n);
}

void free(void *p)
{
	if (!p || in_boot(p))
		return;
	if (!real_free)
		resolve();
	if (real_free)
		real_free(p);
}
