/* Unit tests for TX flows: the AES67 frames-per-packet table, the config
 * check (channels, rate, packet time, MTU), what flow_open refuses, and real
 * packets sent to a socket on 127.0.0.1: pacing, RTP header fields, payload
 * against the source, the skip after a stall, and the DSCP marking. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/net.h"
#include "d4/d4.h"
#include "node/flow.h"
#include "node/media.h"
#include "node/relay.h"
#include "node/rtp.h"
#include "node/source.h"
#include "ptp/mclock.h"

#define RATE 48000
#define FPP  48
#define PT   98
#define DSCP 34 /* AF41 */
#define MS   (1000 * 1000ull)
/* A synthetic PTP time on a packet boundary, and its media position. */
#define T_BASE	 (1800000000ull * NSEC_PER_SEC)
#define X_BASE	 (1800000000ull * RATE)
#define MAX_PKTS 64

struct pkt {
	uint8_t buf[2048];
	size_t len;
	int tos; /* -1 when the kernel gave none */
};

struct ctx {
	int rx_fd;
	struct sockaddr_in rx_addr;
	struct source_config scfg;
	struct source *src;
	struct source *ref; /* a twin of src, read to know what was sent */
	struct flow_config fcfg;
	struct flow *f;
	struct pkt pkts[MAX_PKTS];
};

static void base_flow_config(struct flow_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	snprintf(cfg->name, sizeof(cfg->name), "mix-1");
	snprintf(cfg->source, sizeof(cfg->source), "tone");
	cfg->nch = 2;
	cfg->chans[0] = 2;
	cfg->chans[1] = 0;
	cfg->dest.sin_family = AF_INET;
	cfg->dest.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cfg->dest.sin_port = htons(9); /* replaced by the receiver's port */
	cfg->enc = RTP_ENC_L24;
	cfg->rate = RATE;
	cfg->ptime_us = 1000;
	cfg->pt = PT;
	cfg->dscp = DSCP;
	cfg->ttl = 1;
}

static void base_source_config(struct source_config *cfg)
{
	unsigned int c;

	memset(cfg, 0, sizeof(*cfg));
	snprintf(cfg->name, sizeof(cfg->name), "tone");
	cfg->type = SOURCE_TONE;
	cfg->start = START_NOW;
	cfg->channels = 3;
	cfg->rate = RATE;
	for (c = 0; c < cfg->channels; c++) {
		cfg->freq_hz[c] = 440.0 * (c + 1) + 17.0;
		cfg->level_dbfs[c] = -6.0 - 3.0 * c;
	}
}

static int setup(void **state)
{
	struct ctx *t = calloc(1, sizeof(*t));
	socklen_t alen = sizeof(t->rx_addr);
	int on = 1;

	if (!t)
		return -1;
	*state = t;
	base_flow_config(&t->fcfg);
	base_source_config(&t->scfg);
	/* The receiver: an ephemeral port on loopback, with the TOS byte of
	 * every datagram. */
	t->rx_fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (t->rx_fd < 0)
		return -1;
	t->rx_addr.sin_family = AF_INET;
	t->rx_addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(t->rx_fd, (struct sockaddr *)&t->rx_addr, sizeof(t->rx_addr)) <
		0 ||
	    getsockname(t->rx_fd, (struct sockaddr *)&t->rx_addr, &alen) < 0 ||
	    setsockopt(t->rx_fd, IPPROTO_IP, IP_RECVTOS, &on, sizeof(on)) < 0)
		return -1;
	t->fcfg.dest.sin_port = t->rx_addr.sin_port;
	return 0;
}

static int teardown(void **state)
{
	struct ctx *t = *state;

	flow_destroy(t->f);
	source_destroy(t->src);
	source_destroy(t->ref);
	if (t->rx_fd >= 0)
		close(t->rx_fd);
	free(t);
	return 0;
}

static void open_flow(struct ctx *t)
{
	char err[256] = "";

	t->src = source_open(&t->scfg, err, sizeof(err));
	if (!t->src)
		fail_msg("source_open: %s", err);
	t->ref = source_open(&t->scfg, err, sizeof(err));
	if (!t->ref)
		fail_msg("source_open: %s", err);
	t->f = flow_open(&t->fcfg, t->src, err, sizeof(err));
	if (!t->f)
		fail_msg("flow_open: %s", err);
	assert_int_equal(flow_config(t->f)->fpp, FPP);
}

/* Every datagram waiting on the receiver, or arriving within 100 ms of the
 * last one. */
