/* Unit tests for a subscription's receive path, driven with hand-built RTP
 * packets and synthetic PTP times: what plays out and where (read back from
 * a recorder's file), and every counter: loss, reorder, duplicates, late and
 * early packets, sequence and timestamp wrap, SSRC changes, malformed and
 * foreign packets, timing modes and the delay histogram. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <sndfile.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "node/recorder.h"
#include "node/rtp.h"
#include "node/sub.h"
#include "ptp/mclock.h"
#include "qemu_user.h"

#define RATE   48000
#define CH     2
#define FPP    48 /* 1 ms packets */
#define PT     97
#define LAT_NS (2 * 1000 * 1000ull)
#define LAT    96 /* frames */
/* A synthetic PTP time, and its media clock position (a multiple of FPP). */
#define T_BASE (1800000000ull * NSEC_PER_SEC)
#define X_BASE (1800000000ull * RATE)
#define US     1000ull
#define MS     (1000 * 1000ull)

static char tmpdir[64];
static unsigned int test_index;

struct ctx {
	struct sub_config cfg;
	struct sub *s;
	struct recorder_config rcfg;
	struct recorder *rec;
	struct sockaddr_in from; /* the sender every packet comes from */
	uint64_t now;		 /* PTP time of sub_start */
	uint64_t rec_x0;	 /* recorder_start_x() at close */
	int32_t *file;
	sf_count_t frames;
};

/* One sender: packet k carries media positions [x0 + k FPP, ... + FPP)
 * stamped position + ts_offset, sent at the PTP time of its first position
 * and arriving delay_ns later. */
struct stream {
	uint64_t x0;
	uint32_t ts_offset;
	uint16_t seq0;
	uint32_t ssrc;
	uint32_t salt;
	uint64_t delay_ns;
};

/* The sample a sender puts in channel @c of the frame stamped @ts: 24-bit,
 * never 0, so a zero-filled frame cannot pass for a real one. */
static int32_t sample(uint32_t ts, unsigned int c, uint32_t salt)
{
	uint32_t v = ts * 2654435761u ^ salt ^ (c << 28);

	return (int32_t)((v & 0xFFFFFF00u) | 0x100u);
}

static uint64_t pkt_x(const struct stream *st, unsigned int k)
{
	return st->x0 + (uint64_t)k * FPP;
}

static uint32_t pkt_ts(const struct stream *st, unsigned int k)
{
	return (uint32_t)pkt_x(st, k) + st->ts_offset;
}

static uint64_t pkt_arrival(const struct stream *st, unsigned int k)
{
	return mclock_samples_to_ns(pkt_x(st, k), RATE) + st->delay_ns;
}

/* An RTP packet of @frames frames stamped @ts; returns its length. */
static size_t build(uint8_t *buf, uint8_t pt, uint16_t seq, uint32_t ts,
		    uint32_t ssrc, unsigned int frames, uint32_t salt)
{
	struct rtp_hdr h = {.pt = pt, .seq = seq, .ts = ts, .ssrc = ssrc};
	int32_t in[FPP * CH];
	unsigned int i, c;

	assert_true(frames <= FPP);
	for (i = 0; i < frames; i++)
		for (c = 0; c < CH; c++)
			in[i * CH + c] = sample(ts + i, c, salt);
	rtp_hdr_encode(&h, buf);
	rtp_pack(RTP_ENC_L24, in, CH, frames, buf + RTP_HDR_LEN);
	return RTP_HDR_LEN + (size_t)frames * CH * 3;
}

static size_t build_k(const struct stream *st, unsigned int k, uint8_t *buf)
{
	return build(buf, PT, (uint16_t)(st->seq0 + k), pkt_ts(st, k), st->ssrc,
		     FPP, st->salt);
}

/* What the media loop does with a datagram: playout has kept up until it
 * arrives; the loop takes it from the socket 20 us later. */
static void rx_from(struct ctx *t, const uint8_t *buf, size_t len,
		    const struct sockaddr_in *from, uint64_t arrival)
{
	sub_playout(t->s, arrival);
	recorder_io_drain(t->rec);
	sub_rx_packet(t->s, buf, len, from, arrival, arrival + 20 * US);
}

static void rx(struct ctx *t, const uint8_t *buf, size_t len, uint64_t arrival)
{
	rx_from(t, buf, len, &t->from, arrival);
}

static void send_at(struct ctx *t, const struct stream *st, unsigned int k,
		    uint64_t arrival)
{
	uint8_t buf[1500];
	size_t len = build_k(st, k, buf);

	rx(t, buf, len, arrival);
}

static void send_pkt(struct ctx *t, const struct stream *st, unsigned int k)
{
	send_at(t, st, k, pkt_arrival(st, k));
}

/* Play out every position before @x_end. */
static void play_until(struct ctx *t, uint64_t x_end)
{
	uint64_t lat = mclock_ns_to_samples(t->cfg.latency_ns, RATE);
	uint64_t now = mclock_samples_to_ns(x_end + lat, RATE);

	assert_int_equal(mclock_ns_to_samples(now, RATE) - lat, x_end);
	sub_playout(t->s, now);
	recorder_io_drain(t->rec);
}

static int group_setup(void **state)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/d4-test-sub-XXXXXX");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int group_teardown(void **state)
{
	return rmdir(tmpdir);
}

static int setup(void **state)
{
	struct ctx *t = calloc(1, sizeof(*t));
	unsigned int idx = test_index++;

	if (!t)
		return -1;
	snprintf(t->cfg.name, sizeof(t->cfg.name), "sub-%u", idx);
	t->cfg.addr.sin_family = AF_INET;
	/* Port 0: the kernel picks a free one (read back in udp_send), so
	 * runs of this test in parallel never share a port. */
	t->cfg.addr.sin_port = 0;
	t->cfg.addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	t->cfg.enc = RTP_ENC_L24;
	t->cfg.rate = RATE;
	t->cfg.channels = CH;
	t->cfg.pt = PT;
	t->cfg.fpp = FPP;
	t->cfg.latency_ns = LAT_NS;
	t->cfg.timing = SUB_TIMING_PTP;
	t->cfg.mediaclk_offset = 0;

	snprintf(t->rcfg.name, sizeof(t->rcfg.name), "rec-%u", idx);
	snprintf(t->rcfg.path, sizeof(t->rcfg.path), "%s/sub-%u.wav", tmpdir,
		 idx);
	t->rcfg.format = SF_FORMAT_WAV | SF_FORMAT_PCM_24;
	t->rcfg.rate = RATE;
	t->rcfg.nch = CH;
	t->rcfg.chans[0] = 0;
	t->rcfg.chans[1] = 1;
	t->rcfg.start = START_FIRST;

	t->from.sin_family = AF_INET;
	t->from.sin_port = htons(5004);
	t->from.sin_addr.s_addr = inet_addr("192.0.2.10");
	t->now = T_BASE;
	*state = t;
	return 0;
}

static int teardown(void **state)
{
	struct ctx *t = *state;

	sub_destroy(t->s);
	recorder_close(t->rec);
	unlink(t->rcfg.path);
	free(t->file);
	free(t);
	return 0;
}

/* Open the subscription with its recorder and start it at t->now. */
static void open_sub(struct ctx *t)
{
	char err[256] = "";

	t->s = sub_open(&t->cfg, err, sizeof(err));
	if (!t->s) {
		qemu_skip_if_no_timestampns(err);
		fail_msg("sub_open: %s", err);
	}
	assert_true(sub_fd(t->s) >= 0);
	t->rec = recorder_open(&t->rcfg, err, sizeof(err));
	if (!t->rec)
		fail_msg("recorder_open: %s", err);
	assert_int_equal(sub_add_recorder(t->s, t->rec), 0);
	sub_start(t->s, t->now);
}

/* Close the recorder and read its file into t->file. */
static void finish(struct ctx *t)
{
	SF_INFO info = {0};
	SNDFILE *sf;

	t->rec_x0 = recorder_start_x(t->rec);
	recorder_close(t->rec);
	t->rec = NULL;
	sf = sf_open(t->rcfg.path, SFM_READ, &info);
	assert_non_null(sf);
	assert_int_equal(info.channels, CH);
	t->frames = info.frames;
	t->file = calloc((size_t)info.frames * CH + 1, sizeof(int32_t));
	assert_non_null(t->file);
	assert_int_equal(sf_readf_int(sf, t->file, info.frames), info.frames);
	sf_close(sf);
}

/* The file's frame for media position @x. */
static const int32_t *file_at(const struct ctx *t, uint64_t x)
{
	if (t->rec_x0 == UINT64_MAX || x < t->rec_x0 ||
	    x - t->rec_x0 >= (uint64_t)t->frames)
		fail_msg("position %llu is outside the recording "
			 "[%llu, +%lld)",
			 (unsigned long long)x, (unsigned long long)t->rec_x0,
			 (long long)t->frames);
	return t->file + (x - t->rec_x0) * CH;
}

/* Packet @k of @st played at positions [x, x + FPP). */
static void assert_pkt_at(const struct ctx *t, const struct stream *st,
			  unsigned int k, uint64_t x)
{
	unsigned int i, c;

	for (i = 0; i < FPP; i++) {
		const int32_t *f = file_at(t, x + i);

		for (c = 0; c < CH; c++)
			if (f[c] != sample(pkt_ts(st, k) + i, c, st->salt))
				fail_msg("packet %u frame %u ch %u at position "
					 "%llu: got 0x%08x, want 0x%08x",
					 k, i, c, (unsigned long long)(x + i),
					 (unsigned int)f[c],
					 (unsigned int)sample(pkt_ts(st, k) + i,
							      c, st->salt));
	}
}

/* Packet @k of @st played at its own position. */
static void assert_pkt(const struct ctx *t, const struct stream *st,
		       unsigned int k)
{
	assert_pkt_at(t, st, k, pkt_x(st, k));
}

static void assert_silence(const struct ctx *t, uint64_t x, uint64_t n)
{
	uint64_t i;
	unsigned int c;

	for (i = 0; i < n; i++) {
		const int32_t *f = file_at(t, x + i);

		for (c = 0; c < CH; c++)
			if (f[c] != 0)
				fail_msg("position %llu ch %u: got 0x%08x, "
					 "want silence",
					 (unsigned long long)(x + i), c,
					 (unsigned int)f[c]);
	}
}

#define STAT(t, f) atomic_load(&sub_stats((t)->s)->f)

static void assert_clean(const struct ctx *t)
{
	assert_int_equal(STAT(t, bad_header), 0);
	assert_int_equal(STAT(t, bad_pt), 0);
	assert_int_equal(STAT(t, bad_size), 0);
	assert_int_equal(STAT(t, foreign), 0);
	assert_int_equal(STAT(t, early), 0);
}

static const struct stream stream_a = {.x0 = X_BASE + 480,
				       .seq0 = 1000,
				       .ssrc = 0xA5A5F00Du,
				       .delay_ns = 100 * US};

static void test_sub_in_order_stream_plays_every_sample_in_place(void **state)
{
	struct ctx *t = *state;
	const struct stream *st = &stream_a;
	unsigned int k;

	t->rcfg.start = START_NOW;
	open_sub(t);
	for (k = 0; k < 20; k++)
		send_pkt(t, st, k);
	play_until(t, pkt_x(st, 20));
	assert_int_equal(STAT(t, received), 20);
	assert_int_equal(STAT(t, lost), 0);
	assert_int_equal(STAT(t, late), 0);
	assert_int_equal(STAT(t, duplicate), 0);
	assert_int_equal(STAT(t, reordered), 0);
	assert_int_equal(STAT(t, ssrc_changes), 0);
	assert_int_equal(STAT(t, missing_frames), 0);
	assert_int_equal(STAT(t, ssrc), st->ssrc);
	assert_false(STAT(t, arrival_timing));
	assert_clean(t);
	finish(t);
	/* START_NOW: the recording opens at the first position played,
	 * latency behind the start time; silence until the stream's first
	 * sample, which is not counted as missing. */
	assert_int_equal(t->rec_x0, X_BASE - LAT);
	assert_int_equal(t->frames, pkt_x(st, 20) - (X_BASE - LAT));
	assert_silence(t, X_BASE - LAT, st->x0 - (X_BASE - LAT));
	for (k = 0; k < 20; k++)
		assert_pkt(t, st, k);
}

static void test_sub_playout_waits_for_latency_and_says_when_next(void **state)
{
	struct ctx *t = *state;
	const struct stream *st = &stream_a;
	uint64_t t0 = mclock_samples_to_ns(st->x0, RATE), next;

	t->now = t0;
	open_sub(t);
	send_pkt(t, st, 0);
	/* Nothing is due yet: position x0 plays once x0 + LAT has passed. */
	next = sub_playout(t->s, t0 + LAT_NS);
	recorder_io_drain(t->rec);
	assert_int_equal(recorder_frames_written(t->rec), 0);
	/* The next call is due when a whole packet of frames is. */
	assert_int_equal(next, mclock_samples_to_ns(st->x0 + FPP + LAT, RATE));
	sub_playout(t->s, next - 1);
	recorder_io_drain(t->rec);
	assert_int_equal(recorder_frames_written(t->rec), FPP - 1);
	next = sub_playout(t->s, next);
	recorder_io_drain(t->rec);
	assert_int_equal(recorder_frames_written(t->rec), FPP);
	assert_int_equal(next,
			 mclock_samples_to_ns(st->x0 + 2 * FPP + LAT, RATE));
	finish(t);
	assert_int_equal(t->rec_x0, st->x0);
	assert_pkt(t, st, 0);
}

static void test_sub_lost_packets_are_counted_and_zero_filled(void **state)
{
	struct ctx *t = *state;
	const struct stream *st = &stream_a;
	unsigned int k;

	open_sub(t);
	for (k = 0; k < 12; k++)
		if (k != 5 && k != 7 && k != 8)
			send_pkt(t, st, k);
	play_until(t, pkt_x(st, 12));
	assert_int_equal(STAT(t, received), 9);
	assert_int_equal(STAT(t, lost), 3);
	assert_int_equal(STAT(t, late), 0);
	assert_int_equal(STAT(t, reordered), 0);
	assert_int_equal(STAT(t, missing_frames), 3 * FPP);
	assert_clean(t);
	finish(t);
	assert_int_equal(t->rec_x0, st->x0);
	assert_int_equal(t->frames, 12 * FPP);
	for (k = 0; k < 12; k++)
		if (k == 5 || k == 7 || k == 8)
			assert_silence(t, pkt_x(st, k), FPP);
		else
			assert_pkt(t, st, k);
}

