/* A subscription: receives one RTP stream, checks every packet, buffers it by
 * timestamp and plays it out at PTP time t + latency to its sinks. The
 * stream may come over two legs (SMPTE ST 2022-7, docs/redundancy.md): the
 * same packets on two networks, merged by sequence number into the one
 * jitter buffer, the first good copy of each packet played. */
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
#define SUB_LEGS	       2 /* ST 2022-7: a first and a second leg */
/* A receive buffer: a datagram longer than this is refused (bad_size) */
#define SUB_RX_BUF 2048

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
	/* the second leg: none while addr2.sin_family is 0. With two legs
	 * each leg's socket takes only its own interface's packets. */
	struct sockaddr_in addr2;
	char ifname2[32];
	bool has_source_filter2;
	struct in_addr source_filter2;
	/* One leg on a multicast group: read through the port's shared
	 * socket (node/rxshare.h) where one can take it, else a socket of
	 * its own. False (and always with two legs): a socket of its own. */
	bool share;
	/* whose shared sockets (the media thread that drains them) */
	const void *share_owner;
};

/* How many legs @cfg has: 1, or 2 with a second. */
static inline unsigned int sub_config_legs(const struct sub_config *cfg)
{
	return cfg->addr2.sin_family ? 2 : 1;
}

/* Arrival minus the packet's own timestamp time, in these buckets (µs). */
#define SUB_HIST_BUCKETS 10
extern const int32_t sub_hist_edges_us[SUB_HIST_BUCKETS - 1];

/* One leg's own counters (the stream's are in struct sub_stats). Its loss
 * is counted from its own sequence numbers, so it is what that network
 * lost, whatever the other leg delivered. */
struct sub_leg_stats {
	_Atomic uint64_t received; /* packets of the stream on this leg */
	_Atomic uint64_t lost;	   /* sequence gaps on this leg */
	/* its copy came after its playout time (whether or not the other
	 * leg's copy was in time), on a settled clock */
	_Atomic uint64_t late;
	_Atomic uint64_t used; /* its copy came first and went to the buffer */
	/* refused on this leg: not RTP, from another sender than its source
	 * filter, another payload type or a size of no whole frame (each
	 * counted in the stream's bad_header, foreign, bad_pt, bad_size too):
	 * which network the garbage comes on */
	_Atomic uint64_t refused;
	/* packets of another SSRC than the stream's on this leg (a sender
	 * taking over, a stray, a spoof: kept aside to prove itself) */
	_Atomic uint64_t other_ssrc;
	_Atomic uint64_t last_ns; /* arrival of its last packet, 0: none yet */
	/* arrival of its last packet that fit the stream: on its sequence
	 * (not a jump the other leg does not share) and in time for its
	 * playout. A leg whose packets come but none fit protects nothing
	 * (substate "late"). 0: none yet */
	_Atomic uint64_t fit_ns;
	/* the latest a packet of this leg came after its own time (on a
	 * settled clock): with the other leg's, the skew between them */
	_Atomic int64_t delay_max_ns;
};

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
	/* ST 2022-7: copies of a packet the other leg brought first (the
	 * second of each pair: not duplicates, not played) */
	_Atomic uint64_t redundant;
	/* sequence jumps past 3000 not confirmed by the next packet (RFC
	 * 3550 A.1): not played, not counted as loss */
	_Atomic uint64_t seq_jumps;
	struct sub_leg_stats leg[SUB_LEGS];
	/* PTP time of the receiver's start and of its last pass over its
	 * sockets: a leg's silence is drained_ns - its last_ns, which a
	 * stalled media thread does not grow */
	_Atomic uint64_t started_ns;
	_Atomic uint64_t drained_ns;
};

#define SUB_DELAY_WINDOW_S 2

struct sub;
struct recorder;

