/* Unit tests for file sources on the timeline (issue 24): a file whose
 * start lies in the past plays, once the file thread has seeked, exactly
 * the frame its position says (frame i at start + i, with a loop i modulo
 * the length), whatever the distance — half a second, 5 s, 30 s, 123 s —
 * and after a stall longer than the read-ahead; past the end of a file
 * that does not loop it plays silence and seeks nowhere; a tone is the
 * same at the same position however it got there. The file thread is
 * this test calling source_io_fill() between reads, as it would run. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <sndfile.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "node/source.h"
#include "ptp/mclock.h"

#define RATE	48000u
#define CH	2u
#define LEN	(10u * RATE) /* the file: 10 s */
#define CHUNK	48u	     /* a 1 ms packet */
#define X_START (1700000000ull * RATE)

static char path[64];

/* File frame @i, channel @c: distinct, exact in 24 bits. */
static int32_t frame_value(uint64_t i, unsigned int c)
{
	return (int32_t)((uint32_t)((i * 2 + c) * 2654435761u) & 0xFFFFFF00u);
}

static int group_setup(void **state)
{
	int32_t *buf = malloc((size_t)LEN * CH * sizeof(int32_t));
	SF_INFO info = {.samplerate = RATE,
			.channels = CH,
			.format = SF_FORMAT_WAV | SF_FORMAT_PCM_24};
	SNDFILE *sf;
	uint64_t i;
	int fd;

	snprintf(path, sizeof(path), "/tmp/d4-test-source-XXXXXX");
	fd = mkstemp(path);
	if (fd < 0 || !buf)
		return -1;
	close(fd);
	for (i = 0; i < LEN; i++) {
		buf[i * CH] = frame_value(i, 0);
		buf[i * CH + 1] = frame_value(i, 1);
	}
	sf = sf_open(path, SFM_WRITE, &info);
	if (!sf || sf_writef_int(sf, buf, LEN) != LEN)
		return -1;
	sf_close(sf);
	free(buf);
	return 0;
}

static int group_teardown(void **state)
{
	return unlink(path);
}

static struct source *open_file(bool loop, uint64_t start_x)
{
	struct source_config cfg = {
	    .type = SOURCE_FILE, .loop = loop, .start = START_AT};
	char err[256] = "";
	struct source *src;

	snprintf(cfg.name, sizeof(cfg.name), "f");
	snprintf(cfg.path, sizeof(cfg.path), "%s", path);
	cfg.start_ns = mclock_samples_to_ns(start_x, RATE);
	src = source_open(&cfg, err, sizeof(err));
	if (!src)
		fail_msg("source_open: %s", err);
	return src;
}

static const uint8_t chans[CH] = {0, 1};

/* Is position @x's packet (@out) file frame @f onwards? */
static bool is_frames(const int32_t *out, uint64_t f, bool loop)
{
	unsigned int i, c;

	for (i = 0; i < CHUNK; i++)
		for (c = 0; c < CH; c++) {
			uint64_t k = loop ? (f + i) % LEN : f + i;

			if (out[i * CH + c] != frame_value(k, c))
				return false;
		}
	return true;
}

/* Read packets from position @x, the file thread running between them,
 * until one is the file's frame for its position; then 2 s of packets
 * must all be. Returns the packets it took to line up. */
static unsigned int play_from(struct source *src, uint64_t x, uint64_t x0,
			      bool loop)
{
	int32_t out[CHUNK * CH];
	unsigned int n = 0, k;

	for (;; x += CHUNK, n++) {
		source_read(src, x, CHUNK, chans, CH, out);
		assert_int_equal(source_io_fill(src), 0);
		if (is_frames(out, x - x0, loop))
			break;
		if (n > 100)
			fail_msg("not lined up after %u packets", n);
	}
	for (k = 0; k < 2000; k++) {
		x += CHUNK;
		source_read(src, x, CHUNK, chans, CH, out);
		assert_int_equal(source_io_fill(src), 0);
		if (!is_frames(out, x - x0, loop))
			fail_msg("packet %u after lining up: not file frame "
				 "%llu",
				 k, (unsigned long long)(x - x0));
	}
	return n;
}

static void late_by(double seconds, bool loop)
{
	uint64_t late = (uint64_t)(seconds * RATE), frame;
	struct source *src = open_file(loop, X_START);
	unsigned int n = play_from(src, X_START + late, X_START, loop);

	/* lined up within a few packets: request, stop, flush, seek */
	assert_true(n <= 4);
	if ((loop ? late % LEN : late) >= RATE) {
		/* beyond what was read ahead: one jump, to the frame asked */
		assert_int_equal(source_seeks(src, &frame), 1);
		assert_int_equal(frame, loop ? late % LEN : late);
	} else {
		/* the read-ahead holds it (the file's first second) */
		assert_int_equal(source_seeks(src, NULL), 0);
	}
	source_destroy(src);
}

