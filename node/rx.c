/* The node's subscriptions (see rx.h). A record is built aside — settings
 * checked, stream resolved, receiver and sinks opened — then persisted,
 * then put in the media thread's table; a failure on the way closes what
 * was opened and leaves the table as it was. */
#include "node/rx.h"
#include "node/sndfile_lib.h"
#include "common/log.h"
#include "common/loop.h"
#include "common/net.h"
#include "discovery/sdp.h"
#include "node/alsa.h"
#include "node/config.h"
#include "node/disco.h"
#include "node/files.h"
#include "node/media.h"
#include "node/recorder.h"
#include "node/rxbus.h"
#include "node/substate.h"
#include "ptp/mclock.h"

#include <errno.h>
#include <fcntl.h>
#include <sndfile.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

_Static_assert(SUBSTATE_LATENCY_MAX_US * 1000ull == SUB_LATENCY_MAX_NS,
	       "substate.h and sub.h agree on the largest latency");

#define GET(x) atomic_load_explicit(&(x), memory_order_relaxed)

/* ---- settings ---- */

int sub_settings_check(const struct sub_settings *s, char *err, size_t err_len)
{
	int named = !!s->stream[0] + !!s->sdp[0] + !!s->addr.sin_family;

	if (named != 1) {
		snprintf(err, err_len,
			 "needs exactly one of stream (a name), sdp or "
			 "address");
		return -EINVAL;
	}
	if (s->nstream_ch && !s->nrx) {
		snprintf(err, err_len, "stream_channels needs rx_channels");
		return -EINVAL;
	}
	if (s->nstream_ch && s->nstream_ch != s->nrx) {
		snprintf(err, err_len, "%u stream_channels for %u rx_channels",
			 s->nstream_ch, s->nrx);
		return -EINVAL;
	}
	return 0;
}

/* The interface a leg is on when none is named: a unicast leg's own
 * address, else the subnet of the sender's address (its source filter).
 * "" when neither says. */
static void leg_interface(const struct sockaddr_in *addr, bool has_filter,
			  struct in_addr filter, char *ifname, size_t len)
{
	ifname[0] = '\0';
	if (!net_is_multicast(addr) && addr->sin_addr.s_addr != INADDR_ANY &&
	    net_iface_for(addr->sin_addr, ifname, len) == 0)
		return;
	if (has_filter)
		net_iface_for(filter, ifname, len);
}

/* The second leg (ST 2022-7): address2 as given, else the SDP's DUP leg
 * when this host is on its network (interface2 names it, or one of this
 * host's subnets holds the leg's sender). A DUP leg this host is not on
 * is left out: the first leg plays alone. With two legs, each leg's
 * interface is what it names or what its address says, so that each
 * socket hears only its own network. */
static int resolve_leg2(const struct sub_settings *s,
			const struct sdp_stream *st, unsigned int g,
			struct sub_config *out, char *err, size_t err_len)
{
	bool mc1, mc2, from_sdp = false;
	char ep[32];

	snprintf(out->ifname2, sizeof(out->ifname2), "%s", s->ifname2);
	out->has_source_filter2 = s->has_source_filter2;
	out->source_filter2 = s->source_filter2;
	if ((g & SUB_GIVEN_ADDR2) && s->addr2.sin_family) {
		out->addr2 = s->addr2;
	} else if (st && st->dup.present) {
		from_sdp = true;
		out->addr2.sin_family = AF_INET;
		out->addr2.sin_addr = st->dup.addr;
		out->addr2.sin_port = htons(st->dup.port);
		if (!(g & SUB_GIVEN_FILTER2)) {
			out->has_source_filter2 = st->dup.has_source_filter;
			out->source_filter2 = st->dup.source_filter;
		}
		if (!out->ifname2[0])
			leg_interface(&out->addr2, out->has_source_filter2,
				      out->source_filter2, out->ifname2,
				      sizeof(out->ifname2));
		if (!out->ifname2[0]) {
			memset(&out->addr2, 0, sizeof(out->addr2));
			return 0; /* not on the second network */
		}
	} else if (!s->stream[0] && (s->ifname2[0] || s->has_source_filter2)) {
		/* the user's own address or SDP has one leg: a second-leg
		 * setting with no leg to use it on is a mistake, said (a
		 * stream found by name may gain its DUP leg later) */
		snprintf(err, err_len,
			 "%s without a second leg: give address2, or an SDP "
			 "with a=group:DUP",
			 s->ifname2[0] ? "interface2" : "source_filter2");
		return -EINVAL;
	} else {
		return 0;
	}
	if (!out->ifname[0])
		leg_interface(&out->addr, out->has_source_filter,
			      out->source_filter, out->ifname,
			      sizeof(out->ifname));
	if (!out->ifname2[0])
		leg_interface(&out->addr2, out->has_source_filter2,
			      out->source_filter2, out->ifname2,
			      sizeof(out->ifname2));
	if (net_is_multicast(&out->addr2) && !out->ifname2[0]) {
		snprintf(err, err_len,
			 "address2 %s is a group: give interface2, the second "
			 "network's interface (or source_filter2, a sender on "
			 "it)",
			 net_endpoint_str(&out->addr2, ep, sizeof(ep)));
		return -EINVAL;
	}
	mc1 = net_is_multicast(&out->addr);
	mc2 = net_is_multicast(&out->addr2);
	if (out->addr.sin_port == out->addr2.sin_port &&
	    ((!mc1 && !mc2) ||
	     (mc1 && mc2 &&
	      out->addr.sin_addr.s_addr == out->addr2.sin_addr.s_addr)) &&
	    !(out->ifname[0] && out->ifname2[0] &&
	      strcmp(out->ifname, out->ifname2))) {
		if (from_sdp) {
			/* both legs reach this host on one network: one
			 * socket cannot tell them apart; the first plays */
			memset(&out->addr2, 0, sizeof(out->addr2));
			return 0;
		}
		snprintf(err, err_len,
			 "address2 %s shares address's port on one interface: "
			 "two legs need two networks (interface, interface2) "
			 "or two ports",
			 net_endpoint_str(&out->addr2, ep, sizeof(ep)));
		return -EINVAL;
	}
	return 0;
}

int sub_settings_resolve(const struct sub_settings *s,
			 const struct sdp_stream *st, struct sub_config *out,
			 char *err, size_t err_len)
{
	unsigned int g = st ? s->given : ~0u;

	memset(out, 0, sizeof(*out));
	snprintf(out->name, sizeof(out->name), "%s", s->name);
	snprintf(out->ifname, sizeof(out->ifname), "%s", s->ifname);
	out->latency_ns = s->latency_ns;
	out->timing = s->timing;
	out->addr = s->addr;
	out->enc = s->enc;
	out->rate = s->rate;
	out->channels = s->channels;
	out->pt = s->pt;
	out->mediaclk_offset = s->mediaclk_offset;
	out->has_source_filter = s->has_source_filter;
	out->source_filter = s->source_filter;
	if (st && !(g & SUB_GIVEN_ENC) &&
	    rtp_encoding_parse(st->encoding, &out->enc)) {
		snprintf(err, err_len, "encoding %s is not L24 or L16",
			 st->encoding);
		return -EINVAL;
	}
	/* The SDP may come from anyone on the network (SAP): a rate of
	 * 150 MHz would size a 4 GiB jitter buffer and eat the media
	 * thread. Only what a flow may send is taken. */
	if (st && !(g & SUB_GIVEN_RATE)) {
		if (st->rate != 44100 && st->rate != 48000 &&
		    st->rate != 96000) {
			snprintf(err, err_len,
				 "rate %u Hz: 44100, 48000 or 96000 only",
				 st->rate);
			return -EINVAL;
		}
		out->rate = st->rate;
	}
	if (st && !(g & SUB_GIVEN_ADDR)) {
		out->addr.sin_family = AF_INET;
		out->addr.sin_addr = st->addr;
		out->addr.sin_port = htons(st->port);
	}
	if (st && !(g & SUB_GIVEN_CH))
		out->channels = st->channels;
	if (st && !(g & SUB_GIVEN_PT))
		out->pt = st->payload_type;
	if (st && !(g & SUB_GIVEN_OFFSET))
		out->mediaclk_offset =
		    st->has_mediaclk ? st->mediaclk_offset : 0;
	if (st && !(g & SUB_GIVEN_FILTER)) {
		out->has_source_filter = st->has_source_filter;
		out->source_filter = st->source_filter;
	}
	if (out->channels < 1 || out->channels > SOURCE_MAX_CHANNELS) {
		snprintf(err, err_len, "%u channels; 1-%d allowed",
			 out->channels, SOURCE_MAX_CHANNELS);
		return -EINVAL;
	}
	if (resolve_leg2(s, st, g, out, err, err_len) < 0)
		return -EINVAL;
	/* Frames per packet are the SDP's word too (a=framecount,
	 * a=ptime): playout is paced by them, and a packet of more frames
	 * than fit in one could never arrive. */
	out->fpp = st && !(g & SUB_GIVEN_PTIME)
		       ? sdp_frames_per_packet(st)
		       : flow_frames_per_packet(s->ptime_us, out->rate);
	if (out->fpp > RTP_MAX_PAYLOAD /
			   (out->channels * rtp_bytes_per_sample(out->enc))) {
		snprintf(err, err_len,
			 "%u frames per packet: more than a packet holds",
			 out->fpp);
		return -EINVAL;
	}
	return 0;
}

