/* The node's flows (see tx.h). A flow is built aside — sender opened, its
 * D4 loop compiled and given the flow's socket, stopped — then persisted,
 * then started and put in the media thread's table; a failure on the way
 * removes what was built. */
#include "node/tx.h"
#include "common/log.h"
#include "common/net.h"
#include "discovery/aes67check.h"
#include "discovery/sap.h"
#include "discovery/sdp.h"
#include "node/config.h"
#include "node/disco.h"
#include "node/media.h"
#include "node/relay.h"
#include "node/source.h"
#include "ptp/mclock.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define GET(x) atomic_load_explicit(&(x), memory_order_relaxed)

/* The second leg's way into its loop (the flow's second send step). */
struct tx_port {
	struct relay *relay;
	int handle;
};

/* A count logged as it grows, at most every TX_SKIP_LOG_NS. */
struct tx_count_log {
	uint64_t seen;	 /* logged so far */
	uint64_t log_ns; /* when last logged */
};

struct tx_flow {
	bool used;
	bool dropping; /* being deleted: left out of the state written */
	enum tx_origin origin;
	struct flow_config set;
	struct flow *flow;
	int loop;      /* its D4 loop */
	bool own_loop; /* the default loop (else the INI's "on flow") */
	char list[40]; /* a unicast flow's relay list, else "" */
	/* the second leg (ST 2022-7): its own default loop, -1 without */
	int loop2;
	char list2[40];
	struct tx_port port2;
	unsigned int sdp_version;
	struct tx_count_log skipped; /* packets skipped after a stall */
	/* its loops' datagrams the kernel refused (a full send buffer: the
	 * sending socket is shared, docs/d4.md "On the node"), both legs' */
	struct tx_count_log refused;
	/* the rules its last AES67 check found: a finding is
	 * logged when it appears, and said gone when it goes (a flow that
	 * starts before the clock's lock fails a=ts-refclk until then);
	 * " rule " each, so that one rule is never found inside another */
	char findings[256];
	/* each leg's interface: 1 link, 0 none, -1 not known (no
	 * interface named, or no such interface) */
	signed char link[2];
};

#define TX_MAX_ORPHANS 64

struct tx {
	struct tx_env env;
	struct tx_flow flows[CONFIG_MAX_FLOWS];
	unsigned int nslots;
	struct disco *disco;
	int ifq_fd; /* a datagram socket to ask interfaces' flags */
	/* relay lists of flows deleted since: D4 cannot undeclare them */
	char orphans[TX_MAX_ORPHANS][40];
	unsigned int norphans;
};

void tx_d4_name(char *dst, size_t len, const char *prefix, const char *name,
		const char *suffix)
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

struct tx *tx_new(const struct tx_env *env)
{
	struct tx *tx = calloc(1, sizeof(*tx));

	if (!tx)
		return NULL;
	tx->env = *env;
	tx->ifq_fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	return tx;
}

static int source_index(const struct tx *tx, const char *name)
{
	return config_find_source(tx->env.cfg, name);
}

/* The SDP of flow @f; @bump: with its o= version bumped (Dante Controller
 * wants a new version for every change). Its length or < 0. */
