/* Node assembly and the control loop: signals, status, and turning the media
 * thread's counters into rate-limited log lines. */
#include "node/node.h"
#include "common/log.h"
#include "common/loop.h"
#include "common/net.h"
#include "discovery/sap.h"
#include "discovery/sdp.h"
#include "node/alsa_node.h"
#include "node/config.h"
#include "node/api.h"
#include "node/disco.h"
#include "node/flow.h"
#include "node/media.h"
#include "node/notify.h"
#include "node/privs.h"
#include "node/recorder.h"
#include "node/relay.h"
#include "node/rxbus.h"
#include "node/source.h"
#include "node/sub.h"
#include "ptp/mclock.h"
#include "ptp/mgmt.h"
#include "ptp/supervise.h"
#include "ptp/sync.h"

#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stddef.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define TICK_MS 100

#include "node/node_priv.h"

#if defined(__SANITIZE_ADDRESS__)
#define D4_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define D4_ASAN 1
#endif
#endif
#ifndef D4_ASAN
#define D4_ASAN 0
#endif


/* The file thread: read-ahead for file sources, write-behind for
 * recorders. It may block on disk; the media thread never waits for it. */
static void *io_main(void *arg)
{
	struct node *n = arg;
	/* Sources read 1 s ahead, recorders buffer 2 s: 20 ms is plenty,
	 * and 50 wake-ups a second cost next to nothing. */
	struct timespec ts = {0, 20 * 1000 * 1000};
	unsigned int i;

	while (!atomic_load(&n->io_stop)) {
		for (i = 0; i < n->cfg.nsources; i++)
			if (source_is_file(n->sources[i]) &&
			    source_io_fill(n->sources[i]) < 0)
				log_err("source %s: read error",
					source_name(n->sources[i]));
		/* the control thread closes a deleted subscription's */
		pthread_mutex_lock(&n->io_lock);
		for (i = 0; i < n->nrecs; i++)
			recorder_io_drain(n->recs[i]);
		pthread_mutex_unlock(&n->io_lock);
		nanosleep(&ts, NULL);
	}
	return NULL;
}

/* The SDP of flow @i; @bump: with its o= version bumped (Dante Controller
 * wants a new version for every change). Returns its length or < 0. */
static int flow_sdp(struct node *n, unsigned int i, char *buf, size_t buflen,
		    char *session, size_t session_len, bool bump)
{
	struct flow *f = n->flows[i];
	const struct flow_config *fc = flow_config(f);
	struct sdp_stream st = {0};
	struct mclock_status cs;
	size_t off;
	unsigned int c;
	uint8_t mac[6];
	int len;

	flow_origin(f, &st.origin_addr, mac);
	snprintf(st.origin_user, sizeof(st.origin_user), "-");
	st.session_id = flow_ssrc(f) ? flow_ssrc(f) : 1;
	st.session_version =
	    bump ? ++n->sdp_version[i] : n->sdp_version[i];
	snprintf(st.name, sizeof(st.name), "%s %s", n->cfg.name, fc->name);
	snprintf(session, session_len, "%s", st.name);
	off = (size_t)snprintf(st.info, sizeof(st.info),
			       "%u channels: ", fc->nch);
	for (c = 0; c < fc->nch && off < sizeof(st.info); c++)
		off += (size_t)snprintf(st.info + off, sizeof(st.info) - off,
					"%s%s %u", c ? ", " : "", fc->source,
					fc->chans[c] + 1u);
	st.addr = fc->dest.sin_addr;
	st.port = ntohs(fc->dest.sin_port);
	st.ttl = net_is_multicast(&fc->dest) ? fc->ttl : -1;
	st.payload_type = fc->pt;
	snprintf(st.encoding, sizeof(st.encoding), "%s",
		 rtp_encoding_name(fc->enc));
	st.rate = fc->rate;
	st.channels = fc->nch;
	st.ptime_us = fc->ptime_us;
	st.framecount = fc->fpp;
	mclock_get_status(n->mc, &cs);
	if (cs.gm_valid) {
		st.refclk = SDP_REFCLK_PTP;
		snprintf(st.refclk_version, sizeof(st.refclk_version),
			 "IEEE1588-2008");
		memcpy(st.gm_id, cs.gm_id, 8);
		st.ptp_domain = cs.domain;
	} else {
		st.refclk = SDP_REFCLK_LOCALMAC;
		memcpy(st.gm_id, mac, 6);
		st.ptp_domain = -1;
	}
	st.has_mediaclk = true;
	st.mediaclk_offset = 0;
	if (net_is_multicast(&fc->dest)) {
		st.has_source_filter = true;
		st.source_filter = st.origin_addr;
	}
	snprintf(st.direction, sizeof(st.direction), "recvonly");
	len = sdp_write(&st, buf, buflen);
	if (len < 0)
		log_err("flow %s: SDP does not fit", fc->name);
	return len;
}

int node_flow_sdp(struct node *n, unsigned int i, char *buf, size_t len,
		  char *session, size_t session_len)
{
	return flow_sdp(n, i, buf, len, session, session_len, false);
}

/* Write flow @i's SDP file and announce it (multicast flows: SAP, RAVENNA).
 * Called at start and whenever the SDP changes (grandmaster). */
int node_publish_flow(struct node *n, unsigned int i)
{
	const struct flow_config *fc;
	char buf[SAP_SDP_MAX], session[SDP_NAME_MAX];
	FILE *out;
	int len;

	if (!n->flows[i])
		return 0; /* a flow deleted through the API */
	fc = flow_config(n->flows[i]);
	len = flow_sdp(n, i, buf, sizeof(buf), session, sizeof(session), true);
	if (len < 0)
		return len;
	if (n->disco && net_is_multicast(&fc->dest))
		disco_flow_set(n->disco, i, session, buf);
	if (!fc->sdp_path[0])
		return 0;
	out = fopen(fc->sdp_path, "w");
	if (!out || fwrite(buf, 1, (size_t)len, out) != (size_t)len) {
		log_err("flow %s: cannot write SDP to '%s': %m", fc->name,
			fc->sdp_path);
		if (out)
			fclose(out);
		return -EIO;
	}
	fclose(out);
	return 0;
}

void node_set_name(struct node *n, const char *name)
{
	unsigned int i;

	if (!strcmp(n->cfg.name, name))
		return;
	log_info("node: '%s' is now called '%s'", n->cfg.name, name);
	snprintf(n->cfg.name, sizeof(n->cfg.name), "%s", name);
	if (n->disco)
		disco_set_name(n->disco, name);
	/* Stream names are "NODE FLOW": SDP files and announcements anew. */
	for (i = 0; i < CONFIG_MAX_FLOWS; i++)
		if (n->flows[i])
			node_publish_flow(n, i);
}

/* A flow's packets go through its D4 loop. RT. */
int node_flow_send_d4(void *ctx, uint8_t *pkt, size_t len)
{
	struct flow_prog *fp = ctx;

	return relay_run(fp->relay, fp->handle, pkt, len, NULL);
}

