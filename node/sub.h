/* A subscription: receives one RTP stream, checks every packet, buffers it by
 * timestamp and plays it out at PTP time t + latency to its sinks. */
#ifndef D4_NODE_SUB_H
#define D4_NODE_SUB_H

#include <netinet/in.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "node/rtp.h"
#include "node/source.h"

#define SUB_NAME_MAX	       64
#define SUB_MAX_SINKS	       8
#define SUB_LATENCY_MIN_NS     (250 * 1000ull)
#define SUB_LATENCY_MAX_NS     (100 * 1000 * 1000ull)
#define SUB_LATENCY_DEFAULT_NS (4 * 1000 * 1000ull) /* docs/api.md "Latency" */

enum sub_timing {
	SUB_TIMING_AUTO, /* PTP when the stream's timestamps fit, else arrival
			  */
	SUB_TIMING_PTP,	 /* timestamps are PTP media clock + offset */
	SUB_TIMING_ARRIVAL, /* align on the first packet's arrival */
};

struct sub_config {
	char name[SUB_NAME_MAX];
	struct sockaddr_in addr; /* group or local port */
	char ifname[32];
	enum rtp_encoding enc;
	uint32_t rate;
	unsigned int channels;
	uint8_t pt;
	uint32_t fpp; /* expected frames per packet; 0 = any */
	uint64_t latency_ns;
	enum sub_timing timing;
	uint32_t mediaclk_offset;
	bool has_source_filter;
	struct in_addr source_filter;
};

/* Arrival minus the packet's own timestamp time, in these buckets (µs). */
#define SUB_HIST_BUCKETS 10
extern const int32_t sub_hist_edges_us[SUB_HIST_BUCKETS - 1];

struct sub_stats {
	_Atomic uint64_t received; /* valid packets for this stream */
	_Atomic uint64_t lost;	   /* never arrived (sequence gaps) */
	_Atomic uint64_t late;	   /* arrived after their playout time */
	_Atomic uint64_t early;	   /* too far ahead for the buffer */
	/* Late or early while this node's media clock was not locked: an
	 * unlocked clock cannot judge a stream's timing, so these are
	 * counted apart (and kept out of the delay histogram). */
	_Atomic uint64_t unsynced;
	_Atomic uint64_t duplicate;
	_Atomic uint64_t reordered;
	_Atomic uint64_t missing_frames; /* zero-filled at playout, settled clock */
	_Atomic uint64_t bad_header;	 /* not RTP */
	_Atomic uint64_t bad_pt;
	_Atomic uint64_t bad_size;
	_Atomic uint64_t foreign; /* other source than the filter allows */
	/* packets of another SSRC than the stream's, dropped: strays and
	 * spoofs, and a new sender's first ones until it proves itself */
	_Atomic uint64_t foreign_ssrc;
	_Atomic uint64_t ssrc_changes;
	/* packets that fit no timeline (beyond the buffer, or later than
	 * any latency): a sender on another clock, or one that stepped */
	_Atomic uint64_t off_timeline;
	/* timing judged again: a run of packets that fit no timeline */
	_Atomic uint64_t rejudged;
	_Atomic uint32_t last_bad_size;
	_Atomic uint32_t last_bad_pt;
	_Atomic int64_t delay_min_ns;
	_Atomic int64_t delay_max_ns;
	_Atomic uint64_t hist[SUB_HIST_BUCKETS];
	_Atomic uint32_t ssrc;
	_Atomic bool arrival_timing; /* aligned on arrival (auto chose it) */
	/* arrival timing: the sender's rate against ours (parts per
	 * billion), whether it is converted, realignments of the map */
	_Atomic int64_t rate_ppb;
	_Atomic bool converting;
	_Atomic uint64_t arrival_steps;
	/* Arrival minus the packet's own time over the last completed
	 * window of SUB_DELAY_WINDOW_S (arrival timing: against the
	 * alignment), and how many windows have closed. */
	_Atomic int64_t win_delay_min_ns;
	_Atomic int64_t win_delay_max_ns;
	_Atomic uint64_t delay_windows;
};

#define SUB_DELAY_WINDOW_S 2

struct sub;
struct recorder;

struct sub *sub_open(const struct sub_config *cfg, char *err, size_t err_len);
void sub_destroy(struct sub *s);

/* Attach a recorder (before the media thread starts). 0 or -ENOSPC. */
int sub_add_recorder(struct sub *s, struct recorder *rec);

/* A sink that takes frames for positions [x, x + n), @stream_ch wide;
 * @first_data_x is the position of the stream's first sample (UINT64_MAX
 * while none has come). RT. */
typedef void (*sub_output_fn)(void *ctx, uint64_t x, const int32_t *frames,
			      unsigned int stream_ch, unsigned int n,
			      uint64_t first_data_x);
/* Attach one (before the media thread starts); it needs each position
 * @lead_frames before its playout time (a sound card's buffer), so the
 * subscription plays out that much earlier: packets must be in by then.
 * 0, -ENOSPC, or -EINVAL when the lead is not below the latency. */
int sub_add_output(struct sub *s, sub_output_fn fn, void *ctx,
		   uint32_t lead_frames);

const struct sub_config *sub_config(const struct sub *s);
const struct sub_stats *sub_stats(const struct sub *s);
/* Peak and RMS of what it plays out, per stream channel (node/meter.h). */
struct meter;
const struct meter *sub_meter(const struct sub *s);
int sub_fd(const struct sub *s);

/* Media side. RT: no alloc, no block. */
void sub_start(struct sub *s, uint64_t now_ns);
/* Pass the media clock's timescale state on to the recorders. RT. */
void sub_set_timescale_ok(struct sub *s, bool ok);
/* After a media clock step: play from @now_ns - latency again and re-time
 * the stream at its next packet. RT. */
void sub_resync(struct sub *s, uint64_t now_ns);
/* One datagram that arrived at PTP time @arrival_ns from @from. */
void sub_rx_packet(struct sub *s, const uint8_t *buf, size_t len,
		   const struct sockaddr_in *from, uint64_t arrival_ns,
		   uint64_t now_ns);
/* Drain the socket (recvmmsg, non-blocking); @now_ns maps kernel receive
 * timestamps onto PTP time through @clock_offset_ns (PTP - CLOCK_REALTIME). */
void sub_rx_drain(struct sub *s, uint64_t now_ns, int64_t clock_offset_ns);
/* Play out every frame due by @now_ns; returns when the next is due. */
uint64_t sub_playout(struct sub *s, uint64_t now_ns);

#endif
