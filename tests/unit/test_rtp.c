/* Unit tests for RTP framing: L16/L24 packing down to the wire bytes, header
 * encode/decode and every length check of the decoder, and the wrap-safe
 * sequence and timestamp comparisons. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "node/rtp.h"

static void test_rtp_l24_packs_full_scale_to_exact_bytes(void **state)
{
	const int32_t in[] = {0x7FFFFF00, INT32_MIN,  -256,
			      0,	  0x12345600, 0x00000100};
	static const uint8_t want[] = {
	    0x7F, 0xFF, 0xFF, /* +full scale */
	    0x80, 0x00, 0x00, /* -full scale */
	    0xFF, 0xFF, 0xFF, /* -1 in 24 bits */
	    0x00, 0x00, 0x00, /* silence */
	    0x12, 0x34, 0x56, /* big-endian order */
	    0x00, 0x00, 0x01, /* the lowest 24-bit step */
	};
	uint8_t out[sizeof(want) + 4];
	int32_t back[6];

	memset(out, 0xEE, sizeof(out));
	rtp_pack(RTP_ENC_L24, in, 1, 6, out);
	assert_memory_equal(out, want, sizeof(want));
	/* Nothing written past 3 bytes per sample. */
	assert_int_equal(out[sizeof(want)], 0xEE);
	rtp_unpack(RTP_ENC_L24, out, 1, 6, back);
	assert_memory_equal(back, in, sizeof(in));
}

static void test_rtp_l16_packs_full_scale_to_exact_bytes(void **state)
{
	const int32_t in[] = {0x7FFF0000, INT32_MIN,  -65536,
			      0,	  0x12340000, 0x00010000};
	static const uint8_t want[] = {
	    0x7F, 0xFF, 0x80, 0x00, 0xFF, 0xFF,
	    0x00, 0x00, 0x12, 0x34, 0x00, 0x01,
	};
	uint8_t out[sizeof(want) + 4];
	int32_t back[6];

	memset(out, 0xEE, sizeof(out));
	rtp_pack(RTP_ENC_L16, in, 2, 3, out);
	assert_memory_equal(out, want, sizeof(want));
	assert_int_equal(out[sizeof(want)], 0xEE);
	rtp_unpack(RTP_ENC_L16, out, 2, 3, back);
	assert_memory_equal(back, in, sizeof(in));
}

static void test_rtp_pack_drops_bits_below_the_format(void **state)
{
	const int32_t in[] = {0x7FFFFFFF, (int32_t)0x800000FF, 0x1234FFFF};
	uint8_t out[9];
	int32_t back[3];

	rtp_pack(RTP_ENC_L24, in, 1, 3, out);
	rtp_unpack(RTP_ENC_L24, out, 1, 3, back);
	assert_int_equal(back[0], 0x7FFFFF00);
	assert_int_equal(back[1], INT32_MIN);
	assert_int_equal(back[2], 0x1234FF00);
	rtp_pack(RTP_ENC_L16, in, 1, 3, out);
	rtp_unpack(RTP_ENC_L16, out, 1, 3, back);
	assert_int_equal(back[0], 0x7FFF0000);
	assert_int_equal(back[1], INT32_MIN);
	assert_int_equal(back[2], 0x12340000);
}

static void test_rtp_l24_round_trips_every_24_bit_step(void **state)
{
	static int32_t in[4096], back[4096];
	static uint8_t wire[4096 * 3];
	uint32_t v, i;

	/* All 2^24 values, 4096 at a time, as left-justified int32. */
	for (v = 0; v < (1u << 24); v += 4096) {
		for (i = 0; i < 4096; i++)
			in[i] = (int32_t)((v + i) << 8);
		rtp_pack(RTP_ENC_L24, in, 4, 1024, wire);
		rtp_unpack(RTP_ENC_L24, wire, 4, 1024, back);
		assert_memory_equal(back, in, sizeof(in));
	}
}

