/* Node assembly and the control loop. node_run() builds the parts from
 * the INI file — media clock, sources, D4 runtime, media thread, file
 * thread, the flows (tx.c) and subscriptions (rx.c) — starts the threads,
 * then runs one control loop: signals, PTP, discovery, the API, the state
 * file, status lines and the final report. */
#include "node/node.h"
#include "common/log.h"
#include "common/loop.h"
#include "common/mem.h"
#include "common/net.h"
#include "discovery/sap.h"
#include "node/api.h"
#include "node/config.h"
#include "node/disco.h"
#include "node/files.h"
#include "node/media.h"
#include "node/nmos.h"
#include "node/notify.h"
#include "node/privs.h"
#include "node/recorder.h"
#include "node/relay.h"
#include "node/settings.h"
#include "node/rx.h"
#include "node/rxshare.h"
#include "node/source.h"
#include "node/tx.h"
#include "ptp/mclock.h"
#include "ptp/mgmt.h"
#include "ptp/supervise.h"
#include "ptp/sync.h"
#include "d4/kernel.h"

#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "node/node_priv.h"

#define TICK_MS 100

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

static uint64_t mono_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NSEC_PER_SEC + (uint64_t)ts.tv_nsec;
}

void node_channels_changed(struct node *n)
{
	if (n->disco)
		disco_set_channels(n->disco, tx_channels(n->tx),
				   rx_stream_channels(n->rx));
}

void node_set_name(struct node *n, const char *name, bool restored)
{
	if (!strcmp(n->cfg->name, name))
		return;
	/* a restart reads its saved name: not a rename happening now */
	if (restored)
		log_info("node: called '%s', its saved name (the config says "
			 "'%s': a rename through the API is kept)",
			 name, n->cfg->name);
	else
		log_info("node: '%s' is now called '%s'", n->cfg->name, name);
	snprintf(n->cfg->name, sizeof(n->cfg->name), "%s", name);
	if (n->disco)
		disco_set_name(n->disco, name);
	/* Stream names are "NODE FLOW": SDP files and announcements anew. */
	tx_publish_all(n->tx);
}

/* ---- reports ---- */

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
	/* ptp4l with free_running 1 (clock = follow) only measures and
	 * never calls its port calibrated: said, as "locked ... port
	 * UNCALIBRATED" read as a contradiction to a new user */
	return (size_t)snprintf(
	    buf, len, "clock %s gm %s%s domain %d offset %lldns port %s%s",
	    mclock_state_name(cs.state),
	    cs.gm_valid ? ptp_clock_id_str(cs.gm_id, id, sizeof(id)) : "none",
	    cs.is_gm ? " (self)" : "", cs.domain, (long long)cs.offset_ns,
	    ptp_port_state_name((enum ptp_port_state)cs.port_state),
	    cs.port_state == PTP_PS_UNCALIBRATED &&
		    mclock_mode(n->mc) == MCLOCK_MODE_FOLLOW
		? " (ptp4l measures only; this node follows it)"
		: "");
}

/* The --verbose status: one line with the clock, every flow, every
 * subscription (packets, loss, lateness, delay histogram) and recording. */
static void print_status(struct node *n)
{
	char line[4096];
	size_t off;
	unsigned int i;

	off = clock_text(n, line, sizeof(line));
	off = tx_status(n->tx, line, sizeof(line), off);
	off = rx_status(n->rx, line, sizeof(line), off);
	for (i = 0; i < files_recorders(n->files) && off < sizeof(line); i++) {
		struct recorder *rec = files_recorder_at(n->files, i);

		off += (size_t)snprintf(line + off, sizeof(line) - off,
					" | rec %s %.1fs", recorder_path(rec),
					(double)recorder_frames_written(rec) /
					    recorder_rate(rec));
	}
	log_info("status: %s", line);
}

#if !D4_ASAN
/* What the real-time threads run or read besides their buffers: the
 * node itself (the D4 VM, packing, meters), libc and libm (a tone's
 * sin()). Whole, not on first touch (common/mem.h). libsamplerate (its
 * filter tables, 1.4 MB) and libasound with its plugins (1 MB) are held
 * by what uses them, when it is made: a converter (node/arrival.c), a
 * sound card (node/alsa.c). */
