/* The media clock: PTP time (TAI, ns) as the node sees it, its lock state and
 * grandmaster. Today it free-runs on the system clock; the PTP issue adds
 * ptp4l-driven modes behind the same calls. */
#ifndef D4_PTP_MCLOCK_H
#define D4_PTP_MCLOCK_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#define NSEC_PER_SEC 1000000000ull

enum mclock_state {
	MCLOCK_FREE_RUN,
	MCLOCK_UNLOCKED,
	MCLOCK_LOCKING,
	MCLOCK_LOCKED,
	MCLOCK_HOLDOVER,
};

struct mclock_status {
	enum mclock_state state;
	bool gm_valid;	   /* false while free-running */
	uint8_t gm_id[8];  /* grandmaster clock identity (EUI-64) */
	int domain;	   /* PTP domain, -1 when none */
	clockid_t base;	   /* system clock read underneath */
	int64_t offset_ns; /* PTP time minus base clock */
};

struct mclock;

/* Free-run from CLOCK_TAI; when the kernel's TAI offset is unset, from
 * CLOCK_REALTIME plus the current TAI-UTC offset (37 s). Never NULL unless
 * out of memory. */
struct mclock *mclock_new_free_run(void);

/* A clock driven by the caller, for tests: @now returns PTP ns, @sleep_until
 * (may be NULL: return at once) waits until a PTP time. */
typedef uint64_t (*mclock_now_fn)(void *ctx);
typedef void (*mclock_sleep_fn)(void *ctx, uint64_t ptp_ns);
struct mclock *mclock_new_injected(mclock_now_fn now,
				   mclock_sleep_fn sleep_until, void *ctx);

void mclock_destroy(struct mclock *mc);

/* PTP time now, in ns since the PTP epoch. RT-safe. */
uint64_t mclock_now_ns(const struct mclock *mc);

/* Sleep until PTP time @ptp_ns with an absolute clock_nanosleep; returns at
 * once when it has passed. RT-safe (it only sleeps). */
void mclock_sleep_until(const struct mclock *mc, uint64_t ptp_ns);

void mclock_get_status(const struct mclock *mc, struct mclock_status *st);
const char *mclock_state_name(enum mclock_state state);

/* Sample count at @rate of PTP time @ns, rounded down (no overflow for any
 * 64-bit time). */
static inline uint64_t mclock_ns_to_samples(uint64_t ns, uint32_t rate)
{
	return ns / NSEC_PER_SEC * rate +
	       ns % NSEC_PER_SEC * rate / NSEC_PER_SEC;
}

/* PTP time of sample @samples at @rate, rounded up: the first ns at which
 * that sample is due. */
static inline uint64_t mclock_samples_to_ns(uint64_t samples, uint32_t rate)
{
	return samples / rate * NSEC_PER_SEC +
	       (samples % rate * NSEC_PER_SEC + rate - 1) / rate;
}

#endif
