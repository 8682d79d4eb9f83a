/* Unit tests for the timestamp-aligned recorder: each start mode puts the
 * right media position at frame 0, frame i is position T0 + i whatever the
 * chunking, a duration ends the file on the exact frame, file channels pick
 * the right stream channels, and 16/24-bit files hold exact sample values.
 * Files go to a mkdtemp directory under /tmp and are removed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sndfile.h>
#include <stdio.h>
#include <sys/resource.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "node/recorder.h"
#include "ptp/mclock.h"

#define STREAM_CH 3
#define MAX_CHUNK 4096

static char tmpdir[64];

struct ctx {
	struct recorder *rec;
	struct recorder_config cfg;
	int32_t *stream; /* MAX_CHUNK frames of STREAM_CH */
	int32_t *file;	 /* what the file holds, after read_file() */
	SF_INFO info;
	uint32_t mask; /* bits the file format keeps */
};

/* Stream channel @c at media position @x: distinct per position and
 * channel, full scale in both directions and -1 LSB now and then. */
static int32_t stream_sample(uint64_t x, unsigned int c, uint32_t mask)
{
	uint64_t h = (x + 31 * c) % 97;

	if (h == 0)
		return (int32_t)(0x7FFFFFFFu & mask);
	if (h == 1)
		return INT32_MIN;
	if (h == 2)
		return (int32_t)mask; /* -1 in the file's bit depth */
	return (int32_t)(((uint32_t)x * 2654435761u + (c + 1) * 0x9E3779B9u) &
			 mask);
}

static int group_setup(void **state)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/d4-test-recorder-XXXXXX");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int group_teardown(void **state)
{
	return rmdir(tmpdir);
}

static int setup(void **state)
{
	struct ctx *t = calloc(1, sizeof(*t));

	if (!t)
		return -1;
	t->stream = calloc((size_t)MAX_CHUNK * STREAM_CH, sizeof(int32_t));
	if (!t->stream) {
		free(t);
		return -1;
	}
	snprintf(t->cfg.name, sizeof(t->cfg.name), "rec");
	snprintf(t->cfg.path, sizeof(t->cfg.path), "%s/out.wav", tmpdir);
	t->cfg.format = SF_FORMAT_WAV | SF_FORMAT_PCM_24;
	t->cfg.rate = 48000;
	t->cfg.nch = 2;
	t->cfg.chans[0] = 2;
	t->cfg.chans[1] = 0;
	t->cfg.start = START_NOW;
	t->mask = 0xFFFFFF00u;
	*state = t;
	return 0;
}

static int teardown(void **state)
{
	struct ctx *t = *state;

	recorder_close(t->rec);
	unlink(t->cfg.path);
	free(t->stream);
	free(t->file);
	free(t);
	return 0;
}

static void open_rec(struct ctx *t)
{
	char err[256] = "";

	t->rec = recorder_open(&t->cfg, err, sizeof(err));
	if (!t->rec)
		fail_msg("recorder_open: %s", err);
}

/* Feed positions [x, x + n) in one call, each frame STREAM_CH wide. */
static void feed(struct ctx *t, uint64_t x, unsigned int n,
		 uint64_t first_data_x)
{
	unsigned int i, c;

	assert_true(n <= MAX_CHUNK);
	for (i = 0; i < n; i++)
		for (c = 0; c < STREAM_CH; c++)
			t->stream[i * STREAM_CH + c] =
			    stream_sample(x + i, c, t->mask);
	recorder_feed(t->rec, x, t->stream, STREAM_CH, n, first_data_x);
}

/* Feed [from, to) in chunks of irregular sizes, draining as the file thread
 * would. */
static void feed_range(struct ctx *t, uint64_t from, uint64_t to,
		       uint64_t first_data_x)
{
	static const unsigned int sizes[] = {7,	   333, 1,  600,  59,
					     1024, 2,	48, 4096, 13};
	unsigned int k = 0;

	while (from < to) {
		unsigned int n =
		    sizes[k++ % (sizeof(sizes) / sizeof(sizes[0]))];

		if (n > to - from)
			n = (unsigned int)(to - from);
		feed(t, from, n, first_data_x);
		from += n;
		recorder_io_drain(t->rec);
	}
}