static void test_sub_reordered_packet_in_time_plays_in_order(void **state)
{
	struct ctx *t = *state;
	const struct stream *st = &stream_a;
	unsigned int k;

	open_sub(t);
	for (k = 0; k < 5; k++)
		send_pkt(t, st, k);
	/* 6 overtakes 5; both are still ahead of playout. */
	send_pkt(t, st, 6);
	send_at(t, st, 5, pkt_arrival(st, 6) + 100 * US);
	for (k = 7; k < 10; k++)
		send_pkt(t, st, k);
	play_until(t, pkt_x(st, 10));
	assert_int_equal(STAT(t, received), 10);
	assert_int_equal(STAT(t, reordered), 1);
	assert_int_equal(STAT(t, lost), 0);
	assert_int_equal(STAT(t, late), 0);
	assert_int_equal(STAT(t, duplicate), 0);
	assert_int_equal(STAT(t, missing_frames), 0);
	assert_clean(t);
	finish(t);
	assert_int_equal(t->frames, 10 * FPP);
	for (k = 0; k < 10; k++)
		assert_pkt(t, st, k);
}

static void test_sub_duplicate_is_counted_and_first_copy_plays(void **state)
{
	struct ctx *t = *state;
	struct stream other = stream_a;
	const struct stream *st = &stream_a;
	unsigned int k;

	other.salt = 0x5555;
	open_sub(t);
	for (k = 0; k < 10; k++) {
		/* Packet 2 is lost: two copies must not make up for it. */
		if (k != 2)
			send_pkt(t, st, k);
		/* A copy of 5 (other content) after 6, and of 8 at once. */
		if (k == 6)
			send_at(t, &other, 5, pkt_arrival(st, 6) + 10 * US);
		if (k == 8)
			send_at(t, &other, 8, pkt_arrival(st, 8) + 10 * US);
	}
	play_until(t, pkt_x(st, 10));
	assert_int_equal(STAT(t, duplicate), 2);
	assert_int_equal(STAT(t, received), 11);
	assert_int_equal(STAT(t, lost), 1);
	assert_int_equal(STAT(t, reordered), 0);
	assert_int_equal(STAT(t, late), 0);
	assert_int_equal(STAT(t, missing_frames), FPP);
	assert_clean(t);
	finish(t);
	for (k = 0; k < 10; k++)
		if (k == 2)
			assert_silence(t, pkt_x(st, k), FPP);
		else
			assert_pkt(t, st, k);
}

static void test_sub_packet_after_its_playout_is_late_and_dropped(void **state)
{
	struct ctx *t = *state;
	const struct stream *st = &stream_a;
	unsigned int k;

	open_sub(t);
	for (k = 0; k < 10; k++)
		if (k != 5)
			send_pkt(t, st, k);
	play_until(t, pkt_x(st, 8));
	assert_int_equal(STAT(t, lost), 1);
	assert_int_equal(STAT(t, missing_frames), FPP);
	/* Packet 5 turns up once all of it has been played as zeros. */
	send_at(t, st, 5, mclock_samples_to_ns(pkt_x(st, 8) + LAT, RATE));
	play_until(t, pkt_x(st, 10));
	assert_int_equal(STAT(t, late), 1);
	assert_int_equal(STAT(t, received), 10);
	/* It did arrive, so it is no longer lost, but nothing was played. */
	assert_int_equal(STAT(t, lost), 0);
	assert_int_equal(STAT(t, missing_frames), FPP);
	assert_int_equal(STAT(t, reordered), 0);
	assert_clean(t);
	finish(t);
	assert_int_equal(t->frames, 10 * FPP);
	for (k = 0; k < 10; k++)
		if (k == 5)
			assert_silence(t, pkt_x(st, k), FPP);
		else
			assert_pkt(t, st, k);
}

static void test_sub_partly_late_packet_plays_its_remaining_frames(void **state)
{
	struct ctx *t = *state;
	const struct stream *st = &stream_a;
	const unsigned int played = 20;
	unsigned int k, i, c;

	open_sub(t);
	for (k = 0; k < 8; k++)
		if (k != 5)
			send_pkt(t, st, k);
	/* Packet 5 comes once its first 20 frames have gone out as zeros. */
	play_until(t, pkt_x(st, 5) + played);
	send_at(t, st, 5,
		mclock_samples_to_ns(pkt_x(st, 5) + played + LAT, RATE));
	for (k = 8; k < 10; k++)
		send_pkt(t, st, k);
	play_until(t, pkt_x(st, 10));
	assert_int_equal(STAT(t, late), 1);
	assert_int_equal(STAT(t, received), 10);
	assert_int_equal(STAT(t, lost), 0);
	assert_int_equal(STAT(t, missing_frames), played);
	finish(t);
	assert_silence(t, pkt_x(st, 5), played);
	for (i = played; i < FPP; i++)
		for (c = 0; c < CH; c++)
			assert_int_equal(file_at(t, pkt_x(st, 5) + i)[c],
					 sample(pkt_ts(st, 5) + i, c, 0));
	for (k = 0; k < 10; k++)
		if (k != 5)
			assert_pkt(t, st, k);
}

static void test_sub_sequence_wrap_is_not_loss(void **state)
{
	struct ctx *t = *state;
	struct stream st = stream_a;
	unsigned int k;

	st.seq0 = 65530;
	open_sub(t);
	for (k = 0; k < 12; k++)
		send_pkt(t, &st, k);
	play_until(t, pkt_x(&st, 12));
	assert_int_equal(STAT(t, received), 12);
	assert_int_equal(STAT(t, lost), 0);
	assert_int_equal(STAT(t, reordered), 0);
	assert_int_equal(STAT(t, late), 0);
	assert_int_equal(STAT(t, missing_frames), 0);
	finish(t);
	for (k = 0; k < 12; k++)
		assert_pkt(t, &st, k);
}

static void test_sub_counts_loss_across_sequence_wrap(void **state)
{
	struct ctx *t = *state;
	struct stream st = stream_a;
	unsigned int k;

	st.seq0 = 65533;
	open_sub(t);
	/* 65535 and 0 never come. */
	for (k = 0; k < 8; k++)
		if (k != 2 && k != 3)
			send_pkt(t, &st, k);
	play_until(t, pkt_x(&st, 8));
	assert_int_equal(STAT(t, received), 6);
	assert_int_equal(STAT(t, lost), 2);
	assert_int_equal(STAT(t, missing_frames), 2 * FPP);
}

static void test_sub_plays_across_timestamp_wrap(void **state)
{
	struct ctx *t = *state;
	struct stream st = stream_a;
	const uint64_t wrap = ((X_BASE >> 32) + 1) << 32;
	unsigned int k;

	/* Packet 3 starts at RTP timestamp 0; packet 2 ends on 0xFFFFFFFF. */
	st.x0 = wrap - 3 * FPP;
	assert_int_equal(pkt_ts(&st, 3), 0);
	assert_int_equal(pkt_ts(&st, 2) + FPP - 1, 0xFFFFFFFFu);
	t->now = mclock_samples_to_ns(st.x0 - 10 * FPP, RATE);
	open_sub(t);
	for (k = 0; k < 8; k++)
		if (k != 4)
			send_pkt(t, &st, k);
	play_until(t, pkt_x(&st, 8));
	assert_int_equal(STAT(t, received), 7);
	assert_int_equal(STAT(t, lost), 1);
	assert_int_equal(STAT(t, late), 0);
	assert_int_equal(STAT(t, early), 0);
	assert_int_equal(STAT(t, missing_frames), FPP);
	finish(t);
	assert_int_equal(t->rec_x0, st.x0);
	assert_int_equal(t->frames, 8 * FPP);
	for (k = 0; k < 8; k++)
		if (k == 4)
			assert_silence(t, pkt_x(&st, k), FPP);
		else
			assert_pkt(t, &st, k);
}

/* timing = auto judges a stream by how old its first packet was when it
 * arrived (the kernel's stamp), not when the node got to it: a node held
 * up 10 s (a stall, SIGSTOP) that then reads a PTP stream's queued
 * packets times it on PTP, not "aligned on arrival" for good (a new
 * user's report). */
static void test_sub_auto_judges_by_arrival_not_by_a_late_read(void **state)
{
	struct ctx *t = *state;
	const struct stream *st = &stream_a;
	uint8_t buf[1500];
	size_t len = build_k(st, 0, buf);

	t->cfg.timing = SUB_TIMING_AUTO;
	open_sub(t);
	sub_rx_packet(t->s, buf, len, &t->from, pkt_arrival(st, 0),
		      pkt_arrival(st, 0) + 10 * NSEC_PER_SEC);
	assert_int_equal(STAT(t, received), 1);
	assert_false(STAT(t, arrival_timing));
	finish(t);
}

/* A sender that restarts on the same SSRC with its numbers begun again
 * behind the last ones (and its timestamps anew): its first packets are
 * "seen" numbers, but a run of them in sequence is its new numbering,
 * not a network's copies: after SEQ_DUP_RESTART of them the stream is
 * followed at the 8th (an attacker's report: 3 s of silence while "receiving",
 * every packet counted a duplicate). */
static void test_sub_restart_on_same_ssrc_with_old_numbers_is_followed(
    void **state)
{
	struct ctx *t = *state;
	const struct stream *a = &stream_a;
	struct stream b = {
	    .x0 = pkt_x(a, 60) + 20 * FPP,
	    .ts_offset = 0x6B3F29D1u,
	    .seq0 = a->seq0, /* the same numbers again */
	    .ssrc = a->ssrc,
	    .salt = 0x777,
	    .delay_ns = 100 * US,
	};
	unsigned int k;

	t->cfg.timing = SUB_TIMING_AUTO;
	open_sub(t);
	for (k = 0; k < 60; k++)
		send_pkt(t, a, k);
	for (k = 0; k < 60; k++)
		send_pkt(t, &b, k);
	play_until(t, pkt_x(&b, 60));
	assert_int_equal(STAT(t, duplicate), 7); /* the 8th restarts */
	assert_true(STAT(t, rejudged) >= 1);
	assert_int_equal(STAT(t, ssrc_changes), 0);
	finish(t);
}

static void test_sub_new_ssrc_resyncs_and_plays_new_stream(void **state)
{
	struct ctx *t = *state;
	const struct stream *a = &stream_a;
	struct stream b = {
	    /* Restarted 20 ms after A's end, with its own timestamp base. */
	    .x0 = pkt_x(a, 10) + 20 * FPP,
	    .ts_offset = 0x6B3F29D1u,
	    .seq0 = 40000,
	    .ssrc = 0x0B0B0B0Bu,
	    .salt = 0x777,
	    .delay_ns = 100 * US,
	};
	/* Aligned on its first packet's arrival (100 us = 4.8 frames). */
	const uint64_t b_at = b.x0 + 4;
	unsigned int k;

	t->cfg.timing = SUB_TIMING_AUTO;
	open_sub(t);
	for (k = 0; k < 10; k++)
		send_pkt(t, a, k);
	assert_false(STAT(t, arrival_timing));
	play_until(t, pkt_x(a, 10));
	for (k = 0; k < 10; k++)
		send_pkt(t, &b, k);
	play_until(t, b_at + 10 * FPP);
	assert_int_equal(STAT(t, ssrc_changes), 1);
	assert_int_equal(STAT(t, ssrc), b.ssrc);
	assert_true(STAT(t, arrival_timing));
	assert_int_equal(STAT(t, received), 20);
	assert_int_equal(STAT(t, lost), 0);
	assert_int_equal(STAT(t, late), 0);
	assert_int_equal(STAT(t, reordered), 0);
	/* The gap between the two streams is missing; nothing else. */
	assert_int_equal(STAT(t, missing_frames), b_at - pkt_x(a, 10));
	assert_clean(t);
	finish(t);
	assert_int_equal(t->rec_x0, a->x0);
	for (k = 0; k < 10; k++)
		assert_pkt(t, a, k);
	assert_silence(t, pkt_x(a, 10), b_at - pkt_x(a, 10));
	for (k = 0; k < 10; k++)
		assert_pkt_at(t, &b, k, b_at + (uint64_t)k * FPP);
}

/* Packet 5 of stream A is preceded by @bad (from @from); the good one must
 * still play, so the bad one stored nothing. */
static void run_with_bad_copy(struct ctx *t, const uint8_t *bad, size_t len,
			      const struct sockaddr_in *from)
{
	const struct stream *st = &stream_a;
	unsigned int k;

	for (k = 0; k < 10; k++) {
		if (k == 5)
			rx_from(t, bad, len, from,
				pkt_arrival(st, 5) - 10 * US);
		send_pkt(t, st, k);
	}
	play_until(t, pkt_x(st, 10));
	assert_int_equal(STAT(t, received), 10);
	assert_int_equal(STAT(t, lost), 0);
	assert_int_equal(STAT(t, duplicate), 0);
	assert_int_equal(STAT(t, reordered), 0);
	assert_int_equal(STAT(t, missing_frames), 0);
}

static void assert_stream_a_played(struct ctx *t)
{
	unsigned int k;

	finish(t);
	assert_int_equal(t->frames, 10 * FPP);
	for (k = 0; k < 10; k++)
		assert_pkt(t, &stream_a, k);
}

static void test_sub_wrong_payload_type_is_counted_not_stored(void **state)
{
	struct ctx *t = *state;
	uint8_t bad[1500];
	size_t len = build(bad, 96, stream_a.seq0 + 5, pkt_ts(&stream_a, 5),
			   stream_a.ssrc, FPP, 0x999);

	open_sub(t);
	run_with_bad_copy(t, bad, len, &t->from);
	assert_int_equal(STAT(t, bad_pt), 1);
	assert_int_equal(STAT(t, last_bad_pt), 96);
	assert_int_equal(STAT(t, bad_size), 0);
	assert_int_equal(STAT(t, bad_header), 0);
	assert_stream_a_played(t);
}

