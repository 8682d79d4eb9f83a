/* d4sapflood: announce many distinct fake AES67 sessions by SAP at a
 * bounded rate, each once, for the fault lab (tests/lab/faults/sap_flood.sh).
 *
 *   d4sapflood [--count N] [--rate PER_S] [--group ADDR:PORT] [--first I]
 *   d4sapflood --table-bytes CAP
 *
 * Session i (from --first, default 0) has SAP origin 198.18.0.0 + i
 * (RFC 2544 benchmark space), o= session id 1000000 + i, the msg id hash
 * sap_msg_hash() gives for it, s= "flood i", and a valid 2-channel L24
 * SDP for group 239.(100 + i / 65536 % 100).(i / 256 % 256).(i % 256).
 * Packets leave every millisecond in batches of rate / 1000, paced on an
 * absolute clock, so the rate holds however long a send takes. Prints
 * "sent N in S s" at the end; exit 1 on any send error.
 *
 * --table-bytes prints the heap a full sap_table of CAP entries holds by
 * its own count (sap_table_get_stats .bytes) when every SDP is
 * SAP_SDP_MAX bytes long: the worst case the flood test bounds memory by. */
#include "discovery/sap.h"

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define FLOOD_ORIGIN 0xc6120000u /* 198.18.0.0 */
#define FLOOD_ID     1000000ull

struct flood {
	unsigned long count;
	unsigned long rate;
	unsigned long first;
	struct sockaddr_in dst;
};

static int parse_endpoint(const char *s, struct sockaddr_in *out)
{
	char host[64];
	const char *colon = strchr(s, ':');
	size_t n = colon ? (size_t)(colon - s) : strlen(s);

	if (n >= sizeof(host))
		return -1;
	memcpy(host, s, n);
	host[n] = '\0';
	memset(out, 0, sizeof(*out));
	out->sin_family = AF_INET;
	out->sin_port = htons(colon ? (uint16_t)atoi(colon + 1)
				    : SAP_DEFAULT_PORT);
	return inet_pton(AF_INET, host, &out->sin_addr) == 1 ? 0 : -1;
}

static int make_sdp(unsigned long i, char *buf, size_t len)
{
	struct in_addr origin = {htonl(FLOOD_ORIGIN + (uint32_t)i)};
	char src[16];

	inet_ntop(AF_INET, &origin, src, sizeof(src));
	return snprintf(buf, len,
			"v=0\r\n"
			"o=- %llu 1 IN IP4 %s\r\n"
			"s=flood %lu\r\n"
			"t=0 0\r\n"
			"m=audio 5004 RTP/AVP 98\r\n"
			"c=IN IP4 239.%lu.%lu.%lu/15\r\n"
			"a=rtpmap:98 L24/48000/2\r\n"
			"a=ptime:1\r\n"
			"a=mediaclk:direct=0\r\n"
			"a=ts-refclk:ptp=IEEE1588-2008:00-1D-C1-FF-FE-50-36-33:0\r\n"
			"a=recvonly\r\n",
			FLOOD_ID + i, src, i, 100 + i / 65536 % 100,
			i / 256 % 256, i % 256);
}

static int send_one(int fd, const struct flood *f, unsigned long i)
{
	struct in_addr origin = {htonl(FLOOD_ORIGIN + (uint32_t)i)};
	uint8_t pkt[SAP_PACKET_MAX];
	char sdp[1024];
	int sdp_len, n;

	sdp_len = make_sdp(i, sdp, sizeof(sdp));
	if (sdp_len < 0 || (size_t)sdp_len >= sizeof(sdp))
		return -EINVAL;
	n = sap_pack(SAP_ANNOUNCE, origin, sap_msg_hash(FLOOD_ID + i, 1), sdp,
		     (size_t)sdp_len, pkt, sizeof(pkt));
	if (n < 0)
		return n;
	if (sendto(fd, pkt, (size_t)n, 0, (const struct sockaddr *)&f->dst,
		   sizeof(f->dst)) != n)
		return -errno;
	return 0;
}

static void add_ns(struct timespec *t, long ns)
{
	t->tv_nsec += ns;
	while (t->tv_nsec >= 1000000000L) {
		t->tv_nsec -= 1000000000L;
		t->tv_sec++;
	}
}

