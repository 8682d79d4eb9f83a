/* Peak and RMS meters. The media thread is the only writer: it sums in
 * plain integers and, at a window's end, copies the sums into per-channel
 * atomics inside a seqlock (sequence odd while it writes). The control
 * thread reads the atomics between two equal, even sequence values, so a
 * snapshot never mixes two windows, and the writer never waits: a reader
 * that overlaps a publish simply reads again. Chosen over one atomic per
 * channel alone because a stereo pair must come from the same window; the
 * sequence doubles as the count of windows published.
 *
 * Summing is the media thread's only work a sample, so it is written for
 * gcc -O2 to vectorise (SSE2, NEON; on x86-64 also built for AVX2 and
 * picked where the CPU has it, common/simd.h). The interleaved frames of a call are
 * one run of samples read in rows of m->lanes, a multiple of both the
 * channel count and 8 (8 for 1, 2, 4 or 8 channels, 24 for 6, 64 for
 * 64), so column l of every row holds channel l % nch; each group of 8
 * columns is summed in local accumulators over all rows, a loop of a
 * fixed 8 lanes that the vectoriser takes whole, and folded into its
 * channels once per call. Samples after the last whole row go one at a
 * time. The sums stay exact, so how frames are split into calls changes
 * nothing: a square of a 24-bit value is below 2^47 and exact in a
 * double, and a column sums at most METER_ROWS of them (2^53 at most). */
#include "node/meter.h"
#include "common/mem.h"
#include "common/simd.h"

#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>

/* Rows a column sums before it is folded (see above): 128 * 2^46. */
#define METER_ROWS 128
#define METER_COLS 8

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
	unsigned int lanes;   /* samples in a row: nch * 8 / gcd(nch, 8) */
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
	m = mem_calloc_held(1, sizeof(*m) + nch * sizeof(m->ch[0]));
	if (!m)
		return NULL;
	m->nch = nch;
	m->lanes = nch;
	while (m->lanes % METER_COLS)
		m->lanes += nch;
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

/* The 24-bit value of a left-justified sample: the low byte is below
 * the meter's resolution. */
static inline int32_t sample24(int32_t v)
{
	return v >> 8;
}

static inline void take(struct meter_chan *ch, int32_t v)
{
	int32_t a = v < 0 ? -v : v; /* |-2^23| fits */

	if ((uint32_t)a > ch->peak)
		ch->peak = (uint32_t)a;
	ch->sumsq += (uint64_t)((int64_t)v * v);
}

/* RT. Columns @s[0..7] of @rows rows @stride samples apart: the largest
 * magnitude and the sum of squares of each column. Two loops, since gcc
 * vectorises a loop whose lanes are all one width. */
D4_CLONES static void columns(const int32_t *restrict s, size_t stride,
			       size_t rows,
		    int32_t *restrict peak, double *restrict sumsq)
{
	int32_t p[METER_COLS] = {0};
	double q[METER_COLS] = {0};
	const int32_t *r;
	size_t i;
	unsigned int j;

	/* Unrolled, the 8 lanes become two (SSE2, NEON) or one (AVX2)
	 * vector of accumulators held in registers across the rows. */
	for (i = 0, r = s; i < rows; i++, r += stride) {
#pragma GCC unroll 8
		for (j = 0; j < METER_COLS; j++) {
			int32_t v = sample24(r[j]);
			int32_t a = v < 0 ? -v : v;

			p[j] = a > p[j] ? a : p[j];
		}
	}
	for (i = 0, r = s; i < rows; i++, r += stride) {
#pragma GCC unroll 8
		for (j = 0; j < METER_COLS; j++) {
			double v = sample24(r[j]);

			q[j] += v * v;
		}
	}
	for (j = 0; j < METER_COLS; j++) {
		peak[j] = p[j];
		sumsq[j] = q[j];
	}
}

/* RT. @n frames (at most METER_ROWS), all inside the current window. */
static void accumulate(struct meter *m, const int32_t *f, unsigned int n)
{
	size_t total = (size_t)n * m->nch, rows = total / m->lanes, i;
	unsigned int g, j, c = 0;

	for (g = 0; g < m->lanes; g += METER_COLS) {
		int32_t peak[METER_COLS];
		double sumsq[METER_COLS];

		columns(f + g, m->lanes, rows, peak, sumsq);
		for (j = 0; j < METER_COLS; j++) {
			struct meter_chan *ch = &m->ch[c];

			if ((uint32_t)peak[j] > ch->peak)
				ch->peak = (uint32_t)peak[j];
			ch->sumsq += (uint64_t)sumsq[j];
			if (++c == m->nch)
				c = 0;
		}
	}
	/* Rows start on frames, so sample i is channel i % nch. */
	for (i = rows * m->lanes, c = 0; i < total; i++) {
		take(&m->ch[c], sample24(f[i]));
		if (++c == m->nch)
			c = 0;
	}
}

void meter_feed(struct meter *m, const int32_t *frames, unsigned int n)
{
	while (n) {
		uint32_t k = m->window - m->filled;

		if (k > n)
			k = n;
		if (k > METER_ROWS)
			k = METER_ROWS;
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