static void test_rtp_l16_round_trips_every_16_bit_step(void **state)
{
	static int32_t in[65536], back[65536];
	static uint8_t wire[65536 * 2];
	uint32_t i;

	for (i = 0; i < 65536; i++)
		in[i] = (int32_t)(i << 16);
	rtp_pack(RTP_ENC_L16, in, 8, 8192, wire);
	for (i = 0; i < 65536; i++) {
		assert_int_equal(wire[2 * i], i >> 8);
		assert_int_equal(wire[2 * i + 1], i & 0xff);
	}
	rtp_unpack(RTP_ENC_L16, wire, 8, 8192, back);
	assert_memory_equal(back, in, sizeof(in));
}

/* The byte rules of RFC 3190 (L24) and RFC 3551 (L16), one sample at a
 * time, for the tests below to hold the packers to. */
static void ref_pack(enum rtp_encoding enc, const int32_t *in, size_t n,
		     uint8_t *out)
{
	unsigned int bps = rtp_bytes_per_sample(enc), b;
	size_t i;

	for (i = 0; i < n; i++)
		for (b = 0; b < bps; b++)
			out[i * bps + b] =
			    (uint8_t)((uint32_t)in[i] >> (24 - 8 * b));
}

static int32_t ref_get(enum rtp_encoding enc, const uint8_t *p)
{
	uint32_t v = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16;

	return (int32_t)(enc == RTP_ENC_L24 ? v | (uint32_t)p[2] << 8 : v);
}

/* The edges of every byte of a sample: each byte 00, 01, 7F, 80, FE or
 * FF, in all 6^4 combinations (sign, carries, the bits below the format). */
static int32_t edge_value(unsigned int k)
{
	static const uint8_t e[] = {0x00, 0x01, 0x7F, 0x80, 0xFE, 0xFF};
	uint32_t v = 0;
	unsigned int b;

	for (b = 0; b < 4; b++, k /= 6)
		v = v << 8 | e[k % 6];
	return (int32_t)v;
}

#define EDGES (6 * 6 * 6 * 6)

/* Whatever the length (the vectorised blocks and the tails after them),
 * the alignment of the wire buffer, or the edge values in it: the bytes
 * the byte rule gives, nothing written before or after them, and unpack
 * reading only its buffer (exact-size heap buffers: ASan sees a byte too
 * far). */
static void
test_rtp_pack_unpack_bit_exact_at_every_length_and_offset(void **state)
{
	static const enum rtp_encoding encs[] = {RTP_ENC_L24, RTP_ENC_L16};
	unsigned int e, n, off, k = 0;

	for (e = 0; e < 2; e++) {
		unsigned int bps = rtp_bytes_per_sample(encs[e]);

		for (n = 0; n <= 70; n++) {
			for (off = 0; off < 4; off++, k += 7) {
				size_t len = (size_t)n * bps, i;
				int32_t *in = malloc(n ? n * 4 : 1);
				int32_t *back = malloc(n ? n * 4 : 1);
				uint8_t *want = malloc(len ? len : 1);
				uint8_t *buf = malloc(off + len + 8);

				assert_true(in && back && want && buf);
				for (i = 0; i < n; i++)
					in[i] = edge_value((k + i) % EDGES);
				ref_pack(encs[e], in, n, want);
				memset(buf, 0xA5, off + len + 8);
				rtp_pack(encs[e], in, 1, n, buf + off);
				assert_memory_equal(buf + off, want, len);
				for (i = 0; i < off; i++)
					assert_int_equal(buf[i], 0xA5);
				for (i = off + len; i < off + len + 8; i++)
					assert_int_equal(buf[i], 0xA5);
				/* from @want: exactly len bytes, so ASan sees
				 * a read past them */
				rtp_unpack(encs[e], want, 1, n, back);
				for (i = 0; i < n; i++)
					assert_int_equal(
					    back[i],
					    ref_get(encs[e], want + i * bps));
				free(in);
				free(back);
				free(want);
				free(buf);
			}
		}
	}
}

/* Every 24-bit value, with the byte below it set, packs to the byte
 * rule's three bytes; every three bytes unpack to the value it gives.
 * Likewise every 16-bit value for L16. */