int sub_settings_check_rx(const struct sub_settings *s,
			  unsigned int node_rx_channels,
			  const struct sub_settings *const *others,
			  unsigned int nothers, int channels, uint32_t rate,
			  char *err, size_t err_len)
{
	unsigned int c, j, k;

	for (c = 0; c < s->nrx; c++) {
		unsigned int sch = s->nstream_ch ? s->stream_ch[c] : c;

		if (s->rx[c] >= node_rx_channels) {
			snprintf(err, err_len, "RX channel %u: the node has %u",
				 s->rx[c] + 1u, node_rx_channels);
			return -EINVAL;
		}
		if (channels > 0 && sch >= (unsigned int)channels) {
			snprintf(err, err_len,
				 "stream channel %u: the stream has %d",
				 sch + 1, channels);
			return -EINVAL;
		}
		for (k = 0; k < c; k++)
			if (s->rx[k] == s->rx[c]) {
				snprintf(err, err_len,
					 "RX channel %u given twice",
					 s->rx[c] + 1u);
				return -EINVAL;
			}
	}
	if (s->nrx && rate && rate != CONFIG_RX_RATE) {
		snprintf(err, err_len,
			 "the stream runs at %u Hz; RX channels at %d Hz", rate,
			 CONFIG_RX_RATE);
		return -EINVAL;
	}
	for (j = 0; j < nothers; j++) {
		/* one that stops where this one starts may share them */
		if (others[j]->rx_until_ns && s->rx_from_ns &&
		    others[j]->rx_until_ns <= s->rx_from_ns)
			continue;
		for (c = 0; c < s->nrx; c++)
			for (k = 0; k < others[j]->nrx; k++)
				if (s->rx[c] == others[j]->rx[k]) {
					snprintf(err, err_len,
						 "RX channel %u is taken by "
						 "subscription %s",
						 s->rx[c] + 1u,
						 others[j]->name);
					return -EBUSY;
				}
	}
	return 0;
}

/* ---- records ---- */

/* What was said of a recording's troubles. */
struct rec_watch {
	int error;
	uint64_t clipped, overflows;
	uint64_t said_ns; /* when lost frames were last said */
};

/* A sink the subscription feeds. */
struct rx_out {
	const struct sink_config *k; /* the INI's [sink], or NULL: ... */
	struct rx_record api;	     /* ... the API's recording */
	struct recorder *rec;
	struct alsa_play *play;
	struct rec_watch watch;
};

/* Counters already logged, and the log's rate limit. */
struct rx_seen {
	const struct sub *sub; /* the receiver these counts are of */
	uint64_t bad_header, bad_pt, bad_size, foreign, early, foreign_ssrc,
	    ssrc_changes, rejudged;
	bool arrival, converting;
	struct log_ratelimit rl;
	/* the stream's changes (new SSRC, timed anew, timing chosen): as
	 * many as a second may bring under load, so rate-limited too, their
	 * counts carried into the next line */
	struct log_ratelimit rl_change;
};

#define RX_DELAY_WINDOWS 5 /* the safe latency looks this far back */

struct rx_sub {
	bool used;
	bool dropping; /* being deleted: left out of the state written */
	enum rx_origin origin;
	struct sub_settings set;
	uint64_t config_latency_ns; /* the INI's */
	struct sub_config cfg;	    /* what the receiver runs with */
	struct sub *sub;	    /* NULL: a stream name not found yet */
	char *sdp_seen;		    /* discovery's SDP applied last */
	enum disco_origin sdp_origin; /* where it came from */
	char refused[256]; /* why that SDP was not taken ("": it was) */
	struct rxbus_port port;
	struct rx_out out[SUB_MAX_SINKS];
	unsigned int nout;
	bool outs_open; /* opened with the first receiver */
	struct rx_seen seen;
	struct substate state;
	/* ST 2022-7: each leg's state as last logged, and its loss then */
	enum sub_leg_state leg[SUB_LEGS];
	uint64_t leg_lost_at_down[SUB_LEGS];
	uint64_t leg_down_ns[SUB_LEGS];
	struct log_ratelimit leg_rl;
	struct log_ratelimit state_rl; /* its changes of state */
	struct log_ratelimit move_rl;  /* its stream's moves (SAP, RAVENNA) */
	const struct sub *state_sub; /* the receiver the state counts */
	/* what the receivers it replaced counted: the state's counts go on
	 * across a latency change or a move (a stream moved every few ms
	 * by forged SAP read "late" with a third of its packets uncounted) */
	uint64_t base_received, base_late, base_off;
	bool sdp_ptp;		     /* its stream's SDP names a PTP clock */
	/* the receiver's last arrival delay windows, for the safe latency */
	int64_t win_min[RX_DELAY_WINDOWS], win_max[RX_DELAY_WINDOWS];
	unsigned int nwin;
	uint64_t windows_seen;
};

struct rx {
	struct rx_env env;
	struct rx_sub subs[CONFIG_MAX_SUBS];
	unsigned int nslots; /* slots in use are below */
	struct rxbus *bus;
	struct recorder *bus_recs[CONFIG_MAX_SINKS];
	struct rec_watch bus_watch[CONFIG_MAX_SINKS];
	unsigned int nbus_recs;
	struct log_ratelimit stream_rl; /* streams whose SDP we cannot use */
};

/* A config file's recording opens its path anew at every start: a take
 * already there (the node restarted, by hand, by systemd's Restart= or
 * its watchdog) is kept under NAME-N.EXT, the first N free, and the log
 * says so, instead of being overwritten. */
