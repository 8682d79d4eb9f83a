/* Unit tests for the timestamp-indexed jitter buffer: order, loss, reorder,
 * duplicates, late and early packets, the 32-bit timestamp wrap, and that a
 * frame from an earlier lap of the ring never comes back. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "node/jbuf.h"

#define CH  2
#define FPP 8 /* frames per test packet */

/* The sample a sender puts in channel @c of the frame stamped @ts; never 0,
 * so a zero-filled frame cannot pass for a real one. */
static int32_t sample(uint32_t ts, unsigned int c, uint32_t salt)
{
	return (int32_t)(((ts * 2654435761u) ^ salt ^ (c << 28)) | 0x100);
}

static void fill(int32_t *buf, uint32_t ts, unsigned int frames, uint32_t salt)
{
	unsigned int i, c;

	for (i = 0; i < frames; i++)
		for (c = 0; c < CH; c++)
			buf[i * CH + c] = sample(ts + i, c, salt);
}

static enum jbuf_put_result put(struct jbuf *jb, uint32_t ts,
				unsigned int frames, uint32_t salt)
{
	int32_t buf[256 * CH];

	assert_true(frames <= 256);
	fill(buf, ts, frames, salt);
	return jbuf_put(jb, ts, buf, frames);
}

/* Frame @i of @out is the sender's frame @ts (with @salt). */
static void assert_frame(const int32_t *out, unsigned int i, uint32_t ts,
			 uint32_t salt)
{
	unsigned int c;

	for (c = 0; c < CH; c++)
		assert_int_equal(out[i * CH + c], sample(ts, c, salt));
}

static void assert_zero_frame(const int32_t *out, unsigned int i)
{
	unsigned int c;

	for (c = 0; c < CH; c++)
		assert_int_equal(out[i * CH + c], 0);
}

/* Every test but the first gets a 64-frame buffer in *state; teardown frees
 * it even when an assertion ends the test early. */
static int setup64(void **state)
{
	*state = jbuf_new(CH, 64);
	return *state ? 0 : -1;
}

static int teardown(void **state)
{
	jbuf_destroy(*state);
	return 0;
}

static struct jbuf *at(void **state, uint32_t read_ts)
{
	struct jbuf *jb = *state;

	assert_int_equal(jbuf_capacity(jb), 64);
	jbuf_reset(jb, read_ts);
	assert_int_equal(jbuf_read_ts(jb), read_ts);
	return jb;
}

static void test_jbuf_rounds_capacity_up_to_64_frames(void **state)
{
	struct jbuf *jb;

	jb = jbuf_new(1, 1);
	assert_non_null(jb);
	assert_int_equal(jbuf_capacity(jb), 64);
	jbuf_destroy(jb);
	jb = jbuf_new(8, 100);
	assert_non_null(jb);
	assert_int_equal(jbuf_capacity(jb), 128);
	jbuf_destroy(jb);
	jb = jbuf_new(2, 4096);
	assert_non_null(jb);
	assert_int_equal(jbuf_capacity(jb), 4096);
	jbuf_destroy(jb);
	/* a subscription's 2 ms + 100 ms + a packet: not 8 192 */
	jb = jbuf_new(8, 5616);
	assert_non_null(jb);
	assert_int_equal(jbuf_capacity(jb), 5632);
	jbuf_destroy(jb);
	assert_null(jbuf_new(0, 64));
	assert_null(jbuf_new(2, 0));
	assert_null(jbuf_new(2, (1u << 24) + 1));
	jbuf_destroy(NULL);
}

static void test_jbuf_in_order_packets_come_out_unchanged(void **state)
{
	struct jbuf *jb = at(state, 1000);
	int32_t out[3 * FPP * CH];
	unsigned int i;

	assert_int_equal(put(jb, 1000, FPP, 0), JBUF_OK);
	assert_int_equal(put(jb, 1008, FPP, 0), JBUF_OK);
	assert_int_equal(put(jb, 1016, FPP, 0), JBUF_OK);
	/* Read in pieces that do not line up with the packets. */
	assert_int_equal(jbuf_get(jb, out, 5), 0);
	assert_int_equal(jbuf_get(jb, out + 5 * CH, 19), 0);
	for (i = 0; i < 3 * FPP; i++)
		assert_frame(out, i, 1000 + i, 0);
	assert_int_equal(jbuf_read_ts(jb), 1024);
}