static unsigned int recv_all(struct ctx *t)
{
	unsigned int n = 0;

	for (;;) {
		struct pollfd pfd = {.fd = t->rx_fd, .events = POLLIN};
		uint8_t ctrl[CMSG_SPACE(sizeof(int))];
		struct pkt *p = &t->pkts[n < MAX_PKTS ? n : MAX_PKTS - 1];
		struct iovec iov = {.iov_base = p->buf,
				    .iov_len = sizeof(p->buf)};
		struct msghdr mh = {.msg_iov = &iov,
				    .msg_iovlen = 1,
				    .msg_control = ctrl,
				    .msg_controllen = sizeof(ctrl)};
		struct cmsghdr *c;
		ssize_t len;

		len = recvmsg(t->rx_fd, &mh, MSG_DONTWAIT);
		if (len < 0) {
			assert_true(errno == EAGAIN || errno == EWOULDBLOCK);
			if (poll(&pfd, 1, 100) <= 0)
				return n;
			continue;
		}
		p->len = (size_t)len;
		p->tos = -1;
		for (c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
			if (c->cmsg_level == IPPROTO_IP &&
			    c->cmsg_type == IP_TOS)
				p->tos = *(const unsigned char *)CMSG_DATA(c);
		n++;
	}
}

/* Packet @i of what recv_all() got carries positions [x, x + FPP) of the
 * source, with sequence number @seq. */
static void assert_packet(struct ctx *t, unsigned int i, uint64_t x,
			  uint16_t seq)
{
	const struct flow_config *cfg = flow_config(t->f);
	const struct pkt *p = &t->pkts[i];
	int32_t frames[FPP * SOURCE_MAX_CHANNELS];
	uint8_t want[RTP_MAX_PAYLOAD];
	const uint8_t *payload;
	size_t plen, want_len = (size_t)FPP * cfg->nch * 3;
	struct rtp_hdr h;

	assert_int_equal(x % FPP, 0);
	assert_int_equal(p->len, RTP_HDR_LEN + want_len);
	assert_int_equal(p->buf[0] >> 6, 2);
	assert_int_equal(rtp_hdr_decode(p->buf, p->len, &h, &payload, &plen),
			 0);
	assert_int_equal(h.pt, PT);
	assert_false(h.marker);
	assert_int_equal(h.ssrc, flow_ssrc(t->f));
	if (h.seq != seq || h.ts != (uint32_t)x)
		fail_msg("packet %u: seq %u ts %u, want seq %u ts %u", i, h.seq,
			 h.ts, seq, (uint32_t)x);
	assert_int_equal(plen, want_len);
	source_read(t->ref, x, FPP, cfg->chans, cfg->nch, frames);
	rtp_pack(cfg->enc, frames, cfg->nch, FPP, want);
	assert_memory_equal(payload, want, want_len);
	assert_int_equal(p->tos, DSCP << 2);
}

static uint16_t first_seq(struct ctx *t)
{
	struct rtp_hdr h;
	const uint8_t *payload;
	size_t plen;

	assert_int_equal(
	    rtp_hdr_decode(t->pkts[0].buf, t->pkts[0].len, &h, &payload, &plen),
	    0);
	return h.seq;
}

static void test_flow_frames_per_packet_follows_aes67_table(void **state)
{
	static const struct {
		uint32_t ptime_us, f44, f48, f96;
	} rows[] = {
	    {125, 6, 6, 12},	{250, 12, 12, 24},     {333, 16, 16, 32},
	    {1000, 48, 48, 96}, {4000, 192, 192, 384},
	};
	static const uint32_t bad_ptime[] = {0,	  1,	100,  124,  126,
					     500, 2000, 3999, 4001, 20000};
	static const uint32_t bad_rate[] = {0,	   8000,   32000, 44099,
					    88200, 176400, 192000};
	unsigned int i;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		assert_int_equal(
		    flow_frames_per_packet(rows[i].ptime_us, 44100),
		    rows[i].f44);
		assert_int_equal(
		    flow_frames_per_packet(rows[i].ptime_us, 48000),
		    rows[i].f48);
		assert_int_equal(
		    flow_frames_per_packet(rows[i].ptime_us, 96000),
		    rows[i].f96);
	}
	for (i = 0; i < sizeof(bad_ptime) / sizeof(bad_ptime[0]); i++)
		assert_int_equal(flow_frames_per_packet(bad_ptime[i], 48000),
				 0);
	for (i = 0; i < sizeof(bad_rate) / sizeof(bad_rate[0]); i++)
		assert_int_equal(flow_frames_per_packet(1000, bad_rate[i]), 0);
}

/* flow_config_check() accepts @cfg, or refuses it with a message naming the
 * flow and holding each of @words (NULL-terminated). */
static void check_config(const struct flow_config *cfg, int ok, ...)
{
	char err[512] = "";
	const char *w;
	va_list ap;
	int r = flow_config_check(cfg, err, sizeof(err));

	if (ok) {
		if (r != 0)
			fail_msg("refused %u ch at %u Hz, %u us: %s", cfg->nch,
				 cfg->rate, cfg->ptime_us, err);
		return;
	}
	if (r != -EINVAL)
		fail_msg("accepted %u ch %s at %u Hz, %u us (ret %d)", cfg->nch,
			 rtp_encoding_name(cfg->enc), cfg->rate, cfg->ptime_us,
			 r);
	if (!strstr(err, "flow mix-1"))
		fail_msg("message does not name the flow: %s", err);
	va_start(ap, ok);
	while ((w = va_arg(ap, const char *)))
		if (!strstr(err, w))
			fail_msg("message lacks '%s': %s", w, err);
	va_end(ap);
}

