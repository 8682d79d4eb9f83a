/* libd4: the D4 relay language (docs/d4.md). A runtime holds shared
 * variables and loops; text goes in through d4_exec on the control thread,
 * packets go through d4_run on one media thread. Variables are published by
 * copy and atomic pointer swap, so d4_run never waits and never allocates. */
#ifndef D4_D4_D4_H
#define D4_D4_D4_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <netinet/in.h>

/* Limits of the language and the runtime; docs/d4.md explains each. */
#define D4_MAX_LIST	 100	/* capacity of an IP[] list */
#define D4_MAX_FOR_TRIPS 100	/* times one for may run */
#define D4_MAX_FOR_DEPTH 2	/* for inside for inside ... */
#define D4_MAX_INSNS	 100000 /* worst-case instructions per packet */
#define D4_MAX_SLICE	 8	/* bytes in one slice */
#define D4_MAX_PKT	 65535	/* largest packet, bytes */
#define D4_MAX_SRC	 65536	/* bytes of text in one d4_exec */
#define D4_MAX_NAME	 31	/* characters in a name */
#define D4_MAX_PROGRAMS	 64	/* loops in one runtime */
#define D4_MAX_VARS	 256	/* shared variables in one runtime */
#define D4_MAX_REGS	 250	/* registers one loop may use */
#define D4_MAX_CODE	 16384	/* instructions in one loop */
#define D4_MAX_LANES	 2	/* threads that may run loops at once */

/* Send budgets (docs/d4.md "Cost"): datagrams one packet's run may send,
 * proven by the verifier, and datagrams a loop may send a second, kept by
 * the runtime; the defaults, and the most a host may allow. */
#define D4_SENDS_PER_PACKET	256
#define D4_MAX_SENDS_PER_PACKET 1000
#define D4_MAX_SENDS_PER_SECOND 1000000

struct d4_runtime;

struct d4_host { /* callbacks supplied by the embedder */
	/* queue one packet for sending; the host batches them (sendmmsg).
	 * The host must copy @pkt before returning: the program may change
	 * the packet and send it again. Returns 0 or -errno. */
	int (*send)(void *ctx, int prog_handle, const uint8_t *pkt, size_t len,
		    const struct sockaddr_in *dst);
	/* as send, for a loop with no store to the packet: nothing in the
	 * run changes its bytes, so a host whose buffer stays as it is
	 * until its batch is sent may queue @pkt itself, not a copy (what
	 * happens to the buffer after the run is the host's to know).
	 * NULL: send. */
	int (*send_unchanged)(void *ctx, int prog_handle, const uint8_t *pkt,
			      size_t len, const struct sockaddr_in *dst);
	void *ctx;
	/* the time for per-second budgets, in ns of any monotonic clock;
	 * NULL: CLOCK_MONOTONIC. Called on the media side. */
	uint64_t (*now_ns)(void *ctx);
};

/* A runtime with no variables and no loops, or NULL. @host may be NULL
 * (sends are then counted and discarded, as d4c does). */
struct d4_runtime *d4_runtime_new(const struct d4_host *host);
void d4_runtime_destroy(struct d4_runtime *rt);

/* Seed the pseudo-random numbers behind random(); loops loaded later
 * start from it. Control side; for reproducible tests. */
void d4_runtime_seed(struct d4_runtime *rt, uint64_t seed);

/* The send budgets of loops loaded from now on (docs/d4.md "Cost"): the
 * verifier refuses a loop that may send more than @per_packet datagrams
 * for one packet (1..D4_MAX_SENDS_PER_PACKET; D4_SENDS_PER_PACKET at
 * first), and the runtime lets a loop send at most @per_second datagrams
 * a second (token bucket; 0, at first: no limit; at most
 * D4_MAX_SENDS_PER_SECOND), counting the rest as budget_drops. 0 or
 * -EINVAL. Control side. */
int d4_runtime_set_budget(struct d4_runtime *rt, uint32_t per_packet,
			  uint32_t per_second);

/* Control side (not RT): compile, verify and apply one piece of text:
 * declarations, statements on shared variables, and at most one loop. All
 * or nothing. For a loop *handle gets its handle (stopped), else -1.
 * Returns 0, or -EINVAL with "LINE:COL: message" in @err, -ENOSPC when the
 * runtime is full, -ENOMEM. */
int d4_exec(struct d4_runtime *rt, const char *src, size_t len, int *handle,
	    char *err, size_t err_len);

/* Like d4_exec but any number of loops (a whole file, as d4c checks). */
int d4_load(struct d4_runtime *rt, const char *src, size_t len, char *err,
	    size_t err_len);

/* Start or stop a loop: d4_run runs only started loops. 0 or -ENOENT. */
int d4_start(struct d4_runtime *rt, int handle);
int d4_stop(struct d4_runtime *rt, int handle);
/* Remove a stopped loop and free it once the media side has let go of it.
 * 0, -ENOENT, or -EBUSY while it runs. */
int d4_remove(struct d4_runtime *rt, int handle);

/* Give a loop its input binding when the program did not name one:
 * "udp ADDR:PORT" or "flow NAME". 0, -ENOENT, or -EINVAL with a message. */