static void close_and_read(struct ctx *t)
{
	SNDFILE *sf;
	sf_count_t got;

	recorder_close(t->rec);
	t->rec = NULL;
	memset(&t->info, 0, sizeof(t->info));
	sf = sf_open(t->cfg.path, SFM_READ, &t->info);
	assert_non_null(sf);
	assert_int_equal(t->info.channels, t->cfg.nch);
	assert_int_equal(t->info.samplerate, t->cfg.rate);
	t->file =
	    calloc((size_t)t->info.frames * t->cfg.nch + 1, sizeof(int32_t));
	assert_non_null(t->file);
	got = sf_readf_int(sf, t->file, t->info.frames);
	sf_close(sf);
	assert_int_equal(got, t->info.frames);
}

/* File frames [0, n) are stream positions [x0, x0 + n) through the channel
 * map. */
static void assert_file_is(const struct ctx *t, uint64_t x0, uint64_t n)
{
	uint64_t i;
	unsigned int c;

	assert_int_equal(t->info.frames, n);
	for (i = 0; i < n; i++)
		for (c = 0; c < t->cfg.nch; c++) {
			int32_t want =
			    stream_sample(x0 + i, t->cfg.chans[c], t->mask);
			int32_t got = t->file[i * t->cfg.nch + c];

			if (got != want)
				fail_msg("frame %llu ch %u: got 0x%08x, want "
					 "0x%08x (position %llu)",
					 (unsigned long long)i, c,
					 (unsigned int)got, (unsigned int)want,
					 (unsigned long long)(x0 + i));
		}
}

static void test_recorder_start_at_aligns_frame_i_to_t0_plus_i(void **state)
{
	struct ctx *t = *state;
	const uint64_t t0 = 1795000000ull * 48000 + 12345;

	t->cfg.start = START_AT;
	t->cfg.start_ns = mclock_samples_to_ns(t0, t->cfg.rate);
	assert_int_equal(mclock_ns_to_samples(t->cfg.start_ns, t->cfg.rate),
			 t0);
	open_rec(t);
	/* Before T0: dropped, even with stream data already there. */
	feed_range(t, t0 - 1000, t0 - 3, t0 - 2000);
	assert_int_equal(recorder_frames_written(t->rec), 0);
	/* One chunk straddling T0, then irregular chunks. */
	feed(t, t0 - 3, 10, t0 - 2000);
	feed_range(t, t0 + 7, t0 + 9000, t0 - 2000);
	recorder_io_drain(t->rec);
	assert_int_equal(recorder_start_x(t->rec), t0);
	assert_int_equal(recorder_frames_written(t->rec), 9000);
	assert_int_equal(recorder_overflows(t->rec), 0);
	close_and_read(t);
	assert_file_is(t, t0, 9000);
}

static void test_recorder_start_at_in_future_records_nothing_yet(void **state)
{
	struct ctx *t = *state;
	const uint64_t t0 = 5000000;

	t->cfg.start = START_AT;
	t->cfg.start_ns = mclock_samples_to_ns(t0, t->cfg.rate);
	open_rec(t);
	feed_range(t, t0 - 4800, t0, 0);
	assert_false(recorder_io_drain(t->rec));
	assert_int_equal(recorder_frames_written(t->rec), 0);
	close_and_read(t);
	assert_int_equal(t->info.frames, 0);
}

static void test_recorder_start_first_waits_for_first_data(void **state)
{
	struct ctx *t = *state;
	const uint64_t x0 = 1000000, first = x0 + 537;

	t->cfg.start = START_FIRST;
	open_rec(t);
	assert_int_equal(recorder_start_x(t->rec), UINT64_MAX);
	feed_range(t, x0, x0 + 500, UINT64_MAX);
	assert_int_equal(recorder_start_x(t->rec), UINT64_MAX);
	assert_int_equal(recorder_frames_written(t->rec), 0);
	/* The first data lands inside the next chunk. */
	feed(t, x0 + 500, 100, first);
	feed_range(t, x0 + 600, x0 + 3000, first);
	recorder_io_drain(t->rec);
	assert_int_equal(recorder_start_x(t->rec), first);
	close_and_read(t);
	assert_file_is(t, first, x0 + 3000 - first);
}