/* "main-out" -> "main_out": loop and variable names are D4 names. */
void node_d4_name(char *dst, size_t len, const char *prefix,
		  const char *name, const char *suffix)
{
	size_t i;

	/* up to the terminator, which a long @name leaves at len - 1 */
	snprintf(dst, len, "%s%s", prefix, name);
	for (i = strlen(prefix); dst[i]; i++)
		if (!((dst[i] >= 'a' && dst[i] <= 'z') ||
		      (dst[i] >= 'A' && dst[i] <= 'Z') ||
		      (dst[i] >= '0' && dst[i] <= '9')))
			dst[i] = '_';
	if (strlen(dst) + strlen(suffix) > D4_MAX_NAME)
		dst[D4_MAX_NAME - strlen(suffix)] = '\0';
	strncat(dst, suffix, len - strlen(dst) - 1);
}

/* A flow's default loop: a multicast flow sends to its group, a unicast
 * flow is the seed's relay over the list _<flow>_receivers, which starts
 * with the flow's destination (routing another receiver to it is
 * "_<flow>_receivers += host:port"). */
int node_flow_default_loop(struct node *n, struct flow *f, char *err,
			     size_t err_len)
{
	const struct flow_config *fc = flow_config(f);
	char loop[40], var[40], other[40], dest[32], text[512];
	bool unicast = !net_is_multicast(&fc->dest);
	unsigned int i;
	int handle = -1, rc;

	node_d4_name(loop, sizeof(loop), "flow_", fc->name, "");
	node_d4_name(var, sizeof(var), "_", fc->name, "_receivers");
	/* Names that differ only in what D4 names cannot hold ("a-b",
	 * "a.b"; past 26 or 20 characters) would share a loop or a relay
	 * list with a flow that runs: refused, not taken over. */
	for (i = 0; i < n->cfg.nflows; i++) {
		const struct flow_config *o;

		if (!n->flows[i] || n->flows[i] == f)
			continue;
		o = flow_config(n->flows[i]);
		node_d4_name(other, sizeof(other), "flow_", o->name, "");
		if (!strcmp(other, loop)) {
			snprintf(err, err_len,
				 "flow %s has the D4 loop name %s already",
				 o->name, loop);
			return -EEXIST;
		}
		node_d4_name(other, sizeof(other), "_", o->name, "_receivers");
		if (unicast && !net_is_multicast(&o->dest) &&
		    !strcmp(other, var)) {
			snprintf(err, err_len,
				 "flow %s has the D4 relay list %s already",
				 o->name, var);
			return -EEXIST;
		}
	}
	net_endpoint_str(&fc->dest, dest, sizeof(dest));
	if (!unicast) {
		snprintf(text, sizeof(text),
			 "loop %s {\npkt = recv()\nsendto(pkt, %s)\n}\n", loop,
			 dest);
	} else {
		/* A flow of this name deleted earlier left its list (D4 has
		 * no undeclare): it starts over with this receiver. List and
		 * loop in one d4_exec: all or nothing. */
		if (d4_var_format(relay_runtime(n->relay), var, text, 1) ==
		    -ENOENT)
			snprintf(text, sizeof(text), "IP[] %s\n%s += %s\n", var,
				 var, dest);
		else
			snprintf(text, sizeof(text), "%s = [%s]\n", var, dest);
		snprintf(text + strlen(text), sizeof(text) - strlen(text),
			 "loop %s {\npkt = recv()\nfor ip in %s:\n"
			 "sendto(pkt, ip)\nendfor\n}\n",
			 loop, var);
	}
	rc = d4_exec(relay_runtime(n->relay), text, strlen(text), &handle, err,
		     err_len);
	return rc < 0 ? rc : handle;
}

/* Load [d4] sections, bind their UDP loops, and give every flow a loop:
 * one of the user's bound "on flow NAME", else the default. */
static int relay_setup(struct node *n, char *err, size_t err_len)
{
	struct node_config *cfg = &n->cfg;
	char msg[256];
	unsigned int i, k;
	int rc;

	n->relay = relay_new();
	if (!n->relay) {
		snprintf(err, err_len, "d4: out of memory");
		return -ENOMEM;
	}
	for (i = 0; i < cfg->nd4; i++) {
		struct d4prog_config *d = &cfg->d4[i];
		struct net_tx_opts opts = {.dscp = d->dscp,
					   .ttl = d->ttl,
					   .ifname =
					       d->ifname[0] ? d->ifname : NULL};

		if (d->file[0] &&
		    relay_load_file(n->relay, d->file, msg, sizeof(msg)) < 0) {
			snprintf(err, err_len, "[d4 %s] %s", d->name, msg);
			return -EINVAL;
		}
		for (k = 0; k < d->nexec; k++) {
			if (relay_exec(n->relay, d->exec[k], msg, sizeof(msg)) <
			    0) {
				snprintf(err, err_len, "[d4 %s] exec '%s': %s",
					 d->name, d->exec[k], msg);
				return -EINVAL;
			}
		}
		for (k = 0; k < d->nbind; k++) {
			char loop[D4_MAX_NAME + 1];
			const char *sp = strchr(d->bind[k], ' ');
			size_t ln = (size_t)(sp - d->bind[k]);
			int h;

			snprintf(loop, sizeof(loop), "%.*s",
				 (int)(ln < sizeof(loop) ? ln : 0), d->bind[k]);
			h = d4_program_find(relay_runtime(n->relay), loop);
			if (h < 0 ||
			    d4_set_binding(relay_runtime(n->relay), h, sp + 1,
					   msg, sizeof(msg)) < 0) {
				snprintf(err, err_len, "[d4 %s] bind '%s': %s",
					 d->name, d->bind[k],
					 h < 0 ? "no loop of that name" : msg);
				return -EINVAL;
			}
		}
		rc = relay_bind_udp_loops(n->relay, &opts, msg, sizeof(msg));
		if (rc < 0) {
			snprintf(err, err_len, "[d4 %s] %s", d->name, msg);
			return rc;
		}
	}
	for (i = 0; i < cfg->nflows; i++) {
		const char *name = cfg->flows[i].name;
		int handles[D4_MAX_PROGRAMS], nh, h, handle = -1;

		nh = d4_program_list(relay_runtime(n->relay), handles,
				     D4_MAX_PROGRAMS);
		for (h = 0; h < nh; h++) {
			struct d4_program_info info;

			if (d4_program_info(relay_runtime(n->relay), handles[h],
					    &info) == 0 &&
			    info.bind_kind == D4_BIND_FLOW &&
			    !strcmp(info.bind_flow, name))
				handle = handles[h];
		}
		if (handle < 0) {
			handle =
			    node_flow_default_loop(n, n->flows[i], msg, sizeof(msg));
			if (handle < 0) {
				snprintf(err, err_len,
					 "flow %s: its D4 loop: %s", name, msg);
				return handle;
			}
		}
		rc = relay_attach_output(n->relay, handle, flow_fd(n->flows[i]),
					 NULL);
		if (rc < 0) {
			snprintf(err, err_len, "flow %s: D4 output: %s", name,
				 strerror(-rc));
			return rc;
		}
		d4_start(relay_runtime(n->relay), handle);
		n->flow_prog[i] = (struct flow_prog){n->relay, handle};
		flow_set_sender(n->flows[i], node_flow_send_d4, &n->flow_prog[i]);
	}
	return 0;
}

