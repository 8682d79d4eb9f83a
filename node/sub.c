/* Subscriptions. The receive path in order: RTP header, source filter,
 * payload type, payload size, SSRC, timing, sequence, jitter buffer. Every
 * rejection is a counter; the control thread turns counter changes into
 * rate-limited log lines, so nothing here logs.
 *
 * Routes heal themselves (docs/architecture.md "Receive"):
 * - A packet of another SSRC than the stream's is a stray, a spoof, or a
 *   new sender. It is kept aside, not played, and counted as foreign
 *   until its SSRC proves itself: SSRC_PROVE packets in sequence while
 *   the current SSRC has been quiet for SSRC_QUIET_NS (SSRC_QUIET_OFF_NS
 *   for one off the timeline the buffer reads). Then it becomes the
 *   stream and what was kept plays: a sender that hands over on the same
 *   timeline (its packets fit where the buffer reads) loses nothing; one
 *   on another timeline is timed anew.
 * - Timing is judged again whenever the stream stops fitting: a run of
 *   MISFIT_PKTS packets over MISFIT_NS, all beyond the buffer or later
 *   than any latency, with none fitting in between (a sender that
 *   stepped to another timescale, a restart on the same SSRC).
 * - A stream aligned on arrival is read at its sender's rate
 *   (node/arrival.h).
 *
 * Two legs (SMPTE ST 2022-7, docs/redundancy.md): each leg has a socket on
 * its own network, its own sequence tracking (its own loss) and its own
 * SSRC candidate; both feed one stream. A packet whose sequence number the
 * other leg brought already is a redundant copy (counted, not played),
 * tested before the jitter buffer, so a copy that comes after its twin
 * played is never "late". A new SSRC proves itself on either leg while the
 * stream's SSRC is quiet on both. */
#include "node/sub.h"
#include "common/mem.h"
#include "common/net.h"
#include "node/arrival.h"
#include "node/jbuf.h"
#include "node/meter.h"
#include "node/recorder.h"
#include "node/rxshare.h"
#include "ptp/mclock.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define RX_BATCH       16
/* Room for a packet whose payload fits RTP_MAX_PAYLOAD with a header
 * extension, CSRCs or padding on top (an attacker: at 1 536 bytes, such
 * packets, valid before, were refused); a bigger one is truncated and
 * refused as bad_size. */
#define RX_BUF	       SUB_RX_BUF
#define SUB_MAX_FRAMES (RTP_MAX_PAYLOAD / 2) /* 1 ch of L16 */
#define PLAYOUT_CHUNK  256
/* A new SSRC proves itself with this many packets in sequence ... */
#define SSRC_PROVE 3
/* ... while the stream's own SSRC has been quiet this long (and at least
 * two packet times): a spoofer between a live sender's packets never
 * gets there. */
#define SSRC_QUIET_NS (2 * 1000 * 1000ull)
/* A new SSRC off the timeline the buffer reads and off this node's media
 * clock would time the stream anew, losing what it holds: it must find
 * the stream's SSRC quiet this long. A restarted sender's old SSRC has
 * been quiet far longer, and a d4 sender that locks or steps with its
 * grandmaster sends its new SSRC on the node's clock; but a live sender
 * stalled for a few milliseconds while a spoofer sends a handful of
 * packets from its address (it took the route so with 2 ms) keeps its
 * stream. */
#define SSRC_QUIET_OFF_NS (20 * 1000 * 1000ull)
/* The latest packets kept while a new SSRC proves itself: those before
 * them (a proof that outlasts 8 packets: a second leg skewed behind the
 * first keeps the old SSRC live) are dropped as foreign, and the stream's
 * sequence tracking starts at the first one kept, so what the receiver
 * dropped is not counted as lost on the network. */
#define SSRC_STASH  8
#define MISFIT_PKTS 8
#define MISFIT_NS   (20 * 1000 * 1000ull)

const int32_t sub_hist_edges_us[SUB_HIST_BUCKETS - 1] = {
    0, 125, 250, 500, 1000, 2000, 4000, 8000, 16000,
};

/* A packet of a new SSRC, kept until it proves itself. */
struct stashed {
	uint64_t arrival_ns;
	struct sockaddr_in from;
	uint16_t len;
	uint8_t buf[RX_BUF];
};

/* A new SSRC proving itself on one leg. */
struct candidate {
	bool on;
	uint32_t ssrc;
	uint16_t next_seq;
	unsigned int n;
	struct stashed stash[SSRC_STASH];
};

/* RFC 3550 sequence tracking: extended numbers, and which of the last
 * 65536 were seen (a repeat is a duplicate whether or not it is still in
 * time). Loss is expected - (received - repeats), plus what was lost
 * before the last restart. */
struct seqtrack {
	bool have;
	uint16_t max_seq;
	bool probing;	  /* a jump was seen: its successor confirms it */
	uint16_t bad_seq; /* that successor (RFC 3550 A.1) */
	uint64_t last_ns; /* arrival of the latest number */
	uint64_t ext_base, ext_max;
	uint64_t received, dups, lost_before;
	/* duplicates in a row, each numbered one after the last: a sender
	 * that started its numbers again, not a network's copies */
	unsigned int dup_run;
	uint16_t dup_last;
	bool dup_restarted; /* the last restart was such a run's */
	bool runs_restart;  /* such runs restart it: a leg's own tracking
			     * (the stream's sees the other leg's copies) */
	uint64_t seen[65536 / 64];
};

struct sub {
	struct sub_config cfg;
	int fd;
	int fd2; /* the second leg's, or -1 */
	unsigned int legs;
	struct jbuf *jb;
	struct arrival *arr; /* arrival timing: the sender's rate */
	struct recorder *rec[SUB_MAX_SINKS];
	unsigned int nrec;
	struct {
		sub_output_fn fn;
		void *ctx;
	} out_fn[SUB_MAX_SINKS];
	unsigned int nout;
	uint32_t lead_frames; /* playout runs this far ahead (outputs) */
	struct sub_stats stats;
	uint32_t latency_frames;
	uint32_t chunk;
	struct meter *meter; /* what it plays out */

	/* media thread state */
	uint64_t play_x; /* next position to play out */
	bool synced;
	bool timescale_ok;    /* the media clock is locked (or free-running) */
	bool timescale_known; /* on the timescale it keeps */
	uint32_t offset;      /* RTP ts = position + offset */
	bool have_ssrc;
	uint32_t ssrc;
	uint64_t ssrc_last_ns; /* arrival of the stream's last packet */
	/* a new SSRC proving itself, on each leg */
	struct candidate cand[SUB_LEGS];
	/* packets that fit no timeline, in a row */
	unsigned int misfits;
	uint64_t misfit_first_ns;
	/* the arrival delay window being measured */
	uint64_t win_end_x;
	int64_t win_min_ns, win_max_ns;
	struct seqtrack seq;		  /* the stream's, both legs merged */
	struct seqtrack legseq[SUB_LEGS]; /* each leg's own */
	uint64_t first_data_x;
	bool continues; /* the stream moved: take the old receiver's buffer */
	_Atomic bool continued;