static void hold_libraries(void)
{
	static const char *const rt_libs[] = {"libc.so", "libm.so", NULL};
	long held = mem_hold_libraries(rt_libs);

	if (held < 0)
		log_warn("mlock of the real-time threads' libraries: %s; "
			 "their first use may page-fault",
			 strerror((int)-held));
}
#endif

/* The media pass's end: the flows' packets out together. RT. */
static void flush_flows(void *relay)
{
	relay_flush_flows(relay);
}

/* The end-of-run report: one line per object, stable key=value fields. */
static void print_final(struct node *n)
{
	struct d4_runtime *rt = relay_runtime(n->relay);
	int handles[D4_MAX_PROGRAMS], nh, i;
	unsigned int k;

	tx_final(n->tx);
	rx_final(n->rx);
	if (n->media) {
		unsigned int socks, users;
		char each[256];

		/* as they are now, at the end (a D4 loop that took unicast
		 * on a port moved its groups to sockets of their own) */
		rxshare_count(n->media, &socks, &users, each, sizeof(each));
		log_info("final: receive shared_sockets=%u "
			 "shared_subscriptions=%u per_socket=%s unclaimed=%llu",
			 socks, users, socks ? each : "-",
			 media_rx_unclaimed(n->media));
	}
	nh = d4_program_list(rt, handles, D4_MAX_PROGRAMS);
	for (i = 0; i < nh; i++) {
		const struct relay_out_stats *os =
		    relay_stats(n->relay, handles[i]);
		struct d4_kern_stats ks = {0};
		struct d4_program_info pi, vm;

		if (relay_program_info(n->relay, handles[i], &pi) < 0)
			continue;
		relay_kern_stats(n->relay, handles[i], &ks);
		d4_program_info(rt, handles[i], &vm); /* the VM's share */
		log_info("final: d4 %s backend=%s in=%llu sent=%llu "
			 "dropped=%llu errors=%llu budget_drops=%llu "
			 "datagrams=%llu send_errors=%llu too_big=%llu "
			 "max_insns=%llu "
			 "wcet=%llu max_sends=%llu kernel_in=%llu "
			 "kernel_sent=%llu vm_sent=%llu passed=%llu "
			 "no_neigh=%llu send_fail=%llu",
			 pi.name, pi.backend, (unsigned long long)pi.pkts_in,
			 (unsigned long long)pi.pkts_sent,
			 (unsigned long long)pi.pkts_dropped,
			 (unsigned long long)pi.errors,
			 (unsigned long long)pi.budget_drops,
			 /* both back ends' datagrams: the VM's sends and
			  * the kernel's copies */
			 (unsigned long long)((os ? GET(os->datagrams) : 0) +
					      ks.sent),
			 /* both back ends' refusals, as GET /d4/programs */
			 (unsigned long long)((os ? GET(os->send_errors) : 0) +
					      ks.send_fail),
			 (unsigned long long)(os ? GET(os->too_big) : 0),
			 (unsigned long long)pi.max_insns,
			 (unsigned long long)pi.wcet_insns,
			 (unsigned long long)pi.max_sends,
			 (unsigned long long)ks.in, (unsigned long long)ks.sent,
			 (unsigned long long)vm.pkts_sent,
			 (unsigned long long)ks.passed,
			 (unsigned long long)ks.no_neigh,
			 (unsigned long long)ks.send_fail);
	}
	for (k = 0; k < n->cfg->nsources; k++) {
		struct alsa_stats as;

		if (!source_alsa(n->sources[k]))
			continue;
		alsa_cap_report(
		    source_alsa(n->sources[k])); /* the last tick's */
		alsa_cap_stats(source_alsa(n->sources[k]), &as);
		alsa_log_stats(&as);
	}
	for (k = 0; k < files_recorders(n->files); k++) {
		struct recorder *rec = files_recorder_at(n->files, k);

		log_info("final: recording %s frames=%llu overflows=%llu",
			 recorder_path(rec),
			 (unsigned long long)recorder_frames_written(rec),
			 (unsigned long long)recorder_overflows(rec));
	}
}

