/* The veth wire of d4test --kernel (knet.h). */
#include "knet.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

#define STR_(x)	      #x
#define STR(x)	      STR_(x)
#define KNET_MTU_TEXT STR(KNET_MTU)

static int why_set(char *why, size_t len, int ret, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int why_set(char *why, size_t len, int ret, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, len, fmt, ap);
	va_end(ap);
	return ret;
}

/* Run "ip ARGS..." (a NULL-terminated list); 0 when it exits 0. */
static int ip(const char *first, ...)
{
	const char *argv[24] = {"ip", first};
	va_list ap;
	pid_t pid;
	int i = 2, st;

	va_start(ap, first);
	while (i < 23 && (argv[i] = va_arg(ap, const char *)))
		i++;
	va_end(ap);
	argv[i] = NULL;
	if (posix_spawnp(&pid, "ip", NULL, NULL, (char *const *)argv, environ))
		return -ENOENT;
	if (waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st))
		return -EIO;
	return 0;
}

static void sysctl(const char *path, const char *val)
{
	FILE *f = fopen(path, "w");

	if (f) {
		fputs(val, f);
		fclose(f);
	}
}

static int mac_of(const char *ifname, uint8_t mac[6])
{
	struct ifreq ifr = {0};
	int fd = socket(AF_INET, SOCK_DGRAM, 0), ret = 0;

	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	if (fd < 0 || ioctl(fd, SIOCGIFHWADDR, &ifr))
		ret = -errno;
	else
		memcpy(mac, ifr.ifr_hwaddr.sa_data, 6);
	if (fd >= 0)
		close(fd);
	return ret;
}

static int packet_socket(const char *ifname)
{
	struct sockaddr_ll sa = {.sll_family = AF_PACKET,
				 .sll_protocol = htons(ETH_P_ALL)};
	int fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL));
	int sz = 8 << 20;

	if (fd < 0)
		return -errno;
	sa.sll_ifindex = (int)if_nametoindex(ifname);
	setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof(sz));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		int ret = -errno;

		close(fd);
		return ret;
	}
	return fd;
}

int knet_setup(struct knet *n, char *why, size_t why_len)
{
	char mac[32];
	int ret;

	memset(n, 0, sizeof(*n));
	n->inject = n->capture = -1;
	if (unshare(CLONE_NEWNET))
		return why_set(why, why_len, -errno,
			       "a network namespace of our own: %s",
			       strerror(errno));
	if (ip("link", "set", "lo", "up", NULL) ||
	    ip("link", "add", KNET_IF, "type", "veth", "peer", "name", "d4k1",
	       NULL))
		return why_set(why, why_len, -EIO, "ip link add veth failed");
	/* no IPv6 chatter on the wire */
	sysctl("/proc/sys/net/ipv6/conf/" KNET_IF "/disable_ipv6", "1");
	sysctl("/proc/sys/net/ipv6/conf/d4k1/disable_ipv6", "1");
	sysctl("/proc/sys/net/ipv4/conf/all/rp_filter", "0");
	sysctl("/proc/sys/net/ipv4/conf/" KNET_IF "/rp_filter", "0");
	if (ip("link", "set", KNET_IF, "mtu", KNET_MTU_TEXT, NULL) ||
	    ip("link", "set", "d4k1", "mtu", KNET_MTU_TEXT, NULL) ||
	    ip("addr", "add", "10.99.0.1/24", "dev", KNET_IF, NULL) ||
	    ip("link", "set", KNET_IF, "up", NULL) ||
	    ip("link", "set", "d4k1", "up", NULL))
		return why_set(why, why_len, -EIO, "ip link set up failed");
	ret = mac_of(KNET_IF, n->mac0);
	if (!ret)
		ret = mac_of("d4k1", n->mac1);
	if (ret)
		return why_set(why, why_len, ret, "MAC addresses: %s",
			       strerror(-ret));
	snprintf(mac, sizeof(mac), "%02x:%02x:%02x:%02x:%02x:%02x", n->mac1[0],
		 n->mac1[1], n->mac1[2], n->mac1[3], n->mac1[4], n->mac1[5]);
	if (ip("neigh", "add", "10.99.0.2", "lladdr", mac, "dev", KNET_IF,
	       "nud", "permanent", NULL) ||
	    ip("route", "add", "default", "via", "10.99.0.2", NULL) ||
	    ip("route", "add", "224.0.0.0/4", "dev", KNET_IF, NULL))
		return why_set(why, why_len, -EIO, "ip route failed");
	n->inject = packet_socket("d4k1");
	n->capture = packet_socket("d4k1");
	if (n->inject < 0 || n->capture < 0)
		return why_set(
		    why, why_len, -EIO, "packet sockets: %s",
		    strerror(-(n->inject < 0 ? n->inject : n->capture)));
	return 0;
}