static void test_rtp_pack_unpack_bit_exact_for_every_value(void **state)
{
	static int32_t in[4096], back[4096];
	static uint8_t wire[4096 * 3], want[4096 * 3];
	uint32_t v, i;

	for (v = 0; v < (1u << 24); v += 4096) {
		for (i = 0; i < 4096; i++)
			in[i] = (int32_t)((v + i) << 8 | ((v + i) * 37 & 0xff));
		rtp_pack(RTP_ENC_L24, in, 8, 512, wire);
		ref_pack(RTP_ENC_L24, in, 4096, want);
		assert_memory_equal(wire, want, sizeof(wire));
		rtp_unpack(RTP_ENC_L24, wire, 8, 512, back);
		for (i = 0; i < 4096; i++)
			assert_int_equal(back[i], (int32_t)((v + i) << 8));
	}
	for (v = 0; v < (1u << 16); v += 4096) {
		for (i = 0; i < 4096; i++)
			in[i] = (int32_t)((v + i) << 16 |
					  ((v + i) * 40503 & 0xffff));
		rtp_pack(RTP_ENC_L16, in, 2, 2048, wire);
		ref_pack(RTP_ENC_L16, in, 4096, want);
		assert_memory_equal(wire, want, 4096 * 2);
		rtp_unpack(RTP_ENC_L16, wire, 2, 2048, back);
		for (i = 0; i < 4096; i++)
			assert_int_equal(back[i], (int32_t)((v + i) << 16));
	}
}

static void test_rtp_pack_keeps_interleaved_channel_order(void **state)
{
	/* 3 channels x 2 frames: f0c0 f0c1 f0c2 f1c0 f1c1 f1c2. */
	const int32_t in[] = {0x01010100, 0x02020200, 0x03030300,
			      0x11111100, 0x12121200, 0x13131300};
	static const uint8_t want24[] = {
	    0x01, 0x01, 0x01, 0x02, 0x02, 0x02, 0x03, 0x03, 0x03,
	    0x11, 0x11, 0x11, 0x12, 0x12, 0x12, 0x13, 0x13, 0x13,
	};
	static const uint8_t want16[] = {
	    0x01, 0x01, 0x02, 0x02, 0x03, 0x03,
	    0x11, 0x11, 0x12, 0x12, 0x13, 0x13,
	};
	uint8_t out[18];
	int32_t back[6];

	rtp_pack(RTP_ENC_L24, in, 3, 2, out);
	assert_memory_equal(out, want24, sizeof(want24));
	rtp_unpack(RTP_ENC_L24, out, 3, 2, back);
	assert_memory_equal(back, in, sizeof(in));

	rtp_pack(RTP_ENC_L16, in, 3, 2, out);
	assert_memory_equal(out, want16, sizeof(want16));
	rtp_unpack(RTP_ENC_L16, want16, 3, 2, back);
	assert_int_equal(back[0], 0x01010000);
	assert_int_equal(back[2], 0x03030000);
	assert_int_equal(back[4], 0x12120000);
	assert_int_equal(back[5], 0x13130000);
}

static void test_rtp_bytes_per_sample_and_names(void **state)
{
	assert_int_equal(rtp_bytes_per_sample(RTP_ENC_L24), 3);
	assert_int_equal(rtp_bytes_per_sample(RTP_ENC_L16), 2);
	assert_string_equal(rtp_encoding_name(RTP_ENC_L24), "L24");
	assert_string_equal(rtp_encoding_name(RTP_ENC_L16), "L16");
}

static void test_rtp_encoding_parse_accepts_l24_l16_any_case(void **state)
{
	enum rtp_encoding enc = RTP_ENC_L16;

	assert_int_equal(rtp_encoding_parse("L24", &enc), 0);
	assert_int_equal(enc, RTP_ENC_L24);
	assert_int_equal(rtp_encoding_parse("l16", &enc), 0);
	assert_int_equal(enc, RTP_ENC_L16);
	assert_int_equal(rtp_encoding_parse("l24", &enc), 0);
	assert_int_equal(enc, RTP_ENC_L24);
	assert_int_equal(rtp_encoding_parse("L16", &enc), 0);
	assert_int_equal(enc, RTP_ENC_L16);
}