	int32_t *unpacked; /* SUB_MAX_FRAMES frames */
	int32_t *out;	   /* PLAYOUT_CHUNK frames */
	/* reading through a shared socket: it, the group, the interface */
	struct rxshare *rxs;
	struct in_addr rxs_grp;
	int rxs_ifindex;
	struct rxbatch *rb; /* its own sockets' reads; NULL: shared */
};

/* What one recvmmsg() of its own sockets reads into. */
struct rxbatch {
	struct mmsghdr msgs[RX_BATCH];
	struct iovec iov[RX_BATCH];
	struct sockaddr_in from[RX_BATCH];
	uint8_t bufs[RX_BATCH][RX_BUF];
	uint8_t ctrl[RX_BATCH][CMSG_SPACE(sizeof(struct timespec))];
};

#define STAT_SET(f, v) atomic_store_explicit(&(f), (v), memory_order_relaxed)
#define STAT_GET(f)    atomic_load_explicit(&(f), memory_order_relaxed)
#define STAT_INC(f)    STAT_SET(f, STAT_GET(f) + 1)
#define GET_ARRIVAL(s) STAT_GET((s)->stats.arrival_timing)

/* One leg's socket. With two legs, each takes only its own interface's
 * packets: the legs may share a port (one group on two networks, or one
 * unicast port on two addresses). -errno with @err. */
static int open_leg(const struct sub *s, const struct sockaddr_in *addr,
		    const char *ifname, char *err, size_t err_len)
{
	int fd = net_udp_rx_open(addr, ifname[0] ? ifname : NULL);
	char ep[32];

	if (fd < 0) {
		/* the interface named, where there is one: the answer to an
		 * API request is all its client sees */
		snprintf(err, err_len,
			 "subscription %s: cannot listen on %s%s%s%s: %s",
			 s->cfg.name, net_endpoint_str(addr, ep, sizeof(ep)),
			 ifname[0] ? " (interface '" : "", ifname,
			 ifname[0] ? "')" : "", strerror(-fd));
		return fd;
	}
	if (s->legs == 2 && ifname[0]) {
		int rc = net_bind_device(fd, ifname);

		if (rc < 0) {
			snprintf(err, err_len,
				 "subscription %s: cannot take only %s's "
				 "packets on %s: %s",
				 s->cfg.name, ifname,
				 net_endpoint_str(addr, ep, sizeof(ep)),
				 strerror(-rc));
			close(fd);
			return rc;
		}
	}
	return fd;
}

struct sub *sub_open(const struct sub_config *cfg, char *err, size_t err_len)
{
	struct sub *s = mem_calloc_held(1, sizeof(*s));
	uint64_t lat = cfg->latency_ns;
	uint32_t cap;
	int err_no = EINVAL;

	if (!s) {
		snprintf(err, err_len, "out of memory");
		errno = ENOMEM;
		return NULL;
	}
	s->cfg = *cfg;
	s->fd = -1;
	s->fd2 = -1;
	s->legs = sub_config_legs(cfg);
	s->legseq[0].runs_restart = s->legseq[1].runs_restart = true;
	if (cfg->channels < 1 || cfg->channels > SOURCE_MAX_CHANNELS) {
		snprintf(err, err_len,
			 "subscription %s: %u channels; 1-%d allowed",
			 cfg->name, cfg->channels, SOURCE_MAX_CHANNELS);
		goto out_destroy;
	}
	if (lat < SUB_LATENCY_MIN_NS || lat > SUB_LATENCY_MAX_NS) {
		snprintf(err, err_len,
			 "subscription %s: latency %llu us; 250-100000 us "
			 "allowed",
			 cfg->name, (unsigned long long)(lat / 1000));
		goto out_destroy;
	}
	s->timescale_ok = true;
	s->timescale_known = true;
	s->latency_frames = (uint32_t)mclock_ns_to_samples(lat, cfg->rate);
	s->chunk = cfg->fpp ? cfg->fpp : 48;
	/* Room for the latency, a generous early margin, and late packets
	 * of up to 50 ms that we still want to tell apart from garbage. */
	cap = s->latency_frames + cfg->rate / 10 + SUB_MAX_FRAMES;
	s->jb = jbuf_new(cfg->channels, cap);
	s->unpacked = mem_calloc_held((size_t)SUB_MAX_FRAMES * cfg->channels,
				      sizeof(int32_t));
	s->out = mem_calloc_held((size_t)PLAYOUT_CHUNK * cfg->channels,
				 sizeof(int32_t));
	s->meter = meter_new(cfg->channels, cfg->rate);
	/* a PTP-timed subscription never follows a sender's rate */
	s->arr = s->jb
		     ? arrival_new(cfg->channels, cfg->rate, s->latency_frames,
				   s->jb, cfg->timing != SUB_TIMING_PTP)
		     : NULL;
	if (!s->jb || !s->unpacked || !s->out || !s->meter || !s->arr) {
		snprintf(err, err_len, "subscription %s: out of memory",
			 cfg->name);
		err_no = ENOMEM;
		goto out_destroy;
	}
	if (cfg->share && s->legs == 1 && net_is_multicast(&cfg->addr)) {
		char why[128];

		/* no shared socket can take it (the reason is the
		 * table's: rmem_max logged once, or the kernel's): one of
		 * its own, as before sharing */
		s->rxs = rxshare_join(cfg->share_owner, &cfg->addr, cfg->ifname,
				      &s->rxs_ifindex, why, sizeof(why));
		s->rxs_grp = cfg->addr.sin_addr;
	}
	if (!s->rxs) {
		s->rb = mem_calloc_held(1, sizeof(*s->rb));
		if (!s->rb) {
			snprintf(err, err_len,
				 "subscription %s: out of memory", cfg->name);
			err_no = ENOMEM;
			goto out_destroy;
		}
		s->fd = open_leg(s, &cfg->addr, cfg->ifname, err, err_len);
		if (s->fd < 0) {
			err_no = -s->fd;
			goto out_destroy;
		}
	}
	if (s->legs == 2) {
		s->fd2 = open_leg(s, &cfg->addr2, cfg->ifname2, err, err_len);
		if (s->fd2 < 0) {
			err_no = -s->fd2;
			goto out_destroy;
		}
	}
	STAT_SET(s->stats.delay_min_ns, INT64_MAX);
	STAT_SET(s->stats.delay_max_ns, INT64_MIN);
	STAT_SET(s->stats.win_delay_min_ns, INT64_MAX);
	STAT_SET(s->stats.win_delay_max_ns, INT64_MIN);
	STAT_SET(s->stats.leg[0].delay_max_ns, INT64_MIN);
	STAT_SET(s->stats.leg[1].delay_max_ns, INT64_MIN);
	s->win_min_ns = INT64_MAX;
	s->win_max_ns = INT64_MIN;
	s->first_data_x = UINT64_MAX;
	return s;

out_destroy:
	sub_destroy(s);
	errno = err_no;
	return NULL;
}