/* ---- the control loop ---- */

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
	if (ev.syncs_stale)
		log_warn("ptp: ptp4l has reported the same Sync for 6 s (its "
			 "grandmaster is no longer heard): holding over");
	if (ev.syncs_again)
		log_info("ptp: ptp4l reports new Syncs again");
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
	/* Receivers that check the SDP's grandmaster need it current; the
	 * AES67 check of the flows waits for the clock's timescale */
	if (ev.lock.gm_changed || ev.lock.state_changed ||
	    mclock_timescale_known(n->mc) != n->timescale_known_seen) {
		n->timescale_known_seen = mclock_timescale_known(n->mc);
		tx_publish_all(n->tx);
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

/* The capture cards' servo states and xruns (alsa_cap_report), and a card
 * source whose flow sent positions the card had not captured yet (its
 * capture thread ran late past the flow's wait): said, with how long the
 * flow waited, at most once a second; the media thread only counts. */
static void report_capture(struct node *n, uint64_t now)
{
	unsigned int i;

	for (i = 0; i < n->cfg->nsources; i++)
		if (source_alsa(n->sources[i]))
			alsa_cap_report(source_alsa(n->sources[i]));
	if (n->cap_missing_log_ns && now - n->cap_missing_log_ns < NSEC_PER_SEC)
		return;
	for (i = 0; i < n->cfg->nsources; i++) {
		struct alsa_stats as;

		if (!source_alsa(n->sources[i]))
			continue;
		alsa_cap_stats(source_alsa(n->sources[i]), &as);
		if (as.missing == n->cap_missing_seen[i])
			continue;
		log_warn(
		    "source %s: %llu frame(s) sent before the card had "
		    "captured them (%llu in all; the flow waited up to "
		    "%llu us for the capture thread): silence there",
		    n->cfg->sources[i].name,
		    (unsigned long long)(as.missing - n->cap_missing_seen[i]),
		    (unsigned long long)as.missing,
		    (unsigned long long)as.wait_max_us);
		n->cap_missing_seen[i] = as.missing;
		n->cap_missing_log_ns = now;
	}
}

/* A file source that jumped to where its position is in the file (it
 * started after its start time, a long stall, a clock step): once a jump. */
static void report_seeks(struct node *n)
{
	unsigned int i;

	for (i = 0; i < n->cfg->nsources; i++) {
		uint64_t frame, k = source_seeks(n->sources[i], &frame);

		if (k == n->seeks_seen[i])
			continue;
		n->seeks_seen[i] = k;
		log_info("source %s: to frame %llu (%.3f s into the file), "
			 "where its start time puts it now",
			 n->cfg->sources[i].name, (unsigned long long)frame,
			 (double)frame / source_rate(n->sources[i]));
	}
	/* a file waiting for its start, or over (no loop): said once each,
	 * not a silent flow to guess at (a new user's start past the end) */
	if (!mclock_timescale_known(n->mc))
		return;
	for (i = 0; i < n->cfg->nsources; i++) {
		double in_s;
		enum source_at at =
		    source_where(n->sources[i], mclock_now_ns(n->mc), &in_s);

		if ((unsigned char)(at + 1) == n->where_seen[i])
			continue;
		if (at == SOURCE_AT_BEFORE)
			log_info("source %s: waits for its start time, in "
				 "%.1f s; silence until then",
				 n->cfg->sources[i].name, in_s);
		else if (at == SOURCE_AT_ENDED)
			log_info("source %s: its start time puts it past the "
				 "file's end (%.1f s long, started %.1f s "
				 "ago, loop = false): silence from here",
				 n->cfg->sources[i].name,
				 source_file_seconds(n->sources[i]), -in_s);
		else if (n->where_seen[i] == SOURCE_AT_BEFORE + 1)
			log_info("source %s: its start time: plays",
				 n->cfg->sources[i].name);
		n->where_seen[i] = (unsigned char)(at + 1);
	}
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
		rx_resolve(n->rx, n->disco);
	}
	rx_tick(n->rx, mclock_timescale_ok(n->mc), false);
	tx_tick(n->tx, now);
	relay_tick(n->relay); /* kernel neighbours, budget drops */
	report_seeks(n);
	report_capture(n, now);
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
	const struct discovery_config *dc = &n->cfg->disco;
	struct sockaddr_in group = {.sin_family = AF_INET,
				    .sin_port = htons(SAP_DEFAULT_PORT)};
	char id[20];
	struct disco_config c = {
	    .node_name = n->cfg->name,
	    .node_id = id,
	    .ifname = dc->ifname[0] ? dc->ifname : NULL,
	    .sap = dc->sap,
	    .mdns = dc->mdns,
	    .sap_group = dc->sap_group,
	    .sap_interval_ns = dc->sap_interval_ns,
	    .sap_ttl = (int)dc->sap_ttl,
	    .sap_timeout_factor = dc->sap_timeout_factor,
	    .sap_timeout_floor_ns = dc->sap_timeout_floor_ns,
	    .rtsp_port = (uint16_t)dc->rtsp_port,
	    .api_port = n->api ? api_port(n->api) : 0,
	    .tx_channels = tx_channels(n->tx),
	    .rx_channels = rx_stream_channels(n->rx),
	};

	inet_pton(AF_INET, SAP_DEFAULT_GROUP, &group.sin_addr);
	node_id(id, sizeof(id),
		dc->sap_group.sin_port ? &dc->sap_group : &group);
	n->disco = disco_new(n->loop, &c);
	if (!n->disco) {
		log_warn("discovery: cannot start; the node runs on without");
		return;
	}
	tx_set_disco(n->tx, n->disco);
	rx_resolve(n->rx, n->disco);
}

