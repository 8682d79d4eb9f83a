/* RTP (RFC 3550) framing and AES67 sample packing (RFC 3190 L24, RFC 3551
 * L16). Inside d4 a sample is an int32_t with the audio in the top bits
 * (libsndfile's "int" view), so 16- and 24-bit audio move without scaling. */
#ifndef D4_NODE_RTP_H
#define D4_NODE_RTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RTP_HDR_LEN 12
/* IPv4 + UDP + RTP within a 1500-byte MTU leaves this for samples. */
#define RTP_MAX_PAYLOAD (1500 - 20 - 8 - RTP_HDR_LEN)

struct rtp_hdr {
	uint8_t pt;
	bool marker;
	uint16_t seq;
	uint32_t ts;
	uint32_t ssrc;
};

enum rtp_encoding {
	RTP_ENC_L16,
	RTP_ENC_L24,
};

static inline unsigned int rtp_bytes_per_sample(enum rtp_encoding enc)
{
	return enc == RTP_ENC_L24 ? 3 : 2;
}

const char *rtp_encoding_name(enum rtp_encoding enc);
/* "L24"/"L16" (any case) into @enc; 0 or -EINVAL. */
int rtp_encoding_parse(const char *s, enum rtp_encoding *enc);

/* Write a 12-byte header (V=2, no padding, extension or CSRC). */
void rtp_hdr_encode(const struct rtp_hdr *h, uint8_t *buf);

/* Read a header, skipping CSRCs and an extension, removing padding. On
 * success *payload and *payload_len describe the samples. -EINVAL when the
 * packet is not RTP version 2 or its lengths do not fit in @len. */
int rtp_hdr_decode(const uint8_t *buf, size_t len, struct rtp_hdr *h,
		   const uint8_t **payload, size_t *payload_len);

/* Wrap-safe comparisons: positive when @a is after @b. Valid while the two
 * are less than half the number space apart (32768 packets; 2^31 samples,
 * about 12 hours at 48 kHz). */
/* The timestamp of a packet rtp_hdr_decode() accepted. */
static inline uint32_t rtp_peek_ts(const uint8_t *buf)
{
	return (uint32_t)buf[4] << 24 | (uint32_t)buf[5] << 16 |
	       (uint32_t)buf[6] << 8 | buf[7];
}

static inline int16_t rtp_seq_diff(uint16_t a, uint16_t b)
{
	return (int16_t)(uint16_t)(a - b);
}

static inline int32_t rtp_ts_diff(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b);
}

static inline bool rtp_seq_after(uint16_t a, uint16_t b)
{
	return rtp_seq_diff(a, b) > 0;
}

static inline bool rtp_ts_after(uint32_t a, uint32_t b)
{
	return rtp_ts_diff(a, b) > 0;
}

/* Pack @frames frames of @channels interleaved samples into network-order
 * L16/L24: bytes [0, frames * channels * 2 or 3) of @out, nothing else.
 * @in and @out do not overlap. RT-safe. */
void rtp_pack(enum rtp_encoding enc, const int32_t *restrict in,
	      unsigned int channels, unsigned int frames,
	      uint8_t *restrict out);

/* The reverse: network-order samples to left-justified int32 (the bits
 * below the format zero); reads only the samples' bytes. RT-safe. */
void rtp_unpack(enum rtp_encoding enc, const uint8_t *restrict in,
		unsigned int channels, unsigned int frames,
		int32_t *restrict out);

#endif