static int flow_sdp(const struct tx *tx, const struct tx_flow *f,
		    unsigned int version, char *buf, size_t buflen,
		    char *session, size_t session_len)
{
	const struct flow_config *fc = &f->set;
	struct sdp_stream st = {0};
	struct mclock_status cs;
	size_t off;
	unsigned int c;
	uint8_t mac[6];
	int len;

	flow_origin(f->flow, &st.origin_addr, mac);
	snprintf(st.origin_user, sizeof(st.origin_user), "-");
	st.session_id = flow_session_id(f->flow) ? flow_session_id(f->flow) : 1;
	st.session_version = version;
	snprintf(st.name, sizeof(st.name), "%s %s", tx->env.node_name,
		 fc->name);
	snprintf(session, session_len, "%s", st.name);
	/* the channels by their TX names where named (PipeWire names its
	 * channels from i=), else by source and number */
	off = (size_t)snprintf(st.info, sizeof(st.info),
			       "%u channels: ", fc->nch);
	for (c = 0; c < fc->nch; c++) {
		const char *cn =
		    tx->env.chan_name
			? tx->env.chan_name(tx->env.chan_ctx,
					    tx_flow_channel(tx, fc, c))
			: NULL;
		char one[96];
		size_t n;

		if (cn)
			n = (size_t)snprintf(one, sizeof(one), "%s%s",
					     c ? ", " : "", cn);
		else
			n = (size_t)snprintf(one, sizeof(one), "%s%s %u",
					     c ? ", " : "", fc->source,
					     fc->chans[c] + 1u);
		/* whole names only (UTF-8 is not cut), "..." for the rest */
		if (n >= sizeof(one) || off + n + 4 >= sizeof(st.info)) {
			snprintf(st.info + off, sizeof(st.info) - off, "...");
			break;
		}
		memcpy(st.info + off, one, n + 1);
		off += n;
	}
	st.addr = fc->dest.sin_addr;
	st.port = ntohs(fc->dest.sin_port);
	st.ttl = net_is_multicast(&fc->dest) ? (int)fc->ttl : -1;
	st.payload_type = fc->pt;
	snprintf(st.encoding, sizeof(st.encoding), "%s",
		 rtp_encoding_name(fc->enc));
	st.rate = fc->rate;
	st.channels = fc->nch;
	st.ptime_us = fc->ptime_us;
	st.framecount = fc->fpp;
	mclock_get_status(tx->env.mc, &cs);
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
	if (flow_config_has_leg2(fc)) {
		/* ST 2022-7 (RFC 7104): two media sections grouped as DUP;
		 * a receiver that knows only one takes the first */
		snprintf(st.mid, sizeof(st.mid), "primary");
		st.dup.present = true;
		snprintf(st.dup.mid, sizeof(st.dup.mid), "secondary");
		st.dup.addr = fc->dest2.sin_addr;
		st.dup.port = ntohs(fc->dest2.sin_port);
		st.dup.ttl = net_is_multicast(&fc->dest2) ? (int)fc->ttl : -1;
		if (net_is_multicast(&fc->dest2)) {
			st.dup.has_source_filter = true;
			flow_origin2(f->flow, &st.dup.source_filter);
		}
	}
	snprintf(st.direction, sizeof(st.direction), "recvonly");
	len = sdp_write(&st, buf, buflen);
	if (len < 0)
		log_err("flow %s: SDP does not fit", fc->name);
	return len;
}

/* Write flow @f's SDP file and announce it (multicast flows: SAP,
 * RAVENNA), with a new o= version. */