/* Start-up is over: sockets, SCHED_FIFO, locked memory and the state
 * directory are in place. The user, capabilities and no_new_privs after
 * it (node/privs.h); a failure stops the node. */
static int drop_privs(struct node *n)
{
	const char *sdps[CONFIG_MAX_FLOWS];
	struct privs_opts o = {
	    .user = n->cfg->user,
	    .state_dir = n->state_dir,
	    .ptp4l = n->ptp4l != NULL,
	    .d4_kernel = relay_kernel_wanted(n->relay),
	    .files = sdps,
	};
	char err[512];
	unsigned int i;

	/* Rewritten when the grandmaster changes. */
	for (i = 0; i < n->cfg->nflows; i++)
		if (n->cfg->flows[i].sdp_path[0])
			sdps[o.nfiles++] = n->cfg->flows[i].sdp_path;
	if (privs_drop(&o, err, sizeof(err)) == 0)
		return 0;
	log_err("privileges: %s; not running with more than configured", err);
	return -EPERM;
}

static int control_loop(struct node *n)
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
	n->start_ns = mono_now();
	n->status_ticks = n->cfg->status_interval_s * 1000ull / TICK_MS;
	n->sig_io = loop_io_add(n->loop, n->sig_fd, LOOP_IN, on_signal, n);
	if (n->sync)
		n->ptp_io = loop_io_add(n->loop, ptp_sync_fd(n->sync), LOOP_IN,
					on_ptp, n);
	n->tick = loop_timer_new(n->loop, on_tick, n);
	if (!n->sig_io || !n->tick) {
		rc = -ENOMEM;
		goto out_free_tick;
	}
	loop_timer_arm(n->tick, TICK_MS * 1000000ull, TICK_MS * 1000000ull);
	if (state_open(n) == 0)
		state_restore_name(n);
	node_api_start(n);
	disco_start(n);
	rc = drop_privs(n);
	if (rc < 0)
		goto out_stop_api;
	/* After the drop: a spawned ptp4l starts with what its restarts
	 * will have, and what the state file replays runs as the API's
	 * calls do. */
	ptp_tick(n, n->start_ns);
	state_restore(n);
	n->nmos = nmos_new(n);
	notify_open(&n->notify);
	notify_send(&n->notify,
		    "READY=1\nSTATUS=%u flow(s), %u subscription(s)",
		    tx_slots(n->tx), rx_slots(n->rx));
	rc = loop_run(n->loop);
	notify_send(&n->notify, "STOPPING=1");
	notify_close(&n->notify);
	nmos_destroy(n->nmos);
	n->nmos = NULL;
out_stop_api:
	node_api_stop(n);
out_free_tick:
	loop_timer_free(n->tick);
	loop_io_remove(n->ptp_io);
	loop_io_remove(n->sig_io);
	close(n->sig_fd);
	return rc;
}

/* ---- assembly ---- */