static void test_flow_config_check_refuses_packets_over_mtu(void **state)
{
	struct flow_config cfg;

	base_flow_config(&cfg);
	/* L24 at 1 ms: 48 frames of 3 bytes a channel. */
	cfg.nch = 10;
	check_config(&cfg, true); /* 1440 bytes */
	cfg.nch = 11;
	check_config(&cfg, false, "11 channels", "1584", "1460", NULL);
	cfg.nch = 64;
	check_config(&cfg, false, "64 channels", "L24", "9216", "1460", NULL);
	/* L16 at 1 ms: 15 fit (1440), 16 do not (1536). */
	cfg.enc = RTP_ENC_L16;
	cfg.nch = 15;
	check_config(&cfg, true);
	cfg.nch = 16;
	check_config(&cfg, false, "L16", "1536", NULL);
	/* L24 at 333 us: 16 frames; 30 channels fit (1440), 31 do not. */
	cfg.enc = RTP_ENC_L24;
	cfg.ptime_us = 333;
	cfg.nch = 30;
	check_config(&cfg, true);
	cfg.nch = 31;
	check_config(&cfg, false, "1488", NULL);
	/* 125 us carries all 64 channels at 48 kHz but not at 96 kHz. */
	cfg.ptime_us = 125;
	cfg.nch = 64;
	check_config(&cfg, true); /* 1152 */
	cfg.rate = 96000;
	check_config(&cfg, false, "2304", NULL);
	/* 4 ms: 192 frames; 2 channels of L24 fit, 3 do not. */
	cfg.rate = 48000;
	cfg.ptime_us = 4000;
	cfg.nch = 2;
	check_config(&cfg, true); /* 1152 */
	cfg.nch = 3;
	check_config(&cfg, false, "1728", NULL);
}

static void test_flow_config_check_refuses_channels_rate_ptime(void **state)
{
	struct flow_config cfg;

	base_flow_config(&cfg);
	cfg.ptime_us = 125;
	cfg.nch = 64;
	check_config(&cfg, true);
	cfg.nch = 65;
	check_config(&cfg, false, "65 channels", NULL);
	cfg.nch = 0;
	check_config(&cfg, false, "0 channels", NULL);
	cfg.nch = 2;
	cfg.ptime_us = 1000;
	cfg.rate = 32000;
	check_config(&cfg, false, "32000", NULL);
	cfg.rate = 44100;
	check_config(&cfg, true);
	cfg.rate = 96000;
	check_config(&cfg, true);
	cfg.ptime_us = 500;
	check_config(&cfg, false, "500 us", NULL);
	cfg.ptime_us = 0;
	check_config(&cfg, false, "0 us", NULL);
}

static void test_flow_open_refuses_source_at_another_rate(void **state)
{
	struct ctx *t = *state;
	char err[512] = "";

	snprintf(t->scfg.name, sizeof(t->scfg.name), "tone-44");
	t->scfg.rate = 44100;
	t->src = source_open(&t->scfg, err, sizeof(err));
	assert_non_null(t->src);
	t->f = flow_open(&t->fcfg, t->src, err, sizeof(err));
	assert_null(t->f);
	if (!strstr(err, "flow mix-1") || !strstr(err, "tone-44") ||
	    !strstr(err, "44100") || !strstr(err, "48000") ||
	    !strstr(err, "never resamples"))
		fail_msg("message: %s", err);
}

static void test_flow_open_refuses_missing_source_channel(void **state)
{
	struct ctx *t = *state;
	char err[512] = "";

	t->scfg.channels = 2;
	t->src = source_open(&t->scfg, err, sizeof(err));
	assert_non_null(t->src);
	/* Channels 1 and 3 (0-based 0 and 2) of a 2-channel source. */
	t->fcfg.chans[0] = 0;
	t->fcfg.chans[1] = 2;
	t->f = flow_open(&t->fcfg, t->src, err, sizeof(err));
	assert_null(t->f);
	if (!strstr(err, "flow mix-1") || !strstr(err, "channel 3") ||
	    !strstr(err, "source tone") || !strstr(err, "has 2"))
		fail_msg("message: %s", err);
	/* Both existing channels are fine. */
	t->fcfg.chans[1] = 1;
	t->f = flow_open(&t->fcfg, t->src, err, sizeof(err));
	if (!t->f)
		fail_msg("flow_open: %s", err);
}

static void test_flow_open_refuses_config_over_mtu(void **state)
{
	struct ctx *t = *state;
	char err[512] = "";
	unsigned int c;

	t->scfg.channels = 11;
	t->src = source_open(&t->scfg, err, sizeof(err));
	assert_non_null(t->src);
	t->fcfg.nch = 11;
	for (c = 0; c < 11; c++)
		t->fcfg.chans[c] = (uint8_t)c;
	t->f = flow_open(&t->fcfg, t->src, err, sizeof(err));
	assert_null(t->f);
	if (!strstr(err, "flow mix-1") || !strstr(err, "1584"))
		fail_msg("message: %s", err);
}