static void test_sub_wrong_payload_size_is_counted_not_stored(void **state)
{
	struct ctx *t = *state;
	const struct stream *st = &stream_a;
	uint8_t bad[1500];
	size_t len =
	    build(bad, PT, st->seq0 + 5, pkt_ts(st, 5), st->ssrc, FPP, 0x999);
	unsigned int k;

	open_sub(t);
	for (k = 0; k < 10; k++) {
		if (k == 5) {
			/* One byte short of whole frames. */
			rx(t, bad, len - 1, pkt_arrival(st, 5) - 20 * US);
			assert_int_equal(STAT(t, bad_size), 1);
			assert_int_equal(STAT(t, last_bad_size),
					 len - 1 - RTP_HDR_LEN);
			/* A whole sample but not a whole frame. */
			rx(t, bad, RTP_HDR_LEN + 3,
			   pkt_arrival(st, 5) - 15 * US);
			assert_int_equal(STAT(t, bad_size), 2);
			assert_int_equal(STAT(t, last_bad_size), 3);
			/* A header and no samples. */
			rx(t, bad, RTP_HDR_LEN, pkt_arrival(st, 5) - 10 * US);
			assert_int_equal(STAT(t, bad_size), 3);
			assert_int_equal(STAT(t, last_bad_size), 0);
		}
		send_pkt(t, st, k);
	}
	play_until(t, pkt_x(st, 10));
	assert_int_equal(STAT(t, received), 10);
	assert_int_equal(STAT(t, duplicate), 0);
	assert_int_equal(STAT(t, lost), 0);
	assert_int_equal(STAT(t, bad_pt), 0);
	assert_int_equal(STAT(t, bad_header), 0);
	assert_stream_a_played(t);
}

static void test_sub_non_rtp_datagram_is_bad_header(void **state)
{
	struct ctx *t = *state;
	const struct stream *st = &stream_a;
	uint8_t bad[1500];
	size_t len = build_k(st, 5, bad);
	unsigned int k;

	bad[0] = (bad[0] & 0x3F) | 0x40; /* version 1 */
	open_sub(t);
	for (k = 0; k < 10; k++) {
		if (k == 5) {
			rx(t, bad, len, pkt_arrival(st, 5) - 20 * US);
			assert_int_equal(STAT(t, bad_header), 1);
			/* Too short for a header. */
			build_k(st, 5, bad);
			rx(t, bad, 5, pkt_arrival(st, 5) - 10 * US);
			assert_int_equal(STAT(t, bad_header), 2);
		}
		send_pkt(t, st, k);
	}
	play_until(t, pkt_x(st, 10));
	assert_int_equal(STAT(t, bad_header), 2);
	assert_int_equal(STAT(t, bad_pt), 0);
	assert_int_equal(STAT(t, bad_size), 0);
	assert_int_equal(STAT(t, received), 10);
	assert_int_equal(STAT(t, duplicate), 0);
	assert_int_equal(STAT(t, lost), 0);
	assert_stream_a_played(t);
}

static void test_sub_source_filter_ignores_other_senders(void **state)
{
	struct ctx *t = *state;
	struct sockaddr_in stranger = t->from;
	uint8_t bad[1500];
	size_t len = build(bad, PT, stream_a.seq0 + 5, pkt_ts(&stream_a, 5),
			   stream_a.ssrc, FPP, 0x999);

	stranger.sin_addr.s_addr = inet_addr("192.0.2.11");
	t->cfg.has_source_filter = true;
	t->cfg.source_filter = t->from.sin_addr;
	open_sub(t);
	run_with_bad_copy(t, bad, len, &stranger);
	assert_int_equal(STAT(t, foreign), 1);
	assert_int_equal(STAT(t, bad_pt), 0);
	assert_stream_a_played(t);
}

static void test_sub_without_filter_accepts_any_sender(void **state)
{
	struct ctx *t = *state;
	const struct stream *st = &stream_a;
	unsigned int k;

	open_sub(t);
	for (k = 0; k < 10; k++) {
		/* Same stream, a different sender address each packet. */
		t->from.sin_addr.s_addr = htonl(0xC6336400u + k);
		send_pkt(t, st, k);
	}
	play_until(t, pkt_x(st, 10));
	assert_int_equal(STAT(t, foreign), 0);
	assert_stream_a_played(t);
}

/* Stream A with its timestamps far from the media clock. */
static const struct stream stream_off = {.x0 = X_BASE + 480,
					 .ts_offset = 0x6B3F29D1u,
					 .seq0 = 7,
					 .ssrc = 0x12345678u,
					 .delay_ns = 100 * US};

static void test_sub_auto_timing_aligns_foreign_clock_on_arrival(void **state)
{
	struct ctx *t = *state;
	const struct stream *st = &stream_off;
	/* The first packet's arrival, 100 us (4.8 frames) after x0. */
	const uint64_t at = st->x0 + 4;
	unsigned int k;

	assert_int_equal(mclock_ns_to_samples(pkt_arrival(st, 0), RATE), at);
	t->cfg.timing = SUB_TIMING_AUTO;
	open_sub(t);
	send_pkt(t, st, 0);
	assert_true(STAT(t, arrival_timing));
	/* Its first frame plays once arrival + latency has passed. */
	play_until(t, at);
	assert_int_equal(recorder_frames_written(t->rec), 0);
	play_until(t, at + 1);
	assert_int_equal(recorder_frames_written(t->rec), 1);
	for (k = 1; k < 10; k++)
		send_pkt(t, st, k);
	play_until(t, at + 10 * FPP);
	assert_int_equal(STAT(t, received), 10);
	assert_int_equal(STAT(t, late), 0);
	assert_int_equal(STAT(t, lost), 0);
	assert_int_equal(STAT(t, missing_frames), 0);
	assert_clean(t);
	finish(t);
	assert_int_equal(t->rec_x0, at);
	assert_int_equal(t->frames, 10 * FPP);
	for (k = 0; k < 10; k++)
		assert_pkt_at(t, st, k, at + (uint64_t)k * FPP);
}

static void test_sub_auto_timing_keeps_ptp_for_fitting_stream(void **state)
{
	struct ctx *t = *state;
	struct stream st = stream_a;
	unsigned int k;

	/* 3 ms in transit (within a 5 ms latency): still a PTP-stamped
	 * stream, placed by its own timestamps. */
	st.delay_ns = 3 * MS;
	t->cfg.timing = SUB_TIMING_AUTO;
	t->cfg.latency_ns = 5 * MS;
	open_sub(t);
	for (k = 0; k < 10; k++)
		send_pkt(t, &st, k);
	sub_playout(t->s, mclock_samples_to_ns(pkt_x(&st, 10), RATE) + 5 * MS);
	assert_false(STAT(t, arrival_timing));
	assert_int_equal(STAT(t, late), 0);
	finish(t);
	assert_int_equal(t->rec_x0, st.x0);
	for (k = 0; k < 10; k++)
		assert_pkt(t, &st, k);
}

static void test_sub_ptp_timing_refuses_foreign_clock(void **state)
{
	struct ctx *t = *state;
	struct stream st = stream_off;
	unsigned int k;

	/* Timestamps 2^30 frames (6 h) ahead of the media clock. */
	st.ts_offset = 0x40000000u;
	t->rcfg.start = START_NOW;
	open_sub(t);
	for (k = 0; k < 10; k++)
		send_pkt(t, &st, k);
	play_until(t, pkt_x(&st, 10));
	assert_false(STAT(t, arrival_timing));
	assert_int_equal(STAT(t, received), 10);
	assert_int_equal(STAT(t, early), 10);
	assert_int_equal(STAT(t, late), 0);
	finish(t);
	assert_silence(t, t->rec_x0, (uint64_t)t->frames);
	assert_true(t->frames > 10 * FPP);

	/* Behind the clock by 2^30 frames: late instead. */
	sub_destroy(t->s);
	t->s = NULL;
	unlink(t->rcfg.path);
	free(t->file);
	t->file = NULL;
	st.ts_offset = 0xC0000000u;
	open_sub(t);
	for (k = 0; k < 10; k++)
		send_pkt(t, &st, k);
	play_until(t, pkt_x(&st, 10));
	assert_int_equal(STAT(t, late), 10);
	assert_int_equal(STAT(t, early), 0);
	finish(t);
	assert_silence(t, t->rec_x0, (uint64_t)t->frames);
}

/* A node whose clock is not locked yet cannot call a packet late: a sender
 * that locked a moment earlier stamps on a timescale this node does not
 * have yet. Such misses are "unsynced"; once locked, misses are late. */
static void test_sub_misses_before_lock_are_unsynced(void **state)
{
	struct ctx *t = *state;
	struct stream st = stream_off;
	unsigned int k;
	uint64_t hist = 0;

	st.ts_offset = 0xC0000000u; /* 2^30 frames behind this clock */
	t->rcfg.start = START_NOW;
	open_sub(t);
	sub_set_timescale_ok(t->s, false);
	for (k = 0; k < 5; k++)
		send_pkt(t, &st, k);
	assert_int_equal(STAT(t, received), 5);
	assert_int_equal(STAT(t, unsynced), 5);
	assert_int_equal(STAT(t, late), 0);
	assert_int_equal(STAT(t, early), 0);
	for (k = 0; k < SUB_HIST_BUCKETS; k++)
		hist += STAT(t, hist[k]);
	assert_int_equal(hist, 0);

	sub_set_timescale_ok(t->s, true);
	for (k = 5; k < 8; k++)
		send_pkt(t, &st, k);
	assert_int_equal(STAT(t, unsynced), 5);
	assert_int_equal(STAT(t, late), 3);
	for (k = 0, hist = 0; k < SUB_HIST_BUCKETS; k++)
		hist += STAT(t, hist[k]);
	assert_int_equal(hist, 3);
	finish(t);
}

/* Holes played out while the clock is not settled are not counted
 * missing (their packets were "unsynced"); once it settles, counting
 * starts at the first data that comes. */
static void test_sub_holes_before_lock_are_not_missing(void **state)
{
	struct ctx *t = *state;
	const struct stream *st = &stream_a;
	unsigned int k;

	open_sub(t);
	sub_set_timescale_ok(t->s, false);
	for (k = 0; k < 10; k++)
		if (k != 3 && k != 4)
			send_pkt(t, st, k);
	play_until(t, pkt_x(st, 8));
	assert_int_equal(STAT(t, missing_frames), 0);
	sub_set_timescale_ok(t->s, true);
	for (k = 10; k < 16; k++)
		if (k != 13)
			send_pkt(t, st, k);
	play_until(t, pkt_x(st, 16));
	assert_int_equal(STAT(t, missing_frames), FPP);
	assert_int_equal(STAT(t, lost), 3);
	finish(t);
}

static void test_sub_auto_timing_thresholds(void **state)
{
	static const struct {
		int64_t ts_minus_clock; /* frames, at the first arrival */
		bool arrival;
	} cases[] = {
	    {-RATE / 2, false},	     {-RATE + 10, false},
	    {-RATE - 100, true},     {RATE / 10 - 100, false},
	    {RATE / 10 + 100, true}, {0x7FFFFFFF, true},
	};
	struct ctx *t = *state;
	unsigned int i;

	t->cfg.timing = SUB_TIMING_AUTO;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct stream st = stream_a;
		uint8_t buf[1500];
		size_t len;

		/* Arrives exactly at x0; stamped x0 + ts_minus_clock. */
		st.delay_ns = 0;
		st.ts_offset = (uint32_t)cases[i].ts_minus_clock;
		open_sub(t);
		len = build_k(&st, 0, buf);
		rx(t, buf, len, pkt_arrival(&st, 0));
		if (STAT(t, arrival_timing) != cases[i].arrival)
			fail_msg("timestamp %lld frames off the clock: "
				 "arrival timing %d, want %d",
				 (long long)cases[i].ts_minus_clock,
				 (int)STAT(t, arrival_timing),
				 (int)cases[i].arrival);
		sub_destroy(t->s);
		t->s = NULL;
		recorder_close(t->rec);
		t->rec = NULL;
	}
}

static void test_sub_arrival_timing_ignores_timestamps(void **state)
{
	struct ctx *t = *state;
	struct stream st = stream_a;
	/* 300 us after x0 is 14.4 frames. */
	const uint64_t at = st.x0 + 14;
	unsigned int k;

	st.delay_ns = 300 * US;
	t->cfg.timing = SUB_TIMING_ARRIVAL;
	open_sub(t);
	for (k = 0; k < 10; k++)
		send_pkt(t, &st, k);
	play_until(t, at + 10 * FPP);
	assert_int_equal(STAT(t, late), 0);
	assert_int_equal(STAT(t, missing_frames), 0);
	finish(t);
	assert_int_equal(t->rec_x0, at);
	for (k = 0; k < 10; k++)
		assert_pkt_at(t, &st, k, at + (uint64_t)k * FPP);
}

static void test_sub_late_duplicate_does_not_hide_a_loss(void **state)
{
	struct ctx *t = *state;
	const struct stream *st = &stream_a;
	unsigned int k;

	open_sub(t);
	for (k = 0; k < 10; k++)
		if (k != 3)
			send_pkt(t, st, k);
	play_until(t, pkt_x(st, 10));
	assert_int_equal(STAT(t, lost), 1);
	/* A second copy of 6, after it has been played: a repeated
	 * sequence number is a duplicate, in time or not. */
	send_at(t, st, 6, mclock_samples_to_ns(pkt_x(st, 10) + LAT, RATE));
	assert_int_equal(STAT(t, duplicate), 1);
	assert_int_equal(STAT(t, late), 0);
	/* Packet 3 still never arrived. */
	assert_int_equal(STAT(t, lost), 1);
}

static void test_sub_early_packets_do_not_start_the_recording(void **state)
{
	struct ctx *t = *state;
	/* A sender whose clock is 2^30 frames ahead: every packet early. */
	struct stream a = stream_a;
	/* It restarts (new SSRC) with PTP-aligned timestamps. */
	struct stream b = stream_a;
	unsigned int k;

	a.ts_offset = 0x40000000u;
	b.x0 = pkt_x(&a, 10);
	b.ssrc = a.ssrc + 1;
	b.seq0 = 20000;
	b.salt = 0x2B;
	open_sub(t);
	for (k = 0; k < 3; k++)
		send_pkt(t, &a, k);
	assert_int_equal(STAT(t, early), 3);
	for (k = 0; k < 10; k++)
		if (k != 4)
			send_pkt(t, &b, k);
	play_until(t, pkt_x(&b, 10));
	assert_int_equal(STAT(t, ssrc_changes), 1);
	assert_int_equal(STAT(t, early), 3);
	assert_int_equal(STAT(t, lost), 1);
	/* B's lost packet played as zeros and is counted as missing. */
	assert_int_equal(STAT(t, missing_frames), FPP);
	/* B proved itself with its third packet, 2 ms (the latency) after
	 * its first: the first's first 4 frames (100 us of delay) were due
	 * already, and only they are late. */
	assert_int_equal(STAT(t, late), 1);
	assert_int_equal(STAT(t, foreign_ssrc), 0);
	finish(t);
	/* START_FIRST: the first sample that played is B's first. */
	assert_int_equal(t->rec_x0, b.x0 + 4);
	assert_int_equal(t->frames, 10 * FPP - 4);
	for (k = 1; k < 10; k++)
		if (k == 4)
			assert_silence(t, pkt_x(&b, k), FPP);
		else
			assert_pkt(t, &b, k);
}

