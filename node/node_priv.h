/* The node's insides, shared by node.c (assembly, control loop) and
 * node_api.c (the control API's handlers). Control thread only. */
#ifndef D4_NODE_NODE_PRIV_H
#define D4_NODE_NODE_PRIV_H

#include "common/log.h"
#include "node/config.h"
#include "node/node.h"
#include "node/notify.h"

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

struct mclock;
struct source;
struct flow;
struct sub;
struct recorder;
struct relay;
struct loop;
struct loop_timer;
struct loop_io;
struct disco;
struct media;
struct ptp_sync;
struct ptp4l_proc;
struct api;
struct alsa_node;

#define NODE_MAX_TX	       128 /* TX channels with a name */
#define NODE_CHANNEL_NAME_MAX 32
#define NODE_NAME_MAX	      31 /* a rename through the API: Dante's limit */

struct sub_seen {
	uint64_t bad_header, bad_pt, bad_size, foreign, early, ssrc_changes;
	bool arrival;
	struct log_ratelimit rl;
};

struct node {
	struct node_config cfg;
	struct mclock *mc;
	struct source *sources[CONFIG_MAX_SOURCES];
	struct flow *flows[CONFIG_MAX_FLOWS];
	struct sub *subs[CONFIG_MAX_SUBS];
	struct recorder *recs[CONFIG_MAX_SINKS];
	unsigned int nrecs;
	/* recs and nrecs change under it (control thread); the file thread
	 * reads them under it */
	pthread_mutex_t io_lock;
	struct recorder *sink_rec[CONFIG_MAX_SINKS]; /* by sink index */
	struct sub_seen seen[CONFIG_MAX_SUBS];
	/* the RX channels: their bus, each subscription's port onto it,
	 * and the channel names (TX: the sources' channels in order) */
	struct rxbus *rxbus;
	struct rxbus_port rx_port[CONFIG_MAX_SUBS];
	char tx_name[NODE_MAX_TX][NODE_CHANNEL_NAME_MAX];
	char rx_name[RXBUS_MAX_CHANNELS][NODE_CHANNEL_NAME_MAX];
	struct relay *relay;
	struct alsa_node *alsa; /* sound cards (node/alsa_node.h) */
	struct flow_prog {
		struct relay *relay;
		int handle;
	} flow_prog[CONFIG_MAX_FLOWS];
	int control_fd;
	struct loop *loop;
	struct loop_timer *tick;
	struct loop_io *sig_io, *ptp_io, *ctl_io;
	int sig_fd;
	uint64_t start_ns, ticks, status_ticks;
	const struct node_opts *opts;
	struct disco *disco;
	/* subscriptions by stream name: the INI's half, and the SDP applied */
	struct sub_config sub_tmpl[CONFIG_MAX_SUBS];
	char *sub_sdp[CONFIG_MAX_SUBS];
	bool sub_recs_open[CONFIG_MAX_SUBS];
	uint64_t disco_gen_seen;
	struct notify notify; /* systemd: READY, STATUS, WATCHDOG */
	unsigned long passes_seen;
	struct media *media;
	/* the control API, its token, and what it made (saved in state) */
	struct api *api;
	char state_dir[4096];
	bool flow_api[CONFIG_MAX_FLOWS], sub_api[CONFIG_MAX_SUBS];
	json_t *state; /* {"flows": [...], "subscriptions": [...], "d4": [...]} */
	bool restoring; /* replaying the state file: don't save */
	struct ptp_sync *sync;
	struct ptp4l_proc *ptp4l;
	struct log_ratelimit ptp_rl;
	unsigned int ptp_rejects;   /* not yet logged */
	uint64_t ptp_rejects_total; /* GET /stats "ptp" */
	/* subscriptions by name: streams whose SDP they cannot use */
	struct log_ratelimit stream_rl;
	char ptp_reject_reason[128];
	unsigned int sdp_version[CONFIG_MAX_FLOWS];
	unsigned int resyncs_seen;
	pthread_t io_thread;
	bool io_running;
	_Atomic bool io_stop;
};


#define GET(x) atomic_load_explicit(&(x), memory_order_relaxed)

/* node.c */
int node_publish_flow(struct node *n, unsigned int i);
/* Flow @i's SDP as last published (GET /flows), its session name in
 * @session. Its length or < 0. */
int node_flow_sdp(struct node *n, unsigned int i, char *buf, size_t len,
		  char *session, size_t session_len);
/* Rename the node: mDNS, every flow's SDP and announcements. The caller
 * has checked @name (node_api.c) and saves it. */
void node_set_name(struct node *n, const char *name);
int node_flow_default_loop(struct node *n, struct flow *f, char *err,
			   size_t err_len);
int node_flow_send_d4(void *ctx, uint8_t *pkt, size_t len);
/* PREFIX + NAME (non-alphanumerics as _) + SUFFIX, within a D4 name. */
void node_d4_name(char *dst, size_t len, const char *prefix,
		  const char *name, const char *suffix);
void node_resolve_streams(struct node *n);
int node_open_sinks(struct node *n, unsigned int si, struct sub *s, char *err,
		    size_t err_len);
int node_move_sinks(struct node *n, unsigned int si, struct sub *s);
/* Close subscription @si's recordings (it is out of the media thread) and
 * free its sinks' slots. */
void node_close_sinks(struct node *n, unsigned int si);
int node_attach_rx(struct node *n, unsigned int si, struct sub *s,
		   char *err, size_t err_len);

/* node_api.c */
int node_api_start(struct node *n);
void node_api_stop(struct node *n);
/* Replay the state file's API objects; then every write is saved. */
void node_state_restore(struct node *n);

#endif
