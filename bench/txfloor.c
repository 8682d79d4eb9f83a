/* The floor of a paced RTP sender, for bench/cpu.sh: K flows of one
 * AES67 packet (8 channels L24, 48 frames: 1 ms) each, all sent at every
 * millisecond tick of CLOCK_MONOTONIC with one absolute clock_nanosleep
 * and one sendmmsg per tick, and nothing else: no clock following, no
 * source, no relay, no counters. What it costs per packet is what the
 * kernel (timer wake-up, UDP send) costs on this machine; d4node's media
 * thread makes the same two calls per tick.
 *
 * usage: d4-txfloor K GROUP_BASE PORT IFADDR SECONDS
 *   sends to GROUP_BASE + i (i = 0..K-1, the last octet), from IFADDR */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#define MAX_FLOWS 64
#define PKT_BYTES (12 + 8 * 3 * 48)

int main(int argc, char *argv[])
{
	static uint8_t pkt[MAX_FLOWS][PKT_BYTES];
	struct sockaddr_in dst[MAX_FLOWS];
	struct mmsghdr msg[MAX_FLOWS];
	struct iovec iov[MAX_FLOWS];
	struct in_addr ifaddr, group;
	struct timespec t;
	unsigned int k, i, port, ticks;
	unsigned char ttl = 1;
	uint16_t seq = 0;
	uint32_t ts = 0;
	int fd;

	if (argc != 6 || (k = (unsigned int)atoi(argv[1])) < 1 ||
	    k > MAX_FLOWS || !inet_aton(argv[2], &group) ||
	    !inet_aton(argv[4], &ifaddr)) {
		fprintf(stderr, "usage: d4-txfloor K(1-%d) GROUP_BASE PORT "
				"IFADDR SECONDS\n",
			MAX_FLOWS);
		return 2;
	}
	port = (unsigned int)atoi(argv[3]);
	ticks = (unsigned int)atoi(argv[5]) * 1000;
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0 ||
	    setsockopt(fd, IPPROTO_IP, IP_MULTICAST_IF, &ifaddr,
		       sizeof(ifaddr)) < 0 ||
	    setsockopt(fd, IPPROTO_IP, IP_MULTICAST_TTL, &ttl, sizeof(ttl)) <
		0) {
		perror("d4-txfloor: socket");
		return 1;
	}
	memset(msg, 0, sizeof(msg));
	for (i = 0; i < k; i++) {
		dst[i] = (struct sockaddr_in){
		    .sin_family = AF_INET,
		    .sin_port = htons((uint16_t)port),
		    .sin_addr.s_addr = htonl(ntohl(group.s_addr) + i)};
		pkt[i][0] = 0x80;
		pkt[i][1] = 98;
		iov[i] = (struct iovec){pkt[i], PKT_BYTES};
		msg[i].msg_hdr.msg_name = &dst[i];
		msg[i].msg_hdr.msg_namelen = sizeof(dst[i]);
		msg[i].msg_hdr.msg_iov = &iov[i];
		msg[i].msg_hdr.msg_iovlen = 1;
	}
	clock_gettime(CLOCK_MONOTONIC, &t);
	while (ticks--) {
		t.tv_nsec += 1000000;
		if (t.tv_nsec >= 1000000000) {
			t.tv_nsec -= 1000000000;
			t.tv_sec++;
		}
		while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &t,
				       NULL) == EINTR)
			;
		seq++;
		ts += 48;
		for (i = 0; i < k; i++) {
			pkt[i][2] = (uint8_t)(seq >> 8);
			pkt[i][3] = (uint8_t)seq;
			pkt[i][4] = (uint8_t)(ts >> 24);
			pkt[i][5] = (uint8_t)(ts >> 16);
			pkt[i][6] = (uint8_t)(ts >> 8);
			pkt[i][7] = (uint8_t)ts;
		}
		if (sendmmsg(fd, msg, k, 0) < 0)
			perror("d4-txfloor: sendmmsg");
	}
	return 0;
}