static uint64_t realtime_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * NSEC_PER_SEC + (uint64_t)ts.tv_nsec;
}


/* A stray or spoofed SSRC among a live stream's packets (from the
 * sender's own address, in sequence among themselves) is counted and
 * never played; the stream stays the stream. */
static void test_sub_stray_ssrc_is_ignored_while_the_stream_lives(void **state)
{
	struct ctx *t = *state;
	const struct stream *st = &stream_a;
	struct stream spoof = stream_a;
	unsigned int k;

	spoof.ssrc = 0xBADBAD00u;
	spoof.seq0 = 7;
	spoof.salt = 0x5A5A;
	open_sub(t);
	for (k = 0; k < 20; k++) {
		send_pkt(t, st, k);
		/* five spoofs on the stream's own timeline, between its
		 * packets */
		if (k >= 5 && k < 10)
			send_at(t, &spoof, k - 5 + 6, pkt_arrival(st, k) + 300 * US);
	}
	play_until(t, pkt_x(st, 20));
	assert_int_equal(STAT(t, foreign_ssrc), 5);
	assert_int_equal(STAT(t, ssrc_changes), 0);
	assert_int_equal(STAT(t, ssrc), st->ssrc);
	assert_int_equal(STAT(t, received), 20);
	assert_int_equal(STAT(t, missing_frames), 0);
	assert_clean(t);
	finish(t);
	for (k = 0; k < 20; k++)
		assert_pkt(t, st, k);
}

/* A spoofer sends five packets of a new SSRC off the stream's timeline
 * from the sender's own address while the sender stalls for 6 ms (its
 * packets then come in a burst): the stream keeps its SSRC and loses
 * nothing. (A quiet of 2 ms let the spoof take the route.) */
static void test_sub_spoof_during_a_sender_stall_does_not_take_over(
    void **state)
{
	struct ctx *t = *state;
	const struct stream *a = &stream_a;
	struct stream spoof = stream_a;
	uint64_t burst = pkt_arrival(a, 16);
	unsigned int k;

	spoof.ssrc = 0xBADBAD01u;
	spoof.ts_offset = 0x3C00F00Du;
	spoof.seq0 = 7000;
	spoof.salt = 0x5A5B;
	t->cfg.latency_ns = 20 * MS;
	open_sub(t);
	for (k = 0; k < 10; k++)
		send_pkt(t, a, k);
	for (k = 0; k < 5; k++)
		send_at(t, &spoof, k, pkt_arrival(a, 10 + k) + 300 * US);
	for (k = 10; k < 16; k++)
		send_at(t, a, k, burst + (k - 10) * 10 * US);
	for (k = 16; k < 40; k++)
		send_at(t, a, k, pkt_arrival(a, k) + 100 * US);
	play_until(t, pkt_x(a, 40));
	assert_int_equal(STAT(t, ssrc_changes), 0);
	assert_int_equal(STAT(t, ssrc), a->ssrc);
	assert_int_equal(STAT(t, foreign_ssrc), 5);
	assert_int_equal(STAT(t, received), 40);
	assert_int_equal(STAT(t, late), 0);
	assert_int_equal(STAT(t, missing_frames), 0);
	finish(t);
	for (k = 0; k < 40; k++)
		assert_pkt(t, a, k);
}

/* A sender that steps to another timescale sends on with a new SSRC
 * straight away: off the buffer's timeline, it is taken once the old SSRC
 * has been quiet for 20 ms, not before, and then plays. */
static void test_sub_new_ssrc_off_the_timeline_waits_for_20ms_of_quiet(
    void **state)
{
	struct ctx *t = *state;
	const struct stream *a = &stream_a;
	struct stream b = stream_a;
	unsigned int k;

	b.ssrc = 0x0D0D0D0Du;
	b.ts_offset = 0x6B3F29D1u;
	b.seq0 = 500;
	b.salt = 0x999;
	t->cfg.timing = SUB_TIMING_AUTO;
	t->cfg.latency_ns = 5 * MS;
	open_sub(t);
	for (k = 0; k < 10; k++)
		send_pkt(t, a, k);
	/* B's packet k comes (k - 9) ms after A's last: 28 at 19 ms */
	for (k = 10; k < 29; k++)
		send_pkt(t, &b, k);
	assert_int_equal(STAT(t, ssrc_changes), 0);
	assert_int_equal(STAT(t, ssrc), a->ssrc);
	send_pkt(t, &b, 29);
	assert_int_equal(STAT(t, ssrc_changes), 1);
	assert_int_equal(STAT(t, ssrc), b.ssrc);
	for (k = 30; k < 60; k++)
		send_pkt(t, &b, k);
	play_until(t, pkt_x(&b, 60));
	/* timed anew: of what the stash kept, what came more than the
	 * latency before the take-over is late; nothing after it */
	assert_true(STAT(t, late) <= 8 - 5);
	assert_int_equal(STAT(t, lost), 0);
	finish(t);
	for (k = 0; k < 10; k++)
		assert_pkt(t, a, k);
}

/* A d4 sender that sent before its lock (aligned on arrival here) locks
 * and sends on with a new SSRC on this node's media clock straight away:
 * taken after 3 packets, as before, not after 20 ms. */
static void test_sub_new_ssrc_on_the_clock_is_taken_at_once(void **state)
{
	struct ctx *t = *state;
	struct stream a = stream_a;
	struct stream b = stream_a;
	unsigned int k;

	a.ts_offset = 0x12345678u;
	b.ssrc = 0x0E0E0E0Eu;
	b.seq0 = 900;
	b.salt = 0x1234;
	t->cfg.timing = SUB_TIMING_AUTO;
	t->cfg.latency_ns = 5 * MS;
	open_sub(t);
	for (k = 0; k < 10; k++)
		send_pkt(t, &a, k);
	assert_true(STAT(t, arrival_timing));
	for (k = 10; k < 12; k++)
		send_pkt(t, &b, k);
	assert_int_equal(STAT(t, ssrc_changes), 0);
	send_pkt(t, &b, 12);
	assert_int_equal(STAT(t, ssrc_changes), 1);
	assert_int_equal(STAT(t, ssrc), b.ssrc);
	assert_false(STAT(t, arrival_timing));
	finish(t);
}

/* A second sender takes over on the same timeline (same timestamps,
 * another SSRC), as a redundant sender or a restarted one on PTP does:
 * once it has proved itself, what it sent meanwhile plays, and not a
 * frame is lost at a latency above its proving time. */
static void test_sub_handover_on_one_timeline_loses_nothing(void **state)
{
	struct ctx *t = *state;
	const struct stream *a = &stream_a;
	struct stream b = stream_a;
	unsigned int k;

	b.ssrc = 0x0C0C0C0Cu;
	b.seq0 = 3;
	b.salt = 0x4242;
	t->cfg.latency_ns = 5 * MS;
	open_sub(t);
	for (k = 0; k < 10; k++)
		send_pkt(t, a, k);
	for (k = 10; k < 30; k++)
		send_at(t, &b, k, pkt_arrival(&b, k));
	play_until(t, pkt_x(a, 30));
	assert_int_equal(STAT(t, ssrc_changes), 1);
	assert_int_equal(STAT(t, ssrc), b.ssrc);
	assert_int_equal(STAT(t, missing_frames), 0);
	assert_int_equal(STAT(t, late), 0);
	assert_int_equal(STAT(t, foreign_ssrc), 0);
	assert_false(STAT(t, arrival_timing));
	finish(t);
	for (k = 0; k < 10; k++)
		assert_pkt(t, a, k);
	for (k = 10; k < 30; k++)
		assert_pkt(t, &b, k);
}

/* A datagram to @s's socket on the loopback. */
static void udp_send_to(const struct sub *s, const uint8_t *buf, size_t len)
{
	struct sockaddr_in to;
	socklen_t tolen = sizeof(to);
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	assert_int_equal(getsockname(sub_fd(s), (struct sockaddr *)&to, &tolen),
			 0);
	to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(
	    sendto(fd, buf, len, 0, (struct sockaddr *)&to, sizeof(to)),
	    (ssize_t)len);
	close(fd);
}


/* The stream moved (its SDP gave a new address): the receiver opened
 * there takes over what the old one received and has not played, what
 * still waits in the old socket, and what reached its own socket before
 * it was put in place, so the move costs none of the audio on its way. */
static void test_sub_moved_stream_plays_what_the_old_address_brought(
    void **state)
{
	struct ctx *t = *state;
	const struct stream *a = &stream_a;
	struct sub *old;
	char err[256] = "";
	uint8_t buf[1500];
	uint64_t now;
	int64_t offset;
	unsigned int k;

	t->cfg.latency_ns = 5 * MS;
	open_sub(t);
	for (k = 0; k < 10; k++)
		send_pkt(t, a, k);
	/* packets 5-9 are still in the old receiver's buffer */
	play_until(t, pkt_x(a, 5));
	old = t->s;
	t->s = sub_open(&t->cfg, err, sizeof(err));
	assert_non_null(t->s);
	assert_int_equal(sub_add_recorder(t->s, t->rec), 0);
	sub_set_continues(t->s);
	/* 10 and 11 wait in the old socket, 12 and 13 in the new one; the
	 * kernel's stamps map to just before packet 13's arrival */
	now = pkt_arrival(a, 13) + 20 * US;
	offset = (int64_t)(now - realtime_ns());
	for (k = 10; k < 14; k++)
		udp_send_to(k < 12 ? old : t->s, buf, build_k(a, k, buf));
	usleep(20 * 1000);
	assert_true(sub_take_over(t->s, old, now, offset));
	assert_true(sub_continued(t->s));
	assert_int_equal(atomic_load(&sub_stats(old)->received), 12);
	sub_destroy(old);
	sub_rx_drain(t->s, now, offset);
	assert_int_equal(STAT(t, received), 2);
	for (k = 14; k < 30; k++)
		send_pkt(t, a, k);
	play_until(t, pkt_x(a, 30));
	assert_int_equal(STAT(t, missing_frames), 0);
	assert_int_equal(STAT(t, late), 0);
	assert_int_equal(STAT(t, received), 18);
	finish(t);
	for (k = 0; k < 30; k++)
		assert_pkt(t, a, k);
}

/* A moved stream on another timeline (a new mediaclk offset) or latency,
 * or a new receiver that is not a move: nothing is taken over, and the
 * new one times its stream itself. */
static void test_sub_take_over_only_a_move_on_the_same_timeline(void **state)
{
	struct ctx *t = *state;
	const struct stream *a = &stream_a;
	struct sub_config moved;
	struct sub *s;
	char err[256] = "";
	unsigned int k;

	open_sub(t);
	for (k = 0; k < 4; k++)
		send_pkt(t, a, k);
	moved = t->cfg;
	s = sub_open(&moved, err, sizeof(err));
	assert_non_null(s);
	assert_false(sub_take_over(s, t->s, pkt_arrival(a, 3), 0));
	sub_destroy(s);
	moved.mediaclk_offset = 12345;
	s = sub_open(&moved, err, sizeof(err));
	assert_non_null(s);
	sub_set_continues(s);
	assert_false(sub_take_over(s, t->s, pkt_arrival(a, 3), 0));
	assert_false(sub_continued(s));
	sub_destroy(s);
	moved.mediaclk_offset = t->cfg.mediaclk_offset;
	moved.latency_ns = 3 * MS;
	s = sub_open(&moved, err, sizeof(err));
	assert_non_null(s);
	sub_set_continues(s);
	assert_false(sub_take_over(s, t->s, pkt_arrival(a, 3), 0));
	sub_destroy(s);
	/* the old receiver kept its buffer: it plays on */
	for (k = 4; k < 10; k++)
		send_pkt(t, a, k);
	play_until(t, pkt_x(a, 10));
	assert_int_equal(STAT(t, missing_frames), 0);
	finish(t);
	for (k = 0; k < 10; k++)
		assert_pkt(t, a, k);
}

/* The node's own clock steps back 37 s (it locked to a grandmaster on
 * another timescale) and the sender, restarted on the new timescale,
 * comes back with a new SSRC: the new SSRC proves itself in a few
 * packets, not after the 37 s the old SSRC's last arrival (stamped on
 * the old timescale) would make it wait. */
static void test_sub_new_ssrc_after_a_clock_step_back_is_taken(void **state)
{
	struct ctx *t = *state;
	const struct stream *a = &stream_a;
	struct stream b = stream_a;
	unsigned int k;

	b.ssrc = 0x0D0D0D0Du;
	b.seq0 = 9;
	b.salt = 0x1717;
	b.x0 = stream_a.x0 - 37ull * RATE;
	t->cfg.timing = SUB_TIMING_AUTO;
	open_sub(t);
	for (k = 0; k < 20; k++)
		send_pkt(t, a, k);
	assert_int_equal(STAT(t, received), 20);
	/* the media clock steps: the media thread resyncs its subscriptions */
	sub_resync(t->s, pkt_arrival(&b, 20) - 500 * US);
	for (k = 20; k < 100; k++)
		send_pkt(t, &b, k);
	assert_int_equal(STAT(t, ssrc_changes), 1);
	assert_int_equal(STAT(t, ssrc), b.ssrc);
	/* the proving run (SSRC_QUIET after the step) at most: 20 packets */
	assert_true(STAT(t, received) >= 20 + 60);
	assert_int_equal(STAT(t, received) + STAT(t, foreign_ssrc) +
			     sub_pending(t->s),
			 100);
}

/* A sender that steps to another timescale on the same SSRC (a clock
 * that locked without restarting the stream): after a run of packets
 * that fit nowhere the stream is timed anew and plays again, and when it
 * steps back it is timed anew once more. */
