/* test_sched.c - many checks on one thread: fibers parked on one epoll set.
 *
 * Bounds on wall time are generous (a shared machine may stall a process
 * for a while); what is asserted is what a serial run could not do: N
 * waits of T each, at once, end in far less than N * T. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "lib/deadline.h"
#include "lib/sched.h"

struct waiter {
	struct deadline dl;
	int fd;		/* read end */
	int timeout_ms; /* passed to sched_poll */
	int rc;		/* what sched_poll returned */
	short revents;
	char got;
	int64_t took_us;
	int order; /* when it finished, from *clock */
	int *clock;
};

static void *wait_read(void *arg)
{
	struct waiter *w = arg;
	struct pollfd p = { .fd = w->fd, .events = POLLIN };
	int64_t t0 = mono_now_us();

	w->rc = sched_poll(&w->dl, &p, 1, w->timeout_ms);
	w->took_us = mono_now_us() - t0;
	w->revents = p.revents;
	if (w->rc > 0 && (p.revents & POLLIN) && read(w->fd, &w->got, 1) != 1)
		w->got = '?';
	w->order = (*w->clock)++;
	return NULL;
}

struct writer {
	struct deadline dl;
	int *fds; /* write ends, written last to first */
	size_t n;
};

/* Writes to each descriptor in turn, yielding between writes (a 1 ms
 * timeout with nothing to wait for), so the readers wake in its order. */
static void *write_all(void *arg)
{
	struct writer *w = arg;

	for (size_t i = w->n; i-- > 0;) {
		char c = (char)('a' + i % 26);

		sched_poll(&w->dl, NULL, 0, 1);
		assert_int_equal(write(w->fds[i], &c, 1), 1);
	}
	return NULL;
}

/* 200 fibers each parked on its own socket, woken one by one. */
static void test_many_readers(void **state)
{
	enum { N = 200 };
	struct sched *s = sched_new();
	struct waiter w[N];
	int rd[N], wr[N], clock = 0;
	struct writer wt;

	(void)state;
	assert_non_null(s);
	for (int i = 0; i < N; i++) {
		int sv[2];

		assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
		rd[i] = sv[0];
		wr[i] = sv[1];
		w[i] = (struct waiter){ .fd = rd[i], .timeout_ms = 10000, .clock = &clock };
		deadline_init(&w[i].dl, 10);
		w[i].dl.sched = s;
		assert_int_equal(sched_spawn(s, wait_read, &w[i]), 0);
	}
	wt = (struct writer){ .fds = wr, .n = N };
	deadline_init(&wt.dl, 10);
	wt.dl.sched = s;
	assert_int_equal(sched_spawn(s, write_all, &wt), 0);
	sched_run(s);
	for (int i = 0; i < N; i++) {
		assert_int_equal(w[i].rc, 1);
		assert_true(w[i].revents & POLLIN);
		assert_int_equal(w[i].got, 'a' + i % 26);
		/* written last to first: the last reader woke first */
		assert_int_equal(w[i].order, N - 1 - i);
		close(rd[i]);
		close(wr[i]);
	}
	sched_free(s);
}

/* 100 fibers on sockets that never become readable, 200 ms each: they
 * time out together, not one after the other (20 s). */
static void test_timeouts_at_once(void **state)
{
	enum { N = 100 };
	struct sched *s = sched_new();
	struct waiter w[N];
	int sv[N][2], clock = 0;
	int64_t t0 = mono_now_us(), took;

	(void)state;
	assert_non_null(s);
	for (int i = 0; i < N; i++) {
		assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv[i]), 0);
		w[i] = (struct waiter){ .fd = sv[i][0], .timeout_ms = 200, .clock = &clock };
		deadline_init(&w[i].dl, 10);
		w[i].dl.sched = s;
		assert_int_equal(sched_spawn(s, wait_read, &w[i]), 0);
	}
	sched_run(s);
	took = mono_now_us() - t0;
	for (int i = 0; i < N; i++) {
		assert_int_equal(w[i].rc, 0);
		assert_int_equal(w[i].revents, 0);
		assert_true(w[i].took_us >= 200000);
		close(sv[i][0]);
		close(sv[i][1]);
	}
	assert_true(took < 5000000);
	sched_free(s);
}

