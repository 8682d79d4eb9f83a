/* RTP header codec and L16/L24 packers. */
#include "node/rtp.h"

#include <errno.h>
#include <strings.h>

const char *rtp_encoding_name(enum rtp_encoding enc)
{
	return enc == RTP_ENC_L24 ? "L24" : "L16";
}

int rtp_encoding_parse(const char *s, enum rtp_encoding *enc)
{
	if (!strcasecmp(s, "L24"))
		*enc = RTP_ENC_L24;
	else if (!strcasecmp(s, "L16"))
		*enc = RTP_ENC_L16;
	else
		return -EINVAL;
	return 0;
}

void rtp_hdr_encode(const struct rtp_hdr *h, uint8_t *buf)
{
	buf[0] = 0x80;
	buf[1] = (uint8_t)((h->marker ? 0x80 : 0) | (h->pt & 0x7f));
	buf[2] = (uint8_t)(h->seq >> 8);
	buf[3] = (uint8_t)h->seq;
	buf[4] = (uint8_t)(h->ts >> 24);
	buf[5] = (uint8_t)(h->ts >> 16);
	buf[6] = (uint8_t)(h->ts >> 8);
	buf[7] = (uint8_t)h->ts;
	buf[8] = (uint8_t)(h->ssrc >> 24);
	buf[9] = (uint8_t)(h->ssrc >> 16);
	buf[10] = (uint8_t)(h->ssrc >> 8);
	buf[11] = (uint8_t)h->ssrc;
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

int rtp_hdr_decode(const uint8_t *buf, size_t len, struct rtp_hdr *h,
		   const uint8_t **payload, size_t *payload_len)
{
	size_t off, end = len;

	if (len < RTP_HDR_LEN || (buf[0] & 0xc0) != 0x80)
		return -EINVAL;
	off = RTP_HDR_LEN + 4u * (buf[0] & 0x0f);
	if (off > len)
		return -EINVAL;
	if (buf[0] & 0x10) {
		size_t ext_words;

		if (off + 4 > len)
			return -EINVAL;
		ext_words = (size_t)buf[off + 2] << 8 | buf[off + 3];
		off += 4 + 4 * ext_words;
		if (off > len)
			return -EINVAL;
	}
	if (buf[0] & 0x20) {
		uint8_t pad = buf[len - 1];

		if (pad == 0 || pad > len - off)
			return -EINVAL;
		end = len - pad;
	}
	h->marker = buf[1] & 0x80;
	h->pt = buf[1] & 0x7f;
	h->seq = (uint16_t)(buf[2] << 8 | buf[3]);
	h->ts = be32(buf + 4);
	h->ssrc = be32(buf + 8);
	*payload = buf + off;
	*payload_len = end - off;
	return 0;
}

void rtp_pack(enum rtp_encoding enc, const int32_t *in, unsigned int channels,
	      unsigned int frames, uint8_t *out)
{
	size_t i, n = (size_t)channels * frames;

	if (enc == RTP_ENC_L24) {
		for (i = 0; i < n; i++) {
			uint32_t s = (uint32_t)in[i];

			*out++ = (uint8_t)(s >> 24);
			*out++ = (uint8_t)(s >> 16);
			*out++ = (uint8_t)(s >> 8);
		}
	} else {
		for (i = 0; i < n; i++) {
			uint32_t s = (uint32_t)in[i];

			*out++ = (uint8_t)(s >> 24);
			*out++ = (uint8_t)(s >> 16);
		}
	}
}

void rtp_unpack(enum rtp_encoding enc, const uint8_t *in, unsigned int channels,
		unsigned int frames, int32_t *out)
{
	size_t i, n = (size_t)channels * frames;

	if (enc == RTP_ENC_L24) {
		for (i = 0; i < n; i++, in += 3)
			out[i] = (int32_t)((uint32_t)in[0] << 24 |
					   (uint32_t)in[1] << 16 |
					   (uint32_t)in[2] << 8);
	} else {
		for (i = 0; i < n; i++, in += 2)
			out[i] = (int32_t)((uint32_t)in[0] << 24 |
					   (uint32_t)in[1] << 16);
	}
}
