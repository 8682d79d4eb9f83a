/* The media clock. PTP(L) = L + off + drift * (L - ref) over a base clock
 * L (CLOCK_TAI, CLOCK_REALTIME or a PHC). The control thread writes the
 * estimate under a sequence counter; the media thread reads it without
 * waiting (it retries only if a write overlapped its read). */
#include "ptp/mclock.h"
#include "common/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* TAI - UTC since 2017-01-01; used only when the kernel does not know it. */
#define TAI_UTC_OFFSET_S 37
/* The kernel's encoding of a dynamic (PHC) clock id. */
#define FD_TO_CLOCKID(fd) ((clockid_t)((((unsigned int)~(fd)) << 3) | 3))

struct estimate {
	int64_t off_ns;
	uint64_t ref_ns;
	double drift;
};

struct mclock {
	enum mclock_mode mode;
	clockid_t base;
	int phc_fd;
	mclock_now_fn now_fn;
	mclock_sleep_fn sleep_fn;
	void *ctx;

	_Atomic unsigned int seq; /* odd while the control side writes */
	struct estimate est;
	_Atomic unsigned int generation;
	_Atomic bool timescale_ok;
	_Atomic bool timescale_known;
	struct mclock_status status; /* control side only */
};

static uint64_t read_clock(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * NSEC_PER_SEC + (uint64_t)ts.tv_nsec;
}

/* The kernel's TAI - UTC offset in seconds, 0 when it has none: read
 * from the two clocks, not adjtimex(2), which systemd's ProtectClock=
 * (the d4node unit) forbids even for reading (a new user's review of the
 * unit). */
static int64_t kernel_tai_s(void)
{
	uint64_t utc = read_clock(CLOCK_REALTIME);
	uint64_t tai = read_clock(CLOCK_TAI);

	return tai > utc ? (int64_t)((tai - utc + NSEC_PER_SEC / 2) /
				     NSEC_PER_SEC)
			 : 0;
}

static void free_run_base(struct mclock *mc)
{
	if (kernel_tai_s() > 0) {
		mc->base = CLOCK_TAI;
		mc->est.off_ns = 0;
	} else {
		mc->base = CLOCK_REALTIME;
		mc->est.off_ns = (int64_t)TAI_UTC_OFFSET_S * 1000000000;
	}
}

struct mclock *mclock_new_free_run(void)
{
	struct mclock *mc = calloc(1, sizeof(*mc));

	if (!mc)
		return NULL;
	mc->mode = MCLOCK_MODE_FREE_RUN;
	mc->phc_fd = -1;
	atomic_store(&mc->timescale_ok, true);
	atomic_store(&mc->timescale_known, true);
	free_run_base(mc);
	if (mc->base == CLOCK_REALTIME)
		log_info("media clock: kernel TAI offset unset, using "
			 "CLOCK_REALTIME + %d s",
			 TAI_UTC_OFFSET_S);
	mc->status.state = MCLOCK_FREE_RUN;
	mc->status.domain = -1;
	mc->status.base = mc->base;
	return mc;
}

struct mclock *mclock_new_ptp(enum mclock_mode mode, const char *phc_dev,
			      char *err, size_t err_len)
{
	struct mclock *mc = calloc(1, sizeof(*mc));

	if (!mc) {
		snprintf(err, err_len, "out of memory");
		return NULL;
	}
	mc->mode = mode;
	mc->phc_fd = -1;
	mc->base = CLOCK_REALTIME;
	if (mode == MCLOCK_MODE_PHC) {
		struct timespec ts;

		mc->phc_fd = open(phc_dev, O_RDONLY | O_CLOEXEC);
		if (mc->phc_fd < 0) {
			snprintf(err, err_len, "PHC '%s': %s", phc_dev,
				 strerror(errno));
			free(mc);
			return NULL;
		}
		mc->base = FD_TO_CLOCKID(mc->phc_fd);
		if (clock_gettime(mc->base, &ts) < 0) {
			snprintf(err, err_len, "PHC '%s' cannot be read: %s",
				 phc_dev, strerror(errno));
			close(mc->phc_fd);
			free(mc);
			return NULL;
		}
		/* A PHC steered by ptp4l runs on the PTP timescale. */
		mc->est.off_ns = 0;
	} else {
		/* Until ptp4l says otherwise, read as free-run would. */
		int64_t tai = kernel_tai_s();

		mc->est.off_ns = tai > 0 ? tai * 1000000000
					 : (int64_t)TAI_UTC_OFFSET_S * 1000000000;
	}
	mc->status.state = MCLOCK_UNLOCKED;
	mc->status.domain = -1;
	mc->status.base = mc->base;
	return mc;
}

struct mclock *mclock_new_injected(mclock_now_fn now,
				   mclock_sleep_fn sleep_until, void *ctx)
{
	struct mclock *mc = calloc(1, sizeof(*mc));

	if (!mc)
		return NULL;
	mc->mode = MCLOCK_MODE_FREE_RUN;
	mc->phc_fd = -1;
	mc->now_fn = now;
	mc->sleep_fn = sleep_until;
	atomic_store(&mc->timescale_ok, true);
	atomic_store(&mc->timescale_known, true);
	mc->ctx = ctx;
	mc->status.state = MCLOCK_FREE_RUN;
	mc->status.domain = -1;
	mc->status.base = -1;
	return mc;
}

