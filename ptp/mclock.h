/* The media clock: PTP time (TAI, ns) as the node sees it, its lock state and
 * grandmaster. Today it free-runs on the system clock; the PTP issue adds
 * ptp4l-driven modes behind the same calls. */
#ifndef D4_PTP_MCLOCK_H
#define D4_PTP_MCLOCK_H

#include <stdbool.h>
#include <stddef.h>
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
	bool is_gm;	   /* this node's ptp4l is the grandmaster */
	int port_state;	   /* ptp4l's port state (enum ptp_port_state) */
	int64_t offset_ns; /* ptp4l's last master offset */
	bool ptp_reachable;
	clockid_t base; /* system clock read underneath */
};

struct mclock;

enum mclock_mode {
	MCLOCK_MODE_FREE_RUN, /* no PTP: TAI from the system clock */
	MCLOCK_MODE_SYSTEM,   /* ptp4l steers CLOCK_REALTIME */
	MCLOCK_MODE_PHC,      /* ptp4l steers a PHC (/dev/ptpN), read here */
	MCLOCK_MODE_FOLLOW,   /* ptp4l measures only; we apply its offset */
};

/* Free-run from CLOCK_TAI; when the kernel's TAI offset is unset, from
 * CLOCK_REALTIME plus the current TAI-UTC offset (37 s). Never NULL unless
 * out of memory. */
struct mclock *mclock_new_free_run(void);

/* A clock that PTP will drive (ptp/sync.h): MCLOCK_MODE_SYSTEM and
 * MCLOCK_MODE_FOLLOW read CLOCK_REALTIME; MCLOCK_MODE_PHC opens @phc_dev.
 * Until the first estimate it reads like free-run. NULL with @err set. */
struct mclock *mclock_new_ptp(enum mclock_mode mode, const char *phc_dev,
			      char *err, size_t err_len);

/* Control side: from now on PTP(L) = L + off_ns + drift * (L - ref_ns) for
 * a base-clock reading L. A change of more than @step_ns at the current
 * time counts as a step: mclock_generation moves and true is returned,
 * with the change in *@jump_ns (if not NULL) for the caller to log, so
 * every step the media thread acts on is one the log shows. Never blocks
 * the media thread: readers retry on a sequence counter. */
bool mclock_set_estimate(struct mclock *mc, int64_t off_ns, uint64_t ref_ns,
			 double drift, int64_t step_ns, int64_t *jump_ns);
void mclock_set_status(struct mclock *mc, const struct mclock_status *st);
/* The base clock now (what ptp4l's offsets are measured against). */
uint64_t mclock_base_now(const struct mclock *mc);
enum mclock_mode mclock_mode(const struct mclock *mc);
const char *mclock_mode_name(enum mclock_mode mode);

/* True while the timescale is settled: always when free-running; with PTP
 * from the first lock until the lock is lost for good. Absolute start
 * times (a file's, a recording's) wait for it. RT-safe. */
bool mclock_timescale_ok(const struct mclock *mc);
void mclock_set_timescale_ok(struct mclock *mc, bool ok);
/* Whether the media clock is on the timescale it will keep: at once when
 * free-running; with ptp4l, once it answered (system and PHC clocks: its
 * timescale is known) or, following it, at its first measurement (the
 * first estimate moves the clock onto PTP time). Before that, positions
 * are provisional: the first lock times every stream anew. Never goes
 * back: later steps (a grandmaster on another timescale) are changes of
 * a known clock. */
bool mclock_timescale_known(const struct mclock *mc);
void mclock_set_timescale_known(struct mclock *mc);

/* Counts steps of the timescale; the media thread resynchronises flows and
 * subscriptions when it moves. RT-safe. */
unsigned int mclock_generation(const struct mclock *mc);

/* A clock driven by the caller, for tests: @now returns PTP ns, @sleep_until
 * (may be NULL: return at once) waits until a PTP time. */
typedef uint64_t (*mclock_now_fn)(void *ctx);
typedef void (*mclock_sleep_fn)(void *ctx, uint64_t ptp_ns);
struct mclock *mclock_new_injected(mclock_now_fn now,
				   mclock_sleep_fn sleep_until, void *ctx);

void mclock_destroy(struct mclock *mc);

/* PTP time now, in ns since the PTP epoch. RT-safe. */
uint64_t mclock_now_ns(const struct mclock *mc);

/* PTP time at base clock reading @base_ns (mclock_base_now's clock), by
 * the current estimate. RT-safe. */
uint64_t mclock_at(const struct mclock *mc, uint64_t base_ns);

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