static void test_jbuf_zero_fills_lost_packet(void **state)
{
	struct jbuf *jb = at(state, 1000);
	int32_t out[3 * FPP * CH];
	unsigned int i;

	assert_int_equal(put(jb, 1000, FPP, 0), JBUF_OK);
	assert_int_equal(put(jb, 1016, FPP, 0), JBUF_OK);
	memset(out, 0x7f, sizeof(out));
	assert_int_equal(jbuf_get(jb, out, 3 * FPP), FPP);
	for (i = 0; i < FPP; i++) {
		assert_frame(out, i, 1000 + i, 0);
		assert_zero_frame(out, FPP + i);
		assert_frame(out, 2 * FPP + i, 1016 + i, 0);
	}
	/* Nothing at all: every frame is missing. */
	assert_int_equal(jbuf_get(jb, out, 10), 10);
	for (i = 0; i < 10; i++)
		assert_zero_frame(out, i);
}

static void test_jbuf_reordered_packets_come_out_in_ts_order(void **state)
{
	struct jbuf *jb = at(state, 1000);
	int32_t out[4 * FPP * CH];
	unsigned int i;

	assert_int_equal(put(jb, 1024, FPP, 0), JBUF_OK);
	assert_int_equal(put(jb, 1008, FPP, 0), JBUF_OK);
	assert_int_equal(put(jb, 1016, FPP, 0), JBUF_OK);
	assert_int_equal(put(jb, 1000, FPP, 0), JBUF_OK);
	assert_int_equal(jbuf_get(jb, out, 4 * FPP), 0);
	for (i = 0; i < 4 * FPP; i++)
		assert_frame(out, i, 1000 + i, 0);
}

static void test_jbuf_duplicate_is_reported_and_keeps_first(void **state)
{
	struct jbuf *jb = at(state, 1000);
	int32_t out[2 * FPP * CH];
	unsigned int i;

	assert_int_equal(put(jb, 1000, FPP, 1), JBUF_OK);
	assert_int_equal(put(jb, 1000, FPP, 2), JBUF_DUPLICATE);
	/* Half old, half new: stored (the new half), the old half kept. */
	assert_int_equal(put(jb, 1004, FPP, 3), JBUF_OK);
	assert_int_equal(jbuf_get(jb, out, 12), 0);
	for (i = 0; i < FPP; i++)
		assert_frame(out, i, 1000 + i, 1);
	for (i = FPP; i < 12; i++)
		assert_frame(out, i, 1000 + i, 3);
}

static void test_jbuf_packet_behind_read_position_is_late(void **state)
{
	struct jbuf *jb = at(state, 1000);
	int32_t out[2 * FPP * CH];

	assert_int_equal(jbuf_get(jb, out, FPP), FPP); /* read_ts 1008 */
	assert_int_equal(put(jb, 1000, FPP, 0), JBUF_LATE);
	assert_int_equal(put(jb, 990, FPP, 0), JBUF_LATE);
	/* Far behind, as from a stream that jumped back. */
	assert_int_equal(put(jb, 1008 - 0x40000000u, FPP, 0), JBUF_LATE);
	assert_int_equal(jbuf_get(jb, out, 2 * FPP), 2 * FPP);
}

static void test_jbuf_partly_late_packet_stores_the_rest(void **state)
{
	struct jbuf *jb = at(state, 1000);
	int32_t out[2 * FPP * CH];
	unsigned int i;

	assert_int_equal(jbuf_get(jb, out, FPP), FPP); /* read_ts 1008 */
	/* Frames 1004..1011: the first four are behind the reader. */
	assert_int_equal(put(jb, 1004, FPP, 0), JBUF_PARTLY_LATE);
	assert_int_equal(jbuf_get(jb, out, 2 * FPP), 2 * FPP - 4);
	for (i = 0; i < 4; i++)
		assert_frame(out, i, 1008 + i, 0);
	for (i = 4; i < 2 * FPP; i++)
		assert_zero_frame(out, i);
}

