/* RX channel bus: a ring of frames indexed by sample position. Ports write
 * their columns ahead of the hand-on position; the hand-on feeds the
 * recorders and clears the frames behind it, so unfed channels are zero. */
#include "node/rxbus.h"
#include "common/mem.h"
#include "node/recorder.h"
#include "ptp/mclock.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define RXBUS_MAX_SINKS 16
#define RXBUS_CHUNK	256

struct rxbus {
	unsigned int nch;
	uint32_t rate;
	uint32_t delay; /* frames from a position's time to its hand-on */
	uint64_t size;	/* ring frames, a power of two */
	int32_t *ring;
	uint64_t play_x; /* next position to hand on */
	bool started;
	/* After a clock step: hold the hand-on until the first write (the
	 * subscriptions restart at their own latencies), at most until
	 * hold_x, so recordings go on without a gap of silence. */
	bool hold;
	uint64_t hold_x, first_w;
	/* the first position a route delivered a stream's sample to: where
	 * recordings with start = first begin */
	uint64_t first_data_x;
	struct recorder *rec[RXBUS_MAX_SINKS];
	unsigned int nrec;
	_Atomic uint64_t dropped;
};

struct rxbus *rxbus_new(unsigned int nch, uint32_t rate)
{
	struct rxbus *b;
	uint64_t need;

	if (!nch || nch > RXBUS_MAX_CHANNELS || !rate)
		return NULL;
	b = mem_calloc_held(1, sizeof(*b));
	if (!b)
		return NULL;
	b->nch = nch;
	b->first_data_x = UINT64_MAX;
	b->rate = rate;
	b->delay = (uint32_t)mclock_ns_to_samples(RXBUS_DELAY_NS, rate);
	/* Room from the hand-on to the earliest a port may write: the
	 * delay, less the smallest latency, plus a chunk; twice that. */
	need = 2 * ((uint64_t)b->delay + RXBUS_CHUNK);
	/* A power of two (16 384 frames), not the 11 264 needed: the
	 * slack is the stall the bus rides out before it starts over
	 * (size / 2 below: 170 ms, not 117; this VM stalls for 100 ms and
	 * more). */
	for (b->size = 1024; b->size < need; b->size <<= 1)
		;
	b->ring = mem_calloc_held(b->size * nch, sizeof(int32_t));
	if (!b->ring) {
		free(b);
		return NULL;
	}
	return b;
}

void rxbus_destroy(struct rxbus *b)
{
	if (!b)
		return;
	free(b->ring);
	free(b);
}

unsigned int rxbus_channels(const struct rxbus *b)
{
	return b->nch;
}

uint32_t rxbus_rate(const struct rxbus *b)
{
	return b->rate;
}

int rxbus_add_recorder(struct rxbus *b, struct recorder *rec)
{
	if (b->nrec == RXBUS_MAX_SINKS)
		return -ENOSPC;
	b->rec[b->nrec++] = rec;
	return 0;
}

uint64_t rxbus_dropped(const struct rxbus *b)
{
	return atomic_load_explicit(&b->dropped, memory_order_relaxed);
}

static void count_dropped(struct rxbus *b, uint64_t n)
{
	atomic_store_explicit(&b->dropped, rxbus_dropped(b) + n,
			      memory_order_relaxed);
}

