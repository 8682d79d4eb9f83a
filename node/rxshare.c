/* The table of shared receive sockets (see rxshare.h). */
#include "node/rxshare.h"
#include "common/log.h"
#include "common/net.h"

#include <errno.h>
#include <linux/filter.h>
#include <net/if.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Readers at most (each of up to RXSHARE_USERS subscriptions; the media
 * table holds 64). */
#define RXSHARE_MAX 64

struct member {
	struct in_addr grp;
	int ifindex;
	unsigned int refs;
};

struct rxshare {
	int fd; /* -1: a free slot */
	const void *owner;
	unsigned int port;
	unsigned int refs;
	unsigned int nmemb;
	struct member memb[RXSHARE_USERS];
};

static struct rxshare readers[RXSHARE_MAX];
static unsigned int nreaders;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static bool rmem_said; /* the rmem_max advice, once */

/* Grow @r's receive buffer to @users subscriptions' share; whether it
 * now holds it. The kernel keeps twice what it is asked for. */
static bool grow(struct rxshare *r, unsigned int users)
{
	long want = (long)users * RXSHARE_UNIT, max;
	int ask = want / 2 > 0x3fffffff ? 0x3fffffff : (int)(want / 2);
	int cur = net_sockbuf(r->fd, SO_RCVBUF);

	if (cur >= want)
		return true;
	if (setsockopt(r->fd, SOL_SOCKET, SO_RCVBUFFORCE, &ask, sizeof(ask)) <
	    0) {
		/* SO_RCVBUF is capped at rmem_max: asked only where that
		 * grows the buffer (a forced one must not shrink) */
		max = net_core_sysctl("rmem_max");
		if (max > 0 && 2 * (ask < max ? ask : max) > cur)
			setsockopt(r->fd, SOL_SOCKET, SO_RCVBUF, &ask,
				   sizeof(ask));
	}
	if (net_sockbuf(r->fd, SO_RCVBUF) >= want)
		return true;
	if (!rmem_said) {
		rmem_said = true;
		log_info("a subscription on port %u could not share a "
			 "receiving socket with %u other%s: net.core.rmem_max "
			 "(%ld) holds no more; raise it (on the host: "
			 "docs/config.md \"Receiving sockets\") for fewer "
			 "system calls",
			 r->port, users - 1, users == 2 ? "" : "s",
			 net_core_sysctl("rmem_max"));
	}
	return false;
}

static struct member *member_find(struct rxshare *r, struct in_addr grp,
				  int ifindex)
{
	unsigned int i;

	for (i = 0; i < r->nmemb; i++)
		if (r->memb[i].grp.s_addr == grp.s_addr &&
		    r->memb[i].ifindex == ifindex)
			return &r->memb[i];
	return NULL;
}

/* -errno */
static int member_add(struct rxshare *r, struct in_addr grp, int ifindex)
{
	struct ip_mreqn mreq = {.imr_multiaddr = grp, .imr_ifindex = ifindex};

	if (setsockopt(r->fd, IPPROTO_IP, IP_ADD_MEMBERSHIP, &mreq,
		       sizeof(mreq)) < 0)
		return -errno;
	r->memb[r->nmemb++] = (struct member){grp, ifindex, 0};
	return 0;
}

/* Leave @mb's group (it has no subscription left). */
static void member_drop(struct rxshare *r, struct member *mb)
{
	struct ip_mreqn mreq = {.imr_multiaddr = mb->grp,
				.imr_ifindex = mb->ifindex};

	/* fails only for an interface gone (the kernel dropped the
	 * membership with it), or, joined on the kernel's choice, when the
	 * route to the group moved since: then it stays until the reader
	 * closes */
	setsockopt(r->fd, IPPROTO_IP, IP_DROP_MEMBERSHIP, &mreq, sizeof(mreq));
	*mb = r->memb[--r->nmemb];
}

/* Whether @r holds group @grp on another interface than @ifindex. */
static bool group_elsewhere(const struct rxshare *r, struct in_addr grp,
			    int ifindex)
{
	unsigned int i;

	for (i = 0; i < r->nmemb; i++)
		if (r->memb[i].grp.s_addr == grp.s_addr &&
		    r->memb[i].ifindex != ifindex)
			return true;
	return false;
}

/* Whether @r can take group @grp on @ifindex: a membership it has or a
 * free one, and room in its buffer (grown for it: never shrunk). Takes
 * it if so. */
static bool take(struct rxshare *r, struct in_addr grp, int ifindex)
{
	struct member *mb = member_find(r, grp, ifindex);

	if (r->refs >= RXSHARE_USERS || (!mb && r->nmemb >= RXSHARE_USERS) ||
	    group_elsewhere(r, grp, ifindex) || !grow(r, r->refs + 1))
		return false;
	if (!mb) {
		if (member_add(r, grp, ifindex) < 0)
			return false; /* the kernel's limit (ENOBUFS) */
		mb = &r->memb[r->nmemb - 1];
	}
	mb->refs++;
	r->refs++;
	return true;
}

/* The kernel keeps only multicast datagrams for a reader (a classic BPF
 * socket filter: the IPv4 destination in 224.0.0.0/4), so unicast and
 * broadcast ones to its port, which a socket bound to a group never saw,
 * never take room in its buffer (a flood of them from any host would
 * cost its groups their packets while the media thread is held up). */
