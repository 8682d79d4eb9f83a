/* Receive RTP on one or more group:port endpoints, stamp every packet with
 * the kernel's receive time (SO_TIMESTAMPNS) and report how far arrivals
 * stray from each flow's ideal packet grid: p50/p99/p99.9/max deviation
 * and the share of back-to-back bursts. Used by bench/pacing.sh to compare
 * d4node with GStreamer in one run.
 *
 * Ideal grid of a flow: arrival_k = a + k * ptime, where k is the packet's
 * place on its media clock, its extended RTP timestamp over the samples in
 * a packet (--rate, 48 kHz by default), and a the median of arrival_k -
 * k * ptime (robust to outliers). The timestamp, not the sequence number:
 * a sender that skips packets after a stall (d4node does, counted) keeps
 * its sequence numbers gapless while its timestamps jump, and its later
 * packets are on time for any receiver. A burst is a packet that arrives
 * less than ptime/4 after the previous packet of its flow.
 *
 * SIGTERM or SIGINT ends the run early (the report is printed all the
 * same): a benchmark that counts what a sender sent stops its receiver
 * once the sender is done.
 *
 * usage: d4-rxstamp --ptime-us US --seconds S [--warmup S] [--label L]
 *                   [--rate HZ] GROUP:PORT...
 */
#include "common/net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_FLOWS 64
#define MAX_PKTS  (1 << 22)

struct flow {
	int fd;
	uint64_t *arrival; /* ns, CLOCK_REALTIME */
	int64_t *k;	   /* place on the media clock, in packets */
	size_t n;
	bool have_ts;
	uint32_t last_ts;
	int64_t ext; /* RTP timestamp since the first packet's */
};

static volatile sig_atomic_t stop;