static void keep_earlier_take(const char *path)
{
	char to[sizeof(((struct recorder_config *)0)->path) + 8];
	const char *dot = strrchr(path, '.'), *slash = strrchr(path, '/');
	struct stat st;
	size_t stem;
	int i;

	if (stat(path, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size == 0)
		return;
	if (!dot || (slash && dot < slash))
		dot = path + strlen(path);
	stem = (size_t)(dot - path);
	for (i = 1; i < 1000; i++) {
		snprintf(to, sizeof(to), "%.*s-%d%s", (int)stem, path, i, dot);
		if (access(to, F_OK) < 0 && errno == ENOENT)
			break;
	}
	if (i == 1000 || rename(path, to) < 0) {
		log_err("recording %s: an earlier take is there and cannot be "
			"kept aside (%s): it is overwritten",
			path, i == 1000 ? "no free name" : strerror(errno));
		return;
	}
	log_warn("recording %s: the earlier take there (%lld bytes) is kept "
		 "as %s",
		 path, (long long)st.st_size, to);
}

static int build_api_recorder(const struct rx_sub *r, const struct rx_out *o,
			      struct recorder_config *rc)
{
	unsigned int c;

	memset(rc, 0, sizeof(*rc));
	snprintf(rc->name, sizeof(rc->name), "%s", r->set.name);
	snprintf(rc->path, sizeof(rc->path), "%s", o->api.path);
	rc->has_fd = true;
	rc->api = true;
	rc->fd = o->api.fd;
	rc->format = SF_FORMAT_WAV | SF_FORMAT_PCM_24;
	rc->rate = r->cfg.rate;
	rc->nch = r->cfg.channels;
	for (c = 0; c < rc->nch; c++)
		rc->chans[c] = (uint8_t)c;
	rc->start = o->api.has_start ? START_AT : START_FIRST;
	rc->start_ns = o->api.start_ns;
	rc->duration_ns = o->api.duration_ns;
	return 0;
}

static void close_outs(struct rx *rx, struct rx_sub *r)
{
	unsigned int i;

	for (i = 0; i < r->nout; i++) {
		struct rx_out *o = &r->out[i];

		if (o->rec) {
			files_remove_recorder(rx->env.files, o->rec);
			recorder_close(o->rec); /* writes what is left */
			o->rec = NULL;
		}
		if (o->play)
			alsa_play_report(o->play); /* since the last tick */
		alsa_play_destroy(o->play);
		o->play = NULL;
		if (!o->k && o->api.fd >= 0) {
			close(o->api.fd); /* never opened: never resolved */
			o->api.fd = -1;
		}
	}
	r->outs_open = false;
}

/* Open the sinks of @r for its receiver's stream (r->cfg). */
static int open_outs(struct rx *rx, struct rx_sub *r, char *err, size_t err_len)
{
	unsigned int i;
	int rc, ret = -EINVAL;

	for (i = 0; i < r->nout; i++) {
		struct rx_out *o = &r->out[i];
		struct recorder_config rcfg;

		if (o->k && o->k->type == SINK_NULL)
			continue;
		if (o->k && o->k->type == SINK_ALSA) {
			uint8_t chans[SOURCE_MAX_CHANNELS];
			unsigned int c,
			    nch = o->k->nch ? o->k->nch : r->cfg.channels;

			for (c = 0; c < nch; c++) {
				chans[c] =
				    o->k->nch ? o->k->chans[c] : (uint8_t)c;
				if (chans[c] >= r->cfg.channels) {
					snprintf(err, err_len,
						 "sink %s wants channel %u; "
						 "the stream has %u",
						 o->k->name, chans[c] + 1u,
						 r->cfg.channels);
					goto out_close;
				}
			}
			o->play = alsa_play_open(
			    o->k->name, &o->k->alsa, nch, chans, r->cfg.rate,
			    (uint32_t)mclock_ns_to_samples(r->cfg.latency_ns,
							   r->cfg.rate),
			    err, err_len);
			if (!o->play)
				goto out_close;
			rc = alsa_play_start(o->play, rx->env.mc,
					     (int)rx->env.cfg->rt_priority);
			if (rc < 0) {
				snprintf(err, err_len,
					 "sink %s: cannot start: %s",
					 o->k->name, strerror(-rc));
				goto out_close;
			}
			continue;
		}
		if (o->k) {
			char why[160];

			if (sink_recorder_config(o->k, r->cfg.channels,
						 r->cfg.rate, &rcfg, why,
						 sizeof(why)) < 0) {
				snprintf(err, err_len, "sink %s: %s",
					 o->k->name, why);
				goto out_close;
			}
		} else {
			if (o->api.fd < 0) {
				snprintf(err, err_len,
					 "the recording %s was closed",
					 o->api.path);
				goto out_close;
			}
			build_api_recorder(r, o, &rcfg);
			o->api.fd = -1; /* the recorder's now */
		}
		if (o->k)
			keep_earlier_take(rcfg.path);
		o->rec = recorder_open(&rcfg, err, err_len);
		if (!o->rec) {
			char why[8];

			/* no libsndfile to load: the node's fault, not the
			 * request's (500, not 400) */
			if (!sndfile_lib(why, sizeof(why)))
				ret = -ELIBACC;
			goto out_close;
		}
		if (files_add_recorder(rx->env.files, o->rec) < 0) {
			recorder_close(o->rec);
			o->rec = NULL;
			snprintf(err, err_len,
				 "this node records %d files, the most it "
				 "takes",
				 FILES_MAX_RECORDERS);
			goto out_close;
		}
	}
	r->outs_open = true;
	return 0;

out_close:
	close_outs(rx, r);
	return ret;
}

/* The first RX bus position at or after PTP time @ns (0: 0). */
static uint64_t rx_window_x(uint64_t ns)
{
	uint64_t x = mclock_ns_to_samples(ns, CONFIG_RX_RATE);

	return mclock_samples_to_ns(x, CONFIG_RX_RATE) < ns ? x + 1 : x;
}

/* Feed @r's sinks and RX channels from receiver @s (not running yet). */
static int attach_outs(struct rx *rx, struct rx_sub *r, struct sub *s,
		       char *err, size_t err_len)
{
	unsigned int i, c;
	int rc;

	for (i = 0; i < r->nout; i++) {
		struct rx_out *o = &r->out[i];

		if (o->rec && sub_add_recorder(s, o->rec) < 0)
			goto too_many;
		if (o->play) {
			rc = sub_add_output(s, alsa_play_feed, o->play,
					    alsa_play_lead_frames(o->play));
			if (rc == -ENOSPC)
				goto too_many;
			if (rc < 0) {
				snprintf(err, err_len,
					 "sink %s: the latency is too small "
					 "for the card",
					 o->k->name);
				return rc;
			}
		}
	}
	if (r->set.nrx && rx->bus) {
		r->port.bus = rx->bus;
		r->port.from_x = rx_window_x(r->set.rx_from_ns);
		atomic_store(
		    &r->port.until_x,
		    r->set.rx_until_ns ? rx_window_x(r->set.rx_until_ns) : 0);
		r->port.map.n = r->set.nrx;
		for (c = 0; c < r->set.nrx; c++) {
			r->port.map.rx[c] = r->set.rx[c];
			r->port.map.stream_ch[c] = r->set.nstream_ch
						       ? r->set.stream_ch[c]
						       : (uint8_t)c;
		}
		if (sub_add_output(s, rxbus_port_feed, &r->port, 0) < 0)
			goto too_many;
	}
	return 0;
too_many:
	snprintf(err, err_len, "subscription %s has too many sinks",
		 r->set.name);
	return -ENOSPC;
}

/* Whether a subscription other than @self receives unicast on @port
 * (network order): its socket is bound to the port on any address. */
static bool unicast_on_port(const struct rx *rx, const struct rx_sub *self,
			    uint16_t port)
{
	unsigned int i, l;

	for (i = 0; i < rx->nslots; i++) {
		const struct rx_sub *o = &rx->subs[i];

		if (o == self || !o->used || !o->sub)
			continue;
		for (l = 0; l < sub_config_legs(&o->cfg); l++) {
			const struct sockaddr_in *a =
			    l ? &o->cfg.addr2 : &o->cfg.addr;

			if (!net_is_multicast(a) && a->sin_port == port)
				return true;
		}
	}
	return false;
}

/* A receiver for @cfg with @r's sinks on it (opened on the first),
 * reading a group through a shared socket where @may_share and the port
 * allows. NULL with @err and, if @rc is not NULL, a negative errno in
 * *@rc: -ELIBACC when a library a sink needs cannot be loaded, the
 * host's shortage (net_resource_error: -EMFILE, -ENOMEM, ...) when the
 * receiver could not be opened for one, else -EINVAL. */
static struct sub *open_receiver(struct rx *rx, struct rx_sub *r,
				 const struct sub_config *cfg, bool may_share,
				 char *err, size_t err_len, int *rc)
{
	struct sub_config keep = r->cfg, open_cfg = *cfg;
	struct sub *s;
	unsigned int l;
	int why;

	if (rc)
		*rc = -EINVAL;
	/* A group's subscription reads through its port's shared socket
	 * (node/rxshare.h) where one takes it. That socket is bound to the
	 * port on any address, as a unicast subscription's or a D4 loop's
	 * socket is: the kernel would hand it some of their datagrams (and
	 * its filter drop them). So none on a port where the node receives
	 * unicast: a unicast subscription moves the groups a shared socket
	 * reads on its port to sockets of their own first, as node_d4_bind
	 * does for a loop (rx_unshare_port). */
	for (l = 0; l < sub_config_legs(cfg); l++) {
		const struct sockaddr_in *a = l ? &cfg->addr2 : &cfg->addr;
		char says[160];

		if (net_is_multicast(a))
			continue;
		snprintf(says, sizeof(says),
			 "subscription %s receives unicast on port %u",
			 r->set.name, ntohs(a->sin_port));
		why = rx_unshare_port(rx, a->sin_port, says, err, err_len);
		if (why < 0) {
			if (rc)
				*rc = why;
			return NULL;
		}
	}
	open_cfg.share = may_share && net_is_multicast(&cfg->addr) &&
			 !unicast_on_port(rx, r, cfg->addr.sin_port);
	open_cfg.share_owner = rx->env.media;
	if (open_cfg.share && rx->env.port_used) {
		struct sockaddr_in any = {.sin_family = AF_INET,
					  .sin_port = cfg->addr.sin_port,
					  .sin_addr.s_addr = htonl(INADDR_ANY)};
		char used[160];

		open_cfg.share =
		    rx->env.port_used(rx->env.port_ctx, &any, used,
				      sizeof(used)) == 0;
	}
	s = sub_open(&open_cfg, err, err_len);
	if (!s) {
		/* the node out of something (descriptors, memory): the
		 * request was fine, the API answers 503, not 400 */
		if (rc && net_resource_error(-errno))
			*rc = -errno;
		return NULL;
	}
	r->cfg = *cfg;
	if (!r->outs_open && (why = open_outs(rx, r, err, err_len)) < 0) {
		if (rc)
			*rc = why;
		goto out_destroy;
	}
	if (attach_outs(rx, r, s, err, err_len) < 0)
		goto out_destroy;
	return s;
out_destroy:
	sub_destroy(s);
	r->cfg = keep;
	return NULL;
}

/* Say which legs of a DUP stream a subscription takes. */
static void log_legs(const struct rx_sub *r, const struct sdp_stream *st)
{
	char a[32], b[32];

	if (sub_config_legs(&r->cfg) == 2)
		log_info("subscription %s: two legs (ST 2022-7): A %s on %s, "
			 "B %s on %s",
			 r->set.name,
			 net_endpoint_str(&r->cfg.addr, a, sizeof(a)),
			 r->cfg.ifname[0] ? r->cfg.ifname : "the default",
			 net_endpoint_str(&r->cfg.addr2, b, sizeof(b)),
			 r->cfg.ifname2);
	else if (st && st->dup.present)
		log_info("subscription %s: the stream has a second leg (ST "
			 "2022-7, a=mid:%s) on no network of this host's "
			 "(give interface2): the first leg plays alone",
			 r->set.name, st->dup.mid);
	else if (st && st->dup_left_out[0])
		log_warn("subscription %s: %s: the first leg plays alone",
			 r->set.name, st->dup_left_out);
}

static void clear_record(struct rx *rx, struct rx_sub *r, bool in_media)
{
	if (in_media && r->sub)
		media_set_sub(rx->env.media, (unsigned int)(r - rx->subs),
			      NULL);
	sub_destroy(r->sub);
	close_outs(rx, r);
	free(r->sdp_seen);
	memset(r, 0, sizeof(*r));
	while (rx->nslots && !rx->subs[rx->nslots - 1].used)
		rx->nslots--;
}

static int persist(struct rx *rx)
{
	return rx->env.persist ? rx->env.persist(rx->env.persist_ctx) : 0;
}

struct rx *rx_new(const struct rx_env *env, char *err, size_t err_len)
{
	const struct node_config *cfg = env->cfg;
	struct rx *rx = calloc(1, sizeof(*rx));
	unsigned int i;

	if (!rx) {
		snprintf(err, err_len, "out of memory");
		return NULL;
	}
	rx->env = *env;
	rx->stream_rl =
	    (struct log_ratelimit)LOG_RATELIMIT_INIT(10 * NSEC_PER_SEC, 5);
	if (!cfg->rx_channels)
		return rx;
	rx->bus = rxbus_new(cfg->rx_channels, CONFIG_RX_RATE);
	if (!rx->bus) {
		snprintf(err, err_len, "out of memory");
		goto out_destroy;
	}
	for (i = 0; i < cfg->nsinks; i++) {
		const struct sink_config *k = &cfg->sinks[i];
		struct recorder_config rc;
		struct recorder *rec;

		if (!k->nrx || k->type != SINK_FILE)
			continue;
		if (sink_recorder_config(k, cfg->rx_channels, CONFIG_RX_RATE,
					 &rc, err, err_len) < 0)
			goto out_destroy; /* config.c checked it */
		rec = recorder_open(&rc, err, err_len);
		if (!rec)
			goto out_destroy;
		rx->bus_recs[rx->nbus_recs++] = rec;
		if (files_add_recorder(env->files, rec) < 0 ||
		    rxbus_add_recorder(rx->bus, rec) < 0) {
			snprintf(err, err_len,
				 "sink %s: the RX channels have too many sinks",
				 k->name);
			goto out_destroy;
		}
	}
	return rx;
out_destroy:
	rx_destroy(rx);
	return NULL;
}

void rx_destroy(struct rx *rx)
{
	unsigned int i;

	if (!rx)
		return;
	for (i = 0; i < rx->nslots; i++)
		if (rx->subs[i].used)
			clear_record(rx, &rx->subs[i], false);
	for (i = 0; i < rx->nbus_recs; i++) {
		files_remove_recorder(rx->env.files, rx->bus_recs[i]);
		recorder_close(rx->bus_recs[i]);
	}
	rxbus_destroy(rx->bus);
	free(rx);
}

struct rxbus *rx_bus(struct rx *rx)
{
	return rx->bus;
}

int rx_sub_find(const struct rx *rx, const char *name)
{
	unsigned int i;

	for (i = 0; i < rx->nslots; i++)
		if (rx->subs[i].used && !strcmp(rx->subs[i].set.name, name))
			return (int)i;
	return -1;
}

/* Check @s's RX channels against the node's and the other records'. */
static int check_rx(struct rx *rx, const struct sub_settings *s, int channels,
		    uint32_t rate, char *err, size_t err_len)
{
	const struct sub_settings *others[CONFIG_MAX_SUBS];
	unsigned int i, n = 0;

	if (s->nrx && !rx->bus) {
		snprintf(err, err_len,
			 "this node has no RX channels ([node] rx_channels)");
		return -EINVAL;
	}
	for (i = 0; i < rx->nslots; i++)
		if (rx->subs[i].used && strcmp(rx->subs[i].set.name, s->name))
			others[n++] = &rx->subs[i].set;
	return sub_settings_check_rx(s, rx->env.cfg->rx_channels, others, n,
				     channels, rate, err, err_len);
}

/* A recording's file name: a name in the recordings directory, nothing
 * that leads out of it or hides in it. */
static bool recording_name_ok(const char *name)
{
	const unsigned char *p;

	if (!name[0] || name[0] == '.' || strlen(name) > 200)
		return false;
	for (p = (const unsigned char *)name; *p; p++)
		if (*p == '/' || *p < 0x20 || *p == 0x7f)
			return false;
	return true;
}

/* Create @rec's file, new, in the recordings directory: not through a
 * symlink, never over a file. 0, -EINVAL or -EEXIST with @err. */
static int create_recording(struct rx *rx, struct rx_record *rec, char *err,
			    size_t err_len)
{
	const char *dir = rx->env.rec_dir;
	int dfd, fd, e;

	rec->fd = -1;
	if (!dir || !dir[0]) {
		snprintf(err, err_len,
			 "this node has no recordings directory (its state "
			 "directory is unusable)");
		return -EINVAL;
	}
	if (!recording_name_ok(rec->name)) {
		snprintf(err, err_len,
			 "'record.path': a file name in the recordings "
			 "directory %s (no '/', not starting with '.', at "
			 "most 200 characters)",
			 dir);
		return -EINVAL;
	}
	if (mkdir(dir, 0750) < 0 && errno != EEXIST) {
		snprintf(err, err_len,
			 "cannot make the recordings directory "
			 "%s: %s",
			 dir, strerror(errno));
		return -EINVAL;
	}
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) {
		snprintf(err, err_len, "the recordings directory %s: %s", dir,
			 strerror(errno));
		return -EINVAL;
	}
	fd = openat(dfd, rec->name,
		    O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0640);
	e = errno;
	close(dfd);
	if (fd < 0) {
		snprintf(err, err_len, "'record.path': %s/%s: %s%s", dir,
			 rec->name, strerror(e),
			 e == EEXIST ? " (a recording never replaces a file)"
				     : "");
		return e == EEXIST ? -EEXIST : -EINVAL;
	}
	strcpy(rec->path, dir);
	strcat(rec->path, "/");
	strcat(rec->path, rec->name); /* both bounded above */
	rec->fd = fd;
	return 0;
}

