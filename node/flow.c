/* Flow pacing: packet n carries positions [x, x + fpp) and leaves at the PTP
 * time of position x. A synthetic source's sample is stamped with the moment
 * it leaves, so arrival minus timestamp is pure network + wake-up delay. */
#include "node/flow.h"
#include "common/mem.h"
#include "common/log.h"
#include "common/net.h"
#include "node/meter.h"
#include "ptp/mclock.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

/* Past this much lag the flow jumps ahead instead of bursting to catch up:
 * the largest latency a receiver may set (100 ms), so that a stall a
 * receiver's latency covers costs it nothing (the burst still arrives in
 * time), and one no receiver covers is not sent at all. */
#define FLOW_MAX_CATCHUP_NS (100 * 1000 * 1000ull)
/* A capture source's samples are late (source_ready): look again this soon. */
#define FLOW_RETRY_NS (250 * 1000ull)

struct flow {
	struct flow_config cfg;
	struct source *src;
	int fd;
	uint32_t session_id; /* the SDP's o= id: the first SSRC, for good */
	uint32_t ssrc;	     /* a new one on every timescale step */
	uint16_t seq;
	uint64_t rnd; /* xorshift state for new SSRCs (RT) */
	struct in_addr src_addr;
	flow_send_fn send_fn;
	void *send_ctx;
	/* the second leg (ST 2022-7): -1 without one */
	int fd2;
	struct in_addr src_addr2;
	flow_send_fn send_fn2;
	void *send_ctx2;
	uint8_t pkt2[1500]; /* its copy of each packet */
	uint8_t mac[6];
	uint64_t next_x;
	uint64_t next_ns;
	uint64_t pass_due_ns; /* the earliest due of this pass's packets; 0 */
	uint32_t lag;	 /* frames after their PTP time that positions exist */
	int32_t *frames; /* fpp x nch, sized at open */
	uint8_t pkt[1500];
	struct flow_stats stats;
	struct meter *meter; /* what it sends */
};

#define STAT_ADD(f, n)                                                         \
	atomic_store_explicit(                                                 \
	    &(f), atomic_load_explicit(&(f), memory_order_relaxed) + (n),      \
	    memory_order_relaxed)

uint32_t flow_frames_per_packet(uint32_t ptime_us, uint32_t rate)
{
	uint32_t base;

	switch (ptime_us) {
	case 125:
		base = 6;
		break;
	case 250:
		base = 12;
		break;
	case 333:
		base = 16;
		break;
	case 1000:
		base = 48;
		break;
	case 4000:
		base = 192;
		break;
	default:
		return 0;
	}
	switch (rate) {
	case 44100:
	case 48000:
		return base;
	case 96000:
		return base * 2;
	}
	return 0;
}

int flow_legs_check(const struct flow_config *cfg, char *err, size_t err_len)
{
	if (cfg->ifname2[0] && !flow_config_has_leg2(cfg)) {
		snprintf(err, err_len,
			 "interface2 without destination2: a second leg needs "
			 "its group or receiver");
		return -EINVAL;
	}
	if (flow_config_has_leg2(cfg) && net_is_multicast(&cfg->dest2) &&
	    !cfg->ifname2[0]) {
		snprintf(err, err_len,
			 "destination2 is a group: give interface2, the "
			 "second network's interface");
		return -EINVAL;
	}
	if (flow_config_has_leg2(cfg) &&
	    cfg->dest2.sin_addr.s_addr == cfg->dest.sin_addr.s_addr &&
	    cfg->dest2.sin_port == cfg->dest.sin_port &&
	    !strcmp(cfg->ifname2, cfg->ifname)) {
		snprintf(err, err_len,
			 "destination2 is destination on the same interface "
			 "(a second leg goes to another network)");
		return -EINVAL;
	}
	return 0;
}