/* The control socket: one datagram in, one answer back. Until the control
 * API exists this is how D4 variables change while the node runs:
 *   exec <statement>   -> "ok" or "error: LINE:COL: message"
 *   vars               -> "name = value" lines
 *   programs           -> one line per loop with its counters
 *   streams            -> one line per stream seen (SAP, RAVENNA)
 *   sdp NAME           -> that stream's SDP */
static int control_open(struct node *n)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd;

	if (!n->cfg.control[0])
		return -1;
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", n->cfg.control);
	unlink(sa.sun_path);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		log_err("control socket '%s': %m", n->cfg.control);
		close(fd);
		return -1;
	}
	chmod(sa.sun_path, 0600);
	return fd;
}

static void control_handle(struct node *n)
{
	struct d4_runtime *rt = relay_runtime(n->relay);
	struct sockaddr_un from;
	socklen_t flen = sizeof(from);
	char req[1024], rsp[8192], msg[256];
	size_t off = 0;
	ssize_t len;
	int i, nv, handles[D4_MAX_PROGRAMS];

	len = recvfrom(n->control_fd, req, sizeof(req) - 1, 0,
		       (struct sockaddr *)&from, &flen);
	if (len < 0)
		return;
	req[len] = '\0';
	while (len && (req[len - 1] == '\n' || req[len - 1] == '\r'))
		req[--len] = '\0';
	if (!strncmp(req, "exec ", 5)) {
		if (relay_exec(n->relay, req + 5, msg, sizeof(msg)) < 0) {
			off = (size_t)snprintf(rsp, sizeof(rsp), "error: %s\n",
					       msg);
			log_warn("control: exec '%s': %s", req + 5, msg);
		} else {
			off = (size_t)snprintf(rsp, sizeof(rsp), "ok\n");
			log_info("control: exec '%s'", req + 5);
		}
	} else if (!strcmp(req, "vars")) {
		nv = d4_var_count(rt);
		for (i = 0; i < nv && off < sizeof(rsp); i++) {
			struct d4_var_info vi;
			char val[2048];

			if (d4_var_info(rt, i, &vi) < 0)
				continue;
			d4_var_format(rt, vi.name, val, sizeof(val));
			off += (size_t)snprintf(rsp + off, sizeof(rsp) - off,
						"%s %s = %s\n", vi.type,
						vi.name, val);
		}
	} else if (!strcmp(req, "programs")) {
		nv = d4_program_list(rt, handles, D4_MAX_PROGRAMS);
		for (i = 0; i < nv && off < sizeof(rsp); i++) {
			struct d4_program_info pi;

			if (d4_program_info(rt, handles[i], &pi) < 0)
				continue;
			off += (size_t)snprintf(
			    rsp + off, sizeof(rsp) - off,
			    "%s %s %s in=%llu sent=%llu dropped=%llu "
			    "errors=%llu wcet=%llu\n",
			    pi.name, pi.binding,
			    pi.running ? "running" : "stopped",
			    (unsigned long long)pi.pkts_in,
			    (unsigned long long)pi.pkts_sent,
			    (unsigned long long)pi.pkts_dropped,
			    (unsigned long long)pi.errors,
			    (unsigned long long)pi.wcet_insns);
		}
	} else if (!strcmp(req, "streams")) {
		struct disco_stream ds;

		for (i = 0; n->disco && disco_stream_at(n->disco, i, &ds) &&
			    off < sizeof(rsp);
		     i++)
			off += (size_t)snprintf(
			    rsp + off, sizeof(rsp) - off, "%s %s%s '%s'\n",
			    ds.origin == DISCO_SAP ? "sap" : "ravenna",
			    inet_ntoa(ds.host), ds.own ? " (own)" : "",
			    ds.name);
	} else if (!strncmp(req, "sdp ", 4)) {
		const char *sdp =
		    n->disco ? disco_stream_sdp(n->disco, req + 4, NULL) : NULL;

		off = (size_t)snprintf(rsp, sizeof(rsp), "%s",
				       sdp ? sdp : "error: no such stream\n");
	} else {
		off = (size_t)snprintf(rsp, sizeof(rsp),
				       "error: unknown request '%.60s' (exec "
				       "STATEMENT, vars, programs, streams, "
				       "sdp NAME)\n",
				       req);
	}
	if (off > sizeof(rsp))
		off = sizeof(rsp);
	sendto(n->control_fd, rsp, off, 0, (struct sockaddr *)&from, flen);
}

/* Into the file thread's list. */
static void node_add_rec(struct node *n, struct recorder *rec)
{
	pthread_mutex_lock(&n->io_lock);
	n->recs[n->nrecs] = rec;
	n->nrecs++;
	pthread_mutex_unlock(&n->io_lock);
}

/* Open the file sinks of subscription @si and attach them to @s. */
int node_open_sinks(struct node *n, unsigned int si, struct sub *s,
		    char *err, size_t err_len)
{
	struct node_config *cfg = &n->cfg;
	unsigned int i;

	for (i = 0; i < cfg->nsinks; i++) {
		struct sink_config *k = &cfg->sinks[i];
		struct recorder *rec;

		if (k->type != SINK_FILE ||
		    config_find_sub(cfg, k->sub) != (int)si)
			continue;
		if (n->nrecs == CONFIG_MAX_SINKS) {
			snprintf(err, err_len,
				 "sink %s: this node records %d files, the "
				 "most it takes",
				 k->rec.name, CONFIG_MAX_SINKS);
			return -ENOSPC;
		}
		rec = recorder_open(&k->rec, err, err_len);
		if (!rec)
			return -EINVAL;
		node_add_rec(n, rec);
		n->sink_rec[i] = rec;
		if (sub_add_recorder(s, rec) < 0) {
			snprintf(err, err_len,
				 "sink %s: subscription %s has too many sinks",
				 k->rec.name, k->sub);
			return -ENOSPC;
		}
	}
	n->sub_recs_open[si] = true;
	return node_attach_rx(n, si, s, err, err_len);
}

/* Put subscription @si's stream channels on the RX channels it fills. */
int node_attach_rx(struct node *n, unsigned int si, struct sub *s,
		   char *err, size_t err_len)
{
	struct rxbus_port *p = &n->rx_port[si];
	int rc;

	if (!n->cfg.sub_rx[si].n || !n->rxbus)
		return 0;
	p->bus = n->rxbus;
	p->map = n->cfg.sub_rx[si];
	rc = sub_add_output(s, rxbus_port_feed, p, 0);
	if (rc < 0)
		snprintf(err, err_len, "subscription %s: too many sinks",
			 n->cfg.subs[si].name);
	return rc;
}

void node_close_sinks(struct node *n, unsigned int si)
{
	struct node_config *cfg = &n->cfg;
	unsigned int i, k;

	for (i = 0; i < cfg->nsinks; i++) {
		struct sink_config *sk = &cfg->sinks[i];
		struct recorder *rec = n->sink_rec[i];

		if (sk->rx || config_find_sub(cfg, sk->sub) != (int)si)
			continue;
		if (rec) {
			pthread_mutex_lock(&n->io_lock);
			for (k = 0; k < n->nrecs && n->recs[k] != rec; k++)
				;
			if (k < n->nrecs) {
				n->recs[k] = n->recs[n->nrecs - 1];
				n->nrecs--;
			}
			pthread_mutex_unlock(&n->io_lock);
			recorder_close(rec); /* writes what is left */
			n->sink_rec[i] = NULL;
		}
		sk->sub[0] = '\0'; /* a free slot (node_api.c) */
	}
	n->sub_recs_open[si] = false;
}

