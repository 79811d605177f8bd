/* sched.c - see sched.h
 *
 * The switch between stacks: on x86-64 a few instructions of our own (the
 * callee-saved registers, the stack pointer, the FPU control words), which
 * make no system call; elsewhere ucontext's swapcontext().  Under
 * AddressSanitizer every switch is announced to it, so it follows the
 * stacks. */
#include "lib/sched.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#if !defined(__x86_64__) || defined(MTAPROBE_FIBER_UCONTEXT)
#define USE_UCONTEXT 1
#include <ucontext.h>
#endif

#if defined(__SANITIZE_ADDRESS__)
#define USE_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define USE_ASAN 1
#endif
#endif
#ifdef USE_ASAN
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
/* the sanitizer's frames are several times larger */
#define STACK_SIZE (1024 * 1024)
#else
#define STACK_SIZE (256 * 1024)
#endif
#define STACKS_KEPT 64 /* freed stacks kept for the next fibers */

/* Under valgrind, the stacks are declared to it (its client requests are
 * a few no-op instructions otherwise); without its header, nothing is. */
#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#define STACK_REGISTER(lo, hi) VALGRIND_STACK_REGISTER(lo, hi)
#define STACK_DEREGISTER(id)   VALGRIND_STACK_DEREGISTER(id)
#endif
#endif
#ifndef STACK_REGISTER
#define STACK_REGISTER(lo, hi) 0u
#define STACK_DEREGISTER(id)   ((void)(id))
#endif
#define WAIT_MAX 16 /* descriptors one wait may name */
/* an epoll event names the fiber and the descriptor: the index in the low
 * bits of the fiber's address, which malloc aligns to 16 */
_Static_assert(WAIT_MAX <= 16 && _Alignof(max_align_t) >= 16, "epoll data layout");

struct fiber {
	struct sched *s;
	void *(*fn)(void *);
	void *arg;
	char *stack;	   /* mapping: a guard page, then STACK_SIZE */
	unsigned stack_id; /* valgrind's name for it */
#ifdef USE_UCONTEXT
	ucontext_t uc;
#else
	void *sp;
#endif
#ifdef USE_ASAN
	void *fake; /* the sanitizer's fake stack while switched out */
#endif
	/* parked in sched_poll() */
	struct pollfd *pfd;
	nfds_t npfd;
	int ready;	 /* descriptors with events */
	int64_t wake_us; /* INT64_MAX: no timeout */
	size_t heap_i;	 /* index in s->heap, or SIZE_MAX */
	bool queued;	 /* in the run queue */
	bool done;
	struct group *group; /* the sched_all() it belongs to */
	struct fiber *next;  /* run queue, free list */
};

struct group {
	size_t left;
	struct fiber *waiter;
};

struct sched {
	int ep;
	pthread_t owner;   /* the thread it was made on, the only one it serves */
	struct fiber *cur; /* NULL: the scheduler's own stack */
#ifdef USE_UCONTEXT
	ucontext_t main;
#else
	void *main_sp;
#endif
#ifdef USE_ASAN
	void *main_fake;
	const void *main_bottom;
	size_t main_size;
#endif
	struct fiber *runq, *runq_tail;
	struct fiber **heap; /* parked fibers by wake_us */
	size_t nheap, heap_cap;
	size_t live;
	char *stacks[STACKS_KEPT];
	unsigned stack_ids[STACKS_KEPT];
	size_t nstacks;
	/* sched_listen(): work posted by other threads, and their doorbell
	 * (an eventfd on the epoll set, data.u64 0: no fiber is at 0) */
	pthread_mutex_t post_mu;
	struct post *posted, *posted_tail;
	int bell;
	bool stop;
};

struct post {
	void *(*fn)(void *);
	void *arg;
	struct post *next;
};

/* ---- the switch ----------------------------------------------------------- */