/* NULL with @err, and errno: the socket's error where a socket could
 * not be opened (EMFILE: out of descriptors), else EINVAL or ENOMEM. */
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
/* The first leg's own socket; -1 when it reads through a shared one. */
int sub_fd(const struct sub *s);
/* The second leg's socket, or -1 without a second leg. */
int sub_fd2(const struct sub *s);
/* The shared socket it reads through (node/rxshare.h), NULL: its own;
 * then its group (network order) and the interface it joined on (0: the
 * kernel's choice), which the media thread dispatches by. */
struct rxshare;
struct rxshare *sub_rxshare(const struct sub *s);
uint32_t sub_rx_group(const struct sub *s);
int sub_rx_ifindex(const struct sub *s);

/* Mark @s, opened to replace the receiver its slot has, as the same
 * stream moved (its SDP gave a new address or port): when the media
 * thread puts it in place, sub_take_over() lets it play what the old one
 * holds. Control side, before media_set_sub(). */
void sub_set_continues(struct sub *s);
/* Whether @s took over its predecessor's buffered audio (read after
 * media_set_sub() returned). */
bool sub_continued(const struct sub *s);

/* Media side. RT: no alloc, no block. */
void sub_start(struct sub *s, uint64_t now_ns);
/* In place of sub_start() when @s replaces @old in its slot (their
 * timescale flags set): if @s was marked to continue @old
 * (sub_set_continues) and plays the same timeline (PTP-aligned, same
 * rate, channels, latency and mediaclk offset), it drains @old's socket
 * (kernel stamps + @clock_offset_ns, as sub_rx_drain) and takes @old's
 * jitter buffer and playout position, keeping what queued on its own
 * socket: the audio either address brought and nobody played yet still
 * plays. Returns whether it did; if not, call sub_start(). RT. */
bool sub_take_over(struct sub *s, struct sub *old, uint64_t now_ns,
		   int64_t clock_offset_ns);
/* Pass the media clock's timescale state on to the recorders. RT. */
void sub_set_timescale_ok(struct sub *s, bool ok);
/* Whether the media clock is on the timescale it keeps
 * (mclock_timescale_known): before, the stream plays but has no first
 * data yet, so a recording from the first sample does not begin (the
 * first lock would time the stream anew, a latency lost in the file) and
 * missing frames are not counted. Media thread. */
void sub_set_timescale_known(struct sub *s, bool known);
/* After a media clock step: play from @now_ns - latency again and re-time
 * the stream at its next packet. RT. */
void sub_resync(struct sub *s, uint64_t now_ns);
/* One datagram that arrived at PTP time @arrival_ns from @from (on the
 * first leg). */
void sub_rx_packet(struct sub *s, const uint8_t *buf, size_t len,
		   const struct sockaddr_in *from, uint64_t arrival_ns,
		   uint64_t now_ns);
/* The same on leg @leg (0: first, 1: second). */
void sub_rx_packet_leg(struct sub *s, unsigned int leg, const uint8_t *buf,
		       size_t len, const struct sockaddr_in *from,
		       uint64_t arrival_ns, uint64_t now_ns);
/* One datagram read from the shared socket for @s (its one leg): @len
 * bytes, @truncated if it was longer than SUB_RX_BUF (then @len is its
 * real length, MSG_TRUNC). RT. */
void sub_rx_datagram(struct sub *s, const uint8_t *buf, size_t len,
		     bool truncated, const struct sockaddr_in *from,
		     uint64_t arrival_ns, uint64_t now_ns);
/* Packets of a new SSRC kept aside while it proves itself, on either leg:
 * each packet is, in the end, exactly one of received, bad_header,
 * foreign, bad_pt, bad_size or foreign_ssrc, or still pending. */
unsigned int sub_pending(const struct sub *s);
/* Drain its own sockets, both legs' (recvmmsg, non-blocking; a shared
 * socket is the media thread's to drain); @now_ns maps
 * kernel receive timestamps onto PTP time through @clock_offset_ns (PTP -
 * CLOCK_REALTIME). */
void sub_rx_drain(struct sub *s, uint64_t now_ns, int64_t clock_offset_ns);
/* Play out every frame due by @now_ns; returns when the next is due. */
uint64_t sub_playout(struct sub *s, uint64_t now_ns);

#endif
