/* The wire of the dual back-end D4 test (d4test --kernel): a network
 * namespace of the test's own with a veth pair. The kernel back end is
 * attached at the ingress of "d4k0" (10.99.0.1/24, default route through
 * 10.99.0.2 = "d4k1"'s MAC); packets are injected, and the copies the
 * kernel sends are captured, as raw frames on "d4k1". Every captured
 * frame's headers are checked against what the back end was told (MACs,
 * source, TTL, TOS, ports, both checksums). */
#ifndef D4_TESTS_D4_KNET_H
#define D4_TESTS_D4_KNET_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define KNET_IF	       "d4k0"
#define KNET_ADDR      0x0a630001u /* 10.99.0.1 */
#define KNET_PORT      5004
#define KNET_DSCP      46
#define KNET_TTL       61
#define KNET_MCAST_TTL 7
#define KNET_MAX_FRAME 2048
#define KNET_MTU       9000 /* both ends of the wire; a plain number */

struct knet {
	int inject; /* AF_PACKET on d4k1 */
	int capture;
	uint8_t mac0[6]; /* d4k0 */
	uint8_t mac1[6]; /* d4k1, the gateway */
	uint16_t ip_id;
};

/* A copy as captured, its headers checked. */
struct knet_copy {
	struct sockaddr_in dst;
	size_t len; /* payload */
	uint8_t data[KNET_MAX_FRAME];
};

/* Enter a new network namespace and build the wire. 0, -EPERM (not
 * allowed: the caller skips), or -errno with @why. */
int knet_setup(struct knet *n, char *why, size_t why_len);

/* Send one UDP datagram from @src to @dst with @payload through the wire
 * into d4k0's ingress; @csum: with a UDP checksum (else 0). */
int knet_inject(struct knet *n, const struct sockaddr_in *src,
		const struct sockaddr_in *dst, const uint8_t *payload,
		size_t len, bool csum);

/* The next copy the kernel sent, waiting up to @timeout_ms. 1 with @c
 * filled, 0 when none came, -EINVAL with @why when its headers are wrong
 * (for @src_port, the copies' source port). */
int knet_next(struct knet *n, int timeout_ms, uint16_t src_port,
	      struct knet_copy *c, char *why, size_t why_len);

#endif
