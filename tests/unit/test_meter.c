/* Unit tests for the audio meters: levels of known sines against 24-bit full
 * scale, silence, the window length, windows split across calls of odd
 * sizes, every channel count against a sample-by-sample sum, and that
 * readers see a window only once it is complete. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "node/meter.h"

#define RATE 48000
#define CH   2
/* 10 log10(1/2): a sine's RMS below its peak. */
#define SINE_RMS_DB (-3.0102999566398120)

/* Tolerances. Every test sine has a whole number of cycles in a window
 * (1 kHz: 50 cycles in 50 ms at 44.1, 48 and 96 kHz), so its mean square
 * is exactly amp^2 / 2; a sample falls on a crest at 48 and 96 kHz and
 * within 0.025 samples of one at 44.1 kHz (6e-5 dB). 24-bit rounding adds
 * at most half an LSB on an amplitude of >= 83886 LSB (5e-5 dB), and the
 * full-scale sine's 8388607 LSB against the 8388608 of 0 dBFS 1e-6 dB.
 * 0.001 dB is ten times the worst of these and still fails on any error
 * of scale (6.02 dB a bit) or window length. */
#define TOL_DB 0.001

static void sine(int32_t *buf, unsigned int nch, unsigned int c,
		 unsigned int frames, uint32_t rate, double freq, double dbfs,
		 unsigned int phase0)
{
	double amp = pow(10.0, dbfs / 20.0) * 8388607.0;
	unsigned int i;

	/* as the tone source makes them: 24-bit, left-justified */
	for (i = 0; i < frames; i++)
		buf[i * nch + c] =
		    (int32_t)lrint(amp *
				   sin(2 * M_PI * freq * (i + phase0) / rate)) *
		    256;
}

static int32_t *frames_new(unsigned int frames, unsigned int nch)
{
	int32_t *b = calloc((size_t)frames * nch, sizeof(*b));

	assert_non_null(b);
	return b;
}

static void assert_db(double got, double want)
{
	if (fabs(got - want) > TOL_DB)
		fail_msg("level %.6f dBFS, want %.6f +- %g", got, want, TOL_DB);
}

static void test_meter_full_scale_sine_peaks_0_rms_minus_3_01(void **state)
{
	static const uint32_t rates[] = {44100, 48000, 96000};
	unsigned int r;

	for (r = 0; r < 3; r++) {
		struct meter *m = meter_new(CH, rates[r]);
		uint32_t w = meter_window_frames(m);
		int32_t *buf = frames_new(w, CH);
		struct meter_snapshot s;

		sine(buf, CH, 0, w, rates[r], 1000, 0, 0);
		sine(buf, CH, 1, w, rates[r], 1000, -20, 0);
		meter_feed(m, buf, w);
		meter_read(m, &s);
		assert_int_equal(s.updates, 1);
		assert_int_equal(s.nch, CH);
		assert_db(s.ch[0].peak_dbfs, 0.0);
		assert_db(s.ch[0].rms_dbfs, SINE_RMS_DB);
		assert_db(s.ch[1].peak_dbfs, -20.0);
		assert_db(s.ch[1].rms_dbfs, -20.0 + SINE_RMS_DB);
		free(buf);
		meter_destroy(m);
	}
}

static void test_meter_window_is_50_ms_of_frames(void **state)
{
	struct meter *m = meter_new(1, 44100);

	assert_int_equal(meter_window_frames(m), 2205);
	meter_destroy(m);
	m = meter_new(1, 48000);
	assert_int_equal(meter_window_frames(m), 2400);
	meter_destroy(m);
	m = meter_new(1, 96000);
	assert_int_equal(meter_window_frames(m), 4800);
	meter_destroy(m);
}

static void test_meter_new_refuses_bad_channel_counts(void **state)
{
	assert_null(meter_new(0, RATE));
	assert_null(meter_new(METER_MAX_CHANNELS + 1, RATE));
	assert_null(meter_new(1, 0));
	meter_destroy(meter_new(METER_MAX_CHANNELS, RATE));
}

