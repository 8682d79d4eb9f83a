/* UDP socket helpers shared by media, PTP and discovery code: endpoints,
 * DSCP marking, multicast membership and kernel receive timestamps. */
#ifndef D4_COMMON_NET_H
#define D4_COMMON_NET_H

#include <netinet/in.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>

/* Parse "a.b.c.d" or "a.b.c.d:port". A missing port becomes @default_port;
 * returns 0 or -EINVAL. */
int net_parse_endpoint(const char *s, uint16_t default_port,
		       struct sockaddr_in *out);

/* "a.b.c.d:port" into @buf (at least 22 bytes). */
const char *net_endpoint_str(const struct sockaddr_in *sa, char *buf,
			     size_t len);

bool net_is_multicast(const struct sockaddr_in *sa);

/* Mark every packet of @fd with DSCP @dscp (0-63). 0 or -errno. */
int net_set_dscp(int fd, int dscp);

/* The local address the kernel would send from towards @dst (for multicast,
 * the first up non-loopback IPv4 address, else 127.0.0.1) and the MAC of its
 * interface (zeros when it has none). */
void net_egress(const struct sockaddr_in *dst, struct in_addr *addr,
		uint8_t mac[6]);

struct net_tx_opts {
	struct in_addr src; /* bind to this source address; 0: don't */
	int dscp;	    /* 0-63 */
	int ttl;	    /* multicast TTL, 1-255 */
	const char *ifname; /* multicast egress interface, or NULL */
};

/* A non-blocking UDP socket for sending to @dst. -errno on failure. */
int net_udp_tx_open(const struct sockaddr_in *dst,
		    const struct net_tx_opts *opts);

/* A sending socket as net_udp_tx_open()'s, shared by every caller that
 * asks with the same options (source, DSCP, and for a group the TTL and
 * interface): counted, and closed by the last net_udp_tx_unshare(). The
 * media thread sends all of a pass's packets on it in one sendmmsg().
 * Control thread. -errno on failure. */
int net_udp_tx_share(const struct sockaddr_in *dst,
		     const struct net_tx_opts *opts);
void net_udp_tx_unshare(int fd);
/* How many hold @fd (0: not a shared socket). */
unsigned int net_udp_tx_shared_users(int fd);

/* The index of interface @ifname, 0 for none (NULL or ""), or -errno:
 * -ENODEV for a name no interface has, -EMFILE when out of descriptors
 * (if_nametoindex(3) says neither: it asks through a socket of its own
 * and leaves ENOENT). */
int net_ifindex(const char *ifname);

/* Whether -errno @rc says the host ran out of something (descriptors,
 * socket buffers, memory) rather than that a request was wrong. */
static inline bool net_resource_error(int rc)
{
	return rc == -EMFILE || rc == -ENFILE || rc == -ENOBUFS ||
	       rc == -ENOMEM;
}

/* A non-blocking UDP socket bound to @addr (unicast address, 0.0.0.0, or a
 * multicast group it joins on @ifname or the default interface), with
 * SO_TIMESTAMPNS receive timestamps. -errno on failure. */
int net_udp_rx_open(const struct sockaddr_in *addr, const char *ifname);

/* A socket's SO_RCVBUF or SO_SNDBUF (@opt): what the kernel keeps, twice
 * what was asked; 0 on error. */
int net_sockbuf(int fd, int opt);
/* net.core.NAME (rmem_max, wmem_max), or 0 where unreadable. */
long net_core_sysctl(const char *name);

struct msghdr;
/* A datagram's arrival from its SO_TIMESTAMPNS control message plus
 * @clock_offset_ns (the caller's clock minus CLOCK_REALTIME); @now_ns
 * where it has none. */
uint64_t net_rx_stamp(const struct msghdr *mh, uint64_t now_ns,
		      int64_t clock_offset_ns);
/* Its destination address, the local address it came to (the same for
 * unicast; for a broadcast or a group, the interface's) and interface
 * (IP_PKTINFO), network order; 0 where none. */
void net_rx_dest(const struct msghdr *mh, uint32_t *daddr, uint32_t *local,
		 int *ifindex);

/* The first IPv4 address of interface @ifname and its MAC (zeros when it
 * has none): a sender's origin on that network. 0, -EADDRNOTAVAIL (it
 * has no IPv4 address), or net_ifindex()'s error (-ENODEV: no such
 * interface; -EMFILE: out of descriptors). */
int net_iface_addr(const char *ifname, struct in_addr *addr, uint8_t mac[6]);

/* The up interface whose IPv4 subnet holds @addr (a peer on a network
 * this host is on, or one of its own addresses), its name into @ifname
 * (@len bytes). 0, or -ENOENT when no interface's subnet has it. */
int net_iface_for(struct in_addr addr, char *ifname, size_t len);

/* Take only packets that came in on @ifname (SO_BINDTODEVICE): two
 * sockets of one port, one per network, each hear their own. 0 or
 * -errno. */
int net_bind_device(int fd, const char *ifname);
/* Whether interface @ifname has its link (up and running: a carrier), by
 * SIOCGIFFLAGS on the datagram socket @fd: 1, 0, or -errno (-ENODEV: no
 * such interface). */
int net_iface_link(int fd, const char *ifname);

#endif
