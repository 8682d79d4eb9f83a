/* PTP follower logic. Follow mode estimates PTP(L) = L + off + drift (L -
 * ref) from ptp4l's master_offset (local minus master, measured at the sync
 * message's ingress time L_k): meas_k = scale - master_offset_k. While it
 * acquires, off = meas_k, ref = L_k and drift from consecutive offsets
 * (smoothed): fast, to lock within seconds. Locked, a PI servo: the offset
 * moves a part of the way to each measurement and the rate takes a
 * smaller part of it, as ptp4l's own servo does when it steers a clock.
 * Each measurement is one Sync's software time stamps, off by the
 * scheduling of both hosts (a lab's followers read tens of us); taken
 * whole, every one of them moved the media clock by that much. Steered
 * modes only track the timescale (PTP vs the UTC of CLOCK_REALTIME). */
#include "ptp/sync.h"

#include <stdlib.h>
#include <string.h>

#define DRIFT_MAX   500e-6 /* no crystal is worse than 500 ppm */
#define DRIFT_ALPHA 0.2
/* The locked servo's gains, per poll (500 ms): against white measurement
 * noise the offset's error is about 0.4 of the noise (0.2 / 0.02), not
 * all of it. Slightly underdamped (poles at 0.89 a poll): a real move of
 * the grandmaster's time under the lock threshold (a 90 us one) is 85 %
 * corrected in 5 polls, overshoots by 17 % and is within 1 us in about
 * 30 (15 s); a rate change of more than about 70 ppm at once leaves the
 * threshold for 3 polls and the lock is learnt again (acquisition takes
 * measurements whole). An outright step is taken at once, below. */
#define SERVO_KP 0.2
#define SERVO_KI 0.02
/* ... from this many Syncs after the lock: the rate learnt while
 * acquiring is a few Syncs' worth (an attacker: a crystal 40-80 ppm off
 * at one Sync a second left the lock threshold under the servo's slow
 * rate term); the fast estimate learns it on for these first. */
#define SERVO_AFTER 8
/* A ptp4l that reports the same Sync this long (its port still SLAVE:
 * linuxptp's syncReceiptTimeout is 0 by default) has no grandmaster's
 * time to give: the clock holds over. AES67's slowest Sync is 2 s. */
#define SYNC_STALE_NS (6 * NSEC_PER_SEC)

struct ptp_sync {
	struct ptp_sync_cfg cfg;
	char uds[108];
	struct mclock *mc;
	struct pmc *pmc;
	struct ptp_lock lock;
	uint64_t next_poll_ns;
	bool polled;
	bool reach_known; /* the first round's result is always reported */
	bool reachable;
	/* follow-mode estimate */
	bool have_est;
	int64_t off_ns;
	int64_t last_residual; /* following: the last one, for the status */
	unsigned int locked_n;	/* Syncs taken while locked, to SERVO_AFTER */
	uint64_t stale_since;	/* mono ns of the first repeat; 0: none */
	bool stale;		/* reported as stale */
	uint64_t last_lk;  /* the Sync (ingress time) looked at last */
	int64_t last_meas; /* and its measurement */
	uint64_t ref_ns;
	double drift;
	unsigned int outliers;
	int64_t scale_ns;
	uint64_t rejected_seen;
};

struct ptp_sync *ptp_sync_new(const struct ptp_sync_cfg *cfg, struct mclock *mc)
{
	struct ptp_sync *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->cfg = *cfg;
	if (cfg->uds) {
		strncpy(s->uds, cfg->uds, sizeof(s->uds) - 1);
		s->cfg.uds = s->uds;
	}
	s->mc = mc;
	s->pmc = pmc_new(s->cfg.uds, cfg->domain);
	if (!s->pmc) {
		free(s);
		return NULL;
	}
	ptp_lock_init(&s->lock, true);
	return s;
}

void ptp_sync_destroy(struct ptp_sync *s)
{
	if (!s)
		return;
	pmc_destroy(s->pmc);
	free(s);
}

