/* The node's insides, shared by its three control-thread parts: node.c
 * (assembly and the control loop), node_api.c (the control API's
 * handlers) and state.c (the state file). Flows and subscriptions are not
 * here: they belong to tx.c and rx.c, and these parts reach them only
 * through tx.h and rx.h. */
#ifndef D4_NODE_NODE_PRIV_H
#define D4_NODE_NODE_PRIV_H

#include "common/log.h"
#include "node/config.h"
#include "node/node.h"
#include "node/notify.h"
#include "node/pair.h"
#include "d4/d4.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

struct mclock;
struct source;
struct relay;
struct loop;
struct loop_timer;
struct loop_io;
struct disco;
struct media;
struct files;
struct ptp_sync;
struct ptp4l_proc;
struct api;
struct tx;
struct rx;
struct nmos;

#define NODE_MAX_TX	      128 /* TX channels with a name */
#define NODE_CHANNEL_NAME_MAX 32
#define NODE_NAME_MAX	      31 /* a rename through the API: Dante's limit */
#define NODE_MAX_D4_TEXTS     D4_MAX_PROGRAMS

/* A D4 text with a loop loaded through the API (kept in the state). */
struct node_d4_text {
	char *text;
	int handle;
};

struct node {
	struct node_config *cfg; /* the INI file; cfg->name: the node's name */
	const struct node_opts *opts;
	struct mclock *mc;
	struct source *sources[CONFIG_MAX_SOURCES];
	uint64_t seeks_seen[CONFIG_MAX_SOURCES]; /* file sources' jumps logged */
	/* card sources: frames sent before the card had captured them, as
	 * last logged, and when (once a second at most) */
	uint64_t cap_missing_seen[CONFIG_MAX_SOURCES];
	uint64_t cap_missing_log_ns;
	/* file sources' place as last logged (enum source_at + 1; 0: none) */
	unsigned char where_seen[CONFIG_MAX_SOURCES];
	struct relay *relay;
	struct media *media;
	struct files *files;
	struct tx *tx;
	struct rx *rx;
	struct disco *disco;
	struct api *api;
	struct nmos *nmos; /* NMOS IS-04/IS-05 (node/nmos.h), or NULL */
	struct ptp_sync *sync;
	struct ptp4l_proc *ptp4l;
	struct notify notify; /* systemd: READY, STATUS, WATCHDOG */
	/* channel names (TX: the sources' channels in order) */
	char tx_name[NODE_MAX_TX][NODE_CHANNEL_NAME_MAX];
	char rx_name[RXBUS_MAX_CHANNELS][NODE_CHANNEL_NAME_MAX];
	struct node_d4_text d4_texts[NODE_MAX_D4_TEXTS];
	unsigned int nd4_texts;
	/* the state directory; "" when it is unusable (no API, no state) */
	char state_dir[4096];
	char rec_dir[4096 + 16]; /* the API's recordings, "" = none */
	char token[80];
	/* made at first start beside the token, never changed: what d4ctl
	 * keys a node's token by (a rename keeps it, a new state dir does
	 * not, nor does the token) */
	char uuid[40];
	struct pair pair; /* d4ctl login's one-time codes (pair.h) */
	bool restoring;	  /* replaying the state file: don't save */
	/* state.json's flows, subscriptions and D4 programs that did not
	 * restore at start (an interface not up yet, a port in use): kept
	 * as saved, written back with every save, tried at the next start;
	 * {"flows": [...], "subscriptions": [...], "programs": [...]}, or
	 * NULL (state.c) */
	struct json_t *state_kept;
	/* the control loop */
	struct loop *loop;
	struct loop_timer *tick;
	struct loop_io *sig_io, *ptp_io;
	int sig_fd;
	uint64_t start_ns, ticks, status_ticks, disco_gen_seen;
	unsigned long passes_seen;
	unsigned int resyncs_seen;
	bool timescale_known_seen; /* the AES67 check waits for it */
	struct log_ratelimit ptp_rl;
	unsigned int ptp_rejects;   /* not yet logged */
	uint64_t ptp_rejects_total; /* GET /stats "ptp" */
	char ptp_reject_reason[128];
};

#define GET(x) atomic_load_explicit(&(x), memory_order_relaxed)

/* node.c */
/* Rename the node: mDNS, every flow's SDP and announcements. The caller
 * has checked @name; @restored: the state's saved name, at start. */
void node_set_name(struct node *n, const char *name, bool restored);
/* TX and RX channel counts changed: tell mDNS. */
void node_channels_changed(struct node *n);

/* node_api.c */
int node_api_start(struct node *n);
void node_api_stop(struct node *n);
/* Dante's rule for device names. */
bool node_name_ok(const char *s);
/* A loop loaded through the API (or restored) that is bound to udp
 * ADDR:PORT gets its socket, as a [d4] section's defaults would give it.
 * 0 (also for other loops), or -errno with the reason in @err. */
int node_d4_bind(struct node *n, int handle, char *err, size_t err_len);
/* rx_env.port_used: a D4 loop bound to UDP receives on @a's port (a
 * unicast subscription binds 0.0.0.0 there and would take its packets).
 * -EADDRINUSE with @err, or 0. */
int node_port_used(void *node, const struct sockaddr_in *a, char *err,
		   size_t err_len);
/* Name channel @idx (0-based) of "tx"/"rx": 0, or an HTTP status with
 * the reason in @err. */
int node_set_channel_name(struct node *n, bool tx, unsigned int idx,
			  const char *name, char *err, size_t err_len);

/* state.c: the state directory, its token and state.json */
/* Make the state directory and read (or make) the token. 0 or -errno;
 * on failure state_dir is "". */
int state_open(struct node *n);
/* The node's name saved by PUT /node, before anything is announced. */
void state_restore_name(struct node *n);
/* A new token replaces the old one on disk (atomically) and in the API.
 * 0, or -errno with the reason in @err (nothing changed). */
int state_rotate_token(struct node *n, char *err, size_t err_len);
/* Write the state of every record now (atomically). 0 or -errno. */
int state_save(struct node *n);
/* The persist callback of tx and rx: state_save unless restoring. */
int state_persist(void *node);
/* Replay the state file into the records. */
void state_restore(struct node *n);
/* Forget a kept (not restored) flow or subscription named @name:
 * @kind "flows" or "subscriptions". True if there was one (and the
 * state was saved without it). */
bool state_forget_kept(struct node *n, const char *kind, const char *name);
void state_kept_free(struct node *n);

#endif
