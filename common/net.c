/* Socket set-up only; the packet loops live with their users. */
#include "common/net.h"
#include "common/log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

int net_parse_endpoint(const char *s, uint16_t default_port,
		       struct sockaddr_in *out)
{
	char host[INET_ADDRSTRLEN];
	const char *colon = strchr(s, ':');
	size_t hlen = colon ? (size_t)(colon - s) : strlen(s);
	unsigned long port = default_port;

	if (hlen == 0 || hlen >= sizeof(host))
		return -EINVAL;
	memcpy(host, s, hlen);
	host[hlen] = '\0';
	if (colon) {
		char *end;

		errno = 0;
		port = strtoul(colon + 1, &end, 10);
		if (errno || end == colon + 1 || *end || port == 0 ||
		    port > 65535)
			return -EINVAL;
	}
	memset(out, 0, sizeof(*out));
	out->sin_family = AF_INET;
	out->sin_port = htons((uint16_t)port);
	if (inet_pton(AF_INET, host, &out->sin_addr) != 1)
		return -EINVAL;
	return 0;
}

const char *net_endpoint_str(const struct sockaddr_in *sa, char *buf,
			     size_t len)
{
	char host[INET_ADDRSTRLEN];

	inet_ntop(AF_INET, &sa->sin_addr, host, sizeof(host));
	snprintf(buf, len, "%s:%u", host, ntohs(sa->sin_port));
	return buf;
}

bool net_is_multicast(const struct sockaddr_in *sa)
{
	return IN_MULTICAST(ntohl(sa->sin_addr.s_addr));
}

int net_set_dscp(int fd, int dscp)
{
	int tos = dscp << 2;

	if (dscp < 0 || dscp > 63)
		return -EINVAL;
	if (setsockopt(fd, IPPROTO_IP, IP_TOS, &tos, sizeof(tos)) < 0) {
		int err = errno;

		log_err("setsockopt(IP_TOS, dscp %d): %m", dscp);
		return -err;
	}
	return 0;
}

/* connect() picks the route; its interface gives the MAC. */
void net_egress(const struct sockaddr_in *dst, struct in_addr *addr,
		uint8_t mac[6])
{
	struct sockaddr_in local;
	socklen_t len = sizeof(local);
	struct ifaddrs *ifa, *i;
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	memset(mac, 0, 6);
	addr->s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0)
		return;
	if (connect(fd, (const struct sockaddr *)dst, sizeof(*dst)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&local, &len) == 0)
		*addr = local.sin_addr;
	if (getifaddrs(&ifa) == 0) {
		/* Multicast routes leave the source open: take the first
		 * up, non-loopback IPv4 address, as a sender's SDP needs a
		 * real origin for receivers' source filters. */
		for (i = ifa; i && addr->s_addr == htonl(INADDR_ANY);
		     i = i->ifa_next) {
			if (i->ifa_addr && i->ifa_addr->sa_family == AF_INET &&
			    (i->ifa_flags & IFF_UP) &&
			    !(i->ifa_flags & IFF_LOOPBACK))
				*addr = ((struct sockaddr_in *)i->ifa_addr)
					    ->sin_addr;
		}
		if (addr->s_addr == htonl(INADDR_ANY))
			addr->s_addr = htonl(INADDR_LOOPBACK);
		for (i = ifa; i; i = i->ifa_next) {
			struct ifreq ifr = {0};

			if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET ||
			    ((struct sockaddr_in *)i->ifa_addr)
				    ->sin_addr.s_addr != addr->s_addr)
				continue;
			snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s",
				 i->ifa_name);
			if (ioctl(fd, SIOCGIFHWADDR, &ifr) == 0)
				memcpy(mac, ifr.ifr_hwaddr.sa_data, 6);
			break;
		}
		freeifaddrs(ifa);
	}
	close(fd);
}

int net_ifindex(const char *ifname)
{
	struct ifreq ifr = {0};
	int fd, err;

	if (!ifname || !*ifname)
		return 0;
	if (strlen(ifname) >= sizeof(ifr.ifr_name))
		return -ENODEV;
	memcpy(ifr.ifr_name, ifname, strlen(ifname));
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	err = ioctl(fd, SIOCGIFINDEX, &ifr) < 0 ? -errno : ifr.ifr_ifindex;
	close(fd);
	return err;
}

