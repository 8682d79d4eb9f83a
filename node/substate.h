/* A subscription's state, as Dante Controller shows a route's: a pure state
 * machine (like ptp/lock.h) stepped by the control thread every tick with
 * the receiver's counters, tested with injected inputs. Each state says
 * what the user hears and why; docs/api.md defines them. A change comes
 * with its reason, for the log line and the API.
 *
 *   unresolved      the stream's name is not announced (SAP, RAVENNA)
 *   waiting         open, no packet yet
 *   receiving       packets in the last second, playing in time
 *   late            packets in the last second, but more than 1 % came
 *                   after their playout time: the latency is too small
 *   no-audio        it received, but nothing for a second
 *   clock-mismatch  packets come, stamped on another clock than this
 *                   node's PTP time (played aligned on their arrival, or
 *                   not at all with timing = ptp)
 *   degraded        receiving, in time, but one of its two legs (ST
 *                   2022-7) is down or late: the audio is whole, the
 *                   protection is gone
 *
 * Each leg of a two-leg subscription has a state of its own: waiting (no
 * packet yet), ok, down (nothing for SUBSTATE_LEG_DOWN_NS), late (packets
 * come, but none fit the stream for SUBSTATE_LEG_DOWN_NS: after their
 * playout time, or numbered off the stream the other leg carries). */
#ifndef D4_NODE_SUBSTATE_H
#define D4_NODE_SUBSTATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum sub_state {
	SUB_UNRESOLVED,
	SUB_WAITING,
	SUB_RECEIVING,
	SUB_LATE,
	SUB_NO_AUDIO,
	SUB_CLOCK_MISMATCH,
	SUB_DEGRADED,
};

enum sub_leg_state {
	SUB_LEG_WAITING,
	SUB_LEG_OK,
	SUB_LEG_DOWN,
	SUB_LEG_LATE,
};

/* A leg is down after this long without a packet: well inside the second
 * in which a user expects to see a cable pulled, and 300 packets at 1 ms,
 * so no burst of loss reads as a dead link. */
#define SUBSTATE_LEG_DOWN_NS (300 * 1000 * 1000ull)

#define SUBSTATE_TICKS 10 /* the last second, at 100 ms ticks */
/* the largest latency a subscription takes (SUB_LATENCY_MAX_NS): a
 * measured need beyond it is not advice a user can follow */
#define SUBSTATE_LATENCY_MAX_US 100000

/* What the control thread sees of a subscription on one tick. Counters
 * are the receiver's (cumulative; they restart with a new receiver). */
struct substate_input {
	bool resolved;		/* it has a receiver */
	const char *refused;	/* not resolved: why the stream found was
				 * not taken (NULL: none found) */
	uint64_t received, late, off; /* packets; off: off any timeline */
	bool arrival_timing;	/* aligned on arrival */
	bool expects_ptp;	/* its SDP (or timing = ptp) says PTP time */
	bool clock_settled;	/* this node's media clock is locked/free-run */
	uint32_t latency_us;
	int64_t safe_latency_us; /* measured, or < 0: not known */
	/* ST 2022-7: 1 or 2 legs, each one's state and silence */
	unsigned int legs;
	enum sub_leg_state leg[2];
	uint64_t leg_silent_ns[2];
	uint64_t leg_unfit_ns[2]; /* a late leg's time without a fit */
};

struct substate {
	enum sub_state state;
	char reason[192];
	/* the last second's packets, a slot per tick */
	uint64_t rx[SUBSTATE_TICKS], late[SUBSTATE_TICKS],
	    off[SUBSTATE_TICKS];
	unsigned int tick;
	uint64_t last_received, last_late, last_off;
	unsigned int quiet_ticks; /* ticks without a packet */
	bool ever;		  /* it received once */
};

/* Start: waiting when @resolved (a receiver is open), else unresolved. */
void substate_init(struct substate *st, bool resolved);
/* The receiver was replaced (a new latency, a moved stream): its counters
 * start over from @in. */
void substate_rebase(struct substate *st, const struct substate_input *in);
/* One tick. Returns true when the state changed (st->reason says why). */
bool substate_step(struct substate *st, const struct substate_input *in);
const char *substate_name(enum sub_state s);

/* A leg's state from the arrival of its last packet (0: none yet), the
 * receiver's start and its last pass over its sockets (PTP ns); its
 * silence (time without a packet) into *@silent_ns. A stalled receiver
 * does not make its legs look silent: silence is measured to its last
 * pass. */
enum sub_leg_state substate_leg(uint64_t last_ns, uint64_t started_ns,
				uint64_t drained_ns, uint64_t *silent_ns);
/* A leg that is ok by its packets (substate_leg) is late when none of
 * them fit the stream (the arrival of the last one that did: @fit_ns, 0
 * none yet) for SUBSTATE_LEG_DOWN_NS; that time into *@unfit_ns. */
enum sub_leg_state substate_leg_fit(enum sub_leg_state st, uint64_t fit_ns,
				    uint64_t started_ns, uint64_t drained_ns,
				    uint64_t *unfit_ns);
const char *substate_leg_name(enum sub_leg_state s);

#endif
