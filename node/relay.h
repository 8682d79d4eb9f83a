/* D4 on the node: one runtime and its kernel back end, and for every loop
 * an output batch that sendmmsg()s what the program sent, on a socket with
 * the flow's or the program's DSCP. Flows hand their packets to their loop
 * on the media thread; standalone loops bound to a UDP address get a
 * receive socket that the relay thread drains (lane 1 of the runtime), so
 * no relay program can hold up a flow (docs/d4.md "Cost"). Loops the
 * kernel back end takes run at tc ingress; what it leaves to the stack
 * still arrives at their socket and runs here. */
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
struct d4_kern;

/* Counters per loop beside the runtime's own. */
struct relay_out_stats {
	_Atomic uint64_t datagrams; /* handed to the kernel */
	_Atomic uint64_t send_errors;
	_Atomic uint64_t too_big; /* packets over the batch's 1500 bytes */
	/* the last refused: its errno, and its receiver (address << 16 |
	 * port, host order; 0: none) */
	_Atomic int last_errno;
	_Atomic uint64_t last_refused;
};

/* How a [d4] section (or the API, with the section defaults) runs the
 * loops it binds to UDP. */
struct relay_bind_opts {
	int dscp;	    /* 0-63 */
	int ttl;	    /* multicast TTL, 1-255 */
	const char *ifname; /* joins, multicast egress, the kernel's
			       ingress; NULL or "": the default route's */
	enum d4_backend backend;
	/* a subscription of this node listens on @addr: the kernel lets
	 * the original go up the stack too (d4_kern_opts.pass_original) */
	bool (*local_listener)(void *ctx, const struct sockaddr_in *addr);
	void *ctx;
};

/* A relay with a runtime whose loops are held to @per_packet and
 * @per_second datagrams (d4_runtime_set_budget), or NULL. Its kernel back
 * end may be missing (d4_kern_new failed): every loop then runs on the
 * VM. */
struct relay *relay_new(uint32_t per_packet, uint32_t per_second);
/* Stop the relay thread, take loops out of the kernel, free. */
void relay_destroy(struct relay *r);
struct d4_runtime *relay_runtime(struct relay *r);

/* Control side. */
/* The budgets of loops loaded from now on (d4_runtime_set_budget). */
int relay_set_budget(struct relay *r, uint32_t per_packet, uint32_t per_second);
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

/* Every loaded loop bound to udp ADDR:PORT that has no socket yet: a
 * receive socket, an output, started, then its back end chosen
 * (d4_kern_apply; attaching needs CAP_BPF and CAP_NET_ADMIN, so before
 * privileges drop). 0, or -errno with the reason in @err (a socket, or
 * backend = kernel refused). */
int relay_bind_udp_loops(struct relay *r, const struct relay_bind_opts *o,
			 char *err, size_t err_len);
/* The same for loop @handle alone, while the relay thread runs (a loop
 * loaded through the API); it is not started. 0, -EINVAL when it is not
 * bound to UDP or has a socket already, or -errno with the reason. */
int relay_bind_loop(struct relay *r, int handle,
		    const struct relay_bind_opts *o, char *err, size_t err_len);
/* Close what relay_bind_loop opened for @handle (it is to be removed). */
void relay_unbind(struct relay *r, int handle);
/* Move a bound loop to back end @b now: out of the kernel, then
 * d4_kern_apply again with the options it was bound with. 0, or -errno
 * with the reason in @msg (-ENOENT: not a loop bound here; KERNEL
 * refused: it stays on the VM); @msg otherwise says where it runs. */
int relay_set_backend(struct relay *r, int handle, enum d4_backend b, char *msg,
		      size_t msg_len);
/* Does a loop bound here have a back end other than vm (so the node must
 * keep what attaching and detaching need, node/privs.h)? */
bool relay_kernel_wanted(const struct relay *r);
/* The choice made for a bound loop (AUTO for others). */
enum d4_backend relay_backend(const struct relay *r, int handle);

/* After every change to the runtime (d4_exec, d4_start, d4_stop,
 * d4_set_binding, d4_remove): the kernel's copies follow (d4_kern_sync);
 * a loop that could not is logged and runs on the VM. */
void relay_sync(struct relay *r);
/* Every 100 ms from the control loop: once a second, changes nobody
 * synced, the kernel's neighbours (d4_kern_poll; every call for a second
 * after an attach or a change), and datagrams over a loop's per-second
 * budget, logged at most 3 times per 10 s a loop. */
void relay_tick(struct relay *r);
/* d4_program_info with the kernel's share and the back end. 0 or
 * -ENOENT. */
int relay_program_info(struct relay *r, int handle,
		       struct d4_program_info *info);
const struct relay_out_stats *relay_stats(const struct relay *r, int handle);
/* The kernel's own figures of a loop it runs (d4_kern_stats). 0 or
 * -ENOENT (on the VM). */
struct d4_kern_stats;
int relay_kern_stats(struct relay *r, int handle, struct d4_kern_stats *st);

/* The relay thread: drains the receive sockets, SCHED_FIFO 10 below the
 * media thread's @rt_prio where permitted (none at 0). 0 or -errno. */
int relay_start(struct relay *r, int rt_prio);
void relay_stop(struct relay *r);

/* Media side. Run flow loop @handle on @pkt; what it sent waits for
 * relay_flush_flows. Returns the number of packets it sent, or < 0 as
 * d4_run. RT. */
int relay_run(struct relay *r, int handle, uint8_t *pkt, size_t len,
	      const struct sockaddr_in *src);
/* The end of a media pass: what the flows' loops sent, out in one
 * sendmmsg() per shared socket (net_udp_tx_share; a batch of 256 at
 * most). RT. */
void relay_flush_flows(struct relay *r);

#endif