static void test_jbuf_packet_beyond_capacity_is_early(void **state)
{
	struct jbuf *jb = at(state, 1000);
	int32_t out[64 * CH];
	unsigned int i;

	/* The last packet that fits ends exactly at read_ts + capacity. */
	assert_int_equal(put(jb, 1000 + 64 - FPP, FPP, 0), JBUF_OK);
	assert_int_equal(put(jb, 1000 + 64 - FPP + 1, FPP, 0), JBUF_EARLY);
	assert_int_equal(put(jb, 1000 + 64, FPP, 0), JBUF_EARLY);
	assert_int_equal(put(jb, 1000 + 100000, FPP, 0), JBUF_EARLY);
	assert_int_equal(put(jb, 1000 + 0x7FFFFFF0u, FPP, 0), JBUF_EARLY);
	/* None of the early ones landed anywhere in the ring. */
	assert_int_equal(jbuf_get(jb, out, 64), 64 - FPP);
	for (i = 0; i < 64 - FPP; i++)
		assert_zero_frame(out, i);
	for (i = 64 - FPP; i < 64; i++)
		assert_frame(out, i, 1000 + i, 0);
	assert_int_equal(jbuf_get(jb, out, 64), 64);
}

static void test_jbuf_put_longer_than_capacity_is_early(void **state)
{
	struct jbuf *jb = at(state, 1000);
	int32_t out[80 * CH];

	/* 70 frames at the read position: the last 6 are past the reader's
	 * reach, so the packet cannot be stored as a whole. */
	assert_int_equal(put(jb, 1000, 70, 0), JBUF_EARLY);
	assert_int_equal(jbuf_get(jb, out, 64), 64);
}

static void test_jbuf_orders_packets_across_ts_wrap(void **state)
{
	const uint32_t start = 0xFFFFFFF0u;
	struct jbuf *jb = at(state, start);
	int32_t out[5 * FPP * CH];
	unsigned int i;

	/* Out of order, and one packet straddling 0xFFFFFFFF -> 0. */
	assert_int_equal(put(jb, 0x00000004u, FPP, 0), JBUF_OK);
	assert_int_equal(put(jb, 0xFFFFFFFCu, FPP, 0), JBUF_OK);
	assert_int_equal(put(jb, 0xFFFFFFF0u, FPP, 0), JBUF_OK);
	assert_int_equal(put(jb, 0x00000014u, FPP, 0), JBUF_OK);
	/* Half new (F8..FB), half already there (FC..FF). */
	assert_int_equal(put(jb, 0xFFFFFFF8u, FPP, 0), JBUF_OK);
	assert_int_equal(put(jb, 0xFFFFFFFCu, FPP, 1), JBUF_DUPLICATE);
	/* 0x0C..0x13 never came. */
	assert_int_equal(jbuf_get(jb, out, 5 * FPP), FPP);
	for (i = 0; i < 5 * FPP; i++) {
		uint32_t ts = start + i;

		if (ts >= 0x0Cu && ts < 0x14u)
			assert_zero_frame(out, i);
		else
			assert_frame(out, i, ts, 0);
	}
	assert_int_equal(jbuf_read_ts(jb), 0x00000018u);
	/* Behind the reader across the wrap is late, not far ahead. */
	assert_int_equal(put(jb, 0xFFFFFFF8u, FPP, 0), JBUF_LATE);
	assert_int_equal(put(jb, 0x00000014u, FPP, 0), JBUF_PARTLY_LATE);
}

static void test_jbuf_reset_forgets_stored_frames(void **state)
{
	struct jbuf *jb = at(state, 1000);
	int32_t out[2 * FPP * CH];
	unsigned int i;

	assert_int_equal(put(jb, 1000, FPP, 0), JBUF_OK);
	assert_int_equal(put(jb, 1008, FPP, 0), JBUF_OK);
	jbuf_reset(jb, 1000);
	assert_int_equal(jbuf_read_ts(jb), 1000);
	assert_int_equal(jbuf_get(jb, out, 2 * FPP), 2 * FPP);
	for (i = 0; i < 2 * FPP; i++)
		assert_zero_frame(out, i);
	/* After a reset to a new place, the new place fills normally. */
	jbuf_reset(jb, 500000);
	assert_int_equal(jbuf_read_ts(jb), 500000);
	assert_int_equal(put(jb, 1000, FPP, 0), JBUF_LATE);
	assert_int_equal(put(jb, 500000, FPP, 0), JBUF_OK);
	assert_int_equal(jbuf_get(jb, out, FPP), 0);
	for (i = 0; i < FPP; i++)
		assert_frame(out, i, 500000 + i, 0);
}

