/* The kernel back end's translator: a verified loop's bytecode (opcodes.h)
 * to eBPF instructions for a tc ingress program, generated directly, with
 * no compiler at run time. The loader (d4/kernel.c) makes the maps, puts
 * their fds into the instructions and attaches the program; docs/d4.md
 * "Back ends" says what runs where.
 *
 * The program sees every packet that reaches the interface. An IPv4/UDP
 * packet to the loop's address and port is the loop's: its UDP payload is
 * the D4 packet; the loop runs on it as the VM would, each sendto() a
 * bpf_clone_redirect() of the packet as it is then, with the copy's
 * Ethernet addresses, source address, destination, TTL and checksums
 * rewritten; the original is consumed. What the kernel cannot take as it
 * is (IP options, fragments, a VLAN tag, GRO, more payload than the
 * interface carries, a stopped loop) goes on up to the stack, where the
 * host's socket hands it to the VM. */
#ifndef D4_D4_BPF_H
#define D4_D4_BPF_H

#include <linux/bpf.h>
#include <stdbool.h>
#include <stdint.h>

#include "d4/internal.h"

/* Set by the host for one loop. */
struct d4_bpf_opts {
	uint32_t bind_addr;   /* host order: a unicast address, a group, or
				 0: any unicast to this host */
	uint16_t bind_port;   /* host order */
	uint16_t src_port;    /* the copies' UDP source port */
	uint8_t tos;	      /* the copies' TOS byte (DSCP << 2) */
	uint16_t max_payload; /* longer packets go up to the stack */
	bool pass_original;   /* an untouched clone of the original goes up
				 the stack too (other sockets on the port) */
	uint32_t mark;	      /* that clone's skb mark, so it is not run
				 again (pass_original) */
	uint32_t send_rate;   /* datagrams a second the loop may send (token
				 bucket in D4_BPF_MAP_SHARED), 0: any */
	uint64_t send_burst;  /* the bucket's cap, datagram-ns */
};

/* The maps the program names: LD_IMM64 with BPF_PSEUDO_MAP_FD and the
 * map's number as imm, which the loader replaces with the map's fd. */
enum d4_bpf_map {
	D4_BPF_MAP_PCPU,   /* per-CPU array, one value of pcpu_size bytes:
			      counters, scratch, the run's registers */
	D4_BPF_MAP_SHARED, /* mmap-able array, one value of shared_size
			      bytes: struct d4_bpf_shared, the loop state,
			      two snapshot buffers */
	D4_BPF_MAP_NEIGH,  /* hash: IPv4 address (u32, host order) to
			      struct d4_bpf_neigh */
	D4_BPF_NMAPS,
};

/* The start of each CPU's value of D4_BPF_MAP_PCPU. */
struct d4_bpf_counters {
	uint64_t in;	    /* runs */
	uint64_t sent;	    /* copies sent */
	uint64_t dropped;   /* runs ended by drop, or that sent nothing */
	uint64_t errors;    /* traps, copies with no way out, failed clones */
	uint64_t passed;    /* the loop's packets left to the stack (VM) */
	uint64_t no_neigh;  /* copies to an address with no entry (yet) */
	uint64_t send_fail; /* bpf_clone_redirect() refused */
	uint64_t budget_drops; /* copies not sent: over the per-second
				  budget */
};

/* In each CPU's value: the last address (| 1 << 32) a copy went to that
 * the neighbour map did not hold, for the host to look up. */
#define D4_BPF_SC_MISS 120

/* The start of the value of D4_BPF_MAP_SHARED, which the host maps into
 * its memory. Lists change as in the VM: the host fills the spare buffer,
 * then makes it current; a run holds a buffer (readers) from start to end
 * and takes the other if the host swapped them meanwhile, so that a packet
 * sees one whole snapshot. */
struct d4_bpf_shared {
	uint64_t cur;	     /* the buffer runs take now: 0 or 1 */
	uint64_t readers[2]; /* runs inside each buffer now */
	uint64_t running;    /* 0: the loop's packets go up to the stack */
	uint64_t rng;	     /* random()'s state, as the VM's */
	uint64_t last_trap;  /* enum d4_trap << 32 | the trap's D4 pc */
	uint64_t traps;
	uint64_t spare;
	/* the per-second send budget, as the VM's (runtime.c): credit in
	 * datagram-ns, shared by the CPUs without a lock */
	uint64_t credit;
	uint64_t last_ns; /* bpf_ktime_get_ns() of the last refill, 0: none */
	/* then int64_t state[code->nstate] at state_off, and the two
	 * buffers of snap_words each at buf_off */
};

/* Where a copy to one IPv4 address goes: the neighbour's and the
 * interface's Ethernet addresses (in that order, as the header has
 * them), the source address, the interface, the TTL. */
struct d4_bpf_neigh {
	uint8_t dmac[6];
	uint8_t smac[6];
	uint32_t saddr; /* network order */
	uint32_t ifindex;
	uint8_t ttl;
	uint8_t pad[3];
};

struct d4_bpf_prog {
	struct bpf_insn *insn;
	uint32_t ninsn;
	uint32_t pcpu_size;
	uint32_t shared_size;
	uint32_t state_off;  /* of the loop's state registers */
	uint32_t buf_off;    /* of snapshot buffer 0; buffer 1 follows */
	uint32_t snap_words; /* 64-bit words in one buffer */
	uint32_t nvars;
	uint32_t *var_word; /* per variable reference: its first word */
	uint64_t walk;	    /* instructions the kernel's verifier walks,
			       estimated (see docs/d4.md: loops in loops
			       can cost it more) */
	int nest_line;	    /* the outermost loop with a loop in it, */
	int nest_col;	    /* or 0:0 */
};

/* Most instructions the translator lets the kernel's verifier walk (its
 * own limit is 1 000 000). */
#define D4_BPF_WALK_MAX 250000

/* Translate @code (verified, validated) for a loop bound to @o's address.
 * 0 and *out, or -EINVAL with the reason in @why ("LINE:COL: construct:
 * why", the construct named), or -ENOMEM. */
int d4_bpf_translate(const struct d4_code *code, const struct d4_bpf_opts *o,
		     struct d4_bpf_prog **out, char *why, size_t why_len);
void d4_bpf_free(struct d4_bpf_prog *p);

/* One snapshot buffer's words from the runtime's snapshot @s. */
void d4_bpf_snap_fill(const struct d4_bpf_prog *p, const struct d4_code *code,
		      const struct d4_snap *s, uint64_t *buf);

/* A structural check of @p's instructions, what the kernel's verifier
 * looks at before it walks the program: known opcodes, registers, jumps
 * inside the program, the two halves of LD_IMM64, known helpers and maps,
 * no fall off the end. For the fuzzer where no program can be loaded.
 * 0, or -EINVAL with the instruction and what is wrong in @why. */
int d4_bpf_check(const struct d4_bpf_prog *p, char *why, size_t why_len);

#endif
