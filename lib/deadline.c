/* deadline.c - see deadline.h */
#include "lib/deadline.h"

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
	d->at_us = d->start_us + (seconds > 0 ? (int64_t)(seconds * 1e6) : 0);
}

int deadline_left_ms(const struct deadline *d)
{
	int64_t left = d->at_us - mono_now_us();

	if (left <= 0)
		return 0;
	if (left > (int64_t)1 << 30)
		return 1 << 30;
	return (int)((left + 999) / 1000);
}

double deadline_elapsed(const struct deadline *d)
{
	return us_to_s(mono_now_us() - d->start_us);
}