static void test_meter_silence_is_minus_infinity(void **state)
{
	struct meter *m = meter_new(CH, RATE);
	uint32_t w = meter_window_frames(m);
	int32_t *buf = frames_new(w, CH);
	struct meter_snapshot s;

	/* before any window: nothing measured yet, also -inf */
	meter_read(m, &s);
	assert_int_equal(s.updates, 0);
	assert_true(isinf(s.ch[0].peak_dbfs) && s.ch[0].peak_dbfs < 0);
	meter_feed(m, buf, w);
	meter_read(m, &s);
	assert_int_equal(s.updates, 1);
	assert_true(isinf(s.ch[0].peak_dbfs) && s.ch[0].peak_dbfs < 0);
	assert_true(isinf(s.ch[0].rms_dbfs) && s.ch[0].rms_dbfs < 0);
	assert_true(isinf(s.ch[1].rms_dbfs) && s.ch[1].rms_dbfs < 0);
	free(buf);
	meter_destroy(m);
}

/* The extremes of 24 bits: -2^23 is exactly 0 dBFS, and taking its
 * magnitude must not overflow. */
static void test_meter_most_negative_sample_is_0_dbfs(void **state)
{
	struct meter *m = meter_new(CH, RATE);
	uint32_t w = meter_window_frames(m);
	int32_t *buf = frames_new(w, CH);
	struct meter_snapshot s;

	buf[7 * CH] = INT32_MIN;
	buf[9 * CH + 1] = INT32_MAX; /* 8388607 in 24 bits */
	meter_feed(m, buf, w);
	meter_read(m, &s);
	assert_true(s.ch[0].peak_dbfs == 0.0);
	assert_db(s.ch[1].peak_dbfs, 20 * log10(8388607.0 / 8388608.0));
	/* one full-scale sample in 2400: 10 log10(1/2400) */
	assert_db(s.ch[0].rms_dbfs, -10 * log10(2400.0));
	free(buf);
	meter_destroy(m);
}

/* RMS is over the whole window: a sine in half of it is 3.01 dB lower. */
static void test_meter_rms_averages_over_the_window(void **state)
{
	struct meter *m = meter_new(1, RATE);
	uint32_t w = meter_window_frames(m);
	int32_t *buf = frames_new(w, 1);
	struct meter_snapshot s;

	sine(buf, 1, 0, w / 2, RATE, 1000, -6, 0);
	meter_feed(m, buf, w);
	meter_read(m, &s);
	assert_db(s.ch[0].peak_dbfs, -6.0);
	assert_db(s.ch[0].rms_dbfs, -6.0 + SINE_RMS_DB + SINE_RMS_DB);
	free(buf);
	meter_destroy(m);
}

/* Chunks of odd sizes give exactly what one call gives, and a chunk that
 * crosses a window's end publishes that window and starts the next. */
static void test_meter_window_split_across_odd_calls(void **state)
{
	static const unsigned int sizes[] = {1, 7, 13, 331, 997, 2, 500};
	struct meter *whole = meter_new(CH, RATE), *split = meter_new(CH, RATE);
	uint32_t w = meter_window_frames(whole);
	int32_t *buf = frames_new(2 * w, CH);
	struct meter_snapshot a, b;
	unsigned int done = 0, k = 0;

	sine(buf, CH, 0, w, RATE, 1000, 0, 0);
	sine(buf, CH, 1, w, RATE, 1000, -20, 0);
	/* the second window: other levels */
	sine(buf + (size_t)w * CH, CH, 0, w, RATE, 1000, -40, 0);
	sine(buf + (size_t)w * CH, CH, 1, w, RATE, 1000, -10, 0);
	meter_feed(whole, buf, w);
	meter_read(whole, &a);

	/* 1 + 7 + 13 + 331 + 997 + 2 + 500 = 1851 frames, then 331-frame
	 * chunks: one straddles the end of the first window. */
	while (done < 2 * w) {
		unsigned int n = k < 7 ? sizes[k] : 331;

		if (n > 2 * w - done)
			n = 2 * w - done;
		meter_feed(split, buf + (size_t)done * CH, n);
		done += n;
		k++;
		meter_read(split, &b);
		if (done < w) {
			assert_int_equal(b.updates, 0);
		} else if (done < 2 * w) {
			assert_int_equal(b.updates, 1);
			assert_memory_equal(a.ch, b.ch, CH * sizeof(a.ch[0]));
		}
	}
	meter_read(split, &b);
	assert_int_equal(b.updates, 2);
	assert_db(b.ch[0].peak_dbfs, -40.0);
	assert_db(b.ch[0].rms_dbfs, -40.0 + SINE_RMS_DB);
	assert_db(b.ch[1].peak_dbfs, -10.0);
	assert_db(b.ch[1].rms_dbfs, -10.0 + SINE_RMS_DB);
	free(buf);
	meter_destroy(whole);
	meter_destroy(split);
}