/* Unicast subscriptions bind 0.0.0.0:PORT with SO_REUSEADDR: a second
 * one on a port would take the first one's packets without a word (an
 * attacker's report, also through IS-05, and through a forged SAP
 * announcement moving a subscription by name). -EADDRINUSE, saying which,
 * when a unicast leg of @sc is on a port another open subscription's
 * unicast leg (not @self's) receives on, or a leg on one a D4 loop
 * receives on (rx_env.port_used: the same group, or any unicast). */
static int unicast_ports_free(const struct rx *rx, const struct rx_sub *self,
			      const struct sub_config *sc, char *err,
			      size_t err_len)
{
	unsigned int i, l, m;
	int rc;

	for (l = 0; rx->env.port_used && l < sub_config_legs(sc); l++) {
		const struct sockaddr_in *a = l ? &sc->addr2 : &sc->addr;

		rc = rx->env.port_used(rx->env.port_ctx, a, err, err_len);
		if (rc < 0)
			return rc;
	}
	for (i = 0; i < rx->nslots; i++) {
		const struct rx_sub *o = &rx->subs[i];

		/* one an IS-05 switch replaces is leaving: the new one
		 * takes over its port at the switch */
		if (o == self || !o->used || !o->sub || o->set.rx_until_ns)
			continue;
		for (l = 0; l < sub_config_legs(sc); l++) {
			const struct sockaddr_in *a = l ? &sc->addr2 : &sc->addr;

			if (net_is_multicast(a))
				continue;
			for (m = 0; m < sub_config_legs(&o->cfg); m++) {
				const struct sockaddr_in *b =
				    m ? &o->cfg.addr2 : &o->cfg.addr;

				if (!b->sin_port || net_is_multicast(b) ||
				    b->sin_port != a->sin_port)
					continue;
				snprintf(err, err_len,
					 "port %u: subscription '%s' receives "
					 "on it%s (a second would take its "
					 "packets)",
					 ntohs(a->sin_port), o->set.name,
					 m ? " (its second leg)" : "");
				return -EADDRINUSE;
			}
		}
	}
	return 0;
}

int rx_sub_create(struct rx *rx, const struct sub_settings *s,
		  enum rx_origin origin, const struct rx_record *rec, char *err,
		  size_t err_len)
{
	const struct node_config *cfg = rx->env.cfg;
	struct sdp_stream st = {0};
	struct rx_sub *r;
	struct sub_config sc;
	struct rx_out *api_out = NULL;
	char why[256];
	unsigned int slot, i;
	bool known;
	int rc;

	if (rx_sub_find(rx, s->name) >= 0) {
		snprintf(err, err_len, "subscription '%s' exists already",
			 s->name);
		return -EEXIST;
	}
	for (slot = 0; slot < CONFIG_MAX_SUBS && rx->subs[slot].used; slot++)
		;
	if (slot == CONFIG_MAX_SUBS) {
		snprintf(err, err_len,
			 "this node has %d subscriptions, the most it takes",
			 CONFIG_MAX_SUBS);
		return -ENOSPC;
	}
	rc = sub_settings_check(s, err, err_len);
	if (rc < 0)
		return rc;
	if (s->sdp[0] && sdp_parse((const uint8_t *)s->sdp, strlen(s->sdp), &st,
				   why, sizeof(why)) < 0) {
		snprintf(err, err_len, "'sdp': %s", why);
		return -EINVAL;
	}
	if (!s->stream[0] && sub_settings_resolve(s, s->sdp[0] ? &st : NULL,
						  &sc, err, err_len) < 0)
		return -EINVAL;
	if (!s->stream[0]) {
		rc = unicast_ports_free(rx, NULL, &sc, err, err_len);
		if (rc < 0)
			return rc;
	}
	known = !s->stream[0] || (s->given & SUB_GIVEN_CH);
	rc = check_rx(
	    rx, s, known ? (int)(s->stream[0] ? s->channels : sc.channels) : -1,
	    s->stream[0] ? 0 : sc.rate, err, err_len);
	if (rc < 0)
		return rc;
	if (rec && !rec->name[0]) {
		snprintf(err, err_len, "a recording needs a path");
		return -EINVAL;
	}
	if (rec) {
		char lib_why[300];

		/* before any file is made, and for a stream by name too
		 * (its receiver opens when the stream is found: a recording
		 * that cannot be made was a 201, then a subscription that
		 * never took its stream, an attacker's report) */
		if (!sndfile_lib(lib_why, sizeof(lib_why))) {
			snprintf(err, err_len, "subscription %s's recording: %s",
				 s->name, lib_why);
			return -ELIBACC;
		}
	}

	r = &rx->subs[slot];
	memset(r, 0, sizeof(*r));
	r->used = true;
	r->origin = origin;
	r->set = *s;
	r->config_latency_ns = s->latency_ns;
	r->seen.rl =
	    (struct log_ratelimit)LOG_RATELIMIT_INIT(5 * NSEC_PER_SEC, 3);
	r->leg_rl =
	    (struct log_ratelimit)LOG_RATELIMIT_INIT(10 * NSEC_PER_SEC, 8);
	r->state_rl =
	    (struct log_ratelimit)LOG_RATELIMIT_INIT(10 * NSEC_PER_SEC, 10);
	r->move_rl =
	    (struct log_ratelimit)LOG_RATELIMIT_INIT(10 * NSEC_PER_SEC, 4);
	r->seen.rl_change =
	    (struct log_ratelimit)LOG_RATELIMIT_INIT(10 * NSEC_PER_SEC, 6);
	substate_init(&r->state, !s->stream[0]);
	r->sdp_ptp = s->sdp[0] && st.refclk != SDP_REFCLK_NONE &&
		     st.refclk != SDP_REFCLK_LOCALMAC &&
		     st.refclk != SDP_REFCLK_OTHER;
	if (slot >= rx->nslots)
		rx->nslots = slot + 1;
	for (i = 0; i < cfg->nsinks && r->nout < SUB_MAX_SINKS; i++)
		if (!cfg->sinks[i].nrx && !strcmp(cfg->sinks[i].sub, s->name))
			r->out[r->nout++].k = &cfg->sinks[i];
	if (rec && r->nout < SUB_MAX_SINKS) {
		api_out = &r->out[r->nout++];
		api_out->api = *rec;
		rc = create_recording(rx, &api_out->api, err, err_len);
		if (rc < 0) {
			api_out->api.fd = -1;
			clear_record(rx, r, false);
			return rc;
		}
	}
	if (!s->stream[0]) {
		r->sub = open_receiver(rx, r, &sc, true, err, err_len, &rc);
		if (!r->sub)
			goto out_clear;
	}
	rc = persist(rx);
	if (rc < 0) {
		snprintf(err, err_len, "not saved: %s", strerror(-rc));
		rc = -EIO;
		goto out_clear;
	}
	if (r->sub) {
		media_set_sub(rx->env.media, slot, r->sub);
		log_legs(r, s->sdp[0] ? &st : NULL);
	}
	return (int)slot;

out_clear:
	/* the file is ours, made above: it goes too, so that the same
	 * request can be made again (clear_record() zeroes its path) */
	if (api_out && api_out->api.path[0])
		unlink(api_out->api.path);
	clear_record(rx, r, false);
	return rc;
}