static void test_sub_timescale_step_is_followed(void **state)
{
	struct ctx *t = *state;
	struct stream st = stream_a;
	unsigned int k, played;

	t->cfg.timing = SUB_TIMING_AUTO;
	open_sub(t);
	for (k = 0; k < 10; k++)
		send_pkt(t, &st, k);
	assert_false(STAT(t, arrival_timing));
	/* 37 s on (TAI against UTC): every packet far ahead */
	st.ts_offset = 37u * RATE;
	for (k = 10; k < 100; k++)
		send_pkt(t, &st, k);
	assert_int_equal(STAT(t, rejudged), 1);
	assert_true(STAT(t, arrival_timing));
	/* and back */
	st.ts_offset = 0;
	for (k = 100; k < 200; k++)
		send_pkt(t, &st, k);
	play_until(t, pkt_x(&st, 200));
	assert_int_equal(STAT(t, rejudged), 2);
	assert_false(STAT(t, arrival_timing));
	assert_int_equal(STAT(t, ssrc_changes), 0);
	/* at most a misfit run lost each way (8 packets, 20 ms): the rest
	 * played */
	played = (unsigned int)(recorder_frames_written(t->rec) / FPP);
	assert_true(STAT(t, missing_frames) <= 2 * 25 * FPP);
	assert_true(played >= 190);
}

/* A sender whose clock runs @ppm off ours, aligned on arrival, for a
 * minute: the node follows its rate, converts, and loses nothing once
 * it has settled. */
static void run_drifting_sender(struct ctx *t, double ppm)
{
	struct stream st = stream_off;
	uint64_t t0 = pkt_arrival(&st, 0), missing_settled = 0;
	unsigned int k, n = 60 * 1000;
	uint8_t buf[1500];

	t->cfg.timing = SUB_TIMING_ARRIVAL;
	t->cfg.latency_ns = 5 * MS;
	open_sub(t);
	for (k = 0; k < n; k++) {
		/* packet k is due after k ms of the sender's clock */
		uint64_t at = t0 + (uint64_t)((double)k * MS / (1 + ppm / 1e6));
		size_t len = build_k(&st, k, buf);

		rx(t, buf, len, at);
		if (k == 10 * 1000)
			missing_settled = STAT(t, missing_frames);
	}
	print_message("# %+.0f ppm: measured %+.3f ppm, converting %d, "
		      "missing %llu (%llu after 10 s), steps %llu\n",
		      ppm, STAT(t, rate_ppb) / 1000.0, (int)STAT(t, converting),
		      (unsigned long long)STAT(t, missing_frames),
		      (unsigned long long)(STAT(t, missing_frames) -
					   missing_settled),
		      (unsigned long long)STAT(t, arrival_steps));
	assert_true(STAT(t, converting));
	assert_true(llabs(STAT(t, rate_ppb) - (int64_t)(ppm * 1000)) < 5000);
	assert_int_equal(STAT(t, missing_frames), missing_settled);
	assert_int_equal(STAT(t, late), 0);
	assert_int_equal(STAT(t, early), 0);
	assert_int_equal(STAT(t, arrival_steps), 0);
}

static void test_sub_arrival_follows_a_fast_sender(void **state)
{
	run_drifting_sender(*state, 1000);
}

static void test_sub_arrival_follows_a_slow_sender(void **state)
{
	run_drifting_sender(*state, -1000);
}

/* A sender on our own clock, aligned on arrival, is not converted: its
 * audio stays bit-exact. */
static void test_sub_arrival_on_our_clock_stays_bit_exact(void **state)
{
	struct ctx *t = *state;
	const struct stream *st = &stream_off;
	const uint64_t at = st->x0 + 4;
	unsigned int k;

	t->cfg.timing = SUB_TIMING_ARRIVAL;
	open_sub(t);
	for (k = 0; k < 3000; k++)
		send_pkt(t, st, k);
	play_until(t, at + 3000 * FPP);
	assert_false(STAT(t, converting));
	assert_int_equal(STAT(t, missing_frames), 0);
	finish(t);
	for (k = 0; k < 3000; k += 7)
		assert_pkt_at(t, st, k, at + (uint64_t)k * FPP);
}

/* A sender @ppm off our clock through a jittery path, as a normal-
 * priority sender on a loaded machine is (GStreamer's udpsink): most
 * packets a little late, some a few ms, now and then a stall of tens of
 * ms and a burst after it. Aligned on its first packet's arrival, at the
 * largest latency. Returns the first packet's arrival. */
static uint64_t run_jittery_sender(struct ctx *t, double ppm,
				   unsigned int n)
{
	const struct stream *st = &stream_off;
	uint64_t stall_until = 0, at0 = 0, prev = 0, t0 = pkt_arrival(st, 0);
	unsigned int k, seed = 12345;
	uint8_t buf[1500];

	t->cfg.timing = SUB_TIMING_ARRIVAL;
	t->cfg.latency_ns = 100 * MS;
	open_sub(t);
	for (k = 0; k < n; k++) {
		uint64_t due = t0 + (uint64_t)((double)k * MS / (1 + ppm / 1e6));
		uint64_t at = due;
		unsigned int r;

		seed = seed * 1103515245u + 12345u;
		r = (seed >> 8) % 1000;
		if (r < 700)
			at = due + (r % 200) * US;
		else if (r < 990)
			at = due + (r % 50) * 100 * US;
		else
			stall_until = due + (20 + r % 40) * MS;
		if (r >= 990 || due < stall_until)
			at = stall_until > due ? stall_until : due;
		if (at < prev)
			at = prev; /* one sender, one path: in order */
		prev = at;
		if (!k)
			at0 = at;
		rx(t, buf, build_k(st, k, buf), at);
	}
	print_message("# jittered %+.0f ppm: converting %d, measured %+.3f ppm, "
		      "steps %llu, missing %llu, late %llu, early %llu\n",
		      ppm, (int)STAT(t, converting),
		      STAT(t, rate_ppb) / 1000.0,
		      (unsigned long long)STAT(t, arrival_steps),
		      (unsigned long long)STAT(t, missing_frames),
		      (unsigned long long)STAT(t, late),
		      (unsigned long long)STAT(t, early));
	return at0;
}

/* On our own clock: its rate is still ours: no conversion, the rate
 * shown is ours, and every sample is in place. */
static void test_sub_arrival_on_our_clock_with_jitter_stays_bit_exact(
    void **state)
{
	struct ctx *t = *state;
	const struct stream *st = &stream_off;
	const unsigned int n = 20 * 1000;
	uint64_t at0 = run_jittery_sender(t, 0, n);
	unsigned int k;

	/* up to the last packet's end (not its arrival: it came late) */
	play_until(t, mclock_ns_to_samples(at0, RATE) + (uint64_t)n * FPP);
	assert_false(STAT(t, converting));
	assert_true(llabs(STAT(t, rate_ppb)) < 20000);
	assert_int_equal(STAT(t, arrival_steps), 0);
	assert_int_equal(STAT(t, missing_frames), 0);
	finish(t);
	for (k = 0; k < n - 200; k += 13)
		assert_pkt_at(t, st, k,
			      mclock_ns_to_samples(at0, RATE) +
				  (uint64_t)k * FPP);
}

/* 60 ppm off (a free-running crystal), as jittery: found, converted and
 * followed without a step or a gap; its rate (the servo's frequency
 * term, slow on purpose: jitter must not wobble the pitch) within 10 ppm
 * after a minute and a half. */
static void test_sub_arrival_jittery_sender_60ppm_is_followed(void **state)
{
	struct ctx *t = *state;

	run_jittery_sender(t, 60, 90 * 1000);
	assert_true(STAT(t, converting));
	assert_true(llabs(STAT(t, rate_ppb) - 60000) < 10000);
	assert_int_equal(STAT(t, arrival_steps), 0);
	assert_int_equal(STAT(t, missing_frames), 0);
	assert_int_equal(STAT(t, late), 0);
}

/* A deterministic delay in [0, @max_ns) for packet @k. */
static uint64_t jitter_ns(unsigned int k, uint64_t max_ns)
{
	uint32_t v = (k + 1) * 2654435761u;

	v ^= v >> 15;
	v *= 2246822519u;
	v ^= v >> 13;
	return (uint64_t)v % max_ns;
}

/* Packets of @st from @k0 up to @n sent as a bursty sender sends them
 * (PipeWire 0.3.65's module-rtp-sink): every graph cycle of @quantum
 * frames of the sender's clock, @ppm off ours, sends at once each whole
 * packet its ring holds, at the cycle's end, with up to @jitter_max_ns
 * of jitter and @delay_ns more on the path. Plays out to the last
 * arrival; returns the next packet. */
static unsigned int send_bursts(struct ctx *t, const struct stream *st,
				unsigned int k0, unsigned int n,
				unsigned int quantum, double ppm,
				uint64_t jitter_max_ns, uint64_t delay_ns)
{
	uint64_t t0 = pkt_arrival(st, 0);
	unsigned int k = k0, cycle;

	for (cycle = k0 * FPP / quantum + 1; k < n; cycle++) {
		uint64_t frames = (uint64_t)cycle * quantum;
		uint64_t at =
		    t0 +
		    (uint64_t)((double)mclock_samples_to_ns(frames, RATE) /
			       (1 + ppm / 1e6)) +
		    jitter_ns(cycle, jitter_max_ns) + delay_ns;

		while (k < n && (uint64_t)(k + 1) * FPP <= frames)
			send_at(t, st, k++, at);
	}
	return k;
}

/* A sender on our clock whose packets arrive with up to 0.5 ms of jitter
 * is not converted: the jitter is no rate, and its audio stays
 * bit-exact where its first packet put it. */
static void test_sub_arrival_jittery_sender_stays_bit_exact(void **state)
{
	struct ctx *t = *state;
	const struct stream *st = &stream_off;
	const uint64_t at = st->x0 + 4;
	unsigned int k, n = 20 * 1000;

	t->cfg.timing = SUB_TIMING_ARRIVAL;
	open_sub(t);
	send_pkt(t, st, 0);
	for (k = 1; k < n; k++)
		send_at(t, st, k, pkt_arrival(st, k) + jitter_ns(k, 500 * US));
	play_until(t, at + (uint64_t)n * FPP);
	print_message("# measured %+.3f ppm, converting %d, steps %llu\n",
		      STAT(t, rate_ppb) / 1000.0, (int)STAT(t, converting),
		      (unsigned long long)STAT(t, arrival_steps));
	assert_false(STAT(t, converting));
	assert_int_equal(STAT(t, arrival_steps), 0);
	assert_int_equal(STAT(t, missing_frames), 0);
	assert_int_equal(STAT(t, late), 0);
	finish(t);
	for (k = 0; k < n; k += 7)
		assert_pkt_at(t, st, k, at + (uint64_t)k * FPP);
}

/* PipeWire's module-rtp-sink sends a graph cycle's packets at once: with
 * a 1024-frame quantum, 21 or 22 packets every 21.3 ms. On our clock it
 * stays bit-exact, none late at a latency that covers a cycle. */
static void test_sub_arrival_bursty_sender_stays_bit_exact(void **state)
{
	struct ctx *t = *state;
	const struct stream *st = &stream_off;
	unsigned int k, n = 20 * 1000;
	uint64_t at;

	t->cfg.timing = SUB_TIMING_ARRIVAL;
	t->cfg.latency_ns = 50 * MS;
	open_sub(t);
	assert_int_equal(send_bursts(t, st, 0, n, 1024, 0, 300 * US, 0), n);
	/* packet 0 left with the first cycle, 1024 frames after its time */
	at = mclock_ns_to_samples(pkt_arrival(st, 0) +
				      mclock_samples_to_ns(1024, RATE) +
				      jitter_ns(1, 300 * US),
				  RATE);
	play_until(t, at + (uint64_t)n * FPP);
	print_message("# measured %+.3f ppm, converting %d, steps %llu\n",
		      STAT(t, rate_ppb) / 1000.0, (int)STAT(t, converting),
		      (unsigned long long)STAT(t, arrival_steps));
	assert_false(STAT(t, converting));
	assert_int_equal(STAT(t, arrival_steps), 0);
	assert_int_equal(STAT(t, missing_frames), 0);
	assert_int_equal(STAT(t, late), 0);
	assert_int_equal(STAT(t, early), 0);
	finish(t);
	for (k = 0; k < n; k += 7)
		assert_pkt_at(t, st, k, at + (uint64_t)k * FPP);
}

/* The same bursty sender on a clock 200 ppm fast: followed and
 * converted, its rate measured, nothing late or early, no realignment. */
static void test_sub_arrival_bursty_fast_sender_is_followed(void **state)
{
	struct ctx *t = *state;
	const struct stream *st = &stream_off;
	unsigned int n = 60 * 1000;

	t->cfg.timing = SUB_TIMING_ARRIVAL;
	t->cfg.latency_ns = 50 * MS;
	open_sub(t);
	assert_int_equal(send_bursts(t, st, 0, n, 1024, 200, 300 * US, 0), n);
	print_message("# measured %+.3f ppm, converting %d, missing %llu, "
		      "steps %llu\n",
		      STAT(t, rate_ppb) / 1000.0, (int)STAT(t, converting),
		      (unsigned long long)STAT(t, missing_frames),
		      (unsigned long long)STAT(t, arrival_steps));
	assert_true(STAT(t, converting));
	assert_true(llabs(STAT(t, rate_ppb) - 200 * 1000) < 5000);
	assert_int_equal(STAT(t, arrival_steps), 0);
	assert_int_equal(STAT(t, late), 0);
	assert_int_equal(STAT(t, early), 0);
}

/* The bursty sender on our clock, its path 60 ms longer from packet 5000
 * on (beyond half the latency): one realignment, which puts the audio
 * back where the first packets put it, 60 ms later: its bursts' last
 * packets are a cycle ahead of their first, and that is no error. */
