/* Route and neighbour look-ups over rtnetlink for the kernel back end
 * (kern_route.h). One request, one answer; nothing is cached here. */
#include "d4/kern_route.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#define NL_BUF 8192

int kroute_open(struct kroute *r)
{
	struct sockaddr_nl sa = {.nl_family = AF_NETLINK};
	struct timeval tmo = {.tv_sec = 1};

	r->seq = 1;
	r->udp = -1;
	r->nl = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (r->nl < 0)
		return -errno;
	/* an answer never takes long; a lost one must not hang the node */
	setsockopt(r->nl, SOL_SOCKET, SO_RCVTIMEO, &tmo, sizeof(tmo));
	if (bind(r->nl, (struct sockaddr *)&sa, sizeof(sa))) {
		int ret = -errno;

		close(r->nl);
		r->nl = -1;
		return ret;
	}
	r->udp = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	return 0;
}

void kroute_close(struct kroute *r)
{
	if (r->nl >= 0)
		close(r->nl);
	if (r->udp >= 0)
		close(r->udp);
	r->nl = r->udp = -1;
}

static void add_attr(struct nlmsghdr *nh, unsigned short type, const void *d,
		     unsigned short len)
{
	struct rtattr *a =
	    (struct rtattr *)((char *)nh + NLMSG_ALIGN(nh->nlmsg_len));

	a->rta_type = type;
	a->rta_len = (unsigned short)RTA_LENGTH(len);
	memcpy(RTA_DATA(a), d, len);
	nh->nlmsg_len = NLMSG_ALIGN(nh->nlmsg_len) + RTA_ALIGN(a->rta_len);
}

/* Send @req, receive the one answer into @buf: its length, or -errno
 * (the kernel's error for an NLMSG_ERROR). */
static int nl_ask(struct kroute *r, struct nlmsghdr *req, char *buf)
{
	struct nlmsghdr *nh;
	ssize_t n;

	req->nlmsg_seq = ++r->seq;
	if (send(r->nl, req, req->nlmsg_len, 0) < 0)
		return -errno;
	for (;;) {
		n = recv(r->nl, buf, NL_BUF, 0);
		if (n < 0)
			return -errno;
		nh = (struct nlmsghdr *)buf;
		if (!NLMSG_OK(nh, (size_t)n))
			return -EIO;
		if (nh->nlmsg_seq != r->seq)
			continue; /* a late answer to an earlier question */
		if (nh->nlmsg_type == NLMSG_ERROR) {
			struct nlmsgerr *e = NLMSG_DATA(nh);

			return e->error ? e->error : 0;
		}
		return (int)n;
	}
}

struct route {
	uint8_t type;
	int oif;
	uint32_t gw;	  /* network order, 0: on the link */
	uint32_t prefsrc; /* network order */
};

/* The main table's default route (dst 0.0.0.0/0), from a dump. */
static int route_default(struct kroute *r, struct route *rt)
{
	struct {
		struct nlmsghdr nh;
		struct rtmsg rtm;
	} req = {0};
	char buf[NL_BUF];
	struct nlmsghdr *nh;
	ssize_t n;
	int found = -ENETUNREACH;

	req.nh.nlmsg_len = NLMSG_LENGTH(sizeof(req.rtm));
	req.nh.nlmsg_type = RTM_GETROUTE;
	req.nh.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	req.nh.nlmsg_seq = ++r->seq;
	req.rtm.rtm_family = AF_INET;
	if (send(r->nl, &req, req.nh.nlmsg_len, 0) < 0)
		return -errno;
	for (;;) {
		n = recv(r->nl, buf, sizeof(buf), 0);
		if (n < 0)
			return -errno;
		for (nh = (struct nlmsghdr *)buf; NLMSG_OK(nh, (size_t)n);
		     nh = NLMSG_NEXT(nh, n)) {
			struct rtmsg *rtm = NLMSG_DATA(nh);
			struct rtattr *a;
			int len;

			if (nh->nlmsg_seq != r->seq)
				continue;
			if (nh->nlmsg_type == NLMSG_DONE ||
			    nh->nlmsg_type == NLMSG_ERROR)
				return found;
			if (nh->nlmsg_type != RTM_NEWROUTE ||
			    rtm->rtm_dst_len ||
			    rtm->rtm_table != RT_TABLE_MAIN ||
			    rtm->rtm_type != RTN_UNICAST || !found)
				continue;
			memset(rt, 0, sizeof(*rt));
			rt->type = rtm->rtm_type;
			len = (int)RTM_PAYLOAD(nh);
			for (a = RTM_RTA(rtm); RTA_OK(a, len);
			     a = RTA_NEXT(a, len)) {
				if (a->rta_type == RTA_OIF)
					memcpy(&rt->oif, RTA_DATA(a), 4);
				else if (a->rta_type == RTA_GATEWAY)
					memcpy(&rt->gw, RTA_DATA(a), 4);
				else if (a->rta_type == RTA_PREFSRC)
					memcpy(&rt->prefsrc, RTA_DATA(a), 4);
			}
			if (rt->oif)
				found = 0;
		}
	}
}