void sub_destroy(struct sub *s)
{
	if (!s)
		return;
	if (s->fd >= 0)
		close(s->fd);
	if (s->fd2 >= 0)
		close(s->fd2);
	rxshare_leave(s->rxs, s->rxs_grp, s->rxs_ifindex);
	free(s->rb);
	jbuf_destroy(s->jb);
	arrival_destroy(s->arr);
	free(s->unpacked);
	free(s->out);
	meter_destroy(s->meter);
	free(s);
}

int sub_add_recorder(struct sub *s, struct recorder *rec)
{
	if (s->nrec >= SUB_MAX_SINKS)
		return -ENOSPC;
	s->rec[s->nrec++] = rec;
	return 0;
}

int sub_add_output(struct sub *s, sub_output_fn fn, void *ctx,
		   uint32_t lead_frames)
{
	if (s->nout >= SUB_MAX_SINKS)
		return -ENOSPC;
	if (lead_frames >= s->latency_frames)
		return -EINVAL;
	s->out_fn[s->nout].fn = fn;
	s->out_fn[s->nout++].ctx = ctx;
	if (lead_frames > s->lead_frames)
		s->lead_frames = lead_frames;
	return 0;
}

const struct sub_config *sub_config(const struct sub *s)
{
	return &s->cfg;
}

const struct sub_stats *sub_stats(const struct sub *s)
{
	return &s->stats;
}

const struct meter *sub_meter(const struct sub *s)
{
	return s->meter;
}

int sub_fd(const struct sub *s)
{
	return s->fd;
}

int sub_fd2(const struct sub *s)
{
	return s->fd2;
}

struct rxshare *sub_rxshare(const struct sub *s)
{
	return s->rxs;
}

uint32_t sub_rx_group(const struct sub *s)
{
	return s->rxs_grp.s_addr;
}

int sub_rx_ifindex(const struct sub *s)
{
	return s->rxs_ifindex;
}

void sub_start(struct sub *s, uint64_t now_ns)
{
	uint64_t x = mclock_ns_to_samples(now_ns, s->cfg.rate);

	/* What queued up between opening the socket and now predates the
	 * first playout position: it was never playable, so it is neither
	 * received nor late. (On a shared socket, what came for it before
	 * the media thread put it in place went to no subscription.) */
	while (s->fd >= 0 &&
	       recv(s->fd, s->rb->bufs[0], RX_BUF, MSG_DONTWAIT) >= 0)
		;
	while (s->fd2 >= 0 &&
	       recv(s->fd2, s->rb->bufs[0], RX_BUF, MSG_DONTWAIT) >= 0)
		;
	s->play_x = x - s->latency_frames + s->lead_frames;
	STAT_SET(s->stats.started_ns, now_ns);
	STAT_SET(s->stats.drained_ns, now_ns);
}

void sub_set_continues(struct sub *s)
{
	char err[160];
	int fd;

	s->continues = true;
	/* What reaches it between now and the media thread putting it in
	 * place plays (sub_take_over): a socket of its own holds that, a
	 * shared one would hand it to no subscription. Where none opens, it
	 * stays on the shared one and loses at most that. */
	if (!s->rxs)
		return;
	s->rb = mem_calloc_held(1, sizeof(*s->rb));
	if (!s->rb)
		return;
	fd = open_leg(s, &s->cfg.addr, s->cfg.ifname, err, sizeof(err));
	if (fd < 0) {
		free(s->rb);
		s->rb = NULL;
		return;
	}
	s->fd = fd;
	rxshare_leave(s->rxs, s->rxs_grp, s->rxs_ifindex);
	s->rxs = NULL;
}

bool sub_continued(const struct sub *s)
{
	return atomic_load(&s->continued);
}

bool sub_take_over(struct sub *s, struct sub *old, uint64_t now_ns,
		   int64_t clock_offset_ns)
{
	struct jbuf *jb = s->jb;
	struct arrival *arr = s->arr;

	if (!s->continues || !old->synced || GET_ARRIVAL(old) ||
	    s->cfg.timing == SUB_TIMING_ARRIVAL ||
	    arrival_may_convert(s->arr) != arrival_may_convert(old->arr) ||
	    s->cfg.rate != old->cfg.rate ||
	    s->cfg.channels != old->cfg.channels ||
	    s->latency_frames != old->latency_frames ||
	    s->lead_frames != old->lead_frames ||
	    jbuf_capacity(s->jb) != jbuf_capacity(old->jb) ||
	    old->offset != s->cfg.mediaclk_offset || !old->timescale_ok ||
	    !s->timescale_ok)
		return false;
	/* What reached the old socket and was not read yet goes into the
	 * buffer that moves; what queued on the new one since it opened is
	 * playable on this timeline: it stays for the next drain (unlike
	 * sub_start, which drops it). */
	sub_rx_drain(old, now_ns, clock_offset_ns);
	/* each arrival object reads its own buffer: they move as a pair */
	s->jb = old->jb;
	s->arr = old->arr;
	old->jb = jb;
	old->arr = arr;
	s->play_x = old->play_x;
	s->offset = old->offset;
	s->synced = true;
	s->first_data_x = old->first_data_x;
	old->synced = false;
	STAT_SET(s->stats.started_ns, now_ns);
	STAT_SET(s->stats.drained_ns, now_ns);
	atomic_store(&s->continued, true);
	return true;
}

void sub_set_timescale_known(struct sub *s, bool known)
{
	s->timescale_known = known;
}

void sub_set_timescale_ok(struct sub *s, bool ok)
{
	unsigned int i;

	/* Holes made while the clock was not settled (packets taken as
	 * late or early then, counted unsynced) are not the stream's:
	 * missing frames count from the first data on the settled clock. */
	if (ok && !s->timescale_ok)
		s->first_data_x = UINT64_MAX;
	s->timescale_ok = ok;
	for (i = 0; i < s->nrec; i++)
		recorder_set_timescale_ok(s->rec[i], ok);
}

