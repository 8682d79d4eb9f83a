/* The real-time media thread: wakes on the media clock, sends every due
 * packet of every flow, drains the receive sockets (each subscription's
 * own, and the shared ones of node/rxshare.h, whose datagrams it hands to
 * their subscriptions by group and interface) and plays out
 * what is due. It owns flows and subscriptions while it runs; other threads
 * only read their atomic counters. */
#ifndef D4_NODE_MEDIA_H
#define D4_NODE_MEDIA_H

#include <stdbool.h>

struct media;
struct mclock;
struct flow;
struct sub;

#define MEDIA_MAX_FLOWS 64
#define MEDIA_MAX_SUBS	64

struct media *media_new(struct mclock *mc, struct flow **flows,
			unsigned int nflows, struct sub **subs,
			unsigned int nsubs);
void media_destroy(struct media *m);

/* Start the thread, SCHED_FIFO @rt_prio when permitted (logged when not;
 * 0 asks for none). 0 or -errno. */
int media_start(struct media *m, int rt_prio);
/* Stop and join it. */
void media_stop(struct media *m);
bool media_is_realtime(const struct media *m);
/* Wake this long before each deadline and busy-wait the rest (0: off).
 * Trades CPU for send-time accuracy. Call before media_start. */
void media_set_spin(struct media *m, unsigned int spin_us);
/* Hand the node's RX channels on to their sinks (node/rxbus.h). Call
 * before media_start. */
struct rxbus;
/* Called at the end of each pass's sends (after every flow's due
 * packets): relay_flush_flows, which sends them together. RT. */
void media_set_pass_end(struct media *m, void (*fn)(void *ctx), void *ctx);
void media_set_rxbus(struct media *m, struct rxbus *b);
/* Put @f (@s) in table slot @slot, or empty it with NULL, while the thread
 * runs (or before). A new flow or subscription starts on the next pass;
 * when this returns the thread has let go of what the slot held, so the
 * caller may free it. Control thread only; waits at most one pass of the
 * loop (10 ms when idle). 0 or -EINVAL for a slot out of range. */
int media_set_flow(struct media *m, unsigned int slot, struct flow *f);
int media_set_sub(struct media *m, unsigned int slot, struct sub *s);
/* Passes of the loop so far: moves while the thread is alive. */
unsigned long media_passes(const struct media *m);
/* Datagrams a shared receiving socket read for no subscription in the
 * table (one not in place yet, one just gone, a group another of its
 * subscriptions left, a unicast one on its port for none). */
unsigned long long media_rx_unclaimed(const struct media *m);
/* How often flows and subscriptions restarted after a media clock step. */
unsigned int media_resyncs(const struct media *m);

/* One pass of the loop at PTP time @now_ns (what the thread does on each
 * wake-up); returns the PTP time of the next deadline. For tests. */
unsigned long long media_run_once(struct media *m, unsigned long long now_ns);

#endif
