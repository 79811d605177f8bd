/* sched.h - many checks on one thread: fibers over one epoll set.
 *
 * The checks are written as straight-line code that waits with poll() under
 * a deadline.  A scheduler runs many of them on one thread: each check is a
 * fiber with its own small stack, and where it would poll, it is parked on
 * the scheduler's epoll set instead and another fiber runs.  The deadlines
 * are the checks' own, so a silent server costs one parked fiber, not a
 * thread, and thousands can be in flight at once.
 *
 * A deadline names the scheduler its check runs on (dl->sched); NULL is the
 * plain case of the plugins: sched_poll() is poll(), and sched_all() runs
 * the jobs on threads of their own as before.
 *
 * A scheduler and its fibers belong to one thread.  Nothing here is global:
 * the current fiber is the scheduler's. */
#ifndef MTAPROBE_SCHED_H
#define MTAPROBE_SCHED_H

#include <poll.h>
#include <stddef.h>

#include "lib/deadline.h"

struct sched;

/* A scheduler for the calling thread; NULL when out of memory or epoll
 * cannot be had. */
struct sched *sched_new(void);
void sched_free(struct sched *s);

/* Start fn(arg) as a fiber of s; it runs at the next sched_run() or wait.
 * 0, or -1 when no stack could be had. */
int sched_spawn(struct sched *s, void *(*fn)(void *), void *arg);

/* Run every fiber of s until all have returned. */
void sched_run(struct sched *s);

/* A scheduler that other threads give work to (the exporter's probes):
 * sched_listen() on its own thread makes s take sched_post()s, from any
 * thread, each fn(arg) a new fiber of s; sched_serve() then runs s until
 * sched_stop() (any thread) and every fiber has returned, work posted
 * before the stop included.  sched_listen and sched_post: 0, or -1 when
 * out of memory (or no eventfd). */
int sched_listen(struct sched *s);
int sched_post(struct sched *s, void *(*fn)(void *), void *arg);
void sched_serve(struct sched *s);
void sched_stop(struct sched *s);

/* poll(pfd, n, timeout_ms) as seen by the check under dl: on dl->sched the
 * calling fiber is parked until one of the descriptors is ready or the
 * timeout passes (timeout_ms < 0: no timeout), with revents filled in as
 * poll() would.  The number of ready descriptors, 0 on timeout, -1 with
 * errno. */
int sched_poll(const struct deadline *dl, struct pollfd *pfd, nfds_t n, int timeout_ms);

/* fn on each of n jobs (job i at (char *)jobs + i * stride) at once, and
 * return when all have: as fibers of s, the last on the calling fiber, or
 * with s NULL on a thread each (one after the other when no thread can be
 * had). */
void sched_all(struct sched *s, void *(*fn)(void *), void *jobs, size_t stride, size_t n);

#endif
