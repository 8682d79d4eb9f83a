/* Unit tests for the RX channel bus: two subscriptions at different
 * latencies, feeding different RX channels in chunks of their own, reach
 * one recording each at its own timestamps; RX channels nothing feeds are
 * zero; a write after its hand-on is dropped and counted; a clock step
 * starts the bus over; a switch between two ports at a position (their
 * windows) is exact to the sample. The recorder is the real one, writing a WAV file
 * under a mkdtemp directory that is removed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <sndfile.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "node/recorder.h"
#include "node/rxbus.h"
#include "ptp/mclock.h"

#define RATE  48000
#define T0_NS (1000ull * NSEC_PER_SEC) /* where the clock starts */
#define FRAMES 4800			 /* the recording: 100 ms */

static char path[64];

/* Stream @s, channel @c, at position @x: distinct everywhere, never 0, in
 * the 24 bits a 24-bit file keeps. */
static int32_t sample(unsigned int s, uint64_t x, unsigned int c)
{
	uint32_t v = (uint32_t)(x * 2654435761u) ^ (s + 1) * 0x9E3779B9u ^
		     (c + 1) * 0x85EBCA6Bu;

	return (int32_t)((v | 0x100u) & 0xFFFFFF00u);
}

/* A stream of @ch channels played out at latency @lat_ns in chunks of
 * @chunk, as sub_playout does, into @port up to @now_ns. */
struct feeder {
	unsigned int id, ch, chunk;
	uint64_t lat, x;
	uint64_t first; /* the stream's first sample's position, or 0 */
	struct rxbus_port port;
};

static void feed_until(struct feeder *f, uint64_t now_ns)
{
	int32_t buf[64 * 8];
	uint64_t target = mclock_ns_to_samples(now_ns, RATE) -
			  mclock_ns_to_samples(f->lat, RATE);

	while (f->x < target) {
		unsigned int n = target - f->x < f->chunk
				     ? (unsigned int)(target - f->x)
				     : f->chunk;
		unsigned int i, c;

		for (i = 0; i < n; i++)
			for (c = 0; c < f->ch; c++)
				buf[i * f->ch + c] =
				    f->x + i >= f->first
					? sample(f->id, f->x + i, c)
					: 0;
		rxbus_port_feed(&f->port, f->x, buf, f->ch, n,
				f->first ? f->first : UINT64_MAX);
		f->x += n;
	}
}

static struct recorder *open_rec(uint64_t start_x, unsigned int nch,
				 const uint8_t *chans)
{
	struct recorder_config cfg = {
	    .format = SF_FORMAT_WAV | SF_FORMAT_PCM_24,
	    .rate = RATE,
	    .nch = nch,
	    .start = START_AT,
	    .start_ns = mclock_samples_to_ns(start_x, RATE),
	    .duration_ns = mclock_samples_to_ns(FRAMES, RATE),
	};
	char err[256];
	struct recorder *rec;

	snprintf(cfg.name, sizeof(cfg.name), "rx");
	snprintf(cfg.path, sizeof(cfg.path), "%s/rx.wav", path);
	memcpy(cfg.chans, chans, nch);
	rec = recorder_open(&cfg, err, sizeof(err));
	assert_non_null(rec);
	return rec;
}

static int32_t *read_back(unsigned int nch)
{
	SF_INFO info = {0};
	SNDFILE *sf;
	int32_t *buf = calloc((size_t)FRAMES * nch, sizeof(int32_t));
	char file[96];

	snprintf(file, sizeof(file), "%s/rx.wav", path);
	sf = sf_open(file, SFM_READ, &info);
	assert_non_null(sf);
	assert_int_equal(info.channels, nch);
	assert_int_equal(info.frames, FRAMES);
	assert_int_equal(sf_readf_int(sf, buf, FRAMES), FRAMES);
	sf_close(sf);
	unlink(file);
	return buf;
}

/* Run the bus and @nf feeders from T0 until the recording is complete,
 * in steps of @step_ns, feeders first as in the media thread. */
static void run(struct rxbus *b, struct recorder *rec, struct feeder *f,
		unsigned int nf, uint64_t step_ns)
{
	uint64_t now = T0_NS, end = T0_NS + 2 * NSEC_PER_SEC;
	unsigned int i;

	rxbus_start(b, now);
	for (i = 0; i < nf; i++)
		f[i].x = mclock_ns_to_samples(now - f[i].lat, RATE);
	for (; now < end && !recorder_io_drain(rec); now += step_ns) {
		for (i = 0; i < nf; i++)
			feed_until(&f[i], now);
		rxbus_playout(b, now);
	}
	assert_true(now < end);
}

/* RX 1-2 from stream 0 (2 ch, 1 ms), RX 4 from channel 3 of stream 1
 * (8 ch, 20 ms); RX 3 unfed. The sink records RX 1-4. */