static void test_meter_publishes_only_at_window_end(void **state)
{
	struct meter *m = meter_new(CH, RATE);
	uint32_t w = meter_window_frames(m);
	int32_t *buf = frames_new(w, CH), *quiet = frames_new(w, CH);
	struct meter_snapshot first, s;

	sine(buf, CH, 0, w, RATE, 1000, 0, 0);
	sine(buf, CH, 1, w, RATE, 1000, -20, 0);
	meter_feed(m, buf, w - 1);
	meter_read(m, &s);
	assert_int_equal(s.updates, 0);
	meter_feed(m, buf + (size_t)(w - 1) * CH, 1);
	meter_read(m, &first);
	assert_int_equal(first.updates, 1);
	assert_db(first.ch[0].peak_dbfs, 0.0);

	/* a window of silence, all but its last frame: nothing changes */
	meter_feed(m, quiet, w - 1);
	meter_read(m, &s);
	assert_int_equal(s.updates, 1);
	assert_memory_equal(first.ch, s.ch, CH * sizeof(s.ch[0]));
	meter_feed(m, quiet, 1);
	meter_read(m, &s);
	assert_int_equal(s.updates, 2);
	assert_true(isinf(s.ch[0].peak_dbfs) && isinf(s.ch[1].rms_dbfs));
	free(buf);
	free(quiet);
	meter_destroy(m);
}

/* What the meter must give, summed one sample at a time: the levels of
 * one window of @nch channels, computed as meter_read does. */
static void reference(const int32_t *buf, unsigned int nch, uint32_t w,
		      struct meter_level *out)
{
	unsigned int c;
	uint32_t i;

	for (c = 0; c < nch; c++) {
		uint64_t peak = 0, sumsq = 0;

		for (i = 0; i < w; i++) {
			int64_t v = buf[(size_t)i * nch + c] >> 8;
			uint64_t a = (uint64_t)(v < 0 ? -v : v);

			peak = a > peak ? a : peak;
			sumsq += (uint64_t)(v * v);
		}
		out[c].peak_dbfs =
		    peak ? 20.0 * log10(peak / METER_FULL_SCALE) : -INFINITY;
		out[c].rms_dbfs =
		    sumsq ? 10.0 * log10((double)sumsq / w /
					 (METER_FULL_SCALE * METER_FULL_SCALE))
			  : -INFINITY;
	}
}

/* A sample of channel @c at frame @i: each channel its own level and
 * sign pattern, the 24-bit extremes now and then, and bits below the
 * 24 that the meter must ignore. */
static int32_t test_sample(unsigned int c, uint32_t i, uint32_t *rng)
{
	int32_t amp = (int32_t)(8388607 >> (c % 23)), v;

	*rng = *rng * 1664525u + 1013904223u;
	if ((*rng >> 8) % 997 == c)
		return (*rng & 1) ? INT32_MIN : INT32_MAX;
	v = (int32_t)((*rng >> 9) % (2u * (uint32_t)amp + 1)) - amp;
	return (int32_t)((uint32_t)v << 8 | (*rng & 0xff));
}

/* Every channel count, fed in calls of every kind of size (a sample, a
 * packet, more than a column sums at once, a tail that is not a whole
 * row), gives each channel exactly the levels a sample-by-sample sum
 * gives: no channel's samples land in another's sums, none is lost. */