static int route_get(struct kroute *r, uint32_t dst, struct route *rt)
{
	struct {
		struct nlmsghdr nh;
		struct rtmsg rtm;
		char attrs[64];
	} req = {0};
	char buf[NL_BUF];
	struct nlmsghdr *nh = (struct nlmsghdr *)buf;
	struct rtmsg *rtm;
	struct rtattr *a;
	uint32_t be = htonl(dst);
	int n, len;

	req.nh.nlmsg_len = NLMSG_LENGTH(sizeof(req.rtm));
	req.nh.nlmsg_type = RTM_GETROUTE;
	req.nh.nlmsg_flags = NLM_F_REQUEST;
	req.rtm.rtm_family = AF_INET;
	req.rtm.rtm_dst_len = 32;
	add_attr(&req.nh, RTA_DST, &be, 4);
	n = nl_ask(r, &req.nh, buf);
	if (n < 0)
		return n;
	if (nh->nlmsg_type != RTM_NEWROUTE)
		return -EIO;
	rtm = NLMSG_DATA(nh);
	memset(rt, 0, sizeof(*rt));
	rt->type = rtm->rtm_type;
	len = (int)RTM_PAYLOAD(nh);
	for (a = RTM_RTA(rtm); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
		if (a->rta_type == RTA_OIF)
			memcpy(&rt->oif, RTA_DATA(a), 4);
		else if (a->rta_type == RTA_GATEWAY)
			memcpy(&rt->gw, RTA_DATA(a), 4);
		else if (a->rta_type == RTA_PREFSRC)
			memcpy(&rt->prefsrc, RTA_DATA(a), 4);
	}
	return rt->oif ? 0 : -ENETUNREACH;
}

/* The neighbour's Ethernet address when the kernel has a usable one:
 * 1, 0 (none, or not resolved), -errno. */
static int neigh_get(struct kroute *r, uint32_t addr_be, int ifindex,
		     uint8_t mac[6])
{
	struct {
		struct nlmsghdr nh;
		struct ndmsg ndm;
		char attrs[64];
	} req = {0};
	char buf[NL_BUF];
	struct nlmsghdr *nh = (struct nlmsghdr *)buf;
	struct ndmsg *ndm;
	struct rtattr *a;
	int n, len, got = 0;

	req.nh.nlmsg_len = NLMSG_LENGTH(sizeof(req.ndm));
	req.nh.nlmsg_type = RTM_GETNEIGH;
	req.nh.nlmsg_flags = NLM_F_REQUEST;
	req.ndm.ndm_family = AF_INET;
	req.ndm.ndm_ifindex = ifindex;
	add_attr(&req.nh, NDA_DST, &addr_be, 4);
	n = nl_ask(r, &req.nh, buf);
	if (n == -ENOENT)
		return 0;
	if (n < 0)
		return n;
	if (nh->nlmsg_type != RTM_NEWNEIGH)
		return -EIO;
	ndm = NLMSG_DATA(nh);
	if (!(ndm->ndm_state & (NUD_REACHABLE | NUD_STALE | NUD_DELAY |
				NUD_PROBE | NUD_PERMANENT | NUD_NOARP)))
		return 0;
	len = (int)(nh->nlmsg_len - NLMSG_LENGTH(sizeof(*ndm)));
	for (a = (struct rtattr *)((char *)ndm + NLMSG_ALIGN(sizeof(*ndm)));
	     RTA_OK(a, len); a = RTA_NEXT(a, len)) {
		if (a->rta_type == NDA_LLADDR && RTA_PAYLOAD(a) == 6) {
			memcpy(mac, RTA_DATA(a), 6);
			got = 1;
		}
	}
	return got;
}

/* The interface's MAC, flags, first IPv4 address (network order). */
static int link_info(int ifindex, uint8_t mac[6], short *flags, uint32_t *addr)
{
	struct ifreq ifr = {0};
	int fd, ret = 0;

	if (!if_indextoname((unsigned int)ifindex, ifr.ifr_name))
		return -ENODEV;
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (ioctl(fd, SIOCGIFFLAGS, &ifr)) {
		ret = -errno;
		goto out;
	}
	*flags = ifr.ifr_flags;
	memset(mac, 0, 6);
	if (!ioctl(fd, SIOCGIFHWADDR, &ifr) &&
	    ifr.ifr_hwaddr.sa_family == ARPHRD_ETHER)
		memcpy(mac, ifr.ifr_hwaddr.sa_data, 6);
	*addr = 0;
	if (!ioctl(fd, SIOCGIFADDR, &ifr))
		*addr = ((struct sockaddr_in *)&ifr.ifr_addr)->sin_addr.s_addr;
out:
	close(fd);
	return ret;
}

