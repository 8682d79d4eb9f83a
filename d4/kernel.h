/* The kernel back end of a D4 runtime (docs/d4.md "Back ends"): a loop
 * bound to udp ADDR:PORT translated to eBPF (d4/bpf.h) and attached at an
 * interface's tc ingress (clsact, direct action) with libbpf. The runtime
 * stays the one truth: d4_exec changes variables there, and d4_kern_sync
 * copies what changed into the maps (lists live in a map value the program
 * reads one whole snapshot of per packet). Counters come back from the
 * maps into the same d4_program_info fields.
 *
 * Where the kernel program leaves a packet to the stack (IP options,
 * fragments, too long, a stopped loop), the host's socket for the binding
 * gets it and runs it through the VM as before, so a host keeps that
 * socket (and its multicast membership) open either way.
 *
 * All functions are control side (not RT). Built with libbpf (kernel.c);
 * without it (kernel_none.c) every attach is refused with that reason, so
 * "auto" stays on the VM. */
#ifndef D4_D4_KERNEL_H
#define D4_D4_KERNEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "d4/d4.h"

struct d4_kern;

/* The skb mark of the original a loop's program passes up the stack
 * (d4_kern_opts.pass_original): the binding's own socket should filter it
 * out (SO_ATTACH_FILTER on SKF_AD_MARK), since the kernel ran it already. */
#define D4_KERN_PASS_MARK(handle) (0x44340000u | (uint32_t)(handle))

/* How one loop runs in the kernel: what the host's sockets would do. */
struct d4_kern_opts {
	const char *ifname;	  /* tc ingress of this interface; required */
	const char *mcast_ifname; /* copies to groups leave here (NULL:
				     ifname) */
	int dscp;		  /* the copies' DSCP, 0-63 */
	int ttl;		  /* unicast copies' TTL; 0: the system's */
	int mcast_ttl;		  /* multicast copies' TTL; 0: 1 */
	uint16_t src_port;	  /* copies' UDP source port; 0: the loop's */
	bool pass_original;	  /* the original goes up the stack as well, for
				     other sockets on the same port */
	unsigned int max_payload; /* 0: the interface's MTU - 28 */
};

struct d4_kern_stats {
	uint64_t in;		 /* runs in the kernel */
	uint64_t sent;		 /* copies sent */
	uint64_t dropped;	 /* runs that ended in drop or sent nothing */
	uint64_t errors;	 /* traps, copies with no way out, refused */
	uint64_t passed;	 /* the loop's packets left to the stack (VM) */
	uint64_t no_neigh;	 /* copies to an address not yet resolved */
	uint64_t send_fail;	 /* bpf_clone_redirect() refused */
	uint64_t budget_drops;	 /* copies over the per-second budget */
	uint32_t bpf_insns;	 /* instructions of the program */
	uint32_t verified_insns; /* what the kernel's verifier walked */
	uint64_t walk_estimate;	 /* the translator's bound for that */
	/* this attachment: another each time a loop enters the kernel (its
	 * counters start at 0 then) */
	uint64_t attach_seq;
	char ifname[16];
};

/* A kernel back end for @rt (which must outlive it), or NULL. Sets
 * libbpf's print function (process-wide): warnings to stderr. */
struct d4_kern *d4_kern_new(struct d4_runtime *rt);
/* Detach every loop and free. */
void d4_kern_destroy(struct d4_kern *k);

/* Can this build, on this machine, run loops in the kernel at all? 0, or
 * -errno with the reason (built without libbpf, no CAP_BPF or
 * CAP_NET_ADMIN, a kernel older than 5.10). */
int d4_kern_probe(char *why, size_t why_len);

/* Run loop @handle in the kernel at @o->ifname's tc ingress. The loop
 * must be bound to a UDP address (0.0.0.0: unicast frames to this host,
 * on an interface that does not forward) and its code one the translator
 * takes. 0, or -errno with the reason in @why (the construct
 * named, "LINE:COL: ..."; never a verifier rejection of our own making). */
int d4_kern_attach(struct d4_kern *k, int handle, const struct d4_kern_opts *o,
		   char *why, size_t why_len);

/* The backend choice for one loop, as a node makes it at start-up:
 * D4_BACKEND_VM: nothing (and the loop says so); KERNEL: attach, or fail
 * with the reason; AUTO: attach, or stay on the VM. 0 with @msg a line to
 * log ("" for VM, "loop L: kernel at eth0" or "loop L: on the VM: WHY"),
 * or -errno (KERNEL refused) with the reason in @msg. */
int d4_kern_apply(struct d4_kern *k, int handle, enum d4_backend backend,
		  const struct d4_kern_opts *o, char *msg, size_t msg_len);

/* Would loop @handle run in the kernel? Translated with @o (NULL:
 * defaults; an interface is not needed) as if bound to udp 10.0.0.1:5004
 * when it is bound otherwise, its instructions checked for structure, and
 * with @load (CAP_BPF) loaded so that the kernel's verifier judges it,
 * then freed; nothing is attached. 0; -EINVAL with the translator's
 * reason; -EPROTO (the verifier refused a program the translator made: a
 * bug) or -EIO (a malformed instruction stream: a bug) with the detail;
 * other -errno when the machine would not load it. */
int d4_kern_check(struct d4_runtime *rt, int handle,
		  const struct d4_kern_opts *o, bool load, char *why,
		  size_t why_len);

/* Take loop @handle out of the kernel. 0 or -ENOENT. */
int d4_kern_detach(struct d4_kern *k, int handle);
bool d4_kern_attached(const struct d4_kern *k, int handle);

/* After every change to the runtime (d4_exec, d4_load, d4_start, d4_stop,
 * d4_set_binding, d4_remove): bring the kernel's copies up to date. A new
 * snapshot is published as d4_exec publishes one, and this may wait a
 * run's length. 0, or -errno when a loop could not follow (it is detached,
 * so its packets go to the VM, and @why says why). */
int d4_kern_sync(struct d4_kern *k, char *why, size_t why_len);

/* About once a second from the control loop: where each destination's
 * copies go is looked up again (route, neighbour), and the kernel is asked
 * to resolve the neighbours it does not know. */
void d4_kern_poll(struct d4_kern *k);

/* d4_program_info with the kernel's counters added to the VM's, and
 * backend/backend_why filled in. 0 or -ENOENT. */
int d4_kern_program_info(struct d4_kern *k, int handle,
			 struct d4_program_info *info);
/* The kernel's own figures for an attached loop. 0 or -ENOENT. */
int d4_kern_stats(struct d4_kern *k, int handle, struct d4_kern_stats *st);

#endif