static void test_two_routes_one_recording(void **state)
{
	struct rxbus *b = rxbus_new(8, RATE);
	uint8_t chans[4] = {0, 1, 2, 3};
	uint64_t start_x = mclock_ns_to_samples(T0_NS, RATE) + 100;
	struct feeder f[2] = {
	    {.id = 0, .ch = 2, .chunk = 48, .lat = 1000000,
	     .port = {.map = {.n = 2, .rx = {0, 1}, .stream_ch = {0, 1}}}},
	    {.id = 1, .ch = 8, .chunk = 256, .lat = 20000000,
	     .port = {.map = {.n = 1, .rx = {3}, .stream_ch = {3}}}},
	};
	struct recorder *rec;
	int32_t *got;
	unsigned int i;

	assert_non_null(b);
	f[0].port.bus = f[1].port.bus = b;
	rec = open_rec(start_x, 4, chans);
	assert_int_equal(rxbus_add_recorder(b, rec), 0);
	run(b, rec, f, 2, 333 * 1000);
	recorder_close(rec);
	got = read_back(4);
	for (i = 0; i < FRAMES; i++) {
		uint64_t x = start_x + i;

		assert_int_equal(got[i * 4 + 0], sample(0, x, 0));
		assert_int_equal(got[i * 4 + 1], sample(0, x, 1));
		assert_int_equal(got[i * 4 + 2], 0);
		assert_int_equal(got[i * 4 + 3], sample(1, x, 3));
	}
	assert_int_equal(rxbus_dropped(b), 0);
	free(got);
	rxbus_destroy(b);
}

/* A write behind the hand-on (a route whose latency exceeds the bus
 * delay cannot exist; a clock step can do it) is dropped and counted. */
static void test_late_write_dropped(void **state)
{
	struct rxbus *b = rxbus_new(2, RATE);
	struct rxbus_port p = {.bus = b, .map = {.n = 1, .rx = {1}, .stream_ch = {0}}};
	int32_t buf[100] = {0};
	uint64_t x;

	assert_non_null(b);
	rxbus_start(b, T0_NS);
	rxbus_playout(b, T0_NS + NSEC_PER_SEC / 100);
	x = mclock_ns_to_samples(T0_NS, RATE) -
	    mclock_ns_to_samples(RXBUS_DELAY_NS, RATE);
	/* [x, x + 100) is behind the hand-on: 10 ms = 480 frames went. */
	rxbus_port_feed(&p, x, buf, 1, 100, UINT64_MAX);
	assert_int_equal(rxbus_dropped(b), 100);
	/* Half of these are behind. */
	rxbus_port_feed(&p, x + 480 - 50, buf, 1, 100, UINT64_MAX);
	assert_int_equal(rxbus_dropped(b), 150);
	rxbus_destroy(b);
}

/* After a clock step the bus hands on from the new time; the recording
 * goes on, contiguous (recorder_resync). */
static void test_resync_starts_over(void **state)
{
	struct rxbus *b = rxbus_new(2, RATE);
	uint8_t chans[2] = {0, 1};
	struct feeder f = {.id = 2, .ch = 2, .chunk = 48, .lat = 1000000,
			   .port = {.map = {.n = 2, .rx = {0, 1}, .stream_ch = {0, 1}}}};
	uint64_t now = T0_NS, step = 10ull * NSEC_PER_SEC;
	struct recorder *rec;
	int32_t *got;
	unsigned int i, nonzero = 0;

	assert_non_null(b);
	f.port.bus = b;
	rec = open_rec(mclock_ns_to_samples(T0_NS, RATE), 2, chans);
	assert_int_equal(rxbus_add_recorder(b, rec), 0);
	rxbus_start(b, now);
	f.x = mclock_ns_to_samples(now - f.lat, RATE);
	for (i = 0; i < 200; i++, now += NSEC_PER_SEC / 1000) {
		feed_until(&f, now);
		rxbus_playout(b, now);
	}
	/* The clock jumps 10 s ahead. */
	now += step;
	rxbus_resync(b, now);
	f.x = mclock_ns_to_samples(now - f.lat, RATE);
	for (; !recorder_io_drain(rec); now += NSEC_PER_SEC / 1000) {
		feed_until(&f, now);
		rxbus_playout(b, now);
	}
	recorder_close(rec);
	got = read_back(2);
	for (i = 0; i < FRAMES; i++)
		nonzero += got[i * 2] != 0;
	/* The file is whole and nothing was zero-filled by the jump: the
	 * frames after it are the stream's samples at their new positions. */
	assert_int_equal(nonzero, FRAMES);
	assert_int_equal(rxbus_dropped(b), 0);
	free(got);
	rxbus_destroy(b);
}

