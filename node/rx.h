/* The node's subscriptions (RX). rx.c owns each subscription's record: its
 * settings as given, the stream they resolved to, its receiver
 * (node/sub.h), its sinks (recordings, sound cards, RX channels) and what
 * was logged of it; it also owns the RX channels' bus and the recordings
 * of RX channels. Its functions are the only ones that add, change and
 * remove subscriptions: the INI loader's build, the control API, state
 * replay and discovery call them. A change either fully happens, persisted
 * (rx_env.persist), or changes nothing. Control thread only. */
#ifndef D4_NODE_RX_H
#define D4_NODE_RX_H

#include <jansson.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>

#include "node/sub.h"

#define SUB_STREAM_MAX 128
#define SUB_SDP_MAX    4096

/* Keys of a subscription that win over its stream's SDP when given. */
enum {
	SUB_GIVEN_ADDR = 1 << 0,
	SUB_GIVEN_ENC = 1 << 1,
	SUB_GIVEN_RATE = 1 << 2,
	SUB_GIVEN_CH = 1 << 3,
	SUB_GIVEN_PT = 1 << 4,
	SUB_GIVEN_PTIME = 1 << 5,
	SUB_GIVEN_OFFSET = 1 << 6,
	SUB_GIVEN_FILTER = 1 << 7,
	SUB_GIVEN_ADDR2 = 1 << 8,
	SUB_GIVEN_FILTER2 = 1 << 9,
};

/* A subscription's settings, as an INI section, an API request or the
 * state file gives them (node/settings.c parses all three). The stream is
 * named by exactly one of stream, sdp and addr. */
struct sub_settings {
	char name[SUB_NAME_MAX];
	char stream[SUB_STREAM_MAX]; /* by name: found by discovery */
	char sdp[SUB_SDP_MAX];	     /* SDP text ("sdp = FILE": its text) */
	struct sockaddr_in addr;
	char ifname[32];
	enum rtp_encoding enc;
	uint32_t rate;
	unsigned int channels;
	uint8_t pt;
	uint32_t ptime_us;
	uint64_t latency_ns;
	enum sub_timing timing;
	uint32_t mediaclk_offset;
	bool has_source_filter;
	struct in_addr source_filter;
	/* the second leg (ST 2022-7): given, or the SDP's DUP leg */
	struct sockaddr_in addr2;
	char ifname2[32];
	bool has_source_filter2;
	struct in_addr source_filter2;
	unsigned int nrx;		 /* rx_channels: RX channels ... */
	uint8_t rx[SOURCE_MAX_CHANNELS]; /* ... 0-based */
	unsigned int nstream_ch;	 /* stream_channels, 0: 1-nrx */
	uint8_t stream_ch[SOURCE_MAX_CHANNELS];
	unsigned int given; /* SUB_GIVEN_*: keys given (they beat an SDP) */
	/* Not a setting, never saved: the PTP times between which it
	 * fills its RX channels, [from, until) (0: from the start, until
	 * deleted). A scheduled switch at T (IS-05) makes the new one from
	 * T and the old one until T: they may share RX channels. */
	uint64_t rx_from_ns, rx_until_ns;
};

struct sdp_stream;

/* Check @s on its own: one way to name the stream, stream_channels with
 * as many rx_channels. 0 or -EINVAL with the reason in @err. */
int sub_settings_check(const struct sub_settings *s, char *err, size_t err_len);

/* The receiver's config from @s and, when the stream is an SDP's, @st
 * (keys given in @s win). 0, or -EINVAL with the reason in @err (an
 * encoding other than L24/L16, a rate outside 44.1/48/96 kHz, more frames
 * per packet than fit, a second leg that cannot be told apart from the
 * first). The second leg is address2 when given, else the SDP's DUP leg
 * when this host is on its network (interface2, or a subnet of this
 * host's holding the leg's source filter): docs/redundancy.md. */