static void test_jbuf_never_returns_frame_from_previous_lap(void **state)
{
	struct jbuf *jb = at(state, 1000);
	int32_t out[64 * CH];
	unsigned int i;

	assert_int_equal(put(jb, 1000, FPP, 0), JBUF_OK);
	assert_int_equal(jbuf_get(jb, out, FPP), 0);
	/* The rest of the lap, with nothing put. */
	assert_int_equal(jbuf_get(jb, out, 64 - FPP), 64 - FPP);
	/* read_ts 1064 maps to the slots of 1000..1007. */
	assert_int_equal(jbuf_read_ts(jb), 1064);
	memset(out, 0x7f, sizeof(out));
	assert_int_equal(jbuf_get(jb, out, FPP), FPP);
	for (i = 0; i < FPP; i++)
		assert_zero_frame(out, i);
}

static void test_jbuf_late_packet_one_lap_behind_is_not_stored(void **state)
{
	struct jbuf *jb = at(state, 1000);
	int32_t out[64 * CH];
	unsigned int i;

	assert_int_equal(jbuf_get(jb, out, 64), 64); /* read_ts 1064 */
	/* Same slots as the frames about to be read. */
	assert_int_equal(put(jb, 1000, FPP, 0), JBUF_LATE);
	assert_int_equal(put(jb, 1064 - 4, FPP, 5), JBUF_PARTLY_LATE);
	assert_int_equal(jbuf_get(jb, out, FPP), 4);
	for (i = 0; i < 4; i++)
		assert_frame(out, i, 1064 + i, 5);
	for (i = 4; i < FPP; i++)
		assert_zero_frame(out, i);
}

static void test_jbuf_get_larger_than_capacity_clears_every_slot(void **state)
{
	struct jbuf *jb = at(state, 1000);
	int32_t out[200 * CH];
	unsigned int i;

	assert_int_equal(put(jb, 1000, FPP, 0), JBUF_OK);
	assert_int_equal(put(jb, 1056, FPP, 0), JBUF_OK);
	assert_int_equal(jbuf_get(jb, out, 200), 200 - 2 * FPP);
	for (i = 0; i < FPP; i++) {
		assert_frame(out, i, 1000 + i, 0);
		assert_frame(out, 56 + i, 1056 + i, 0);
		/* A lap later the same slots are empty. */
		assert_zero_frame(out, 64 + i);
		assert_zero_frame(out, 120 + i);
	}
	assert_int_equal(jbuf_read_ts(jb), 1200);
}

/* A buffer of 192 frames (not a power of two) against a model indexed by
 * position: random puts (late, partly late, early, duplicate, in and out
 * of order), gets and seeks both ways, across the timestamp wrap. Every
 * put's result and every frame got must be the model's. */
#define MODEL_CAP 192
#define MODEL_LEN 400000
static uint32_t model_rand(uint32_t *x)
{
	*x = *x * 1664525u + 1013904223u;
	return *x >> 8;
}

