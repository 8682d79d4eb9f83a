/* Unit tests for the SPSC ring: capacity, counts, partial transfers, the wrap
 * around the end of the buffer, skip, and a real two-thread hand-over. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>
#include <sched.h>
#include <string.h>

#include "common/ring.h"

/* 12 bytes: not a power of two, so element offsets are really multiplied. */
struct elem {
	uint32_t seq;
	uint32_t inv;
	uint32_t tag;
};

static struct elem mk(uint32_t seq)
{
	struct elem e = {seq, ~seq, seq * 2654435761u};

	return e;
}

static void assert_elem(const struct elem *e, uint32_t seq)
{
	assert_int_equal(e->seq, seq);
	assert_int_equal(e->inv, ~seq);
	assert_int_equal(e->tag, seq * 2654435761u);
}

static void test_ring_rounds_capacity_up_to_power_of_two(void **state)
{
	static const uint32_t cases[][2] = {
	    {1, 1},  {2, 2},	   {3, 4},	 {5, 8},       {8, 8},
	    {9, 16}, {1000, 1024}, {1024, 1024}, {1025, 2048}, {96000, 131072},
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct ring *r = ring_new(sizeof(struct elem), cases[i][0]);

		assert_non_null(r);
		assert_int_equal(ring_capacity(r), cases[i][1]);
		assert_int_equal(ring_writable(r), cases[i][1]);
		assert_int_equal(ring_readable(r), 0);
		ring_destroy(r);
	}
}

static void test_ring_rejects_zero_sizes_and_huge_counts(void **state)
{
	assert_null(ring_new(0, 8));
	assert_null(ring_new(4, 0));
	assert_null(ring_new(1, (1u << 30) + 1));
	ring_destroy(NULL); /* must cope */
}

static void test_ring_reads_back_in_write_order(void **state)
{
	struct ring *r = ring_new(sizeof(struct elem), 16);
	struct elem in[10], out[10];
	uint32_t i;

	for (i = 0; i < 10; i++)
		in[i] = mk(100 + i);
	assert_int_equal(ring_write(r, in, 10), 10);
	memset(out, 0, sizeof(out));
	assert_int_equal(ring_read(r, out, 4), 4);
	assert_int_equal(ring_read(r, out + 4, 6), 6);
	for (i = 0; i < 10; i++)
		assert_elem(&out[i], 100 + i);
	assert_int_equal(ring_read(r, out, 1), 0);
	ring_destroy(r);
}

static void test_ring_counts_readable_and_writable(void **state)
{
	struct ring *r = ring_new(sizeof(struct elem), 8);
	struct elem buf[8];
	uint32_t i;

	for (i = 0; i < 8; i++)
		buf[i] = mk(i);
	assert_int_equal(ring_write(r, buf, 3), 3);
	assert_int_equal(ring_readable(r), 3);
	assert_int_equal(ring_writable(r), 5);
	assert_int_equal(ring_read(r, buf, 2), 2);
	assert_int_equal(ring_readable(r), 1);
	assert_int_equal(ring_writable(r), 7);
	assert_int_equal(ring_write(r, buf, 7), 7);
	assert_int_equal(ring_readable(r), 8);
	assert_int_equal(ring_writable(r), 0);
	ring_destroy(r);
}

static void test_ring_write_when_full_is_partial(void **state)
{
	struct ring *r = ring_new(sizeof(struct elem), 8);
	struct elem in[12], out[12];
	uint32_t i;

	for (i = 0; i < 12; i++)
		in[i] = mk(i);
	assert_int_equal(ring_write(r, in, 5), 5);
	/* Only three of the next five fit. */
	assert_int_equal(ring_write(r, in + 5, 5), 3);
	assert_int_equal(ring_writable(r), 0);
	assert_int_equal(ring_write(r, in + 8, 4), 0);
	assert_int_equal(ring_readable(r), 8);
	/* A read asking for more than is there gets what is there. */
	assert_int_equal(ring_read(r, out, 12), 8);
	for (i = 0; i < 8; i++)
		assert_elem(&out[i], i);
	assert_int_equal(ring_readable(r), 0);
	assert_int_equal(ring_writable(r), 8);
	ring_destroy(r);
}

static void test_ring_wraps_around_end_of_buffer(void **state)
{
	struct ring *r = ring_new(sizeof(struct elem), 8);
	struct elem in[8], out[8];
	uint32_t seq = 0, expect = 0, lap, i;

	/* Offsets 6, 7 then 0..4: every write and read straddles the end at
	 * some point as the start offset walks round. */
	for (lap = 0; lap < 40; lap++) {
		uint32_t n = 1 + (lap * 5) % 8;

		for (i = 0; i < n; i++)
			in[i] = mk(seq++);
		assert_int_equal(ring_write(r, in, n), n);
		assert_int_equal(ring_readable(r), n);
		memset(out, 0, sizeof(out));
		assert_int_equal(ring_read(r, out, n), n);
		for (i = 0; i < n; i++)
			assert_elem(&out[i], expect++);
	}
	ring_destroy(r);
}