/* Hand the recorders of the subscription in slot @si over to @s. */
int node_move_sinks(struct node *n, unsigned int si, struct sub *s)
{
	struct node_config *cfg = &n->cfg;
	unsigned int i;

	char err[160];

	for (i = 0; i < cfg->nsinks; i++)
		if (n->sink_rec[i] &&
		    config_find_sub(cfg, cfg->sinks[i].sub) == (int)si &&
		    sub_add_recorder(s, n->sink_rec[i]) < 0)
			return -ENOSPC;
	return node_attach_rx(n, si, s, err, sizeof(err));
}

/* The RX channels: their bus, and the sinks that record them. */
static int open_rx(struct node *n, char *err, size_t err_len)
{
	struct node_config *cfg = &n->cfg;
	unsigned int i;

	for (i = 0; i < cfg->rx_channels; i++)
		snprintf(n->rx_name[i], sizeof(n->rx_name[i]), "%02u", i + 1);
	if (!cfg->rx_channels)
		return 0;
	n->rxbus = rxbus_new(cfg->rx_channels, CONFIG_RX_RATE);
	if (!n->rxbus) {
		snprintf(err, err_len, "out of memory");
		return -ENOMEM;
	}
	for (i = 0; i < cfg->nsinks; i++) {
		struct sink_config *k = &cfg->sinks[i];
		struct recorder *rec;

		if (!k->rx || k->type != SINK_FILE)
			continue;
		if (n->nrecs == CONFIG_MAX_SINKS)
			return -ENOSPC;
		rec = recorder_open(&k->rec, err, err_len);
		if (!rec)
			return -EINVAL;
		node_add_rec(n, rec);
		n->sink_rec[i] = rec;
		if (rxbus_add_recorder(n->rxbus, rec) < 0) {
			snprintf(err, err_len,
				 "sink %s: the RX channels have too many sinks",
				 k->rec.name);
			return -ENOSPC;
		}
	}
	return 0;
}

static void name_tx(struct node *n)
{
	unsigned int i, c, t = 0;

	for (i = 0; i < n->cfg.nsources; i++)
		for (c = 0; c < source_channels(n->sources[i]) &&
			    t < NODE_MAX_TX;
		     c++, t++)
			snprintf(n->tx_name[t], sizeof(n->tx_name[t]), "%02u",
				 t + 1);
}

static int node_build(struct node *n)
{
	struct node_config *cfg = &n->cfg;
	char err[512];
	unsigned int i, c;

	if (cfg->ptp.run == PTP_RUN_OFF) {
		n->mc = mclock_new_free_run();
		if (!n->mc)
			return -ENOMEM;
	} else {
		struct ptp_sync_cfg sc = {
		    .uds = cfg->ptp.uds[0] ? cfg->ptp.uds : NULL,
		    .domain = (uint8_t)cfg->ptp.domain,
		    .lock = {.threshold_ns = cfg->ptp.lock_threshold_ns,
			     .lock_count = 3,
			     .uncalibrated_ok =
				 cfg->ptp.clock == MCLOCK_MODE_FOLLOW,
			     .holdover_ns = cfg->ptp.holdover_ns},
		    .poll_ns = 500 * 1000 * 1000,
		    .step_ns = 1000 * 1000,
		};

		n->mc = mclock_new_ptp(cfg->ptp.clock, cfg->ptp.phc, err,
				       sizeof(err));
		if (!n->mc)
			goto out_err;
		n->sync = ptp_sync_new(&sc, n->mc);
		if (!n->sync) {
			snprintf(err, sizeof(err), "ptp: cannot open a socket");
			goto out_err;
		}
		if (cfg->ptp.run == PTP_RUN_SPAWN) {
			n->ptp4l = ptp4l_proc_new(
			    cfg->ptp.ptp4l, cfg->ptp.ptp4l_config,
			    cfg->ptp.ifname,
			    cfg->ptp.uds[0] ? cfg->ptp.uds : PMC_DEFAULT_UDS);
			if (!n->ptp4l) {
				snprintf(err, sizeof(err), "out of memory");
				goto out_err;
			}
		}
		log_info("ptp: %s ptp4l at %s, media clock %s, domain %d",
			 cfg->ptp.run == PTP_RUN_SPAWN ? "running" : "asking",
			 ptp_sync_target(n->sync),
			 mclock_mode_name(cfg->ptp.clock), cfg->ptp.domain);
	}
	for (i = 0; i < cfg->nsources; i++) {
		n->sources[i] = source_open(&cfg->sources[i], err, sizeof(err));
		if (!n->sources[i])
			goto out_err;
	}
	for (i = 0; i < cfg->nflows; i++) {
		struct flow_config *fc = &cfg->flows[i];
		struct source *src =
		    n->sources[config_find_source(cfg, fc->source)];

		if (!fc->nch) {
			fc->nch = source_channels(src);
			for (c = 0; c < fc->nch; c++)
				fc->chans[c] = (uint8_t)c;
		}
		n->flows[i] = flow_open(fc, src, err, sizeof(err));
		if (!n->flows[i])
			goto out_err;
	}
	name_tx(n);
	if (open_rx(n, err, sizeof(err)) < 0)
		goto out_err;
	for (i = 0; i < cfg->nsubs; i++) {
		n->sub_tmpl[i] = cfg->subs[i];
		if (cfg->sub_stream[i][0])
			continue; /* opened when the stream is found */
		n->subs[i] = sub_open(&cfg->subs[i], err, sizeof(err));
		if (!n->subs[i])
			goto out_err;
		if (node_open_sinks(n, i, n->subs[i], err, sizeof(err)) < 0)
			goto out_err;
	}
	for (i = 0; i < cfg->nflows; i++)
		if (cfg->flows[i].sdp_path[0] && node_publish_flow(n, i) < 0)
			return -EIO;
	if (relay_setup(n, err, sizeof(err)) < 0)
		goto out_err;
	n->alsa =
	    alsa_node_build(cfg, n->sources, n->subs, n->mc, err, sizeof(err));
	if (!n->alsa)
		goto out_err;
	n->media = media_new(n->mc, n->flows, cfg->nflows, n->subs, cfg->nsubs);
	if (!n->media)
		return -ENOMEM;
	media_set_relay(n->media, n->relay);
	media_set_rxbus(n->media, n->rxbus);
	return 0;

out_err:
	log_err("%s", err);
	return -EINVAL;
}

static void node_teardown(struct node *n)
{
	unsigned int i;

	if (n->media)
		media_destroy(n->media);
	alsa_node_destroy(n->alsa);
	if (n->io_running) {
		atomic_store(&n->io_stop, true);
		pthread_join(n->io_thread, NULL);
	}
	for (i = 0; i < n->nrecs; i++)
		recorder_close(n->recs[i]);
	for (i = 0; i < n->cfg.nsubs; i++)
		sub_destroy(n->subs[i]);
	rxbus_destroy(n->rxbus);
	for (i = 0; i < n->cfg.nflows; i++)
		flow_destroy(n->flows[i]);
	for (i = 0; i < n->cfg.nsources; i++)
		source_destroy(n->sources[i]);
	relay_destroy(n->relay);
	if (n->control_fd >= 0) {
		close(n->control_fd);
		unlink(n->cfg.control);
	}
	ptp4l_proc_destroy(n->ptp4l);
	ptp_sync_destroy(n->sync);
	mclock_destroy(n->mc);
}