void sub_resync(struct sub *s, uint64_t now_ns)
{
	unsigned int i;

	s->play_x = mclock_ns_to_samples(now_ns, s->cfg.rate) -
		    s->latency_frames + s->lead_frames;
	s->synced = false;
	s->first_data_x = UINT64_MAX; /* a position on the old timescale */
	/* Arrival times kept from before are on the old timescale too (up
	 * to 37 s and more away): the stream's SSRC counts as just heard, so
	 * a new SSRC proves itself in SSRC_QUIET, not after the step, and the
	 * legs as just started, so a leg's silence is measured on the new
	 * timescale; a new SSRC's stash, stamped on the old timescale, is let
	 * go (its next SSRC_PROVE packets prove it again). */
	s->ssrc_last_ns = now_ns;
	STAT_SET(s->stats.started_ns, now_ns);
	STAT_SET(s->stats.drained_ns, now_ns);
	for (i = 0; i < SUB_LEGS; i++) {
		STAT_SET(s->stats.leg[i].last_ns, 0);
		if (s->cand[i].on) {
			STAT_SET(s->stats.foreign_ssrc,
				 STAT_GET(s->stats.foreign_ssrc) +
				     s->cand[i].n);
			s->cand[i].on = false;
		}
	}
	for (i = 0; i < s->nrec; i++)
		recorder_resync(s->rec[i]);
}

/* Pick the timestamp offset for a stream's first packet (or after a new
 * SSRC on another timeline, or a run of misfits) and point the jitter
 * buffer at the playout position. */
/* Whether a packet stamped @ts that came at @arrival_ns reads as stamped
 * on this node's media clock: at most a second old and a tenth of one
 * ahead on arrival (the kernel's stamp, not now, which after a stall of
 * this node is seconds later for the packets queued meanwhile: a stream
 * so judged stayed aligned on arrival for good). */
static bool ptp_stamped(const struct sub *s, uint32_t ts, uint64_t arrival_ns)
{
	uint64_t arr_x = mclock_ns_to_samples(arrival_ns, s->cfg.rate);
	int32_t d = rtp_ts_diff(ts, (uint32_t)arr_x + s->cfg.mediaclk_offset);

	return d <= (int32_t)s->cfg.rate / 10 && d >= -(int32_t)s->cfg.rate;
}

static void sync_stream(struct sub *s, uint32_t ts, uint64_t arrival_ns)
{
	uint64_t arr_x = mclock_ns_to_samples(arrival_ns, s->cfg.rate);
	bool arrival = s->cfg.timing == SUB_TIMING_ARRIVAL;

	if (s->cfg.timing == SUB_TIMING_AUTO && !ptp_stamped(s, ts, arrival_ns))
		arrival = true;
	if (arrival)
		s->offset = ts - (uint32_t)arr_x;
	else
		s->offset = s->cfg.mediaclk_offset;
	STAT_SET(s->stats.arrival_timing, arrival);
	jbuf_reset(s->jb, (uint32_t)s->play_x + s->offset);
	arrival_reset(s->arr, s->play_x, (uint32_t)s->play_x + s->offset);
	s->misfits = 0;
	s->synced = true;
}

/* The media position a stream timestamp plays at. */
static uint64_t ts_position(const struct sub *s, uint32_t ts)
{
	uint32_t at = GET_ARRIVAL(s) ? arrival_position(s->arr, s->play_x)
				     : (uint32_t)s->play_x + s->offset;

	return s->play_x + (uint64_t)(int64_t)rtp_ts_diff(ts, at);
}

static bool seen_test(const struct seqtrack *t, uint16_t seq)
{
	return t->seen[seq >> 6] & (1ull << (seq & 63));
}

static bool seen_test_and_set(struct seqtrack *t, uint16_t seq)
{
	uint64_t bit = 1ull << (seq & 63);
	bool was = t->seen[seq >> 6] & bit;

	t->seen[seq >> 6] |= bit;
	return was;
}

/* RFC 3550 style extended sequence numbers (track_seq below). */

/* Numbers (@from, @to] enter the window: new again. Word by word: a
 * jump of 3000 clears 47 words, not 3000 bits. */
static void seen_clear(struct seqtrack *t, uint16_t from, uint16_t to)
{
	uint16_t q = (uint16_t)(from + 1);

	while (q != (uint16_t)(to + 1)) {
		if (!(q & 63) && (uint16_t)(to - q) >= 63) {
			t->seen[q >> 6] = 0;
			q = (uint16_t)(q + 64);
		} else {
			t->seen[q >> 6] &= ~(1ull << (q & 63));
			q++;
		}
	}
}

/* A packet's sequence number: new, a repeat (SEQ_DUP) or a jump that
 * its successor has not confirmed yet (SEQ_JUMP: RFC 3550 A.1's
 * probation; the packet is not the stream's, it does not move the window
 * or the loss). A jump is more than SEQ_MAX_JUMP back, or ahead by more
 * than SEQ_MAX_JUMP beyond the packets the time since the latest one
 * holds (@pkt_ns each): a link down 10 s comes back 10 000 ahead, its
 * loss counted; one forged packet 32 767 ahead does not. A confirmed
 * jump is a sender that started over: tracking starts over, the loss so
 * far kept. */
enum seq_verdict { SEQ_NEW, SEQ_DUP, SEQ_JUMP, SEQ_RESTART };
/* Duplicates in a row, in sequence, that are a sender's new numbers (a
 * restart on the same SSRC whose numbers begin behind the last ones):
 * a network's copies come beside their originals, not in runs. */
#define SEQ_DUP_RESTART 8
#define SEQ_MAX_JUMP	3000
/* How long after the other leg's last fitting packet it still holds the
 * stream against a jump on this leg: beyond the largest latency (100 ms),
 * the skew two legs may have, and beyond any ptime; a stream both legs
 * left that long (a sender restarted with its SSRC) may start anew. */
#define SUB_LEG_HOLD_NS (150 * 1000 * 1000ull)

static void seq_restart(struct seqtrack *t);
static bool other_leg_holds(const struct sub *s, unsigned int leg, uint16_t seq,
			    uint64_t arrival_ns);

static bool seq_jumped(const struct seqtrack *t, uint16_t seq,
		       uint64_t arrival_ns, uint64_t pkt_ns)
{
	int16_t d = rtp_seq_diff(seq, t->max_seq);
	uint64_t held = arrival_ns > t->last_ns && pkt_ns
			    ? (arrival_ns - t->last_ns) / pkt_ns
			    : 0;

	return t->have &&
	       (d < -SEQ_MAX_JUMP ||
		(d > SEQ_MAX_JUMP && (uint64_t)d > held + SEQ_MAX_JUMP));
}

