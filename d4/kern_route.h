/* Where the kernel would send a datagram to one IPv4 address, asked of
 * rtnetlink as `ip route get` and `ip neigh get` would: the interface,
 * the source address, the next hop's Ethernet address. The kernel back
 * end (kernel.c) writes the answers into its neighbour map, since its
 * copies bypass the routing the stack would do. Control side. */
#ifndef D4_D4_KERN_ROUTE_H
#define D4_D4_KERN_ROUTE_H

#include <stdbool.h>
#include <stdint.h>

#include "d4/bpf.h"

struct kroute {
	int nl;	 /* rtnetlink socket */
	int udp; /* for priming without CAP_NET_ADMIN */
	uint32_t seq;
};

int kroute_open(struct kroute *r);
void kroute_close(struct kroute *r);

/* What a copy to @dst (host order, unicast or broadcast; 0: the default
 * route's gateway) needs: 1 with
 * @nb filled (@ttl in it), 0 when the next hop's address is not resolved
 * yet (@nb->ifindex 0; call kroute_prime), or -errno (no route). */
int kroute_lookup(struct kroute *r, uint32_t dst, uint8_t ttl,
		  struct d4_bpf_neigh *nb);

/* For a group: the interface @ifindex's own addresses, and the group's
 * Ethernet address. 0 or -errno. */
int kroute_mcast(struct kroute *r, uint32_t group, int ifindex, uint8_t ttl,
		 struct d4_bpf_neigh *nb);

/* Ask the kernel to resolve the next hop towards @dst: a neighbour "use"
 * (as `ip neigh replace ... use`) where we may, else a 0-byte datagram to
 * @dst's discard port, which makes the stack resolve it. */
void kroute_prime(struct kroute *r, uint32_t dst);

/* The interface's MTU, or -errno. */
int kroute_mtu(int ifindex);

#endif