static void format_sub(const struct sub *s, char *buf, size_t len)
{
	const struct sub_stats *st = sub_stats(s);
	size_t off;
	unsigned int b;

	off = (size_t)snprintf(
	    buf, len,
	    "subscription %s received=%llu lost=%llu late=%llu early=%llu "
	    "unsynced=%llu duplicate=%llu reordered=%llu missing_frames=%llu "
	    "bad_header=%llu bad_pt=%llu bad_size=%llu foreign=%llu "
	    "ssrc_changes=%llu delay_us=[",
	    sub_config(s)->name, (unsigned long long)GET(st->received),
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
	    (unsigned long long)GET(st->ssrc_changes));
	for (b = 0; b < SUB_HIST_BUCKETS && off < len; b++) {
		if (b == 0)
			off += (size_t)snprintf(
			    buf + off, len - off, "<0:%llu",
			    (unsigned long long)GET(st->hist[b]));
		else
			off += (size_t)snprintf(
			    buf + off, len - off, " %s%d:%llu",
			    b == SUB_HIST_BUCKETS - 1 ? ">=" : "<",
			    sub_hist_edges_us[b == SUB_HIST_BUCKETS - 1 ? b - 1
									: b],
			    (unsigned long long)GET(st->hist[b]));
	}
	if (off < len)
		snprintf(buf + off, len - off, "]");
}

static void print_final_d4(struct node *n)
{
	struct d4_runtime *rt = relay_runtime(n->relay);
	int handles[D4_MAX_PROGRAMS], nh, i;

	nh = d4_program_list(rt, handles, D4_MAX_PROGRAMS);
	for (i = 0; i < nh; i++) {
		const struct relay_out_stats *os =
		    relay_stats(n->relay, handles[i]);
		struct d4_program_info pi;

		if (d4_program_info(rt, handles[i], &pi) < 0)
			continue;
		log_info("final: d4 %s in=%llu sent=%llu dropped=%llu "
			 "errors=%llu datagrams=%llu send_errors=%llu "
			 "max_insns=%llu wcet=%llu",
			 pi.name, (unsigned long long)pi.pkts_in,
			 (unsigned long long)pi.pkts_sent,
			 (unsigned long long)pi.pkts_dropped,
			 (unsigned long long)pi.errors,
			 (unsigned long long)(os ? GET(os->datagrams) : 0),
			 (unsigned long long)(os ? GET(os->send_errors) : 0),
			 (unsigned long long)pi.max_insns,
			 (unsigned long long)pi.wcet_insns);
	}
}

/* The end-of-run report: one line per object, stable key=value fields. */
static void print_final(struct node *n)
{
	char line[1024];
	unsigned int i;

	for (i = 0; i < n->cfg.nflows; i++) {
		if (!n->flows[i])
			continue;
		const struct flow_stats *st = flow_stats(n->flows[i]);

		log_info("final: flow %s packets=%llu send_errors=%llu "
			 "skipped=%llu underruns=%llu",
			 flow_config(n->flows[i])->name,
			 (unsigned long long)GET(st->packets),
			 (unsigned long long)GET(st->send_errors),
			 (unsigned long long)GET(st->skipped),
			 (unsigned long long)source_underruns(
			     n->sources[config_find_source(
				 &n->cfg, flow_config(n->flows[i])->source)]));
	}
	for (i = 0; i < n->cfg.nsubs; i++) {
		if (!n->subs[i] && !n->cfg.subs[i].name[0])
			continue; /* deleted through the API */
		if (!n->subs[i]) {
			log_info("final: subscription %s unresolved: stream "
				 "'%s' never found",
				 n->cfg.subs[i].name, n->cfg.sub_stream[i]);
			continue;
		}
		format_sub(n->subs[i], line, sizeof(line));
		log_info("final: %s", line);
	}
	print_final_d4(n);
	alsa_node_report(n->alsa);
	for (i = 0; i < n->nrecs; i++)
		log_info(
		    "final: recording %s frames=%llu overflows=%llu",
		    recorder_path(n->recs[i]),
		    (unsigned long long)recorder_frames_written(n->recs[i]),
		    (unsigned long long)recorder_overflows(n->recs[i]));
}

/* "clock locked gm 00-1D-C1-FF-FE-50-36-33 domain 0 offset 812ns port
 * SLAVE", or "clock free-run". */
static size_t clock_text(struct node *n, char *buf, size_t len)
{
	struct mclock_status cs;
	char id[32];

	mclock_get_status(n->mc, &cs);
	if (cs.state == MCLOCK_FREE_RUN)
		return (size_t)snprintf(buf, len, "clock free-run");
	if (!cs.ptp_reachable)
		return (size_t)snprintf(buf, len, "clock %s ptp4l-silent",
					mclock_state_name(cs.state));
	return (size_t)snprintf(
	    buf, len, "clock %s gm %s%s domain %d offset %lldns port %s",
	    mclock_state_name(cs.state),
	    cs.gm_valid ? ptp_clock_id_str(cs.gm_id, id, sizeof(id)) : "none",
	    cs.is_gm ? " (self)" : "", cs.domain, (long long)cs.offset_ns,
	    ptp_port_state_name((enum ptp_port_state)cs.port_state));
}

/* The --verbose status: one line with the clock, every flow, every
 * subscription (packets, loss, lateness, delay histogram) and recording. */
static void print_status(struct node *n)
{
	struct mclock_status cs;
	char line[4096];
	size_t off;
	unsigned int i, b;

	mclock_get_status(n->mc, &cs);
	off = clock_text(n, line, sizeof(line));
	for (i = 0; i < n->cfg.nflows && off < sizeof(line); i++) {
		if (!n->flows[i])
			continue;
		const struct flow_stats *st = flow_stats(n->flows[i]);

		off +=
		    (size_t)snprintf(line + off, sizeof(line) - off,
				     " | flow %s tx=%llu err=%llu",
				     flow_config(n->flows[i])->name,
				     (unsigned long long)GET(st->packets),
				     (unsigned long long)GET(st->send_errors));
	}
	for (i = 0; i < n->cfg.nsubs && off < sizeof(line); i++) {
		const struct sub_stats *st;

		if (!n->subs[i] && !n->cfg.subs[i].name[0])
			continue;
		if (!n->subs[i]) {
			off += (size_t)snprintf(line + off, sizeof(line) - off,
						" | sub %s unresolved",
						n->cfg.subs[i].name);
			continue;
		}
		st = sub_stats(n->subs[i]);

		off += (size_t)snprintf(
		    line + off, sizeof(line) - off,
		    " | sub %s rx=%llu lost=%llu late=%llu delay_us",
		    sub_config(n->subs[i])->name,
		    (unsigned long long)GET(st->received),
		    (unsigned long long)GET(st->lost),
		    (unsigned long long)GET(st->late));
		for (b = 0; b < SUB_HIST_BUCKETS && off < sizeof(line); b++)
			off += (size_t)snprintf(
			    line + off, sizeof(line) - off, "%s%s%d:%llu",
			    b ? " " : "[",
			    b == 0			? "<"
			    : b == SUB_HIST_BUCKETS - 1 ? ">="
							: "<",
			    b == SUB_HIST_BUCKETS - 1 ? sub_hist_edges_us[b - 1]
						      : sub_hist_edges_us[b],
			    (unsigned long long)GET(st->hist[b]));
		if (off < sizeof(line))
			off += (size_t)snprintf(line + off, sizeof(line) - off,
						"]");
	}
	for (i = 0; i < n->nrecs && off < sizeof(line); i++)
		off += (size_t)snprintf(
		    line + off, sizeof(line) - off, " | rec %s %.1fs",
		    recorder_path(n->recs[i]),
		    (double)recorder_frames_written(n->recs[i]) /
			recorder_rate(n->recs[i]));
	log_info("status: %s", line);
}

