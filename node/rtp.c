/* RTP header codec and L16/L24 packers. */
#include "node/rtp.h"
#include "common/simd.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <string.h>
#if D4_HAVE_SSSE3
#include <immintrin.h>
#endif
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

/* Samples move in blocks of RTP_BLOCK: a loop whose count is a known
 * multiple of the vector width is one gcc -O2 vectorises (its default
 * "very cheap" cost model refuses a loop that would need a scalar
 * epilogue); the rest of a buffer goes one sample at a time. What gcc
 * 12 makes of the blocks (gcc -O2 -fopt-info-vec):
 *   L16, both ways: SSE2 on x86-64, NEON on AArch64;
 *   L24: NEON's three-way structure loads and stores (ld3/st3, about a
 *   cycle a sample). SSE2, x86-64's baseline, has no byte shuffle: its
 *   vectorised L24 blocks cost 1.4 times the plain loop (callgrind). So
 *   on x86-64 L24 takes AVX2's or SSSE3's byte shuffle where the CPU has
 *   one (common/simd.h; 8 or 4 samples a shuffle), and otherwise, and for
 *   the last samples, moves each sample with one 4-byte load or store in
 *   network order, overlapping the next sample's first byte (the buffer's
 *   last sample by bytes, so nothing outside it is touched): 2.9 times
 *   fewer instructions than three byte stores. */
#define RTP_BLOCK 16
#ifdef __ARM_NEON
#define L24_BLOCKS true
#else
#define L24_BLOCKS false
#endif

static inline void l24_put(uint8_t *out, uint32_t s)
{
	out[0] = (uint8_t)(s >> 24);
	out[1] = (uint8_t)(s >> 16);
	out[2] = (uint8_t)(s >> 8);
}

static inline uint32_t l24_get(const uint8_t *in)
{
	return (uint32_t)in[0] << 24 | (uint32_t)in[1] << 16 |
	       (uint32_t)in[2] << 8;
}

/* The sample's three bytes and the next sample's first, which the
 * next store overwrites. */
static inline void l24_put4(uint8_t *out, uint32_t s)
{
	uint32_t be = htonl(s);

	memcpy(out, &be, 4);
}

/* Reads one byte past the sample: only while another follows. */
static inline uint32_t l24_get4(const uint8_t *in)
{
	uint32_t be;

	memcpy(&be, in, 4);
	return ntohl(be) & 0xffffff00u;
}

#if D4_HAVE_SSSE3
/* AVX2: 8 samples a shuffle (within each 128-bit half) and a move of the
 * halves' 12 bytes together; 32 bytes stored, so a block runs while they
 * fit the buffer. */
D4_TARGET_AVX2 static size_t l24_pack_avx2(const int32_t *restrict in,
					   size_t n, uint8_t *restrict out)
{
	const __m256i pick = _mm256_setr_epi8(
	    3, 2, 1, 7, 6, 5, 11, 10, 9, 15, 14, 13, -1, -1, -1, -1, 3, 2, 1,
	    7, 6, 5, 11, 10, 9, 15, 14, 13, -1, -1, -1, -1);
	const __m256i join = _mm256_setr_epi32(0, 1, 2, 4, 5, 6, 3, 7);
	size_t i;

	for (i = 0; i + 11 <= n; i += 8) {
		__m256i v = _mm256_loadu_si256((const __m256i *)(in + i));

		v = _mm256_permutevar8x32_epi32(_mm256_shuffle_epi8(v, pick),
						join);
		_mm256_storeu_si256((__m256i *)(out + 3 * i), v);
	}
	return i;
}

/* The other way: 32 bytes read (a block runs while they are in the
 * buffer), each half's 12 to its own 128 bits, then shuffled. */
D4_TARGET_AVX2 static size_t l24_unpack_avx2(const uint8_t *restrict in,
					     size_t n, int32_t *restrict out)
{
	const __m256i split = _mm256_setr_epi32(0, 1, 2, 0, 3, 4, 5, 0);
	const __m256i pick = _mm256_setr_epi8(
	    -1, 2, 1, 0, -1, 5, 4, 3, -1, 8, 7, 6, -1, 11, 10, 9, -1, 2, 1, 0,
	    -1, 5, 4, 3, -1, 8, 7, 6, -1, 11, 10, 9);
	size_t i;

	for (i = 0; i + 11 <= n; i += 8) {
		__m256i v = _mm256_loadu_si256((const __m256i *)(in + 3 * i));

		v = _mm256_shuffle_epi8(_mm256_permutevar8x32_epi32(v, split),
					pick);
		_mm256_storeu_si256((__m256i *)(out + i), v);
	}
	return i;
}

/* SSSE3, where the CPU has it (every x86-64 CPU since 2006 save a few
 * early AMD ones): one byte shuffle takes 4 samples to their 12 bytes in
 * network order (16 stored, the last 4 overwritten by the next block's,
 * so a block runs only while 16 bytes fit the buffer). */
D4_TARGET_SSSE3 static size_t l24_pack_ssse3(const int32_t *restrict in,
					     size_t i, size_t n,
					     uint8_t *restrict out)
{
	const __m128i pick = _mm_setr_epi8(3, 2, 1, 7, 6, 5, 11, 10, 9, 15,
					   14, 13, -1, -1, -1, -1);

	for (; i + 6 <= n; i += 4) {
		__m128i v = _mm_loadu_si128((const __m128i *)(in + i));

		_mm_storeu_si128((__m128i *)(out + 3 * i),
				 _mm_shuffle_epi8(v, pick));
	}
	return i;
}