#ifndef USE_UCONTEXT
/* mtaprobe_fiber_switch(&save_sp, new_sp): push the callee-saved registers
 * and the FPU control words, store the stack pointer, load the other, pop
 * its registers and return on it.  A new stack starts in
 * mtaprobe_fiber_start with rbx = the fiber, r12 = the entry function. */
void mtaprobe_fiber_switch(void **save, void *to);
void mtaprobe_fiber_start(void);
__asm__(".text\n"
	".globl mtaprobe_fiber_switch\n"
	".hidden mtaprobe_fiber_switch\n"
	".type mtaprobe_fiber_switch,@function\n"
	"mtaprobe_fiber_switch:\n"
	"	pushq %rbp\n"
	"	pushq %rbx\n"
	"	pushq %r12\n"
	"	pushq %r13\n"
	"	pushq %r14\n"
	"	pushq %r15\n"
	"	subq $8, %rsp\n"
	"	stmxcsr (%rsp)\n"
	"	fnstcw 4(%rsp)\n"
	"	movq %rsp, (%rdi)\n"
	"	movq %rsi, %rsp\n"
	"	ldmxcsr (%rsp)\n"
	"	fldcw 4(%rsp)\n"
	"	addq $8, %rsp\n"
	"	popq %r15\n"
	"	popq %r14\n"
	"	popq %r13\n"
	"	popq %r12\n"
	"	popq %rbx\n"
	"	popq %rbp\n"
	"	ret\n"
	".size mtaprobe_fiber_switch,.-mtaprobe_fiber_switch\n"
	".globl mtaprobe_fiber_start\n"
	".hidden mtaprobe_fiber_start\n"
	".type mtaprobe_fiber_start,@function\n"
	"mtaprobe_fiber_start:\n"
	"	movq %rbx, %rdi\n"
	"	callq *%r12\n"
	"	ud2\n"
	".size mtaprobe_fiber_start,.-mtaprobe_fiber_start\n");
#endif

static void fiber_main(struct fiber *f);

#ifdef USE_UCONTEXT
static void uc_entry(unsigned hi, unsigned lo)
{
	fiber_main((struct fiber *)(((uintptr_t)hi << 32) | (uintptr_t)lo));
}

/* (on its own: getcontext() returns twice, nothing here changes after it) */
static __attribute__((noinline)) void uc_prepare(struct fiber *const f)
{
	getcontext(&f->uc);
	f->uc.uc_stack.ss_sp = f->stack + getpagesize();
	f->uc.uc_stack.ss_size = STACK_SIZE;
	f->uc.uc_link = NULL;
	makecontext(&f->uc, (void (*)(void))uc_entry, 2, (unsigned)((uintptr_t)f >> 32),
		    (unsigned)(uintptr_t)f);
}
#endif

/* Switch from the running context (fiber `from`, or the scheduler's own
 * stack when NULL) to `to` (NULL: back to the scheduler).  `from` NULL and
 * `to` NULL never happens; `from` finished: its stack is never resumed. */
static void switch_to(struct sched *s, struct fiber *from, struct fiber *to)
{
#ifdef USE_ASAN
	void **fake = from ? (from->done ? NULL : &from->fake) : &s->main_fake;
	const void *bottom = to ? to->stack + getpagesize() : s->main_bottom;
	size_t size = to ? STACK_SIZE : s->main_size;
	const void *old_bottom;
	size_t old_size;

	__sanitizer_start_switch_fiber(fake, bottom, size);
#endif
	s->cur = to;
#ifdef USE_UCONTEXT
	swapcontext(from ? &from->uc : &s->main, to ? &to->uc : &s->main);
#else
	mtaprobe_fiber_switch(from ? &from->sp : &s->main_sp, to ? to->sp : s->main_sp);
#endif
#ifdef USE_ASAN
	/* back on `from`'s stack */
	__sanitizer_finish_switch_fiber(from ? from->fake : s->main_fake, &old_bottom, &old_size);
#endif
}

/* ---- stacks ----------------------------------------------------------------- */