static void test_rtp_encoding_parse_rejects_others(void **state)
{
	static const char *const bad[] = {"",	  "L20",  "L8", "PCMU",
					  "L24 ", " L24", "L2", "L240"};
	enum rtp_encoding enc = RTP_ENC_L16;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(rtp_encoding_parse(bad[i], &enc), -EINVAL);
	assert_int_equal(enc, RTP_ENC_L16);
}

static void test_rtp_header_encodes_exact_bytes(void **state)
{
	const struct rtp_hdr h = {.pt = 98,
				  .marker = true,
				  .seq = 0xABCD,
				  .ts = 0xDEADBEEF,
				  .ssrc = 0x01234567};
	static const uint8_t want[RTP_HDR_LEN] = {
	    0x80, 0x80 | 98, 0xAB, 0xCD, 0xDE, 0xAD,
	    0xBE, 0xEF,	     0x01, 0x23, 0x45, 0x67,
	};
	uint8_t buf[RTP_HDR_LEN + 1];

	buf[RTP_HDR_LEN] = 0x5A;
	rtp_hdr_encode(&h, buf);
	assert_memory_equal(buf, want, RTP_HDR_LEN);
	assert_int_equal(buf[RTP_HDR_LEN], 0x5A);
}

static void test_rtp_header_round_trips(void **state)
{
	static const struct rtp_hdr cases[] = {
	    {96, false, 0, 0, 0},
	    {127, true, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF},
	    {98, false, 0x8000, 0x80000000, 0x89ABCDEF},
	    {0, true, 1, 1, 1},
	};
	uint8_t pkt[RTP_HDR_LEN + 6];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct rtp_hdr h;
		const uint8_t *payload = NULL;
		size_t plen = 99;

		memset(&h, 0x55, sizeof(h));
		memset(pkt, 0xC3, sizeof(pkt));
		rtp_hdr_encode(&cases[i], pkt);
		assert_int_equal(
		    rtp_hdr_decode(pkt, sizeof(pkt), &h, &payload, &plen), 0);
		assert_int_equal(h.pt, cases[i].pt);
		assert_int_equal(h.marker, cases[i].marker);
		assert_int_equal(h.seq, cases[i].seq);
		assert_int_equal(h.ts, cases[i].ts);
		assert_int_equal(h.ssrc, cases[i].ssrc);
		assert_ptr_equal(payload, pkt + RTP_HDR_LEN);
		assert_int_equal(plen, 6);
	}
}

static void test_rtp_header_encode_masks_pt_to_seven_bits(void **state)
{
	const struct rtp_hdr h = {.pt = 0xFF, .marker = false};
	uint8_t buf[RTP_HDR_LEN];

	rtp_hdr_encode(&h, buf);
	assert_int_equal(buf[0], 0x80);
	assert_int_equal(buf[1], 0x7F);
}

/* A 12-byte header with version 2, sequence 7, ts 1000, ssrc 0x11223344. */
static size_t base_pkt(uint8_t *buf)
{
	const struct rtp_hdr h = {
	    .pt = 98, .seq = 7, .ts = 1000, .ssrc = 0x11223344};

	rtp_hdr_encode(&h, buf);
	return RTP_HDR_LEN;
}

static int decode(const uint8_t *buf, size_t len, const uint8_t **payload,
		  size_t *plen)
{
	struct rtp_hdr h;

	return rtp_hdr_decode(buf, len, &h, payload, plen);
}

static void test_rtp_decode_rejects_versions_other_than_2(void **state)
{
	static const uint8_t versions[] = {0x00, 0x40, 0xC0};
	uint8_t pkt[RTP_HDR_LEN + 4] = {0};
	const uint8_t *payload;
	size_t plen, i;

	base_pkt(pkt);
	assert_int_equal(decode(pkt, sizeof(pkt), &payload, &plen), 0);
	for (i = 0; i < sizeof(versions); i++) {
		pkt[0] = versions[i];
		assert_int_equal(decode(pkt, sizeof(pkt), &payload, &plen),
				 -EINVAL);
	}
}