void rxbus_port_feed(void *ctx, uint64_t x, const int32_t *frames,
		     unsigned int stream_ch, unsigned int n,
		     uint64_t first_data_x)
{
	struct rxbus_port *p = ctx;
	struct rxbus *b = p->bus;
	uint64_t end = x + n, lo, hi, slot;
	uint64_t until =
	    atomic_load_explicit(&p->until_x, memory_order_relaxed);
	unsigned int i, c;

	if (!b->started)
		return;
	/* Outside the port's window: not ours to write (not dropped). */
	if (x < p->from_x) {
		if (end <= p->from_x)
			return;
		frames += (p->from_x - x) * stream_ch;
		n -= (unsigned int)(p->from_x - x);
		x = p->from_x;
	}
	if (until && end > until) {
		if (x >= until)
			return;
		n = (unsigned int)(until - x);
		end = until;
	}
	/* where the stream first reaches the bus: inside the window only */
	if (first_data_x < b->first_data_x && first_data_x < end)
		b->first_data_x = first_data_x > x ? first_data_x : x;
	/* Writable: [play_x, play_x + size - chunk): behind is handed on,
	 * beyond would overwrite what is not handed on yet. */
	lo = x > b->play_x ? x : b->play_x;
	hi = b->play_x + b->size - RXBUS_CHUNK;
	if (end < hi)
		hi = end;
	if (lo >= hi) {
		count_dropped(b, n);
		return;
	}
	if (hi - lo < n)
		count_dropped(b, n - (hi - lo));
	if (b->hold && lo < b->first_w)
		b->first_w = lo;
	for (slot = lo % b->size; lo < hi; lo++) {
		int32_t *dst = b->ring + slot * b->nch;
		const int32_t *src = frames + (lo - x) * stream_ch;

		if (++slot == b->size)
			slot = 0;

		for (i = 0; i < p->map.n; i++) {
			c = p->map.stream_ch[i];
			if (c < stream_ch && p->map.rx[i] < b->nch)
				dst[p->map.rx[i]] = src[c];
		}
	}
}

void rxbus_start(struct rxbus *b, uint64_t now_ns)
{
	memset(b->ring, 0, b->size * b->nch * sizeof(int32_t));
	b->play_x = mclock_ns_to_samples(now_ns, b->rate) - b->delay;
	b->started = true;
}

void rxbus_resync(struct rxbus *b, uint64_t now_ns)
{
	unsigned int i;

	rxbus_start(b, now_ns);
	b->first_data_x = UINT64_MAX; /* a position of the old timescale */
	b->hold = true;
	b->first_w = UINT64_MAX;
	b->hold_x = mclock_ns_to_samples(now_ns, b->rate);
	for (i = 0; i < b->nrec; i++)
		recorder_resync(b->rec[i]);
}

void rxbus_set_timescale_ok(struct rxbus *b, bool ok)
{
	unsigned int i;

	for (i = 0; i < b->nrec; i++)
		recorder_set_timescale_ok(b->rec[i], ok);
}

uint64_t rxbus_playout(struct rxbus *b, uint64_t now_ns)
{
	uint64_t target = mclock_ns_to_samples(now_ns, b->rate) - b->delay;
	unsigned int i;

	if (!b->started)
		rxbus_start(b, now_ns);
	if (b->hold) {
		if (b->first_w != UINT64_MAX && b->first_w < target) {
			b->play_x = b->first_w; /* zeros before it */
			b->hold = false;
		} else if (target >= b->hold_x) {
			b->hold = false;
		} else {
			b->play_x = target;
			return mclock_samples_to_ns(
			    target + RXBUS_CHUNK + b->delay, b->rate);
		}
	}
	if (target > b->play_x + b->size / 2) {
		/* The thread slept through half the ring (a stall, or a
		 * jump of the clock): what lies between is silence. */
		count_dropped(b, target - b->size / 2 - b->play_x);
		memset(b->ring, 0, b->size * b->nch * sizeof(int32_t));
		b->play_x = target - b->size / 2;
	}
	while (b->play_x < target) {
		uint64_t off = b->play_x % b->size;
		uint64_t left = target - b->play_x;
		unsigned int n =
		    left > RXBUS_CHUNK ? RXBUS_CHUNK : (unsigned int)left;
		int32_t *f = b->ring + off * b->nch;

		if (off + n > b->size)
			n = (unsigned int)(b->size - off);
		for (i = 0; i < b->nrec; i++)
			recorder_feed(b->rec[i], b->play_x, f, b->nch, n,
				      b->first_data_x);
		memset(f, 0, (size_t)n * b->nch * sizeof(int32_t));
		b->play_x += n;
	}
	/* With no recorder nothing waits for the bus: it moves on at the
	 * passes others' deadlines make (at least every MEDIA_IDLE_NS, far
	 * within half its ring), not at wake-ups of its own. */
	if (!b->nrec)
		return UINT64_MAX;
	return mclock_samples_to_ns(b->play_x + RXBUS_CHUNK + b->delay,
				    b->rate);
}