static char *stack_get(struct sched *s, unsigned *id)
{
	size_t page = (size_t)getpagesize();
	char *m;

	if (s->nstacks > 0) {
		m = s->stacks[--s->nstacks];
		*id = s->stack_ids[s->nstacks];
#ifdef USE_ASAN
		/* the frames of the fiber that had it never returned: their
		 * redzones are still marked in the shadow memory */
		__asan_unpoison_memory_region(m + page, STACK_SIZE);
#endif
		return m;
	}
	m = mmap(NULL, STACK_SIZE + page, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
	if (m == MAP_FAILED)
		return NULL;
	if (mprotect(m, page, PROT_NONE) < 0) { /* the guard below the stack */
		munmap(m, STACK_SIZE + page);
		return NULL;
	}
	*id = STACK_REGISTER(m + page, m + page + STACK_SIZE);
	return m;
}

static void stack_drop(char *m, unsigned id)
{
	STACK_DEREGISTER(id);
	munmap(m, STACK_SIZE + (size_t)getpagesize());
}

static void stack_put(struct sched *s, char *m, unsigned id)
{
	if (s->nstacks < STACKS_KEPT) {
		s->stack_ids[s->nstacks] = id;
		s->stacks[s->nstacks++] = m;
	} else {
		stack_drop(m, id);
	}
}

/* ---- the timer heap ----------------------------------------------------------- */

static void heap_swap(struct sched *s, size_t a, size_t b)
{
	struct fiber *t = s->heap[a];

	s->heap[a] = s->heap[b];
	s->heap[b] = t;
	s->heap[a]->heap_i = a;
	s->heap[b]->heap_i = b;
}

static void heap_up(struct sched *s, size_t i)
{
	while (i > 0 && s->heap[(i - 1) / 2]->wake_us > s->heap[i]->wake_us) {
		heap_swap(s, i, (i - 1) / 2);
		i = (i - 1) / 2;
	}
}

static void heap_down(struct sched *s, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;

		if (l < s->nheap && s->heap[l]->wake_us < s->heap[m]->wake_us)
			m = l;
		if (r < s->nheap && s->heap[r]->wake_us < s->heap[m]->wake_us)
			m = r;
		if (m == i)
			return;
		heap_swap(s, i, m);
		i = m;
	}
}

static int heap_push(struct sched *s, struct fiber *f)
{
	if (s->nheap == s->heap_cap) {
		size_t cap = s->heap_cap ? 2 * s->heap_cap : 64;
		struct fiber **h = realloc(s->heap, cap * sizeof(*h));

		if (h == NULL)
			return -1;
		s->heap = h;
		s->heap_cap = cap;
	}
	f->heap_i = s->nheap;
	s->heap[s->nheap++] = f;
	heap_up(s, f->heap_i);
	return 0;
}

static void heap_remove(struct sched *s, struct fiber *f)
{
	size_t i = f->heap_i;

	if (i == SIZE_MAX)
		return;
	f->heap_i = SIZE_MAX;
	if (i != --s->nheap) {
		s->heap[i] = s->heap[s->nheap];
		s->heap[i]->heap_i = i;
		heap_down(s, i);
		heap_up(s, i);
	}
}

/* ---- fibers --------------------------------------------------------------------- */

static void make_ready(struct sched *s, struct fiber *f)
{
	if (f->queued)
		return;
	f->queued = true;
	f->next = NULL;
	if (s->runq_tail)
		s->runq_tail->next = f;
	else
		s->runq = f;
	s->runq_tail = f;
}

static void fiber_main(struct fiber *f)
{
	struct sched *s = f->s;

#ifdef USE_ASAN
	__sanitizer_finish_switch_fiber(NULL, &s->main_bottom, &s->main_size);
#endif
	f->fn(f->arg);
	f->done = true;
	if (f->group && --f->group->left == 0 && f->group->waiter)
		make_ready(s, f->group->waiter);
	switch_to(s, f, NULL); /* never comes back */
	abort();
}