int rx_sub_delete(struct rx *rx, unsigned int slot, char *err, size_t err_len)
{
	struct rx_sub *r = &rx->subs[slot];
	int rc;

	if (r->origin == RX_CONFIG) {
		snprintf(err, err_len,
			 "subscription '%s' comes from the config file",
			 r->set.name);
		return -EPERM;
	}
	r->dropping = true;
	rc = persist(rx);
	r->dropping = false;
	if (rc < 0) {
		snprintf(err, err_len, "not saved: %s", strerror(-rc));
		return -EIO;
	}
	clear_record(rx, r, true);
	return 0;
}

static void report_one(struct rx_sub *r, bool flush);

/* @old, just replaced (the media thread no longer feeds it): its counts
 * carry on in the subscription's state. */
static void carry_counts(struct rx_sub *r, const struct sub *old)
{
	const struct sub_stats *st = sub_stats(old);

	r->base_received += atomic_load(&st->received);
	r->base_late += atomic_load(&st->late);
	r->base_off += atomic_load(&st->off_timeline);
}

static void apply_stream(struct rx *rx, struct rx_sub *r, const char *sdp,
			 enum disco_origin origin);

int rx_sub_set_latency(struct rx *rx, unsigned int slot, uint64_t latency_ns,
		       char *err, size_t err_len)
{
	struct rx_sub *r = &rx->subs[slot];
	uint64_t old = r->set.latency_ns;
	struct sub_config sc = r->cfg;
	struct sub *s = NULL, *prev = r->sub;
	unsigned int i;
	int rc;

	if (latency_ns < SUB_LATENCY_MIN_NS ||
	    latency_ns > SUB_LATENCY_MAX_NS) {
		snprintf(err, err_len, "a latency from 250us to 100ms");
		return -EINVAL;
	}
	sc.latency_ns = latency_ns;
	for (i = 0; prev && i < r->nout; i++)
		if (r->out[i].play &&
		    alsa_play_lead_frames(r->out[i].play) >=
			mclock_ns_to_samples(latency_ns, sc.rate)) {
			snprintf(err, err_len,
				 "sink %s: the card needs more latency",
				 r->out[i].k->name);
			return -EINVAL;
		}
	if (prev) {
		s = open_receiver(rx, r, &sc, true, err, err_len, &rc);
		if (!s)
			return rc;
	}
	r->set.latency_ns = latency_ns;
	rc = persist(rx);
	if (rc < 0) {
		r->set.latency_ns = old;
		if (s) {
			sub_destroy(s);
			r->cfg.latency_ns = old;
		}
		snprintf(err, err_len, "not saved: %s", strerror(-rc));
		return -EIO;
	}
	if (!prev && r->refused[0] && r->sdp_seen) {
		/* The stream it found was refused (a card sink that needs
		 * more latency, as its error advised): try it again now. */
		char *sdp = strdup(r->sdp_seen);

		if (sdp)
			apply_stream(rx, r, sdp, r->sdp_origin);
		free(sdp);
	}
	if (s) {
		report_one(r, true); /* what the old receiver held back */
		media_set_sub(rx->env.media, slot, s);
		r->sub = s;
		carry_counts(r, prev);
		sub_destroy(prev);
		for (i = 0; i < r->nout; i++)
			if (r->out[i].play)
				alsa_play_set_latency(
				    r->out[i].play,
				    (uint32_t)mclock_ns_to_samples(latency_ns,
								   sc.rate));
	}
	return 0;
}

int rx_unshare_port(struct rx *rx, uint16_t port, const char *why, char *err,
		    size_t err_len)
{
	unsigned int i;

	for (i = 0; i < rx->nslots; i++) {
		struct rx_sub *r = &rx->subs[i];
		struct sub *s, *prev = r->sub;
		char e[256];
		int rc;

		if (!r->used || !prev || !sub_rxshare(prev) ||
		    r->cfg.addr.sin_port != port)
			continue;
		s = open_receiver(rx, r, &r->cfg, false, e, sizeof(e), &rc);
		if (!s) {
			snprintf(err, err_len,
				 "moving subscription %s to a socket of its "
				 "own: %s",
				 r->set.name, e);
			return rc;
		}
		/* it plays on from what the old one holds (sub_take_over),
		 * as a moved stream does */
		sub_set_continues(s);
		report_one(r, true); /* what the old receiver held back */
		media_set_sub(rx->env.media, i, s);
		r->sub = s;
		carry_counts(r, prev);
		sub_destroy(prev);
		log_info("subscription %s: reads on a socket of its own now: "
			 "%s%s",
			 r->set.name, why,
			 !media_passes(rx->env.media) ? "" /* before playing */
			 : sub_continued(s)
			     ? "; it plays on from its buffer"
			     : "; it started anew (a gap of up to its "
			       "latency)");
	}
	return 0;
}

int rx_sub_set_until(struct rx *rx, unsigned int slot, uint64_t until_ns)
{
	struct rx_sub *r = &rx->subs[slot];

	if (until_ns && until_ns < r->set.rx_from_ns)
		return -EINVAL;
	r->set.rx_until_ns = until_ns;
	/* the media thread reads it at its next feed */
	atomic_store(&r->port.until_x, until_ns ? rx_window_x(until_ns) : 0);
	return 0;
}

static bool same_stream(const struct sub_config *a, const struct sub_config *b)
{
	return a->addr.sin_addr.s_addr == b->addr.sin_addr.s_addr &&
	       a->addr.sin_port == b->addr.sin_port && a->enc == b->enc &&
	       a->rate == b->rate && a->channels == b->channels &&
	       a->pt == b->pt && a->fpp == b->fpp &&
	       a->mediaclk_offset == b->mediaclk_offset &&
	       a->has_source_filter == b->has_source_filter &&
	       (!a->has_source_filter ||
		a->source_filter.s_addr == b->source_filter.s_addr) &&
	       !memcmp(&a->addr2, &b->addr2, sizeof(a->addr2)) &&
	       !strcmp(a->ifname, b->ifname) &&
	       !strcmp(a->ifname2, b->ifname2) &&
	       a->has_source_filter2 == b->has_source_filter2 &&
	       (!a->has_source_filter2 ||
		a->source_filter2.s_addr == b->source_filter2.s_addr);
}

/* Subscription @r by stream name, with the stream's SDP @sdp: open it,
 * or move it when the SDP moved the stream (address, port, format). Its
 * recordings carry on by position across the move. */
/* The stream @r found is not taken, for @why: its state says so while
 * it has no receiver (a receiver it has plays on; the log says more). */
static void refuse(struct rx_sub *r, const char *why)
{
	snprintf(r->refused, sizeof(r->refused), "%s", why);
}

static void apply_stream(struct rx *rx, struct rx_sub *r, const char *sdp,
			 enum disco_origin origin)
{
	const char *name = r->set.stream;
	struct sub *s, *old = r->sub;
	struct sub_config sc;
	struct sdp_stream st;
	char err[256], addr[32];
	unsigned int supp;
	bool loud;