static int publish(struct tx *tx, struct tx_flow *f)
{
	const struct flow_config *fc = &f->set;
	char buf[SAP_SDP_MAX], session[SDP_NAME_MAX];
	FILE *out;
	int len;

	len = flow_sdp(tx, f, ++f->sdp_version, buf, sizeof(buf), session,
		       sizeof(session));
	if (len < 0)
		return len;
	if (tx->disco && net_is_multicast(&fc->dest))
		disco_flow_set(tx->disco, (unsigned int)(f - tx->flows),
			       session, buf);
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

static void check_flow(const struct tx *tx, struct tx_flow *f);

void tx_publish_all(struct tx *tx)
{
	unsigned int i;

	for (i = 0; i < tx->nslots; i++)
		if (tx->flows[i].used) {
			publish(tx, &tx->flows[i]);
			check_flow(tx, &tx->flows[i]);
		}
}

void tx_set_disco(struct tx *tx, struct disco *d)
{
	unsigned int i;

	tx->disco = d;
	for (i = 0; d && i < tx->nslots; i++)
		if (tx->flows[i].used &&
		    net_is_multicast(&tx->flows[i].set.dest))
			publish(tx, &tx->flows[i]);
}

/* A multicast flow against Dante's AES67 mode, AES67 and ST 2110-30
 * (discovery/aes67check.h, as `d4ctl check` does), when it starts and at
 * every change of the clock's state: what would be refused is logged
 * when it appears, and said gone when it goes. */
static void check_flow(const struct tx *tx, struct tx_flow *f)
{
	char buf[SAP_SDP_MAX], session[SDP_NAME_MAX], now[sizeof(f->findings)];
	char key[AES67CHECK_RULE_MAX + 3];
	struct aes67check_finding out[32];
	struct aes67check_live live = {0};
	struct mclock_status cs;
	struct sdp_stream st;
	size_t i, n;
	int len;

	if (!net_is_multicast(&f->set.dest))
		return; /* Dante takes AES67 multicast only */
	/* Before ptp4l answered, the SDP's clock is this host's: its
	 * finding would be gone half a second later (checked again then) */
	if (!mclock_timescale_known(tx->env.mc))
		return;
	len = flow_sdp(tx, f, f->sdp_version, buf, sizeof(buf), session,
		       sizeof(session));
	if (len < 0 ||
	    sdp_parse((const uint8_t *)buf, (size_t)len, &st, NULL, 0) < 0)
		return;
	mclock_get_status(tx->env.mc, &cs);
	if (cs.gm_valid) {
		live.has_gm = true;
		memcpy(live.gm_id, cs.gm_id, 8);
		live.domain = cs.domain;
	}
	n = aes67check_run(&st, (const uint8_t *)buf, (size_t)len, &live, out,
			   32);
	now[0] = '\0';
	for (i = 0; i < n && i < 32; i++) {
		if (out[i].severity == AES67CHECK_INFO)
			continue;
		snprintf(key, sizeof(key), " %.*s ",
			 (int)sizeof(out[i].rule) - 1, out[i].rule);
		if (strlen(now) + strlen(key) < sizeof(now))
			strcat(now, key);
		if (strstr(f->findings, key))
			continue;
		/* a node without PTP (no [ptp]) has no PTP clock to name:
		 * expected, not trouble (a new user read "warning ... error"
		 * for the free-running nodes the docs set up) */
		if (cs.state == MCLOCK_FREE_RUN &&
		    !strcmp(out[i].rule, "aes67.ts-refclk"))
			log_info("flow %s: AES67 receivers want a PTP "
				 "clock, and this node runs without PTP (give "
				 "it a [ptp] section): %s: %s",
				 f->set.name, out[i].rule, out[i].msg);
		else
			log_warn("flow %s: %s %s: %s", f->set.name,
				 aes67check_severity_name(out[i].severity),
				 out[i].rule, out[i].msg);
	}
	/* each finding that went, by name (another may stay) */
	for (const char *p = f->findings + strspn(f->findings, " "); *p;
	     p += strspn(p, " ")) {
		size_t rl = strcspn(p, " ");

		snprintf(key, sizeof(key), " %.*s ", (int)rl, p);
		if (!strstr(now, key))
			log_info("flow %s: %.*s no longer found by the AES67 "
				 "check%s",
				 f->set.name, (int)rl, p,
				 now[0] ? "" : " (it finds nothing now)");
		p += rl;
	}
	memcpy(f->findings, now, sizeof(now));
}

/* The loop of the INI's [d4] bound "on flow NAME", or -1. */
static int bound_loop(struct tx *tx, const char *name)
{
	struct d4_runtime *rt = relay_runtime(tx->env.relay);
	int handles[D4_MAX_PROGRAMS], nh, h;

	nh = d4_program_list(rt, handles, D4_MAX_PROGRAMS);
	for (h = 0; h < nh; h++) {
		struct d4_program_info info;

		if (d4_program_info(rt, handles[h], &info) == 0 &&
		    info.bind_kind == D4_BIND_FLOW &&
		    !strcmp(info.bind_flow, name))
			return handles[h];
	}
	return -1;
}

static void forget_orphan(struct tx *tx, const char *list)
{
	unsigned int i;

	for (i = 0; i < tx->norphans; i++)
		if (!strcmp(tx->orphans[i], list)) {
			memmove(tx->orphans[i], tx->orphans[i + 1],
				(tx->norphans - i - 1) *
				    sizeof(tx->orphans[0]));
			tx->norphans--;
			return;
		}
}

/* The names of leg @leg's default loop and relay list of flow @name:
 * flow_NAME and _NAME_receivers, flow2_NAME and _NAME_receivers2 (no
 * first leg's name is a second leg's: flow "a-2"'s loop is flow_a_2). */
static void leg_names(const char *name, unsigned int leg, char loop[40],
		      char list[40])
{
	tx_d4_name(loop, 40, leg ? "flow2_" : "flow_", name, "");
	tx_d4_name(list, 40, "_", name, leg ? "_receivers2" : "_receivers");
}

/* A flow's default loop for leg @leg (stopped): a multicast leg sends to
 * its group, a unicast leg is the seed's relay over the list
 * _<flow>_receivers (the second leg's: _<flow>_receivers2), which starts
 * with the leg's destination (routing another receiver to it is
 * "_<flow>_receivers += host:port"). Its handle or -errno. */
static int default_loop(struct tx *tx, struct tx_flow *f, unsigned int leg,
			char *err, size_t err_len)
{
	const struct flow_config *fc = &f->set;
	const struct sockaddr_in *to = leg ? &fc->dest2 : &fc->dest;
	struct d4_runtime *rt = relay_runtime(tx->env.relay);
	char loop[40], list[40], other[40], olist[40], dest[32], text[512],
	    msg[256];
	char *mine = leg ? f->list2 : f->list;
	bool unicast = !net_is_multicast(to);
	unsigned int i, l;
	int handle = -1, rc;

	leg_names(fc->name, leg, loop, list);
	if (unicast)
		snprintf(mine, 40, "%s", list);
	/* Names that differ only in what D4 names cannot hold ("a-b",
	 * "a.b"; past 26 or 20 characters) would share a loop or a relay
	 * list with a flow that runs: refused, not taken over. */
	for (i = 0; i < tx->nslots; i++) {
		const struct tx_flow *o = &tx->flows[i];

		if (!o->used)
			continue;
		for (l = 0; l < (flow_config_has_leg2(&o->set) ? 2u : 1u);
		     l++) {
			if (o == f && l == leg)
				continue;
			leg_names(o->set.name, l, other, olist);
			if (!strcmp(other, loop)) {
				snprintf(err, err_len,
					 "flow %s has the D4 loop name %s "
					 "already",
					 o->set.name, loop);
				return -EEXIST;
			}
			if (unicast && !strcmp(l ? o->list2 : o->list, mine)) {
				snprintf(err, err_len,
					 "flow %s has the D4 relay list %s "
					 "already",
					 o->set.name, mine);
				return -EEXIST;
			}
		}
	}
	net_endpoint_str(to, dest, sizeof(dest));
	if (!unicast) {
		snprintf(text, sizeof(text),
			 "loop %s {\npkt = recv()\nsendto(pkt, %s)\n}\n", loop,
			 dest);
	} else {
		/* A flow of this name deleted earlier left its list (D4 has
		 * no undeclare): it starts over with this receiver. List and
		 * loop in one d4_exec: all or nothing. */
		if (d4_var_format(rt, mine, text, 1) == -ENOENT)
			snprintf(text, sizeof(text), "IP[] %s\n%s += %s\n",
				 mine, mine, dest);
		else
			snprintf(text, sizeof(text), "%s = [%s]\n", mine, dest);
		snprintf(text + strlen(text), sizeof(text) - strlen(text),
			 "loop %s {\npkt = recv()\nfor ip in %s:\n"
			 "sendto(pkt, ip)\nendfor\n}\n",
			 loop, mine);
	}
	rc = d4_exec(rt, text, strlen(text), &handle, msg, sizeof(msg));
	if (rc < 0) {
		/* a D4 variable of the user's by the list's name, say */
		snprintf(err, err_len, "its %sD4 loop: %s",
			 leg ? "second leg's " : "", msg);
		return rc == -ENOSPC ? rc : -EBUSY;
	}
	return handle;
}

/* The second leg's packet through its loop. RT. */
static int send_leg2(void *ctx, uint8_t *pkt, size_t len)
{
	struct tx_port *p = ctx;

	return relay_run(p->relay, p->handle, pkt, len, NULL);
}

/* Build the second leg's loop and hand the flow its send step. */
static int attach_leg2(struct tx *tx, struct tx_flow *f, char *err,
		       size_t err_len)
{
	int rc;

	f->loop2 = default_loop(tx, f, 1, err, err_len);
	if (f->loop2 < 0) {
		rc = f->loop2;
		f->loop2 = -1;
		return rc;
	}
	rc = relay_attach_output(tx->env.relay, f->loop2, flow_fd2(f->flow),
				 NULL);
	if (rc < 0) {
		snprintf(err, err_len, "its second leg's D4 output: %s",
			 strerror(-rc));
		return rc;
	}
	f->port2 = (struct tx_port){tx->env.relay, f->loop2};
	flow_set_sender2(f->flow, send_leg2, &f->port2);
	return 0;
}

static void clear_flow(struct tx *tx, struct tx_flow *f, bool running)
{
	struct d4_runtime *rt = relay_runtime(tx->env.relay);
	unsigned int slot = (unsigned int)(f - tx->flows);

	if (running) {
		/* Out of the media thread's table first: after this,
		 * nothing runs the flow or its loop. */
		media_set_flow(tx->env.media, slot, NULL);
		if (tx->disco)
			disco_flow_remove(tx->disco, slot);
	}
	if (f->loop >= 0) {
		d4_stop(rt, f->loop);
		relay_detach(tx->env.relay, f->loop);
		if (f->own_loop)
			d4_remove(rt, f->loop);
	}
	if (f->loop2 >= 0) {
		d4_stop(rt, f->loop2);
		relay_detach(tx->env.relay, f->loop2);
		d4_remove(rt, f->loop2);
	}
	flow_destroy(f->flow);
	memset(f, 0, sizeof(*f));
	while (tx->nslots && !tx->flows[tx->nslots - 1].used)
		tx->nslots--;
}

int tx_flow_create(struct tx *tx, const struct flow_config *fc,
		   enum tx_origin origin, char *err, size_t err_len)
{
	struct tx_flow *f;
	struct source *src;
	unsigned int slot, c;
	bool orphaned, orphaned2;
	int si, rc;

	if (tx_flow_find(tx, fc->name) >= 0) {
		snprintf(err, err_len, "flow '%s' exists already", fc->name);
		return -EEXIST;
	}
	si = source_index(tx, fc->source);
	if (si < 0) {
		snprintf(err, err_len, "'source': no source '%s' on this node",
			 fc->source);
		return -EINVAL;
	}
	for (slot = 0; slot < CONFIG_MAX_FLOWS && tx->flows[slot].used; slot++)
		;
	if (slot == CONFIG_MAX_FLOWS) {
		snprintf(err, err_len,
			 "this node has %d flows, the most it "
			 "takes",
			 CONFIG_MAX_FLOWS);
		return -ENOSPC;
	}
	src = tx->env.sources[si];
	f = &tx->flows[slot];
	memset(f, 0, sizeof(*f));
	f->set = *fc;
	f->origin = origin;
	f->loop = -1;
	f->loop2 = -1;
	if (!f->set.nch) {
		f->set.nch = source_channels(src);
		for (c = 0; c < f->set.nch; c++)
			f->set.chans[c] = (uint8_t)c;
	}
	errno = EINVAL;
	f->flow = flow_open(&f->set, src, err, err_len);
	if (!f->flow) /* out of descriptors: the request was fine (503) */
		return net_resource_error(-errno) ? -errno : -EINVAL;
	f->set.fpp = flow_config(f->flow)->fpp;
	f->used = true;
	f->link[0] = f->link[1] = -1; /* not known yet */
	if (slot >= tx->nslots)
		tx->nslots = slot + 1;
	f->loop = bound_loop(tx, f->set.name);
	if (f->loop < 0) {
		f->own_loop = true;
		f->loop = default_loop(tx, f, 0, err, err_len);
		if (f->loop < 0) {
			rc = f->loop;
			f->loop = -1;
			clear_flow(tx, f, false);
			return rc;
		}
	}
	rc = relay_attach_flow(tx->env.relay, f->loop, f->flow);
	if (rc < 0) {
		snprintf(err, err_len, "its D4 output: %s", strerror(-rc));
		clear_flow(tx, f, false);
		return rc;
	}
	if (flow_config_has_leg2(&f->set)) {
		rc = attach_leg2(tx, f, err, err_len);
		if (rc < 0) {
			clear_flow(tx, f, false);
			return rc;
		}
	}
	orphaned = f->list[0] && tx_list_orphaned(tx, f->list);
	if (orphaned)
		forget_orphan(tx, f->list);
	orphaned2 = f->list2[0] && tx_list_orphaned(tx, f->list2);
	if (orphaned2)
		forget_orphan(tx, f->list2);
	rc = tx->env.persist ? tx->env.persist(tx->env.persist_ctx) : 0;
	if (rc < 0) {
		if (orphaned && tx->norphans < TX_MAX_ORPHANS)
			memcpy(tx->orphans[tx->norphans++], f->list,
			       sizeof(tx->orphans[0]));
		if (orphaned2 && tx->norphans < TX_MAX_ORPHANS)
			memcpy(tx->orphans[tx->norphans++], f->list2,
			       sizeof(tx->orphans[0]));
		snprintf(err, err_len, "not saved: %s", strerror(-rc));
		clear_flow(tx, f, false);
		return -EIO;
	}
	d4_start(relay_runtime(tx->env.relay), f->loop);
	if (f->loop2 >= 0)
		d4_start(relay_runtime(tx->env.relay), f->loop2);
	media_set_flow(tx->env.media, slot, f->flow);
	publish(tx, f);
	check_flow(tx, f);
	return (int)slot;
}

int tx_flow_delete(struct tx *tx, unsigned int slot, char *err, size_t err_len)
{
	struct tx_flow *f = &tx->flows[slot];
	char list[40], list2[40];
	int rc;

	if (f->origin == TX_CONFIG) {
		snprintf(err, err_len, "flow '%s' comes from the config file",
			 f->set.name);
		return -EPERM;
	}
	snprintf(list, sizeof(list), "%s", f->list);
	snprintf(list2, sizeof(list2), "%s", f->list2);
	f->dropping = true;
	if (list[0] && tx->norphans < TX_MAX_ORPHANS)
		snprintf(tx->orphans[tx->norphans++], sizeof(tx->orphans[0]),
			 "%s", list);
	if (list2[0] && tx->norphans < TX_MAX_ORPHANS)
		snprintf(tx->orphans[tx->norphans++], sizeof(tx->orphans[0]),
			 "%s", list2);
	rc = tx->env.persist ? tx->env.persist(tx->env.persist_ctx) : 0;
	f->dropping = false;
	if (rc < 0) {
		if (list[0])
			forget_orphan(tx, list);
		if (list2[0])
			forget_orphan(tx, list2);
		snprintf(err, err_len, "not saved: %s", strerror(-rc));
		return -EIO;
	}
	clear_flow(tx, f, true);
	return 0;
}

void tx_destroy(struct tx *tx)
{
	unsigned int i;

	if (!tx)
		return;
	for (i = 0; i < tx->nslots; i++)
		if (tx->flows[i].used)
			clear_flow(tx, &tx->flows[i], false);
	if (tx->ifq_fd >= 0)
		close(tx->ifq_fd);
	free(tx);
}

int tx_flow_find(const struct tx *tx, const char *name)
{
	unsigned int i;

	for (i = 0; i < tx->nslots; i++)
		if (tx->flows[i].used && !strcmp(tx->flows[i].set.name, name))
			return (int)i;
	return -1;
}

unsigned int tx_slots(const struct tx *tx)
{
	return tx->nslots;
}

bool tx_flow_exists(const struct tx *tx, unsigned int slot)
{
	return slot < tx->nslots && tx->flows[slot].used &&
	       !tx->flows[slot].dropping;
}

enum tx_origin tx_flow_origin(const struct tx *tx, unsigned int slot)
{
	return tx->flows[slot].origin;
}

const struct flow_config *tx_flow_settings(const struct tx *tx,
					   unsigned int slot)
{
	return &tx->flows[slot].set;
}

const struct flow *tx_flow_sender(const struct tx *tx, unsigned int slot)
{
	return tx->flows[slot].flow;
}

int tx_flow_sdp(const struct tx *tx, unsigned int slot, char *buf, size_t len,
		char *session, size_t session_len)
{
	const struct tx_flow *f = &tx->flows[slot];

	return flow_sdp(tx, f, f->sdp_version, buf, len, session, session_len);
}

const char *tx_flow_list(const struct tx *tx, unsigned int slot)
{
	return tx->flows[slot].list;
}

const char *tx_flow_list2(const struct tx *tx, unsigned int slot)
{
	return tx->flows[slot].list2;
}

bool tx_list_orphaned(const struct tx *tx, const char *name)
{
	unsigned int i;

	for (i = 0; i < tx->norphans; i++)
		if (!strcmp(tx->orphans[i], name))
			return true;
	return false;
}

unsigned int tx_flow_channel(const struct tx *tx, const struct flow_config *fc,
			     unsigned int c)
{
	const struct node_config *cfg = tx->env.cfg;
	unsigned int i, off = 0;

	for (i = 0; i < cfg->nsources; i++) {
		if (!strcmp(cfg->sources[i].name, fc->source))
			return off + fc->chans[c];
		off += source_channels(tx->env.sources[i]);
	}
	return fc->chans[c];
}

unsigned int tx_channels(const struct tx *tx)
{
	const struct node_config *cfg = tx->env.cfg;
	unsigned int i, c = 0;

	for (i = 0; i < cfg->nsources; i++)
		c += source_channels(tx->env.sources[i]);
	return c;
}

size_t tx_status(const struct tx *tx, char *buf, size_t len, size_t off)
{
	unsigned int i;

	for (i = 0; i < tx->nslots && off < len; i++) {
		const struct flow_stats *st;

		if (!tx->flows[i].used)
			continue;
		st = flow_stats(tx->flows[i].flow);
		off += (size_t)snprintf(
		    buf + off, len - off, " | flow %s tx=%llu err=%llu",
		    tx->flows[i].set.name, (unsigned long long)GET(st->packets),
		    (unsigned long long)GET(st->send_errors));
		if (off < len && tx->flows[i].loop2 >= 0)
			off += (size_t)snprintf(
			    buf + off, len - off, " tx2=%llu err2=%llu",
			    (unsigned long long)GET(st->packets2),
			    (unsigned long long)GET(st->send_errors2));
	}
	return off;
}

/* Packets a flow skipped (its media thread fell more than the largest
 * latency behind) said while the node runs, not only at its end: at most
 * once every TX_SKIP_LOG_NS per flow, with how many since the last line. */
#define TX_SKIP_LOG_NS (10 * 1000000000ull)

/* Each leg's link, said when it goes and when it comes back: a sender
 * whose cable is out still "sends" (the kernel takes its packets), and
 * its counters would not tell. */
static void watch_links(struct tx *tx, struct tx_flow *f)
{
	unsigned int l, legs = flow_config_has_leg2(&f->set) ? 2 : 1;

	for (l = 0; l < legs && tx->ifq_fd >= 0; l++) {
		const char *ifname = l ? f->set.ifname2 : f->set.ifname;
		int now = ifname[0] ? net_iface_link(tx->ifq_fd, ifname) : -1;

		if (now < 0)
			now = -1;
		if (now == f->link[l])
			continue;
		if (now == 0)
			log_warn("flow %s: %s%s has no link: what it sends "
				 "there goes nowhere",
				 f->set.name,
				 legs == 2 ? (l ? "leg B, " : "leg A, ") : "",
				 ifname);
		else if (now == 1 && f->link[l] == 0)
			log_info("flow %s: %s%s has its link back", f->set.name,
				 legs == 2 ? (l ? "leg B, " : "leg A, ") : "",
				 ifname);
		f->link[l] = (signed char)now;
	}
}

int tx_flow_link(const struct tx *tx, unsigned int slot, unsigned int leg)
{
	if (slot >= tx->nslots || !tx->flows[slot].used || leg > 1)
		return -1;
	return tx->flows[slot].link[leg];
}

/* How much @c grew to @now since it was last logged, where a line is due
 * (0: none); then logged as of @mono_ns. */
static uint64_t count_due(struct tx_count_log *c, uint64_t now,
			  uint64_t mono_ns)
{
	uint64_t grew;

	if (now < c->seen)
		c->seen = now; /* made anew in place */
	if (now == c->seen ||
	    (c->log_ns && mono_ns - c->log_ns < TX_SKIP_LOG_NS))
		return 0;
	grew = now - c->seen;
	c->seen = now;
	c->log_ns = mono_ns;
	return grew;
}

/* Datagrams of @f's loops the kernel refused (the media thread does not
 * log; the counts are its loops'). */
static void refused_log(struct tx *tx, struct tx_flow *f, uint64_t mono_ns)
{
	int loops[2] = {f->loop, f->loop2};
	uint64_t now = 0, grew;
	unsigned int l;

	for (l = 0; l < 2; l++) {
		const struct relay_out_stats *os =
		    loops[l] >= 0 ? relay_stats(tx->env.relay, loops[l]) : NULL;

		now += os ? GET(os->send_errors) : 0;
	}
	grew = count_due(&f->refused, now, mono_ns);
	if (grew)
		log_warn("flow %s: the kernel refused %llu packet(s) (%llu in "
			 "all): a send buffer full after a stall, or a "
			 "receiver it cannot reach; per loop: d4ctl programs, "
			 "SEND_ERRORS",
			 f->set.name, (unsigned long long)grew,
			 (unsigned long long)now);
}

void tx_tick(struct tx *tx, uint64_t mono_ns)
{
	unsigned int i;

	for (i = 0; i < tx->nslots; i++) {
		struct tx_flow *f = &tx->flows[i];
		uint64_t now, grew;

		if (!f->used)
			continue;
		watch_links(tx, f);
		refused_log(tx, f, mono_ns);
		now = GET(flow_stats(f->flow)->skipped);
		grew = count_due(&f->skipped, now, mono_ns);
		if (grew)
			log_warn("flow %s: skipped %llu packet(s) (%llu in all): "
				 "the media thread was held up longer than a "
				 "receiver's largest latency; receivers hear a "
				 "gap",
				 f->set.name, (unsigned long long)grew,
				 (unsigned long long)now);
	}
}

void tx_final(const struct tx *tx)
{
	unsigned int i;

	for (i = 0; i < tx->nslots; i++) {
		const struct tx_flow *f = &tx->flows[i];
		const struct flow_stats *st;
		char leg2[96] = "";

		if (!f->used)
			continue;
		st = flow_stats(f->flow);
		if (f->loop2 >= 0)
			snprintf(leg2, sizeof(leg2),
				 " packets2=%llu send_errors2=%llu",
				 (unsigned long long)GET(st->packets2),
				 (unsigned long long)GET(st->send_errors2));
		log_info("final: flow %s packets=%llu send_errors=%llu "
			 "skipped=%llu late_max_us=%llu underruns=%llu%s",
			 f->set.name, (unsigned long long)GET(st->packets),
			 (unsigned long long)GET(st->send_errors),
			 (unsigned long long)GET(st->skipped),
			 (unsigned long long)(GET(st->send_late_max_ns) / 1000),
			 (unsigned long long)source_underruns(
			     tx->env.sources[source_index(tx, f->set.source)]),
			 leg2);
	}
}