struct sched *sched_new(void)
{
	struct sched *s = calloc(1, sizeof(*s));

	if (s == NULL)
		return NULL;
	s->owner = pthread_self();
	s->bell = -1;
	s->ep = epoll_create1(EPOLL_CLOEXEC);
	if (s->ep < 0) {
		free(s);
		return NULL;
	}
	pthread_mutex_init(&s->post_mu, NULL);
	return s;
}

void sched_free(struct sched *s)
{
	if (s == NULL)
		return;
	while (s->nstacks > 0) {
		s->nstacks--;
		stack_drop(s->stacks[s->nstacks], s->stack_ids[s->nstacks]);
	}
	close(s->ep);
	if (s->bell >= 0)
		close(s->bell);
	while (s->posted) {
		struct post *p = s->posted;

		s->posted = p->next;
		free(p);
	}
	pthread_mutex_destroy(&s->post_mu);
	free(s->heap);
	free(s);
}

static struct fiber *spawn(struct sched *s, void *(*fn)(void *), void *arg, struct group *g)
{
	struct fiber *f = calloc(1, sizeof(*f));

	if (f == NULL)
		return NULL;
	f->stack = stack_get(s, &f->stack_id);
	if (f->stack == NULL) {
		free(f);
		return NULL;
	}
	f->s = s;
	f->fn = fn;
	f->arg = arg;
	f->group = g;
	f->heap_i = SIZE_MAX;
#ifdef USE_UCONTEXT
	uc_prepare(f);
#else
	{
		/* the frame mtaprobe_fiber_switch pops: control words, r15, r14,
		 * r13, r12 (entry), rbx (fiber), rbp, return address; 16-aligned
		 * at the call in mtaprobe_fiber_start */
		uint64_t *top = (uint64_t *)(f->stack + getpagesize() + STACK_SIZE);
		uint64_t *sp = top - 8;
		uint32_t mxcsr = 0x1f80;
		uint16_t fpucw = 0x037f;

		memset(sp, 0, 8 * sizeof(*sp));
		memcpy(&sp[0], &mxcsr, sizeof(mxcsr));
		memcpy((char *)&sp[0] + 4, &fpucw, sizeof(fpucw));
		sp[4] = (uint64_t)(uintptr_t)fiber_main; /* r12 */
		sp[5] = (uint64_t)(uintptr_t)f;		 /* rbx */
		sp[7] = (uint64_t)(uintptr_t)mtaprobe_fiber_start;
		f->sp = sp;
	}
#endif
	s->live++;
	make_ready(s, f);
	return f;
}

int sched_spawn(struct sched *s, void *(*fn)(void *), void *arg)
{
	return spawn(s, fn, arg, NULL) ? 0 : -1;
}

static void reap(struct sched *s, struct fiber *f)
{
	stack_put(s, f->stack, f->stack_id);
	free(f);
	s->live--;
}

static uint32_t to_epoll(short ev)
{
	return (ev & POLLIN ? EPOLLIN : 0) | (ev & POLLOUT ? EPOLLOUT : 0) |
	       (ev & POLLPRI ? EPOLLPRI : 0);
}

static short from_epoll(uint32_t ev)
{
	return (short)((ev & EPOLLIN ? POLLIN : 0) | (ev & EPOLLOUT ? POLLOUT : 0) |
		       (ev & EPOLLPRI ? POLLPRI : 0) | (ev & EPOLLERR ? POLLERR : 0) |
		       (ev & EPOLLHUP ? POLLHUP : 0));
}

/* What other threads posted since the last ring: a fiber each (run here,
 * off any fiber, when no stack can be had: slower, never lost). */