static void test_flow_sends_due_packets_on_fpp_boundaries(void **state)
{
	struct ctx *t = *state;
	const uint64_t t0 = T_BASE + 300 * 1000; /* 14.4 frames past X_BASE */
	uint64_t next;
	uint16_t seq;
	unsigned int i;

	open_flow(t);
	flow_start(t->f, t0);
	/* The first packet leaves at the next boundary, X_BASE + FPP. */
	next = flow_send_due(t->f, t0);
	assert_int_equal(next, T_BASE + 1 * MS);
	assert_int_equal(recv_all(t), 0);
	next = flow_send_due(t->f, T_BASE + 1 * MS - 1);
	assert_int_equal(next, T_BASE + 1 * MS);
	assert_int_equal(recv_all(t), 0);
	/* By t0 + 5 ms (5.3 ms past X_BASE) packets at 1..5 ms are due. */
	next = flow_send_due(t->f, t0 + 5 * MS);
	assert_int_equal(next, T_BASE + 6 * MS);
	assert_int_equal(recv_all(t), 5);
	seq = first_seq(t);
	for (i = 0; i < 5; i++)
		assert_packet(t, i, X_BASE + (i + 1) * FPP, seq + i);
	/* Exactly on the next boundary: one more, no more. */
	next = flow_send_due(t->f, T_BASE + 6 * MS);
	assert_int_equal(next, T_BASE + 7 * MS);
	assert_int_equal(recv_all(t), 1);
	assert_packet(t, 0, X_BASE + 6 * FPP, seq + 5);
	assert_int_equal(atomic_load(&flow_stats(t->f)->packets), 6);
	assert_int_equal(atomic_load(&flow_stats(t->f)->send_errors), 0);
	assert_int_equal(atomic_load(&flow_stats(t->f)->skipped), 0);
}

static void test_flow_payload_carries_the_chosen_source_channels(void **state)
{
	struct ctx *t = *state;
	int32_t frames[FPP * 2];
	const uint8_t *payload;
	struct rtp_hdr h;
	size_t plen;
	uint8_t one[3] = {2}, want[FPP * 3];
	unsigned int i;

	/* Each source channel has its own tone, so a swapped or wrong
	 * channel cannot pass. */
	open_flow(t);
	flow_start(t->f, T_BASE);
	flow_send_due(t->f, T_BASE + 1 * MS);
	assert_int_equal(recv_all(t), 1);
	assert_int_equal(
	    rtp_hdr_decode(t->pkts[0].buf, t->pkts[0].len, &h, &payload, &plen),
	    0);
	assert_int_equal(plen, FPP * 2 * 3);
	/* Payload channel 0 is source channel 2 alone, channel 1 is 0. */
	for (i = 0; i < 2; i++) {
		unsigned int f;

		one[0] = t->fcfg.chans[i];
		source_read(t->ref, X_BASE + FPP, FPP, one, 1, frames);
		rtp_pack(RTP_ENC_L24, frames, 1, FPP, want);
		for (f = 0; f < FPP; f++)
			assert_memory_equal(payload + f * 6 + i * 3,
					    want + f * 3, 3);
	}
	/* And the tone is not silence. */
	for (i = 0; i < plen && !payload[i]; i++)
		;
	assert_true(i < plen);
}

static void test_flow_timestamps_follow_media_clock_across_wrap(void **state)
{
	struct ctx *t = *state;
	/* The first boundary at or after the 32-bit wrap, minus 3 packets. */
	const uint64_t wrap = ((X_BASE >> 32) + 1) << 32;
	const uint64_t x0 = (wrap + FPP - 1) / FPP * FPP - 3 * FPP;
	uint16_t seq;
	unsigned int i;

	open_flow(t);
	flow_start(t->f, mclock_samples_to_ns(x0 - FPP, RATE));
	flow_send_due(t->f, mclock_samples_to_ns(x0 + 5 * FPP, RATE));
	assert_int_equal(recv_all(t), 6);
	seq = first_seq(t);
	for (i = 0; i < 6; i++)
		assert_packet(t, i, x0 + i * FPP, seq + i);
	assert_true((uint32_t)(x0 + 5 * FPP) < (uint32_t)x0);
}

static void test_flow_skips_ahead_after_long_stall(void **state)
{
	struct ctx *t = *state;
	uint64_t next;
	uint16_t seq;

	open_flow(t);
	flow_start(t->f, T_BASE);
	assert_int_equal(flow_send_due(t->f, T_BASE + 1 * MS), T_BASE + 2 * MS);
	assert_int_equal(recv_all(t), 1);
	seq = first_seq(t);
	assert_packet(t, 0, X_BASE + FPP, seq);
	/* Nothing sent for 149.5 ms, more than any receiver's latency: no
	 * burst of 149 packets, one packet at the current boundary (151 ms),
	 * the rest skipped. */
	next = flow_send_due(t->f, T_BASE + 151 * MS + 500 * 1000);
	assert_int_equal(next, T_BASE + 152 * MS);
	assert_int_equal(recv_all(t), 1);
	assert_packet(t, 0, X_BASE + 151 * FPP, seq + 1);
	assert_int_equal(atomic_load(&flow_stats(t->f)->skipped), 149);
	/* Then back to one packet a millisecond. */
	next = flow_send_due(t->f, T_BASE + 152 * MS);
	assert_int_equal(next, T_BASE + 153 * MS);
	assert_int_equal(recv_all(t), 1);
	assert_packet(t, 0, X_BASE + 152 * FPP, seq + 2);
	assert_int_equal(atomic_load(&flow_stats(t->f)->packets), 3);
	assert_int_equal(atomic_load(&flow_stats(t->f)->skipped), 149);
}

/* The media pass sends its flows' packets at its end: a packet due at
 * 1 ms, built at 1.2 ms and sent at 1.7 ms was 0.7 ms late, not 0.2. */