static void test_jbuf_matches_a_model_at_a_capacity_not_a_power_of_two(
    void **state)
{
	static uint32_t salt_at[MODEL_LEN]; /* 0: no frame at that position */
	const uint32_t ts0 = 0xFFFFF000u;   /* position p is ts0 + p */
	struct jbuf *jb = jbuf_new(CH, 150);
	int32_t out[256 * CH];
	uint32_t x = 12345, read = 1000, salt = 1, p;
	unsigned int op, i;

	(void)state;
	assert_non_null(jb);
	assert_int_equal(jbuf_capacity(jb), MODEL_CAP);
	memset(salt_at, 0, sizeof(salt_at));
	jbuf_reset(jb, ts0 + read);
	for (op = 0; op < 20000 && read + 600 < MODEL_LEN; op++) {
		uint32_t r = model_rand(&x) % 10;

		if (r < 6) { /* put */
			int32_t d = (int32_t)(model_rand(&x) % 300) - 60;
			unsigned int n = 1 + model_rand(&x) % 48, first, stored = 0;
			enum jbuf_put_result want;

			salt++;
			first = d < 0 ? (unsigned int)-d : 0;
			if (d + (int32_t)n <= 0) {
				want = JBUF_LATE;
			} else if (d + (int32_t)n > MODEL_CAP) {
				want = JBUF_EARLY;
			} else {
				for (i = first; i < n; i++) {
					p = read + (uint32_t)d + i;
					if (!salt_at[p]) {
						salt_at[p] = salt;
						stored++;
					}
				}
				want = first ? JBUF_PARTLY_LATE
				       : stored ? JBUF_OK
						: JBUF_DUPLICATE;
			}
			assert_int_equal(put(jb, ts0 + read + (uint32_t)d, n,
					     salt),
					 want);
		} else if (r < 9) { /* get */
			unsigned int n = 1 + model_rand(&x) % 100, missing = 0;

			for (i = 0; i < n; i++)
				missing += !salt_at[read + i];
			assert_int_equal(jbuf_get(jb, out, n), missing);
			for (i = 0; i < n; i++) {
				p = read + i;
				if (salt_at[p])
					assert_frame(out, i, ts0 + p,
						     salt_at[p]);
				else
					assert_zero_frame(out, i);
				salt_at[p] = 0;
			}
			read += n;
		} else { /* seek, either way, within a capacity or not */
			int32_t d = (int32_t)(model_rand(&x) % 500) - 250;
			uint32_t to;

			if (read < 1000)
				d = -d; /* positions stay in the model */
			to = read + (uint32_t)d;

			/* frames are only in [read, read + capacity): what
			 * falls out of [to, to + capacity) is gone */
			for (p = read; p < read + MODEL_CAP; p++)
				if (p < to || p >= to + MODEL_CAP)
					salt_at[p] = 0;
			jbuf_seek(jb, ts0 + to);
			read = to;
		}
		assert_int_equal(jbuf_read_ts(jb), ts0 + read);
	}
	assert_true(op > 5000);
	jbuf_destroy(jb);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_jbuf_rounds_capacity_up_to_64_frames),
	    cmocka_unit_test(
		test_jbuf_matches_a_model_at_a_capacity_not_a_power_of_two),
	    cmocka_unit_test_setup_teardown(
		test_jbuf_in_order_packets_come_out_unchanged, setup64,
		teardown),
	    cmocka_unit_test_setup_teardown(test_jbuf_zero_fills_lost_packet,
					    setup64, teardown),
	    cmocka_unit_test_setup_teardown(
		test_jbuf_reordered_packets_come_out_in_ts_order, setup64,
		teardown),
	    cmocka_unit_test_setup_teardown(
		test_jbuf_duplicate_is_reported_and_keeps_first, setup64,
		teardown),
	    cmocka_unit_test_setup_teardown(
		test_jbuf_packet_behind_read_position_is_late, setup64,
		teardown),
	    cmocka_unit_test_setup_teardown(
		test_jbuf_partly_late_packet_stores_the_rest, setup64,
		teardown),
	    cmocka_unit_test_setup_teardown(
		test_jbuf_packet_beyond_capacity_is_early, setup64, teardown),
	    cmocka_unit_test_setup_teardown(
		test_jbuf_put_longer_than_capacity_is_early, setup64, teardown),
	    cmocka_unit_test_setup_teardown(
		test_jbuf_orders_packets_across_ts_wrap, setup64, teardown),
	    cmocka_unit_test_setup_teardown(
		test_jbuf_reset_forgets_stored_frames, setup64, teardown),
	    cmocka_unit_test_setup_teardown(
		test_jbuf_never_returns_frame_from_previous_lap, setup64,
		teardown),
	    cmocka_unit_test_setup_teardown(
		test_jbuf_late_packet_one_lap_behind_is_not_stored, setup64,
		teardown),
	    cmocka_unit_test_setup_teardown(
		test_jbuf_get_larger_than_capacity_clears_every_slot, setup64,
		teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
