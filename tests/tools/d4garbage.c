/* d4garbage: send garbage UDP datagrams at a bounded rate, for the fault
 * lab (tests/lab/faults/garbage.sh). Exit 0 when every datagram was sent,
 * 1 when sends failed, 2 on usage errors.
 *
 *   d4garbage ADDR:PORT --rate N --seconds S [--mode random|lies]
 *             [--pt PT] [--frame-bytes B] [--seed K]
 *
 * random  random bytes, random length 0-1472; one in four starts with a
 *         well-formed RTP header (random payload type, SSRC, sequence,
 *         timestamp): what a confused device on the network sends.
 * lies    RTP built to be refused by a receiver of payload type PT with
 *         B-byte frames, each kind by one check, in turn:
 *           header  the header lies about its own length: too short, a
 *                   CSRC count or extension length past the end, padding
 *                   longer than the payload, a version other than 2;
 *           pt      a sound header and whole frames, another payload type;
 *           size    payload type PT, but a payload that is no whole number
 *                   of frames, empty (padding eats it), or a datagram too
 *                   large for the receiver's buffer.
 *         SSRCs and sequence numbers are random in every kind.
 *
 * At the end one line: "sent=N seconds=S rate=R skipped=N random=N rtp=N
 * header=N pt=N size=N errors=N" (counts by kind; random and rtp in
 * random mode; skipped: datagrams a stall made it give up on).
 * The rate is kept per millisecond; after a stall the backlog is dropped,
 * never sent as a burst. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_DGRAM     3000 /* "size" lies go past the receiver's 2048 */
#define MAX_RANDOM    1472 /* one Ethernet frame */
#define RTP_HDR	      12
#define TICK_NS	      1000000LL
#define MAX_BACKLOG   10 /* ticks kept after a stall */
#define NSEC_PER_SEC  1000000000LL

enum kind { K_RANDOM, K_RTP, K_HEADER, K_PT, K_SIZE, K_COUNT };

static const char *const kind_name[K_COUNT] = {
    "random", "rtp", "header", "pt", "size",
};

struct opts {
	struct sockaddr_in dst;
	long long rate;
	double seconds;
	bool lies;
	unsigned int pt;
	unsigned int frame_bytes;
	uint64_t seed;
};

struct gen {
	uint64_t rng;
	unsigned int pt, frame_bytes;
	unsigned long long n; /* datagrams made so far */
};

static uint64_t rnd(struct gen *g)
{
	uint64_t x = g->rng;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	g->rng = x;
	return x * 0x2545f4914f6cdd1dULL;
}

static unsigned int rnd_below(struct gen *g, unsigned int n)
{
	return (unsigned int)(rnd(g) % n);
}

static void rnd_fill(struct gen *g, uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)rnd(g);
}

/* A well-formed 12-byte header: version 2, no padding, extension or
 * CSRCs, random sequence, timestamp and SSRC. */
static void rtp_header(struct gen *g, uint8_t *p, unsigned int pt)
{
	rnd_fill(g, p, RTP_HDR);
	p[0] = 0x80;
	p[1] = (uint8_t)(pt & 0x7f);
}

/* A payload type other than the receiver's. */
static unsigned int other_pt(struct gen *g)
{
	unsigned int pt = rnd_below(g, 127);

	return pt >= g->pt ? pt + 1 : pt;
}

static size_t make_random(struct gen *g, uint8_t *p, enum kind *k)
{
	size_t len = rnd_below(g, MAX_RANDOM + 1);

	rnd_fill(g, p, len);
	*k = K_RANDOM;
	if (len >= RTP_HDR && rnd_below(g, 4) == 0) {
		rtp_header(g, p, rnd_below(g, 128));
		*k = K_RTP;
	}
	return len;
}

/* Each variant must fail the header decode of node/rtp.c. */
static size_t make_header_lie(struct gen *g, uint8_t *p)
{
	static const unsigned int bad_version[] = {0, 1, 3};
	size_t len = RTP_HDR + 48 * g->frame_bytes, plen;

	rnd_fill(g, p, len);
	rtp_header(g, p, g->pt);
	switch (rnd_below(g, 5)) {
	case 0: /* shorter than a header */
		return rnd_below(g, RTP_HDR);
	case 1: /* 15 CSRCs in a datagram without room for them */
		p[0] |= 0x0f;
		return RTP_HDR + rnd_below(g, 60);
	case 2: /* an extension longer than the datagram */
		p[0] |= 0x10;
		p[RTP_HDR + 2] = 0xff;
		p[RTP_HDR + 3] = 0xff;
		return len;
	case 3: /* padding of 0, or longer than the payload */
		plen = 1 + rnd_below(g, 200);
		len = RTP_HDR + plen;
		p[0] |= 0x20;
		p[len - 1] = rnd_below(g, 2) ? 0 : (uint8_t)(plen + 1 +
			     rnd_below(g, 255 - (unsigned int)plen));
		return len;
	default: /* version 0, 1 or 3 */
		p[0] = (uint8_t)((p[0] & 0x3f) |
				 bad_version[rnd_below(g, 3)] << 6);
		return len;
	}
}