static void test_flow_late_is_when_the_pass_sent(void **state)
{
	struct ctx *t = *state;
	const struct flow_stats *st;

	open_flow(t);
	st = flow_stats(t->f);
	flow_start(t->f, T_BASE);
	flow_send_due(t->f, T_BASE + 1 * MS + 200 * 1000);
	assert_int_equal(atomic_load(&st->send_late_max_ns), 200 * 1000);
	flow_pass_end(t->f, T_BASE + 1 * MS + 700 * 1000);
	assert_int_equal(atomic_load(&st->send_late_max_ns), 700 * 1000);
	/* a pass that built nothing changes nothing */
	flow_pass_end(t->f, T_BASE + 50 * MS);
	assert_int_equal(atomic_load(&st->send_late_max_ns), 700 * 1000);
	/* two packets in one pass: the earlier's due counts */
	flow_send_due(t->f, T_BASE + 3 * MS + 100 * 1000);
	flow_pass_end(t->f, T_BASE + 3 * MS + 900 * 1000);
	assert_int_equal(atomic_load(&st->send_late_max_ns), 1900 * 1000);
	/* a pass across a clock step (sent 0): not counted, and over */
	flow_send_due(t->f, T_BASE + 4 * MS);
	flow_pass_end(t->f, 0);
	assert_int_equal(atomic_load(&st->send_late_max_ns), 1900 * 1000);
	flow_pass_end(t->f, T_BASE + 60 * MS);
	assert_int_equal(atomic_load(&st->send_late_max_ns), 1900 * 1000);
	assert_int_equal(recv_all(t), 4);
}

/* A step of the media clock's base during a pass (ntpd or ptp4l stepping
 * the system clock: no new generation) is no lateness: the media pass
 * times its send on the monotonic clock. */
static uint64_t injected_ns;
static uint64_t injected_now(void *ctx)
{
	(void)ctx;
	return injected_ns;
}
static void step_forward(void *ctx)
{
	(void)ctx;
	injected_ns += 37ull * NSEC_PER_SEC;
}

static void test_flow_late_ignores_a_clock_step_in_the_pass(void **state)
{
	struct ctx *t = *state;
	struct mclock *mc = mclock_new_injected(injected_now, NULL, NULL);
	struct media *m;

	assert_non_null(mc);
	open_flow(t);
	m = media_new(mc, &t->f, 1, NULL, 0);
	assert_non_null(m);
	media_set_pass_end(m, step_forward, NULL);
	flow_start(t->f, T_BASE);
	injected_ns = T_BASE + 1 * MS + 100 * 1000;
	media_run_once(m, injected_now(NULL));
	assert_int_equal(recv_all(t), 1);
	/* 0.1 ms late when built, and the send at most a second after */
	assert_in_range(atomic_load(&flow_stats(t->f)->send_late_max_ns),
			100 * 1000, 100 * 1000 + NSEC_PER_SEC);
	media_destroy(m);
	mclock_destroy(mc);
}

static void test_flow_catches_up_short_stall_without_skipping(void **state)
{
	struct ctx *t = *state;
	uint16_t seq;
	unsigned int i;

	open_flow(t);
	flow_start(t->f, T_BASE);
	flow_send_due(t->f, T_BASE + 1 * MS);
	assert_int_equal(recv_all(t), 1);
	seq = first_seq(t);
	/* 60 ms late is within the catch-up window (a receiver at 100 ms
	 * latency still plays all of it): every packet goes. */
	assert_int_equal(flow_send_due(t->f, T_BASE + 62 * MS),
			 T_BASE + 63 * MS);
	assert_int_equal(recv_all(t), 61);
	for (i = 0; i < 61; i++)
		assert_packet(t, i, X_BASE + (i + 2) * FPP, seq + 1 + i);
	assert_int_equal(atomic_load(&flow_stats(t->f)->skipped), 0);
}

static void test_flow_marks_packets_with_dscp(void **state)
{
	static const int dscps[] = {0, 34, 46, 63};
	struct ctx *t = *state;
	unsigned int i;

	for (i = 0; i < sizeof(dscps) / sizeof(dscps[0]); i++) {
		char err[256] = "";

		t->fcfg.dscp = dscps[i];
		flow_destroy(t->f);
		if (!t->src)
			t->src = source_open(&t->scfg, err, sizeof(err));
		assert_non_null(t->src);
		t->f = flow_open(&t->fcfg, t->src, err, sizeof(err));
		if (!t->f)
			fail_msg("flow_open: %s", err);
		flow_start(t->f, T_BASE + i * 10 * MS);
		flow_send_due(t->f, T_BASE + i * 10 * MS + 1 * MS);
		assert_int_equal(recv_all(t), 1);
		if (t->pkts[0].tos != dscps[i] << 2)
			fail_msg("dscp %d: TOS 0x%02x, want 0x%02x", dscps[i],
				 t->pkts[0].tos, dscps[i] << 2);
	}
}

static void test_flow_origin_is_loopback_for_loopback_dest(void **state)
{
	struct ctx *t = *state;
	struct in_addr addr;
	uint8_t mac[6];

	open_flow(t);
	flow_origin(t->f, &addr, mac);
	assert_int_equal(ntohl(addr.s_addr), INADDR_LOOPBACK);
	assert_int_equal(flow_config(t->f)->nch, 2);
	assert_string_equal(flow_config(t->f)->name, "mix-1");
}

/* A second leg (ST 2022-7): every packet goes to both destinations, byte
 * for byte the same, counted per leg; a second leg that is the first
 * again, or a group without its interface, is refused. */