int kroute_mtu(int ifindex)
{
	struct ifreq ifr = {0};
	int fd, ret;

	if (!if_indextoname((unsigned int)ifindex, ifr.ifr_name))
		return -ENODEV;
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	ret = ioctl(fd, SIOCGIFMTU, &ifr) ? -errno : ifr.ifr_mtu;
	close(fd);
	return ret;
}

int kroute_lookup(struct kroute *r, uint32_t dst, uint8_t ttl,
		  struct d4_bpf_neigh *nb)
{
	struct route rt;
	uint32_t nh, ifaddr;
	short flags;
	int ret;

	memset(nb, 0, sizeof(*nb));
	nb->ttl = ttl;
	ret = dst ? route_get(r, dst, &rt) : route_default(r, &rt);
	if (ret)
		return ret;
	ret = link_info(rt.oif, nb->smac, &flags, &ifaddr);
	if (ret)
		return ret;
	nb->saddr = rt.prefsrc ? rt.prefsrc : ifaddr;
	switch (rt.type) {
	case RTN_LOCAL:
		/* our own address: out through the loopback, which needs no
		 * neighbour (the clone comes back in and up the stack) */
		nb->ifindex = (uint32_t)rt.oif;
		return 1;
	case RTN_BROADCAST:
		memset(nb->dmac, 0xff, 6);
		nb->ifindex = (uint32_t)rt.oif;
		return 1;
	case RTN_UNICAST:
		break;
	default:
		return -ENETUNREACH;
	}
	if (flags & (IFF_NOARP | IFF_LOOPBACK)) {
		nb->ifindex = (uint32_t)rt.oif;
		return 1;
	}
	nh = rt.gw ? rt.gw : htonl(dst);
	ret = neigh_get(r, nh, rt.oif, nb->dmac);
	if (ret < 0)
		return ret;
	if (ret == 0)
		return 0; /* not yet: ifindex stays 0 */
	nb->ifindex = (uint32_t)rt.oif;
	return 1;
}

int kroute_mcast(struct kroute *r, uint32_t group, int ifindex, uint8_t ttl,
		 struct d4_bpf_neigh *nb)
{
	uint32_t ifaddr;
	short flags;
	int ret;

	(void)r;
	memset(nb, 0, sizeof(*nb));
	ret = link_info(ifindex, nb->smac, &flags, &ifaddr);
	if (ret)
		return ret;
	/* RFC 1112: 01:00:5e and the group's low 23 bits */
	nb->dmac[0] = 0x01;
	nb->dmac[1] = 0x00;
	nb->dmac[2] = 0x5e;
	nb->dmac[3] = (uint8_t)(group >> 16 & 0x7f);
	nb->dmac[4] = (uint8_t)(group >> 8);
	nb->dmac[5] = (uint8_t)group;
	nb->saddr = ifaddr;
	nb->ifindex = (uint32_t)ifindex;
	nb->ttl = ttl;
	return 0;
}

void kroute_prime(struct kroute *r, uint32_t dst)
{
	struct {
		struct nlmsghdr nh;
		struct ndmsg ndm;
		char attrs[64];
	} req = {0};
	char buf[NL_BUF];
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(9)};
	struct route rt;
	uint32_t nh;

	if ((dst ? route_get(r, dst, &rt) : route_default(r, &rt)) ||
	    rt.type != RTN_UNICAST)
		return;
	nh = rt.gw ? rt.gw : htonl(dst);
	req.nh.nlmsg_len = NLMSG_LENGTH(sizeof(req.ndm));
	req.nh.nlmsg_type = RTM_NEWNEIGH;
	req.nh.nlmsg_flags =
	    NLM_F_REQUEST | NLM_F_CREATE | NLM_F_REPLACE | NLM_F_ACK;
	req.ndm.ndm_family = AF_INET;
	req.ndm.ndm_ifindex = rt.oif;
	req.ndm.ndm_state = NUD_NONE;
	req.ndm.ndm_flags = NTF_USE;
	add_attr(&req.nh, NDA_DST, &nh, 4);
	if (!nl_ask(r, &req.nh, buf) || r->udp < 0)
		return;
	/* no CAP_NET_ADMIN (a node after dropping privileges): a datagram
	 * for the discard port makes the stack resolve the next hop */
	if (!dst)
		return;
	sa.sin_addr.s_addr = htonl(dst);
	sendto(r->udp, "", 0, MSG_DONTWAIT, (struct sockaddr *)&sa, sizeof(sa));
}