static void test_rtp_decode_rejects_packet_shorter_than_header(void **state)
{
	uint8_t pkt[RTP_HDR_LEN];
	const uint8_t *payload;
	size_t plen, len;

	base_pkt(pkt);
	for (len = 0; len < RTP_HDR_LEN; len++)
		assert_int_equal(decode(pkt, len, &payload, &plen), -EINVAL);
	/* A bare header is a packet with an empty payload. */
	assert_int_equal(decode(pkt, RTP_HDR_LEN, &payload, &plen), 0);
	assert_int_equal(plen, 0);
}

static void test_rtp_decode_rejects_csrcs_beyond_length(void **state)
{
	uint8_t pkt[RTP_HDR_LEN + 15 * 4 + 8];
	const uint8_t *payload;
	size_t plen;

	memset(pkt, 0, sizeof(pkt));
	base_pkt(pkt);
	pkt[0] |= 2; /* CC = 2: 8 bytes of CSRC */
	assert_int_equal(decode(pkt, RTP_HDR_LEN + 7, &payload, &plen),
			 -EINVAL);
	assert_int_equal(decode(pkt, RTP_HDR_LEN + 8, &payload, &plen), 0);
	assert_int_equal(plen, 0);
	pkt[0] |= 0x0F; /* CC = 15: 60 bytes */
	assert_int_equal(decode(pkt, RTP_HDR_LEN + 59, &payload, &plen),
			 -EINVAL);
	assert_int_equal(decode(pkt, RTP_HDR_LEN + 64, &payload, &plen), 0);
	assert_ptr_equal(payload, pkt + RTP_HDR_LEN + 60);
	assert_int_equal(plen, 4);
}

static void test_rtp_decode_rejects_extension_beyond_length(void **state)
{
	uint8_t pkt[RTP_HDR_LEN + 4 + 8 + 4];
	const uint8_t *payload;
	size_t plen;

	memset(pkt, 0, sizeof(pkt));
	base_pkt(pkt);
	pkt[0] |= 0x10;
	/* No room for the extension's own 4-byte header. */
	assert_int_equal(decode(pkt, RTP_HDR_LEN, &payload, &plen), -EINVAL);
	assert_int_equal(decode(pkt, RTP_HDR_LEN + 3, &payload, &plen),
			 -EINVAL);
	/* The extension says 2 words (8 bytes); only 7 are there. */
	pkt[RTP_HDR_LEN + 2] = 0;
	pkt[RTP_HDR_LEN + 3] = 2;
	assert_int_equal(decode(pkt, RTP_HDR_LEN + 4 + 7, &payload, &plen),
			 -EINVAL);
	assert_int_equal(decode(pkt, RTP_HDR_LEN + 4 + 8, &payload, &plen), 0);
	assert_int_equal(plen, 0);
	/* A length in the high byte: 0x0100 words, far beyond the packet. */
	pkt[RTP_HDR_LEN + 2] = 1;
	assert_int_equal(decode(pkt, sizeof(pkt), &payload, &plen), -EINVAL);
}

static void test_rtp_decode_rejects_padding_beyond_payload(void **state)
{
	uint8_t pkt[RTP_HDR_LEN + 8];
	const uint8_t *payload;
	size_t plen;

	memset(pkt, 0, sizeof(pkt));
	base_pkt(pkt);
	pkt[0] |= 0x20;
	pkt[sizeof(pkt) - 1] = 9; /* 9 bytes of padding in an 8-byte payload */
	assert_int_equal(decode(pkt, sizeof(pkt), &payload, &plen), -EINVAL);
	pkt[sizeof(pkt) - 1] = 255;
	assert_int_equal(decode(pkt, sizeof(pkt), &payload, &plen), -EINVAL);
	/* Padding of the whole payload leaves it empty. */
	pkt[sizeof(pkt) - 1] = 8;
	assert_int_equal(decode(pkt, sizeof(pkt), &payload, &plen), 0);
	assert_int_equal(plen, 0);
	/* A bare header with P set has no room for padding at all. */
	pkt[11] = 1;
	assert_int_equal(decode(pkt, RTP_HDR_LEN, &payload, &plen), -EINVAL);
}