/* The other way: 16 bytes read (4 past the 4 samples' 12: the block runs
 * only while they are in the buffer), each sample's bytes to the top of
 * its 32 bits. */
D4_TARGET_SSSE3 static size_t l24_unpack_ssse3(const uint8_t *restrict in,
					       size_t i, size_t n,
					       int32_t *restrict out)
{
	const __m128i pick = _mm_setr_epi8(-1, 2, 1, 0, -1, 5, 4, 3, -1, 8,
					   7, 6, -1, 11, 10, 9);

	for (; i + 6 <= n; i += 4) {
		__m128i v = _mm_loadu_si128((const __m128i *)(in + 3 * i));

		_mm_storeu_si128((__m128i *)(out + i),
				 _mm_shuffle_epi8(v, pick));
	}
	return i;
}
#endif

static void l24_pack(const int32_t *restrict in, size_t n,
		     uint8_t *restrict out)
{
	size_t i = 0, k;

#if D4_HAVE_SSSE3
	if (d4_cpu_avx2())
		i = l24_pack_avx2(in, n, out);
	if (d4_cpu_ssse3())
		i = l24_pack_ssse3(in, i, n, out);
#endif
	if (L24_BLOCKS) {
		for (; i + RTP_BLOCK <= n; i += RTP_BLOCK)
			for (k = 0; k < RTP_BLOCK; k++)
				l24_put(out + 3 * (i + k), (uint32_t)in[i + k]);
	} else {
		for (; i + 4 < n; i += 4) {
			l24_put4(out + 3 * i, (uint32_t)in[i]);
			l24_put4(out + 3 * i + 3, (uint32_t)in[i + 1]);
			l24_put4(out + 3 * i + 6, (uint32_t)in[i + 2]);
			l24_put4(out + 3 * i + 9, (uint32_t)in[i + 3]);
		}
	}
	for (; i < n; i++)
		l24_put(out + 3 * i, (uint32_t)in[i]);
}

static void l24_unpack(const uint8_t *restrict in, size_t n,
		       int32_t *restrict out)
{
	size_t i = 0, k;

#if D4_HAVE_SSSE3
	if (d4_cpu_avx2())
		i = l24_unpack_avx2(in, n, out);
	if (d4_cpu_ssse3())
		i = l24_unpack_ssse3(in, i, n, out);
#endif
	if (L24_BLOCKS) {
		for (; i + RTP_BLOCK <= n; i += RTP_BLOCK)
			for (k = 0; k < RTP_BLOCK; k++)
				out[i + k] = (int32_t)l24_get(in + 3 * (i + k));
	} else {
		for (; i + 4 < n; i += 4) {
			out[i] = (int32_t)l24_get4(in + 3 * i);
			out[i + 1] = (int32_t)l24_get4(in + 3 * i + 3);
			out[i + 2] = (int32_t)l24_get4(in + 3 * i + 6);
			out[i + 3] = (int32_t)l24_get4(in + 3 * i + 9);
		}
	}
	for (; i < n; i++)
		out[i] = (int32_t)l24_get(in + 3 * i);
}

static inline void l16_put(uint8_t *out, uint32_t s)
{
	out[0] = (uint8_t)(s >> 24);
	out[1] = (uint8_t)(s >> 16);
}

static inline uint32_t l16_get(const uint8_t *in)
{
	return (uint32_t)in[0] << 24 | (uint32_t)in[1] << 16;
}

static void l16_pack(const int32_t *restrict in, size_t n,
		     uint8_t *restrict out)
{
	size_t i = 0, k;

	for (; i + RTP_BLOCK <= n; i += RTP_BLOCK)
		for (k = 0; k < RTP_BLOCK; k++)
			l16_put(out + 2 * (i + k), (uint32_t)in[i + k]);
	for (; i < n; i++)
		l16_put(out + 2 * i, (uint32_t)in[i]);
}

static void l16_unpack(const uint8_t *restrict in, size_t n,
		       int32_t *restrict out)
{
	size_t i = 0, k;

	for (; i + RTP_BLOCK <= n; i += RTP_BLOCK)
		for (k = 0; k < RTP_BLOCK; k++)
			out[i + k] = (int32_t)l16_get(in + 2 * (i + k));
	for (; i < n; i++)
		out[i] = (int32_t)l16_get(in + 2 * i);
}

void rtp_pack(enum rtp_encoding enc, const int32_t *restrict in,
	      unsigned int channels, unsigned int frames, uint8_t *restrict out)
{
	size_t n = (size_t)channels * frames;

	if (enc == RTP_ENC_L24)
		l24_pack(in, n, out);
	else
		l16_pack(in, n, out);
}

void rtp_unpack(enum rtp_encoding enc, const uint8_t *restrict in,
		unsigned int channels, unsigned int frames,
		int32_t *restrict out)
{
	size_t n = (size_t)channels * frames;

	if (enc == RTP_ENC_L24)
		l24_unpack(in, n, out);
	else
		l16_unpack(in, n, out);
}
