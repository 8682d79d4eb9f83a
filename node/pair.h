/* Pairing codes: how an operator's d4ctl gets a node's token without
 * copying files (`d4ctl login NODE`, docs/api.md "Pairing"). The node
 * shows a one-time code in its log; whoever reads that log (the node's
 * operator) types it into d4ctl, which trades it over the API for the
 * token. A code is 8 digits, lives 5 minutes, is used once, and dies after
 * 3 wrong tries; a new code comes at most every 30 s. A guesser thus gets
 * 3 tries per 30 s at 1 in 10^8 each: about 1 in 10^4 a day.
 *
 * Pure logic with time and randomness passed in (tests drive it). */
#ifndef D4_NODE_PAIR_H
#define D4_NODE_PAIR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PAIR_TTL_NS	  (300ull * 1000000000ull)
#define PAIR_INTERVAL_NS  (30ull * 1000000000ull)
#define PAIR_MAX_FAILURES 3
#define PAIR_CODE_DIGITS  8

struct pair {
	char code[PAIR_CODE_DIGITS + 1]; /* "" when none is open */
	uint64_t issued_ns;		 /* of the open or last code */
	bool issued;			 /* a code was ever issued */
	unsigned int failures;		 /* wrong tries at the open code */
};

/* Open a code at @now_ns (monotonic) from @rnd (random bits): 1 and a new
 * code, 0 when one is open already (kept), or -EAGAIN (the last code
 * came less than PAIR_INTERVAL_NS ago; *@wait_s says how long to wait).
 * The open code is in @p->code, shown as pair_format() writes it. */
int pair_open(struct pair *p, uint64_t now_ns, uint64_t rnd,
	      unsigned int *wait_s);
/* Try @text ("1234-5678"; spaces and dashes ignored) at @now_ns: 0 (the
 * code is used up now), -EACCES (wrong: *@left tries remain, 0 ended the
 * code) or -ENOENT (no open code, or it expired). */
int pair_redeem(struct pair *p, uint64_t now_ns, const char *text,
		unsigned int *left);
/* Seconds the open code has left (0: none). */
unsigned int pair_expires_s(const struct pair *p, uint64_t now_ns);
/* "1234-5678" for the log. */
void pair_format(const struct pair *p, char *buf, size_t len);

#endif