static void test_source_file_late_half_second(void **state)
{
	late_by(0.5, false);
}

static void test_source_file_late_5s(void **state)
{
	late_by(5.0, false);
}

static void test_source_file_late_30s_looping(void **state)
{
	late_by(30.0 + 1234.0 / RATE, true); /* frame 1234: read ahead */
}

static void test_source_file_late_37s_looping(void **state)
{
	late_by(37.25, true); /* frame 7.25 s: a seek */
}

static void test_source_file_late_123s_looping(void **state)
{
	late_by(123.4, true);
}

/* Played from its start, then a stall of 3 s (more than the read-ahead):
 * the file is found again at the frame the position says. */
static void test_source_file_after_long_stall(void **state)
{
	struct source *src = open_file(false, X_START);
	uint64_t frame;

	play_from(src, X_START, X_START, false);
	assert_int_equal(source_seeks(src, NULL), 0);
	play_from(src, X_START + 5 * RATE, X_START, false);
	assert_int_equal(source_seeks(src, &frame), 1);
	/* to the oldest position a flow may still read (the source keeps
	 * 8192 frames of history), at most that far before 5 s */
	assert_in_range(frame, 5 * RATE - 8192, 5 * RATE);
	source_destroy(src);
}

/* 30 s late into a 10 s file that does not loop: silence, no seek, no
 * underrun (the file is over, not late). */
static void test_source_file_past_end_is_silence(void **state)
{
	struct source *src = open_file(false, X_START);
	int32_t out[CHUNK * CH];
	unsigned int k, i;

	for (k = 0; k < 100; k++) {
		source_read(src, X_START + 30 * RATE + k * CHUNK, CHUNK, chans,
			    CH, out);
		source_io_fill(src);
		for (i = 0; i < CHUNK * CH; i++)
			assert_int_equal(out[i], 0);
	}
	assert_int_equal(source_seeks(src, NULL), 0);
	assert_int_equal(source_underruns(src), 0);
	source_destroy(src);
}

/* A floating-point file plays at its level: [-1, 1) to 24 bits, rounded,
 * and clipped beyond (readf_int made -1, 0 or 1 of every sample: a
 * new user's float WAV played at -138 dBFS). */
static void test_source_float_file_plays_at_its_level(void **state)
{
	static const int formats[] = {SF_FORMAT_WAV | SF_FORMAT_FLOAT,
				      SF_FORMAT_WAV | SF_FORMAT_DOUBLE};
	static const double v[] = {0.5,	       -0.5,	  0.25, -1.0,
				   1.0,	       1.5,	  -2.0, 0.0,
				   1.0 / 8388608, -3.0 / 16777216};
	static const int32_t want[] = {
	    0x40000000, -0x40000000, 0x20000000, INT32_MIN,
	    0x7FFFFF00, 0x7FFFFF00,  INT32_MIN,	 0,
	    0x100,	-0x200, /* -1.5 LSB rounds to even: -2 */
	};
	enum { N = sizeof(v) / sizeof(v[0]) };
	static const uint8_t map[1] = {0};
	int32_t out[N];
	char fpath[64];
	unsigned int f;

	for (f = 0; f < sizeof(formats) / sizeof(formats[0]); f++) {
		SF_INFO info = {
		    .samplerate = RATE, .channels = 1, .format = formats[f]};
		struct source_config cfg = {.type = SOURCE_FILE,
					    .start = START_AT};
		char err[256] = "";
		struct source *src;
		SNDFILE *sf;
		unsigned int i;
		int fd;

		snprintf(fpath, sizeof(fpath), "/tmp/d4-test-source-XXXXXX");
		fd = mkstemp(fpath);
		assert_true(fd >= 0);
		close(fd);
		sf = sf_open(fpath, SFM_WRITE, &info);
		assert_non_null(sf);
		/* as written: no normalising, no clipping by libsndfile */
		sf_command(sf, SFC_SET_NORM_DOUBLE, NULL, SF_FALSE);
		sf_command(sf, SFC_SET_CLIPPING, NULL, SF_FALSE);
		assert_int_equal(sf_writef_double(sf, v, N), N);
		sf_close(sf);
		snprintf(cfg.name, sizeof(cfg.name), "f");
		snprintf(cfg.path, sizeof(cfg.path), "%s", fpath);
		cfg.start_ns = mclock_samples_to_ns(X_START, RATE);
		src = source_open(&cfg, err, sizeof(err));
		if (!src)
			fail_msg("source_open: %s", err);
		source_read(src, X_START, N, map, 1, out);
		for (i = 0; i < N; i++)
			if (out[i] != want[i])
				fail_msg("format 0x%x sample %u (%g): 0x%x, not "
					 "0x%x",
					 formats[f], i, v[i], (unsigned)out[i],
					 (unsigned)want[i]);
		source_destroy(src);
		unlink(fpath);
	}
}

