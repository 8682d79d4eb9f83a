/* A subscription's state (see substate.h). */
#include "node/substate.h"

#include <stdio.h>
#include <string.h>

void substate_init(struct substate *st, bool resolved)
{
	memset(st, 0, sizeof(*st));
	st->state = resolved ? SUB_WAITING : SUB_UNRESOLVED;
	snprintf(st->reason, sizeof(st->reason), "%s",
		 resolved ? "no packet yet" : "the stream is not announced");
}

void substate_rebase(struct substate *st, const struct substate_input *in)
{
	st->last_received = in->received;
	st->last_late = in->late;
	st->last_off = in->off;
}

static uint64_t sum(const uint64_t *v)
{
	uint64_t s = 0;
	unsigned int i;

	for (i = 0; i < SUBSTATE_TICKS; i++)
		s += v[i];
	return s;
}

/* Counters that went back (a new receiver not rebased) count from 0. */
static uint64_t delta(uint64_t now, uint64_t *last)
{
	uint64_t d = now >= *last ? now - *last : now;

	*last = now;
	return d;
}

/* A leg that protects nothing: down, or late. */
static bool leg_bad(enum sub_leg_state l)
{
	return l == SUB_LEG_DOWN || l == SUB_LEG_LATE;
}

bool substate_step(struct substate *st, const struct substate_input *in)
{
	enum sub_state next;
	unsigned int slot = st->tick++ % SUBSTATE_TICKS;
	uint64_t rx1, late1, off1;
	char why[sizeof(st->reason)];

	st->rx[slot] = delta(in->received, &st->last_received);
	st->late[slot] = delta(in->late, &st->last_late);
	st->off[slot] = delta(in->off, &st->last_off);
	rx1 = sum(st->rx);
	late1 = sum(st->late);
	off1 = sum(st->off);
	st->quiet_ticks = st->rx[slot] ? 0 : st->quiet_ticks + 1;
	if (st->rx[slot])
		st->ever = true;

	if (!in->resolved) {
		next = SUB_UNRESOLVED;
		if (in->refused)
			snprintf(why, sizeof(why),
				 "the stream was found but not taken: %s",
				 in->refused);
		else
			snprintf(why, sizeof(why),
				 "the stream is not announced");
	} else if (!st->ever) {
		next = SUB_WAITING;
		snprintf(why, sizeof(why), "no packet yet");
	} else if (!rx1) {
		next = SUB_NO_AUDIO;
		snprintf(why, sizeof(why), "no packet for %.1f s",
			 st->quiet_ticks / 10.0);
	} else if (in->clock_settled && off1 * 2 > rx1) {
		next = SUB_CLOCK_MISMATCH;
		snprintf(why, sizeof(why),
			 "%llu of %llu packets in the last second are stamped "
			 "far from this node's PTP time",
			 (unsigned long long)off1, (unsigned long long)rx1);
	} else if (in->clock_settled && in->arrival_timing && in->expects_ptp) {
		next = SUB_CLOCK_MISMATCH;
		snprintf(why, sizeof(why),
			 "the sender's timestamps are not on this node's PTP "
			 "time (another grandmaster or timescale); playing "
			 "them aligned on arrival");
	} else if (late1 * 100 > rx1) {
		next = SUB_LATE;
		if (in->safe_latency_us > SUBSTATE_LATENCY_MAX_US)
			snprintf(why, sizeof(why),
				 "%llu of %llu packets in the last second came "
				 "after their playout time; none of the "
				 "latencies up to %d ms would hold",
				 (unsigned long long)late1,
				 (unsigned long long)rx1,
				 SUBSTATE_LATENCY_MAX_US / 1000);
		else if (in->safe_latency_us > (int64_t)in->latency_us)
			snprintf(why, sizeof(why),
				 "%llu of %llu packets in the last second came "
				 "after their playout time; a latency of %lld "
				 "us would hold",
				 (unsigned long long)late1,
				 (unsigned long long)rx1,
				 (long long)in->safe_latency_us);
		else
			snprintf(why, sizeof(why),
				 "%llu of %llu packets in the last second came "
				 "after their playout time at %u us",
				 (unsigned long long)late1,
				 (unsigned long long)rx1, in->latency_us);
	} else if (in->legs == 2 && leg_bad(in->leg[0]) != leg_bad(in->leg[1])) {
		/* one leg down or late, the other carrying: the audio is
		 * whole, the protection gone (both down: the stream stopped,
		 * which no-audio says once the second is over) */
		unsigned int bad = leg_bad(in->leg[0]) ? 0 : 1;

		next = SUB_DEGRADED;
		if (in->leg[bad] == SUB_LEG_LATE)
			snprintf(why, sizeof(why),
				 "leg %c late (none of its packets in time "
				 "for %.1f s); playing from leg %c, %llu "
				 "packets in the last second",
				 'A' + bad,
				 (double)in->leg_unfit_ns[bad] / 1e9,
				 'A' + !bad, (unsigned long long)rx1);
		else
			snprintf(why, sizeof(why),
				 "leg %c down (no packet for %.1f s); playing "
				 "from leg %c, %llu packets in the last second",
				 'A' + bad,
				 (double)in->leg_silent_ns[bad] / 1e9,
				 'A' + !bad, (unsigned long long)rx1);
	} else {
		next = SUB_RECEIVING;
		/* both legs carry it, or one does while the other has
		 * sent nothing yet (down only after SUBSTATE_LEG_DOWN) */
		const char *legs = "";

		if (in->legs == 2 && in->leg[0] == SUB_LEG_OK &&
		    in->leg[1] == SUB_LEG_OK)
			legs = " on both legs";
		else if (in->legs == 2 && in->leg[0] == SUB_LEG_OK &&
			 in->leg[1] == SUB_LEG_WAITING)
			legs = " on leg A (the other: none yet)";
		else if (in->legs == 2 && in->leg[1] == SUB_LEG_OK &&
			 in->leg[0] == SUB_LEG_WAITING)
			legs = " on leg B (the other: none yet)";
		snprintf(why, sizeof(why), "%llu packets in the last second%s%s",
			 (unsigned long long)rx1, legs,
			 in->arrival_timing ? ", aligned on arrival" : "");
	}
	/* the reason is kept current; a change is reported once */
	memcpy(st->reason, why, sizeof(why));
	if (next == st->state)
		return false;
	st->state = next;
	return true;
}

