/* deadline.h - one absolute CLOCK_MONOTONIC deadline per check.
 *
 * A deadline never restarts: a server dripping a byte a second cannot keep a
 * check alive past -t.  Values are plain structs, passed by pointer. */
#ifndef MTAPROBE_DEADLINE_H
#define MTAPROBE_DEADLINE_H

#include <stdint.h>

struct sched;

struct deadline {
	int64_t start_us;    /* monotonic time the check started */
	int64_t at_us;	     /* monotonic time it must end */
	struct sched *sched; /* the scheduler the check runs on (lib/sched.h), or NULL */
};

/* Monotonic clock in microseconds. */
int64_t mono_now_us(void);

/* A deadline `seconds` from now (seconds <= 0 means already expired). */
void deadline_init(struct deadline *d, double seconds);

/* Milliseconds left, rounded up, 0 once expired; suitable for poll(). */
int deadline_left_ms(const struct deadline *d);

/* Seconds elapsed since deadline_init(). */
double deadline_elapsed(const struct deadline *d);

/* Seconds between two monotonic timestamps. */
static inline double us_to_s(int64_t us)
{
	return (double)us / 1e6;
}

#endif