/* A file with no frames is refused, saying so (looped, it spun for ever:
 * the node's start waited on it). */
static void test_source_empty_file_is_refused(void **state)
{
	SF_INFO info = {.samplerate = RATE,
			.channels = CH,
			.format = SF_FORMAT_WAV | SF_FORMAT_PCM_24};
	struct source_config cfg = {
	    .type = SOURCE_FILE, .loop = true, .start = START_AT};
	char err[256] = "", fpath[64];
	SNDFILE *sf;
	int fd;

	snprintf(fpath, sizeof(fpath), "/tmp/d4-test-source-XXXXXX");
	fd = mkstemp(fpath);
	assert_true(fd >= 0);
	close(fd);
	sf = sf_open(fpath, SFM_WRITE, &info);
	assert_non_null(sf);
	sf_close(sf);
	snprintf(cfg.name, sizeof(cfg.name), "f");
	snprintf(cfg.path, sizeof(cfg.path), "%s", fpath);
	cfg.start_ns = mclock_samples_to_ns(X_START, RATE);
	assert_null(source_open(&cfg, err, sizeof(err)));
	assert_non_null(strstr(err, "holds no audio"));
	unlink(fpath);
}

/* A file of each format reads as libsndfile's readf_int gives it: 16- and
 * 24-bit little-endian PCM are read as bytes and widened by d4 (every
 * byte value at every place, 3 channels, lengths that leave a tail),
 * other formats through readf_int. */
static void test_source_file_formats_read_as_libsndfile_does(void **state)
{
	static const int formats[] = {
	    SF_FORMAT_WAV | SF_FORMAT_PCM_24,
	    SF_FORMAT_WAV | SF_FORMAT_PCM_16,
	    SF_FORMAT_W64 | SF_FORMAT_PCM_24,
	    SF_FORMAT_WAVEX | SF_FORMAT_PCM_24,
	    SF_FORMAT_AIFF | SF_FORMAT_PCM_24,
	    SF_FORMAT_WAV | SF_FORMAT_PCM_32,
	    /* little-endian 24-bit in blocks of its own: not raw */
	    SF_FORMAT_PAF | SF_FORMAT_PCM_24 | SF_ENDIAN_LITTLE,
	    SF_FORMAT_WAV | SF_FORMAT_PCM_24 | SF_ENDIAN_BIG, /* RIFX */
	};
	enum { NCH = 3, FRAMES = 3001 };
	static int32_t in[FRAMES * NCH], want[FRAMES * NCH];
	static const uint8_t map[NCH] = {0, 1, 2};
	int32_t out[CHUNK * NCH];
	char fpath[64];
	unsigned int f, i;

	for (i = 0; i < FRAMES * NCH; i++) {
		/* the low 24 bits walk every byte value at each place */
		uint32_t b = i % 256, v = b << 8 | (255 - b) << 16 |
					  ((i / 256) * 37 % 256) << 24;

		in[i] = (int32_t)v;
	}
	for (f = 0; f < sizeof(formats) / sizeof(formats[0]); f++) {
		SF_INFO info = {
		    .samplerate = RATE, .channels = NCH, .format = formats[f]};
		struct source_config cfg = {.type = SOURCE_FILE,
					    .start = START_AT};
		char err[256] = "";
		struct source *src;
		SNDFILE *sf;
		uint64_t x;
		int fd;

		snprintf(fpath, sizeof(fpath), "/tmp/d4-test-source-XXXXXX");
		fd = mkstemp(fpath);
		assert_true(fd >= 0);
		close(fd);
		sf = sf_open(fpath, SFM_WRITE, &info);
		assert_non_null(sf);
		assert_int_equal(sf_writef_int(sf, in, FRAMES), FRAMES);
		sf_close(sf);
		memset(&info, 0, sizeof(info));
		sf = sf_open(fpath, SFM_READ, &info);
		assert_non_null(sf);
		assert_int_equal(sf_readf_int(sf, want, FRAMES), FRAMES);
		sf_close(sf);

		snprintf(cfg.name, sizeof(cfg.name), "f");
		snprintf(cfg.path, sizeof(cfg.path), "%s", fpath);
		cfg.start_ns = mclock_samples_to_ns(X_START, RATE);
		src = source_open(&cfg, err, sizeof(err));
		if (!src)
			fail_msg("source_open: %s", err);
		for (x = X_START; x < X_START + FRAMES; x += CHUNK) {
			unsigned int n = (unsigned int)(X_START + FRAMES - x);

			if (n > CHUNK)
				n = CHUNK;
			source_read(src, x, n, map, NCH, out);
			assert_int_equal(source_io_fill(src), 0);
			if (memcmp(out, want + (x - X_START) * NCH,
				   (size_t)n * NCH * sizeof(int32_t)))
				fail_msg("format 0x%x: frames from %llu differ",
					 formats[f],
					 (unsigned long long)(x - X_START));
		}
		source_destroy(src);
		unlink(fpath);
	}
}