int ptp_sync_fd(const struct ptp_sync *s)
{
	return pmc_fd(s->pmc);
}

const char *ptp_sync_target(const struct ptp_sync *s)
{
	return pmc_target(s->pmc);
}

bool ptp_sync_reachable(const struct ptp_sync *s)
{
	return s->reachable;
}

/* ptp4l on CLOCK_REALTIME compares in UTC when the grandmaster announces
 * the PTP (TAI) timescale; PTP time is then UTC + the UTC offset. An ARB
 * grandmaster's time is taken as it is. */
static int64_t timescale_ns(const struct ptp_sample *smp)
{
	int off = smp->props.utc_offset_s;

	if (!smp->props.ptp_timescale)
		return 0;
	if (!smp->props.utc_offset_valid && off < 37)
		off = 37;
	return (int64_t)off * 1000000000;
}

static int64_t follow_update(struct ptp_sync *s, const struct ptp_sample *smp,
			     bool following, struct ptp_sync_events *ev,
			     bool *fresh)
{
	int64_t meas = s->scale_ns - smp->ts.master_offset_ns;
	uint64_t lk = (uint64_t)smp->ts.ingress_time_ns;
	int64_t pred, residual;
	int64_t step = (int64_t)s->cfg.step_ns;
	/* Locked, a sample beyond the lock threshold is suspect: a Sync
	 * whose software time stamp was delayed on a stalled host reads up
	 * to milliseconds off. Taken at once, one such sample just inside
	 * the step moved the media clock by it and pulled the rate by up to
	 * DRIFT_ALPHA * DRIFT_MAX, and the next samples then looked wild
	 * the other way, up to a step. */
	int64_t wild = s->cfg.lock.threshold_ns &&
			       (int64_t)s->cfg.lock.threshold_ns < step
			   ? (int64_t)s->cfg.lock.threshold_ns
			   : step;
	bool jumped;

	if (!following)
		return 0;
	if (!s->have_est) {
		s->have_est = true;
		s->off_ns = meas;
		s->last_lk = lk;
		s->last_meas = meas;
		s->ref_ns = lk;
		s->drift = 0;
		/* The first lock: the timescale starts, no step to log. */
		mclock_set_estimate(s->mc, s->off_ns, s->ref_ns, 0,
				    (int64_t)s->cfg.step_ns, NULL);
		return 0;
	}
	/* Extrapolate the drift only forwards: an ingress time at or before
	 * the reference (the same Sync polled twice, or a base clock stepped
	 * back) predicts the last offset. */
	pred = s->off_ns;
	if (lk > s->ref_ns)
		pred += (int64_t)(s->drift * (double)(lk - s->ref_ns));
	residual = meas - pred;
	/* The Sync already taken (polled again before the next one came:
	 * every other poll with one Sync a second): nothing new to learn;
	 * taken again, it undid the servo's filtering. */
	if (lk == s->last_lk && meas == s->last_meas) {
		*fresh = false;
		return residual;
	}
	s->last_lk = lk;
	s->last_meas = meas;
	/* Until locked the rate is still being learnt: only a step is a
	 * jump then. */
	if (s->lock.state != MCLOCK_LOCKED)
		wild = step;
	jumped = residual > wild || residual < -wild;
	if (jumped && s->lock.state == MCLOCK_LOCKED && ++s->outliers < 3)
		return residual; /* one wild sample is not a new time */
	s->outliers = 0;
	if (s->lock.state != MCLOCK_LOCKED)
		s->locked_n = 0;
	else if (s->locked_n < SERVO_AFTER)
		s->locked_n++;
	if (!jumped && s->locked_n >= SERVO_AFTER && lk > s->ref_ns) {
		s->drift += SERVO_KI * (double)residual /
			    (double)(int64_t)(lk - s->ref_ns);
		if (s->drift > DRIFT_MAX)
			s->drift = DRIFT_MAX;
		if (s->drift < -DRIFT_MAX)
			s->drift = -DRIFT_MAX;
		s->off_ns = pred + (int64_t)(SERVO_KP * (double)residual);
		s->ref_ns = lk;
		if (mclock_set_estimate(s->mc, s->off_ns, s->ref_ns, s->drift,
					(int64_t)s->cfg.step_ns, &ev->step_ns))
			ev->stepped = true;
		return residual;
	}
	if (lk > s->ref_ns) {
		double d = (double)(meas - s->off_ns) /
			   (double)(int64_t)(lk - s->ref_ns);

		if (jumped)
			d = s->drift; /* a jump says nothing of the rate */
		s->drift += DRIFT_ALPHA * (d - s->drift);
		if (s->drift > DRIFT_MAX)
			s->drift = DRIFT_MAX;
		if (s->drift < -DRIFT_MAX)
			s->drift = -DRIFT_MAX;
	}
	s->off_ns = meas;
	s->ref_ns = lk;
	/* Whether the clock stepped is judged where the media thread sees
	 * it, now, not at the Sync's ingress: a residual just inside the
	 * bound plus the drift's change since then can cross it. */
	if (mclock_set_estimate(s->mc, s->off_ns, s->ref_ns, s->drift,
				(int64_t)s->cfg.step_ns, &ev->step_ns))
		ev->stepped = true;
	return residual;
}