static size_t make_pt_lie(struct gen *g, uint8_t *p)
{
	size_t len = RTP_HDR + (1 + rnd_below(g, 96)) * g->frame_bytes;

	rnd_fill(g, p, len);
	rtp_header(g, p, other_pt(g));
	return len;
}

static size_t make_size_lie(struct gen *g, uint8_t *p)
{
	size_t len;

	switch (rnd_below(g, 3)) {
	case 0: /* not whole frames */
		len = RTP_HDR + rnd_below(g, 200) * g->frame_bytes + 1 +
		      rnd_below(g, g->frame_bytes - 1);
		break;
	case 1: /* whole frames, but padding takes them all */
		len = RTP_HDR + g->frame_bytes * (1 + rnd_below(g, 40));
		rnd_fill(g, p, len);
		rtp_header(g, p, g->pt);
		p[0] |= 0x20;
		p[len - 1] = (uint8_t)(len - RTP_HDR);
		return len;
	default: /* larger than any receive buffer of a 1500-byte network */
		len = MAX_DGRAM - (MAX_DGRAM - RTP_HDR) % g->frame_bytes;
		break;
	}
	rnd_fill(g, p, len);
	rtp_header(g, p, g->pt);
	return len;
}

static size_t make_lie(struct gen *g, uint8_t *p, enum kind *k)
{
	*k = (enum kind)(K_HEADER + g->n % 3);
	switch (*k) {
	case K_HEADER:
		return make_header_lie(g, p);
	case K_PT:
		return make_pt_lie(g, p);
	default:
		return make_size_lie(g, p);
	}
}

static int parse_endpoint(const char *s, struct sockaddr_in *sa)
{
	char host[64];
	const char *colon = strrchr(s, ':');
	char *end;
	long port;

	if (!colon || (size_t)(colon - s) >= sizeof(host))
		return -EINVAL;
	memcpy(host, s, (size_t)(colon - s));
	host[colon - s] = '\0';
	port = strtol(colon + 1, &end, 10);
	if (*end || end == colon + 1 || port < 1 || port > 65535)
		return -EINVAL;
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_port = htons((uint16_t)port);
	return inet_pton(AF_INET, host, &sa->sin_addr) == 1 ? 0 : -EINVAL;
}

static int parse_num(const char *name, const char *s, long long min,
		     long long max, long long *out)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 0);
	if (errno || end == s || *end || v < min || v > max) {
		fprintf(stderr, "d4garbage: %s: bad value '%s' (%lld..%lld)\n",
			name, s, min, max);
		return -EINVAL;
	}
	*out = v;
	return 0;
}

static int usage(void)
{
	fprintf(stderr, "usage: d4garbage ADDR:PORT --rate N --seconds S "
			"[--mode random|lies] [--pt PT] [--frame-bytes B] "
			"[--seed K]\n");
	return 2;
}