/* A tone's sample at a position does not depend on when the source
 * started or what it read before. */
static void test_source_tone_is_the_same_at_the_same_position(void **state)
{
	struct source_config cfg = {.type = SOURCE_TONE,
				    .channels = 1,
				    .rate = RATE,
				    .start = START_NOW};
	int32_t a[CHUNK], b[CHUNK];
	const uint8_t ch0 = 0;
	struct source *s1, *s2;
	char err[128];
	uint64_t x = X_START + 123456789;

	cfg.freq_hz[0] = 997;
	cfg.level_dbfs[0] = -18;
	s1 = source_open(&cfg, err, sizeof(err));
	s2 = source_open(&cfg, err, sizeof(err));
	assert_non_null(s1);
	assert_non_null(s2);
	source_read(s1, X_START, CHUNK, &ch0, 1, a);
	source_read(s1, x, CHUNK, &ch0, 1, a);
	source_read(s2, x, CHUNK, &ch0, 1, b);
	assert_memory_equal(a, b, sizeof(a));
	assert_true(a[0] != 0 || a[1] != 0);
	source_destroy(s1);
	source_destroy(s2);
}

/* A tone at today's PTP time (some 1.7e9 s: positions of 8e13 at
 * 48 kHz) is as clean as at time 0: each sample within one step of 24
 * bits of the ideal sine, its phase 2 pi ((x mod 24) / 24) for 2 kHz.
 * With the phase taken as a double x * step, the error was thousands of
 * steps (a noise floor 59 dB under the tone: new-user review). */
static void test_source_tone_is_clean_at_todays_ptp_time(void **state)
{
	struct source_config cfg = {.type = SOURCE_TONE,
				    .channels = 1,
				    .rate = RATE,
				    .start = START_NOW};
	uint64_t x = 1764950400ull * RATE; /* 2025-12-05, in samples */
	int32_t a[CHUNK];
	const uint8_t ch0 = 0;
	struct source *src;
	char err[128];
	long worst = 0;

	(void)state;
	cfg.freq_hz[0] = 2000;
	cfg.level_dbfs[0] = -18;
	src = source_open(&cfg, err, sizeof(err));
	assert_non_null(src);
	source_read(src, x, CHUNK, &ch0, 1, a);
	for (unsigned int i = 0; i < CHUNK; i++) {
		double ph = 2.0 * M_PI * (double)((x + i) % 24) / 24.0;
		long want = lrint(pow(10.0, -18 / 20.0) * sin(ph) * 8388607.0);
		long d = labs(a[i] / 256 - want);

		if (d > worst)
			worst = d;
	}
	print_message("# worst error %ld steps of 24 bits\n", worst);
	assert_true(worst <= 1);
	source_destroy(src);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_source_file_late_half_second),
	    cmocka_unit_test(test_source_file_late_5s),
	    cmocka_unit_test(test_source_file_late_30s_looping),
	    cmocka_unit_test(test_source_file_late_37s_looping),
	    cmocka_unit_test(test_source_file_late_123s_looping),
	    cmocka_unit_test(test_source_file_after_long_stall),
	    cmocka_unit_test(test_source_file_past_end_is_silence),
	    cmocka_unit_test(test_source_file_formats_read_as_libsndfile_does),
	    cmocka_unit_test(test_source_empty_file_is_refused),
	    cmocka_unit_test(test_source_float_file_plays_at_its_level),
	    cmocka_unit_test(test_source_tone_is_the_same_at_the_same_position),
	    cmocka_unit_test(test_source_tone_is_clean_at_todays_ptp_time),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