static void
test_sub_arrival_bursty_sender_step_keeps_its_alignment(void **state)
{
	struct ctx *t = *state;
	const struct stream *st = &stream_off;
	const uint64_t d = 60 * MS;
	unsigned int k, n = 10 * 1000;
	uint64_t at;

	t->cfg.timing = SUB_TIMING_ARRIVAL;
	t->cfg.latency_ns = 50 * MS;
	open_sub(t);
	assert_int_equal(send_bursts(t, st, 0, 5000, 1024, 0, 1, 0), 5000);
	assert_int_equal(send_bursts(t, st, 5000, n, 1024, 0, 1, d), n);
	at = mclock_ns_to_samples(
	    pkt_arrival(st, 0) + mclock_samples_to_ns(1024, RATE), RATE);
	play_until(t, at + mclock_ns_to_samples(d, RATE) + (uint64_t)n * FPP);
	print_message("# steps %llu, late %llu, missing %llu\n",
		      (unsigned long long)STAT(t, arrival_steps),
		      (unsigned long long)STAT(t, late),
		      (unsigned long long)STAT(t, missing_frames));
	assert_false(STAT(t, converting));
	assert_int_equal(STAT(t, arrival_steps), 1);
	finish(t);
	for (k = 0; k < 5000; k += 7)
		assert_pkt_at(t, st, k, at + (uint64_t)k * FPP);
	for (k = 6000; k < n; k += 7)
		assert_pkt_at(t, st, k,
			      at + mclock_ns_to_samples(d, RATE) +
				  (uint64_t)k * FPP);
}

/* A datagram to the subscription's own port, from loopback. */
static void udp_send(const struct ctx *t, const uint8_t *buf, size_t len)
{
	udp_send_to(t->s, buf, len);
}

static void test_sub_rx_drain_reads_socket_after_start(void **state)
{
	struct ctx *t = *state;
	const struct stream *st = &stream_a;
	char err[256] = "";
	uint8_t buf[1500];
	size_t len = build_k(st, 0, buf);
	struct timespec rt;
	int64_t offset;
	uint64_t now, t0, t1, x0_ns;

	t->s = sub_open(&t->cfg, err, sizeof(err));
	if (!t->s) {
		qemu_skip_if_no_timestampns(err);
		fail_msg("sub_open: %s", err);
	}
	/* Queued before the start: never playable, so dropped. */
	udp_send(t, buf, len);
	usleep(20 * 1000);
	sub_start(t->s, mclock_samples_to_ns(st->x0, RATE));
	/* Kernel receive times map onto PTP time through the offset: make
	 * CLOCK_REALTIME now be x0's time. */
	clock_gettime(CLOCK_REALTIME, &rt);
	now = mclock_samples_to_ns(st->x0, RATE) + 200 * US;
	offset = (int64_t)(now - ((uint64_t)rt.tv_sec * NSEC_PER_SEC +
				  (uint64_t)rt.tv_nsec));
	sub_rx_drain(t->s, now, offset);
	assert_int_equal(STAT(t, received), 0);
	/* After the start: two good packets and one that is not RTP. The
	 * kernel stamps them between t0 and t1 (CLOCK_REALTIME, mapped to
	 * PTP time through the offset), however slow a loaded machine is. */
	t0 = realtime_ns() + offset;
	udp_send(t, buf, len);
	len = build_k(st, 1, buf);
	udp_send(t, buf, len);
	udp_send(t, buf, 5);
	t1 = realtime_ns() + offset;
	usleep(20 * 1000);
	sub_rx_drain(t->s, t1 + 20 * MS, offset);
	assert_int_equal(STAT(t, received), 2);
	assert_int_equal(STAT(t, bad_header), 1);
	assert_int_equal(STAT(t, ssrc), st->ssrc);
	/* Stamped with the kernel's receive time, not the drain's (20 ms
	 * on): each packet's delay lies between what t0 and t1 give, and
	 * packet 1, stamped 1 ms later, is 1 ms earlier against its own
	 * time than packet 0 would be at the same arrival. */
	x0_ns = mclock_samples_to_ns(st->x0, RATE);
	assert_true(STAT(t, delay_max_ns) >= (int64_t)(t0 - x0_ns));
	assert_true(STAT(t, delay_max_ns) <= (int64_t)(t1 - x0_ns));
	assert_true(STAT(t, delay_min_ns) >= (int64_t)(t0 - x0_ns - MS));
	assert_true(STAT(t, delay_min_ns) <= (int64_t)(t1 - x0_ns - MS));
	/* A datagram longer than a receive buffer (2 048 bytes): refused,
	 * and its size said (its bytes after the 12-byte header) */
	{
		static uint8_t big[3000];

		uint64_t hdr = STAT(t, bad_header), pt = STAT(t, bad_pt);

		len = build_k(st, 2, big);
		udp_send(t, big, sizeof(big));
		usleep(20 * 1000);
		sub_rx_drain(t->s, t1 + 40 * MS, offset);
		assert_int_equal(STAT(t, received), 2);
		assert_int_equal(STAT(t, bad_size), 1);
		assert_int_equal(STAT(t, last_bad_size), sizeof(big) - 12);
		/* judged in the receive path's order as far as its fixed
		 * header tells (an attacker: all of them were bad_size):
		 * another payload type, then not RTP */
		big[1] = (uint8_t)((big[1] & 0x80) | ((big[1] + 1) & 0x7f));
		udp_send(t, big, sizeof(big));
		memset(big, 0, sizeof(big));
		udp_send(t, big, sizeof(big));
		usleep(20 * 1000);
		sub_rx_drain(t->s, t1 + 60 * MS, offset);
		assert_int_equal(STAT(t, bad_size), 1);
		assert_int_equal(STAT(t, bad_pt), pt + 1);
		assert_int_equal(STAT(t, bad_header), hdr + 1);
		/* a header extension longer than the datagram (its length
		 * is within the buffer): not RTP, as a short one would be */
		len = build_k(st, 3, big);
		big[0] |= 0x10;
		big[12] = 0xbe;
		big[13] = 0xde;
		big[14] = 0xff;
		big[15] = 0xff;
		udp_send(t, big, sizeof(big));
		usleep(20 * 1000);
		sub_rx_drain(t->s, t1 + 80 * MS, offset);
		assert_int_equal(STAT(t, bad_size), 1);
		assert_int_equal(STAT(t, bad_header), hdr + 2);
	}
}

static unsigned int bucket_of_us(int64_t us)
{
	unsigned int b = 0;

	while (b < SUB_HIST_BUCKETS - 1 && us >= sub_hist_edges_us[b])
		b++;
	return b;
}

static void test_sub_delay_histogram_buckets_arrival_delay(void **state)
{
	/* Arrivals in time order, two on bucket edges; the last comes after
	 * its playout. */
	static const int64_t delay_us[] = {300,	 -10, 125,  1500,
					   1000, 250, 20000};
	static const unsigned int want_bucket[] = {3, 0, 2, 5, 5, 3, 9};
	struct ctx *t = *state;
	const struct stream *st = &stream_a;
	uint64_t want[SUB_HIST_BUCKETS] = {0};
	unsigned int k, b;

	/* The edges the buckets are documented by. */
	assert_int_equal(sub_hist_edges_us[0], 0);
	assert_int_equal(sub_hist_edges_us[2], 250);
	assert_int_equal(sub_hist_edges_us[3], 500);
	open_sub(t);
	assert_int_equal(STAT(t, delay_min_ns), INT64_MAX);
	assert_int_equal(STAT(t, delay_max_ns), INT64_MIN);
	for (k = 0; k < 7; k++) {
		uint64_t ts_ns = mclock_samples_to_ns(pkt_x(st, k), RATE);

		assert_int_equal(bucket_of_us(delay_us[k]), want_bucket[k]);
		want[want_bucket[k]]++;
		send_at(t, st, k, ts_ns + (uint64_t)(delay_us[k] * 1000));
		if (k == 0) {
			/* [250, 500) us */
			assert_int_equal(STAT(t, hist[3]), 1);
			assert_int_equal(STAT(t, delay_min_ns), 300 * 1000);
			assert_int_equal(STAT(t, delay_max_ns), 300 * 1000);
		}
	}
	for (b = 0; b < SUB_HIST_BUCKETS; b++)
		if (STAT(t, hist[b]) != want[b])
			fail_msg("bucket %u: %llu, want %llu", b,
				 (unsigned long long)STAT(t, hist[b]),
				 (unsigned long long)want[b]);
	assert_int_equal(STAT(t, delay_min_ns), -10 * 1000);
	assert_int_equal(STAT(t, delay_max_ns), 20000 * 1000);
	/* The 20 ms one came after its playout. */
	assert_int_equal(STAT(t, late), 1);
}

static void test_sub_delay_under_a_microsecond_early_is_negative(void **state)
{
	struct ctx *t = *state;
	const struct stream *st = &stream_a;

	open_sub(t);
	/* 500 ns before its timestamp's time: below the 0 edge. */
	send_at(t, st, 0, mclock_samples_to_ns(pkt_x(st, 0), RATE) - 500);
	assert_int_equal(STAT(t, delay_min_ns), -500);
	assert_int_equal(STAT(t, hist[0]), 1);
	assert_int_equal(STAT(t, hist[1]), 0);
}

static void test_sub_add_recorder_refuses_more_than_max_sinks(void **state)
{
	struct ctx *t = *state;
	unsigned int i;

	open_sub(t); /* one recorder attached */
	for (i = 1; i < SUB_MAX_SINKS; i++)
		assert_int_equal(sub_add_recorder(t->s, t->rec), 0);
	assert_int_equal(sub_add_recorder(t->s, t->rec), -ENOSPC);
}

/* sub_open() of @cfg fails, naming the subscription and @what. */
static void assert_open_refused(const struct sub_config *cfg, const char *what)
{
	char err[256] = "";
	struct sub *s = sub_open(cfg, err, sizeof(err));

	if (s) {
		sub_destroy(s);
		fail_msg("sub_open accepted %s", what);
	}
	if (!strstr(err, "subscription studio-b") || !strstr(err, what))
		fail_msg("message '%s' lacks the name or '%s'", err, what);
}

static void assert_open_accepted(const struct sub_config *cfg)
{
	char err[256] = "";
	struct sub *s = sub_open(cfg, err, sizeof(err));

	if (!s) {
		qemu_skip_if_no_timestampns(err);
		fail_msg("sub_open: %s", err);
	}
	assert_int_equal(sub_config(s)->latency_ns, cfg->latency_ns);
	assert_int_equal(sub_config(s)->channels, cfg->channels);
	assert_string_equal(sub_config(s)->name, cfg->name);
	sub_destroy(s);
}

static void test_sub_open_checks_latency_and_channels(void **state)
{
	struct ctx *t = *state;
	struct sub_config cfg = t->cfg;

	snprintf(cfg.name, sizeof(cfg.name), "studio-b");
	cfg.latency_ns = SUB_LATENCY_MIN_NS - 1;
	assert_open_refused(&cfg, "latency");
	cfg.latency_ns = SUB_LATENCY_MIN_NS;
	assert_open_accepted(&cfg);
	cfg.latency_ns = SUB_LATENCY_MAX_NS;
	assert_open_accepted(&cfg);
	cfg.latency_ns = SUB_LATENCY_MAX_NS + 1;
	assert_open_refused(&cfg, "latency");
	cfg.latency_ns = 0;
	assert_open_refused(&cfg, "latency");

	cfg.latency_ns = LAT_NS;
	cfg.channels = 0;
	assert_open_refused(&cfg, "0 channels");
	cfg.channels = SOURCE_MAX_CHANNELS + 1;
	assert_open_refused(&cfg, "65 channels");
	cfg.channels = SOURCE_MAX_CHANNELS;
	assert_open_accepted(&cfg);
	cfg.channels = 1;
	assert_open_accepted(&cfg);
}

#define SUB_TEST(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

/* ---- two legs (SMPTE ST 2022-7) ---- */

/* One packet's arrival on one leg. */
struct leg_event {
	uint64_t arrival;
	unsigned int leg, k;
	const struct stream *st;
};

static int by_arrival(const void *a, const void *b)
{
	const struct leg_event *x = a, *y = b;

	if (x->arrival != y->arrival)
		return x->arrival < y->arrival ? -1 : 1;
	return x->leg < y->leg ? -1 : x->leg > y->leg;
}

/* A second leg on the loopback too, another port. */
static void two_legs(struct ctx *t)
{
	t->cfg.addr2 = t->cfg.addr;
}

/* Feed @n events in arrival order, as the media loop would: playout kept
 * up until each arrives. */
static void feed(struct ctx *t, struct leg_event *ev, unsigned int n)
{
	uint8_t buf[1500];
	unsigned int i;

	qsort(ev, n, sizeof(*ev), by_arrival);
	for (i = 0; i < n; i++) {
		size_t len = build_k(ev[i].st, ev[i].k, buf);

		sub_playout(t->s, ev[i].arrival);
		recorder_io_drain(t->rec);
		sub_rx_packet_leg(t->s, ev[i].leg, buf, len, &t->from,
				  ev[i].arrival, ev[i].arrival + 20 * US);
	}
}

#define LEG(t, l, f) atomic_load(&sub_stats((t)->s)->leg[l].f)

/* Each leg loses its own tenth of the packets, the second 3 ms behind
 * the first: every packet plays from whichever leg brought it, each
 * leg's loss is its own, and the second copies are redundant, never
 * duplicates or late. */
static void test_sub_two_legs_fill_each_others_gaps(void **state)
{
	struct ctx *t = *state;
	const struct stream *st = &stream_a;
	struct leg_event ev[400];
	unsigned int k, n = 0;

	two_legs(t);
	t->cfg.latency_ns = 5 * MS;
	open_sub(t);
	assert_true(sub_fd2(t->s) >= 0);
	assert_int_not_equal(sub_fd2(t->s), sub_fd(t->s));
	for (k = 0; k < 200; k++) {
		if (k % 10 != 3)
			ev[n++] =
			    (struct leg_event){pkt_arrival(st, k), 0, k, st};
		if (k % 10 != 7)
			ev[n++] = (struct leg_event){
			    pkt_arrival(st, k) + 3 * MS, 1, k, st};
	}
	feed(t, ev, n);
	play_until(t, pkt_x(st, 200));
	assert_int_equal(STAT(t, missing_frames), 0);
	assert_int_equal(STAT(t, lost), 0);
	assert_int_equal(STAT(t, late), 0);
	assert_int_equal(STAT(t, duplicate), 0);
	assert_int_equal(STAT(t, received), 360);
	assert_int_equal(STAT(t, redundant), 160);
	assert_int_equal(LEG(t, 0, received), 180);
	assert_int_equal(LEG(t, 1, received), 180);
	/* the last packet each leg lost is followed by one it got */
	assert_int_equal(LEG(t, 0, lost), 20);
	assert_int_equal(LEG(t, 1, lost), 20);
	assert_int_equal(LEG(t, 0, used), 180);
	assert_int_equal(LEG(t, 1, used), 20);
	assert_int_equal(LEG(t, 0, late), 0);
	assert_int_equal(LEG(t, 1, late), 0);
	assert_true(LEG(t, 1, last_ns) > LEG(t, 0, last_ns));
	assert_clean(t);
	finish(t);
	for (k = 0; k < 200; k++)
		assert_pkt(t, st, k);
}