int sub_settings_resolve(const struct sub_settings *s,
			 const struct sdp_stream *st, struct sub_config *out,
			 char *err, size_t err_len);

/* Check @s's RX channels: inside the node's @node_rx_channels, none given
 * twice, none filled by one of @others, stream channels inside the
 * stream's @channels (< 0: not known yet) and the stream at the RX
 * channels' rate (@rate 0: not known yet). 0, or -EINVAL / -EBUSY (taken)
 * with the reason in @err. */
int sub_settings_check_rx(const struct sub_settings *s,
			  unsigned int node_rx_channels,
			  const struct sub_settings *const *others,
			  unsigned int nothers, int channels, uint32_t rate,
			  char *err, size_t err_len);

/* ---- the records ---- */

enum rx_origin {
	RX_CONFIG, /* from the INI file: read-only through the API */
	RX_API,	   /* made through the API (or restored from state) */
};

struct mclock;
struct media;
struct files;
struct disco;
struct node_config;
struct rx;

struct rx_env {
	struct mclock *mc;
	struct media *media;
	struct files *files;	       /* the file thread's recordings */
	const struct node_config *cfg; /* [sink]s, rx_channels, rt_priority */
	const char *rec_dir; /* the API's recordings go here ("": none) */
	/* Save the node's state; 0 or -errno (then the change is undone). */
	int (*persist)(void *ctx);
	void *persist_ctx;
	/* Whether another receiver of the node's (a D4 loop) is bound to
	 * unicast port @a->sin_port: -EADDRINUSE with @err, or 0. NULL: no
	 * such receivers. */
	int (*port_used)(void *ctx, const struct sockaddr_in *a, char *err,
			 size_t err_len);
	void *port_ctx;
};

/* The RX side of a node: its RX channels' bus and their file sinks. NULL
 * with @err on failure. */
struct rx *rx_new(const struct rx_env *env, char *err, size_t err_len);
/* Close every recording (their headers written) and card. After the
 * media thread stopped. */
void rx_destroy(struct rx *rx);
struct rxbus *rx_bus(struct rx *rx);

/* A recording an API request asks for with its subscription: a new file
 * @name in the recordings directory (rx_env.rec_dir). */
struct rx_record {
	char name[256];
	bool has_start;
	uint64_t start_ns;    /* PTP time */
	uint64_t duration_ns; /* 0: until the node stops */
	/* rx's own: the file it created, until its recorder takes it */
	char path[4096 + 256];
	int fd;
};

/* What a subscription's recording is doing, for the API. */
struct rx_rec_info {
	const char *path;
	const char *state; /* waiting, recording, complete, failed */
	int error;	   /* errno that stopped it (failed) */
	uint64_t frames;   /* written to the file */
	uint64_t start_x;  /* its first position, UINT64_MAX: not yet */
	uint64_t gap_clipped, overflows;
};

/* The recordings of subscription @slot, at most @max of them: how many. */
unsigned int rx_sub_recordings(const struct rx *rx, unsigned int slot,
			       struct rx_rec_info *out, unsigned int max);

/* Add subscription @s (checked, resolved and opened; by stream name: when
 * discovery finds it). Its sinks: the INI's [sink]s naming it, and @rec.
 * The slot, or -EEXIST (name taken, or @rec's file exists), -ENOSPC
 * (table full), -EBUSY (an RX channel taken), -EINVAL (bad settings),
 * -EIO (not persisted), with the reason in @err. */
int rx_sub_create(struct rx *rx, const struct sub_settings *s,
		  enum rx_origin origin, const struct rx_record *rec, char *err,
		  size_t err_len);
/* Remove subscription @slot, closing its recordings. 0, -EPERM (from the
 * INI file), -EIO (not persisted). */
int rx_sub_delete(struct rx *rx, unsigned int slot, char *err, size_t err_len);
/* Give subscription @slot a new latency (a new receiver takes over its
 * sinks without a gap in their positions). 0, -EINVAL, -EIO. */