static double since(const struct timespec *a)
{
	struct timespec b;

	clock_gettime(CLOCK_MONOTONIC, &b);
	return (double)(b.tv_sec - a->tv_sec) +
	       (double)(b.tv_nsec - a->tv_nsec) / 1e9;
}

static int flood(int fd, const struct flood *f)
{
	unsigned long per_ms = f->rate / 1000 ? f->rate / 1000 : 1;
	long gap_ns = f->rate >= 1000 ? 1000000L
				      : (long)(1000000000UL / f->rate);
	unsigned long i = 0, k;
	struct timespec start, next;
	int rc;

	clock_gettime(CLOCK_MONOTONIC, &start);
	next = start;
	while (i < f->count) {
		for (k = 0; k < per_ms && i < f->count; k++, i++) {
			rc = send_one(fd, f, f->first + i);
			if (rc < 0) {
				fprintf(stderr, "d4sapflood: session %lu: %s\n",
					f->first + i, strerror(-rc));
				return 1;
			}
		}
		add_ns(&next, gap_ns);
		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
	}
	printf("sent %lu in %.3f s\n", i, since(&start));
	return 0;
}

/* Fill a table of @cap entries with SAP_SDP_MAX-byte SDPs, print its
 * bytes. */
static int table_bytes(unsigned long cap)
{
	struct sap_table *t = sap_table_new((unsigned int)cap, 0, 0);
	struct sap_table_stats st;
	char *sdp = malloc(SAP_SDP_MAX);
	unsigned long i;
	int n, rc = 0;

	if (!t || !sdp)
		return 1;
	for (i = 0; i < cap && !rc; i++) {
		n = make_sdp(i, sdp, SAP_SDP_MAX);
		/* pad with an attribute line up to SAP_SDP_MAX bytes */
		memset(sdp + n, 'x', SAP_SDP_MAX - (size_t)n - 2);
		memcpy(sdp + n, "a=x:", 4);
		memcpy(sdp + SAP_SDP_MAX - 2, "\r\n", 2);
		rc = sap_table_update(t, i, (struct in_addr){htonl(
						     FLOOD_ORIGIN + (uint32_t)i)},
				      1, (const uint8_t *)sdp, SAP_SDP_MAX);
	}
	sap_table_get_stats(t, &st);
	if (!rc && st.entries == cap)
		printf("%llu\n", (unsigned long long)st.bytes);
	free(sdp);
	sap_table_destroy(t);
	return rc || st.entries != cap;
}

static void usage(void)
{
	fprintf(stderr, "usage: d4sapflood [--count N] [--rate PER_S] "
			"[--group ADDR:PORT] [--first I]\n"
			"       d4sapflood --table-bytes CAP\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"count", required_argument, NULL, 'n'},
	    {"rate", required_argument, NULL, 'r'},
	    {"group", required_argument, NULL, 'g'},
	    {"first", required_argument, NULL, 'f'},
	    {"table-bytes", required_argument, NULL, 't'},
	    {NULL, 0, NULL, 0},
	};
	struct flood f = {.count = 10000, .rate = 5000};
	int c, fd, ttl = 1;

	parse_endpoint(SAP_DEFAULT_GROUP, &f.dst);
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'n':
			f.count = strtoul(optarg, NULL, 10);
			break;
		case 'r':
			f.rate = strtoul(optarg, NULL, 10);
			break;
		case 'g':
			if (parse_endpoint(optarg, &f.dst) < 0)
				usage();
			break;
		case 'f':
			f.first = strtoul(optarg, NULL, 10);
			break;
		case 't':
			return table_bytes(strtoul(optarg, NULL, 10));
		default:
			usage();
		}
	}
	if (optind != argc || f.rate == 0 || f.rate > 1000000)
		usage();
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || setsockopt(fd, IPPROTO_IP, IP_MULTICAST_TTL, &ttl,
				 sizeof(ttl)) < 0) {
		perror("d4sapflood: socket");
		return 1;
	}
	c = flood(fd, &f);
	close(fd);
	return c;
}