int flow_config_check(const struct flow_config *cfg, char *err, size_t err_len)
{
	uint32_t fpp = flow_frames_per_packet(cfg->ptime_us, cfg->rate);
	char why[160];
	size_t payload;

	if (cfg->nch < 1 || cfg->nch > SOURCE_MAX_CHANNELS) {
		snprintf(err, err_len, "flow %s: %u channels; 1-%d allowed",
			 cfg->name, cfg->nch, SOURCE_MAX_CHANNELS);
		return -EINVAL;
	}
	if (cfg->rate != 44100 && cfg->rate != 48000 && cfg->rate != 96000) {
		snprintf(err, err_len,
			 "flow %s: rate %u Hz; 44100, 48000 or 96000 allowed",
			 cfg->name, cfg->rate);
		return -EINVAL;
	}
	if (!fpp) {
		snprintf(err, err_len,
			 "flow %s: packet time %u us; 125, 250, 333, 1000 or "
			 "4000 allowed",
			 cfg->name, cfg->ptime_us);
		return -EINVAL;
	}
	if (flow_legs_check(cfg, why, sizeof(why)) < 0) {
		snprintf(err, err_len, "flow %s: %s", cfg->name, why);
		return -EINVAL;
	}
	payload = (size_t)fpp * cfg->nch * rtp_bytes_per_sample(cfg->enc);
	if (payload > RTP_MAX_PAYLOAD) {
		snprintf(err, err_len,
			 "flow %s: %u channels of %s at %u us need %zu payload "
			 "bytes, over the %d a 1500-byte MTU allows (use fewer "
			 "channels or a shorter packet time)",
			 cfg->name, cfg->nch, rtp_encoding_name(cfg->enc),
			 cfg->ptime_us, payload, RTP_MAX_PAYLOAD);
		return -EINVAL;
	}
	return 0;
}

/* Where a leg sends from: a group's packets leave by the named interface,
 * from its address; otherwise the route to the destination says. */
static int leg_origin(const struct sockaddr_in *dest, const char *ifname,
		      struct in_addr *src, uint8_t mac[6])
{
	if (ifname && net_is_multicast(dest))
		return net_iface_addr(ifname, src, mac);
	net_egress(dest, src, mac);
	return 0;
}

/* leg_origin's error @rc for the flow's interface (@what: "interface" or
 * "interface2") in @err. */
static void origin_error(char *err, size_t err_len, const char *flow,
			 const char *what, const char *ifname, int rc)
{
	if (rc == -EADDRNOTAVAIL)
		snprintf(err, err_len, "flow %s: %s '%s' has no IPv4 address",
			 flow, what, ifname);
	else if (rc == -ENODEV)
		snprintf(err, err_len, "flow %s: %s '%s' does not exist", flow,
			 what, ifname);
	else
		snprintf(err, err_len, "flow %s: %s '%s': %s", flow, what,
			 ifname, strerror(-rc));
}

struct flow *flow_open(const struct flow_config *cfg, struct source *src,
		       char *err, size_t err_len)
{
	struct net_tx_opts opts = {.dscp = cfg->dscp, .ttl = cfg->ttl};
	struct flow *f;
	uint32_t rnd[2];
	unsigned int c;
	int rc;

	if (flow_config_check(cfg, err, err_len) < 0)
		return NULL;
	if (source_rate(src) != cfg->rate) {
		snprintf(err, err_len,
			 "flow %s: source %s runs at %u Hz but the flow at %u "
			 "Hz (d4 never resamples a source)",
			 cfg->name, source_name(src), source_rate(src),
			 cfg->rate);
		return NULL;
	}
	for (c = 0; c < cfg->nch; c++) {
		if (cfg->chans[c] >= source_channels(src)) {
			snprintf(err, err_len,
				 "flow %s: channel %u of source %s does not "
				 "exist (it has %u)",
				 cfg->name, cfg->chans[c] + 1u,
				 source_name(src), source_channels(src));
			return NULL;
		}
	}
	f = mem_calloc_held(1, sizeof(*f));
	if (!f) {
		snprintf(err, err_len, "out of memory");
		return NULL;
	}
	f->cfg = *cfg;
	f->cfg.fpp = flow_frames_per_packet(cfg->ptime_us, cfg->rate);
	f->src = src;
	/* A capture source has position X only some time after X: send then. */
	f->lag = source_lag_frames(src);
	f->fd = -1;
	f->fd2 = -1;
	f->frames =
	    mem_calloc_held((size_t)f->cfg.fpp * cfg->nch, sizeof(int32_t));
	f->meter = meter_new(cfg->nch, cfg->rate);
	if (!f->frames || !f->meter) {
		snprintf(err, err_len, "out of memory");
		flow_destroy(f);
		return NULL;
	}
	opts.ifname = cfg->ifname[0] ? cfg->ifname : NULL;
	rc = leg_origin(&cfg->dest, opts.ifname, &opts.src, f->mac);
	if (rc < 0) {
		origin_error(err, err_len, cfg->name, "interface", cfg->ifname,
			     rc);
		flow_destroy(f);
		errno = -rc;
		return NULL;
	}
	f->src_addr = opts.src;
	f->fd = net_udp_tx_share(&cfg->dest, &opts);
	if (f->fd < 0) {
		snprintf(err, err_len, "flow %s: cannot open socket: %s",
			 cfg->name, strerror(-f->fd));
		rc = f->fd;
		flow_destroy(f);
		errno = -rc;
		return NULL;
	}
	if (flow_config_has_leg2(cfg)) {
		uint8_t mac2[6];

		opts.ifname = cfg->ifname2[0] ? cfg->ifname2 : NULL;
		rc = leg_origin(&cfg->dest2, opts.ifname, &opts.src, mac2);
		if (rc < 0) {
			origin_error(err, err_len, cfg->name, "interface2",
				     cfg->ifname2, rc);
			flow_destroy(f);
			errno = -rc;
			return NULL;
		}
		f->src_addr2 = opts.src;
		f->fd2 = net_udp_tx_share(&cfg->dest2, &opts);
		if (f->fd2 < 0) {
			snprintf(err, err_len,
				 "flow %s: cannot open its second leg's "
				 "socket: %s",
				 cfg->name, strerror(-f->fd2));
			rc = f->fd2;
			flow_destroy(f);
			errno = -rc;
			return NULL;
		}
	}
	if (getrandom(rnd, sizeof(rnd), 0) != sizeof(rnd)) {
		snprintf(err, err_len, "flow %s: getrandom: %s", cfg->name,
			 strerror(errno));
		flow_destroy(f);
		return NULL;
	}
	f->ssrc = f->session_id = rnd[0];
	atomic_store_explicit(&f->stats.ssrc, f->ssrc, memory_order_relaxed);
	f->seq = (uint16_t)rnd[1];
	f->rnd = ((uint64_t)rnd[0] << 32 | rnd[1]) | 1;
	return f;
}