static uint32_t sum16(const uint8_t *p, size_t len, uint32_t s)
{
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		s += (uint32_t)p[i] << 8 | p[i + 1];
	if (len & 1)
		s += (uint32_t)p[len - 1] << 8;
	return s;
}

static uint16_t fold(uint32_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)s;
}

/* The UDP checksum of @udp (@len bytes, checksum field included as it is)
 * with the pseudo header of @ip: 0xffff when the field is right. */
static uint16_t udp_sum(const uint8_t *ip, const uint8_t *udp, size_t len)
{
	uint32_t s = sum16(ip + 12, 8, 0);

	s += 17 + (uint32_t)len;
	return fold(sum16(udp, len, s));
}

int knet_inject(struct knet *n, const struct sockaddr_in *src,
		const struct sockaddr_in *dst, const uint8_t *payload,
		size_t len, bool csum)
{
	static uint8_t f[14 + 28 + 65536];
	uint8_t *ip = f + 14, *udp = ip + 20;
	uint16_t v;

	uint32_t daddr = ntohl(dst->sin_addr.s_addr);

	if (len > 65507)
		return -EMSGSIZE;
	memcpy(f, n->mac0, 6);
	if (daddr >> 28 == 0xe) { /* a group's frame: 01:00:5e + 23 bits */
		f[0] = 0x01;
		f[1] = 0x00;
		f[2] = 0x5e;
		f[3] = (uint8_t)(daddr >> 16 & 0x7f);
		f[4] = (uint8_t)(daddr >> 8);
		f[5] = (uint8_t)daddr;
	}
	memcpy(f + 6, n->mac1, 6);
	f[12] = 0x08;
	f[13] = 0x00;
	memset(ip, 0, 28);
	ip[0] = 0x45;
	v = htons((uint16_t)(28 + len));
	memcpy(ip + 2, &v, 2);
	v = htons(++n->ip_id);
	memcpy(ip + 4, &v, 2);
	ip[6] = 0x40; /* DF */
	ip[8] = 64;
	ip[9] = 17;
	memcpy(ip + 12, &src->sin_addr, 4);
	memcpy(ip + 16, &dst->sin_addr, 4);
	v = htons((uint16_t)~fold(sum16(ip, 20, 0)));
	memcpy(ip + 10, &v, 2);
	memcpy(udp, &src->sin_port, 2);
	memcpy(udp + 2, &dst->sin_port, 2);
	v = htons((uint16_t)(8 + len));
	memcpy(udp + 4, &v, 2);
	memcpy(udp + 8, payload, len);
	if (csum) {
		uint16_t c = (uint16_t)~udp_sum(ip, udp, 8 + len);

		v = htons(c ? c : 0xffff);
		memcpy(udp + 6, &v, 2);
	}
	if (send(n->inject, f, 14 + 28 + len, 0) < 0)
		return -errno;
	return 0;
}

/* Is this a copy the kernel sent (UDP from us), not our own injection,
 * ICMP the stack sends back, or other noise? */
static bool is_copy(const uint8_t *f, size_t len)
{
	uint32_t saddr;

	if (len < 42 || f[12] != 0x08 || f[13] != 0x00 || f[23] != 17)
		return false;
	memcpy(&saddr, f + 26, 4);
	return ntohl(saddr) == KNET_ADDR;
}