int rx_sub_set_latency(struct rx *rx, unsigned int slot, uint64_t latency_ns,
		       char *err, size_t err_len);
/* Subscription @slot stops filling its RX channels at PTP time
 * @until_ns (0: it fills them until deleted), to the sample; its other
 * sinks go on. 0 or -EINVAL (a time before its rx_from_ns). */
int rx_sub_set_until(struct rx *rx, unsigned int slot, uint64_t until_ns);
/* Discovery changed: look every subscription by stream name up again,
 * open it, or move it when its SDP moved the stream. */
void rx_resolve(struct rx *rx, struct disco *d);

/* Move the subscriptions that read groups on @port (network order)
 * through a shared socket (node/rxshare.h) to sockets of their own, each
 * taking over what its old receiver holds; @why is logged. Before a D4
 * loop takes unicast on that port, which a shared socket bound there
 * would take some of. 0, or -errno with @err (those moved stay moved). */
int rx_unshare_port(struct rx *rx, uint16_t port, const char *why, char *err,
		    size_t err_len);

/* Read access. */
int rx_sub_find(const struct rx *rx, const char *name);
/* Slots in use are those below rx_slots() with rx_sub_exists(). */
unsigned int rx_slots(const struct rx *rx);
bool rx_sub_exists(const struct rx *rx, unsigned int slot);
const struct sub_settings *rx_sub_settings(const struct rx *rx,
					   unsigned int slot);
enum rx_origin rx_sub_origin(const struct rx *rx, unsigned int slot);
/* The receiver (NULL while a stream name is unresolved). */
const struct sub *rx_sub_receiver(const struct rx *rx, unsigned int slot);
/* What the receiver runs with (valid with a receiver). */
const struct sub_config *rx_sub_config(const struct rx *rx, unsigned int slot);
/* A config subscription's latency changed through the API (the state's
 * "latencies"). */
bool rx_sub_latency_changed(const struct rx *rx, unsigned int slot);
/* The subscription filling RX channel @r (0-based) from stream channel
 * *@sch, or -1. */
int rx_channel_feeder(const struct rx *rx, unsigned int r, unsigned int *sch);
/* RX channels filled, stream channels received (mDNS TXT). */
unsigned int rx_stream_channels(const struct rx *rx);
/* The subscription's state (node/substate.h: unresolved, waiting,
 * receiving, late, no-audio, clock-mismatch) and why. */
const char *rx_sub_state(const struct rx *rx, unsigned int slot);
const char *rx_sub_state_reason(const struct rx *rx, unsigned int slot);
/* A subscription by stream name: whether discovery announces its stream
 * now (false: not found yet, or gone since, while it plays what still
 * arrives at the address it had). */
bool rx_sub_announced(const struct rx *rx, unsigned int slot);
/* Leg @leg's state (waiting, ok, down) of a two-leg subscription, or
 * NULL (no such leg, or no receiver yet). */
const char *rx_sub_leg_state(const struct rx *rx, unsigned int slot,
			     unsigned int leg);
/* The smallest latency that would have held over the last 10 s of
 * arrivals (us, rounded up to 250), or -1 when not known yet. */
int64_t rx_sub_safe_latency_us(const struct rx *rx, unsigned int slot);

/* The control loop's tick (100 ms): every subscription's state, and
 * counter changes into rate-limited log lines. @clock_settled: this
 * node's media clock is locked or free-running. @flush: at the end, say
 * what the rate limit held back. */
void rx_tick(struct rx *rx, bool clock_settled, bool flush);
/* The --verbose status ("| sub NAME rx=..."), appended at @off. */
size_t rx_status(const struct rx *rx, char *buf, size_t len, size_t off);
/* The "final:" lines. */
void rx_final(const struct rx *rx);
/* A receiver's counters as "received=N lost=N ... delay_us=[...]". */
void rx_format_stats(const struct sub *s, char *buf, size_t len);

#endif