/* A second leg slower than the latency: its copies come after their
 * twins played. They are counted late on that leg, and the stream is
 * neither late nor missing anything. */
static void test_sub_late_second_copy_is_not_a_late_packet(void **state)
{
	struct ctx *t = *state;
	const struct stream *st = &stream_a;
	struct leg_event ev[120];
	unsigned int k, n = 0;

	two_legs(t);
	open_sub(t); /* latency 2 ms */
	/* the first leg runs on past the second's last copy, so nothing
	 * after the stream's end is played out */
	for (k = 0; k < 60; k++) {
		ev[n++] = (struct leg_event){pkt_arrival(st, k), 0, k, st};
		if (k < 50)
			ev[n++] = (struct leg_event){
			    pkt_arrival(st, k) + 4 * MS, 1, k, st};
	}
	feed(t, ev, n);
	play_until(t, pkt_x(st, 50));
	assert_int_equal(STAT(t, late), 0);
	assert_int_equal(STAT(t, missing_frames), 0);
	assert_int_equal(STAT(t, redundant), 50);
	assert_int_equal(LEG(t, 1, late), 50);
	assert_int_equal(LEG(t, 1, used), 0);
	finish(t);
	for (k = 0; k < 50; k++)
		assert_pkt(t, st, k);
}

/* The stream's first packet lost on the first leg, whose next packet
 * comes before the second leg's copy of the first: the recording still
 * starts with the first packet (it came in time), not the second. */
static void test_sub_first_packet_from_the_slower_leg_starts_the_recording(
    void **state)
{
	struct ctx *t = *state;
	const struct stream *st = &stream_a;
	struct leg_event ev[40];
	unsigned int k, n = 0;

	two_legs(t);
	t->cfg.latency_ns = 5 * MS;
	open_sub(t);
	for (k = 0; k < 20; k++) {
		if (k)
			ev[n++] =
			    (struct leg_event){pkt_arrival(st, k), 0, k, st};
		ev[n++] = (struct leg_event){
		    pkt_arrival(st, k) + 1500 * US, 1, k, st};
	}
	feed(t, ev, n);
	play_until(t, pkt_x(st, 20));
	assert_int_equal(STAT(t, late), 0);
	assert_int_equal(STAT(t, missing_frames), 0);
	assert_int_equal(LEG(t, 1, used), 1);
	finish(t);
	assert_int_equal(t->rec_x0, pkt_x(st, 0));
	assert_int_equal(t->frames, 20 * FPP);
	for (k = 0; k < 20; k++)
		assert_pkt(t, st, k);
}

/* A packet repeated on its own leg is a duplicate, as on one network;
 * its twin on the other leg is not. */
static void test_sub_repeat_on_one_leg_is_a_duplicate(void **state)
{
	struct ctx *t = *state;
	const struct stream *st = &stream_a;
	struct leg_event ev[30];
	unsigned int k, n = 0;

	two_legs(t);
	open_sub(t);
	for (k = 0; k < 10; k++) {
		ev[n++] = (struct leg_event){pkt_arrival(st, k), 0, k, st};
		ev[n++] =
		    (struct leg_event){pkt_arrival(st, k) + 10 * US, 1, k, st};
	}
	ev[n++] = (struct leg_event){pkt_arrival(st, 4) + 20 * US, 1, 4, st};
	feed(t, ev, n);
	play_until(t, pkt_x(st, 10));
	assert_int_equal(STAT(t, duplicate), 1);
	assert_int_equal(STAT(t, redundant), 10);
	assert_int_equal(LEG(t, 1, lost), 0);
	assert_int_equal(STAT(t, missing_frames), 0);
}

/* A sender restarted on the same timeline (a new SSRC and sequence)
 * with its second leg 3 ms behind: the new SSRC proves itself once the
 * old one is quiet on both legs, and not a frame is lost. */
static void test_sub_two_legs_handover_loses_nothing(void **state)
{
	struct ctx *t = *state;
	const struct stream *a = &stream_a;
	struct stream b = stream_a;
	struct leg_event ev[200];
	unsigned int k, n = 0;

	b.ssrc = 0x0C0C0C0Cu;
	b.seq0 = 3;
	b.salt = 0x4242;
	two_legs(t);
	t->cfg.latency_ns = 8 * MS;
	open_sub(t);
	for (k = 0; k < 60; k++) {
		const struct stream *s = k < 20 ? a : &b;

		ev[n++] = (struct leg_event){pkt_arrival(s, k), 0, k, s};
		ev[n++] =
		    (struct leg_event){pkt_arrival(s, k) + 3 * MS, 1, k, s};
	}
	feed(t, ev, n);
	play_until(t, pkt_x(a, 60));
	assert_int_equal(STAT(t, ssrc_changes), 1);
	assert_int_equal(STAT(t, ssrc), b.ssrc);
	assert_int_equal(STAT(t, missing_frames), 0);
	assert_int_equal(STAT(t, late), 0);
	assert_int_equal(STAT(t, foreign_ssrc), 0);
	assert_int_equal(LEG(t, 0, lost), 0);
	assert_int_equal(LEG(t, 1, lost), 0);
	finish(t);
	for (k = 0; k < 20; k++)
		assert_pkt(t, a, k);
	for (k = 20; k < 60; k++)
		assert_pkt(t, &b, k);
}

/* The same restart with the second leg 7 ms behind, at 10 ms: the old
 * SSRC stays live on the second leg for 7 ms, so the new one proves
 * itself on the first only after 9 packets, more than the 8 its stash
 * keeps. The stash keeps the latest, and the stream's and each leg's
 * sequence tracking start at the first one kept: the packet it could not
 * keep is foreign (its twin on the second leg plays), not loss on the
 * first leg's network. (A stash that kept the first 8 dropped the one
 * that proved the SSRC and counted it lost on leg A.) */
static void test_sub_two_legs_handover_past_the_stash_is_not_loss(void **state)
{
	struct ctx *t = *state;
	const struct stream *a = &stream_a;
	struct stream b = stream_a;
	struct leg_event ev[200];
	unsigned int k, n = 0;

	b.ssrc = 0x0E0E0E0Eu;
	b.seq0 = 500;
	b.salt = 0x2323;
	two_legs(t);
	t->cfg.latency_ns = 10 * MS;
	open_sub(t);
	for (k = 0; k < 60; k++) {
		const struct stream *s = k < 20 ? a : &b;

		ev[n++] = (struct leg_event){pkt_arrival(s, k), 0, k, s};
		ev[n++] =
		    (struct leg_event){pkt_arrival(s, k) + 7 * MS, 1, k, s};
	}
	feed(t, ev, n);
	play_until(t, pkt_x(a, 60));
	assert_int_equal(STAT(t, ssrc_changes), 1);
	assert_int_equal(STAT(t, ssrc), b.ssrc);
	/* it proved itself past the stash: one of its packets was dropped */
	assert_int_equal(STAT(t, foreign_ssrc), 1);
	assert_int_equal(STAT(t, missing_frames), 0);
	assert_int_equal(STAT(t, late), 0);
	assert_int_equal(STAT(t, lost), 0);
	assert_int_equal(LEG(t, 0, lost), 0);
	assert_int_equal(LEG(t, 1, lost), 0);
	finish(t);
	for (k = 0; k < 20; k++)
		assert_pkt(t, a, k);
	for (k = 20; k < 60; k++)
		assert_pkt(t, &b, k);
}

/* Five spoofed packets in sequence on the second leg alone, while the
 * stream lives on both: counted and ignored, the stream's SSRC kept. */
static void test_sub_spoof_on_one_leg_does_not_take_over(void **state)
{
	struct ctx *t = *state;
	const struct stream *st = &stream_a;
	struct stream spoof = stream_a;
	struct leg_event ev[100];
	unsigned int k, n = 0;

	spoof.ssrc = 0xBADBAD00u;
	spoof.seq0 = 7;
	spoof.salt = 0x5A5A;
	two_legs(t);
	open_sub(t);
	for (k = 0; k < 20; k++) {
		ev[n++] = (struct leg_event){pkt_arrival(st, k), 0, k, st};
		ev[n++] =
		    (struct leg_event){pkt_arrival(st, k) + 50 * US, 1, k, st};
		if (k >= 5 && k < 10)
			ev[n++] =
			    (struct leg_event){pkt_arrival(st, k) + 300 * US, 1,
					       k - 5 + 6, &spoof};
	}
	feed(t, ev, n);
	play_until(t, pkt_x(st, 20));
	assert_int_equal(STAT(t, foreign_ssrc), 5);
	assert_int_equal(STAT(t, ssrc_changes), 0);
	assert_int_equal(STAT(t, ssrc), st->ssrc);
	assert_int_equal(STAT(t, missing_frames), 0);
	finish(t);
	for (k = 0; k < 20; k++)
		assert_pkt(t, st, k);
}

/* With a second leg the receiver drains both sockets: packets sent to
 * the second one play like the first's. */
static void test_sub_second_leg_socket_is_drained(void **state)
{
	struct ctx *t = *state;
	const struct stream *st = &stream_a;
	struct sockaddr_in to[2];
	socklen_t tolen = sizeof(to[0]);
	uint8_t buf[1500];
	unsigned int k;
	int fd;

	two_legs(t);
	open_sub(t);
	assert_int_equal(
	    getsockname(sub_fd(t->s), (struct sockaddr *)&to[0], &tolen), 0);
	assert_int_equal(
	    getsockname(sub_fd2(t->s), (struct sockaddr *)&to[1], &tolen), 0);
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	assert_true(fd >= 0);
	for (k = 0; k < 4; k++) {
		size_t len = build_k(st, k, buf);

		/* packets 0-1 on the first leg only, 2-3 on the second */
		assert_int_equal(sendto(fd, buf, len, 0,
					(struct sockaddr *)&to[k / 2],
					sizeof(to[0])),
				 (ssize_t)len);
	}
	close(fd);
	sub_rx_drain(t->s, pkt_arrival(st, 0), 0);
	assert_int_equal(LEG(t, 0, received), 2);
	assert_int_equal(LEG(t, 1, received), 2);
	assert_int_equal(LEG(t, 1, used), 2);
	assert_int_equal(STAT(t, drained_ns), pkt_arrival(st, 0));
}

/* Leg B brings, before leg A's good copy of each packet k + 5, a copy
 * of k + 5 stamped 10 ms before its place (an attacker's, or a broken
 * sender's): it is late and stores nothing, so leg A's copy, counted a
 * second copy of its number, must still play (it kept 5 s of a perfect
 * leg A out, an attacker found). */
static void test_sub_two_legs_misplaced_copy_keeps_no_good_one_out(void **state)
{
	struct ctx *t = *state;
	const struct stream *st = &stream_a;
	uint8_t buf[1500];
	unsigned int k;

	two_legs(t);
	open_sub(t); /* latency 2 ms */
	for (k = 0; k < 100; k++) {
		uint64_t at = pkt_arrival(st, k);
		size_t len;

		if (k + 5 < 100) {
			len = build(buf, PT, (uint16_t)(st->seq0 + k + 5),
				    pkt_ts(st, k + 5) - 480, st->ssrc, FPP,
				    st->salt);
			sub_playout(t->s, at);
			recorder_io_drain(t->rec);
			sub_rx_packet_leg(t->s, 1, buf, len, &t->from, at,
					  at + 20 * US);
		}
		len = build_k(st, k, buf);
		sub_playout(t->s, at + 200 * US);
		recorder_io_drain(t->rec);
		sub_rx_packet_leg(t->s, 0, buf, len, &t->from, at + 200 * US,
				  at + 220 * US);
	}
	play_until(t, pkt_x(st, 100));
	assert_int_equal(STAT(t, missing_frames), 0);
	assert_int_equal(LEG(t, 0, used), 100);
	assert_int_equal(LEG(t, 1, used), 0);
	finish(t);
	for (k = 0; k < 100; k++)
		assert_pkt(t, st, k);
}

/* Leg B 3.2 s behind leg A (a path that delays it, or a replay): its
 * numbers are more than 3000 behind the stream's while leg A carries it.
 * Its packets are not the stream's: refused on leg B, leg A plays every
 * packet, nothing is timed anew (an attacker's lab: a leg 4 s behind
 * made leg A's audio 52 % silence, the merge jumping between the two). */
static void test_sub_two_legs_a_leg_far_behind_moves_nothing(void **state)
{
	static struct leg_event ev[3400 + 200];
	struct ctx *t = *state;
	const struct stream *st = &stream_a;
	unsigned int k, n = 0;

	two_legs(t);
	t->cfg.latency_ns = 5 * MS;
	open_sub(t);
	for (k = 0; k < 3400; k++) {
		ev[n++] = (struct leg_event){pkt_arrival(st, k), 0, k, st};
		if (k >= 3200)
			ev[n++] = (struct leg_event){pkt_arrival(st, k), 1,
						     k - 3200, st};
	}
	feed(t, ev, n);
	play_until(t, pkt_x(st, 3400));
	assert_int_equal(STAT(t, missing_frames), 0);
	assert_int_equal(STAT(t, lost), 0);
	assert_int_equal(STAT(t, rejudged), 0);
	assert_int_equal(LEG(t, 0, used), 3400);
	assert_int_equal(LEG(t, 1, used), 0);
	assert_int_equal(LEG(t, 1, refused), 200);
	assert_int_equal(LEG(t, 1, fit_ns), 0);
	finish(t);
	for (k = 0; k < 3400; k++)
		assert_pkt(t, st, k);
}

/* Two forged (or replayed) packets in sequence, 10 000 numbers ahead, on
 * leg B while leg A carries the stream: not the stream's; nothing is
 * lost (a pair every 10 ms cost the stream a packet each before). */