static int check_copy(struct knet *n, const uint8_t *f, size_t flen,
		      uint16_t src_port, struct knet_copy *c, char *why,
		      size_t why_len)
{
	const uint8_t *ip = f + 14, *udp = ip + 20;
	uint16_t tot = (uint16_t)(ip[2] << 8 | ip[3]);
	uint16_t ulen = (uint16_t)(udp[4] << 8 | udp[5]);
	uint8_t want_mac[6];
	uint32_t daddr;
	bool group;

	memcpy(&c->dst.sin_addr, ip + 16, 4);
	memcpy(&c->dst.sin_port, udp + 2, 2);
	c->dst.sin_family = AF_INET;
	daddr = ntohl(c->dst.sin_addr.s_addr);
	group = daddr >> 28 == 0xe;
	if (group) {
		uint8_t m[6] = {0x01,
				0x00,
				0x5e,
				(uint8_t)(daddr >> 16 & 0x7f),
				(uint8_t)(daddr >> 8),
				(uint8_t)daddr};

		memcpy(want_mac, m, 6);
	} else {
		memcpy(want_mac, n->mac1, 6);
	}
	if (memcmp(f, want_mac, 6))
		return why_set(why, why_len, -EINVAL,
			       "copy's Ethernet destination is not %s",
			       group ? "the group's" : "the gateway's");
	if (memcmp(f + 6, n->mac0, 6))
		return why_set(why, why_len, -EINVAL,
			       "copy's Ethernet source is not d4k0's");
	if (ip[0] != 0x45 || ip[1] != KNET_DSCP << 2)
		return why_set(why, why_len, -EINVAL,
			       "copy's version/IHL %02x or TOS %02x wrong",
			       ip[0], ip[1]);
	if (ip[8] != (group ? KNET_MCAST_TTL : KNET_TTL))
		return why_set(why, why_len, -EINVAL, "copy's TTL is %u",
			       ip[8]);
	if (tot < 28 || (size_t)tot + 14 > flen || ulen + 20 != tot)
		return why_set(why, why_len, -EINVAL,
			       "copy's lengths: IP %u, UDP %u, frame %zu", tot,
			       ulen, flen);
	if (fold(sum16(ip, 20, 0)) != 0xffff)
		return why_set(why, why_len, -EINVAL,
			       "copy's IP checksum is wrong");
	if ((udp[6] || udp[7]) && udp_sum(ip, udp, ulen) != 0xffff)
		return why_set(
		    why, why_len, -EINVAL,
		    "copy's UDP checksum is wrong (%04x, sums to %04x)",
		    udp[6] << 8 | udp[7], udp_sum(ip, udp, ulen));
	if ((udp[0] << 8 | udp[1]) != src_port)
		return why_set(why, why_len, -EINVAL,
			       "copy's source port is %u, not %u",
			       udp[0] << 8 | udp[1], src_port);
	c->len = ulen - 8u;
	memcpy(c->data, udp + 8, c->len);
	return 1;
}

int knet_next(struct knet *n, int timeout_ms, uint16_t src_port,
	      struct knet_copy *c, char *why, size_t why_len)
{
	static uint8_t f[KNET_MAX_FRAME + 64];
	struct pollfd p = {.fd = n->capture, .events = POLLIN};
	struct sockaddr_ll from;
	socklen_t fl;
	ssize_t len;

	for (;;) {
		if (poll(&p, 1, timeout_ms) <= 0)
			return 0;
		fl = sizeof(from);
		len = recvfrom(n->capture, f, sizeof(f), MSG_DONTWAIT,
			       (struct sockaddr *)&from, &fl);
		if (len < 0)
			continue;
		if (from.sll_pkttype == PACKET_OUTGOING)
			continue; /* what we injected */
		if (!is_copy(f, (size_t)len))
			continue;
		return check_copy(n, f, (size_t)len, src_port, c, why, why_len);
	}
}