/* A recording of RX channels with start = first begins at the first
 * sample a route delivered, not at the zeros played before it. */
static void test_start_first_waits_for_a_route(void **state)
{
	struct rxbus *b = rxbus_new(2, RATE);
	uint8_t chans[2] = {0, 1};
	struct feeder f = {.id = 3, .ch = 2, .chunk = 48, .lat = 4000000,
			   .port = {.map = {.n = 2, .rx = {0, 1}, .stream_ch = {0, 1}}}};
	struct recorder_config cfg = {
	    .format = SF_FORMAT_WAV | SF_FORMAT_PCM_24,
	    .rate = RATE,
	    .nch = 2,
	    .start = START_FIRST,
	    .duration_ns = mclock_samples_to_ns(FRAMES, RATE),
	};
	struct recorder *rec;
	char err[256];
	int32_t *got;
	unsigned int i;

	assert_non_null(b);
	f.port.bus = b;
	/* the stream's first sample comes 0.3 s after the bus starts */
	f.first = mclock_ns_to_samples(T0_NS, RATE) + 14400;
	snprintf(cfg.name, sizeof(cfg.name), "rx");
	snprintf(cfg.path, sizeof(cfg.path), "%s/rx.wav", path);
	memcpy(cfg.chans, chans, 2);
	rec = recorder_open(&cfg, err, sizeof(err));
	assert_non_null(rec);
	assert_int_equal(rxbus_add_recorder(b, rec), 0);
	run(b, rec, &f, 1, 1000 * 1000);
	assert_int_equal(recorder_start_x(rec), f.first);
	recorder_close(rec);
	got = read_back(2);
	for (i = 0; i < FRAMES; i++)
		assert_int_equal(got[i * 2 + 1], sample(3, f.first + i, 1));
	free(got);
	rxbus_destroy(b);
}

static void test_bad_sizes(void **state)
{
	assert_null(rxbus_new(0, RATE));
	assert_null(rxbus_new(RXBUS_MAX_CHANNELS + 1, RATE));
	assert_null(rxbus_new(2, 0));
}

static int group_setup(void **state)
{
	snprintf(path, sizeof(path), "/tmp/d4-test-rxbus-XXXXXX");
	return mkdtemp(path) ? 0 : -1;
}

static int group_teardown(void **state)
{
	return rmdir(path);
}

/* A switch at a sample (IS-05): stream 0 fills RX 1-2 until position S,
 * stream 1 from S on; both feed the same RX channels all along, at two
 * latencies in chunks of their own. The recording is stream 0 before S
 * and stream 1 from S, to the sample: with the later writer each way
 * round, so that both ends of the windows are what decides. */
static void switch_at(uint64_t lat0, uint64_t lat1)
{
	struct rxbus *b = rxbus_new(2, RATE);
	uint8_t chans[2] = {0, 1};
	uint64_t start_x = mclock_ns_to_samples(T0_NS, RATE) + 100;
	uint64_t s = start_x + 1237; /* inside a chunk of each */
	struct feeder f[2] = {
	    {.id = 0, .ch = 2, .chunk = 48, .lat = lat0,
	     .port = {.map = {.n = 2, .rx = {0, 1}, .stream_ch = {0, 1}}}},
	    {.id = 1, .ch = 2, .chunk = 100, .lat = lat1,
	     .port = {.map = {.n = 2, .rx = {0, 1}, .stream_ch = {0, 1}},
		      .from_x = s}},
	};
	struct recorder *rec;
	int32_t *got;
	unsigned int i;

	assert_non_null(b);
	f[0].port.bus = f[1].port.bus = b;
	atomic_store(&f[0].port.until_x, s);
	rec = open_rec(start_x, 2, chans);
	assert_int_equal(rxbus_add_recorder(b, rec), 0);
	run(b, rec, f, 2, 250 * 1000);
	recorder_close(rec);
	got = read_back(2);
	for (i = 0; i < FRAMES; i++) {
		uint64_t x = start_x + i;
		unsigned int from = x < s ? 0 : 1;

		assert_int_equal(got[i * 2 + 0], sample(from, x, 0));
		assert_int_equal(got[i * 2 + 1], sample(from, x, 1));
	}
	assert_int_equal(rxbus_dropped(b), 0);
	free(got);
	rxbus_destroy(b);
}

static void test_switch_at_a_sample(void **state)
{
	switch_at(20000000, 1000000); /* the old stream writes last */
	switch_at(1000000, 20000000); /* the new one does */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_two_routes_one_recording),
	    cmocka_unit_test(test_late_write_dropped),
	    cmocka_unit_test(test_resync_starts_over),
	    cmocka_unit_test(test_start_first_waits_for_a_route),
	    cmocka_unit_test(test_bad_sizes),
	    cmocka_unit_test(test_switch_at_a_sample),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