static void close_round(struct ptp_sync *s, uint64_t mono_ns,
			struct ptp_sync_events *ev)
{
	const struct ptp_sample *smp = pmc_sample(s->pmc);
	struct ptp_lock_input in = {0};
	struct mclock_status st;
	enum mclock_mode mode = mclock_mode(s->mc);
	bool following, fresh = true;
	int64_t scale;

	in.reachable = smp->reachable && smp->complete;
	if (!s->reach_known || in.reachable != s->reachable) {
		s->reach_known = true;
		s->reachable = in.reachable;
		ev->reachability_changed = true;
	}
	/* ptp4l derives gmPresent from its parent data set, which the first
	 * Announce fills (port UNCALIBRATED), but sets the master offset and
	 * ingress time only when it processes its first Sync: until then a
	 * freshly (re)started ptp4l says "grandmaster present, offset 0,
	 * ingress 0". That is no measurement: not following yet. (In follow
	 * mode, ingress 0 taken as a sample extrapolated the drift back to
	 * the epoch, drift * -ref, ~3000 s at 1.7 ppm: the media clock
	 * stepped, and stepped back on the next real sample.) */
	in.gm_present = smp->ts.gm_present && smp->ts.ingress_time_ns != 0;
	in.port_state = smp->port.state;
	memcpy(in.gm_id, smp->parent.gm_id, 8);
	memcpy(in.own_id, smp->port.clock_id, 8);
	in.mono_ns = mono_ns;
	following = in.reachable && in.gm_present &&
		    (in.port_state == PTP_PS_SLAVE ||
		     in.port_state == PTP_PS_UNCALIBRATED);
	if (in.reachable && mode != MCLOCK_MODE_PHC) {
		scale = timescale_ns(smp);
		if (mode == MCLOCK_MODE_SYSTEM && scale != s->scale_ns) {
			if (mclock_set_estimate(s->mc, scale, 0, 0,
						(int64_t)s->cfg.step_ns,
						&ev->step_ns))
				ev->stepped = true;
		}
		s->scale_ns = scale;
	}
	if (mode == MCLOCK_MODE_FOLLOW && in.reachable &&
	    in.port_state == PTP_PS_MASTER && !memcmp(in.gm_id, in.own_id, 8)) {
		/* Our ptp4l is the grandmaster: PTP time is the time it
		 * announces, its local clock on its own timescale. */
		if (!s->have_est || s->off_ns != s->scale_ns || s->drift) {
			if (mclock_set_estimate(s->mc, s->scale_ns, 0, 0,
						(int64_t)s->cfg.step_ns,
						&ev->step_ns) &&
			    s->have_est)
				ev->stepped = true;
			s->have_est = true;
			s->off_ns = s->scale_ns;
			s->ref_ns = 0;
			s->drift = 0;
		}
		in.residual_ns = 0;
		s->last_residual = 0;
	} else if (mode == MCLOCK_MODE_FOLLOW) {
		in.residual_ns =
		    follow_update(s, smp, following, ev, &fresh);
	} else
		in.residual_ns = smp->ts.master_offset_ns;
	/* After the step the clock takes onto the timescale, never before
	 * it (the media thread reads the generation after this). */
	if (in.reachable &&
	    (mode != MCLOCK_MODE_FOLLOW || s->have_est))
		mclock_set_timescale_known(s->mc);
	/* A Sync read again is no sample for the lock either (counted
	 * twice, two wild Syncs at one a second dropped the lock, and a
	 * repeat's residual of 0 counted good while acquiring); one read
	 * again for SYNC_STALE_NS is a grandmaster no longer heard. */
	if (mode == MCLOCK_MODE_FOLLOW && following && !fresh) {
		if (!s->stale_since)
			s->stale_since = mono_ns;
		if (mono_ns - s->stale_since >= SYNC_STALE_NS) {
			in.gm_present = false;
			if (!s->stale) {
				s->stale = true;
				ev->syncs_stale = true;
			}
		}
	} else {
		s->stale_since = 0;
		if (s->stale && fresh && following) {
			s->stale = false;
			ev->syncs_again = true;
		}
	}
	if (!(mode == MCLOCK_MODE_FOLLOW && following && !fresh &&
	      in.gm_present))
		ptp_lock_step(&s->lock, &s->cfg.lock, &in, &ev->lock);
	if (s->lock.state == MCLOCK_LOCKED)
		mclock_set_timescale_ok(s->mc, true);
	else if (s->lock.state == MCLOCK_UNLOCKED)
		mclock_set_timescale_ok(s->mc, false);

