/* The node's flows (TX). tx.c owns each flow's record: its settings, its
 * RTP sender (node/flow.h), its D4 loop (every packet leaves through one:
 * node/relay.h), its SDP and the announcements of it; and it has the only
 * functions that add and remove flows. The INI build, the control API and
 * state replay call them. A change either fully happens, persisted
 * (tx_env.persist), or changes nothing. Control thread only. */
#ifndef D4_NODE_TX_H
#define D4_NODE_TX_H

#include <stdbool.h>
#include <stddef.h>

#include "node/flow.h"

struct mclock;
struct media;
struct relay;
struct disco;
struct source;
struct node_config;
struct tx;

enum tx_origin {
	TX_CONFIG, /* from the INI file: read-only through the API */
	TX_API,	   /* made through the API (or restored from state) */
};

struct tx_env {
	struct mclock *mc;
	struct media *media;
	struct relay *relay;
	struct source **sources; /* the node's, in config order */
	const struct node_config *cfg;
	const char *node_name; /* the node's current name ("NODE FLOW") */
	/* Save the node's state; 0 or -errno (then the change is undone). */
	int (*persist)(void *ctx);
	void *persist_ctx;
	/* TX channel @idx's name (0-based over the sources' channels in
	 * config order), or NULL while it has its default number: the SDP's
	 * i= line names the channels. NULL: none named. */
	const char *(*chan_name)(void *ctx, unsigned int idx);
	void *chan_ctx;
};

struct tx *tx_new(const struct tx_env *env);
/* Remove every flow: out of the media thread, loops removed, sockets
 * closed. */
void tx_destroy(struct tx *tx);
/* Announce multicast flows through @d from now on (NULL: stop). */
void tx_set_disco(struct tx *tx, struct disco *d);

/* Add flow @fc (channels default to all of its source's). Its packets go
 * through the D4 loop bound "on flow NAME" if the INI loaded one, else
 * through its default loop: a multicast flow sends to its group, a
 * unicast flow is the seed's relay over _NAME_receivers. A second leg
 * (destination2, ST 2022-7) always has its own default loop flow2_NAME
 * (a unicast one relays over _NAME_receivers2). The slot, or
 * -EEXIST (name or D4 name taken), -ENOSPC (full), -EINVAL, -EIO (not
 * persisted), with the reason in @err. */
int tx_flow_create(struct tx *tx, const struct flow_config *fc,
		   enum tx_origin origin, char *err, size_t err_len);
/* Remove flow @slot. 0, -EPERM (from the INI file), -EIO (not saved). */
int tx_flow_delete(struct tx *tx, unsigned int slot, char *err, size_t err_len);
/* Write every flow's SDP file and announce it anew (a grandmaster or
 * lock change, a new node name). */
void tx_publish_all(struct tx *tx);

/* Read access. */
int tx_flow_find(const struct tx *tx, const char *name);
unsigned int tx_slots(const struct tx *tx);
bool tx_flow_exists(const struct tx *tx, unsigned int slot);
enum tx_origin tx_flow_origin(const struct tx *tx, unsigned int slot);
/* The flow's settings, channels filled in. */
const struct flow_config *tx_flow_settings(const struct tx *tx,
					   unsigned int slot);
const struct flow *tx_flow_sender(const struct tx *tx, unsigned int slot);
/* Leg @leg's interface link as last seen (every 100 ms): 1 up, 0 no
 * link, -1 not known (no interface named). */
int tx_flow_link(const struct tx *tx, unsigned int slot, unsigned int leg);
/* The flow's SDP as last published, its session name ("NODE FLOW") in
 * @session. Its length, or < 0. */
int tx_flow_sdp(const struct tx *tx, unsigned int slot, char *buf, size_t len,
		char *session, size_t session_len);
/* The name of the D4 list a unicast flow relays over
 * (_NAME_receivers), or "" for a multicast flow. */
const char *tx_flow_list(const struct tx *tx, unsigned int slot);
/* The second leg's relay list (_NAME_receivers2) of a flow whose second
 * leg is unicast, else "". */
const char *tx_flow_list2(const struct tx *tx, unsigned int slot);
/* Whether D4 variable @name is the relay list of a flow deleted since (D4
 * variables cannot be undeclared; the state leaves them out). */
bool tx_list_orphaned(const struct tx *tx, const char *name);
/* TX channels: the sources' channels. */
unsigned int tx_channels(const struct tx *tx);
/* The TX channel (0-based: the sources' channels in config order) that
 * channel @c of flow @fc carries. */
unsigned int tx_flow_channel(const struct tx *tx, const struct flow_config *fc,
			     unsigned int c);

/* The --verbose status and the "final:" lines. */
size_t tx_status(const struct tx *tx, char *buf, size_t len, size_t off);
/* Log packets flows skipped since the last call, rate-limited. Control
 * thread, every tick. */
void tx_tick(struct tx *tx, uint64_t mono_ns);
void tx_final(const struct tx *tx);

/* PREFIX + NAME (non-alphanumerics as _) + SUFFIX, within a D4 name. */
void tx_d4_name(char *dst, size_t len, const char *prefix, const char *name,
		const char *suffix);

#endif