static int clock_build(struct node *n, char *err, size_t err_len)
{
	const struct ptp_node_config *p = &n->cfg->ptp;
	struct ptp_sync_cfg sc = {
	    .uds = p->uds[0] ? p->uds : NULL,
	    .domain = (uint8_t)p->domain,
	    .lock = {.threshold_ns = p->lock_threshold_ns,
		     .lock_count = 3,
		     .uncalibrated_ok = p->clock == MCLOCK_MODE_FOLLOW,
		     .holdover_ns = p->holdover_ns},
	    .poll_ns = 500 * 1000 * 1000,
	    .step_ns = 1000 * 1000,
	};

	if (p->run == PTP_RUN_OFF) {
		n->mc = mclock_new_free_run();
		if (!n->mc)
			snprintf(err, err_len, "out of memory");
		return n->mc ? 0 : -ENOMEM;
	}
	n->mc = mclock_new_ptp(p->clock, p->phc, err, err_len);
	if (!n->mc)
		return -EINVAL;
	n->sync = ptp_sync_new(&sc, n->mc);
	if (!n->sync) {
		snprintf(err, err_len, "ptp: cannot open a socket");
		return -EINVAL;
	}
	if (p->run == PTP_RUN_SPAWN) {
		n->ptp4l = ptp4l_proc_new(p->ptp4l, p->ptp4l_config, p->ifname,
					  p->uds[0] ? p->uds : PMC_DEFAULT_UDS);
		if (!n->ptp4l) {
			snprintf(err, err_len, "out of memory");
			return -ENOMEM;
		}
	}
	log_info("ptp: %s ptp4l at %s, media clock %s, domain %u",
		 p->run == PTP_RUN_SPAWN ? "running" : "asking",
		 ptp_sync_target(n->sync), mclock_mode_name(p->clock),
		 p->domain);
	return 0;
}

/* Does a subscription of the config listen on @a? Then a loop bound to
 * it that runs in the kernel lets the original up the stack too. */
static bool sub_listens(void *ctx, const struct sockaddr_in *a)
{
	const struct node *n = ctx;
	unsigned int i;

	for (i = 0; i < n->cfg->nsubs; i++)
		if (n->cfg->subs[i].addr.sin_addr.s_addr ==
			a->sin_addr.s_addr &&
		    n->cfg->subs[i].addr.sin_port == a->sin_port)
			return true;
	return false;
}

/* Load [d4] sections, bind their UDP loops and choose their back ends
 * (before privileges drop: attaching to the kernel needs them). Each
 * section's loops carry its send budgets; loops loaded later (flows',
 * the API's) the defaults. */