static void on_stop(int sig)
{
	(void)sig;
	stop = 1;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void take(struct flow *f, const uint8_t *buf, ssize_t len,
		 uint64_t arrival, int64_t spp)
{
	uint32_t ts;
	int64_t k;

	if (len < 12 || (buf[0] & 0xc0) != 0x80 || f->n >= MAX_PKTS)
		return;
	ts = (uint32_t)buf[4] << 24 | (uint32_t)buf[5] << 16 |
	     (uint32_t)buf[6] << 8 | buf[7];
	if (f->have_ts)
		f->ext += (int32_t)(ts - f->last_ts);
	f->have_ts = true;
	f->last_ts = ts;
	/* floor division: a packet before the first has k < 0 */
	k = f->ext / spp;
	if (f->ext % spp < 0)
		k--;
	f->arrival[f->n] = arrival;
	f->k[f->n] = k;
	f->n++;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"ptime-us", required_argument, NULL, 'p'},
	    {"seconds", required_argument, NULL, 's'},
	    {"warmup", required_argument, NULL, 'w'},
	    {"label", required_argument, NULL, 'l'},
	    {"rate", required_argument, NULL, 'r'},
	    {0},
	};
	struct flow flows[MAX_FLOWS] = {0};
	struct pollfd pfd[MAX_FLOWS];
	double seconds = 10, warmup = 1;
	const char *label = "run";
	int64_t ptime_ns = 1000000, rate = 48000, spp, *dev;
	size_t nflows = 0, total = 0, bursts = 0, counted = 0, i, j;
	uint64_t start, end, from;
	int c;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			ptime_ns = atoll(optarg) * 1000;
			break;
		case 's':
			seconds = atof(optarg);
			break;
		case 'w':
			warmup = atof(optarg);
			break;
		case 'l':
			label = optarg;
			break;
		case 'r':
			rate = atoll(optarg);
			break;
		default:
			fprintf(stderr,
				"usage: see the file's opening comment\n");
			return 2;
		}
	}
	for (; optind < argc && nflows < MAX_FLOWS; optind++, nflows++) {
		struct sockaddr_in sa;
		struct flow *f = &flows[nflows];

		if (net_parse_endpoint(argv[optind], 5004, &sa) < 0) {
			fprintf(stderr, "d4-rxstamp: '%s' is not GROUP:PORT\n",
				argv[optind]);
			return 2;
		}
		f->fd = net_udp_rx_open(&sa, NULL);
		f->arrival = calloc(MAX_PKTS, sizeof(*f->arrival));
		f->k = calloc(MAX_PKTS, sizeof(*f->k));
		if (f->fd < 0 || !f->arrival || !f->k)
			return 1;
		pfd[nflows] = (struct pollfd){.fd = f->fd, .events = POLLIN};
	}
	if (!nflows)
		return 2;
	spp = ptime_ns * rate / 1000000000;
	if (spp < 1) {
		fprintf(stderr, "d4-rxstamp: under one sample a packet\n");
		return 2;
	}
	signal(SIGTERM, on_stop);
	signal(SIGINT, on_stop);
	start = now_ns();
	end = start + (uint64_t)(seconds * 1e9);
	from = start + (uint64_t)(warmup * 1e9);
	while (!stop && now_ns() < end) {
		if (poll(pfd, nflows, 50) <= 0)
			continue;
		for (i = 0; i < nflows; i++) {
			uint8_t buf[2048], ctrl[64];
			struct iovec iov = {buf, sizeof(buf)};
			struct msghdr mh = {.msg_iov = &iov,
					    .msg_iovlen = 1,
					    .msg_control = ctrl,
					    .msg_controllen = sizeof(ctrl)};
			ssize_t n;

			if (!(pfd[i].revents & POLLIN))
				continue;
			while ((n = recvmsg(flows[i].fd, &mh, MSG_DONTWAIT)) >=
			       0) {
				struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
				uint64_t t = now_ns();

				for (; cm; cm = CMSG_NXTHDR(&mh, cm))
					if (cm->cmsg_type == SCM_TIMESTAMPNS) {
						struct timespec ts;

						memcpy(&ts, CMSG_DATA(cm),
						       sizeof(ts));
						t = (uint64_t)ts.tv_sec *
							1000000000u +
						    (uint64_t)ts.tv_nsec;
					}
				if (t >= from)
					take(&flows[i], buf, n, t, spp);
				mh.msg_controllen = sizeof(ctrl);
			}
		}
	}
	for (i = 0; i < nflows; i++)
		total += flows[i].n;
	dev = calloc(total ? total : 1, sizeof(*dev));
	for (i = 0; i < nflows; i++) {
		struct flow *f = &flows[i];
		int64_t *resid = calloc(f->n ? f->n : 1, sizeof(*resid)), a;

		if (f->n < 2) {
			free(resid);
			continue;
		}
		for (j = 0; j < f->n; j++)
			resid[j] = (int64_t)f->arrival[j] - f->k[j] * ptime_ns;
		qsort(resid, f->n, sizeof(*resid), cmp_i64);
		a = resid[f->n / 2];
		for (j = 0; j < f->n; j++) {
			int64_t d =
			    (int64_t)f->arrival[j] - f->k[j] * ptime_ns - a;

			dev[counted++] = d < 0 ? -d : d;
			if (j && (int64_t)(f->arrival[j] - f->arrival[j - 1]) <
				     ptime_ns / 4)
				bursts++;
		}
		free(resid);
	}
	if (!counted) {
		fprintf(stderr, "d4-rxstamp: no packets\n");
		return 1;
	}
	qsort(dev, counted, sizeof(*dev), cmp_i64);
	/* label flows packets p50 p99 p99.9 max (us) bursts(%) */
	printf("%s\t%zu\t%zu\t%.1f\t%.1f\t%.1f\t%.1f\t%.3f\n", label, nflows,
	       counted, dev[counted / 2] / 1e3,
	       dev[(size_t)(counted * 0.99)] / 1e3,
	       dev[(size_t)(counted * 0.999)] / 1e3, dev[counted - 1] / 1e3,
	       100.0 * (double)bursts / (double)counted);
	return 0;
}