/* Counted, rate-limited reports of what the media thread rejected. */
/* Counted, rate-limited reports of what the media thread rejected: one line
 * for everything dropped since the last line printed, so counts held back
 * by the rate limit are carried into the next line, never lost. */
static void report_rejects(struct node *n, bool flush)
{
	static const char *const what[5] = {
	    "not RTP",
	    "with payload type %u (want %u)",
	    "with %u-byte payloads (not whole frames)",
	    "from a source outside the filter",
	    "too far ahead of playout",
	};
	unsigned int i, k, suppressed;

	for (i = 0; i < n->cfg.nsubs; i++) {
		if (!n->subs[i])
			continue; /* a stream not found yet */
		const struct sub_stats *st = sub_stats(n->subs[i]);
		const struct sub_config *sc = sub_config(n->subs[i]);
		struct sub_seen *seen = &n->seen[i];
		uint64_t v[5] = {GET(st->bad_header), GET(st->bad_pt),
				 GET(st->bad_size), GET(st->foreign),
				 GET(st->early)};
		uint64_t *old[5] = {&seen->bad_header, &seen->bad_pt,
				    &seen->bad_size, &seen->foreign,
				    &seen->early};
		bool arrival = GET(st->arrival_timing);
		char msg[512], part[128];
		size_t off = 0;

		if (GET(st->ssrc_changes) != seen->ssrc_changes) {
			seen->ssrc_changes = GET(st->ssrc_changes);
			log_warn("subscription %s: sender changed (SSRC now "
				 "0x%08x); resynchronised",
				 sc->name, (unsigned int)GET(st->ssrc));
		}
		if (arrival != seen->arrival) {
			seen->arrival = arrival;
			if (arrival)
				log_info("subscription %s: stream timestamps "
					 "are not on this node's media clock; "
					 "aligned on arrival",
					 sc->name);
		}
		for (k = 0; k < 5; k++) {
			if (v[k] == *old[k])
				continue;
			/* Only the pt and size kinds take arguments. */
			if (k == 1)
				snprintf(part, sizeof(part), what[k],
					 (unsigned int)GET(st->last_bad_pt),
					 (unsigned int)sc->pt);
			else if (k == 2)
				snprintf(part, sizeof(part), what[k],
					 (unsigned int)GET(st->last_bad_size));
			else
				snprintf(part, sizeof(part), "%s", what[k]);
			off += (size_t)snprintf(
			    msg + off,
			    off < sizeof(msg) ? sizeof(msg) - off : 0,
			    "%s%llu %s", off ? ", " : "",
			    (unsigned long long)(v[k] - *old[k]), part);
		}
		if (off &&
		    (log_ratelimit_ok(&seen->rl, &suppressed) || flush)) {
			log_warn("subscription %s: dropped %s", sc->name, msg);
			for (k = 0; k < 5; k++)
				*old[k] = v[k];
		}
	}
}

static uint64_t mono_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NSEC_PER_SEC + (uint64_t)ts.tv_nsec;
}

static void rewrite_sdps(struct node *n)
{
	unsigned int i;

	for (i = 0; i < n->cfg.nflows; i++)
		node_publish_flow(n, i);
}

/* Poll ptp4l, log what changed, keep SDPs on the live grandmaster. */
static void ptp_tick(struct node *n, uint64_t mono)
{
	struct ptp_sync_events ev;
	struct mclock_status cs;
	char text[256], id[32];
	unsigned int suppressed;

	if (n->ptp4l)
		ptp4l_proc_tick(n->ptp4l, mono);
	if (!n->sync)
		return;
	ptp_sync_tick(n->sync, mono, &ev);
	/* Counts held back by the rate limit go into the next line. */
	n->ptp_rejects += ev.rejected;
	n->ptp_rejects_total += ev.rejected;
	if (ev.rejected)
		snprintf(n->ptp_reject_reason, sizeof(n->ptp_reject_reason),
			 "%s", ev.reject_reason);
	if (n->ptp_rejects && log_ratelimit_ok(&n->ptp_rl, &suppressed)) {
		log_warn("ptp: rejected %u malformed ptp4l repl%s, the latest: "
			 "%s",
			 n->ptp_rejects, n->ptp_rejects == 1 ? "y" : "ies",
			 n->ptp_reject_reason);
		n->ptp_rejects = 0;
	}
	if (ev.reachability_changed) {
		if (ptp_sync_reachable(n->sync))
			log_info("ptp: ptp4l at %s answers",
				 ptp_sync_target(n->sync));
		else
			log_warn("ptp: ptp4l at %s is not answering; "
				 "retrying every 0.5 s",
				 ptp_sync_target(n->sync));
	}
	if (ev.stepped)
		log_info("ptp: media clock stepped by %lld ns",
			 (long long)ev.step_ns);
	if (ev.lock.gm_changed) {
		mclock_get_status(n->mc, &cs);
		log_info("ptp: grandmaster %s (was %s)",
			 ptp_clock_id_str(cs.gm_id, id, sizeof(id)),
			 ptp_clock_id_str(ev.lock.old_gm, text, sizeof(text)));
	}
	if (ev.lock.state_changed) {
		clock_text(n, text, sizeof(text));
		log_info("ptp: %s -> %s", mclock_state_name(ev.lock.old_state),
			 text);
	}
	/* Receivers that check the SDP's grandmaster need it current. */
	if (ev.lock.gm_changed || ev.lock.state_changed)
		rewrite_sdps(n);
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
		a->source_filter.s_addr == b->source_filter.s_addr);
}

/* Subscription @i by stream name, with the stream's SDP @sdp: open it, or
 * move it when the SDP moved the stream (address, port, format). The
 * recordings carry on by position across the move. */
static void apply_stream(struct node *n, unsigned int i, const char *sdp,
			 enum disco_origin origin)
{
	struct node_config *cfg = &n->cfg;
	const char *name = cfg->sub_stream[i];
	struct sub *ns, *old = n->subs[i];
	struct sub_config prev = cfg->subs[i];
	struct sdp_stream st;
	char err[256], addr[32];
	unsigned int supp;
	int rc;

