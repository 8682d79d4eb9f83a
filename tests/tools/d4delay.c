/* d4delay: a UDP relay that holds every datagram for a fixed time, for the
 * redundancy lab (tests/lab/redundancy_skew.sh): the kernel here has no
 * netem, so one ST 2022-7 leg is made to lag the other by passing it
 * through this. It joins GROUP:PORT on one interface, and sends each
 * datagram, bytes unchanged, to DEST:PORT out of another DELAY after the
 * kernel received it (its SO_TIMESTAMPNS stamp), under SCHED_FIFO. On
 * SIGINT/SIGTERM it prints its counts and the latest a datagram left after
 * its time ("late_max_us"), so a test can tell a lag it asked for from one
 * the machine added.
 *
 * usage: d4delay --in GROUP:PORT --in-if IF --out DEST:PORT --out-if IF
 *                --delay-us N [--rt PRIO] */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/net.h"

#define QUEUE 8192 /* datagrams held: 8 s of 1 ms packets */
#define MTU   2048

struct held {
	uint64_t due_ns; /* CLOCK_REALTIME */
	uint16_t len;
	uint8_t buf[MTU];
};

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int usage(void)
{
	fprintf(stderr, "usage: d4delay --in GROUP:PORT --in-if IF --out "
			"DEST:PORT --out-if IF --delay-us N [--rt PRIO]\n");
	return 2;
}

int main(int argc, char *argv[])
{
	static const struct option opts[] = {
	    {"in", required_argument, NULL, 'i'},
	    {"in-if", required_argument, NULL, 'I'},
	    {"out", required_argument, NULL, 'o'},
	    {"out-if", required_argument, NULL, 'O'},
	    {"delay-us", required_argument, NULL, 'd'},
	    {"rt", required_argument, NULL, 'r'},
	    {NULL, 0, NULL, 0},
	};
	struct sockaddr_in in = {0}, out = {0};
	const char *in_if = NULL, *out_if = NULL;
	uint64_t delay_ns = 0, late_max = 0, received = 0, sent = 0,
		 dropped = 0, errors = 0;
	struct net_tx_opts tx = {.dscp = 34, .ttl = 16};
	struct sched_param sp = {.sched_priority = 60};
	struct held *q;
	unsigned int head = 0, tail = 0;
	uint8_t mac[6];
	int c, rx_fd, tx_fd;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'i':
			if (net_parse_endpoint(optarg, 5004, &in))
				return usage();
			break;
		case 'I':
			in_if = optarg;
			break;
		case 'o':
			if (net_parse_endpoint(optarg, 5004, &out))
				return usage();
			break;
		case 'O':
			out_if = optarg;
			break;
		case 'd':
			delay_ns = strtoull(optarg, NULL, 10) * 1000ull;
			break;
		case 'r':
			sp.sched_priority = atoi(optarg);
			break;
		default:
			return usage();
		}
	}
	if (!in.sin_family || !out.sin_family || !in_if || !out_if)
		return usage();
	q = calloc(QUEUE, sizeof(*q));
	if (!q)
		return 1;
	rx_fd = net_udp_rx_open(&in, in_if);
	if (rx_fd < 0 || net_iface_addr(out_if, &tx.src, mac) < 0) {
		fprintf(stderr,
			"d4delay: cannot listen on %s or %s has no "
			"address\n",
			in_if, out_if);
		return 1;
	}
	tx.ifname = out_if;
	tx_fd = net_udp_tx_open(&out, &tx);
	if (tx_fd < 0)
		return 1;
	if (sched_setscheduler(0, SCHED_FIFO, &sp) < 0)
		fprintf(stderr,
			"d4delay: SCHED_FIFO %d: %s (running without)\n",
			sp.sched_priority, strerror(errno));
	mlockall(MCL_CURRENT | MCL_FUTURE);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	printf("d4delay: ready, %llu us\n",
	       (unsigned long long)delay_ns / 1000);
	fflush(stdout);

	while (!stop) {
		struct pollfd pfd = {.fd = rx_fd, .events = POLLIN};
		uint64_t t = now_ns();
		struct timespec to = {0, 10 * 1000 * 1000};

		/* send what is due */
		while (head != tail && q[head % QUEUE].due_ns <= t) {
			struct held *h = &q[head % QUEUE];

			if (t - h->due_ns > late_max)
				late_max = t - h->due_ns;
			if (sendto(tx_fd, h->buf, h->len, 0,
				   (struct sockaddr *)&out, sizeof(out)) < 0)
				errors++;
			else
				sent++;
			head++;
			t = now_ns();
		}
		if (head != tail) {
			uint64_t wait = q[head % QUEUE].due_ns - t;

			to.tv_sec = (time_t)(wait / 1000000000ull);
			to.tv_nsec = (long)(wait % 1000000000ull);
		}
		if (ppoll(&pfd, 1, &to, NULL) <= 0)
			continue;
		for (;;) {
			uint8_t ctrl[CMSG_SPACE(sizeof(struct timespec))];
			struct held *h = &q[tail % QUEUE];
			struct iovec iov = {h->buf, MTU};
			struct msghdr mh = {.msg_iov = &iov,
					    .msg_iovlen = 1,
					    .msg_control = ctrl,
					    .msg_controllen = sizeof(ctrl)};
			struct cmsghdr *cm;
			uint64_t arrival;
			ssize_t n = recvmsg(rx_fd, &mh, MSG_DONTWAIT);

			if (n < 0)
				break;
			received++;
			if (tail - head == QUEUE) {
				dropped++;
				continue;
			}
			arrival = now_ns();
			for (cm = CMSG_FIRSTHDR(&mh); cm;
			     cm = CMSG_NXTHDR(&mh, cm)) {
				struct timespec ts;

				if (cm->cmsg_level != SOL_SOCKET ||
				    cm->cmsg_type != SCM_TIMESTAMPNS)
					continue;
				memcpy(&ts, CMSG_DATA(cm), sizeof(ts));
				arrival = (uint64_t)ts.tv_sec * 1000000000ull +
					  (uint64_t)ts.tv_nsec;
			}
			h->len = (uint16_t)n;
			h->due_ns = arrival + delay_ns;
			tail++;
		}
	}
	printf("d4delay: received=%llu sent=%llu dropped=%llu errors=%llu "
	       "late_max_us=%llu\n",
	       (unsigned long long)received, (unsigned long long)sent,
	       (unsigned long long)dropped, (unsigned long long)errors,
	       (unsigned long long)(late_max / 1000));
	return 0;
}