static void test_recorder_start_now_starts_at_first_fed_position(void **state)
{
	struct ctx *t = *state;
	const uint64_t x0 = 777777;

	t->cfg.start = START_NOW;
	open_rec(t);
	/* The stream's first data comes later; START_NOW does not wait. */
	feed_range(t, x0, x0 + 2500, x0 + 100);
	assert_int_equal(recorder_start_x(t->rec), x0);
	close_and_read(t);
	assert_file_is(t, x0, 2500);
}

static void test_recorder_stops_after_exact_duration(void **state)
{
	struct ctx *t = *state;
	const uint32_t rate = 44100;
	const uint64_t t0 = 1795000000ull * rate + 99;
	const uint64_t dur_ns = 12345678; /* 544.4 samples at 44.1 kHz */
	const uint64_t dur = mclock_ns_to_samples(dur_ns, rate);
	uint64_t x = t0 - 250;

	assert_int_equal(dur, 544);
	t->cfg.rate = rate;
	t->cfg.start = START_AT;
	t->cfg.start_ns = mclock_samples_to_ns(t0, rate);
	t->cfg.duration_ns = dur_ns;
	open_rec(t);
	/* Chunks of 100 up to the last one that ends before T0 + dur. */
	while (x + 100 < t0 + dur) {
		feed(t, x, 100, t0);
		assert_false(recorder_io_drain(t->rec));
		x += 100;
	}
	/* This chunk holds the last frame: the recording is complete. */
	feed(t, x, 100, t0);
	assert_true(recorder_io_drain(t->rec));
	assert_int_equal(recorder_frames_written(t->rec), dur);
	/* Later positions change nothing. */
	feed(t, x + 100, 100, t0);
	assert_true(recorder_io_drain(t->rec));
	assert_int_equal(recorder_frames_written(t->rec), dur);
	close_and_read(t);
	assert_file_is(t, t0, dur);
}

static void test_recorder_completes_when_chunk_ends_on_last_frame(void **state)
{
	struct ctx *t = *state;
	const uint64_t x0 = 4242;
	const uint64_t dur = mclock_ns_to_samples(10 * 1000 * 1000, 48000);

	assert_int_equal(dur, 480);
	t->cfg.start = START_NOW;
	t->cfg.duration_ns = 10 * 1000 * 1000;
	open_rec(t);
	feed(t, x0, 479, UINT64_MAX);
	assert_false(recorder_io_drain(t->rec));
	feed(t, x0 + 479, 1, UINT64_MAX);
	assert_true(recorder_io_drain(t->rec));
	close_and_read(t);
	assert_file_is(t, x0, dur);
}

static void test_recorder_maps_file_channels_to_stream_channels(void **state)
{
	struct ctx *t = *state;
	const uint64_t x0 = 3000;
	uint64_t i;

	/* File channel 0 is stream channel 2, file channel 1 stream 0. */
	t->cfg.nch = 2;
	t->cfg.chans[0] = 2;
	t->cfg.chans[1] = 0;
	open_rec(t);
	feed_range(t, x0, x0 + 200, UINT64_MAX);
	close_and_read(t);
	assert_int_equal(t->info.frames, 200);
	for (i = 0; i < 200; i++) {
		assert_int_equal(t->file[i * 2],
				 stream_sample(x0 + i, 2, t->mask));
		assert_int_equal(t->file[i * 2 + 1],
				 stream_sample(x0 + i, 0, t->mask));
	}
}

static void test_recorder_single_channel_of_three(void **state)
{
	struct ctx *t = *state;
	const uint64_t x0 = 1;
	uint64_t i;

	t->cfg.nch = 1;
	t->cfg.chans[0] = 1;
	open_rec(t);
	feed_range(t, x0, x0 + 300, UINT64_MAX);
	close_and_read(t);
	assert_int_equal(t->info.frames, 300);
	for (i = 0; i < 300; i++)
		assert_int_equal(t->file[i], stream_sample(x0 + i, 1, t->mask));
}