void flow_destroy(struct flow *f)
{
	if (!f)
		return;
	net_udp_tx_unshare(f->fd);
	net_udp_tx_unshare(f->fd2);
	free(f->frames);
	meter_destroy(f->meter);
	free(f);
}

const struct flow_config *flow_config(const struct flow *f)
{
	return &f->cfg;
}

int flow_fd(const struct flow *f)
{
	return f->fd;
}

int flow_fd2(const struct flow *f)
{
	return f->fd2;
}

void flow_set_sender(struct flow *f, flow_send_fn fn, void *ctx)
{
	f->send_fn = fn;
	f->send_ctx = ctx;
}

void flow_set_sender2(struct flow *f, flow_send_fn fn, void *ctx)
{
	f->send_fn2 = fn;
	f->send_ctx2 = ctx;
}

const struct flow_stats *flow_stats(const struct flow *f)
{
	return &f->stats;
}

const struct meter *flow_meter(const struct flow *f)
{
	return f->meter;
}

uint32_t flow_ssrc(const struct flow *f)
{
	return atomic_load_explicit(&((struct flow *)f)->stats.ssrc,
				    memory_order_relaxed);
}

uint32_t flow_session_id(const struct flow *f)
{
	return f->session_id;
}

/* The next of a xorshift64 sequence seeded from getrandom() at open. RT. */
static uint32_t next_random(struct flow *f)
{
	f->rnd ^= f->rnd << 13;
	f->rnd ^= f->rnd >> 7;
	f->rnd ^= f->rnd << 17;
	return (uint32_t)(f->rnd >> 16);
}

void flow_origin(const struct flow *f, struct in_addr *addr, uint8_t mac[6])
{
	*addr = f->src_addr;
	memcpy(mac, f->mac, 6);
}

void flow_origin2(const struct flow *f, struct in_addr *addr)
{
	*addr = f->src_addr2;
}

void flow_start(struct flow *f, uint64_t now_ns)
{
	uint64_t x = mclock_ns_to_samples(now_ns, f->cfg.rate);

	/* Packets on multiples of fpp: all d4 flows of one packet time leave
	 * together, and receivers see round timestamps. */
	f->next_x = (x / f->cfg.fpp + 1) * f->cfg.fpp;
	f->next_ns = mclock_samples_to_ns(f->next_x + f->lag, f->cfg.rate);
}

void flow_set_timescale_ok(struct flow *f, bool ok)
{
	source_set_timescale_ok(f->src, ok);
}

void flow_resync(struct flow *f, uint64_t now_ns)
{
	uint32_t ssrc;

	/* The media clock stepped to another timescale: the timestamps
	 * jump. As RFC 3550 has a source whose timing breaks do, the flow
	 * goes on as a new source (SSRC and sequence), so receivers time
	 * it anew at once instead of judging packets against the old
	 * timeline (docs/architecture.md "Send"). */
	do
		ssrc = next_random(f);
	while (ssrc == f->ssrc);
	f->ssrc = ssrc;
	f->seq = (uint16_t)next_random(f);
	atomic_store_explicit(&f->stats.ssrc, ssrc, memory_order_relaxed);
	atomic_fetch_add_explicit(&f->stats.ssrc_changes, 1,
				  memory_order_relaxed);
	source_resync(f->src);
	flow_start(f, now_ns);
}

