/* Free-running and injected media clocks. */
#include "ptp/mclock.h"
#include "common/log.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/timex.h>

/* TAI - UTC since 2017-01-01; used only when the kernel does not know it. */
#define TAI_UTC_OFFSET_S 37

struct mclock {
	clockid_t base;
	int64_t offset_ns;
	mclock_now_fn now_fn;
	mclock_sleep_fn sleep_fn;
	void *ctx;
	struct mclock_status status;
};

static uint64_t read_clock(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * NSEC_PER_SEC + (uint64_t)ts.tv_nsec;
}

struct mclock *mclock_new_free_run(void)
{
	struct mclock *mc = calloc(1, sizeof(*mc));
	struct timex tx = {0};

	if (!mc)
		return NULL;
	if (adjtimex(&tx) >= 0 && tx.tai > 0) {
		mc->base = CLOCK_TAI;
		mc->offset_ns = 0;
	} else {
		mc->base = CLOCK_REALTIME;
		mc->offset_ns = (int64_t)TAI_UTC_OFFSET_S * 1000000000;
		log_info("media clock: kernel TAI offset unset, using "
			 "CLOCK_REALTIME + %d s",
			 TAI_UTC_OFFSET_S);
	}
	mc->status.state = MCLOCK_FREE_RUN;
	mc->status.domain = -1;
	mc->status.base = mc->base;
	mc->status.offset_ns = mc->offset_ns;
	return mc;
}

struct mclock *mclock_new_injected(mclock_now_fn now,
				   mclock_sleep_fn sleep_until, void *ctx)
{
	struct mclock *mc = calloc(1, sizeof(*mc));

	if (!mc)
		return NULL;
	mc->now_fn = now;
	mc->sleep_fn = sleep_until;
	mc->ctx = ctx;
	mc->status.state = MCLOCK_FREE_RUN;
	mc->status.domain = -1;
	mc->status.base = -1;
	return mc;
}

void mclock_destroy(struct mclock *mc)
{
	free(mc);
}

uint64_t mclock_now_ns(const struct mclock *mc)
{
	if (mc->now_fn)
		return mc->now_fn(mc->ctx);
	return read_clock(mc->base) + (uint64_t)mc->offset_ns;
}

void mclock_sleep_until(const struct mclock *mc, uint64_t ptp_ns)
{
	struct timespec ts;
	uint64_t local;

	if (mc->now_fn) {
		if (mc->sleep_fn)
			mc->sleep_fn(mc->ctx, ptp_ns);
		return;
	}
	local = ptp_ns - (uint64_t)mc->offset_ns;
	ts.tv_sec = (time_t)(local / NSEC_PER_SEC);
	ts.tv_nsec = (long)(local % NSEC_PER_SEC);
	while (clock_nanosleep(mc->base, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

void mclock_get_status(const struct mclock *mc, struct mclock_status *st)
{
	*st = mc->status;
}

const char *mclock_state_name(enum mclock_state state)
{
	switch (state) {
	case MCLOCK_FREE_RUN:
		return "free-run";
	case MCLOCK_UNLOCKED:
		return "unlocked";
	case MCLOCK_LOCKING:
		return "locking";
	case MCLOCK_LOCKED:
		return "locked";
	case MCLOCK_HOLDOVER:
		return "holdover";
	}
	return "?";
}
