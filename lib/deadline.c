/* deadline.c - see deadline.h */
#include "lib/deadline.h"

#include <limits.h>
#include <time.h>

int64_t mono_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void deadline_init(struct deadline *d, double seconds)
{
	d->start_us = mono_now_us();
	d->sched = NULL;
	/* past a year is forever here, and (int64_t) of a huge double is UB */
	if (!(seconds > 0))
		seconds = 0;
	else if (seconds > 31536000)
		seconds = 31536000;
	d->at_us = d->start_us + (int64_t)(seconds * 1e6);
}

int deadline_left_ms(const struct deadline *d)
{
	int64_t left = d->at_us - mono_now_us(), ms;

	if (left <= 0)
		return 0;
	ms = (left + 999) / 1000;
	return ms > INT_MAX ? INT_MAX : (int)ms;
}

double deadline_elapsed(const struct deadline *d)
{
	return us_to_s(mono_now_us() - d->start_us);
}
