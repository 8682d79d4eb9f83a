/* NMOS's insides, shared by nmos.c (IS-04: resources, Node API,
 * registration, DNS-SD, the nmos.json file) and nmos_conn.c (IS-05). */
#ifndef D4_NODE_NMOS_PRIV_H
#define D4_NODE_NMOS_PRIV_H

#include "node/api.h"
#include "node/config.h"
#include "node/nmos.h"
#include "node/nmos_id.h"
#include "node/nmos_reg.h"

#include <jansson.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>

struct loop_timer;
struct nmos_http;
struct mdns;
struct mdns_browser;
struct mdns_service;

#define NMOS_MAX_SENDERS   CONFIG_MAX_FLOWS
#define NMOS_MAX_RECEIVERS RXBUS_MAX_CHANNELS
#define NMOS_MAX_TOKENS	   16
#define NMOS_MAX_FOUND	   NMOS_REG_MAX_URLS
#define NMOS_SUB_NAME_MAX  64
/* How long before a scheduled activation its subscription is built
 * (its socket joined, its buffer filling), and the moment an immediate
 * switch from one stream to another happens after the request. */
#define NMOS_PREPARE_NS (500 * 1000000ull)
#define NMOS_SWITCH_NS	(50 * 1000000ull)
/* transport_params hold one leg, or two for SMPTE ST 2022-7 (IS-05 "RTP
 * Transport Type"): a sender's as its flow has (destination2), a
 * receiver's two when [nmos] interface2 names the second network. */
#define NMOS_LEGS 2

/* A resource as the Node API serves it. */
struct nmos_res {
	enum nmos_type type;
	char id[NMOS_UUID_LEN];
	uint64_t version_ns;
	char *canon; /* its JSON without "version", keys sorted */
	json_t *data;
	bool seen; /* in this scan */
};

enum nmos_act_mode {
	NMOS_ACT_NONE,
	NMOS_ACT_IMMEDIATE,
	NMOS_ACT_ABSOLUTE,
	NMOS_ACT_RELATIVE,
};

struct nmos_activation {
	enum nmos_act_mode mode;
	uint64_t requested_ns; /* as given: TAI, or an interval */
	uint64_t at_ns;	       /* when it happens (TAI) */
};

/* One RTP leg of a receiver's transport parameters. */
struct nmos_rx_tp {
	bool has_source; /* source_ip: null unless */
	struct in_addr source;
	bool has_group; /* multicast_ip: null unless */
	struct in_addr group;
	bool iface_auto; /* interface_ip */
	struct in_addr iface;
	bool port_auto; /* destination_port */
	uint16_t port;
	bool rtp_enabled;
};

struct nmos_tx_tp {
	bool source_auto; /* source_ip */
	struct in_addr source;
	bool dest_auto; /* destination_ip */
	struct in_addr dest;
	bool sport_auto; /* source_port */
	uint16_t sport;
	bool dport_auto; /* destination_port */
	uint16_t dport;
	bool rtp_enabled;
};

struct nmos_rx_params {
	bool has_sender;
	char sender_id[NMOS_UUID_LEN];
	bool master_enable;
	char *sdp; /* transport_file data (malloc'd), or NULL */
	struct nmos_rx_tp tp[NMOS_LEGS]; /* the receiver's legs of them */
};

struct nmos_tx_params {
	bool has_receiver;
	char receiver_id[NMOS_UUID_LEN];
	bool master_enable;
	struct nmos_tx_tp tp[NMOS_LEGS]; /* the flow's legs of them */
};

struct nmos;

/* A receiver: a group of the node's RX channels. */
struct nmos_receiver {
	struct nmos *m;
	unsigned int first, count; /* RX channels, 0-based */
	unsigned int legs;	   /* in its transport_params: 1 or 2 */
	char id[NMOS_UUID_LEN];
	char label[32]; /* "RX 1-2" */
	struct nmos_rx_params staged;
	struct nmos_activation act;	 /* pending (ABSOLUTE, RELATIVE) */
	struct nmos_rx_params pending;	 /* staged as it was when scheduled */
	bool prepared;			 /* its subscriptions are built */
	char new_sub[NMOS_SUB_NAME_MAX]; /* built for the pending one */
	struct loop_timer *timer;	 /* prepare, then fire */
	/* Subscriptions to delete once their last sample is out (a switch
	 * or a stop at a sample). */
	char old_subs[4][NMOS_SUB_NAME_MAX];
	unsigned int nold;
	uint64_t old_until_ns;
	struct loop_timer *cleanup;
	/* what the last IS-05 activation made (kept in nmos.json) */
	char sub[NMOS_SUB_NAME_MAX];
	char sender_id[NMOS_UUID_LEN];
	uint64_t activated_ns; /* the last activation (IS-04 version) */
	/* the subscription's state on the IS-04 receiver (its tag) */
	char state_shown[24], state_next[24];
	uint64_t state_since;
};