static enum seq_verdict track_seq(struct seqtrack *t, uint16_t seq,
				  uint64_t arrival_ns, uint64_t pkt_ns,
				  bool *reordered)
{
	bool restarted = false;
	int16_t d;

	*reordered = false;
	t->dup_restarted = false;
	if (seq_jumped(t, seq, arrival_ns, pkt_ns)) {
		if (!t->probing || seq != t->bad_seq) {
			t->probing = true;
			t->bad_seq = (uint16_t)(seq + 1);
			return SEQ_JUMP;
		}
		seq_restart(t); /* two in a row: confirmed */
		restarted = true;
	} else if (t->runs_restart && t->have &&
		   t->dup_run >= SEQ_DUP_RESTART - 1 &&
		   seq == (uint16_t)(t->dup_last + 1) && seen_test(t, seq)) {
		/* the run's next would be one more duplicate */
		seq_restart(t);
		restarted = true;
		t->dup_restarted = true;
	}
	t->probing = false;
	t->received++;
	if (!t->have) {
		t->have = true;
		t->max_seq = seq;
		t->ext_base = t->ext_max = 65536 + (uint64_t)seq;
		t->received = 1;
		t->dups = 0;
		memset(t->seen, 0, sizeof(t->seen));
		seen_test_and_set(t, seq);
		t->last_ns = arrival_ns;
		return restarted ? SEQ_RESTART : SEQ_NEW;
	}
	d = rtp_seq_diff(seq, t->max_seq);
	if (d > 0) {
		seen_clear(t, t->max_seq, seq);
		t->ext_max += (uint64_t)d;
		t->max_seq = seq;
		t->last_ns = arrival_ns;
	} else if (d < 0) {
		*reordered = true;
		/* A packet from before the first one we saw. */
		if (t->ext_max - t->ext_base < (uint64_t)-d)
			t->ext_base = t->ext_max - (uint64_t)-d;
	}
	if (seen_test_and_set(t, seq)) {
		t->dups++;
		t->dup_run = t->dup_run && seq == (uint16_t)(t->dup_last + 1)
				 ? t->dup_run + 1
				 : 1;
		t->dup_last = seq;
		return SEQ_DUP;
	}
	t->dup_run = 0;
	return SEQ_NEW;
}

static uint64_t seq_lost(const struct seqtrack *t)
{
	uint64_t expected = t->have ? t->ext_max - t->ext_base + 1 : 0;
	uint64_t got = t->received - t->dups;

	return t->lost_before + (expected > got ? expected - got : 0);
}

/* A new sender: sequence tracking starts over, the loss so far kept. */
static void seq_restart(struct seqtrack *t)
{
	t->lost_before = seq_lost(t);
	t->have = false;
	t->probing = false;
	t->received = t->dups = 0;
	t->dup_run = 0;
}

static void publish_lost(struct sub *s)
{
	STAT_SET(s->stats.lost, seq_lost(&s->seq));
}

static void record_delay(struct sub *s, unsigned int leg, uint32_t ts,
			 uint64_t arrival_ns)
{
	int64_t delay =
	    (int64_t)(arrival_ns -
		      mclock_samples_to_ns(ts_position(s, ts), s->cfg.rate));
	/* Round towards minus infinity: 500 ns early is early. */
	int64_t us = delay >= 0 ? delay / 1000 : -((-delay + 999) / 1000);
	unsigned int b = 0;

	while (b < SUB_HIST_BUCKETS - 1 && us >= sub_hist_edges_us[b])
		b++;
	STAT_INC(s->stats.hist[b]);
	if (delay < STAT_GET(s->stats.delay_min_ns))
		STAT_SET(s->stats.delay_min_ns, delay);
	if (delay > STAT_GET(s->stats.delay_max_ns))
		STAT_SET(s->stats.delay_max_ns, delay);
	if (delay < s->win_min_ns)
		s->win_min_ns = delay;
	if (delay > s->win_max_ns)
		s->win_max_ns = delay;
	if (delay > STAT_GET(s->stats.leg[leg].delay_max_ns))
		STAT_SET(s->stats.leg[leg].delay_max_ns, delay);
}

/* The stream's first stored sample starts recordings that wait for it:
 * the earliest stored while playout has not reached it yet, so a packet
 * that comes after a later one (reordered, or the other leg's copy of
 * the one its twin's leg lost) still starts the stream. */
static void note_first_data(struct sub *s, uint32_t ts)
{
	uint64_t pkt_x = ts_position(s, ts);

	if (!s->timescale_known)
		return; /* provisional positions: see sub_set_timescale_known */
	if (pkt_x < s->play_x)
		pkt_x = s->play_x;
	if (s->first_data_x > s->play_x && pkt_x < s->first_data_x)
		s->first_data_x = pkt_x;
}

/* A packet that fits no timeline (beyond the buffer, or later than any
 * latency): a run of them has the stream timed anew. */
static void misfit(struct sub *s, uint64_t arrival_ns)
{
	STAT_INC(s->stats.off_timeline);
	if (!s->misfits++)
		s->misfit_first_ns = arrival_ns;
	if (s->misfits >= MISFIT_PKTS &&
	    arrival_ns - s->misfit_first_ns >= MISFIT_NS) {
		STAT_INC(s->stats.rejudged);
		s->synced = false;
		s->misfits = 0;
	}
}

/* Is a packet stamped @ts with @frames frames wholly behind playout? */
static bool behind_playout(const struct sub *s, uint32_t ts,
			   unsigned int frames)
{
	return rtp_ts_diff(ts + frames, jbuf_read_ts(s->jb)) <= 0;
}

/* A packet of the stream's SSRC on leg @leg, checked up to its SSRC: into
 * the jitter buffer, unless the other leg brought it first. */