static int relay_build(struct node *n, char *err, size_t err_len)
{
	struct d4prog_config def;
	struct d4_runtime *rt;
	char msg[256];
	unsigned int i, k;
	int rc;

	settings_defaults(SETTINGS_D4, &def);
	n->relay = relay_new(def.sends_per_packet, def.sends_per_second);
	if (!n->relay) {
		snprintf(err, err_len, "d4: out of memory");
		return -ENOMEM;
	}
	rt = relay_runtime(n->relay);
	for (i = 0; i < n->cfg->nd4; i++) {
		const struct d4prog_config *d = &n->cfg->d4[i];
		struct relay_bind_opts opts = {
		    .dscp = (int)d->dscp,
		    .ttl = (int)d->ttl,
		    .ifname = d->ifname[0] ? d->ifname : NULL,
		    .backend = (enum d4_backend)d->backend,
		    .local_listener = sub_listens,
		    .ctx = n,
		};

		if (relay_set_budget(n->relay, d->sends_per_packet,
				     d->sends_per_second) < 0) {
			snprintf(err, err_len, "[d4 %s] send budget refused",
				 d->name);
			return -EINVAL;
		}
		if (d->file[0] &&
		    relay_load_file(n->relay, d->file, msg, sizeof(msg)) < 0) {
			snprintf(err, err_len, "[d4 %s] %s", d->name, msg);
			return -EINVAL;
		}
		for (k = 0; k < d->nexec; k++)
			if (relay_exec(n->relay, d->exec[k], msg, sizeof(msg)) <
			    0) {
				snprintf(err, err_len, "[d4 %s] exec '%s': %s",
					 d->name, d->exec[k], msg);
				return -EINVAL;
			}
		for (k = 0; k < d->nbind; k++) {
			const char *sp = strchr(d->bind[k], ' ');
			char loop[D4_MAX_NAME + 1];
			size_t ln = (size_t)(sp - d->bind[k]);
			int h;

			snprintf(loop, sizeof(loop), "%.*s",
				 (int)(ln < sizeof(loop) ? ln : 0), d->bind[k]);
			h = d4_program_find(rt, loop);
			if (h < 0 || d4_set_binding(rt, h, sp + 1, msg,
						    sizeof(msg)) < 0) {
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
	return relay_set_budget(n->relay, def.sends_per_packet,
				def.sends_per_second);
}

static void name_channels(struct node *n)
{
	unsigned int i;

	for (i = 0; i < NODE_MAX_TX; i++)
		snprintf(n->tx_name[i], sizeof(n->tx_name[i]), "%02u", i + 1);
	for (i = 0; i < RXBUS_MAX_CHANNELS; i++)
		snprintf(n->rx_name[i], sizeof(n->rx_name[i]), "%02u", i + 1);
}

/* tx_env.chan_name: a TX channel's name, NULL while it is its number. */
static const char *tx_chan_name(void *ctx, unsigned int idx)
{
	struct node *n = ctx;
	const char *name;

	if (idx >= NODE_MAX_TX)
		return NULL;
	name = n->tx_name[idx];
	return name[strspn(name, "0123456789")] ? name : NULL;
}

static int node_build(struct node *n)
{
	struct node_config *cfg = n->cfg;
	char err[512];
	unsigned int i;
	int rc;

	if (clock_build(n, err, sizeof(err)) < 0)
		goto out_err;
	n->files = files_new();
	if (!n->files)
		return -ENOMEM;
	for (i = 0; i < cfg->nsources; i++) {
		n->sources[i] = source_open(&cfg->sources[i], err, sizeof(err));
		if (!n->sources[i])
			goto out_err;
		if (source_is_file(n->sources[i]))
			files_add_source(n->files, n->sources[i]);
	}
	if (relay_build(n, err, sizeof(err)) < 0)
		goto out_err;
	n->media = media_new(n->mc, NULL, 0, NULL, 0);
	if (!n->media)
		return -ENOMEM;
	name_channels(n);
	n->tx = tx_new(&(struct tx_env){.mc = n->mc,
					.media = n->media,
					.relay = n->relay,
					.sources = n->sources,
					.cfg = cfg,
					.node_name = cfg->name,
					.persist = state_persist,
					.persist_ctx = n,
					.chan_name = tx_chan_name,
					.chan_ctx = n});
	n->rx = rx_new(&(struct rx_env){.mc = n->mc,
					.media = n->media,
					.files = n->files,
					.cfg = cfg,
					.rec_dir = n->rec_dir,
					.persist = state_persist,
					.persist_ctx = n,
					.port_used = node_port_used,
					.port_ctx = n},
		       err, sizeof(err));
	if (!n->tx || !n->rx)
		goto out_err;
	media_set_rxbus(n->media, rx_bus(n->rx));
	media_set_pass_end(n->media, flush_flows, n->relay);
	for (i = 0; i < cfg->nflows; i++)
		if (tx_flow_create(n->tx, &cfg->flows[i], TX_CONFIG, err,
				   sizeof(err)) < 0)
			goto out_err;
	for (i = 0; i < cfg->nsubs; i++)
		if (rx_sub_create(n->rx, &cfg->subs[i], RX_CONFIG, NULL, err,
				  sizeof(err)) < 0) {
			char lead[SUB_NAME_MAX + 16];

			/* most errors name their subscription already (a new
			 * user read "subscription s: subscription s: ...") */
			snprintf(lead, sizeof(lead), "subscription %s:",
				 cfg->subs[i].name);
			if (strncmp(err, lead, strlen(lead)))
				log_err("%s %s", lead, err);
			else
				log_err("%s", err);
			return -EINVAL;
		}
	for (i = 0; i < cfg->nsources; i++) {
		if (!source_alsa(n->sources[i]))
			continue;
		rc = source_start(n->sources[i], n->mc, (int)cfg->rt_priority);
		if (rc < 0) {
			snprintf(err, sizeof(err),
				 "source %s: cannot start: %s",
				 cfg->sources[i].name, strerror(-rc));
			goto out_err;
		}
	}
	return 0;

out_err:
	log_err("%s", err);
	return -EINVAL;
}

static void node_teardown(struct node *n)
{
	unsigned int i;

	if (n->media)
		media_stop(n->media);
	if (n->relay)
		relay_stop(n->relay);
	if (n->files)
		files_stop(n->files);
	tx_destroy(n->tx);
	rx_destroy(n->rx);
	media_destroy(n->media);
	files_destroy(n->files);
	for (i = 0; i < n->cfg->nsources; i++)
		source_destroy(n->sources[i]);
	relay_destroy(n->relay);
	for (i = 0; i < n->nd4_texts; i++)
		free(n->d4_texts[i].text);
	state_kept_free(n);
	ptp4l_proc_destroy(n->ptp4l);
	ptp_sync_destroy(n->sync);
	mclock_destroy(n->mc);
}

int node_run(const struct node_opts *opts)
{
	struct node *n = calloc(1, sizeof(*n));
	char err[512];
	sigset_t mask;
	int rc = 1;

	if (!n || !(n->cfg = calloc(1, sizeof(*n->cfg)))) {
		log_err("out of memory");
		free(n);
		return 1;
	}
	n->opts = opts;
	n->loop = loop_new();
	if (!n->loop)
		goto out_free;
	if (config_load(opts->config_path, n->cfg, err, sizeof(err)) < 0) {
		log_err("%s", err);
		goto out_free;
	}
	n->ptp_rl =
	    (struct log_ratelimit)LOG_RATELIMIT_INIT(10 * NSEC_PER_SEC, 3);
	/* Signals go to the control loop only, never to the media thread. */
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &mask, NULL);
	/* A write to a pipe or socket whose reader is gone is an EPIPE to
	 * handle where it happens, never the end of the node (an attacker
	 * killed the test card's writer and the node died of SIGPIPE; a
	 * log reader that goes away would do the same). */
	signal(SIGPIPE, SIG_IGN);
	if (node_build(n) < 0 || files_start(n->files) < 0)
		goto out;
		/* Page faults on the media path would be stalls of their own.
		 * Not under AddressSanitizer: its terabytes of shadow would be
		 * locked. */
#if D4_ASAN
	log_info("mlockall: skipped in an AddressSanitizer build");
#else
	/* MCL_ONFAULT: a page is locked when first touched, so the node
	 * holds what it uses, not every page of every library it maps
	 * (26 MB at 64 x 64 channels, bench/scale.sh); what the real-time
	 * threads touch is made resident before they run (common/mem.h).
	 * Kernels before 4.4 know no MCL_ONFAULT: lock everything there. */
	if (mlockall(MCL_CURRENT | MCL_FUTURE | MCL_ONFAULT) == 0 ||
	    (errno == EINVAL && mlockall(MCL_CURRENT | MCL_FUTURE) == 0))
		hold_libraries();
	else
		log_warn("mlockall: %m (RLIMIT_MEMLOCK too small without "
			 "CAP_IPC_LOCK: run as root, or give the node "
			 "CAP_IPC_LOCK or LimitMEMLOCK=infinity); the media "
			 "thread may page-fault");
#endif
	media_set_spin(n->media, n->cfg->spin_us);
	if (media_start(n->media, (int)n->cfg->rt_priority) < 0 ||
	    relay_start(n->relay, (int)n->cfg->rt_priority) < 0)
		goto out;
	/* what the saved state adds is said after it ("state: restored") */
	log_info("node %s running: %u flow(s), %u subscription(s) from its "
		 "config, media thread %s",
		 n->cfg->name, n->cfg->nflows, n->cfg->nsubs,
		 media_is_realtime(n->media) ? "SCHED_FIFO" : "not real-time");
	rc = control_loop(n) < 0 ? 1 : 0;
	/* SAP deletions and mDNS withdrawals go out while flows still run. */
	tx_set_disco(n->tx, NULL);
	disco_destroy(n->disco);
	n->disco = NULL;
	media_stop(n->media);
	relay_stop(n->relay);
	/* The file thread writes the last frames before the report. */
	files_stop(n->files);
	rx_tick(n->rx, true, true); /* nothing held back is left unsaid */
	print_final(n);
out:
	if (n->tx)
		tx_set_disco(n->tx, NULL);
	disco_destroy(n->disco);
	node_teardown(n);
out_free:
	loop_destroy(n->loop);
	free(n->cfg);
	free(n);
	return rc;
}