static void test_sub_two_legs_forged_pair_on_one_leg_costs_nothing(
    void **state)
{
	struct ctx *t = *state;
	const struct stream *st = &stream_a;
	uint8_t buf[1500];
	unsigned int k, f;

	two_legs(t);
	open_sub(t); /* latency 2 ms */
	for (k = 0; k < 200; k++) {
		uint64_t at = pkt_arrival(st, k);
		size_t len = build_k(st, k, buf);

		sub_playout(t->s, at);
		recorder_io_drain(t->rec);
		sub_rx_packet_leg(t->s, 0, buf, len, &t->from, at,
				  at + 20 * US);
		for (f = 0; k % 20 == 10 && f < 2; f++) {
			size_t flen = build(buf, PT,
					    (uint16_t)(st->seq0 + k + 10000 + f),
					    pkt_ts(st, k) + 5 * RATE, st->ssrc,
					    FPP, st->salt);

			sub_rx_packet_leg(t->s, 1, buf, flen, &t->from,
					  at + 100 * US, at + 120 * US);
		}
		len = build_k(st, k, buf);
		sub_rx_packet_leg(t->s, 1, buf, len, &t->from, at + 200 * US,
				  at + 220 * US);
	}
	play_until(t, pkt_x(st, 200));
	assert_int_equal(STAT(t, missing_frames), 0);
	assert_int_equal(STAT(t, lost), 0);
	assert_int_equal(STAT(t, early), 0);
	assert_int_equal(LEG(t, 0, used), 200);
	assert_int_equal(LEG(t, 1, refused), 10);
	finish(t);
	for (k = 0; k < 200; k++)
		assert_pkt(t, st, k);
}

/* A sender whose numbers jump by 20 000 on both legs at once (its own
 * jump, carried by both networks): the stream's, taken once both legs
 * show it; one packet goes in the probation a jump has on one network. */
static void test_sub_two_legs_a_jump_both_legs_carry_is_taken(void **state)
{
	struct ctx *t = *state;
	const struct stream *st = &stream_a;
	uint8_t buf[1500];
	unsigned int k, l;

	two_legs(t);
	open_sub(t);
	for (k = 0; k < 200; k++) {
		uint64_t at = pkt_arrival(st, k);
		uint16_t seq = (uint16_t)(st->seq0 + k + (k >= 100 ? 20000 : 0));

		sub_playout(t->s, at);
		recorder_io_drain(t->rec);
		for (l = 0; l < 2; l++) {
			size_t len = build(buf, PT, seq, pkt_ts(st, k),
					   st->ssrc, FPP, st->salt);

			sub_rx_packet_leg(t->s, l, buf, len, &t->from,
					  at + l * 200 * US,
					  at + l * 200 * US + 20 * US);
		}
	}
	play_until(t, pkt_x(st, 200));
	assert_int_equal(STAT(t, missing_frames), FPP);
	finish(t);
	for (k = 0; k < 200; k++)
		if (k != 100)
			assert_pkt(t, st, k);
}

/* Garbage on leg B (not RTP, another payload type, a size of no whole
 * frame, another sender than leg B's source filter) is counted on leg B,
 * beside the stream's own counters: the network it comes on is named;
 * leg A's good packets play, leg A refused nothing. */
static void test_sub_two_legs_count_what_each_refused(void **state)
{
	struct ctx *t = *state;
	const struct stream *st = &stream_a;
	struct sockaddr_in other = t->from;
	uint8_t buf[1500];
	unsigned int k;

	two_legs(t);
	t->cfg.has_source_filter2 = true;
	t->cfg.source_filter2 = t->from.sin_addr;
	other.sin_addr.s_addr = htonl(0x0a000063); /* 10.0.0.99 */
	open_sub(t);
	for (k = 0; k < 20; k++) {
		uint64_t at = pkt_arrival(st, k);
		size_t len = build_k(st, k, buf);

		sub_playout(t->s, at);
		recorder_io_drain(t->rec);
		sub_rx_packet_leg(t->s, 0, buf, len, &t->from, at,
				  at + 20 * US);
		switch (k % 4) {
		case 0: /* another sender on leg B */
			sub_rx_packet_leg(t->s, 1, buf, len, &other, at,
					  at + 20 * US);
			break;
		case 1: /* a size of no whole frame */
			sub_rx_packet_leg(t->s, 1, buf, len - 1, &t->from, at,
					  at + 20 * US);
			break;
		case 2: /* not RTP */
			sub_rx_packet_leg(t->s, 1, buf, 5, &t->from, at,
					  at + 20 * US);
			break;
		case 3: /* another payload type */
			buf[1] = (uint8_t)((buf[1] & 0x80) | (PT + 1));
			sub_rx_packet_leg(t->s, 1, buf, len, &t->from, at,
					  at + 20 * US);
			break;
		}
	}
	assert_int_equal(LEG(t, 1, refused), 20);
	assert_int_equal(LEG(t, 0, refused), 0);
	assert_int_equal(STAT(t, foreign), 5);
	assert_int_equal(STAT(t, bad_size), 5);
	assert_int_equal(STAT(t, bad_header), 5);
	assert_int_equal(STAT(t, bad_pt), 5);
	assert_int_equal(LEG(t, 0, used), 20);
	assert_int_equal(LEG(t, 1, received), 0);
	/* another SSRC on leg B: counted there, kept aside (an attacker's
	 * mirror of leg B under another SSRC showed nowhere) */
	{
		uint64_t at = pkt_arrival(st, 20);
		size_t len = build(buf, PT, (uint16_t)(st->seq0 + 20),
				   pkt_ts(st, 20), st->ssrc ^ 0x1234u, FPP,
				   st->salt);

		sub_playout(t->s, at);
		sub_rx_packet_leg(t->s, 1, buf, len, &t->from, at,
				  at + 20 * US);
	}
	assert_int_equal(LEG(t, 1, other_ssrc), 1);
	assert_int_equal(LEG(t, 0, other_ssrc), 0);
	assert_int_equal(LEG(t, 1, refused), 20);
}

/* One packet whose sequence number jumps 20 000 ahead (a forged one, or
 * garbage): not played and not loss (RFC 3550 A.1's probation; one such
 * packet made "lost" 31 645 for good, and a flood of them cost the media
 * thread a core clearing the window bit by bit). */
static void test_sub_unconfirmed_sequence_jump_is_not_played_nor_loss(
    void **state)
{
	struct ctx *t = *state;
	const struct stream *st = &stream_a;
	uint8_t buf[1500];
	unsigned int k;

	open_sub(t);
	for (k = 0; k < 100; k++) {
		send_pkt(t, st, k);
		if (k == 50) {
			/* in k + 1's place, another's audio */
			size_t len = build(buf, PT,
					   (uint16_t)(st->seq0 + k + 20000),
					   pkt_ts(st, k + 1), st->ssrc, FPP,
					   st->salt + 1);

			rx(t, buf, len, pkt_arrival(st, k) + 100 * US);
		}
	}
	play_until(t, pkt_x(st, 100));
	assert_int_equal(STAT(t, seq_jumps), 1);
	assert_int_equal(STAT(t, lost), 0);
	assert_int_equal(STAT(t, missing_frames), 0);
	assert_int_equal(STAT(t, reordered), 0);
	finish(t);
	for (k = 0; k < 100; k++)
		assert_pkt(t, st, k);
}

/* A link down 5 s: the numbers come back 5000 ahead, as the time since
 * holds them; that is loss, not a jump (the first cut of the probation
 * counted a 10 s outage's loss as 0). */
static void test_sub_long_outage_is_loss_not_a_jump(void **state)
{
	struct ctx *t = *state;
	const struct stream *st = &stream_a;
	unsigned int k;

	open_sub(t);
	for (k = 0; k < 50; k++)
		send_pkt(t, st, k);
	for (k = 5050; k < 5100; k++)
		send_pkt(t, st, k);
	play_until(t, pkt_x(st, 5100));
	assert_int_equal(STAT(t, seq_jumps), 0);
	assert_int_equal(STAT(t, lost), 5000);
	assert_int_equal(STAT(t, missing_frames), 5000 * FPP);
	finish(t);
}

/* A sender that starts its numbers over (a restart on the same SSRC):
 * the jump is confirmed by its next packet and followed, one packet not
 * played, nothing counted lost. */
static void test_sub_confirmed_sequence_jump_is_followed(void **state)
{
	struct ctx *t = *state;
	struct stream st = stream_a, jumped;
	unsigned int k;

	open_sub(t);
	jumped = st;
	jumped.seq0 = (uint16_t)(st.seq0 + 30000);
	for (k = 0; k < 100; k++)
		send_pkt(t, k < 50 ? &st : &jumped, k);
	play_until(t, pkt_x(&st, 100));
	assert_int_equal(STAT(t, seq_jumps), 1);
	assert_int_equal(STAT(t, lost), 0);
	assert_int_equal(STAT(t, missing_frames), FPP);
	finish(t);
	for (k = 0; k < 100; k++)
		if (k != 50)
			assert_pkt(t, &st, k);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    SUB_TEST(test_sub_in_order_stream_plays_every_sample_in_place),
	    SUB_TEST(test_sub_playout_waits_for_latency_and_says_when_next),
	    SUB_TEST(test_sub_lost_packets_are_counted_and_zero_filled),
	    SUB_TEST(test_sub_reordered_packet_in_time_plays_in_order),
	    SUB_TEST(test_sub_duplicate_is_counted_and_first_copy_plays),
	    SUB_TEST(test_sub_packet_after_its_playout_is_late_and_dropped),
	    SUB_TEST(test_sub_partly_late_packet_plays_its_remaining_frames),
	    SUB_TEST(test_sub_sequence_wrap_is_not_loss),
	    SUB_TEST(test_sub_counts_loss_across_sequence_wrap),
	    SUB_TEST(test_sub_plays_across_timestamp_wrap),
	    SUB_TEST(test_sub_auto_judges_by_arrival_not_by_a_late_read),
	    SUB_TEST(test_sub_restart_on_same_ssrc_with_old_numbers_is_followed),
	    SUB_TEST(test_sub_new_ssrc_resyncs_and_plays_new_stream),
	    SUB_TEST(test_sub_wrong_payload_type_is_counted_not_stored),
	    SUB_TEST(test_sub_wrong_payload_size_is_counted_not_stored),
	    SUB_TEST(test_sub_non_rtp_datagram_is_bad_header),
	    SUB_TEST(test_sub_source_filter_ignores_other_senders),
	    SUB_TEST(test_sub_without_filter_accepts_any_sender),
	    SUB_TEST(test_sub_auto_timing_aligns_foreign_clock_on_arrival),
	    SUB_TEST(test_sub_auto_timing_keeps_ptp_for_fitting_stream),
	    SUB_TEST(test_sub_ptp_timing_refuses_foreign_clock),
	    SUB_TEST(test_sub_auto_timing_thresholds),
	    SUB_TEST(test_sub_arrival_timing_ignores_timestamps),
	    SUB_TEST(test_sub_rx_drain_reads_socket_after_start),
	    SUB_TEST(test_sub_late_duplicate_does_not_hide_a_loss),
	    SUB_TEST(test_sub_early_packets_do_not_start_the_recording),
	    SUB_TEST(test_sub_misses_before_lock_are_unsynced),
	    SUB_TEST(test_sub_holes_before_lock_are_not_missing),
	    SUB_TEST(test_sub_delay_histogram_buckets_arrival_delay),
	    SUB_TEST(test_sub_delay_under_a_microsecond_early_is_negative),
	    SUB_TEST(test_sub_add_recorder_refuses_more_than_max_sinks),
	    SUB_TEST(test_sub_open_checks_latency_and_channels),
	    SUB_TEST(test_sub_stray_ssrc_is_ignored_while_the_stream_lives),
	    SUB_TEST(test_sub_spoof_during_a_sender_stall_does_not_take_over),
	    SUB_TEST(test_sub_new_ssrc_off_the_timeline_waits_for_20ms_of_quiet),
	    SUB_TEST(test_sub_new_ssrc_on_the_clock_is_taken_at_once),
	    SUB_TEST(test_sub_handover_on_one_timeline_loses_nothing),
	    SUB_TEST(test_sub_moved_stream_plays_what_the_old_address_brought),
	    SUB_TEST(test_sub_take_over_only_a_move_on_the_same_timeline),
	    SUB_TEST(test_sub_new_ssrc_after_a_clock_step_back_is_taken),
	    SUB_TEST(test_sub_timescale_step_is_followed),
	    SUB_TEST(test_sub_arrival_follows_a_fast_sender),
	    SUB_TEST(test_sub_arrival_follows_a_slow_sender),
	    SUB_TEST(test_sub_arrival_on_our_clock_stays_bit_exact),
	    SUB_TEST(test_sub_arrival_on_our_clock_with_jitter_stays_bit_exact),
	    SUB_TEST(test_sub_arrival_jittery_sender_60ppm_is_followed),
	    SUB_TEST(test_sub_arrival_jittery_sender_stays_bit_exact),
	    SUB_TEST(test_sub_arrival_bursty_sender_stays_bit_exact),
	    SUB_TEST(test_sub_arrival_bursty_fast_sender_is_followed),
	    SUB_TEST(test_sub_arrival_bursty_sender_step_keeps_its_alignment),
	    SUB_TEST(test_sub_two_legs_fill_each_others_gaps),
	    SUB_TEST(test_sub_late_second_copy_is_not_a_late_packet),
	    SUB_TEST(
		test_sub_first_packet_from_the_slower_leg_starts_the_recording),
	    SUB_TEST(test_sub_repeat_on_one_leg_is_a_duplicate),
	    SUB_TEST(test_sub_two_legs_handover_loses_nothing),
	    SUB_TEST(test_sub_two_legs_handover_past_the_stash_is_not_loss),
	    SUB_TEST(test_sub_spoof_on_one_leg_does_not_take_over),
	    SUB_TEST(test_sub_second_leg_socket_is_drained),
	    SUB_TEST(test_sub_two_legs_misplaced_copy_keeps_no_good_one_out),
	    SUB_TEST(test_sub_two_legs_count_what_each_refused),
	    SUB_TEST(test_sub_two_legs_a_leg_far_behind_moves_nothing),
	    SUB_TEST(test_sub_two_legs_forged_pair_on_one_leg_costs_nothing),
	    SUB_TEST(test_sub_two_legs_a_jump_both_legs_carry_is_taken),
	    SUB_TEST(test_sub_unconfirmed_sequence_jump_is_not_played_nor_loss),
	    SUB_TEST(test_sub_confirmed_sequence_jump_is_followed),
	    SUB_TEST(test_sub_long_outage_is_loss_not_a_jump),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