/* An interface name comes from a config or an API request (each one a
 * line, unless limited); the callers say it again with their context. */
static struct log_ratelimit ifindex_rl =
    LOG_RATELIMIT_INIT(10 * 1000 * 1000 * 1000ull, 5);

static int ifindex_of(const char *ifname)
{
	int idx = net_ifindex(ifname);
	unsigned int supp;

	if (idx < 0 && log_ratelimit_ok(&ifindex_rl, &supp))
		log_err("interface '%s': %s%s", ifname, strerror(-idx),
			supp ? " (and earlier ones not logged)" : "");
	return idx;
}

int net_udp_tx_open(const struct sockaddr_in *dst,
		    const struct net_tx_opts *opts)
{
	int fd, err, ifindex;

	fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		err = errno;
		log_err("socket: %m");
		return -err;
	}
	err = net_set_dscp(fd, opts->dscp);
	if (err)
		goto out_close;
	if (opts->src.s_addr != htonl(INADDR_ANY)) {
		/* Send from a real address: an unbound socket may send
		 * multicast from 0.0.0.0, which no source filter admits. */
		struct sockaddr_in src = {.sin_family = AF_INET,
					  .sin_addr = opts->src};

		if (bind(fd, (struct sockaddr *)&src, sizeof(src)) < 0) {
			err = -errno;
			log_err("bind(%s): %m", inet_ntoa(opts->src));
			goto out_close;
		}
	}
	if (net_is_multicast(dst)) {
		int ttl = opts->ttl;
		int loop = 1;
		struct ip_mreqn mreq = {0};

		ifindex = ifindex_of(opts->ifname);
		if (ifindex < 0) {
			err = ifindex;
			goto out_close;
		}
		if (setsockopt(fd, IPPROTO_IP, IP_MULTICAST_TTL, &ttl,
			       sizeof(ttl)) < 0 ||
		    setsockopt(fd, IPPROTO_IP, IP_MULTICAST_LOOP, &loop,
			       sizeof(loop)) < 0) {
			err = -errno;
			log_err("setsockopt(multicast ttl/loop): %m");
			goto out_close;
		}
		if (ifindex) {
			mreq.imr_ifindex = ifindex;
			if (setsockopt(fd, IPPROTO_IP, IP_MULTICAST_IF, &mreq,
				       sizeof(mreq)) < 0) {
				err = -errno;
				log_err("setsockopt(IP_MULTICAST_IF %s): %m",
					opts->ifname);
				goto out_close;
			}
		}
	}
	return fd;

out_close:
	close(fd);
	return err;
}

/* The shared sending sockets: one per set of options, so that the media
 * thread sends the packets of every flow that shares it in one
 * sendmmsg(). A flow's packets then leave from the socket's port, which
 * AES67 receivers do not look at (they know a stream by its group, port
 * and SSRC; a source filter by its address). */
#define TX_SHARED_MAX 256
/* Flows on one socket at most. They share its send buffer too, which a
 * network card's queue holds on to until the packets are on the wire:
 * a socket takes another flow only where its buffer can grow to what
 * each flow had on a socket of its own (the default, wmem_default) times
 * its users, forced where permitted (CAP_NET_ADMIN: a node started as
 * root, for the flows it starts with), else as far as net.core.wmem_max
 * lets it; never shrunk. Where it cannot, the flow tries the next
 * socket of its options, or opens one of its own. */
#define TX_SHARED_USERS 16

struct tx_shared {
	int fd; /* -1: a free slot */
	unsigned int refs;
	int unit; /* a lone socket's send buffer (SO_SNDBUF as opened) */
	struct in_addr src;
	int dscp, ttl;
	bool mcast;
	int ifindex; /* as opened: a re-created interface gets a new one */
};