static void test_rtp_decode_rejects_zero_padding_count(void **state)
{
	uint8_t pkt[RTP_HDR_LEN + 8];
	const uint8_t *payload;
	size_t plen;

	memset(pkt, 0x11, sizeof(pkt));
	base_pkt(pkt);
	pkt[0] |= 0x20;
	pkt[sizeof(pkt) - 1] = 0;
	assert_int_equal(decode(pkt, sizeof(pkt), &payload, &plen), -EINVAL);
}

static void test_rtp_decode_skips_csrcs_extension_and_padding(void **state)
{
	/* header | 2 CSRC | ext hdr + 1 word | 6 samples bytes | 3 padding */
	uint8_t pkt[RTP_HDR_LEN + 8 + 8 + 6 + 3];
	const uint8_t *payload = NULL;
	struct rtp_hdr h;
	size_t plen = 0, i, off = RTP_HDR_LEN;

	memset(pkt, 0xAA, sizeof(pkt));
	base_pkt(pkt);
	pkt[0] |= 0x20 | 0x10 | 2;
	pkt[1] |= 0x80;
	off += 8;	     /* CSRCs stay 0xAA */
	pkt[off + 0] = 0xBE; /* profile-defined id */
	pkt[off + 1] = 0xDE;
	pkt[off + 2] = 0;
	pkt[off + 3] = 1; /* one 32-bit word */
	off += 8;
	for (i = 0; i < 6; i++)
		pkt[off + i] = (uint8_t)(0x10 + i);
	pkt[sizeof(pkt) - 1] = 3;

	assert_int_equal(rtp_hdr_decode(pkt, sizeof(pkt), &h, &payload, &plen),
			 0);
	assert_ptr_equal(payload, pkt + off);
	assert_int_equal(plen, 6);
	for (i = 0; i < 6; i++)
		assert_int_equal(payload[i], 0x10 + i);
	assert_true(h.marker);
	assert_int_equal(h.pt, 98);
	assert_int_equal(h.seq, 7);
	assert_int_equal(h.ts, 1000);
	assert_int_equal(h.ssrc, 0x11223344);
}

static void test_rtp_decode_extension_of_zero_words(void **state)
{
	uint8_t pkt[RTP_HDR_LEN + 4 + 2];
	const uint8_t *payload;
	size_t plen;

	memset(pkt, 0, sizeof(pkt));
	base_pkt(pkt);
	pkt[0] |= 0x10;
	pkt[RTP_HDR_LEN + 4] = 0x77;
	assert_int_equal(decode(pkt, sizeof(pkt), &payload, &plen), 0);
	assert_ptr_equal(payload, pkt + RTP_HDR_LEN + 4);
	assert_int_equal(plen, 2);
	assert_int_equal(payload[0], 0x77);
}

/* Every truncation of a packet with CSRCs, an extension and padding,
 * decoded from a heap block of exactly that size: the sanitizer catches any
 * read past @len, and a success must describe bytes inside the block. */
static void test_rtp_decode_reads_nothing_past_len(void **state)
{
	uint8_t full[RTP_HDR_LEN + 8 + 12 + 9 + 4];
	size_t len, i;

	for (i = 0; i < sizeof(full); i++)
		full[i] = (uint8_t)(i * 37 + 1);
	base_pkt(full);
	full[0] |= 0x20 | 0x10 | 2;
	full[RTP_HDR_LEN + 8 + 2] = 0;
	full[RTP_HDR_LEN + 8 + 3] = 2;
	full[sizeof(full) - 1] = 4;
	for (len = 0; len <= sizeof(full); len++) {
		uint8_t *buf = malloc(len ? len : 1);
		const uint8_t *payload = NULL;
		size_t plen = 0;
		int rc;

		assert_non_null(buf);
		memcpy(buf, full, len);
		rc = decode(buf, len, &payload, &plen);
		if (rc == 0) {
			assert_true(payload >= buf + RTP_HDR_LEN);
			assert_true(payload + plen <= buf + len);
		} else {
			assert_int_equal(rc, -EINVAL);
		}
		/* Anything shorter than header, CSRCs and extension fails. */
		if (len < RTP_HDR_LEN + 8 + 12)
			assert_int_equal(rc, -EINVAL);
		free(buf);
		if (len == sizeof(full)) {
			assert_int_equal(rc, 0);
			assert_int_equal(plen, 9);
		}
	}
}

