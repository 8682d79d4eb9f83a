/* libFuzzer harness for the RTP receive path: the header decoder
 * (node/rtp.c) and a subscription's checks, sequence tracking, timing and
 * jitter buffer (node/sub.c, node/jbuf.c), driven as the media thread
 * drives them but on a fixed synthetic PTP clock, so a run is repeatable.
 * The subscription is opened on 127.0.0.1 port 0; packets are handed to
 * sub_rx_packet() directly, never sent.
 *
 * Input: an 8-byte subscription config, then records, each a 2-byte
 * big-endian length, a control byte and that many bytes of datagram (cut
 * short at the end of the input). Config bytes:
 *   0: bit 0 L24 (else L16), bits 1-2 timing (auto, ptp, arrival, auto),
 *      bit 3 source filter 10.0.0.1, bit 4 media clock unlocked, bits 5-7
 *      rate (see rates[])
 *   1: channels - 1 (mod 64)   2: payload type (mod 128)
 *   3: bits 0-1 latency (see latencies[]), bits 2-4 frames per packet
 *   4-7: mediaclk offset, big-endian
 * Control byte: bits 0-5 how far the clock moves before this datagram, in
 * 125 us steps (bit 7 set: 4 ms steps); bit 6 the datagram comes from
 * 10.0.0.2 instead of 10.0.0.1. The run stops after 24000 frames of media
 * time (0.5 s at 48 kHz): every frame is played out, which is most of the
 * time a run takes. A record of length 0 is an event instead:
 * control bit 0 resyncs the subscription (a clock step), bit 1 flips the
 * media clock's lock.
 *
 * Beyond "no crash, no sanitizer report": the decoder's payload lies inside
 * the datagram, and each datagram lands in exactly one of received,
 * bad_header, foreign, bad_pt and bad_size. */
#include "node/rtp.h"
#include "node/sub.h"
#include "ptp/mclock.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
const char *__asan_default_options(void);

/* Each run opens a subscription: some 100 kB of zeroed buffers. Behind
 * ASan's default 256 MB quarantine every run gets pages never touched
 * before, and their faults took 80 % of the time. Nothing outlives a run,
 * so a small quarantine hides no use after free here. */
const char *__asan_default_options(void)
{
	return "quarantine_size_mb=8";
}

#define CFG_LEN	   8
#define T_BASE	   (1800000000ull * NSEC_PER_SEC) /* a PTP time in 2027 */
#define US	   1000ull
#define RUN_FRAMES 24000

/* AES67's rates first, then what an SDP may also say. */
static const uint32_t rates[8] = {48000,  96000, 44100, 88200,
				  192000, 8000,	 1,	32000};
static const uint64_t latencies[4] = {1000 * US, 250 * US, 2000 * US,
				      20000 * US};
static const uint32_t fpps[8] = {0, 48, 6, 12, 16, 192, 1, 96};

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

static void make_config(const uint8_t *c, struct sub_config *cfg)
{
	static const enum sub_timing timings[4] = {
	    SUB_TIMING_AUTO, SUB_TIMING_PTP, SUB_TIMING_ARRIVAL,
	    SUB_TIMING_AUTO};

	memset(cfg, 0, sizeof(*cfg));
	snprintf(cfg->name, sizeof(cfg->name), "fuzz");
	cfg->addr.sin_family = AF_INET;
	cfg->addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cfg->addr.sin_port = 0;
	cfg->enc = c[0] & 1 ? RTP_ENC_L24 : RTP_ENC_L16;
	cfg->timing = timings[(c[0] >> 1) & 3];
	cfg->has_source_filter = c[0] & 8;
	cfg->source_filter.s_addr = htonl(0x0a000001);
	cfg->rate = rates[c[0] >> 5];
	cfg->channels = 1u + c[1] % SOURCE_MAX_CHANNELS;
	cfg->pt = c[2] & 0x7f;
	cfg->latency_ns = latencies[c[3] & 3];
	cfg->fpp = fpps[(c[3] >> 2) & 7];
	cfg->mediaclk_offset = be32(c + 4);
}

/* rtp_hdr_decode() on its own: what it returns stays inside @buf. */
static void decode(const uint8_t *buf, size_t len)
{
	const uint8_t *payload;
	struct rtp_hdr h;
	size_t plen;

	if (rtp_hdr_decode(buf, len, &h, &payload, &plen))
		return;
	if (payload < buf + RTP_HDR_LEN || plen > len ||
	    payload + plen > buf + len)
		abort();
}

/* every packet gets exactly one verdict, or waits for one (a new SSRC
 * proving itself) */
static uint64_t verdicts(const struct sub *s, const struct sub_stats *st)
{
	return st->received + st->bad_header + st->foreign + st->bad_pt +
	       st->bad_size + st->foreign_ssrc + sub_pending(s);
}

static void event(struct sub *s, uint8_t ctl, uint64_t now, bool *locked)
{
	if (ctl & 1)
		sub_resync(s, now);
	if (ctl & 2) {
		*locked = !*locked;
		sub_set_timescale_ok(s, *locked);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *p = data + CFG_LEN, *end = data + size;
	struct sockaddr_in from = {.sin_family = AF_INET};
	const struct sub_stats *st;
	struct sub_config cfg;
	uint64_t now = T_BASE, packets = 0;
	bool locked;
	char err[256];
	struct sub *s;

	if (size < CFG_LEN)
		return 0;
	make_config(data, &cfg);
	s = sub_open(&cfg, err, sizeof(err));
	if (!s)
		return 0;
	st = sub_stats(s);
	locked = !(data[0] & 0x10);
	sub_set_timescale_ok(s, locked);
	sub_start(s, now);
	while (p + 3 <= end) {
		size_t len = (size_t)p[0] << 8 | p[1];
		uint8_t ctl = p[2];
		uint8_t *pkt;

		p += 3;
		if (len > (size_t)(end - p))
			len = (size_t)(end - p);
		now += (ctl & 0x80 ? 4000 * US : 125 * US) * (ctl & 0x3f);
		if (mclock_ns_to_samples(now - T_BASE, cfg.rate) > RUN_FRAMES)
			break;
		if (!len) {
			event(s, ctl, now, &locked);
			continue;
		}
		/* a heap copy of exactly @len bytes: ASan sees any
		 * over-read */
		pkt = malloc(len);
		if (!pkt)
			break;
		memcpy(pkt, p, len);
		from.sin_addr.s_addr =
		    htonl(ctl & 0x40 ? 0x0a000002 : 0x0a000001);
		decode(pkt, len);
		/* the media loop: play out what is due, then read */
		sub_playout(s, now);
		sub_rx_packet(s, pkt, len, &from, now, now + 20 * US);
		free(pkt);
		packets++;
		if (verdicts(s, st) != packets || st->duplicate > st->received ||
		    st->reordered > st->received)
			abort();
		p += len;
	}
	sub_playout(s, now + 50 * 1000 * US);
	sub_destroy(s);
	return 0;
}