static struct tx_shared tx_shared[TX_SHARED_MAX];
static unsigned int tx_nshared;
static pthread_mutex_t tx_shared_lock = PTHREAD_MUTEX_INITIALIZER;
static bool tx_shared_said; /* the wmem_max advice, once */

static bool tx_shared_match(const struct tx_shared *t, bool mcast,
			    int ifindex, const struct net_tx_opts *opts)
{
	return t->fd >= 0 && t->refs < TX_SHARED_USERS && t->mcast == mcast &&
	       t->src.s_addr == opts->src.s_addr && t->dscp == opts->dscp &&
	       (!mcast || (t->ttl == opts->ttl && t->ifindex == ifindex));
}

int net_sockbuf(int fd, int opt)
{
	int v = 0;
	socklen_t len = sizeof(v);

	if (getsockopt(fd, SOL_SOCKET, opt, &v, &len) < 0)
		return 0;
	return v;
}

long net_core_sysctl(const char *name)
{
	char path[64];
	FILE *f;
	long v = 0;

	snprintf(path, sizeof(path), "/proc/sys/net/core/%s", name);
	f = fopen(path, "r");
	if (f) {
		if (fscanf(f, "%ld", &v) != 1)
			v = 0;
		fclose(f);
	}
	return v;
}

/* Grow @t's send buffer for one more user; whether it now holds what
 * each of them had alone. The kernel keeps twice what it is asked for. */
static bool tx_shared_grow(struct tx_shared *t)
{
	long want = (long)(t->refs + 1) * t->unit, max;
	int ask = (int)(want / 2), cur = net_sockbuf(t->fd, SO_SNDBUF);

	if (cur >= want)
		return true;
	if (setsockopt(t->fd, SOL_SOCKET, SO_SNDBUFFORCE, &ask, sizeof(ask)) <
	    0) {
		/* SO_SNDBUF is capped at wmem_max: asked only where that
		 * grows the buffer (a forced one must not shrink) */
		max = net_core_sysctl("wmem_max");
		if (max > 0 && 2 * (ask < max ? ask : max) > cur)
			setsockopt(t->fd, SOL_SOCKET, SO_SNDBUF, &ask,
				   sizeof(ask));
	}
	if (net_sockbuf(t->fd, SO_SNDBUF) >= want)
		return true;
	if (!tx_shared_said) {
		tx_shared_said = true;
		log_info("flows share a sending socket %u at a time: "
			 "net.core.wmem_max (%ld) holds no more; raise it "
			 "(docs/config.md) for fewer system calls",
			 t->refs, net_core_sysctl("wmem_max"));
	}
	return false;
}

int net_udp_tx_share(const struct sockaddr_in *dst,
		     const struct net_tx_opts *opts)
{
	bool mcast = net_is_multicast(dst);
	int ifindex = mcast ? ifindex_of(opts->ifname) : 0;
	struct tx_shared *t, *free_slot = NULL;
	unsigned int i;
	int fd;

	if (ifindex < 0)
		return ifindex;
	pthread_mutex_lock(&tx_shared_lock);
	for (i = 0; i < tx_nshared; i++) {
		t = &tx_shared[i];
		if (tx_shared_match(t, mcast, ifindex, opts) &&
		    tx_shared_grow(t)) {
			t->refs++;
			pthread_mutex_unlock(&tx_shared_lock);
			return t->fd;
		}
		if (t->fd < 0 && !free_slot)
			free_slot = t;
	}
	if (!free_slot && tx_nshared < TX_SHARED_MAX)
		free_slot = &tx_shared[tx_nshared++];
	fd = net_udp_tx_open(dst, opts);
	if (fd >= 0 && free_slot) {
		*free_slot = (struct tx_shared){
		    .fd = fd,
		    .refs = 1,
		    .unit = net_sockbuf(fd, SO_SNDBUF),
		    .src = opts->src,
		    .dscp = opts->dscp,
		    .ttl = opts->ttl,
		    .mcast = mcast,
		    .ifindex = ifindex,
		};
	} else if (free_slot && free_slot == &tx_shared[tx_nshared - 1]) {
		/* not used after all (the socket failed) */
		tx_nshared--;
	}
	/* a full table: a socket of the caller's own, closed by
	 * net_udp_tx_unshare() as one it does not find */
	pthread_mutex_unlock(&tx_shared_lock);
	return fd;
}