static void accept_pkt(struct sub *s, unsigned int leg, const struct rtp_hdr *h,
		       const uint8_t *payload, size_t plen, uint64_t arrival_ns,
		       uint64_t now_ns)
{
	struct sub_leg_stats *ls = &s->stats.leg[leg];
	size_t frame_bytes = s->cfg.channels * rtp_bytes_per_sample(s->cfg.enc);
	unsigned int frames = (unsigned int)(plen / frame_bytes);
	/* a packet's time, for how far its numbers may move (seq_jumped) */
	uint64_t pkt_ns = mclock_samples_to_ns(frames, s->cfg.rate);
	enum seq_verdict v;
	bool reordered;
	int32_t d;

	s->ssrc_last_ns = arrival_ns;
	if (!s->synced)
		sync_stream(s, h->ts, arrival_ns);
	STAT_INC(s->stats.received);
	STAT_INC(ls->received);
	STAT_SET(ls->last_ns, arrival_ns);
	/* A repeat on its own leg is a duplicate, as on one network; a
	 * jump its successor has not confirmed is not the stream's. */
	v = track_seq(&s->legseq[leg], h->seq, arrival_ns, pkt_ns, &reordered);
	STAT_SET(ls->lost, seq_lost(&s->legseq[leg]));
	if (v == SEQ_DUP) {
		STAT_INC(s->stats.duplicate);
		return;
	}
	if (v == SEQ_JUMP) {
		STAT_INC(s->stats.seq_jumps);
		return;
	}
	/* Far off the stream's numbers while the other leg carries the
	 * stream where it is: this leg's packets are not the stream's,
	 * confirmed on this leg or not (a leg seconds behind, a forged or
	 * replayed pair on one network), and move nothing. */
	if (seq_jumped(&s->seq, h->seq, arrival_ns, pkt_ns) &&
	    other_leg_holds(s, leg, h->seq, arrival_ns)) {
		STAT_INC(s->stats.seq_jumps);
		STAT_INC(ls->refused);
		return;
	}
	/* a jump this leg confirmed is the stream's (unless the other leg
	 * took the stream there already) */
	if (v == SEQ_RESTART &&
	    (s->legseq[leg].dup_restarted ||
	     seq_jumped(&s->seq, h->seq, arrival_ns, pkt_ns)))
		seq_restart(&s->seq);
	v = track_seq(&s->seq, h->seq, arrival_ns, pkt_ns, &reordered);
	if (v == SEQ_JUMP) {
		STAT_INC(s->stats.seq_jumps);
		return;
	}
	if (s->timescale_ok)
		record_delay(s, leg, h->ts, arrival_ns);
	/* The other leg's copy came first: this one is redundant, whether
	 * or not it would still have been in time, unless it fills what
	 * the first did not store (a copy stamped off its place, late or
	 * early, must not keep the good one out). */
	if (v == SEQ_DUP && !jbuf_would_store(s->jb, h->ts, frames)) {
		STAT_INC(s->stats.redundant);
		if (s->timescale_ok && behind_playout(s, h->ts, frames))
			STAT_INC(ls->late);
		else
			STAT_SET(ls->fit_ns, arrival_ns);
		publish_lost(s);
		return;
	}
	if (GET_ARRIVAL(s))
		arrival_note(s->arr,
			     mclock_ns_to_samples(arrival_ns, s->cfg.rate),
			     h->ts);
	rtp_unpack(s->cfg.enc, payload, s->cfg.channels, frames, s->unpacked);
	d = rtp_ts_diff(h->ts, jbuf_read_ts(s->jb));
	switch (jbuf_put(s->jb, h->ts, s->unpacked, frames)) {
	case JBUF_OK:
		note_first_data(s, h->ts);
		s->misfits = 0;
		STAT_INC(ls->used);
		STAT_SET(ls->fit_ns, arrival_ns);
		if (reordered)
			STAT_INC(s->stats.reordered);
		break;
	case JBUF_PARTLY_LATE:
		note_first_data(s, h->ts);
		s->misfits = 0;
		STAT_INC(ls->used);
		STAT_SET(ls->fit_ns, arrival_ns);
		if (s->timescale_ok) {
			STAT_INC(ls->late);
			STAT_INC(s->stats.late);
		} else {
			STAT_INC(s->stats.unsynced);
		}
		break;
	case JBUF_LATE:
		if (d < -(int32_t)(s->cfg.rate / 10))
			misfit(s, arrival_ns);
		else
			s->misfits = 0;
		if (s->timescale_ok) {
			STAT_INC(ls->late);
			STAT_INC(s->stats.late);
		} else {
			STAT_INC(s->stats.unsynced);
		}
		break;
	case JBUF_EARLY:
		misfit(s, arrival_ns);
		if (s->timescale_ok)
			STAT_INC(s->stats.early);
		else
			STAT_INC(s->stats.unsynced);
		break;
	case JBUF_DUPLICATE:
		/* A new number (a repeat of one was stopped above) for
		 * frames the buffer has: the same stream at a new address
		 * while the old one still brought it. Nothing is missing
		 * from the sequence. */
		STAT_INC(s->stats.duplicate);
		break;
	}
	publish_lost(s);
}

/* Does the other leg of a two-leg stream hold it where it is, so that a
 * packet of @leg numbered @seq, far from the stream's numbers, is not the
 * stream's? It does while its last packet that fit the stream came
 * within SUB_LEG_HOLD_NS, unless its own numbers went where @seq is too
 * (a sender's jump both legs carry is the stream's). */
static bool other_leg_holds(const struct sub *s, unsigned int leg, uint16_t seq,
			    uint64_t arrival_ns)
{
	const struct seqtrack *o = &s->legseq[!leg];
	uint64_t fit = STAT_GET(s->stats.leg[!leg].fit_ns);
	int16_t d;

	if (s->legs < 2 || !fit || arrival_ns > fit + SUB_LEG_HOLD_NS)
		return false;
	d = rtp_seq_diff(seq, o->max_seq);
	return o->have && (d < -SEQ_MAX_JUMP || d > SEQ_MAX_JUMP);
}

/* Whether stream position @ts continues the timeline the buffer reads:
 * not more than a tenth of a second behind it, nor beyond the buffer. */
static bool on_timeline(const struct sub *s, uint32_t ts)
{
	int32_t d = rtp_ts_diff(ts, jbuf_read_ts(s->jb));

	return d >= -(int32_t)(s->cfg.rate / 10) &&
	       d < (int32_t)jbuf_capacity(s->jb);
}

/* Whether such a packet is on this node's media clock while it keeps
 * one: a d4 sender that locked or stepped with its grandmaster sends so
 * at once. */
static bool on_clock(const struct sub *s, uint32_t ts, uint64_t arrival_ns)
{
	return s->timescale_ok && ptp_stamped(s, ts, arrival_ns);
}

/* The oldest packet leg @c's stash (a ring of the latest) still has. */
static const struct stashed *stash_first(const struct candidate *c)
{
	return &c->stash[c->n < SSRC_STASH ? 0 : c->n % SSRC_STASH];
}

/* Play the packets leg @leg's candidate kept, oldest first. */
static void play_stash(struct sub *s, unsigned int leg, uint64_t now_ns)
{
	struct candidate *c = &s->cand[leg];
	unsigned int i, n = c->n < SSRC_STASH ? c->n : SSRC_STASH;
	unsigned int first = c->n - n;

	/* what the stash could not keep was never played: foreign */
	if (c->n > n)
		STAT_SET(s->stats.foreign_ssrc,
			 STAT_GET(s->stats.foreign_ssrc) + (c->n - n));
	c->on = false;
	for (i = 0; i < n; i++) {
		struct rtp_hdr h;
		const uint8_t *payload;
		size_t plen;

		const struct stashed *k = &c->stash[(first + i) % SSRC_STASH];

		if (rtp_hdr_decode(k->buf, k->len, &h, &payload, &plen) == 0)
			accept_pkt(s, leg, &h, payload, plen, k->arrival_ns,
				   now_ns);
	}
}