static void test_meter_every_channel_count_matches_a_plain_sum(void **state)
{
	static const unsigned int calls[] = {1, 48, 6, 300, 129, 7, 2400};
	unsigned int nch, c;
	uint32_t rng = 1;

	for (nch = 1; nch <= METER_MAX_CHANNELS; nch++) {
		struct meter *m = meter_new(nch, RATE);
		uint32_t w = meter_window_frames(m), done = 0, i;
		int32_t *buf = frames_new(w, nch);
		struct meter_level want[METER_MAX_CHANNELS];
		struct meter_snapshot s;
		unsigned int k = 0;

		for (i = 0; i < w; i++)
			for (c = 0; c < nch; c++)
				buf[(size_t)i * nch + c] =
				    test_sample(c, i, &rng);
		reference(buf, nch, w, want);
		while (done < w) {
			uint32_t n = calls[k++ % 7];

			if (n > w - done)
				n = w - done;
			meter_feed(m, buf + (size_t)done * nch, n);
			done += n;
		}
		meter_read(m, &s);
		assert_int_equal(s.updates, 1);
		for (c = 0; c < nch; c++) {
			if (s.ch[c].peak_dbfs != want[c].peak_dbfs ||
			    s.ch[c].rms_dbfs != want[c].rms_dbfs)
				fail_msg("%u channels, channel %u: peak %.9f "
					 "rms %.9f, want %.9f %.9f",
					 nch, c + 1, s.ch[c].peak_dbfs,
					 s.ch[c].rms_dbfs, want[c].peak_dbfs,
					 want[c].rms_dbfs);
		}
		free(buf);
		meter_destroy(m);
	}
}

/* Full-scale square waves on every channel for a whole window: the
 * largest sums there are stay exact (2^46 a sample, 2400 of them). */
static void test_meter_full_scale_sums_stay_exact(void **state)
{
	struct meter *m = meter_new(8, RATE);
	uint32_t w = meter_window_frames(m), i;
	int32_t *buf = frames_new(w, 8);
	struct meter_level want[8];
	struct meter_snapshot s;
	unsigned int c;

	for (i = 0; i < w; i++)
		for (c = 0; c < 8; c++)
			buf[i * 8 + c] = (i + c) % 2 ? INT32_MIN : 0x7FFFFF00;
	reference(buf, 8, w, want);
	meter_feed(m, buf, w);
	meter_read(m, &s);
	for (c = 0; c < 8; c++) {
		assert_true(s.ch[c].peak_dbfs == 0.0);
		assert_true(s.ch[c].rms_dbfs == want[c].rms_dbfs);
	}
	free(buf);
	meter_destroy(m);
}

static void test_meter_json_has_levels_and_null_for_silence(void **state)
{
	struct meter *m = meter_new(CH, RATE);
	uint32_t w = meter_window_frames(m);
	int32_t *buf = frames_new(w, CH);
	json_t *j, *c;

	sine(buf, CH, 0, w, RATE, 1000, -6, 0);
	meter_feed(m, buf, w);
	meter_feed(m, buf, w);
	j = meter_json(m, "main");
	assert_non_null(j);
	assert_string_equal(json_string_value(json_object_get(j, "name")),
			    "main");
	assert_int_equal(json_integer_value(json_object_get(j, "updates")), 2);
	assert_int_equal(json_array_size(json_object_get(j, "channels")), CH);
	c = json_array_get(json_object_get(j, "channels"), 0);
	assert_int_equal(json_integer_value(json_object_get(c, "channel")), 1);
	/* rounded to 0.01 dB */
	assert_true(json_real_value(json_object_get(c, "peak_dbfs")) == -6.0);
	assert_true(json_real_value(json_object_get(c, "rms_dbfs")) == -9.01);
	c = json_array_get(json_object_get(j, "channels"), 1);
	assert_int_equal(json_integer_value(json_object_get(c, "channel")), 2);
	assert_true(json_is_null(json_object_get(c, "peak_dbfs")));
	assert_true(json_is_null(json_object_get(c, "rms_dbfs")));
	json_decref(j);
	free(buf);
	meter_destroy(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_meter_full_scale_sine_peaks_0_rms_minus_3_01),
	    cmocka_unit_test(test_meter_window_is_50_ms_of_frames),
	    cmocka_unit_test(test_meter_new_refuses_bad_channel_counts),
	    cmocka_unit_test(test_meter_silence_is_minus_infinity),
	    cmocka_unit_test(test_meter_most_negative_sample_is_0_dbfs),
	    cmocka_unit_test(test_meter_rms_averages_over_the_window),
	    cmocka_unit_test(test_meter_window_split_across_odd_calls),
	    cmocka_unit_test(test_meter_publishes_only_at_window_end),
	    cmocka_unit_test(
		test_meter_every_channel_count_matches_a_plain_sum),
	    cmocka_unit_test(test_meter_full_scale_sums_stay_exact),
	    cmocka_unit_test(test_meter_json_has_levels_and_null_for_silence),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
