/* D4 on the node: one runtime, and for every loop an output batch that
 * sendmmsg()s what the program sent, on a socket with the flow's or the
 * program's DSCP. Flows hand their packets to their loop; standalone loops
 * bound to a UDP address get a receive socket the media thread drains. */
#ifndef D4_NODE_RELAY_H
#define D4_NODE_RELAY_H

#include <netinet/in.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/net.h"
#include "d4/d4.h"

struct relay;

/* Counters per loop beside the runtime's own. */
struct relay_out_stats {
	_Atomic uint64_t datagrams; /* handed to the kernel */
	_Atomic uint64_t send_errors;
	_Atomic uint64_t too_big; /* packets over the batch's 1500 bytes */
};

struct relay *relay_new(void);
void relay_destroy(struct relay *r);
struct d4_runtime *relay_runtime(struct relay *r);

/* Control side, before the media thread starts. */
/* Load a program file (any number of loops), then statements (variables). */
int relay_load_file(struct relay *r, const char *path, char *err,
		    size_t err_len);
int relay_exec(struct relay *r, const char *text, char *err, size_t err_len);
/* Give loop @handle an output socket: @fd (not owned) when >= 0, else a
 * new one with @opts. 0 or -errno. */
int relay_attach_output(struct relay *r, int handle, int fd,
			const struct net_tx_opts *opts);
/* Send flow @f's packets through loop @handle, on the flow's socket (its
 * DSCP, TTL and interface): the flow's send step from now on. Before the
 * flow is in the media thread's table. 0 or -errno. */
struct flow;
int relay_attach_flow(struct relay *r, int handle, struct flow *f);
/* Free loop @handle's output (its flow is gone and the loop stopped: the
 * media thread no longer runs it). */
void relay_detach(struct relay *r, int handle);
/* Open receive sockets for every loaded loop bound to udp ADDR:PORT that
 * has none yet, attach outputs (with @opts) and start the loops. */
int relay_bind_udp_loops(struct relay *r, const struct net_tx_opts *opts,
			 char *err, size_t err_len);
const struct relay_out_stats *relay_stats(const struct relay *r, int handle);

/* Media side. Run loop @handle on @pkt and send what it sent. Returns the
 * number of packets it sent, or < 0 as d4_run. RT. */
int relay_run(struct relay *r, int handle, uint8_t *pkt, size_t len,
	      const struct sockaddr_in *src);
/* Receive sockets for the media thread to wait on, and draining one. */
unsigned int relay_rx_count(const struct relay *r);
int relay_rx_fd(const struct relay *r, unsigned int i);
void relay_rx_drain(struct relay *r, unsigned int i);

#endif
