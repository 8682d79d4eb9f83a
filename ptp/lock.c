/* Lock state machine (see lock.h for the states). */
#include "ptp/lock.h"

#include <string.h>

void ptp_lock_init(struct ptp_lock *l, bool ptp_enabled)
{
	memset(l, 0, sizeof(*l));
	l->state = ptp_enabled ? MCLOCK_UNLOCKED : MCLOCK_FREE_RUN;
}

static bool following(const struct ptp_lock_input *in)
{
	return in->reachable && in->gm_present &&
	       (in->port_state == PTP_PS_SLAVE ||
		in->port_state == PTP_PS_UNCALIBRATED);
}

static bool grandmaster(const struct ptp_lock_input *in)
{
	return in->reachable && in->port_state == PTP_PS_MASTER &&
	       !memcmp(in->gm_id, in->own_id, 8);
}

static void set_gm(struct ptp_lock *l, const uint8_t id[8],
		   struct ptp_lock_events *ev)
{
	if (l->have_gm && !memcmp(l->gm_id, id, 8))
		return;
	if (l->have_gm) {
		ev->gm_changed = true;
		memcpy(ev->old_gm, l->gm_id, 8);
	} else {
		ev->gm_changed = true;
		memset(ev->old_gm, 0, 8);
	}
	l->have_gm = true;
	memcpy(l->gm_id, id, 8);
	l->good = 0;
}

void ptp_lock_step(struct ptp_lock *l, const struct ptp_lock_cfg *cfg,
		   const struct ptp_lock_input *in, struct ptp_lock_events *ev)
{
	enum mclock_state next = l->state;
	int64_t r = in->residual_ns < 0 ? -in->residual_ns : in->residual_ns;

	memset(ev, 0, sizeof(*ev));
	ev->old_state = l->state;
	if (l->state == MCLOCK_FREE_RUN)
		return;
	l->is_gm = grandmaster(in);
	if (l->is_gm) {
		/* Our own clock is the reference everyone follows. */
		set_gm(l, in->own_id, ev);
		next = MCLOCK_LOCKED;
	} else if (following(in)) {
		set_gm(l, in->gm_id, ev);
		if ((in->port_state == PTP_PS_SLAVE || cfg->uncalibrated_ok) &&
		    (uint64_t)r <= cfg->threshold_ns) {
			l->good++;
			l->bad = 0;
		} else {
			l->good = 0;
			l->bad++;
		}
		if (ev->gm_changed && l->state == MCLOCK_LOCKED)
			next = MCLOCK_LOCKING; /* a new time: settle on it */
		else if (l->state != MCLOCK_LOCKED)
			next = l->good >= cfg->lock_count ? MCLOCK_LOCKED
							  : MCLOCK_LOCKING;
		else if (l->bad >= cfg->lock_count)
			next = MCLOCK_LOCKING; /* lost it: settle again */
	} else {
		l->good = 0;
		if (l->state == MCLOCK_LOCKED) {
			next = MCLOCK_HOLDOVER;
			l->holdover_since_ns = in->mono_ns;
		} else if (l->state == MCLOCK_HOLDOVER) {
			if (in->mono_ns - l->holdover_since_ns >=
			    cfg->holdover_ns)
				next = MCLOCK_UNLOCKED;
		} else {
			next = MCLOCK_UNLOCKED;
		}
	}
	if (next != l->state) {
		ev->state_changed = true;
		l->state = next;
	}
}
