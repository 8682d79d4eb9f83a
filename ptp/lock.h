/* The lock state machine, pure and clock-free so tests drive it with
 * injected samples and times:
 *
 *   free-run   no ptp4l configured (never left)
 *   unlocked   ptp4l silent, no grandmaster, or holdover ran out
 *   locking    following a grandmaster, offset not yet settled
 *   locked     following, |residual| <= threshold for lock_count polls
 *              (or this node's ptp4l is the grandmaster)
 *   holdover   was locked and lost the grandmaster: the last rate is kept
 *              for holdover_ns, then unlocked
 */
#ifndef D4_PTP_LOCK_H
#define D4_PTP_LOCK_H

#include <stdbool.h>
#include <stdint.h>

#include "ptp/mclock.h"
#include "ptp/mgmt.h"

struct ptp_lock_cfg {
	uint64_t threshold_ns;	 /* |residual| that counts as settled */
	unsigned int lock_count; /* settled polls in a row to lock */
	uint64_t holdover_ns;
	/* ptp4l with free_running 1 never leaves UNCALIBRATED (its servo
	 * never locks what it does not steer): in follow mode that state
	 * counts as following. */
	bool uncalibrated_ok;
};

struct ptp_lock_input {
	bool reachable; /* ptp4l answered */
	bool gm_present;
	enum ptp_port_state port_state;
	uint8_t gm_id[8];
	uint8_t own_id[8];   /* this ptp4l's clock identity */
	int64_t residual_ns; /* offset left after our own correction */
	uint64_t mono_ns;
};

struct ptp_lock {
	enum mclock_state state;
	bool have_gm;
	uint8_t gm_id[8];
	bool is_gm; /* our ptp4l is the grandmaster */
	unsigned int good, bad;
	uint64_t holdover_since_ns;
};

/* What one step changed. */
struct ptp_lock_events {
	bool state_changed;
	bool gm_changed;
	enum mclock_state old_state;
	uint8_t old_gm[8];
};

void ptp_lock_init(struct ptp_lock *l, bool ptp_enabled);
void ptp_lock_step(struct ptp_lock *l, const struct ptp_lock_cfg *cfg,
		   const struct ptp_lock_input *in, struct ptp_lock_events *ev);

#endif