	free(n->sub_sdp[i]);
	n->sub_sdp[i] = strdup(sdp); /* not retried until it changes */
	/* The SDP is any host's: one that changes its lie in every
	 * announcement must not get a line per packet. */
	if (sdp_parse((const uint8_t *)sdp, strlen(sdp), &st, err,
		      sizeof(err)) < 0) {
		if (log_ratelimit_ok(&n->stream_rl, &supp))
			log_err("subscription %s: stream '%s': bad SDP: %s%s",
				cfg->subs[i].name, name, err,
				supp ? " (and earlier ones not logged)" : "");
		return;
	}
	cfg->subs[i] = n->sub_tmpl[i];
	rc = config_sub_apply_sdp(cfg, i, &st, err, sizeof(err));
	if (rc == 0)
		rc = config_check_rx_map(cfg, i, true, err, sizeof(err));
	if (rc < 0) {
		if (log_ratelimit_ok(&n->stream_rl, &supp))
			log_err("subscription %s: stream '%s': %s%s",
				cfg->subs[i].name, name, err,
				supp ? " (and earlier ones not logged)" : "");
		cfg->subs[i] = prev;
		return;
	}
	if (old && same_stream(&prev, &cfg->subs[i]))
		return; /* a new version with nothing we use changed */
	ns = sub_open(&cfg->subs[i], err, sizeof(err));
	if (!ns) {
		if (log_ratelimit_ok(&n->stream_rl, &supp))
			log_err("subscription %s: stream '%s': %s%s",
				cfg->subs[i].name, name, err,
				supp ? " (and earlier ones not logged)" : "");
		cfg->subs[i] = prev;
		return;
	}
	rc = n->sub_recs_open[i] ? node_move_sinks(n, i, ns)
				 : node_open_sinks(n, i, ns, err, sizeof(err));
	if (rc < 0) {
		log_err("subscription %s: sinks: %s", cfg->subs[i].name,
			rc == -ENOSPC ? "too many" : err);
		sub_destroy(ns);
		cfg->subs[i] = prev;
		return;
	}
	media_set_sub(n->media, i, ns);
	n->subs[i] = ns;
	memset(&n->seen[i], 0, offsetof(struct sub_seen, rl));
	net_endpoint_str(&cfg->subs[i].addr, addr, sizeof(addr));
	log_info("subscription %s: stream '%s' (%s) %s %s, %u ch %s/%u, "
		 "%u frames/packet, mediaclk offset %u",
		 cfg->subs[i].name, name, origin == DISCO_SAP ? "SAP" : "RAVENNA",
		 old ? "moved to" : "at", addr, cfg->subs[i].channels,
		 rtp_encoding_name(cfg->subs[i].enc), cfg->subs[i].rate,
		 cfg->subs[i].fpp, cfg->subs[i].mediaclk_offset);
	if (old) {
		char line[1024];

		format_sub(old, line, sizeof(line));
		log_info("subscription %s: before the move: %s",
			 cfg->subs[i].name, line);
		sub_destroy(old);
	}
}

/* Look up every subscription by stream name again: discovery changed. */
void node_resolve_streams(struct node *n)
{
	unsigned int i;

	for (i = 0; i < n->cfg.nsubs; i++) {
		const char *name = n->cfg.sub_stream[i];
		enum disco_origin origin;
		const char *sdp;

		if (!name[0])
			continue;
		sdp = disco_stream_sdp(n->disco, name, &origin);
		if (!sdp) {
			if (n->sub_sdp[i]) {
				log_warn("subscription %s: stream '%s' is no "
					 "longer announced; still listening",
					 n->cfg.subs[i].name, name);
				free(n->sub_sdp[i]);
				n->sub_sdp[i] = NULL;
			}
			continue;
		}
		if (n->sub_sdp[i] && !strcmp(n->sub_sdp[i], sdp))
			continue;
		apply_stream(n, i, sdp, origin);
	}
}

static void on_signal(void *data, int fd, uint32_t events)
{
	struct node *n = data;
	struct signalfd_siginfo si;

	(void)events;
	if (read(fd, &si, sizeof(si)) == sizeof(si))
		log_info("signal %u: stopping", si.ssi_signo);
	loop_quit(n->loop);
}

static void on_ptp(void *data, int fd, uint32_t events)
{
	(void)fd;
	(void)events;
	ptp_tick(data, mono_now());
}

static void on_control(void *data, int fd, uint32_t events)
{
	(void)fd;
	(void)events;
	control_handle(data);
}

/* Every 100 ms: PTP, discovery, counters into log lines, the run limit. */
static void on_tick(void *data)
{
	struct node *n = data;
	uint64_t now = mono_now();
	unsigned long passes;

	n->ticks++;
	ptp_tick(n, now);
	/* systemd's watchdog is fed only while the media thread runs. */
	passes = media_passes(n->media);
	notify_watchdog(&n->notify, now, passes != n->passes_seen);
	n->passes_seen = passes;
	if (media_resyncs(n->media) != n->resyncs_seen) {
		n->resyncs_seen = media_resyncs(n->media);
		log_info("media: flows and subscriptions "
			 "resynchronised to the new timescale");
	}
	if (n->disco && disco_generation(n->disco) != n->disco_gen_seen) {
		n->disco_gen_seen = disco_generation(n->disco);
		node_resolve_streams(n);
	}
	report_rejects(n, false);
	if (n->opts->verbose && n->status_ticks &&
	    n->ticks % n->status_ticks == 0)
		print_status(n);
	if (n->opts->run_seconds > 0 &&
	    (double)(now - n->start_ns) / 1e9 >= n->opts->run_seconds) {
		log_info("ran %.1f s: stopping",
			 (double)(now - n->start_ns) / 1e9);
		loop_quit(n->loop);
	}
}

/* The node's 64-bit id for mDNS: from the MAC of the interface that
 * reaches the SAP group, as PTP builds clock identities (EUI-64). */
static void node_id(char *buf, size_t len, const struct sockaddr_in *via)
{
	struct in_addr a;
	uint8_t m[6];

	net_egress(via, &a, m);
	snprintf(buf, len, "%02x%02x%02xfffe%02x%02x%02x", m[0], m[1], m[2],
		 m[3], m[4], m[5]);
}

static void disco_start(struct node *n)
{
	const struct discovery_config *dc = &n->cfg.disco;
	struct sockaddr_in group = {.sin_family = AF_INET,
				    .sin_port = htons(SAP_DEFAULT_PORT)};
	char id[20];
	struct disco_config c = {
	    .node_name = n->cfg.name,
	    .node_id = id,
	    .ifname = dc->ifname[0] ? dc->ifname : NULL,
	    .sap = dc->sap,
	    .mdns = dc->mdns,
	    .sap_group = dc->sap_group,
	    .sap_interval_ns = dc->sap_interval_ns,
	    .sap_ttl = dc->sap_ttl,
	    .sap_timeout_factor = dc->sap_timeout_factor,
	    .sap_timeout_floor_ns = dc->sap_timeout_floor_ns,
	    .rtsp_port = (uint16_t)dc->rtsp_port,
	    .api_port = n->api ? api_port(n->api) : 0,
	};
	unsigned int i;

	inet_pton(AF_INET, SAP_DEFAULT_GROUP, &group.sin_addr);
	node_id(id, sizeof(id), dc->sap_group.sin_port ? &dc->sap_group
						       : &group);
	for (i = 0; i < n->cfg.nflows; i++)
		c.tx_channels += n->cfg.flows[i].nch;
	for (i = 0; i < n->cfg.nsubs; i++)
		c.rx_channels += n->cfg.subs[i].channels;
	n->disco = disco_new(n->loop, &c);
	if (!n->disco) {
		log_warn("discovery: cannot start; the node runs on without");
		return;
	}
	for (i = 0; i < n->cfg.nflows; i++)
		if (net_is_multicast(&n->cfg.flows[i].dest))
			node_publish_flow(n, i);
	node_resolve_streams(n);
}