/* A peer that closes: POLLIN (end of file) and POLLHUP, as poll() says. */
static void test_hangup(void **state)
{
	struct sched *s = sched_new();
	int sv[2], clock = 0;
	struct waiter w;

	(void)state;
	assert_non_null(s);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	close(sv[1]);
	w = (struct waiter){ .fd = sv[0], .timeout_ms = 5000, .clock = &clock };
	deadline_init(&w.dl, 10);
	w.dl.sched = s;
	assert_int_equal(sched_spawn(s, wait_read, &w), 0);
	sched_run(s);
	assert_int_equal(w.rc, 1);
	assert_true(w.revents & POLLHUP);
	assert_true(w.took_us < 5000000);
	close(sv[0]);
	sched_free(s);
}

/* Without a scheduler sched_poll is poll(), also inside no fiber. */
static void test_plain_poll(void **state)
{
	int sv[2], clock = 0;
	struct waiter w;

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(write(sv[1], "x", 1), 1);
	w = (struct waiter){ .fd = sv[0], .timeout_ms = 5000, .clock = &clock };
	deadline_init(&w.dl, 10);
	wait_read(&w);
	assert_int_equal(w.rc, 1);
	assert_int_equal(w.got, 'x');
	w.timeout_ms = 50;
	wait_read(&w);
	assert_int_equal(w.rc, 0);
	assert_true(w.took_us >= 50000);
	close(sv[0]);
	close(sv[1]);
}

struct sleeper {
	struct deadline dl;
	int ms;
	bool ran;
	pthread_t thread;
};

static void *sleep_job(void *arg)
{
	struct sleeper *z = arg;

	sched_poll(&z->dl, NULL, 0, z->ms);
	z->thread = pthread_self();
	z->ran = true;
	return NULL;
}

struct parent {
	struct deadline dl;
	struct sleeper kids[10];
	int64_t took_us;
};

static void *parent_job(void *arg)
{
	struct parent *p = arg;
	int64_t t0 = mono_now_us();

	for (int i = 0; i < 10; i++) {
		p->kids[i] = (struct sleeper){ .dl = p->dl, .ms = 300 };
	}
	sched_all(p->dl.sched, sleep_job, p->kids, sizeof(p->kids[0]), 10);
	p->took_us = mono_now_us() - t0;
	return NULL;
}

/* sched_all inside a fiber: ten jobs of 300 ms as fibers of the same
 * scheduler, on the same thread, at once; two parents side by side. */
static void test_all_in_fiber(void **state)
{
	struct sched *s = sched_new();
	struct parent p[2];

	(void)state;
	assert_non_null(s);
	for (int k = 0; k < 2; k++) {
		deadline_init(&p[k].dl, 10);
		p[k].dl.sched = s;
		assert_int_equal(sched_spawn(s, parent_job, &p[k]), 0);
	}
	sched_run(s);
	for (int k = 0; k < 2; k++) {
		for (int i = 0; i < 10; i++) {
			assert_true(p[k].kids[i].ran);
			assert_true(pthread_equal(p[k].kids[i].thread, pthread_self()));
		}
		assert_true(p[k].took_us >= 300000);
		assert_true(p[k].took_us < 2900000); /* one after the other: 3 s */
	}
	sched_free(s);
}

/* Without a scheduler, sched_all runs the jobs on threads, at once. */
static void test_all_threads(void **state)
{
	struct sleeper z[5];
	int64_t t0 = mono_now_us(), took;

	(void)state;
	for (int i = 0; i < 5; i++) {
		z[i] = (struct sleeper){ .ms = 300 };
		deadline_init(&z[i].dl, 10);
	}
	sched_all(NULL, sleep_job, z, sizeof(z[0]), 5);
	took = mono_now_us() - t0;
	for (int i = 0; i < 5; i++)
		assert_true(z[i].ran);
	assert_true(took < 1400000); /* one after the other: 1.5 s */
}

/* A fiber's stack takes a check's depth: 96 KiB of frames. */
/* sched_listen/post/serve/stop: a server thread serves its scheduler;
 * four other threads post 50 sleepers of 200 ms each; then the stop.  All
 * 200 run as fibers of the server thread, at once (one after the other
 * would be 40 s), and the serve ends when the last has returned. */
struct server {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct sched *s;
	bool up;
	pthread_t thread;
};

static void *serve_thread(void *arg)
{
	struct server *v = arg;
	struct sched *s = sched_new();

	if (s != NULL && sched_listen(s) < 0) {
		sched_free(s);
		s = NULL;
	}
	pthread_mutex_lock(&v->mu);
	v->s = s;
	v->up = true;
	v->thread = pthread_self();
	pthread_cond_signal(&v->cv);
	pthread_mutex_unlock(&v->mu);
	if (s != NULL) {
		sched_serve(s);
		sched_free(s);
	}
	return NULL;
}