static void test_recorder_16_bit_file_keeps_exact_values(void **state)
{
	struct ctx *t = *state;
	const uint64_t x0 = 123456;

	t->cfg.format = SF_FORMAT_WAV | SF_FORMAT_PCM_16;
	t->mask = 0xFFFF0000u;
	open_rec(t);
	feed_range(t, x0, x0 + 5000, UINT64_MAX);
	close_and_read(t);
	assert_int_equal(t->info.format, SF_FORMAT_WAV | SF_FORMAT_PCM_16);
	/* Includes 0x7FFF0000, INT32_MIN and -1 LSB on every channel. */
	assert_file_is(t, x0, 5000);
}

static void test_recorder_24_bit_file_keeps_exact_values(void **state)
{
	struct ctx *t = *state;
	const uint64_t x0 = 654321;

	t->cfg.format = SF_FORMAT_WAV | SF_FORMAT_PCM_24;
	t->mask = 0xFFFFFF00u;
	open_rec(t);
	feed_range(t, x0, x0 + 5000, UINT64_MAX);
	close_and_read(t);
	assert_int_equal(t->info.format, SF_FORMAT_WAV | SF_FORMAT_PCM_24);
	/* Includes 0x7FFFFF00, INT32_MIN and -256 on every channel. */
	assert_file_is(t, x0, 5000);
}

static void test_recorder_counts_overflow_when_not_drained(void **state)
{
	struct ctx *t = *state;
	const uint64_t fed = 3 * 48000;
	uint64_t x;

	open_rec(t);
	/* Three seconds with no file thread: the ring cannot hold them. */
	for (x = 0; x < fed; x += 1000)
		feed(t, x, 1000, UINT64_MAX);
	assert_true(recorder_overflows(t->rec) > 0);
	recorder_io_drain(t->rec);
	assert_int_equal(
	    recorder_frames_written(t->rec) + recorder_overflows(t->rec), fed);
	/* What was kept is the oldest: a prefix of the stream. */
	close_and_read(t);
	assert_file_is(t, 0, (uint64_t)t->info.frames);
	assert_true((uint64_t)t->info.frames < fed);
}

static void test_recorder_open_fails_for_uncreatable_path(void **state)
{
	struct ctx *t = *state;
	char err[512] = "";

	snprintf(t->cfg.path, sizeof(t->cfg.path), "%s/no-such-dir/x.wav",
		 tmpdir);
	assert_null(recorder_open(&t->cfg, err, sizeof(err)));
	assert_non_null(strstr(err, "sink rec"));
	assert_non_null(strstr(err, t->cfg.path));
}

static void test_recorder_open_rejects_format_it_cannot_write(void **state)
{
	struct ctx *t = *state;
	char err[512] = "";

	t->cfg.format = SF_FORMAT_WAV | SF_FORMAT_VORBIS;
	assert_null(recorder_open(&t->cfg, err, sizeof(err)));
	assert_non_null(strstr(err, "sink rec"));
	assert_non_null(strstr(err, "cannot write format"));
	assert_int_equal(access(t->cfg.path, F_OK), -1);
}

/* A start days back: the media thread only marks the gap (nothing is
 * written by it, the ring holds just what was fed); the file thread
 * writes 10 s of zeros, counts the rest as clipped, then the audio. */
static void test_recorder_start_days_back_marks_gap_only(void **state)
{
	struct ctx *t = *state;
	const uint64_t now = 1000ull * 48000 * 86400, back = 10ull * 86400;
	const uint64_t t0 = now - back * 48000;

	t->cfg.start = START_AT;
	t->cfg.start_ns = mclock_samples_to_ns(t0, 48000);
	open_rec(t);
	feed(t, now, 480, now);
	assert_int_equal(recorder_frames_written(t->rec), 0);
	assert_int_equal(recorder_start_x(t->rec), t0);
	recorder_io_drain(t->rec);
	assert_int_equal(recorder_gap_clipped(t->rec), (back - 10) * 48000);
	assert_int_equal(recorder_frames_written(t->rec), 10 * 48000 + 480);
	assert_int_equal(recorder_write_errno(t->rec), 0);
	close_and_read(t);
	assert_int_equal(t->info.frames, 10 * 48000 + 480);
	assert_int_equal(t->file[0], 0);
	assert_int_equal(t->file[(10 * 48000 - 1) * 2 + 1], 0);
	assert_int_equal(t->file[10 * 48000 * 2],
			 stream_sample(now, t->cfg.chans[0], t->mask));
}