const char *substate_name(enum sub_state s)
{
	switch (s) {
	case SUB_UNRESOLVED:
		return "unresolved";
	case SUB_WAITING:
		return "waiting";
	case SUB_RECEIVING:
		return "receiving";
	case SUB_LATE:
		return "late";
	case SUB_NO_AUDIO:
		return "no-audio";
	case SUB_CLOCK_MISMATCH:
		return "clock-mismatch";
	case SUB_DEGRADED:
		return "degraded";
	}
	return "?";
}

enum sub_leg_state substate_leg(uint64_t last_ns, uint64_t started_ns,
				uint64_t drained_ns, uint64_t *silent_ns)
{
	uint64_t since = last_ns > started_ns ? last_ns : started_ns;

	*silent_ns = drained_ns > since ? drained_ns - since : 0;
	if (*silent_ns > SUBSTATE_LEG_DOWN_NS)
		return SUB_LEG_DOWN;
	return last_ns ? SUB_LEG_OK : SUB_LEG_WAITING;
}

enum sub_leg_state substate_leg_fit(enum sub_leg_state st, uint64_t fit_ns,
				    uint64_t started_ns, uint64_t drained_ns,
				    uint64_t *unfit_ns)
{
	uint64_t since = fit_ns > started_ns ? fit_ns : started_ns;

	*unfit_ns = drained_ns > since ? drained_ns - since : 0;
	if (st == SUB_LEG_OK && *unfit_ns > SUBSTATE_LEG_DOWN_NS)
		return SUB_LEG_LATE;
	return st;
}

const char *substate_leg_name(enum sub_leg_state s)
{
	switch (s) {
	case SUB_LEG_WAITING:
		return "waiting";
	case SUB_LEG_OK:
		return "ok";
	case SUB_LEG_DOWN:
		return "down";
	case SUB_LEG_LATE:
		return "late";
	}
	return "?";
}