/* One leg's packet: through its D4 program when it has one, else straight
 * to its destination. RT. */
static void send_leg(flow_send_fn fn, void *ctx, int fd,
		     const struct sockaddr_in *dest, uint8_t *pkt, size_t len,
		     _Atomic uint64_t *packets, _Atomic uint64_t *errors,
		     _Atomic uint64_t *dropped, _Atomic int *last_errno)
{
	if (fn) {
		int rc = fn(ctx, pkt, len);

		if (rc > 0)
			STAT_ADD(*packets, 1);
		else if (rc == 0)
			STAT_ADD(*dropped, 1);
		else
			STAT_ADD(*errors, 1);
		return;
	}
	if (sendto(fd, pkt, len, 0, (const struct sockaddr *)dest,
		   sizeof(*dest)) < 0) {
		STAT_ADD(*errors, 1);
		atomic_store_explicit(last_errno, errno, memory_order_relaxed);
	} else {
		STAT_ADD(*packets, 1);
	}
}

static void send_one(struct flow *f)
{
	struct rtp_hdr h = {
	    .pt = f->cfg.pt,
	    .seq = f->seq++,
	    .ts = (uint32_t)f->next_x, /* a=mediaclk:direct=0 */
	    .ssrc = f->ssrc,
	};
	size_t len = RTP_HDR_LEN + (size_t)f->cfg.fpp * f->cfg.nch *
				       rtp_bytes_per_sample(f->cfg.enc);

	source_read(f->src, f->next_x, f->cfg.fpp, f->cfg.chans, f->cfg.nch,
		    f->frames);
	meter_feed(f->meter, f->frames, f->cfg.fpp);
	rtp_hdr_encode(&h, f->pkt);
	rtp_pack(f->cfg.enc, f->frames, f->cfg.nch, f->cfg.fpp,
		 f->pkt + RTP_HDR_LEN);
	/* ST 2022-7: both legs carry the same bytes, sent in the same
	 * pass; the second gets its own copy, so nothing the first leg's
	 * program does to its packet reaches the second. */
	if (f->fd2 >= 0)
		memcpy(f->pkt2, f->pkt, len);
	send_leg(f->send_fn, f->send_ctx, f->fd, &f->cfg.dest, f->pkt, len,
		 &f->stats.packets, &f->stats.send_errors, &f->stats.dropped,
		 &f->stats.last_errno);
	if (f->fd2 >= 0)
		send_leg(f->send_fn2, f->send_ctx2, f->fd2, &f->cfg.dest2,
			 f->pkt2, len, &f->stats.packets2,
			 &f->stats.send_errors2, &f->stats.dropped2,
			 &f->stats.last_errno2);
}

uint64_t flow_send_due(struct flow *f, uint64_t now_ns)
{
	if (now_ns > f->next_ns + FLOW_MAX_CATCHUP_NS) {
		/* Stalled: resume at the current boundary; receivers
		 * conceal the gap instead of taking a burst. */
		uint64_t old = f->next_x;

		flow_start(f, now_ns);
		f->next_x -= f->cfg.fpp;
		f->next_ns =
		    mclock_samples_to_ns(f->next_x + f->lag, f->cfg.rate);
		STAT_ADD(f->stats.skipped, (f->next_x - old) / f->cfg.fpp);
	}
	while (f->next_ns <= now_ns) {
		/* A capture source's thread ran late: wait a little. */
		if (!source_ready(f->src, f->next_x + f->cfg.fpp,
				  now_ns - f->next_ns))
			return now_ns + FLOW_RETRY_NS;
		if (now_ns - f->next_ns >
		    atomic_load_explicit(&f->stats.send_late_max_ns,
					 memory_order_relaxed))
			atomic_store_explicit(&f->stats.send_late_max_ns,
					      now_ns - f->next_ns,
					      memory_order_relaxed);
		if (!f->pass_due_ns)
			f->pass_due_ns = f->next_ns;
		send_one(f);
		f->next_x += f->cfg.fpp;
		f->next_ns =
		    mclock_samples_to_ns(f->next_x + f->lag, f->cfg.rate);
	}
	return f->next_ns;
}

void flow_pass_end(struct flow *f, uint64_t sent_ns)
{
	if (f->pass_due_ns && sent_ns > f->pass_due_ns &&
	    sent_ns - f->pass_due_ns >
		atomic_load_explicit(&f->stats.send_late_max_ns,
				     memory_order_relaxed))
		atomic_store_explicit(&f->stats.send_late_max_ns,
				      sent_ns - f->pass_due_ns,
				      memory_order_relaxed);
	f->pass_due_ns = 0;
}