/* A gap mid-recording, shorter than the cap: zeros in its place, and the
 * frames after it where their positions say. */
static void test_recorder_gap_is_zeros_in_place(void **state)
{
	struct ctx *t = *state;
	uint64_t i;

	open_rec(t);
	feed_range(t, 0, 4800, 0);
	feed_range(t, 4800 + 96000, 4800 + 96000 + 4800, 0);
	close_and_read(t);
	assert_int_equal(t->info.frames, 4800 + 96000 + 4800);
	for (i = 4800; i < 4800 + 96000; i++)
		if (t->file[i * 2] || t->file[i * 2 + 1])
			fail_msg("frame %llu of the gap is not zero",
				 (unsigned long long)i);
	assert_int_equal(t->file[(4800 + 96000) * 2],
			 stream_sample(4800 + 96000, t->cfg.chans[0], t->mask));
}

/* A write that fails (here the file size limit; a full disk is the same
 * error path, shown by tests/lab/hardening.sh) stops the recording: its
 * error kept, the file closed with what fit, later feeds harmless. */
static void test_recorder_write_failure_stops_it(void **state)
{
	struct ctx *t = *state;
	struct rlimit old, lim = {.rlim_cur = 64 * 1024,
				  .rlim_max = RLIM_INFINITY};
	void (*was)(int) = signal(SIGXFSZ, SIG_IGN);
	uint64_t x;
	bool done = false;

	assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
	lim.rlim_max = old.rlim_max;
	open_rec(t);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
	for (x = 0; x < 48000 && !done; x += 480) {
		feed(t, x, 480, 0);
		done = recorder_io_drain(t->rec);
	}
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
	signal(SIGXFSZ, was);
	assert_true(done);
	assert_int_equal(recorder_write_errno(t->rec), EFBIG);
	assert_true(recorder_frames_written(t->rec) < 64 * 1024 / 6);
	feed(t, 48000, 480, 0); /* harmless */
	assert_true(recorder_io_drain(t->rec));
	close_and_read(t);
	assert_true(t->info.frames > 0);
	assert_file_is(t, 0, (uint64_t)t->info.frames);
}

/* A recording into a descriptor the caller opened (the API's, made with
 * O_EXCL | O_NOFOLLOW): the recorder writes through it and closes it. */
static void test_recorder_writes_to_callers_descriptor(void **state)
{
	struct ctx *t = *state;
	int fd = open(t->cfg.path, O_RDWR | O_CREAT | O_EXCL, 0640);

	assert_true(fd >= 0);
	t->cfg.has_fd = true;
	t->cfg.fd = fd;
	open_rec(t);
	feed_range(t, 100, 100 + 9600, 0);
	close_and_read(t);
	assert_file_is(t, 100, 9600);
	assert_int_equal(fcntl(fd, F_GETFD), -1); /* closed */
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
	    T(test_recorder_start_at_aligns_frame_i_to_t0_plus_i),
	    T(test_recorder_start_at_in_future_records_nothing_yet),
	    T(test_recorder_start_first_waits_for_first_data),
	    T(test_recorder_start_now_starts_at_first_fed_position),
	    T(test_recorder_stops_after_exact_duration),
	    T(test_recorder_completes_when_chunk_ends_on_last_frame),
	    T(test_recorder_maps_file_channels_to_stream_channels),
	    T(test_recorder_single_channel_of_three),
	    T(test_recorder_16_bit_file_keeps_exact_values),
	    T(test_recorder_24_bit_file_keeps_exact_values),
	    T(test_recorder_counts_overflow_when_not_drained),
	    T(test_recorder_open_fails_for_uncreatable_path),
	    T(test_recorder_open_rejects_format_it_cannot_write),
	    T(test_recorder_start_days_back_marks_gap_only),
	    T(test_recorder_gap_is_zeros_in_place),
	    T(test_recorder_write_failure_stops_it),
	    T(test_recorder_writes_to_callers_descriptor),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