	free(r->sdp_seen);
	r->sdp_seen = strdup(sdp); /* not retried until it changes */
	r->sdp_origin = origin;
	r->refused[0] = '\0';
	/* The SDP is any host's: one that changes its lie in every
	 * announcement must not get a line per packet. */
	if (sdp_parse((const uint8_t *)sdp, strlen(sdp), &st, err,
		      sizeof(err)) < 0 ||
	    sub_settings_resolve(&r->set, &st, &sc, err, sizeof(err)) < 0 ||
	    check_rx(rx, &r->set, (int)sc.channels, sc.rate, err, sizeof(err)) <
		0) {
		refuse(r, err);
		if (log_ratelimit_ok(&rx->stream_rl, &supp))
			log_err("subscription %s: stream '%s': %s%s",
				r->set.name, name, err,
				supp ? " (and earlier ones not logged)" : "");
		return;
	}
	if (old && same_stream(&r->cfg, &sc))
		return; /* a new version with nothing we use changed */
	/* SAP and RAVENNA name multicast streams: a unicast address in an
	 * announcement (any host's) would only squat a port of this node
	 * that a route or a D4 loop may want (an attacker's) */
	if (!net_is_multicast(&sc.addr) ||
	    (sub_config_legs(&sc) == 2 && !net_is_multicast(&sc.addr2))) {
		refuse(r, "its SDP names a unicast address");
		if (log_ratelimit_ok(&rx->stream_rl, &supp))
			log_err("subscription %s: stream '%s': its SDP names "
				"a unicast address (%s): a stream by name is "
				"a multicast one; not followed%s",
				r->set.name, name,
				net_endpoint_str(net_is_multicast(&sc.addr)
						     ? &sc.addr2
						     : &sc.addr,
						 addr, sizeof(addr)),
				supp ? " (and earlier ones not logged)" : "");
		return;
	}
	if (unicast_ports_free(rx, r, &sc, err, sizeof(err)) < 0) {
		refuse(r, err);
		if (log_ratelimit_ok(&rx->stream_rl, &supp))
			log_err("subscription %s: stream '%s': %s: not "
				"followed there%s",
				r->set.name, name, err,
				supp ? " (and earlier ones not logged)" : "");
		return;
	}
	s = open_receiver(rx, r, &sc, true, err, sizeof(err), NULL);
	if (!s) {
		refuse(r, err);
		if (log_ratelimit_ok(&rx->stream_rl, &supp))
			log_err("subscription %s: stream '%s': %s%s",
				r->set.name, name, err,
				supp ? " (and earlier ones not logged)" : "");
		return;
	}
	if (old)
		sub_set_continues(s); /* what the old address brought plays */
	media_set_sub(rx->env.media, (unsigned int)(r - rx->subs), s);
	r->sub = s;
	r->sdp_ptp = st.refclk != SDP_REFCLK_NONE &&
		     st.refclk != SDP_REFCLK_LOCALMAC &&
		     st.refclk != SDP_REFCLK_OTHER;
	r->nwin = 0; /* another path */
	memset(&r->seen, 0, offsetof(struct rx_seen, rl));
	net_endpoint_str(&sc.addr, addr, sizeof(addr));
	/* Any host's SAP can move it every few ms (an attacker's flipper
	 * logged 21 lines a second): a few moves per 10 s are said. */
	loud = log_ratelimit_ok(&r->move_rl, &supp);
	if (loud) {
		log_info("subscription %s: stream '%s' (%s) %s %s, %u ch "
			 "%s/%u, %u frames/packet, mediaclk offset %u%s",
			 r->set.name, name,
			 origin == DISCO_SAP ? "SAP" : "RAVENNA",
			 old ? "moved to" : "at", addr, sc.channels,
			 rtp_encoding_name(sc.enc), sc.rate, sc.fpp,
			 sc.mediaclk_offset,
			 supp ? " (and earlier moves not logged)" : "");
		log_legs(r, &st);
	}
	if (old) {
		char line[1024];

		rx_format_stats(old, line, sizeof(line));
		if (loud)
			log_info("subscription %s: before the move: %s",
				 r->set.name, line);
		/* On another timeline (a new mediaclk offset, a stream timed
		 * on arrival) the old buffer's positions mean nothing here. */
		if (loud && sub_continued(s))
			log_info("subscription %s: what the old address "
				 "brought plays out first",
				 r->set.name);
		else if (loud && atomic_load(&sub_stats(old)->received))
			log_info("subscription %s: what the old address "
				 "brought is dropped (another timeline)",
				 r->set.name);
		carry_counts(r, old);
		sub_destroy(old);
	}
}

void rx_resolve(struct rx *rx, struct disco *d)
{
	unsigned int i;

	for (i = 0; i < rx->nslots; i++) {
		struct rx_sub *r = &rx->subs[i];
		enum disco_origin origin;
		const char *sdp;

		if (!r->used || !r->set.stream[0])
			continue;
		sdp = d ? disco_stream_sdp(d, r->set.stream, &origin) : NULL;
		if (!sdp) {
			if (r->sdp_seen) {
				log_warn("subscription %s: stream '%s' is no "
					 "longer announced; still listening",
					 r->set.name, r->set.stream);
				free(r->sdp_seen);
				r->sdp_seen = NULL;
			}
			r->refused[0] = '\0';
			continue;
		}
		if (r->sdp_seen && !strcmp(r->sdp_seen, sdp))
			continue;
		apply_stream(rx, r, sdp, origin);
	}
}

/* ---- read access ---- */

unsigned int rx_slots(const struct rx *rx)
{
	return rx->nslots;
}

bool rx_sub_exists(const struct rx *rx, unsigned int slot)
{
	return slot < rx->nslots && rx->subs[slot].used &&
	       !rx->subs[slot].dropping;
}

const struct sub_settings *rx_sub_settings(const struct rx *rx,
					   unsigned int slot)
{
	return &rx->subs[slot].set;
}

enum rx_origin rx_sub_origin(const struct rx *rx, unsigned int slot)
{
	return rx->subs[slot].origin;
}

const struct sub *rx_sub_receiver(const struct rx *rx, unsigned int slot)
{
	return rx->subs[slot].sub;
}

const struct sub_config *rx_sub_config(const struct rx *rx, unsigned int slot)
{
	return &rx->subs[slot].cfg;
}

bool rx_sub_latency_changed(const struct rx *rx, unsigned int slot)
{
	return rx->subs[slot].set.latency_ns !=
	       rx->subs[slot].config_latency_ns;
}

int rx_channel_feeder(const struct rx *rx, unsigned int r, unsigned int *sch)
{
	unsigned int i, c;

	for (i = 0; i < rx->nslots; i++) {
		const struct sub_settings *s = &rx->subs[i].set;

		if (!rx->subs[i].used)
			continue;
		for (c = 0; c < s->nrx; c++)
			if (s->rx[c] == r) {
				*sch = s->nstream_ch ? s->stream_ch[c] : c;
				return (int)i;
			}
	}
	return -1;
}

unsigned int rx_stream_channels(const struct rx *rx)
{
	unsigned int i, n = 0;

	for (i = 0; i < rx->nslots; i++)
		if (rx->subs[i].used)
			n += rx->subs[i].sub ? rx->subs[i].cfg.channels
					     : rx->subs[i].set.channels;
	return n;
}

const char *rx_sub_state(const struct rx *rx, unsigned int slot)
{
	return substate_name(rx->subs[slot].state.state);
}

const char *rx_sub_state_reason(const struct rx *rx, unsigned int slot)
{
	return rx->subs[slot].state.reason;
}

bool rx_sub_announced(const struct rx *rx, unsigned int slot)
{
	return rx->subs[slot].sdp_seen != NULL;
}

const char *rx_sub_leg_state(const struct rx *rx, unsigned int slot,
			     unsigned int leg)
{
	const struct rx_sub *r = &rx->subs[slot];

	if (!r->sub || leg >= sub_config_legs(&r->cfg))
		return NULL;
	return substate_leg_name(r->leg[leg]);
}

int64_t rx_sub_safe_latency_us(const struct rx *rx, unsigned int slot)
{
	const struct rx_sub *r = &rx->subs[slot];
	int64_t lo = INT64_MAX, hi = INT64_MIN, need, step = 250;
	unsigned int i;

	if (!r->sub || !r->nwin)
		return -1;
	for (i = 0; i < r->nwin; i++) {
		if (r->win_min[i] < lo)
			lo = r->win_min[i];
		if (r->win_max[i] > hi)
			hi = r->win_max[i];
	}
	/* A packet must be in by its playout: on PTP time the latest
	 * arrival after the packet's own time, on arrival timing the
	 * spread around the alignment; plus the packet itself (its last
	 * frame plays a packet time after its first) and half a
	 * millisecond for what the window did not see. */
	need = (GET(sub_stats(r->sub)->arrival_timing) ? hi - lo : hi) / 1000 +
	       (int64_t)r->cfg.fpp * 1000000 / r->cfg.rate + 500;
	if (need < (int64_t)(SUB_LATENCY_MIN_NS / 1000))
		need = SUB_LATENCY_MIN_NS / 1000;
	return (need + step - 1) / step * step;
}

/* ---- reports ---- */

/* The delay histogram as "[<0:N <125:N ... >=16000:N]" at @off. */
static size_t format_hist(const struct sub_stats *st, char *buf, size_t len,
			  size_t off)
{
	unsigned int b;

	for (b = 0; b < SUB_HIST_BUCKETS && off < len; b++) {
		unsigned int e = b == SUB_HIST_BUCKETS - 1 ? b - 1 : b;

		off += (size_t)snprintf(
		    buf + off, len - off, "%s%s%d:%llu", b ? " " : "[",
		    b == SUB_HIST_BUCKETS - 1 ? ">=" : "<",
		    sub_hist_edges_us[e], (unsigned long long)GET(st->hist[b]));
	}
	if (off < len)
		off += (size_t)snprintf(buf + off, len - off, "]");
	return off;
}

void rx_format_stats(const struct sub *s, char *buf, size_t len)
{
	const struct sub_stats *st = sub_stats(s);
	size_t off;

	off = (size_t)snprintf(
	    buf, len,
	    "received=%llu lost=%llu late=%llu early=%llu "
	    "unsynced=%llu duplicate=%llu reordered=%llu missing_frames=%llu "
	    "bad_header=%llu bad_pt=%llu bad_size=%llu foreign=%llu "
	    "foreign_ssrc=%llu off_timeline=%llu rejudged=%llu "
	    "ssrc_changes=%llu seq_jumps=%llu ",
	    (unsigned long long)GET(st->received),
	    (unsigned long long)GET(st->lost),
	    (unsigned long long)GET(st->late),
	    (unsigned long long)GET(st->early),
	    (unsigned long long)GET(st->unsynced),
	    (unsigned long long)GET(st->duplicate),
	    (unsigned long long)GET(st->reordered),
	    (unsigned long long)GET(st->missing_frames),
	    (unsigned long long)GET(st->bad_header),
	    (unsigned long long)GET(st->bad_pt),
	    (unsigned long long)GET(st->bad_size),
	    (unsigned long long)GET(st->foreign),
	    (unsigned long long)GET(st->foreign_ssrc),
	    (unsigned long long)GET(st->off_timeline),
	    (unsigned long long)GET(st->rejudged),
	    (unsigned long long)GET(st->ssrc_changes),
	    (unsigned long long)GET(st->seq_jumps));
	if (off < len && sub_config_legs(sub_config(s)) == 2) {
		unsigned int l;

		off += (size_t)snprintf(buf + off, len - off, "redundant=%llu ",
					(unsigned long long)GET(st->redundant));
		for (l = 0; l < SUB_LEGS && off < len; l++) {
			const struct sub_leg_stats *ls = &st->leg[l];

			off += (size_t)snprintf(
			    buf + off, len - off,
			    "leg%c_received=%llu leg%c_lost=%llu "
			    "leg%c_late=%llu leg%c_used=%llu "
			    "leg%c_refused=%llu leg%c_delay_max_us=%lld ",
			    'A' + l, (unsigned long long)GET(ls->received),
			    'A' + l, (unsigned long long)GET(ls->lost), 'A' + l,
			    (unsigned long long)GET(ls->late), 'A' + l,
			    (unsigned long long)GET(ls->used), 'A' + l,
			    (unsigned long long)GET(ls->refused), 'A' + l,
			    GET(ls->delay_max_ns) == INT64_MIN
				? -1LL
				: (long long)(GET(ls->delay_max_ns) / 1000));
		}
	}
	if (off < len)
		off += (size_t)snprintf(buf + off, len - off, "delay_us=");
	if (off < len)
		format_hist(st, buf, len, off);
}