static void test_flow_second_leg_sends_identical_packets(void **state)
{
	struct ctx *t = *state;
	struct sockaddr_in a2 = {.sin_family = AF_INET};
	socklen_t alen = sizeof(a2);
	uint8_t buf[2048];
	char err[256];
	unsigned int i, n;
	int fd2;

	/* the same destination on the same interface is no second leg */
	t->fcfg.dest2 = t->fcfg.dest;
	assert_int_equal(flow_config_check(&t->fcfg, err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "destination2 is destination"));
	t->fcfg.dest2.sin_addr.s_addr = inet_addr("239.69.128.1");
	assert_int_equal(flow_config_check(&t->fcfg, err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "give interface2"));

	fd2 = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	assert_true(fd2 >= 0);
	a2.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd2, (struct sockaddr *)&a2, sizeof(a2)), 0);
	assert_int_equal(getsockname(fd2, (struct sockaddr *)&a2, &alen), 0);
	t->fcfg.dest2 = a2;
	open_flow(t);
	assert_true(flow_fd2(t->f) >= 0);
	flow_start(t->f, T_BASE);
	flow_send_due(t->f, T_BASE + 5 * MS);
	n = recv_all(t);
	assert_int_equal(n, 5);
	for (i = 0; i < n; i++) {
		ssize_t len = recv(fd2, buf, sizeof(buf), MSG_DONTWAIT);

		assert_int_equal(len, (ssize_t)t->pkts[i].len);
		assert_memory_equal(buf, t->pkts[i].buf, (size_t)len);
	}
	assert_true(recv(fd2, buf, sizeof(buf), MSG_DONTWAIT) < 0);
	assert_int_equal(atomic_load(&flow_stats(t->f)->packets), 5);
	assert_int_equal(atomic_load(&flow_stats(t->f)->packets2), 5);
	assert_int_equal(atomic_load(&flow_stats(t->f)->send_errors2), 0);
	close(fd2);
}

/* What the first leg's program does to its packet never reaches the
 * second leg: each has its own copy. */
static int scribble(void *ctx, uint8_t *pkt, size_t len)
{
	memset(pkt, 0xEE, len);
	return 1;
}

static int keep(void *ctx, uint8_t *pkt, size_t len)
{
	struct pkt *p = ctx;

	memcpy(p->buf, pkt, len);
	p->len = len;
	return 1;
}

static void test_flow_second_leg_gets_its_own_copy(void **state)
{
	struct ctx *t = *state;
	struct pkt got = {0};

	t->fcfg.dest2 = t->fcfg.dest;
	t->fcfg.dest2.sin_port = htons(9);
	open_flow(t);
	flow_set_sender(t->f, scribble, NULL);
	flow_set_sender2(t->f, keep, &got);
	flow_start(t->f, T_BASE);
	flow_send_due(t->f, T_BASE + 1 * MS);
	assert_int_equal(got.len, RTP_HDR_LEN + FPP * 2 * 3);
	assert_int_equal(got.buf[0] >> 6, 2);
	assert_int_equal(atomic_load(&flow_stats(t->f)->packets), 1);
	assert_int_equal(atomic_load(&flow_stats(t->f)->packets2), 1);
}

/* Every sendmmsg() of the node's code (linked with --wrap=sendmmsg). */
int __real_sendmmsg(int fd, struct mmsghdr *m, unsigned int n, int flags);
static unsigned int sendmmsg_calls;

/* errno the next sendmmsg() calls fail with (0: none), how many */
static int sendmmsg_fail_errno;
static unsigned int sendmmsg_fails;

int __wrap_sendmmsg(int fd, struct mmsghdr *m, unsigned int n, int flags)
{
	sendmmsg_calls++;
	if (sendmmsg_fails) {
		sendmmsg_fails--;
		errno = sendmmsg_fail_errno;
		return -1;
	}
	return __real_sendmmsg(fd, m, n, flags);
}

static int sndbuf_of(int fd)
{
	int v = 0;
	socklen_t len = sizeof(v);

	getsockopt(fd, SOL_SOCKET, SO_SNDBUF, &v, &len);
	return v;
}

/* Flows of the same options (source, DSCP, TTL, interface) send on one
 * socket, which the last of them closes; another DSCP gets its own. */
static void test_flows_of_the_same_options_share_one_socket(void **state)
{
	struct ctx *t = *state;
	struct flow_config c2 = t->fcfg, c3 = t->fcfg;
	struct flow *g, *h;
	char err[256] = "";
	int fd;

	int one_user;

	open_flow(t);
	one_user = sndbuf_of(flow_fd(t->f));
	snprintf(c2.name, sizeof(c2.name), "mix-2");
	g = flow_open(&c2, t->src, err, sizeof(err));
	if (!g)
		fail_msg("flow_open: %s", err);
	fd = flow_fd(t->f);
	assert_int_equal(flow_fd(g), fd);
	assert_int_equal(net_udp_tx_shared_users(fd), 2);
	/* the send buffer holds what each had alone */
	assert_true(sndbuf_of(fd) >= 2 * one_user);
	snprintf(c3.name, sizeof(c3.name), "mix-3");
	c3.dscp = 46;
	h = flow_open(&c3, t->src, err, sizeof(err));
	if (!h)
		fail_msg("flow_open: %s", err);
	assert_int_not_equal(flow_fd(h), fd);
	assert_int_equal(net_udp_tx_shared_users(flow_fd(h)), 1);
	/* the first one gone, the second still sends on the socket */
	flow_destroy(t->f);
	t->f = NULL;
	assert_int_equal(net_udp_tx_shared_users(fd), 1);
	flow_start(g, T_BASE);
	flow_send_due(g, T_BASE + 1 * MS);
	assert_int_equal(recv_all(t), 1);
	assert_int_equal(t->pkts[0].tos, DSCP << 2);
	assert_int_equal(atomic_load(&flow_stats(g)->send_errors), 0);
	flow_destroy(g);
	assert_int_equal(net_udp_tx_shared_users(fd), 0);
	flow_destroy(h);
}