/* A sender: one of the node's flows. */
struct nmos_sender {
	struct nmos *m;
	bool used;
	char flow[64];
	char id[NMOS_UUID_LEN], flow_id[NMOS_UUID_LEN],
	    source_id[NMOS_UUID_LEN];
	bool multicast;
	struct nmos_tx_params staged;
	struct nmos_activation act;
	struct nmos_tx_params pending;
	struct loop_timer *timer;
	/* IS-05's hold on the flow, each leg's (kept in nmos.json) */
	bool stopped[NMOS_LEGS];  /* multicast: its loop stopped */
	bool has_dest[NMOS_LEGS]; /* unicast: the list entry it owns */
	struct sockaddr_in dest[NMOS_LEGS]; /* (initially the flow's) */
	char receiver_id[NMOS_UUID_LEN];
	uint64_t activated_ns;
};

struct nmos_found {
	char key[128]; /* instance name and interface */
	struct nmos_registry reg;
};

struct nmos {
	struct node *n;
	struct api_table table;
	uint8_t ns[16]; /* the node's id as bytes: its resources' namespace */
	char node_id[NMOS_UUID_LEN], device_id[NMOS_UUID_LEN];
	char host[16];	 /* the address in hrefs */
	char ifname[32]; /* its interface */
	uint16_t port;
	char base[64]; /* "http://HOST:PORT" */
	struct nmos_res *res;
	unsigned int nres, cap;
	uint8_t ver[NMOS_NTYPES]; /* peer-to-peer ver_ counters */
	bool ver_changed;
	struct nmos_sender senders[NMOS_MAX_SENDERS];
	struct nmos_receiver receivers[NMOS_MAX_RECEIVERS];
	unsigned int nreceivers;
	struct loop_timer *scan_timer;
	struct loop_timer *p2p_timer; /* no registry for a while */
	struct nmos_http *http;
	struct nmos_reg *reg;
	struct mdns *mdns;
	struct mdns_browser *browser;
	struct mdns_service *p2p;
	struct nmos_found found[NMOS_MAX_FOUND];
	unsigned int nfound;
	char tokens[NMOS_MAX_TOKENS][128];
	unsigned int ntokens;
	uint64_t latency_ns; /* of the subscriptions IS-05 makes */
};

/* nmos.c */
/* Look at the node's objects again now: new versions, registration,
 * DNS-SD records. */
void nmos_scan(struct nmos *m);
/* Give resource @id a new version at the next scan even if its content
 * is the same (an IS-05 re-activation). */
void nmos_touch(struct nmos *m, enum nmos_type t, const char *id);
/* Write nmos.json (IS-05's holds on flows and receivers). */
void nmos_save(struct nmos *m);
/* TAI now. */
uint64_t nmos_now(const struct nmos *m);
/* The node's IPv4 addresses on interfaces that are up (not loopback),
 * into @out; the count. */
unsigned int nmos_addresses(struct in_addr *out, unsigned int max);
/* The interface that holds @a, or "". */
void nmos_ifname_of(struct in_addr a, char *buf, size_t len);
struct nmos_sender *nmos_sender_by_id(struct nmos *m, const char *id);
struct nmos_receiver *nmos_receiver_by_id(struct nmos *m, const char *id);

/* nmos_conn.c: IS-05 */
extern const struct api_route nmos_conn_routes[];
void nmos_conn_sender_init(struct nmos *m, struct nmos_sender *s, int slot);
void nmos_conn_sender_fini(struct nmos_sender *s);
void nmos_conn_receiver_init(struct nmos *m, struct nmos_receiver *r);
void nmos_conn_receiver_fini(struct nmos_receiver *r);
/* IS-04 "subscription" objects, from the node's objects now. */
json_t *nmos_conn_sender_subscription(struct nmos *m, struct nmos_sender *s);
json_t *nmos_conn_receiver_subscription(struct nmos *m,
					struct nmos_receiver *r);
/* The receiver's subscription state (rx_sub_state()), or NULL. */
const char *nmos_conn_receiver_state(struct nmos *m, struct nmos_receiver *r);
/* A sender's transport file (the flow's SDP, its destination IS-05's):
 * malloc'd, or NULL when it has none. */
char *nmos_conn_sender_sdp(struct nmos *m, struct nmos_sender *s);
/* IS-05's holds as JSON (nmos.json) and back. */
json_t *nmos_conn_save(struct nmos *m);
void nmos_conn_restore(struct nmos *m, const json_t *j);

#endif
