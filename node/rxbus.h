/* The node's RX channels (Dante's receive channels): a bus of N channels on
 * the media clock's sample positions. Subscriptions write their stream
 * channels into chosen RX channels through ports (a port is a
 * sub_output_fn); file sinks record chosen RX channels. A position is
 * handed to the sinks RXBUS_DELAY_NS after its PTP time, once every
 * subscription, at any latency up to SUB_LATENCY_MAX_NS, has played it
 * out; an RX channel nothing feeds holds zeros. So a sink of RX channels
 * 1-4 fed by two routes holds both, each sample at its own timestamp.
 * Media thread only, except where said. */
#ifndef D4_NODE_RXBUS_H
#define D4_NODE_RXBUS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "node/sub.h"

#define RXBUS_MAX_CHANNELS 64
/* The largest latency, and two playout chunks of margin at 48 kHz. */
#define RXBUS_DELAY_NS (SUB_LATENCY_MAX_NS + 12 * 1000 * 1000ull)

struct rxbus;
struct recorder;

/* Which RX channels a subscription fills: stream channel stream_ch[i]
 * goes to RX channel rx[i] (both 0-based). */
struct rx_map {
	unsigned int n;
	uint8_t rx[SOURCE_MAX_CHANNELS];
	uint8_t stream_ch[SOURCE_MAX_CHANNELS];
};

/* A subscription's way onto the bus: only positions in [from_x,
 * until_x) go through (a switch or a stop at a sample). until_x may be
 * changed while the media thread feeds the port. */
struct rxbus_port {
	struct rxbus *bus;
	struct rx_map map;
	uint64_t from_x;	   /* 0: from the start */
	_Atomic uint64_t until_x; /* 0: until removed */
};

/* A bus of @nch channels at @rate. NULL when out of memory or @nch is 0 or
 * above RXBUS_MAX_CHANNELS. Control thread. */
struct rxbus *rxbus_new(unsigned int nch, uint32_t rate);
void rxbus_destroy(struct rxbus *b);
unsigned int rxbus_channels(const struct rxbus *b);
uint32_t rxbus_rate(const struct rxbus *b);

/* Attach a recorder whose channels are RX channels (its config's chans[]
 * index the bus). Before the media thread runs the bus. 0 or -ENOSPC. */
int rxbus_add_recorder(struct rxbus *b, struct recorder *rec);

/* sub_output_fn of a port (@ctx): frames for positions [x, x + n), each
 * @stream_ch wide, the stream's first sample at @first_data_x (recorders
 * of RX channels with start = first begin at the first any route
 * delivers). Positions already handed on or too far ahead are dropped.
 * RT. */
void rxbus_port_feed(void *ctx, uint64_t x, const int32_t *frames,
		     unsigned int stream_ch, unsigned int n,
		     uint64_t first_data_x);

/* RT: start at @now_ns; after a media clock step start over; timescale. */
void rxbus_start(struct rxbus *b, uint64_t now_ns);
void rxbus_resync(struct rxbus *b, uint64_t now_ns);
void rxbus_set_timescale_ok(struct rxbus *b, bool ok);
/* Hand every position due by @now_ns to the sinks; returns when the next
 * is due (UINT64_MAX without a recorder: no wake-up of its own). RT. */
uint64_t rxbus_playout(struct rxbus *b, uint64_t now_ns);

/* Positions dropped because they came after their hand-on (a clock step)
 * or too early. Any thread. */
uint64_t rxbus_dropped(const struct rxbus *b);

#endif