/* The stream's changes since the last report: how many, and where it is
 * now (one line each kind; the rate limit's caller carries counts). */
static void report_changes(struct rx_sub *r, const struct sub_stats *st,
			   bool arrival)
{
	struct rx_seen *seen = &r->seen;
	uint64_t n;

	if ((n = GET(st->ssrc_changes) - seen->ssrc_changes)) {
		seen->ssrc_changes += n;
		if (n == 1)
			log_warn("subscription %s: sender changed (SSRC now "
				 "0x%08x); resynchronised",
				 r->set.name, (unsigned int)GET(st->ssrc));
		else
			log_warn("subscription %s: sender changed %llu times "
				 "(SSRC now 0x%08x); resynchronised",
				 r->set.name, (unsigned long long)n,
				 (unsigned int)GET(st->ssrc));
	}
	if ((n = GET(st->rejudged) - seen->rejudged)) {
		seen->rejudged += n;
		if (n == 1)
			log_warn("subscription %s: packets fit no timeline; "
				 "timed anew",
				 r->set.name);
		else
			log_warn("subscription %s: packets fit no timeline; "
				 "timed anew %llu times",
				 r->set.name, (unsigned long long)n);
	}
	if (arrival != seen->arrival) {
		seen->arrival = arrival;
		log_info("subscription %s: %s", r->set.name,
			 arrival ? "stream timestamps are not on this node's "
				   "media clock; aligned on arrival"
				 : "stream timestamps are on this node's media "
				   "clock");
	}
	if (GET(st->converting) != seen->converting) {
		seen->converting = GET(st->converting);
		if (seen->converting)
			log_info("subscription %s: the sender's clock runs "
				 "%+.1f ppm from this node's: its audio is "
				 "converted to our rate from here on "
				 "(libsamplerate), not bit-exact",
				 r->set.name, GET(st->rate_ppb) / 1000.0);
		else
			log_info("subscription %s: copied as sent again",
				 r->set.name);
	}
}

/* Why a payload of @size bytes was refused (sub.c's size checks). */
static const char *size_why(const struct rx_sub *r, uint32_t size)
{
	uint32_t frame = r->cfg.channels * rtp_bytes_per_sample(r->cfg.enc);

	if (size + RTP_HDR_LEN > SUB_RX_BUF)
		return "datagrams over the 2048 bytes a receiver takes";
	if (size == 0)
		return "empty";
	if (frame && size % frame)
		return "not whole frames";
	return "more frames than a packet holds";
}

/* Counted, rate-limited reports of what the media thread rejected: one
 * line for everything dropped since the last line printed, so counts held
 * back by the rate limit are carried into the next line, never lost. */
static void report_one(struct rx_sub *r, bool flush)
{
	static const char *const what[6] = {
	    "not RTP",
	    "with payload type %u (want %u)",
	    "with %u-byte payloads (%s)",
	    "from a source outside the filter",
	    "too far ahead of playout",
	    ("of another SSRC than the stream's (strays, spoofs, or a new "
	     "sender proving itself)"),
	};
	const struct sub_stats *st = sub_stats(r->sub);
	struct rx_seen *seen = &r->seen;
	uint64_t v[6];
	uint64_t *old[6] = {&seen->bad_header, &seen->bad_pt,
			    &seen->bad_size,   &seen->foreign,
			    &seen->early,      &seen->foreign_ssrc};
	bool arrival;
	char msg[512], part[128];
	unsigned int k, suppressed;
	size_t off = 0;

	if (seen->sub != r->sub) {
		/* a new receiver (a latency, a moved stream) counts from 0:
		 * what was said of the old one is not subtracted from it (a
		 * new user saw "sender changed 18446744073709551614 times"
		 * after a latency change) */
		memset(seen, 0, offsetof(struct rx_seen, rl));
		seen->sub = r->sub;
	}
	arrival = GET(st->arrival_timing);
	v[0] = GET(st->bad_header);
	v[1] = GET(st->bad_pt);
	v[2] = GET(st->bad_size);
	v[3] = GET(st->foreign);
	v[4] = GET(st->early);
	v[5] = GET(st->foreign_ssrc);

	if ((GET(st->ssrc_changes) != seen->ssrc_changes ||
	     GET(st->rejudged) != seen->rejudged || arrival != seen->arrival ||
	     GET(st->converting) != seen->converting) &&
	    (log_ratelimit_ok(&seen->rl_change, &suppressed) || flush))
		report_changes(r, st, arrival);
	for (k = 0; k < 6; k++) {
		if (v[k] == *old[k])
			continue;
		/* Only the pt and size kinds take arguments. */
		if (k == 1)
			snprintf(part, sizeof(part), what[k],
				 (unsigned int)GET(st->last_bad_pt),
				 (unsigned int)r->cfg.pt);
		else if (k == 2)
			snprintf(part, sizeof(part), what[k],
				 (unsigned int)GET(st->last_bad_size),
				 size_why(r, (uint32_t)GET(st->last_bad_size)));
		else
			snprintf(part, sizeof(part), "%s", what[k]);
		off += (size_t)snprintf(
		    msg + off, off < sizeof(msg) ? sizeof(msg) - off : 0,
		    "%s%llu packet%s %s", off ? ", " : "",
		    (unsigned long long)(v[k] - *old[k]),
		    v[k] - *old[k] == 1 ? "" : "s", part);
	}
	if (off && (log_ratelimit_ok(&seen->rl, &suppressed) || flush)) {
		log_warn("subscription %s: dropped %s", r->set.name, msg);
		for (k = 0; k < 6; k++)
			*old[k] = v[k];
	}
}

/* The receiver's delay windows closed since the last tick. */
static void take_windows(struct rx_sub *r)
{
	const struct sub_stats *st = sub_stats(r->sub);
	uint64_t n = GET(st->delay_windows);
	int64_t lo = GET(st->win_delay_min_ns), hi = GET(st->win_delay_max_ns);

	if (n == r->windows_seen)
		return;
	r->windows_seen = n;
	if (lo > hi)
		return; /* a window without packets */
	memmove(r->win_min + 1, r->win_min,
		sizeof(r->win_min[0]) * (RX_DELAY_WINDOWS - 1));
	memmove(r->win_max + 1, r->win_max,
		sizeof(r->win_max[0]) * (RX_DELAY_WINDOWS - 1));
	r->win_min[0] = lo;
	r->win_max[0] = hi;
	if (r->nwin < RX_DELAY_WINDOWS)
		r->nwin++;
}

/* Each leg's state now (a receiver with two legs): a change is logged
 * once, rate-limited against a flapping link. */
static void step_legs(struct rx_sub *r, struct substate_input *in)
{
	const struct sub_stats *st = sub_stats(r->sub);
	uint64_t started = GET(st->started_ns), drained = GET(st->drained_ns);
	unsigned int l, supp;

	enum sub_leg_state was[SUB_LEGS];

	in->legs = sub_config_legs(&r->cfg);
	/* both legs' states first: what one leg's line says of the other
	 * is as of this tick */
	for (l = 0; l < in->legs; l++) {
		const struct sub_leg_stats *ls = &st->leg[l];

		was[l] = r->leg[l];
		in->leg[l] = substate_leg_fit(
		    substate_leg(GET(ls->last_ns), started, drained,
				 &in->leg_silent_ns[l]),
		    GET(ls->fit_ns), started, drained, &in->leg_unfit_ns[l]);
		r->leg[l] = in->leg[l];
	}
	for (l = 0; l < in->legs; l++) {
		const struct sub_leg_stats *ls = &st->leg[l];
		uint64_t lost = GET(ls->lost);

		if (in->legs < 2 || in->leg[l] == was[l])
			continue;
		if (in->leg[l] == SUB_LEG_DOWN) {
			r->leg_lost_at_down[l] = lost;
			r->leg_down_ns[l] = drained - in->leg_silent_ns[l];
			if (log_ratelimit_ok(&r->leg_rl, &supp))
				log_warn("subscription %s: leg %c down (no "
					 "packet on %s %s %.1f s)%s%s",
					 r->set.name, 'A' + l,
					 l ? r->cfg.ifname2 : r->cfg.ifname,
					 GET(ls->last_ns) ? "for"
							  : "yet, in",
					 (double)in->leg_silent_ns[l] / 1e9,
					 /* a sender that stopped silences
					  * both: not "carries" of a leg
					  * quiet for a third of the time */
					 GET(st->leg[!l].last_ns) &&
						 in->leg[!l] == SUB_LEG_OK &&
						 in->leg_silent_ns[!l] <
						     SUBSTATE_LEG_DOWN_NS / 3
					     ? "; the other leg carries the "
					       "stream"
					     : "",
					 supp ? " (and earlier leg changes "
						"not logged)"
					      : "");
		} else if (in->leg[l] == SUB_LEG_LATE) {
			if (log_ratelimit_ok(&r->leg_rl, &supp))
				log_warn("subscription %s: leg %c late (%s "
					 "brings packets, none in time for "
					 "%.1f s: after their playout time, "
					 "or numbered off the stream)%s",
					 r->set.name, 'A' + l,
					 l ? r->cfg.ifname2 : r->cfg.ifname,
					 (double)in->leg_unfit_ns[l] / 1e9,
					 supp ? " (and earlier leg changes "
						"not logged)"
					      : "");
		} else if (in->leg[l] == SUB_LEG_OK && was[l] == SUB_LEG_LATE) {
			if (log_ratelimit_ok(&r->leg_rl, &supp))
				log_info("subscription %s: leg %c in time "
					 "again%s",
					 r->set.name, 'A' + l,
					 supp ? " (and earlier leg changes "
						"not logged)"
					      : "");
		} else if (in->leg[l] == SUB_LEG_OK && was[l] == SUB_LEG_DOWN) {
			if (log_ratelimit_ok(&r->leg_rl, &supp))
				log_info(
				    "subscription %s: leg %c back after "
				    "%.1f s (%llu packets lost on it)%s",
				    r->set.name, 'A' + l,
				    (double)(GET(ls->last_ns) -
					     r->leg_down_ns[l]) /
					1e9,
				    (unsigned long long)(lost -
							 r->leg_lost_at_down
							     [l]),
				    supp ? " (and earlier leg changes "
					   "not logged)"
					 : "");
		}
	}
}