static void test_ring_write_straddling_end_reads_back_whole(void **state)
{
	struct ring *r = ring_new(sizeof(struct elem), 8);
	struct elem in[8], out[8];
	uint32_t i;

	for (i = 0; i < 8; i++)
		in[i] = mk(i);
	assert_int_equal(ring_write(r, in, 6), 6);
	assert_int_equal(ring_read(r, out, 6), 6);
	/* Head at offset 6: 2 elements before the end, 5 after it. */
	for (i = 0; i < 7; i++)
		in[i] = mk(1000 + i);
	assert_int_equal(ring_write(r, in, 7), 7);
	assert_int_equal(ring_readable(r), 7);
	assert_int_equal(ring_writable(r), 1);
	memset(out, 0, sizeof(out));
	assert_int_equal(ring_read(r, out, 8), 7);
	for (i = 0; i < 7; i++)
		assert_elem(&out[i], 1000 + i);
	ring_destroy(r);
}

static void test_ring_skip_drops_oldest_without_copying(void **state)
{
	struct ring *r = ring_new(sizeof(struct elem), 8);
	struct elem in[8], out[8];
	uint32_t i;

	assert_int_equal(ring_skip(r, 3), 0);
	for (i = 0; i < 5; i++)
		in[i] = mk(i);
	assert_int_equal(ring_write(r, in, 5), 5);
	assert_int_equal(ring_skip(r, 2), 2);
	assert_int_equal(ring_readable(r), 3);
	assert_int_equal(ring_writable(r), 5);
	assert_int_equal(ring_read(r, out, 1), 1);
	assert_elem(&out[0], 2);
	/* Skipping more than is there drops what is there. */
	assert_int_equal(ring_skip(r, 10), 2);
	assert_int_equal(ring_readable(r), 0);
	assert_int_equal(ring_writable(r), 8);
	/* The ring goes on working after the skip moved the tail. */
	for (i = 0; i < 8; i++)
		in[i] = mk(50 + i);
	assert_int_equal(ring_write(r, in, 8), 8);
	assert_int_equal(ring_read(r, out, 8), 8);
	for (i = 0; i < 8; i++)
		assert_elem(&out[i], 50 + i);
	ring_destroy(r);
}

#define SPSC_TOTAL 1000000u

struct spsc {
	struct ring *r;
	uint32_t errors; /* consumer: elements out of sequence or torn */
	uint32_t received;
};

static void *producer(void *arg)
{
	struct spsc *t = arg;
	struct elem batch[37];
	uint32_t seq = 0, k = 0;

	while (seq < SPSC_TOTAL) {
		uint32_t n = 1 + (k++ * 7) % 37, i, put;

		if (n > SPSC_TOTAL - seq)
			n = SPSC_TOTAL - seq;
		for (i = 0; i < n; i++)
			batch[i] = mk(seq + i);
		put = ring_write(t->r, batch, n);
		seq += put; /* the rest is made again next round */
		if (put < n)
			sched_yield();
	}
	return NULL;
}

static void *consumer(void *arg)
{
	struct spsc *t = arg;
	struct elem batch[53];
	uint32_t expect = 0, k = 0;

	while (expect < SPSC_TOTAL) {
		uint32_t want = 1 + (k++ * 11) % 53, i, got;

		got = ring_read(t->r, batch, want);
		for (i = 0; i < got; i++) {
			const struct elem *e = &batch[i];

			if (e->seq != expect || e->inv != ~expect ||
			    e->tag != expect * 2654435761u)
				t->errors++;
			expect++;
		}
		if (got == 0)
			sched_yield();
	}
	t->received = expect;
	return NULL;
}

static void test_ring_threads_move_million_elements_in_order(void **state)
{
	struct spsc t = {.r = ring_new(sizeof(struct elem), 64)};
	pthread_t prod, cons;

	assert_non_null(t.r);
	assert_int_equal(pthread_create(&cons, NULL, consumer, &t), 0);
	assert_int_equal(pthread_create(&prod, NULL, producer, &t), 0);
	assert_int_equal(pthread_join(prod, NULL), 0);
	assert_int_equal(pthread_join(cons, NULL), 0);
	assert_int_equal(t.received, SPSC_TOTAL);
	assert_int_equal(t.errors, 0);
	assert_int_equal(ring_readable(t.r), 0);
	ring_destroy(t.r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_ring_rounds_capacity_up_to_power_of_two),
	    cmocka_unit_test(test_ring_rejects_zero_sizes_and_huge_counts),
	    cmocka_unit_test(test_ring_reads_back_in_write_order),
	    cmocka_unit_test(test_ring_counts_readable_and_writable),
	    cmocka_unit_test(test_ring_write_when_full_is_partial),
	    cmocka_unit_test(test_ring_wraps_around_end_of_buffer),
	    cmocka_unit_test(test_ring_write_straddling_end_reads_back_whole),
	    cmocka_unit_test(test_ring_skip_drops_oldest_without_copying),
	    cmocka_unit_test(test_ring_threads_move_million_elements_in_order),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