/* Whether this process may force a socket's send buffer past
 * net.core.wmem_max (CAP_NET_ADMIN; qemu-user may not pass it on). */
static bool may_force_sndbuf(void)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), v = 1 << 20;
	bool ok = fd >= 0 && setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &v,
					sizeof(v)) == 0;

	if (fd >= 0)
		close(fd);
	return ok;
}

/* A socket takes another flow only where its send buffer grows to what
 * each of them had alone (a fresh socket's), and 16 flows at most: with
 * the force permitted, the 17th opens another socket and the next joins
 * that; every socket holds its users' buffers. */
static void test_flows_share_a_socket_sixteen_at_most(void **state)
{
	struct ctx *t = *state;
	struct flow *fl[18];
	char err[256] = "";
	unsigned int i, j, total = 0;
	int unit, fresh = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	assert_true(fresh >= 0);
	unit = sndbuf_of(fresh);
	close(fresh);
	open_flow(t);
	for (i = 0; i < 18; i++) {
		struct flow_config c = t->fcfg;

		snprintf(c.name, sizeof(c.name), "many-%u", i);
		fl[i] = flow_open(&c, t->src, err, sizeof(err));
		if (!fl[i])
			fail_msg("flow_open: %s", err);
	}
	if (may_force_sndbuf()) {
		/* t->f and fl[0..14] on one socket, fl[15..17] on the next */
		assert_int_equal(flow_fd(fl[14]), flow_fd(t->f));
		assert_int_equal(net_udp_tx_shared_users(flow_fd(t->f)), 16);
		assert_int_not_equal(flow_fd(fl[15]), flow_fd(t->f));
		assert_int_equal(flow_fd(fl[17]), flow_fd(fl[15]));
		assert_int_equal(net_udp_tx_shared_users(flow_fd(fl[15])), 3);
	}
	/* each socket once: its users, at most 16, and their buffers */
	for (i = 0; i < 19; i++) {
		int fd = flow_fd(i < 18 ? fl[i] : t->f);
		unsigned int users = net_udp_tx_shared_users(fd);
		bool seen = false;

		for (j = 0; j < i; j++)
			seen = seen || flow_fd(fl[j]) == fd;
		if (seen)
			continue;
		assert_in_range(users, 1, 16);
		assert_true(sndbuf_of(fd) >= (int)users * unit);
		total += users;
	}
	assert_int_equal(total, 19);
	for (i = 0; i < 18; i++)
		flow_destroy(fl[i]);
}

/* A running D4 loop of @r that sends flow @f's packets to @dest; its
 * handle. */
static int start_flow_loop(struct relay *r, struct flow *f, const char *dest)
{
	static unsigned int n;
	char err[256] = "", text[256];
	int h;

	snprintf(text, sizeof(text),
		 "loop f%u {\npkt = recv()\nsendto(pkt, %s)\n}\n", n++, dest);
	assert_int_equal(
	    d4_exec(relay_runtime(r), text, strlen(text), &h, err, sizeof(err)),
	    0);
	assert_int_equal(relay_attach_flow(r, h, f), 0);
	d4_start(relay_runtime(r), h);
	return h;
}

/* Through their D4 loops, two flows' packets wait for the media pass's
 * end and leave together, in one sendmmsg(), each counted on its own
 * loop. */
static void test_relay_sends_a_pass_of_flows_together(void **state)
{
	struct ctx *t = *state;
	struct flow_config c2 = t->fcfg;
	struct relay *r = relay_new(8, 100000);
	char err[256] = "", dest[32];
	int h[2], i;
	struct flow *g;

	assert_non_null(r);
	open_flow(t);
	snprintf(c2.name, sizeof(c2.name), "mix-2");
	g = flow_open(&c2, t->src, err, sizeof(err));
	if (!g)
		fail_msg("flow_open: %s", err);
	net_endpoint_str(&t->rx_addr, dest, sizeof(dest));
	for (i = 0; i < 2; i++)
		h[i] = start_flow_loop(r, i ? g : t->f, dest);
	flow_start(t->f, T_BASE);
	flow_start(g, T_BASE);
	flow_send_due(t->f, T_BASE + 1 * MS);
	flow_send_due(g, T_BASE + 1 * MS);
	assert_int_equal(recv_all(t), 0);
	sendmmsg_calls = 0;
	relay_flush_flows(r);
	assert_int_equal(sendmmsg_calls, 1);
	assert_int_equal(recv_all(t), 2);
	/* one from each flow: their SSRCs (bytes 8-11) differ */
	assert_memory_not_equal(t->pkts[0].buf + 8, t->pkts[1].buf + 8, 4);
	for (i = 0; i < 2; i++) {
		assert_int_equal(atomic_load(&relay_stats(r, h[i])->datagrams),
				 1);
		assert_int_equal(
		    atomic_load(&relay_stats(r, h[i])->send_errors), 0);
	}
	/* a second pass: nothing left over from the first */
	flow_send_due(t->f, T_BASE + 2 * MS);
	relay_flush_flows(r);
	assert_int_equal(recv_all(t), 1);
	assert_int_equal(atomic_load(&relay_stats(r, h[0])->datagrams), 2);
	relay_destroy(r);
	flow_destroy(g);
}

