/* Keeps the media clock on the grandmaster: polls ptp4l every poll_ns,
 * runs the lock state machine, and (in follow mode) turns ptp4l's measured
 * offset and its trend into the media clock's estimate. Runs on the
 * control loop. */
#ifndef D4_PTP_SYNC_H
#define D4_PTP_SYNC_H

#include <stdbool.h>
#include <stdint.h>

#include "ptp/lock.h"
#include "ptp/mclock.h"
#include "ptp/pmc.h"

struct ptp_sync_cfg {
	const char *uds; /* NULL: the linuxptp defaults */
	uint8_t domain;
	struct ptp_lock_cfg lock;
	uint64_t poll_ns;
	/* a correction larger than this is a step (flows resynchronise);
	 * while locked, one that large is taken only if it persists */
	uint64_t step_ns;
};

struct ptp_sync_events {
	struct ptp_lock_events lock;
	bool reachability_changed;
	bool stepped;	       /* the media clock jumped */
	bool syncs_stale;      /* following: ptp4l reports no new Sync */
	bool syncs_again;      /* ... and now it does */
	int64_t step_ns;       /* by this much */
	unsigned int rejected; /* malformed replies since the last tick */
	char reject_reason[128];
};

struct ptp_sync;

struct ptp_sync *ptp_sync_new(const struct ptp_sync_cfg *cfg,
			      struct mclock *mc);
void ptp_sync_destroy(struct ptp_sync *s);
int ptp_sync_fd(const struct ptp_sync *s);
const char *ptp_sync_target(const struct ptp_sync *s);
bool ptp_sync_reachable(const struct ptp_sync *s);

/* Call often (every control tick and when the fd is readable): takes
 * replies, and every poll_ns closes the round, updates lock state and the
 * media clock, and sends the next round. */
void ptp_sync_tick(struct ptp_sync *s, uint64_t mono_ns,
		   struct ptp_sync_events *ev);

#endif