int d4_set_binding(struct d4_runtime *rt, int handle, const char *text,
		   char *err, size_t err_len);

enum d4_binding_kind {
	D4_BIND_NONE,
	D4_BIND_UDP,
	D4_BIND_FLOW,
};

/* Where a loop runs (docs/d4.md "Back ends"): the VM in the media thread,
 * or translated to eBPF at the tc ingress of an interface (d4/kernel.h).
 * AUTO takes the kernel where it can and the VM otherwise. */
enum d4_backend {
	D4_BACKEND_AUTO,
	D4_BACKEND_VM,
	D4_BACKEND_KERNEL,
};

/* "auto", "vm", "kernel" (any case, as INI values) to the enum: 0, or
 * -EINVAL for other text. */
int d4_backend_parse(const char *text, enum d4_backend *out);
const char *d4_backend_name(enum d4_backend b);

/* Undo (control side): d4_mark records the variables (declarations and
 * values) and which loops exist; d4_rollback puts the variables back as
 * they were and removes the loops loaded since (stopped ones; a started
 * one gives -EBUSY and stays), then frees @m. For a change the host could
 * not keep (it could not save it). d4_mark gives NULL when out of memory;
 * d4_mark_free drops a mark that is not needed. */
struct d4_mark;
struct d4_mark *d4_mark(struct d4_runtime *rt);
int d4_rollback(struct d4_runtime *rt, struct d4_mark *m);
void d4_mark_free(struct d4_mark *m);

/* Introspection for the control API (not RT). */
struct d4_program_info {
	int handle;
	char name[D4_MAX_NAME + 1];
	enum d4_binding_kind bind_kind;
	struct sockaddr_in bind_addr;	 /* D4_BIND_UDP */
	char bind_flow[D4_MAX_NAME + 1]; /* D4_BIND_FLOW */
	char binding[64]; /* "udp 239.69.1.1:5004", "flow x", "none" */
	bool running;
	uint64_t wcet_insns;	/* proven worst case per packet */
	uint64_t max_sends;	/* proven most datagrams per packet */
	uint32_t send_budget_s; /* datagrams a second it may send, 0: any */
	uint64_t max_insns;	/* most instructions one packet has used */
	uint64_t pkts_in;
	uint64_t pkts_sent;
	uint64_t pkts_dropped; /* ended by drop, or sent nowhere */
	uint64_t errors;       /* run-time traps and failed sends */
	uint64_t budget_drops; /* datagrams not sent: over send_budget_s */
	char last_error[128];  /* "LINE:COL: message" of the last trap, or "" */
	/* "vm" from d4_program_info; d4_kern_program_info (d4/kernel.h)
	 * says "kernel" for a loop it runs, and why not for one it refused */
	char backend[8];
	char backend_why[160];
};

/* Number of loops, and their handles in ascending order (at most @max). */
int d4_program_list(struct d4_runtime *rt, int *handles, int max);
/* 0 or -ENOENT. */
int d4_program_info(struct d4_runtime *rt, int handle,
		    struct d4_program_info *info);
/* Handle of the loop named @name, or -ENOENT. */
int d4_program_find(struct d4_runtime *rt, const char *name);
/* Disassemble a loop's bytecode to @out, one instruction a line. */
int d4_program_dump(struct d4_runtime *rt, int handle, FILE *out);

struct d4_var_info {
	char name[D4_MAX_NAME + 1];
	char type[16];	/* "int", "IP", "IP[100]" */
	uint32_t count; /* entries in a list; 1 for a scalar */
	uint32_t cap;	/* list capacity; 1 for a scalar */
};

int d4_var_count(struct d4_runtime *rt);
/* Variables in the order they were declared. 0 or -ENOENT. */
int d4_var_info(struct d4_runtime *rt, int i, struct d4_var_info *info);
/* The value as D4 text: "42", "10.0.0.5:5004", "[10.0.0.5:5004, 10.0.0.6]".
 * 0, -ENOENT, or -ENOSPC when @buf is too small (it holds a prefix). */
int d4_var_format(struct d4_runtime *rt, const char *name, char *buf,
		  size_t len);

/* Media side (RT: no alloc, no locks, no syscalls except host->send):
 * run started loop @handle on one packet. The program may change the
 * bytes of @pkt in place; its length stays @len. @src may be NULL.
 * Returns the number of packets sent (0 when dropped), -ENOENT, -EAGAIN
 * when the loop is stopped, -EINVAL for a bad packet, -EIO when a run-time
 * check ended the run. One media thread per runtime; never call d4_exec
 * and friends from inside host->send. A send over the loop's per-second
 * budget is not made (host->send is not called) and counts as a
 * budget_drop. */
int d4_run(struct d4_runtime *rt, int handle, uint8_t *pkt, size_t len,
	   const struct sockaddr_in *src);
/* The same from media-side thread @lane (0..D4_MAX_LANES-1; d4_run is
 * lane 0): each lane is one thread, lanes run at once, and a loop is run
 * by one lane only. -EINVAL for a lane out of range. */
int d4_run_lane(struct d4_runtime *rt, unsigned int lane, int handle,
		uint8_t *pkt, size_t len, const struct sockaddr_in *src);

#endif