void net_udp_tx_unshare(int fd)
{
	unsigned int i;

	if (fd < 0)
		return;
	pthread_mutex_lock(&tx_shared_lock);
	for (i = 0; i < tx_nshared; i++) {
		if (tx_shared[i].fd != fd)
			continue;
		if (--tx_shared[i].refs == 0) {
			tx_shared[i].fd = -1;
			close(fd);
		}
		pthread_mutex_unlock(&tx_shared_lock);
		return;
	}
	pthread_mutex_unlock(&tx_shared_lock);
	close(fd);
}

unsigned int net_udp_tx_shared_users(int fd)
{
	unsigned int i, refs = 0;

	pthread_mutex_lock(&tx_shared_lock);
	for (i = 0; i < tx_nshared; i++)
		if (tx_shared[i].fd == fd)
			refs = tx_shared[i].refs;
	pthread_mutex_unlock(&tx_shared_lock);
	return refs;
}

/* net_udp_rx_open()'s failures to bind or join (control thread) */
static struct log_ratelimit rx_open_rl =
    LOG_RATELIMIT_INIT(10 * 1000 * 1000 * 1000ull, 5);

int net_udp_rx_open(const struct sockaddr_in *addr, const char *ifname)
{
	int fd, err, ifindex, on = 1, off = 0, rcvbuf = 4 << 20;
	unsigned int supp;
	struct sockaddr_in bind_addr = *addr;

	ifindex = ifindex_of(ifname);
	if (ifindex < 0)
		return ifindex;
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		err = -errno;
		/* the caller says it with its context; API requests can ask
		 * for sockets as fast as they come */
		if (log_ratelimit_ok(&rx_open_rl, &supp))
			log_err("receive socket: %s%s", strerror(-err),
				supp ? " (and earlier ones not logged)" : "");
		return err;
	}
	/* Several receivers of one group on a host each get every packet. */
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof(on)) < 0) {
		err = -errno;
		log_err("setsockopt(SO_REUSEADDR/SO_TIMESTAMPNS): %m");
		goto out_close;
	}
	/* A socket on port P gets only the groups it joined itself, not
	 * every group another socket of the host joined on P (Linux's
	 * default): a unicast route on 0.0.0.0:5004 beside a multicast one
	 * on 239.x:5004 must not hear that stream. */
	if (setsockopt(fd, IPPROTO_IP, IP_MULTICAST_ALL, &off, sizeof(off)) <
	    0) {
		err = -errno;
		log_err("setsockopt(IP_MULTICAST_ALL): %m");
		goto out_close;
	}
	/* Best effort: a larger buffer rides out a late media thread. */
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	if (!net_is_multicast(addr) && addr->sin_addr.s_addr != INADDR_ANY) {
		/* A unicast subscription listens on every local address. */
		bind_addr.sin_addr.s_addr = htonl(INADDR_ANY);
	}
	if (bind(fd, (struct sockaddr *)&bind_addr, sizeof(bind_addr)) < 0) {
		char ep[32];

		err = -errno;
		/* the caller says it too; an address any host's SAP can
		 * name must not log a line per announcement */
		if (log_ratelimit_ok(&rx_open_rl, &supp))
			log_err("bind %s: %s%s",
				net_endpoint_str(addr, ep, sizeof(ep)),
				strerror(-err),
				supp ? " (and earlier ones not logged)" : "");
		goto out_close;
	}
	if (net_is_multicast(addr)) {
		struct ip_mreqn mreq = {0};

		mreq.imr_multiaddr = addr->sin_addr;
		mreq.imr_ifindex = ifindex;
		if (setsockopt(fd, IPPROTO_IP, IP_ADD_MEMBERSHIP, &mreq,
			       sizeof(mreq)) < 0) {
			err = -errno;
			if (log_ratelimit_ok(&rx_open_rl, &supp))
				log_err("IP_ADD_MEMBERSHIP: %s%s",
					strerror(-err),
					supp ? " (and earlier ones not logged)"
					     : "");
			goto out_close;
		}
	}
	return fd;