static void step_state(struct rx *rx, struct rx_sub *r, bool clock_settled)
{
	const struct sub_stats *st = r->sub ? sub_stats(r->sub) : NULL;
	enum sub_state was = r->state.state;
	unsigned int supp;
	struct substate_input in = {
	    .resolved = r->sub != NULL,
	    .refused = r->refused[0] ? r->refused : NULL,
	    .received = r->base_received + (st ? GET(st->received) : 0),
	    .late = r->base_late + (st ? GET(st->late) : 0),
	    .off = r->base_off + (st ? GET(st->off_timeline) : 0),
	    .arrival_timing = st && GET(st->arrival_timing),
	    .expects_ptp = r->sdp_ptp || r->set.timing == SUB_TIMING_PTP,
	    .clock_settled = clock_settled,
	    .latency_us = (uint32_t)(r->set.latency_ns / 1000),
	    .legs = 1,
	};

	if (r->sub != r->state_sub) {
		/* a new receiver (a latency, a moved stream): its counters
		 * start over, but the state's go on from the ones it
		 * replaced (carry_counts); the path's arrival windows stay
		 * (a moved stream forgot them) */
		if (!r->state_sub)
			substate_rebase(&r->state, &in);
		r->state_sub = r->sub;
		r->windows_seen = st ? GET(st->delay_windows) : 0;
		r->leg[0] = r->leg[1] = SUB_LEG_WAITING;
	}
	if (r->sub) {
		take_windows(r);
		step_legs(r, &in);
	}
	in.safe_latency_us =
	    rx_sub_safe_latency_us(rx, (unsigned int)(r - rx->subs));
	if (!substate_step(&r->state, &in))
		return;
	/* a flapping link changes it every second: 10 lines per 10 s */
	if (!log_ratelimit_ok(&r->state_rl, &supp))
		return;
	/* receiving, and a stream found (unresolved -> waiting), are the
	 * way up: said as info; the rest is trouble */
	if (r->state.state == SUB_RECEIVING ||
	    (r->state.state == SUB_WAITING && was == SUB_UNRESOLVED))
		log_info("subscription %s: %s -> %s (%s)%s", r->set.name,
			 substate_name(was), substate_name(r->state.state),
			 r->state.reason,
			 supp ? " (and earlier changes not logged)" : "");
	else
		log_warn("subscription %s: %s -> %s (%s)%s", r->set.name,
			 substate_name(was), substate_name(r->state.state),
			 r->state.reason,
			 supp ? " (and earlier changes not logged)" : "");
}

/* A recording's troubles, said once each: a write that failed (a full
 * disk) stopped it; a gap too long to fill; frames the disk lost. */
static void watch_recorder(const struct recorder *rec, struct rec_watch *w,
			   uint64_t now)
{
	int e = recorder_write_errno(rec);
	uint64_t clipped = recorder_gap_clipped(rec),
		 over = recorder_overflows(rec);
	uint32_t rate = recorder_rate(rec);

	if (e && !w->error)
		log_err("recording %s: stopped after %llu frames: %s; the "
			"node runs on",
			recorder_path(rec),
			(unsigned long long)recorder_frames_written(rec),
			strerror(e));
	w->error = e;
	if (clipped != w->clipped)
		log_warn("recording %s: %.1f s of a gap not in the file "
			 "(%.1f s in all; a gap holds at most 10 s of "
			 "silence): later frames are that much early",
			 recorder_path(rec),
			 (double)(clipped - w->clipped) / rate,
			 (double)clipped / rate);
	w->clipped = clipped;
	/* a slow disk loses frames for a while: said at most every 10 s,
	 * with what was lost since */
	if (over != w->overflows && now - w->said_ns >= 10 * NSEC_PER_SEC) {
		log_warn("recording %s: %llu frames lost, the disk did not "
			 "keep up (%llu in all)",
			 recorder_path(rec),
			 (unsigned long long)(over - w->overflows),
			 (unsigned long long)over);
		w->overflows = over;
		w->said_ns = now;
	}
}

void rx_tick(struct rx *rx, bool clock_settled, bool flush)
{
	uint64_t now = loop_now_ns();
	unsigned int i, k;

	for (i = 0; i < rx->nslots; i++) {
		struct rx_sub *r = &rx->subs[i];

		if (!r->used)
			continue;
		if (r->sub)
			report_one(r, flush);
		if (!flush)
			step_state(rx, r, clock_settled);
		for (k = 0; k < r->nout; k++) {
			if (r->out[k].rec)
				watch_recorder(r->out[k].rec, &r->out[k].watch,
					       now);
			if (r->out[k].play)
				alsa_play_report(r->out[k].play);
		}
	}
	for (i = 0; i < rx->nbus_recs; i++)
		watch_recorder(rx->bus_recs[i], &rx->bus_watch[i], now);
}

unsigned int rx_sub_recordings(const struct rx *rx, unsigned int slot,
			       struct rx_rec_info *out, unsigned int max)
{
	const struct rx_sub *r = &rx->subs[slot];
	unsigned int k, n = 0;

	for (k = 0; k < r->nout && n < max; k++) {
		const struct rx_out *o = &r->out[k];
		struct rx_rec_info *ri = &out[n];

		if (o->k && o->k->type != SINK_FILE)
			continue;
		memset(ri, 0, sizeof(*ri));
		ri->start_x = UINT64_MAX;
		ri->state = "waiting";
		ri->path = o->k ? o->k->path : o->api.path;
		if (o->rec) {
			ri->error = recorder_write_errno(o->rec);
			ri->frames = recorder_frames_written(o->rec);
			ri->start_x = recorder_start_x(o->rec);
			ri->gap_clipped = recorder_gap_clipped(o->rec);
			ri->overflows = recorder_overflows(o->rec);
			if (ri->error)
				ri->state = "failed";
			else if (recorder_complete(o->rec))
				ri->state = "complete";
			else if (ri->start_x != UINT64_MAX)
				ri->state = "recording";
		}
		n++;
	}
	return n;
}

size_t rx_status(const struct rx *rx, char *buf, size_t len, size_t off)
{
	unsigned int i;

	for (i = 0; i < rx->nslots && off < len; i++) {
		const struct rx_sub *r = &rx->subs[i];
		const struct sub_stats *st;

		if (!r->used)
			continue;
		if (!r->sub) {
			off += (size_t)snprintf(buf + off, len - off,
						" | sub %s unresolved",
						r->set.name);
			continue;
		}
		st = sub_stats(r->sub);
		off += (size_t)snprintf(buf + off, len - off,
					" | sub %s rx=%llu lost=%llu late=%llu",
					r->set.name,
					(unsigned long long)GET(st->received),
					(unsigned long long)GET(st->lost),
					(unsigned long long)GET(st->late));
		if (off < len && sub_config_legs(&r->cfg) == 2)
			off += (size_t)snprintf(
			    buf + off, len - off, " legs A=%s/%llu B=%s/%llu",
			    substate_leg_name(r->leg[0]),
			    (unsigned long long)GET(st->leg[0].lost),
			    substate_leg_name(r->leg[1]),
			    (unsigned long long)GET(st->leg[1].lost));
		if (off < len)
			off +=
			    (size_t)snprintf(buf + off, len - off, " delay_us");
		if (off < len)
			off = format_hist(st, buf, len, off);
	}
	return off;
}

void rx_final(const struct rx *rx)
{
	char line[1024];
	unsigned int i, k;

	for (i = 0; i < rx->nslots; i++) {
		const struct rx_sub *r = &rx->subs[i];

		if (!r->used)
			continue;
		if (!r->sub) {
			if (r->refused[0])
				log_info("final: subscription %s unresolved: "
					 "stream '%s' found but not taken: %s",
					 r->set.name, r->set.stream,
					 r->refused);
			else
				log_info("final: subscription %s unresolved: "
					 "stream '%s' never found",
					 r->set.name, r->set.stream);
			continue;
		}
		rx_format_stats(r->sub, line, sizeof(line));
		log_info("final: subscription %s %s", r->set.name, line);
		for (k = 0; k < r->nout; k++) {
			struct alsa_stats as;

			if (!r->out[k].play)
				continue;
			alsa_play_report(r->out[k].play);
			alsa_play_stats(r->out[k].play, &as);
			alsa_log_stats(&as);
		}
	}
}
