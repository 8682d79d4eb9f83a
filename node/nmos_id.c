/* NMOS identifiers and TAI times (see nmos_id.h). SHA-1 is here for
 * version 5 UUIDs only: ids, not security. */
#include "node/nmos_id.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define ROL(x, n) (((x) << (n)) | ((x) >> (32 - (n))))

static void sha1_block(uint32_t h[5], const uint8_t *p)
{
	uint32_t w[80], a, b, c, d, e, f, k, t;
	unsigned int i;

	for (i = 0; i < 16; i++)
		w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
		       (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
	for (; i < 80; i++)
		w[i] = ROL(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
	a = h[0];
	b = h[1];
	c = h[2];
	d = h[3];
	e = h[4];
	for (i = 0; i < 80; i++) {
		if (i < 20) {
			f = (b & c) | (~b & d);
			k = 0x5a827999;
		} else if (i < 40) {
			f = b ^ c ^ d;
			k = 0x6ed9eba1;
		} else if (i < 60) {
			f = (b & c) | (b & d) | (c & d);
			k = 0x8f1bbcdc;
		} else {
			f = b ^ c ^ d;
			k = 0xca62c1d6;
		}
		t = ROL(a, 5) + f + e + k + w[i];
		e = d;
		d = c;
		c = ROL(b, 30);
		b = a;
		a = t;
	}
	h[0] += a;
	h[1] += b;
	h[2] += c;
	h[3] += d;
	h[4] += e;
}

void nmos_sha1(const void *data, size_t len, uint8_t out[20])
{
	uint32_t h[5] = {0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476,
			 0xc3d2e1f0};
	const uint8_t *p = data;
	uint64_t bits = (uint64_t)len * 8;
	uint8_t last[128];
	size_t rest, n, i;

	for (; len >= 64; len -= 64, p += 64)
		sha1_block(h, p);
	/* The tail, 0x80, zeros and the length in bits: one or two blocks. */
	rest = len;
	memset(last, 0, sizeof(last));
	memcpy(last, p, rest);
	last[rest] = 0x80;
	n = rest + 1 + 8 <= 64 ? 64 : 128;
	for (i = 0; i < 8; i++)
		last[n - 1 - i] = (uint8_t)(bits >> (8 * i));
	sha1_block(h, last);
	if (n == 128)
		sha1_block(h, last + 64);
	for (i = 0; i < 5; i++) {
		out[4 * i] = (uint8_t)(h[i] >> 24);
		out[4 * i + 1] = (uint8_t)(h[i] >> 16);
		out[4 * i + 2] = (uint8_t)(h[i] >> 8);
		out[4 * i + 3] = (uint8_t)h[i];
	}
}

static void uuid_format(const uint8_t u[16], char out[NMOS_UUID_LEN])
{
	snprintf(out, NMOS_UUID_LEN,
		 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
		 "%02x%02x%02x%02x%02x%02x",
		 u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9],
		 u[10], u[11], u[12], u[13], u[14], u[15]);
}

void nmos_uuid5(const uint8_t ns[16], const char *name, char out[NMOS_UUID_LEN])
{
	uint8_t buf[16 + 512], md[20];
	size_t n = strlen(name);

	if (n > sizeof(buf) - 16)
		n = sizeof(buf) - 16; /* names are short: never cut */
	memcpy(buf, ns, 16);
	memcpy(buf + 16, name, n);
	nmos_sha1(buf, 16 + n, md);
	md[6] = (uint8_t)((md[6] & 0x0f) | 0x50); /* version 5 */
	md[8] = (uint8_t)((md[8] & 0x3f) | 0x80); /* RFC 4122 variant */
	uuid_format(md, out);
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int nmos_uuid_parse(const char *s, uint8_t u[16])
{
	unsigned int i, k = 0;

	if (strlen(s) != 36)
		return -EINVAL;
	for (i = 0; i < 36; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return -EINVAL;
			continue;
		}
		if (hexval(s[i]) < 0 || hexval(s[i + 1]) < 0)
			return -EINVAL;
		u[k++] = (uint8_t)(hexval(s[i]) << 4 | hexval(s[i + 1]));
		i++;
	}
	return 0;
}

int nmos_uuid5_str(const char *ns, const char *name, char out[NMOS_UUID_LEN])
{
	uint8_t u[16];

	if (nmos_uuid_parse(ns, u) < 0)
		return -EINVAL;
	nmos_uuid5(u, name, out);
	return 0;
}

bool nmos_uuid_ok(const char *s)
{
	uint8_t u[16];
	const char *c;

	if (!s || nmos_uuid_parse(s, u) < 0)
		return false;
	for (c = s; *c; c++)
		if (*c >= 'A' && *c <= 'F')
			return false;
	return (u[6] >> 4) >= 1 && (u[6] >> 4) <= 5 && (u[8] & 0xc0) == 0x80;
}

void nmos_tai_str(uint64_t ns, char out[NMOS_TAI_LEN])
{
	snprintf(out, NMOS_TAI_LEN, "%llu:%llu",
		 (unsigned long long)(ns / 1000000000ull),
		 (unsigned long long)(ns % 1000000000ull));
}

int nmos_tai_parse(const char *s, uint64_t *ns)
{
	unsigned long long sec = 0, sub = 0;
	const char *p = s;
	unsigned int digits = 0;

	if (!s || *p < '0' || *p > '9')
		return -EINVAL;
	for (; *p >= '0' && *p <= '9'; p++, digits++) {
		if (digits >= 11) /* checked below: a 64-bit count */
			return -EINVAL;
		sec = sec * 10 + (unsigned long long)(*p - '0');
	}
	if (*p++ != ':' || *p < '0' || *p > '9')
		return -EINVAL;
	for (digits = 0; *p >= '0' && *p <= '9'; p++, digits++) {
		if (digits >= 9)
			return -EINVAL;
		sub = sub * 10 + (unsigned long long)(*p - '0');
	}
	/* nanoseconds in 64 bits: up to 18446744072 s (the year 2554); a
	 * later time wrapped into one long past, and an activation
	 * scheduled for it ran at once (an attacker's PATCH) */
	if (*p || sec > (UINT64_MAX - 999999999ull) / 1000000000ull)
		return -EINVAL;
	*ns = sec * 1000000000ull + sub;
	return 0;
}