out_close:
	close(fd);
	return err;
}

uint64_t net_rx_stamp(const struct msghdr *mh, uint64_t now_ns,
		      int64_t clock_offset_ns)
{
	struct cmsghdr *c;

	for (c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR((struct msghdr *)mh, c)) {
		struct timespec ts;

		if (c->cmsg_level != SOL_SOCKET ||
		    c->cmsg_type != SCM_TIMESTAMPNS)
			continue;
		memcpy(&ts, CMSG_DATA(c), sizeof(ts));
		return (uint64_t)ts.tv_sec * 1000000000ull +
		       (uint64_t)ts.tv_nsec + (uint64_t)clock_offset_ns;
	}
	return now_ns;
}

void net_rx_dest(const struct msghdr *mh, uint32_t *daddr, uint32_t *local,
		 int *ifindex)
{
	struct cmsghdr *c;

	*daddr = 0;
	*local = 0;
	*ifindex = 0;
	for (c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR((struct msghdr *)mh, c)) {
		struct in_pktinfo pi;

		if (c->cmsg_level != IPPROTO_IP || c->cmsg_type != IP_PKTINFO)
			continue;
		memcpy(&pi, CMSG_DATA(c), sizeof(pi));
		*daddr = pi.ipi_addr.s_addr;
		*local = pi.ipi_spec_dst.s_addr;
		*ifindex = pi.ipi_ifindex;
		return;
	}
}

int net_iface_addr(const char *ifname, struct in_addr *addr, uint8_t mac[6])
{
	struct ifaddrs *ifa, *i;
	struct ifreq ifr = {0};
	int rc = -ENODEV, fd;

	memset(mac, 0, 6);
	if (getifaddrs(&ifa) < 0)
		return -errno;
	for (i = ifa; i; i = i->ifa_next) {
		if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET ||
		    strcmp(i->ifa_name, ifname))
			continue;
		*addr = ((struct sockaddr_in *)i->ifa_addr)->sin_addr;
		rc = 0;
		break;
	}
	freeifaddrs(ifa);
	if (rc < 0) {
		/* none with an IPv4 address: say whether there is no such
		 * interface (or no descriptor to ask with), or no address */
		int idx = net_ifindex(ifname);

		return idx < 0 ? idx : -EADDRNOTAVAIL;
	}
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	if (fd >= 0 && ioctl(fd, SIOCGIFHWADDR, &ifr) == 0)
		memcpy(mac, ifr.ifr_hwaddr.sa_data, 6);
	if (fd >= 0)
		close(fd);
	return 0;
}

int net_iface_for(struct in_addr addr, char *ifname, size_t len)
{
	struct ifaddrs *ifa, *i;
	int rc = -ENOENT;

	if (getifaddrs(&ifa) < 0)
		return -errno;
	for (i = ifa; i; i = i->ifa_next) {
		uint32_t a, m;

		if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET ||
		    !i->ifa_netmask || !(i->ifa_flags & IFF_UP) ||
		    (i->ifa_flags & IFF_LOOPBACK))
			continue;
		a = ((struct sockaddr_in *)i->ifa_addr)->sin_addr.s_addr;
		m = ((struct sockaddr_in *)i->ifa_netmask)->sin_addr.s_addr;
		if ((a & m) == (addr.s_addr & m)) {
			snprintf(ifname, len, "%s", i->ifa_name);
			rc = 0;
			break;
		}
	}
	freeifaddrs(ifa);
	return rc;
}

int net_iface_link(int fd, const char *ifname)
{
	struct ifreq ifr = {0};

	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0)
		return -errno;
	return (ifr.ifr_flags & IFF_UP) && (ifr.ifr_flags & IFF_RUNNING);
}

int net_bind_device(int fd, const char *ifname)
{
	if (setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, ifname,
		       (socklen_t)strlen(ifname) + 1) < 0) {
		int err = errno;

		log_err("setsockopt(SO_BINDTODEVICE %s): %m", ifname);
		return -err;
	}
	return 0;
}