/* Start-up is over: sockets, SCHED_FIFO, locked memory and the state
 * directory are in place. The user, capabilities and no_new_privs after
 * it (node/privs.h); a failure stops the node. */
static int drop_privs(struct node *n)
{
	const char *sdps[CONFIG_MAX_FLOWS];
	struct privs_opts o = {
	    .user = n->cfg.user,
	    .state_dir = n->state_dir,
	    .ptp4l = n->ptp4l != NULL,
	    .files = sdps,
	};
	char err[512];
	unsigned int i;

	/* Rewritten when the grandmaster changes. */
	for (i = 0; i < n->cfg.nflows; i++)
		if (n->cfg.flows[i].sdp_path[0])
			sdps[o.nfiles++] = n->cfg.flows[i].sdp_path;
	if (privs_drop(&o, err, sizeof(err)) == 0)
		return 0;
	log_err("privileges: %s; not running with more than configured", err);
	return -EPERM;
}

static int control_loop(struct node *n, const struct node_opts *opts)
{
	sigset_t mask;
	int rc;

	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	n->sig_fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (n->sig_fd < 0) {
		log_err("signalfd: %m");
		return -errno;
	}
	n->opts = opts;
	n->start_ns = mono_now();
	n->status_ticks = n->cfg.status_interval_s * 1000ull / TICK_MS;
	n->sig_io = loop_io_add(n->loop, n->sig_fd, LOOP_IN, on_signal, n);
	if (n->sync)
		n->ptp_io = loop_io_add(n->loop, ptp_sync_fd(n->sync), LOOP_IN,
					on_ptp, n);
	if (n->control_fd >= 0)
		n->ctl_io = loop_io_add(n->loop, n->control_fd, LOOP_IN,
					on_control, n);
	n->tick = loop_timer_new(n->loop, on_tick, n);
	if (!n->sig_io || !n->tick) {
		close(n->sig_fd);
		return -ENOMEM;
	}
	loop_timer_arm(n->tick, TICK_MS * 1000000ull, TICK_MS * 1000000ull);
	node_api_start(n);
	disco_start(n);
	rc = drop_privs(n);
	if (rc < 0) {
		node_api_stop(n);
		goto out_free_tick;
	}
	/* After the drop: a spawned ptp4l starts with what its restarts
	 * will have, and what the state file replays runs as the API's
	 * calls do. */
	ptp_tick(n, n->start_ns);
	node_state_restore(n);
	notify_open(&n->notify);
	notify_send(&n->notify, "READY=1\nSTATUS=%u flow(s), %u subscription(s)",
		    n->cfg.nflows, n->cfg.nsubs);
	rc = loop_run(n->loop);
	node_api_stop(n);
	notify_send(&n->notify, "STOPPING=1");
	notify_close(&n->notify);
out_free_tick:
	loop_timer_free(n->tick);
	loop_io_remove(n->ctl_io);
	loop_io_remove(n->ptp_io);
	loop_io_remove(n->sig_io);
	close(n->sig_fd);
	return rc;
}

int node_run(const struct node_opts *opts)
{
	pthread_attr_t io_attr;
	int rc_io;
	struct node *n = calloc(1, sizeof(*n));
	char err[512];
	sigset_t mask;
	int rc = 1;
	unsigned int i;

	if (!n) {
		log_err("out of memory");
		return 1;
	}
	n->control_fd = -1;
	n->loop = loop_new();
	if (!n->loop) {
		free(n);
		return 1;
	}
	if (config_load(opts->config_path, &n->cfg, err, sizeof(err)) < 0) {
		log_err("%s", err);
		loop_destroy(n->loop);
		free(n);
		return 1;
	}
	n->ptp_rl =
	    (struct log_ratelimit)LOG_RATELIMIT_INIT(10 * NSEC_PER_SEC, 3);
	n->stream_rl =
	    (struct log_ratelimit)LOG_RATELIMIT_INIT(10 * NSEC_PER_SEC, 5);
	for (i = 0; i < CONFIG_MAX_SUBS; i++)
		n->seen[i].rl = (struct log_ratelimit)LOG_RATELIMIT_INIT(
		    5 * NSEC_PER_SEC, 3);
	/* Signals go to the control loop only, never to the media thread. */
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &mask, NULL);
	pthread_mutex_init(&n->io_lock, NULL);
	if (node_build(n) < 0)
		goto out;
	pthread_attr_init(&io_attr);
	/* libsndfile's FLAC decoder wants some stack; 1 MB, not 8 MB
	 * locked by mlockall. */
	pthread_attr_setstacksize(&io_attr, 1024 * 1024);
	rc_io = pthread_create(&n->io_thread, &io_attr, io_main, n);
	pthread_attr_destroy(&io_attr);
	if (rc_io != 0) {
		log_err("pthread_create(file thread) failed");
		goto out;
	}
	n->io_running = true;
	n->control_fd = control_open(n);
	/* Page faults on the media path would be stalls of their own. Not
	 * under AddressSanitizer: its terabytes of shadow would be locked. */
#if D4_ASAN
	log_info("mlockall: skipped in an AddressSanitizer build");
#else
	if (mlockall(MCL_CURRENT | MCL_FUTURE) < 0)
		log_warn("mlockall: %m; the media thread may page-fault");
#endif
	media_set_spin(n->media, n->cfg.spin_us);
	if (media_start(n->media, n->cfg.rt_priority) < 0)
		goto out;
	log_info("node %s running: %u flow(s), %u subscription(s), media "
		 "thread %s",
		 n->cfg.name, n->cfg.nflows, n->cfg.nsubs,
		 media_is_realtime(n->media) ? "SCHED_FIFO" : "not real-time");
	rc = control_loop(n, opts) < 0 ? 1 : 0;
	/* SAP deletions and mDNS withdrawals go out while flows still run. */
	disco_destroy(n->disco);
	n->disco = NULL;
	media_stop(n->media);
	/* Let the file thread write the last frames before the report. */
	atomic_store(&n->io_stop, true);
	pthread_join(n->io_thread, NULL);
	n->io_running = false;
	for (i = 0; i < n->nrecs; i++)
		recorder_io_drain(n->recs[i]);
	report_rejects(n, true); /* nothing held back is left unsaid */
	print_final(n);
out:
	disco_destroy(n->disco);
	node_teardown(n);
	for (i = 0; i < CONFIG_MAX_SUBS; i++)
		free(n->sub_sdp[i]);
	loop_destroy(n->loop);
	pthread_mutex_destroy(&n->io_lock);
	free(n);
	return rc;
}