/* until the server thread has said what its scheduler is */
static void wait_up(struct server *v)
{
	pthread_mutex_lock(&v->mu);
	while (!v->up)
		pthread_cond_wait(&v->cv, &v->mu);
	pthread_mutex_unlock(&v->mu);
	assert_non_null(v->s);
}

struct poster {
	struct sched *s;
	struct sleeper z[50];
	int failed;
};

static void *post_all(void *arg)
{
	struct poster *p = arg;

	for (int i = 0; i < 50; i++) {
		deadline_init(&p->z[i].dl, 10);
		p->z[i].dl.sched = p->s;
		p->z[i].ms = 200;
		p->failed += sched_post(p->s, sleep_job, &p->z[i]) != 0;
	}
	return NULL;
}

static void test_serve_posts(void **state)
{
	static struct poster posters[4];
	struct server v = { .mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER };
	pthread_t st, pt[4];
	int64_t t0 = mono_now_us(), took;

	(void)state;
	assert_int_equal(pthread_create(&st, NULL, serve_thread, &v), 0);
	wait_up(&v);
	for (int k = 0; k < 4; k++) {
		memset(&posters[k], 0, sizeof(posters[k]));
		posters[k].s = v.s;
		assert_int_equal(pthread_create(&pt[k], NULL, post_all, &posters[k]), 0);
	}
	for (int k = 0; k < 4; k++)
		pthread_join(pt[k], NULL);
	sched_stop(v.s); /* v.s is the server's from here on */
	pthread_join(st, NULL);
	took = mono_now_us() - t0;
	for (int k = 0; k < 4; k++) {
		assert_int_equal(posters[k].failed, 0);
		for (int i = 0; i < 50; i++) {
			assert_true(posters[k].z[i].ran);
			assert_true(pthread_equal(posters[k].z[i].thread, v.thread));
		}
	}
	assert_true(took >= 200000);
	assert_true(took < 5000000);
}

/* A served scheduler with nothing to do waits (no busy loop: it uses no
 * CPU to speak of in 300 ms) and ends at once on sched_stop. */
static void test_serve_idle(void **state)
{
	struct server v = { .mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER };
	pthread_t st;
	struct timespec c0, c1;
	int64_t t0;

	(void)state;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c0);
	assert_int_equal(pthread_create(&st, NULL, serve_thread, &v), 0);
	wait_up(&v);
	usleep(300000);
	t0 = mono_now_us();
	sched_stop(v.s);
	pthread_join(st, NULL);
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c1);
	assert_true(mono_now_us() - t0 < 1000000);
	assert_true((c1.tv_sec - c0.tv_sec) * 1000000000L + (c1.tv_nsec - c0.tv_nsec) < 100000000L);
}

static unsigned deep(unsigned n)
{
	volatile char pad[1024];

	pad[0] = (char)n;
	pad[1023] = (char)n;
	return n == 0 ? (unsigned)pad[0] : deep(n - 1) + (unsigned char)pad[1023];
}

struct deep_job {
	unsigned got;
};

static void *deep_fiber(void *arg)
{
	struct deep_job *d = arg;

	d->got = deep(96);
	return NULL;
}

static void test_stack_depth(void **state)
{
	struct sched *s = sched_new();
	struct deep_job d = { 0 };

	(void)state;
	assert_non_null(s);
	assert_int_equal(sched_spawn(s, deep_fiber, &d), 0);
	sched_run(s);
	assert_int_equal(d.got, deep(96));
	sched_free(s);
}

/* Fibers that finish and new ones that start, thousands in all: stacks
 * are reused, nothing is left behind (ASan's leak check). */
static void *noop(void *arg)
{
	(*(int *)arg)++;
	return NULL;
}

static void test_churn(void **state)
{
	struct sched *s = sched_new();
	int count = 0;

	(void)state;
	assert_non_null(s);
	for (int round = 0; round < 20; round++) {
		for (int i = 0; i < 200; i++)
			assert_int_equal(sched_spawn(s, noop, &count), 0);
		sched_run(s);
	}
	assert_int_equal(count, 4000);
	sched_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_many_readers), cmocka_unit_test(test_timeouts_at_once),
		cmocka_unit_test(test_hangup),	     cmocka_unit_test(test_plain_poll),
		cmocka_unit_test(test_all_in_fiber), cmocka_unit_test(test_all_threads),
		cmocka_unit_test(test_stack_depth),  cmocka_unit_test(test_churn),
		cmocka_unit_test(test_serve_posts),  cmocka_unit_test(test_serve_idle),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