static void test_rtp_seq_diff_wraps(void **state)
{
	assert_int_equal(rtp_seq_diff(0, 65535), 1);
	assert_int_equal(rtp_seq_diff(65535, 0), -1);
	assert_int_equal(rtp_seq_diff(2, 65534), 4);
	assert_int_equal(rtp_seq_diff(65534, 2), -4);
	assert_int_equal(rtp_seq_diff(100, 100), 0);
	assert_int_equal(rtp_seq_diff(32767, 0), 32767);
	assert_int_equal(rtp_seq_diff(32768, 0), -32768);
	assert_true(rtp_seq_after(0, 65535));
	assert_false(rtp_seq_after(65535, 0));
	assert_false(rtp_seq_after(5, 5));
	assert_true(rtp_seq_after(6, 5));
}

static void test_rtp_ts_diff_wraps(void **state)
{
	assert_int_equal(rtp_ts_diff(0, 0xFFFFFFFF), 1);
	assert_int_equal(rtp_ts_diff(0xFFFFFFFF, 0), -1);
	assert_int_equal(rtp_ts_diff(0x10, 0xFFFFFFF0), 0x20);
	assert_int_equal(rtp_ts_diff(0xFFFFFFF0, 0x10), -0x20);
	assert_int_equal(rtp_ts_diff(48000, 47952), 48);
	assert_int_equal(rtp_ts_diff(0x7FFFFFFF, 0), INT32_MAX);
	assert_int_equal(rtp_ts_diff(0x80000000, 0), INT32_MIN);
	assert_true(rtp_ts_after(0, 0xFFFFFFFF));
	assert_false(rtp_ts_after(0xFFFFFFFF, 0));
	assert_false(rtp_ts_after(7, 7));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_rtp_l24_packs_full_scale_to_exact_bytes),
	    cmocka_unit_test(test_rtp_l16_packs_full_scale_to_exact_bytes),
	    cmocka_unit_test(test_rtp_pack_drops_bits_below_the_format),
	    cmocka_unit_test(test_rtp_l24_round_trips_every_24_bit_step),
	    cmocka_unit_test(test_rtp_l16_round_trips_every_16_bit_step),
	    cmocka_unit_test(test_rtp_pack_keeps_interleaved_channel_order),
	    cmocka_unit_test(
		test_rtp_pack_unpack_bit_exact_at_every_length_and_offset),
	    cmocka_unit_test(test_rtp_pack_unpack_bit_exact_for_every_value),
	    cmocka_unit_test(test_rtp_bytes_per_sample_and_names),
	    cmocka_unit_test(test_rtp_encoding_parse_accepts_l24_l16_any_case),
	    cmocka_unit_test(test_rtp_encoding_parse_rejects_others),
	    cmocka_unit_test(test_rtp_header_encodes_exact_bytes),
	    cmocka_unit_test(test_rtp_header_round_trips),
	    cmocka_unit_test(test_rtp_header_encode_masks_pt_to_seven_bits),
	    cmocka_unit_test(test_rtp_decode_rejects_versions_other_than_2),
	    cmocka_unit_test(
		test_rtp_decode_rejects_packet_shorter_than_header),
	    cmocka_unit_test(test_rtp_decode_rejects_csrcs_beyond_length),
	    cmocka_unit_test(test_rtp_decode_rejects_extension_beyond_length),
	    cmocka_unit_test(test_rtp_decode_rejects_padding_beyond_payload),
	    cmocka_unit_test(test_rtp_decode_rejects_zero_padding_count),
	    cmocka_unit_test(test_rtp_decode_skips_csrcs_extension_and_padding),
	    cmocka_unit_test(test_rtp_decode_extension_of_zero_words),
	    cmocka_unit_test(test_rtp_decode_reads_nothing_past_len),
	    cmocka_unit_test(test_rtp_seq_diff_wraps),
	    cmocka_unit_test(test_rtp_ts_diff_wraps),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