/* The SSRC proving itself on leg @leg has: it is the stream from now on,
 * and what it sent so far plays (the other leg's copies of the same SSRC
 * too, as redundant ones). On the timeline the buffer reads (a hand-over)
 * nothing is lost; on another, the stream is timed anew. */
static void take_candidate(struct sub *s, unsigned int leg, uint64_t now_ns)
{
	const struct stashed *first = stash_first(&s->cand[leg]);
	unsigned int l;

	STAT_INC(s->stats.ssrc_changes);
	seq_restart(&s->seq);
	for (l = 0; l < SUB_LEGS; l++)
		seq_restart(&s->legseq[l]);
	s->ssrc = s->cand[leg].ssrc;
	STAT_SET(s->stats.ssrc, s->ssrc);
	if (!on_timeline(s, rtp_peek_ts(first->buf)))
		s->synced = false;
	play_stash(s, leg, now_ns);
	for (l = 0; l < SUB_LEGS; l++) {
		if (l == leg || !s->cand[l].on)
			continue;
		if (s->cand[l].ssrc == s->ssrc) {
			play_stash(s, l, now_ns);
		} else {
			STAT_SET(s->stats.foreign_ssrc,
				 STAT_GET(s->stats.foreign_ssrc) +
				     s->cand[l].n);
			s->cand[l].on = false;
		}
	}
}

/* A packet of another SSRC than the stream's, on leg @leg. */
static void candidate(struct sub *s, unsigned int leg, const struct rtp_hdr *h,
		      const uint8_t *buf, size_t len,
		      const struct sockaddr_in *from, uint64_t arrival_ns,
		      uint64_t now_ns)
{
	uint64_t quiet = mclock_samples_to_ns(2 * s->chunk, s->cfg.rate);
	struct candidate *c = &s->cand[leg];
	const struct stashed *first;
	struct stashed *k;

	if (quiet < SSRC_QUIET_NS)
		quiet = SSRC_QUIET_NS;
	if (!c->on || h->ssrc != c->ssrc || h->seq != c->next_seq) {
		/* another one, or out of sequence: start over */
		if (c->on)
			STAT_SET(s->stats.foreign_ssrc,
				 STAT_GET(s->stats.foreign_ssrc) + c->n);
		c->on = true;
		c->ssrc = h->ssrc;
		c->n = 0;
	}
	c->next_seq = (uint16_t)(h->seq + 1);
	k = &c->stash[c->n % SSRC_STASH];
	k->arrival_ns = arrival_ns;
	k->from = *from;
	k->len = (uint16_t)len;
	memcpy(k->buf, buf, len);
	c->n++;
	if (c->n < SSRC_PROVE)
		return;
	/* judged on the oldest packet kept, the one the stream would be
	 * timed from (an attacker: the first on the timeline, the rest
	 * off, was judged on two packets) */
	first = stash_first(c);
	if (s->synced && quiet < SSRC_QUIET_OFF_NS &&
	    !on_timeline(s, rtp_peek_ts(first->buf)) &&
	    !on_clock(s, rtp_peek_ts(first->buf), first->arrival_ns))
		quiet = SSRC_QUIET_OFF_NS;
	/* the stream's SSRC must be quiet on every leg */
	if (arrival_ns >= s->ssrc_last_ns + quiet)
		take_candidate(s, leg, now_ns);
}

void sub_rx_packet_leg(struct sub *s, unsigned int leg, const uint8_t *buf,
		       size_t len, const struct sockaddr_in *from,
		       uint64_t arrival_ns, uint64_t now_ns)
{
	size_t frame_bytes = s->cfg.channels * rtp_bytes_per_sample(s->cfg.enc);
	const struct in_addr *filter =
	    leg ? &s->cfg.source_filter2 : &s->cfg.source_filter;
	bool filtered =
	    leg ? s->cfg.has_source_filter2 : s->cfg.has_source_filter;
	const uint8_t *payload;
	size_t plen;
	struct rtp_hdr h;

	if (leg >= s->legs)
		return;
	if (rtp_hdr_decode(buf, len, &h, &payload, &plen) < 0) {
		STAT_INC(s->stats.bad_header);
		STAT_INC(s->stats.leg[leg].refused);
		return;
	}
	if (filtered && from->sin_addr.s_addr != filter->s_addr) {
		STAT_INC(s->stats.foreign);
		STAT_INC(s->stats.leg[leg].refused);
		return;
	}
	if (h.pt != s->cfg.pt) {
		STAT_INC(s->stats.bad_pt);
		STAT_SET(s->stats.last_bad_pt, h.pt);
		STAT_INC(s->stats.leg[leg].refused);
		return;
	}
	if (plen == 0 || plen % frame_bytes ||
	    plen / frame_bytes > SUB_MAX_FRAMES) {
		STAT_INC(s->stats.bad_size);
		STAT_SET(s->stats.last_bad_size, (uint32_t)plen);
		STAT_INC(s->stats.leg[leg].refused);
		return;
	}
	if (!s->have_ssrc) {
		/* the first stream: nothing to defend yet */
		s->have_ssrc = true;
		s->ssrc = h.ssrc;
		STAT_SET(s->stats.ssrc, h.ssrc);
	} else if (h.ssrc != s->ssrc) {
		STAT_INC(s->stats.leg[leg].other_ssrc);
		candidate(s, leg, &h, buf, len, from, arrival_ns, now_ns);
		return;
	} else if (s->cand[leg].on) {
		/* the stream goes on: what claimed to follow it was not */
		STAT_SET(s->stats.foreign_ssrc,
			 STAT_GET(s->stats.foreign_ssrc) + s->cand[leg].n);
		s->cand[leg].on = false;
	}
	accept_pkt(s, leg, &h, payload, plen, arrival_ns, now_ns);
}

void sub_rx_packet(struct sub *s, const uint8_t *buf, size_t len,
		   const struct sockaddr_in *from, uint64_t arrival_ns,
		   uint64_t now_ns)
{
	sub_rx_packet_leg(s, 0, buf, len, from, arrival_ns, now_ns);
}

unsigned int sub_pending(const struct sub *s)
{
	unsigned int l, n = 0;

	for (l = 0; l < SUB_LEGS; l++)
		if (s->cand[l].on)
			n += s->cand[l].n;
	return n;
}

/* A datagram of @real_len bytes, longer than its receive buffer (the
 * first RX_BUF in @buf): judged in sub_rx_packet_leg's order as far as
 * its fixed header tells (not RTP, a sender outside the filter, another
 * payload type), else refused for its size, which last_bad_size says
 * (its bytes after the fixed header). RT. */