static void take_posts(struct sched *s)
{
	struct post *p;
	uint64_t rang;
	ssize_t r = read(s->bell, &rang, sizeof(rang)); /* EAGAIN: rung and read already */

	(void)r;
	pthread_mutex_lock(&s->post_mu);
	p = s->posted;
	s->posted = s->posted_tail = NULL;
	pthread_mutex_unlock(&s->post_mu);
	while (p) {
		struct post *next = p->next;

		if (spawn(s, p->fn, p->arg, NULL) == NULL)
			p->fn(p->arg);
		free(p);
		p = next;
	}
}

static bool serving(struct sched *s)
{
	bool stop;

	pthread_mutex_lock(&s->post_mu);
	stop = s->stop && s->posted == NULL;
	pthread_mutex_unlock(&s->post_mu);
	return !stop;
}

/* Run the queue empty, then wait for events or the first timeout, until
 * no fiber is left (and, serving, until sched_stop() too). */
static void run_loop(struct sched *s, bool serve)
{
	struct epoll_event evs[256];

	while (s->live > 0 || (serve && serving(s))) {
		while (s->runq) {
			struct fiber *f = s->runq;

			s->runq = f->next;
			if (s->runq == NULL)
				s->runq_tail = NULL;
			f->queued = false;
			switch_to(s, NULL, f);
			if (f->done)
				reap(s, f);
		}
		if (s->live == 0 && !(serve && serving(s)))
			break;
		{
			int timeout = -1, n;

			if (s->nheap > 0) {
				int64_t left = s->heap[0]->wake_us - mono_now_us();

				timeout = left <= 0		   ? 0
					  : left / 1000 > 86400000 ? 86400000
								   : (int)((left + 999) / 1000);
			}
			n = epoll_wait(s->ep, evs, (int)(sizeof(evs) / sizeof(evs[0])), timeout);
			for (int i = 0; i < n; i++) {
				struct fiber *f = (struct fiber *)(uintptr_t)(evs[i].data.u64 &
									      ~(uint64_t)15);
				unsigned k = (unsigned)(evs[i].data.u64 & 15);

				if (f == NULL) {
					take_posts(s);
					continue;
				}
				if (k < f->npfd) {
					if (f->pfd[k].revents == 0)
						f->ready++;
					f->pfd[k].revents |= from_epoll(evs[i].events);
				}
				heap_remove(s, f);
				make_ready(s, f);
			}
			if (s->nheap > 0) {
				int64_t now = mono_now_us();

				while (s->nheap > 0 && s->heap[0]->wake_us <= now) {
					struct fiber *f = s->heap[0];

					heap_remove(s, f);
					make_ready(s, f);
				}
			}
		}
	}
}

void sched_run(struct sched *s)
{
	run_loop(s, false);
}

int sched_listen(struct sched *s)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = 0 };

	s->bell = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (s->bell < 0)
		return -1;
	if (epoll_ctl(s->ep, EPOLL_CTL_ADD, s->bell, &ev) < 0) {
		close(s->bell);
		s->bell = -1;
		return -1;
	}
	return 0;
}

static void ring(struct sched *s)
{
	uint64_t one = 1;
	/* EAGAIN: the counter is full of rings not yet heard, which is a ring */
	ssize_t w = write(s->bell, &one, sizeof(one));

	(void)w;
}

int sched_post(struct sched *s, void *(*fn)(void *), void *arg)
{
	struct post *p = malloc(sizeof(*p));

	if (p == NULL)
		return -1;
	*p = (struct post){ fn, arg, NULL };
	pthread_mutex_lock(&s->post_mu);
	if (s->posted_tail)
		s->posted_tail->next = p;
	else
		s->posted = p;
	s->posted_tail = p;
	ring(s);
	pthread_mutex_unlock(&s->post_mu);
	return 0;
}

void sched_serve(struct sched *s)
{
	run_loop(s, true);
}

void sched_stop(struct sched *s)
{
	pthread_mutex_lock(&s->post_mu);
	s->stop = true;
	ring(s); /* under the lock: s may be gone once serving() sees the stop */
	pthread_mutex_unlock(&s->post_mu);
}