/* A send the kernel refuses, in a pass of two flows on one socket (two
 * always share: test_flows_of_the_same_options_share_one_socket): a full
 * send buffer (EAGAIN) takes none of the pass, both counted after one
 * call; another error (ENOBUFS, which may be one route's) is that
 * message's, and the other goes; a second ENOBUFS in the pass is a
 * full buffer again. */
static void test_relay_pass_refusals_full_buffer_and_one_receiver(void **state)
{
	struct ctx *t = *state;
	struct relay *r = relay_new(8, 100000);
	char err[256] = "", dest[32];
	struct flow_config c2 = t->fcfg;
	struct flow *fl[2];
	unsigned int k;
	int h[2], i;

	assert_non_null(r);
	open_flow(t);
	snprintf(c2.name, sizeof(c2.name), "pass-2");
	fl[0] = t->f;
	fl[1] = flow_open(&c2, t->src, err, sizeof(err));
	if (!fl[1])
		fail_msg("flow_open: %s", err);
	assert_int_equal(flow_fd(fl[0]), flow_fd(fl[1]));
	net_endpoint_str(&t->rx_addr, dest, sizeof(dest));
	for (i = 0; i < 2; i++) {
		h[i] = start_flow_loop(r, fl[i], dest);
		flow_start(fl[i], T_BASE);
	}
	/* pass 0: EAGAIN; pass 1: one ENOBUFS; pass 2 (two packets of each
	 * flow): two ENOBUFS, the second memory short for all the rest */
	for (k = 0; k < 3; k++) {
		for (i = 0; i < 2; i++)
			flow_send_due(fl[i], T_BASE + (1 + k + (k == 2)) * MS);
		sendmmsg_calls = 0;
		sendmmsg_fail_errno = k ? ENOBUFS : EAGAIN;
		sendmmsg_fails = k == 2 ? 2 : 1;
		relay_flush_flows(r);
		sendmmsg_fails = 0;
		assert_int_equal(sendmmsg_calls, k ? 2 : 1);
		assert_int_equal(recv_all(t), k == 1 ? 1 : 0);
		if (k == 0)
			assert_int_equal(atomic_load(&relay_stats(r, h[1])
							  ->last_errno),
					 EAGAIN);
	}
	/* the first flow's messages were refused in every pass, the
	 * second's but for the single ENOBUFS */
	assert_int_equal(atomic_load(&relay_stats(r, h[0])->send_errors), 4);
	assert_int_equal(atomic_load(&relay_stats(r, h[0])->datagrams), 0);
	assert_int_equal(atomic_load(&relay_stats(r, h[0])->last_errno),
			 ENOBUFS);
	assert_int_equal(atomic_load(&relay_stats(r, h[1])->send_errors), 3);
	assert_int_equal(atomic_load(&relay_stats(r, h[1])->datagrams), 1);
	assert_int_equal(atomic_load(&relay_stats(r, h[1])->last_errno),
			 ENOBUFS);
	relay_destroy(r);
	flow_destroy(fl[1]);
}

#define FLOW_TEST(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_flow_frames_per_packet_follows_aes67_table),
	    cmocka_unit_test(test_flow_config_check_refuses_packets_over_mtu),
	    cmocka_unit_test(
		test_flow_config_check_refuses_channels_rate_ptime),
	    FLOW_TEST(test_flow_open_refuses_source_at_another_rate),
	    FLOW_TEST(test_flow_open_refuses_missing_source_channel),
	    FLOW_TEST(test_flow_open_refuses_config_over_mtu),
	    FLOW_TEST(test_flow_sends_due_packets_on_fpp_boundaries),
	    FLOW_TEST(test_flow_payload_carries_the_chosen_source_channels),
	    FLOW_TEST(test_flow_timestamps_follow_media_clock_across_wrap),
	    FLOW_TEST(test_flow_skips_ahead_after_long_stall),
	    FLOW_TEST(test_flow_late_is_when_the_pass_sent),
	    FLOW_TEST(test_flow_late_ignores_a_clock_step_in_the_pass),
	    FLOW_TEST(test_flow_catches_up_short_stall_without_skipping),
	    FLOW_TEST(test_flow_marks_packets_with_dscp),
	    FLOW_TEST(test_flow_origin_is_loopback_for_loopback_dest),
	    FLOW_TEST(test_flow_second_leg_sends_identical_packets),
	    FLOW_TEST(test_flow_second_leg_gets_its_own_copy),
	    FLOW_TEST(test_flows_of_the_same_options_share_one_socket),
	    FLOW_TEST(test_flows_share_a_socket_sixteen_at_most),
	    FLOW_TEST(test_relay_sends_a_pass_of_flows_together),
	    FLOW_TEST(test_relay_pass_refusals_full_buffer_and_one_receiver),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
