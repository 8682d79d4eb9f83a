/* A TX flow: one RTP stream of some of a source's channels, paced by the
 * media clock, one packet per packet time. A flow may have a second leg
 * (SMPTE ST 2022-7, docs/redundancy.md): the same packets, byte for byte,
 * sent in the same tick to a second destination on a second network. */
#ifndef D4_NODE_FLOW_H
#define D4_NODE_FLOW_H

#include <netinet/in.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "node/rtp.h"
#include "node/source.h"

#define FLOW_NAME_MAX 64

struct flow_config {
	char name[FLOW_NAME_MAX];
	char source[SOURCE_NAME_MAX];
	unsigned int nch;
	uint8_t chans[SOURCE_MAX_CHANNELS]; /* 0-based source channels */
	struct sockaddr_in dest;
	enum rtp_encoding enc;
	uint32_t rate;
	uint32_t ptime_us;
	uint32_t fpp; /* frames per packet */
	uint8_t pt;
	int dscp;
	int ttl;
	char ifname[32];
	/* the second leg: none while dest2.sin_family is 0 */
	struct sockaddr_in dest2;
	char ifname2[32];
	char sdp_path[4096]; /* write the flow's SDP here, or "" */
};

/* Whether @cfg has a second leg. */
static inline bool flow_config_has_leg2(const struct flow_config *cfg)
{
	return cfg->dest2.sin_family != 0;
}

struct flow_stats {
	_Atomic uint64_t packets;
	_Atomic uint64_t send_errors;
	_Atomic uint64_t skipped; /* packets not sent after a long stall */
	/* the latest a packet left after its due time: a sender that ran
	 * late (a stalled machine) makes late packets at every receiver.
	 * Where the media pass sends its flows' packets at its end
	 * (flow_pass_end), as late as that send: an upper bound for copies
	 * a loop sent earlier in the pass (a fan-out over its batch of 8)
	 * and for a packet its loop sent nowhere. */
	_Atomic uint64_t send_late_max_ns;
	_Atomic uint64_t dropped; /* its D4 program sent it nowhere */
	_Atomic int last_errno;
	_Atomic uint32_t ssrc;		/* the one it sends with now */
	_Atomic uint64_t ssrc_changes; /* new SSRCs at timescale steps */
	/* The second leg's own (the counters above are the first leg's,
	 * and the flow's for skipped and ssrc): a leg fails alone. */
	_Atomic uint64_t packets2;
	_Atomic uint64_t send_errors2;
	_Atomic uint64_t dropped2;
	_Atomic int last_errno2;
};

struct flow;
struct mclock;

/* Where a flow's packets go instead of its own sendto(): the node's D4
 * program for the flow. Returns packets sent (0: the program dropped it)
 * or < 0 on error. RT. */
typedef int (*flow_send_fn)(void *ctx, uint8_t *pkt, size_t len);

/* Frames per packet for a packet time at a rate (AES67 frame counts: 6, 12,
 * 16, 48, 192 at 44.1/48 kHz, twice that at 96 kHz), or 0 when unsupported. */
uint32_t flow_frames_per_packet(uint32_t ptime_us, uint32_t rate);

/* Check a config: channel count, rate, packet time and MTU; a second leg
 * that is a group needs its interface, and may not be the first leg
 * again. 0, or -EINVAL with a message in @err. */
int flow_config_check(const struct flow_config *cfg, char *err, size_t err_len);
/* Its second leg's settings alone (what the INI can say with its line):
 * -EINVAL and why (no "flow NAME: "). */
int flow_legs_check(const struct flow_config *cfg, char *err, size_t err_len);

/* Open the socket and pick SSRC and first sequence number at random. */
struct flow *flow_open(const struct flow_config *cfg, struct source *src,
		       char *err, size_t err_len);
void flow_destroy(struct flow *f);

const struct flow_config *flow_config(const struct flow *f);
/* The flow's socket (its DSCP, TTL and interface), for its D4 program:
 * shared with every flow of the same options (net_udp_tx_share). */
int flow_fd(const struct flow *f);
/* The second leg's socket (its interface), or -1 without a second leg. */
int flow_fd2(const struct flow *f);
/* Send through @fn from now on (before the media thread starts). */
void flow_set_sender(struct flow *f, flow_send_fn fn, void *ctx);
/* The second leg's packets through @fn (a copy of the first leg's packet
 * as the flow built it, whatever the first leg's program did to it). */
void flow_set_sender2(struct flow *f, flow_send_fn fn, void *ctx);
const struct flow_stats *flow_stats(const struct flow *f);
/* Peak and RMS of what the flow sends (node/meter.h). */
struct meter;
const struct meter *flow_meter(const struct flow *f);
/* The SSRC it sends with now (a new one after every timescale step). */
uint32_t flow_ssrc(const struct flow *f);
/* The SDP's o= session id: the first SSRC, kept for the flow's life. */
uint32_t flow_session_id(const struct flow *f);
/* The address the flow sends from and its interface's MAC. */
void flow_origin(const struct flow *f, struct in_addr *addr, uint8_t mac[6]);
/* The address its second leg sends from (0.0.0.0 without one). */
void flow_origin2(const struct flow *f, struct in_addr *addr);

/* Media side: the first packet goes out at the next packet boundary after
 * @now_ns. RT. */
void flow_start(struct flow *f, uint64_t now_ns);
/* Pass the media clock's timescale state on to the flow's source. RT. */
void flow_set_timescale_ok(struct flow *f, bool ok);
/* After a media clock step: restart pacing and the source at @now_ns, as
 * a new RTP source (a new SSRC and sequence). RT. */
void flow_resync(struct flow *f, uint64_t now_ns);
/* Send every packet due by @now_ns; returns the PTP time the next is due.
 * RT: no alloc; sendto() on a non-blocking socket. */
uint64_t flow_send_due(struct flow *f, uint64_t now_ns);
/* The media pass's queued sends went out at @sent_ns (the same clock; 0:
 * not known, the clock stepped): the packets flow_send_due built in this
 * pass were as late as that, if later than it saw. Then a new pass: the
 * media thread calls it at every pass's end. RT. */
void flow_pass_end(struct flow *f, uint64_t sent_ns);

#endif
