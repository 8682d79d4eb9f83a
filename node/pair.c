/* Pairing codes (pair.h): open, redeem, expire. */
#include "node/pair.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static void expire(struct pair *p, uint64_t now_ns)
{
	if (p->code[0] && now_ns - p->issued_ns >= PAIR_TTL_NS)
		p->code[0] = '\0';
}

int pair_open(struct pair *p, uint64_t now_ns, uint64_t rnd,
	      unsigned int *wait_s)
{
	uint64_t since;

	expire(p, now_ns);
	if (p->code[0])
		return 0;
	since = now_ns - p->issued_ns;
	if (p->issued && since < PAIR_INTERVAL_NS) {
		*wait_s =
		    (unsigned int)((PAIR_INTERVAL_NS - since + 999999999ull) /
				   1000000000ull);
		return -EAGAIN;
	}
	/* 2^64 mod 10^8 / 2^64: a bias under 1e-11 */
	snprintf(p->code, sizeof(p->code), "%0*llu", PAIR_CODE_DIGITS,
		 (unsigned long long)(rnd % 100000000ull));
	p->issued_ns = now_ns;
	p->issued = true;
	p->failures = 0;
	return 1;
}

int pair_redeem(struct pair *p, uint64_t now_ns, const char *text,
		unsigned int *left)
{
	char digits[PAIR_CODE_DIGITS + 1];
	unsigned char diff = 0;
	size_t n = 0, i;

	expire(p, now_ns);
	*left = 0;
	if (!p->code[0])
		return -ENOENT;
	for (; *text; text++) {
		if (*text == ' ' || *text == '-')
			continue;
		if (n == PAIR_CODE_DIGITS) {
			n++; /* too long: wrong */
			break;
		}
		digits[n++] = *text;
	}
	/* constant time over the digits: no early exit on the first miss */
	for (i = 0; i < PAIR_CODE_DIGITS; i++)
		diff |= (unsigned char)((i < n ? digits[i] : 0) ^ p->code[i]);
	if (n == PAIR_CODE_DIGITS && !diff) {
		p->code[0] = '\0';
		return 0;
	}
	if (++p->failures >= PAIR_MAX_FAILURES)
		p->code[0] = '\0';
	else
		*left = PAIR_MAX_FAILURES - p->failures;
	return -EACCES;
}

unsigned int pair_expires_s(const struct pair *p, uint64_t now_ns)
{
	uint64_t age = now_ns - p->issued_ns;

	if (!p->code[0] || age >= PAIR_TTL_NS)
		return 0;
	return (unsigned int)((PAIR_TTL_NS - age) / 1000000000ull);
}

void pair_format(const struct pair *p, char *buf, size_t len)
{
	snprintf(buf, len, "%.4s-%.4s", p->code, p->code + 4);
}
