/* Dropping privileges once the node has started (docs/reliability.md
 * "Privileges"): what start-up needed as root (sockets, SCHED_FIFO,
 * mlockall, the state directory) is done; what runs on needs none of it.
 *
 * Capabilities are per thread in Linux: programs that link the node link
 * libpsx (node/meson.build) so that libcap applies every change to all
 * threads, the media thread included. Control thread only, once. */
#ifndef D4_NODE_PRIVS_H
#define D4_NODE_PRIVS_H

#include <stdbool.h>
#include <stddef.h>

struct privs_opts {
	const char *user;      /* [node] user; NULL or "": stay as started */
	const char *state_dir; /* chowned to @user if it is the node's own;
				  "" or NULL: none */
	bool ptp4l;	       /* [ptp] mode = spawn: ptp4l's restarts */
	bool d4_kernel;	       /* D4 loops may run in the kernel: CAP_BPF
				  and CAP_NET_ADMIN to attach and detach
				  them (node/relay.c raises them for that) */
	/* Files root made at start that the node rewrites (a flow's
	 * sdp_file): given to @user too. */
	const char *const *files;
	size_t nfiles;
};

/* Become @o->user (its groups too) if set, keep only the capabilities
 * the rest of the run needs (none, or ptp4l's in the permitted set when
 * @o->ptp4l, the D4 kernel back end's when @o->d4_kernel), set
 * no_new_privs, and log one line saying so. 0, or -errno
 * with the reason in @err: the caller must not run on, since it would run
 * with more privileges than configured. */
int privs_drop(const struct privs_opts *o, char *err, size_t err_len);

/* For profiling only (d4node --keep-privileges): privs_drop() then keeps
 * everything and logs a warning. libpsx interrupts every thread's system
 * calls with a signal to apply a change, which valgrind cannot follow
 * (bench/insns.sh runs the node under callgrind). Call before node_run. */
void privs_keep_for_profiling(void);

#endif
