/* Peak and RMS meters. The media thread is the only writer: it sums in
 * plain integers and, at a window's end, copies the sums into per-channel
 * atomics inside a seqlock (sequence odd while it writes). The control
 * thread reads the atomics between two equal, even sequence values, so a
 * snapshot never mixes two windows, and the writer never waits: a reader
 * that overlaps a publish simply reads again. Chosen over one atomic per
 * channel alone because a stereo pair must come from the same window; the
 * sequence doubles as the count of windows published. */
#include "node/meter.h"

#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>

struct meter_chan {
	/* media thread only: the window being summed */
	uint32_t peak;	/* max |sample| in 24-bit units */
	uint64_t sumsq; /* sum of squares in 24-bit units: <= 2^46 a frame */
	/* published: the last whole window */
	_Atomic uint32_t pub_peak;
	_Atomic uint64_t pub_sumsq;
};

struct meter {
	unsigned int nch;
	uint32_t window;      /* frames */
	uint32_t filled;      /* frames of the current window summed */
	_Atomic uint64_t seq; /* odd while a window is being published */
	struct meter_chan ch[];
};

struct meter *meter_new(unsigned int nch, uint32_t rate)
{
	struct meter *m;
	uint32_t window = (uint32_t)((uint64_t)rate * METER_WINDOW_MS / 1000);

	if (nch < 1 || nch > METER_MAX_CHANNELS || window < 1)
		return NULL;
	m = calloc(1, sizeof(*m) + nch * sizeof(m->ch[0]));
	if (!m)
		return NULL;
	m->nch = nch;
	m->window = window;
	return m;
}

void meter_destroy(struct meter *m)
{
	free(m);
}

unsigned int meter_channels(const struct meter *m)
{
	return m->nch;
}

uint32_t meter_window_frames(const struct meter *m)
{
	return m->window;
}

/* RT. The window's sums become visible all at once. */
static void publish(struct meter *m)
{
	uint64_t s = atomic_load_explicit(&m->seq, memory_order_relaxed);
	unsigned int c;

	atomic_store_explicit(&m->seq, s + 1, memory_order_relaxed);
	atomic_thread_fence(memory_order_release);
	for (c = 0; c < m->nch; c++) {
		struct meter_chan *ch = &m->ch[c];

		atomic_store_explicit(&ch->pub_peak, ch->peak,
				      memory_order_relaxed);
		atomic_store_explicit(&ch->pub_sumsq, ch->sumsq,
				      memory_order_relaxed);
		ch->peak = 0;
		ch->sumsq = 0;
	}
	atomic_store_explicit(&m->seq, s + 2, memory_order_release);
}

/* RT. @n frames, all inside the current window. */
static void accumulate(struct meter *m, const int32_t *f, unsigned int n)
{
	unsigned int i, c, nch = m->nch;

	for (i = 0; i < n; i++, f += nch) {
		for (c = 0; c < nch; c++) {
			/* 24-bit value: the low byte is below the meter's
			 * resolution, and dropping it keeps the square in
			 * 47 bits. */
			int32_t v = f[c] >> 8;
			uint32_t a = v < 0 ? (uint32_t)-v : (uint32_t)v;

			if (a > m->ch[c].peak)
				m->ch[c].peak = a;
			m->ch[c].sumsq += (uint64_t)((int64_t)v * v);
		}
	}
}

void meter_feed(struct meter *m, const int32_t *frames, unsigned int n)
{
	while (n) {
		uint32_t k = m->window - m->filled;

		if (k > n)
			k = n;
		accumulate(m, frames, k);
		frames += (size_t)k * m->nch;
		n -= k;
		m->filled += k;
		if (m->filled == m->window) {
			publish(m);
			m->filled = 0;
		}
	}
}

static double db(double ratio, double scale)
{
	return ratio > 0 ? scale * log10(ratio) : -INFINITY;
}

void meter_read(const struct meter *m, struct meter_snapshot *out)
{
	struct meter *w = (struct meter *)m;
	uint32_t peak[METER_MAX_CHANNELS];
	uint64_t sumsq[METER_MAX_CHANNELS];
	uint64_t s1, s2;
	unsigned int c;

	/* A publish takes a few hundred ns every 50 ms: a retry is rare and
	 * the next try succeeds. */
	do {
		s1 = atomic_load_explicit(&w->seq, memory_order_acquire);
		for (c = 0; c < m->nch; c++) {
			peak[c] = atomic_load_explicit(&w->ch[c].pub_peak,
						       memory_order_relaxed);
			sumsq[c] = atomic_load_explicit(&w->ch[c].pub_sumsq,
							memory_order_relaxed);
		}
		atomic_thread_fence(memory_order_acquire);
		s2 = atomic_load_explicit(&w->seq, memory_order_relaxed);
	} while ((s1 & 1) || s1 != s2);
	out->updates = s1 / 2;
	out->nch = m->nch;
	for (c = 0; c < m->nch; c++) {
		double ms = (double)sumsq[c] / m->window;

		out->ch[c].peak_dbfs = db(peak[c] / METER_FULL_SCALE, 20.0);
		out->ch[c].rms_dbfs =
		    db(ms / (METER_FULL_SCALE * METER_FULL_SCALE), 10.0);
	}
}

static json_t *level_json(double dbfs)
{
	if (isinf(dbfs))
		return json_null();
	/* + 0.0: a full-scale peak, -0.000001 dB, reads 0.0, not -0.0 */
	return json_real(round(dbfs * 100.0) / 100.0 + 0.0);
}

json_t *meter_json(const struct meter *m, const char *name)
{
	struct meter_snapshot snap;
	json_t *chans = json_array();
	unsigned int c;

	meter_read(m, &snap);
	for (c = 0; c < snap.nch; c++) {
		const struct meter_level *lv = &snap.ch[c];

		json_array_append_new(
		    chans, json_pack("{s:i,s:o,s:o}", "channel", c + 1,
				     "peak_dbfs", level_json(lv->peak_dbfs),
				     "rms_dbfs", level_json(lv->rms_dbfs)));
	}
	return json_pack("{s:s,s:I,s:o}", "name", name, "updates",
			 (json_int_t)snap.updates, "channels", chans);
}