void mclock_destroy(struct mclock *mc)
{
	if (!mc)
		return;
	if (mc->phc_fd >= 0)
		close(mc->phc_fd);
	free(mc);
}

static struct estimate load_estimate(const struct mclock *mc)
{
	struct mclock *m = (struct mclock *)mc;
	struct estimate e;
	unsigned int s1, s2;

	do {
		s1 = atomic_load_explicit(&m->seq, memory_order_acquire);
		e = m->est;
		atomic_thread_fence(memory_order_acquire);
		s2 = atomic_load_explicit(&m->seq, memory_order_relaxed);
	} while ((s1 & 1) || s1 != s2);
	return e;
}

static uint64_t apply(const struct estimate *e, uint64_t local)
{
	double dt = (double)(int64_t)(local - e->ref_ns);

	return local + (uint64_t)e->off_ns + (uint64_t)(int64_t)(e->drift * dt);
}

uint64_t mclock_base_now(const struct mclock *mc)
{
	return read_clock(mc->base);
}

uint64_t mclock_now_ns(const struct mclock *mc)
{
	struct estimate e;

	if (mc->now_fn)
		return mc->now_fn(mc->ctx);
	e = load_estimate(mc);
	return apply(&e, read_clock(mc->base));
}

uint64_t mclock_at(const struct mclock *mc, uint64_t base_ns)
{
	struct estimate e = load_estimate(mc);

	return apply(&e, base_ns);
}

bool mclock_set_estimate(struct mclock *mc, int64_t off_ns, uint64_t ref_ns,
			 double drift, int64_t step_ns, int64_t *jump_ns)
{
	struct estimate next = {off_ns, ref_ns, drift};
	uint64_t local = read_clock(mc->base);
	int64_t jump = (int64_t)(apply(&next, local) - apply(&mc->est, local));

	atomic_fetch_add_explicit(&mc->seq, 1, memory_order_acq_rel);
	atomic_thread_fence(memory_order_release);
	mc->est = next;
	atomic_fetch_add_explicit(&mc->seq, 1, memory_order_release);
	if (jump_ns)
		*jump_ns = jump;
	if (jump <= step_ns && jump >= -step_ns)
		return false;
	atomic_fetch_add_explicit(&mc->generation, 1, memory_order_release);
	return true;
}

bool mclock_timescale_ok(const struct mclock *mc)
{
	return atomic_load_explicit(&((struct mclock *)mc)->timescale_ok,
				    memory_order_acquire);
}

void mclock_set_timescale_ok(struct mclock *mc, bool ok)
{
	atomic_store_explicit(&mc->timescale_ok, ok, memory_order_release);
}

bool mclock_timescale_known(const struct mclock *mc)
{
	return atomic_load_explicit(
	    &((struct mclock *)mc)->timescale_known, memory_order_acquire);
}

void mclock_set_timescale_known(struct mclock *mc)
{
	atomic_store_explicit(&mc->timescale_known, true,
			      memory_order_release);
}

unsigned int mclock_generation(const struct mclock *mc)
{
	return atomic_load_explicit(&((struct mclock *)mc)->generation,
				    memory_order_acquire);
}

void mclock_set_status(struct mclock *mc, const struct mclock_status *st)
{
	mc->status = *st;
	mc->status.base = mc->base;
}

void mclock_sleep_until(const struct mclock *mc, uint64_t ptp_ns)
{
	struct timespec ts;
	struct estimate e;
	uint64_t local;

	if (mc->now_fn) {
		if (mc->sleep_fn)
			mc->sleep_fn(mc->ctx, ptp_ns);
		return;
	}
	e = load_estimate(mc);
	if (mc->mode == MCLOCK_MODE_PHC) {
		/* No absolute sleeps on a PHC: wait out the difference on
		 * the monotonic clock. */
		uint64_t now = apply(&e, read_clock(mc->base));

		if (ptp_ns <= now)
			return;
		local = read_clock(CLOCK_MONOTONIC) + (ptp_ns - now);
		ts.tv_sec = (time_t)(local / NSEC_PER_SEC);
		ts.tv_nsec = (long)(local % NSEC_PER_SEC);
		while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts,
				       NULL) == EINTR)
			;
		return;
	}
	/* The drift over one packet time is far below a nanosecond per
	 * microsecond; inverting the offset alone is exact enough. */
	local =
	    ptp_ns - (uint64_t)e.off_ns -
	    (uint64_t)(int64_t)(e.drift * (double)(int64_t)(ptp_ns - e.off_ns -
							    e.ref_ns));
	ts.tv_sec = (time_t)(local / NSEC_PER_SEC);
	ts.tv_nsec = (long)(local % NSEC_PER_SEC);
	while (clock_nanosleep(mc->base, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

void mclock_get_status(const struct mclock *mc, struct mclock_status *st)
{
	*st = mc->status;
}

enum mclock_mode mclock_mode(const struct mclock *mc)
{
	return mc->mode;
}

const char *mclock_mode_name(enum mclock_mode mode)
{
	switch (mode) {
	case MCLOCK_MODE_FREE_RUN:
		return "free-run";
	case MCLOCK_MODE_SYSTEM:
		return "system";
	case MCLOCK_MODE_PHC:
		return "phc";
	case MCLOCK_MODE_FOLLOW:
		return "follow";
	}
	return "?";
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