/* One round: the descriptors on the epoll set, parked until an event or
 * wake_us.  Those epoll refuses (out of memory for its watches) are polled
 * without waiting, the fiber then waking every 10 ms to poll them again
 * (*retry set), so a refused watch costs a little CPU, never a false
 * timeout.  The number of ready descriptors. */
static int poll_round(struct sched *s, struct fiber *f, struct pollfd *pfd, nfds_t n,
		      int64_t wake_us, bool *retry)
{
	unsigned added = 0; /* bit i: pfd[i] is on the epoll set */
	int ready = 0;

	*retry = false;
	for (nfds_t i = 0; i < n; i++) {
		struct epoll_event ev = { .events = to_epoll(pfd[i].events),
					  .data.u64 = (uint64_t)(uintptr_t)f | i };

		pfd[i].revents = 0;
		if (pfd[i].fd < 0)
			continue;
		if (epoll_ctl(s->ep, EPOLL_CTL_ADD, pfd[i].fd, &ev) == 0) {
			added |= 1u << i;
			continue;
		}
		*retry = true;
		if (poll(&pfd[i], 1, 0) > 0)
			ready++;
	}
	f->pfd = pfd;
	f->npfd = n;
	f->ready = 0;
	if (ready == 0) {
		int64_t soon = mono_now_us() + 10000;

		f->wake_us = *retry && soon < wake_us ? soon : wake_us;
		if (f->wake_us != INT64_MAX && heap_push(s, f) < 0)
			f->wake_us = *retry ? mono_now_us() : INT64_MAX; /* no memory */
		if (f->wake_us != INT64_MAX || added != 0)
			switch_to(s, f, NULL);
		heap_remove(s, f);
	}
	for (nfds_t i = 0; i < n; i++)
		if (added & (1u << i))
			epoll_ctl(s->ep, EPOLL_CTL_DEL, pfd[i].fd, NULL);
	f->pfd = NULL;
	f->npfd = 0;
	return ready + f->ready;
}

int sched_poll(const struct deadline *dl, struct pollfd *pfd, nfds_t n, int timeout_ms)
{
	struct sched *s = dl ? dl->sched : NULL;
	int64_t end;
	bool retry;
	int ready;

	if (s == NULL || s->cur == NULL || !pthread_equal(s->owner, pthread_self()) ||
	    n > WAIT_MAX || timeout_ms == 0)
		return poll(pfd, n, timeout_ms);
	end = timeout_ms < 0 ? INT64_MAX : mono_now_us() + (int64_t)timeout_ms * 1000;
	do
		ready = poll_round(s, s->cur, pfd, n, end, &retry);
	while (ready == 0 && retry && mono_now_us() < end);
	return ready;
}

/* ---- many at once ---------------------------------------------------------------- */

void sched_all(struct sched *s, void *(*fn)(void *), void *jobs, size_t stride, size_t n)
{
	char *base = jobs;

	if (n == 0)
		return;
	if (s != NULL && s->cur != NULL && pthread_equal(s->owner, pthread_self())) {
		struct group g = { 0, NULL };

		for (size_t i = 0; i + 1 < n; i++) {
			g.left++;
			if (spawn(s, fn, base + i * stride, &g) == NULL) {
				g.left--;
				fn(base + i * stride); /* no stack: here, in turn */
			}
		}
		fn(base + (n - 1) * stride);
		while (g.left > 0) {
			g.waiter = s->cur;
			switch_to(s, g.waiter, NULL);
		}
		return;
	}
	{
		pthread_t tid[64];
		bool started[64] = { false };

		for (size_t i = 0; i < n; i++)
			if (i + 1 == n || i >= 64 ||
			    pthread_create(&tid[i], NULL, fn, base + i * stride) != 0)
				fn(base + i * stride);
			else
				started[i] = true;
		for (size_t i = 0; i < n && i < 64; i++)
			if (started[i])
				pthread_join(tid[i], NULL);
	}
}