	mclock_get_status(s->mc, &st);
	st.state = s->lock.state;
	st.gm_valid = s->lock.have_gm;
	memcpy(st.gm_id, s->lock.gm_id, 8);
	st.domain = s->cfg.domain;
	st.is_gm = s->lock.is_gm;
	st.port_state = in.port_state;
	/* Following, ptp4l's master offset is the unsteered base clock
	 * against the grandmaster (seconds off, or drifting, while the
	 * media clock is locked: a new user read "locked, offset
	 * 5000000000005 ns"); what tells how well the media clock follows
	 * is the last measurement against its estimate, with ptp4l's sign
	 * (ours minus the grandmaster's). */
	if (mode == MCLOCK_MODE_FOLLOW && (following || !s->have_est))
		s->last_residual = in.residual_ns;
	st.offset_ns = mode == MCLOCK_MODE_FOLLOW && s->have_est
			   ? -s->last_residual
			   : smp->ts.master_offset_ns;
	st.ptp_reachable = in.reachable;
	mclock_set_status(s->mc, &st);
}

void ptp_sync_tick(struct ptp_sync *s, uint64_t mono_ns,
		   struct ptp_sync_events *ev)
{
	char reason[128] = "";
	uint64_t rej;

	memset(ev, 0, sizeof(*ev));
	pmc_receive(s->pmc, reason, sizeof(reason));
	rej = pmc_rejected(s->pmc);
	if (rej != s->rejected_seen) {
		ev->rejected = (unsigned int)(rej - s->rejected_seen);
		s->rejected_seen = rej;
		memcpy(ev->reject_reason, reason, sizeof(reason));
	}
	if (mono_ns < s->next_poll_ns)
		return;
	if (s->polled)
		close_round(s, mono_ns, ev);
	s->next_poll_ns = mono_ns + s->cfg.poll_ns;
	/* A missing ptp4l shows up as an unanswered round. */
	pmc_poll_send(s->pmc, mono_ns);
	s->polled = true;
}