static void rx_truncated(struct sub *s, unsigned int leg, const uint8_t *buf,
			 size_t real_len, const struct sockaddr_in *from)
{
	const struct in_addr *filter =
	    leg ? &s->cfg.source_filter2 : &s->cfg.source_filter;
	bool filtered =
	    leg ? s->cfg.has_source_filter2 : s->cfg.has_source_filter;
	size_t hdr = RTP_HDR_LEN + 4u * (buf[0] & 0x0f);

	/* the header's own lengths, as far as the buffer holds them (a
	 * padding count is in the last byte, beyond it) */
	if ((buf[0] & 0x10) && hdr + 4 <= RX_BUF)
		hdr += 4 + 4u * ((size_t)buf[hdr + 2] << 8 | buf[hdr + 3]);
	STAT_INC(s->stats.leg[leg].refused);
	if ((buf[0] >> 6) != 2 || hdr > real_len) {
		STAT_INC(s->stats.bad_header);
	} else if (filtered && from->sin_addr.s_addr != filter->s_addr) {
		STAT_INC(s->stats.foreign);
	} else if ((buf[1] & 0x7f) != s->cfg.pt) {
		STAT_INC(s->stats.bad_pt);
		STAT_SET(s->stats.last_bad_pt, buf[1] & 0x7f);
	} else {
		STAT_INC(s->stats.bad_size);
		STAT_SET(s->stats.last_bad_size,
			 (uint32_t)(real_len - RTP_HDR_LEN));
	}
}

/* One datagram on leg @leg (see sub_rx_datagram). RT. */
static void rx_datagram(struct sub *s, unsigned int leg, const uint8_t *buf,
			size_t len, bool truncated,
			const struct sockaddr_in *from, uint64_t arrival_ns,
			uint64_t now_ns)
{
	if (truncated)
		rx_truncated(s, leg, buf, len, from);
	else
		sub_rx_packet_leg(s, leg, buf, len, from, arrival_ns, now_ns);
}

void sub_rx_datagram(struct sub *s, const uint8_t *buf, size_t len,
		     bool truncated, const struct sockaddr_in *from,
		     uint64_t arrival_ns, uint64_t now_ns)
{
	rx_datagram(s, 0, buf, len, truncated, from, arrival_ns, now_ns);
}

/* Drain leg @leg's socket @fd. RT. */
static void drain_leg(struct sub *s, unsigned int leg, int fd, uint64_t now_ns,
		      int64_t clock_offset_ns)
{
	struct rxbatch *rb = s->rb;

	for (;;) {
		int i, n;

		for (i = 0; i < RX_BATCH; i++) {
			rb->iov[i].iov_base = rb->bufs[i];
			rb->iov[i].iov_len = RX_BUF;
			rb->msgs[i].msg_hdr = (struct msghdr){
			    .msg_name = &rb->from[i],
			    .msg_namelen = sizeof(rb->from[i]),
			    .msg_iov = &rb->iov[i],
			    .msg_iovlen = 1,
			    .msg_control = rb->ctrl[i],
			    .msg_controllen = sizeof(rb->ctrl[i]),
			};
		}
		/* MSG_TRUNC: a datagram longer than its buffer says its real
		 * length, for last_bad_size */
		n = recvmmsg(fd, rb->msgs, RX_BATCH, MSG_DONTWAIT | MSG_TRUNC,
			     NULL);
		if (n <= 0)
			return;
		for (i = 0; i < n; i++) {
			struct msghdr *mh = &rb->msgs[i].msg_hdr;

			rx_datagram(s, leg, rb->bufs[i], rb->msgs[i].msg_len,
				    mh->msg_flags & MSG_TRUNC, &rb->from[i],
				    net_rx_stamp(mh, now_ns, clock_offset_ns),
				    now_ns);
		}
		if (n < RX_BATCH)
			return;
	}
}

void sub_rx_drain(struct sub *s, uint64_t now_ns, int64_t clock_offset_ns)
{
	if (s->fd >= 0)
		drain_leg(s, 0, s->fd, now_ns, clock_offset_ns);
	if (s->fd2 >= 0)
		drain_leg(s, 1, s->fd2, now_ns, clock_offset_ns);
	STAT_SET(s->stats.drained_ns, now_ns);
}

/* Close the arrival delay window that ends before @play_x. RT. */
static void close_window(struct sub *s)
{
	STAT_SET(s->stats.win_delay_min_ns, s->win_min_ns);
	STAT_SET(s->stats.win_delay_max_ns, s->win_max_ns);
	STAT_INC(s->stats.delay_windows);
	s->win_min_ns = INT64_MAX;
	s->win_max_ns = INT64_MIN;
	s->win_end_x = s->play_x + (uint64_t)s->cfg.rate * SUB_DELAY_WINDOW_S;
	STAT_SET(s->stats.rate_ppb, (int64_t)(arrival_ppm(s->arr) * 1000.0));
	STAT_SET(s->stats.converting, arrival_converting(s->arr));
	STAT_SET(s->stats.arrival_steps, arrival_steps(s->arr));
}

uint64_t sub_playout(struct sub *s, uint64_t now_ns)
{
	uint64_t target = mclock_ns_to_samples(now_ns, s->cfg.rate) -
			  s->latency_frames + s->lead_frames;
	unsigned int i;

	if (s->play_x >= s->win_end_x)
		close_window(s);
	while (s->play_x < target) {
		uint64_t left = target - s->play_x;
		unsigned int n =
		    left > PLAYOUT_CHUNK ? PLAYOUT_CHUNK : (unsigned int)left;

		if (s->synced) {
			unsigned int missing =
			    GET_ARRIVAL(s)
				? arrival_read(s->arr, s->play_x, s->out, n)
				: jbuf_get(s->jb, s->out, n);

			/* Before the stream's first sample nothing is
			 * missing yet. */
			if (s->first_data_x > s->play_x) {
				uint64_t pre = s->first_data_x - s->play_x;

				missing -=
				    pre < missing ? (unsigned int)pre : missing;
			}
			if (missing && s->timescale_ok)
				STAT_SET(s->stats.missing_frames,
					 STAT_GET(s->stats.missing_frames) +
					     missing);
		} else {
			memset(s->out, 0,
			       (size_t)n * s->cfg.channels * sizeof(int32_t));
		}
		meter_feed(s->meter, s->out, n);
		for (i = 0; i < s->nrec; i++)
			recorder_feed(s->rec[i], s->play_x, s->out,
				      s->cfg.channels, n, s->first_data_x);
		for (i = 0; i < s->nout; i++)
			s->out_fn[i].fn(s->out_fn[i].ctx, s->play_x, s->out,
					s->cfg.channels, n, s->first_data_x);
		s->play_x += n;
	}
	return mclock_samples_to_ns(s->play_x + s->chunk + s->latency_frames -
					s->lead_frames,
				    s->cfg.rate);
}