static int only_multicast(int fd)
{
	static const struct sock_filter code[] = {
	    /* A = the IPv4 header's destination, host order */
	    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, SKF_NET_OFF + 16),
	    BPF_STMT(BPF_ALU | BPF_AND | BPF_K, 0xf0000000),
	    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0xe0000000, 0, 1),
	    BPF_STMT(BPF_RET | BPF_K, 0xffffffff),
	    BPF_STMT(BPF_RET | BPF_K, 0),
	};
	const struct sock_fprog prog = {
	    .len = sizeof(code) / sizeof(code[0]),
	    .filter = (struct sock_filter *)code,
	};

	return setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog,
			  sizeof(prog));
}

/* A reader on @port, in a free slot: NULL with @err. */
static struct rxshare *reader_open(const void *owner, unsigned int port,
				   char *err, size_t err_len)
{
	struct sockaddr_in any = {.sin_family = AF_INET,
				  .sin_port = htons((uint16_t)port),
				  .sin_addr.s_addr = htonl(INADDR_ANY)};
	struct rxshare *r = NULL;
	unsigned int i;
	int fd, on = 1;

	for (i = 0; i < nreaders && !r; i++)
		if (readers[i].fd < 0)
			r = &readers[i];
	if (!r && nreaders < RXSHARE_MAX)
		r = &readers[nreaders];
	if (!r) {
		snprintf(err, err_len, "%d shared receiving sockets in use",
			 RXSHARE_MAX);
		return NULL;
	}
	fd = net_udp_rx_open(&any, NULL);
	if (fd < 0) {
		snprintf(err, err_len, "cannot listen on port %u: %s", port,
			 strerror(-fd));
		return NULL;
	}
	/* each datagram's group and interface, for its subscription */
	if (setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &on, sizeof(on)) < 0 ||
	    only_multicast(fd) < 0) {
		snprintf(err, err_len, "IP_PKTINFO/SO_ATTACH_FILTER: %s",
			 strerror(errno));
		close(fd);
		return NULL;
	}
	*r = (struct rxshare){.fd = fd, .owner = owner, .port = port};
	/* one that cannot hold two subscriptions would share nothing */
	if (!grow(r, 2)) {
		snprintf(err, err_len,
			 "a receiving socket's buffer holds one "
			 "subscription's (net.core.rmem_max)");
		close(fd);
		r->fd = -1;
		return NULL;
	}
	if (r == &readers[nreaders])
		nreaders++;
	return r;
}

struct rxshare *rxshare_join(const void *owner, const struct sockaddr_in *grp,
			     const char *ifname, int *ifindex, char *err,
			     size_t err_len)
{
	unsigned int port = ntohs(grp->sin_port), i;
	struct rxshare *r;
	int idx = 0;

	if (!net_is_multicast(grp)) {
		snprintf(err, err_len, "not a multicast group");
		return NULL;
	}
	if (ifname && *ifname) {
		idx = net_ifindex(ifname);
		if (idx < 0) {
			snprintf(err, err_len, "interface '%s': %s", ifname,
				 strerror(-idx));
			return NULL;
		}
	}
	*ifindex = idx;
	pthread_mutex_lock(&lock);
	for (i = 0; i < nreaders; i++) {
		r = &readers[i];
		if (r->fd >= 0 && r->owner == owner && r->port == port &&
		    take(r, grp->sin_addr, idx)) {
			pthread_mutex_unlock(&lock);
			return r;
		}
	}
	r = reader_open(owner, port, err, err_len);
	if (r && !take(r, grp->sin_addr, idx)) {
		snprintf(err, err_len, "IP_ADD_MEMBERSHIP: %s", strerror(errno));
		close(r->fd);
		r->fd = -1;
		r->nmemb = 0;
		r = NULL;
	}
	pthread_mutex_unlock(&lock);
	return r;
}

void rxshare_leave(struct rxshare *r, struct in_addr grp, int ifindex)
{
	struct member *mb;

	if (!r)
		return;
	pthread_mutex_lock(&lock);
	mb = member_find(r, grp, ifindex);
	if (mb && --mb->refs == 0)
		member_drop(r, mb);
	if (r->refs && --r->refs == 0) {
		close(r->fd);
		r->fd = -1;
		r->nmemb = 0;
	}
	pthread_mutex_unlock(&lock);
}

int rxshare_fd(const struct rxshare *r)
{
	return r->fd;
}

unsigned int rxshare_port(const struct rxshare *r)
{
	return r->port;
}

unsigned int rxshare_users(const struct rxshare *r)
{
	unsigned int n;

	pthread_mutex_lock(&lock);
	n = r->refs;
	pthread_mutex_unlock(&lock);
	return n;
}

void rxshare_count(const void *owner, unsigned int *sockets,
		   unsigned int *users, char *each, size_t each_len)
{
	unsigned int i;
	size_t at = 0;

	*sockets = *users = 0;
	if (each_len)
		each[0] = '\0';
	pthread_mutex_lock(&lock);
	for (i = 0; i < nreaders; i++) {
		int k;

		if (readers[i].fd < 0 || readers[i].owner != owner)
			continue;
		(*sockets)++;
		*users += readers[i].refs;
		if (at < each_len) {
			k = snprintf(each + at, each_len - at, "%s%u:%u",
				     at ? "," : "", readers[i].port,
				     readers[i].refs);
			at += k > 0 ? (size_t)k : 0;
		}
	}
	pthread_mutex_unlock(&lock);
}
