/* Shared receive sockets: the subscriptions of multicast groups on one UDP
 * port read from one socket, so that the media thread drains a
 * millisecond's packets of all of them in one recvmmsg() (node/media.c
 * hands each datagram to its subscription by destination group and
 * interface, IP_PKTINFO).
 *
 * A reader is bound to its port on any address and joins each of its
 * groups itself; it takes only the groups it joined (IP_MULTICAST_ALL
 * off) and no unicast or broadcast datagram (a socket filter drops them
 * in the kernel: the node opens none on a port where it receives unicast,
 * node/rx.c), so RXSHARE_USERS, under the kernel's limit of memberships a socket
 * (net.ipv4.igmp_max_memberships, 20), bounds it, and a port's groups
 * beyond that go to its next reader. A reader takes another subscription
 * only where its receive buffer can grow to RXSHARE_UNIT times its
 * subscriptions, forced where permitted (CAP_NET_ADMIN), else as far as
 * net.core.rmem_max lets it; a reader opens only where its buffer holds
 * two subscriptions' (else one would share nothing, bound to the port on
 * any address all the same): where none can, the subscription opens a
 * socket of its own, bound to its group.
 *
 * Readers belong to an owner (the node's media thread, which drains
 * them): several nodes in one process never share one. Control thread
 * only (a lock guards the table). */
#ifndef D4_NODE_RXSHARE_H
#define D4_NODE_RXSHARE_H

#include <netinet/in.h>
#include <stddef.h>

/* Subscriptions on one reader at most. */
#define RXSHARE_USERS 16
/* A subscription's share of a reader's receive buffer: what a socket of
 * its own holds on a stock kernel (rmem_max 212 992, doubled), about
 * 180 ms of a 1 ms, 8-channel L24 stream queued behind a held-up media
 * thread. */
#define RXSHARE_UNIT 425984

struct rxshare;

/* Join group @grp (its port is the reader's) on interface @ifname (NULL or
 * "": the kernel's choice) for one subscription of @owner's. A reader
 * holds a group on one interface only (a membership on "the kernel's
 * choice" beside one on a named interface would hand the first the
 * second's copies). The reader, and in
 * *@ifindex the interface as joined (for rxshare_leave); NULL with @err
 * when no reader could be opened or joined (the caller opens a socket of
 * its own). */
struct rxshare *rxshare_join(const void *owner, const struct sockaddr_in *grp,
			     const char *ifname, int *ifindex, char *err,
			     size_t err_len);
/* Let go of what rxshare_join() took: the membership leaves with its last
 * subscription, the reader closes with its last. Call only once the media
 * thread no longer reads through it (media_set_sub returned). */
void rxshare_leave(struct rxshare *r, struct in_addr grp, int ifindex);
/* The reader's socket; its port (host order). */
int rxshare_fd(const struct rxshare *r);
unsigned int rxshare_port(const struct rxshare *r);
/* @owner's shared sockets open now, the subscriptions on them, and in
 * @each "PORT:USERS" for each socket, comma-separated (truncated to
 * @each_len). */
void rxshare_count(const void *owner, unsigned int *sockets,
		   unsigned int *users, char *each, size_t each_len);
/* Subscriptions on @r now (tests, benchmarks). */
unsigned int rxshare_users(const struct rxshare *r);

#endif