static int parse_opts(int argc, char *argv[], struct opts *o)
{
	long long v;
	char *end;
	bool have_dst = false;

	*o = (struct opts){.rate = 0, .seconds = 0, .pt = 98,
			   .frame_bytes = 6, .seed = 1};
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;

		if (strncmp(a, "--", 2)) {
			if (have_dst || parse_endpoint(a, &o->dst)) {
				fprintf(stderr, "d4garbage: bad destination "
						"'%s' (want ADDR:PORT)\n", a);
				return -EINVAL;
			}
			have_dst = true;
			continue;
		}
		if (!val) {
			fprintf(stderr, "d4garbage: %s needs a value\n", a);
			return -EINVAL;
		}
		i++;
		if (!strcmp(a, "--rate")) {
			if (parse_num(a, val, 1, 1000000, &o->rate))
				return -EINVAL;
		} else if (!strcmp(a, "--seconds")) {
			o->seconds = strtod(val, &end);
			if (*end || end == val || !(o->seconds > 0) ||
			    o->seconds > 3600) {
				fprintf(stderr, "d4garbage: --seconds: bad "
						"value '%s'\n", val);
				return -EINVAL;
			}
		} else if (!strcmp(a, "--mode")) {
			if (strcmp(val, "random") && strcmp(val, "lies")) {
				fprintf(stderr, "d4garbage: --mode: '%s' "
						"(want random|lies)\n", val);
				return -EINVAL;
			}
			o->lies = !strcmp(val, "lies");
		} else if (!strcmp(a, "--pt")) {
			if (parse_num(a, val, 0, 127, &v))
				return -EINVAL;
			o->pt = (unsigned int)v;
		} else if (!strcmp(a, "--frame-bytes")) {
			if (parse_num(a, val, 2, 256, &v))
				return -EINVAL;
			o->frame_bytes = (unsigned int)v;
		} else if (!strcmp(a, "--seed")) {
			if (parse_num(a, val, 0, INT64_MAX, &v))
				return -EINVAL;
			o->seed = (uint64_t)v;
		} else {
			fprintf(stderr, "d4garbage: unknown option '%s'\n", a);
			return -EINVAL;
		}
	}
	if (!have_dst || !o->rate || !(o->seconds > 0))
		return -EINVAL;
	return 0;
}

static long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * NSEC_PER_SEC + ts.tv_nsec;
}

static int open_socket(void)
{
	int fd = socket(AF_INET, SOCK_DGRAM, 0), ttl = 1;

	if (fd < 0) {
		perror("d4garbage: socket");
		return -1;
	}
	/* Multicast garbage stays on the lab's link. */
	setsockopt(fd, IPPROTO_IP, IP_MULTICAST_TTL, &ttl, sizeof(ttl));
	return fd;
}

/* Datagrams due by @t, at most MAX_BACKLOG ticks' worth ahead of @made:
 * after a stall the rest is skipped for good (*skipped). */
static long long due_at(const struct opts *o, long long start, long long t,
			long long made, long long *skipped)
{
	long long cap = o->rate * MAX_BACKLOG * TICK_NS / NSEC_PER_SEC + 1;
	long long due = (t - start) * o->rate / NSEC_PER_SEC + 1 - *skipped;

	if (due - made > cap) {
		*skipped += due - made - cap;
		due = made + cap;
	}
	return due;
}

int main(int argc, char *argv[])
{
	static uint8_t buf[MAX_DGRAM];
	unsigned long long count[K_COUNT] = {0}, sent = 0, errors = 0;
	long long start, end, next, made = 0, skipped = 0;
	struct opts o;
	struct gen g;
	double secs;
	int fd;

	if (parse_opts(argc, argv, &o))
		return usage();
	g = (struct gen){.rng = o.seed * 0x9e3779b97f4a7c15ULL | 1,
			 .pt = o.pt, .frame_bytes = o.frame_bytes};
	fd = open_socket();
	if (fd < 0)
		return 2;
	start = now_ns();
	end = start + (long long)(o.seconds * NSEC_PER_SEC);
	for (next = start;; next += TICK_NS) {
		long long t = now_ns(), due;
		struct timespec ts;

		if (t >= end)
			break;
		due = due_at(&o, start, t, made, &skipped);
		for (; made < due; made++) {
			enum kind k;
			size_t len = o.lies ? make_lie(&g, buf, &k)
					    : make_random(&g, buf, &k);

			g.n++;
			if (sendto(fd, buf, len, 0, (struct sockaddr *)&o.dst,
				   sizeof(o.dst)) != (ssize_t)len) {
				if (!errors++)
					perror("d4garbage: sendto");
				continue;
			}
			count[k]++;
			sent++;
		}
		if (next < t - TICK_NS)
			next = t;
		ts.tv_sec = (time_t)((next + TICK_NS) / NSEC_PER_SEC);
		ts.tv_nsec = (long)((next + TICK_NS) % NSEC_PER_SEC);
		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
	}
	secs = (double)(now_ns() - start) / NSEC_PER_SEC;
	printf("sent=%llu seconds=%.2f rate=%.0f skipped=%lld", sent, secs,
	       (double)sent / secs, skipped);
	for (int k = 0; k < K_COUNT; k++)
		printf(" %s=%llu", kind_name[k], count[k]);
	printf(" errors=%llu\n", errors);
	close(fd);
	return errors ? 1 : 0;
}
