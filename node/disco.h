/* The node's side of discovery, on its control loop: every multicast flow
 * announced by SAP and as a RAVENNA session (mDNS _rtsp._tcp with subtype
 * _ravenna_session, answered by an RTSP responder), the node itself as
 * _d4node._tcp, and what others announce: streams by SAP and RAVENNA (their
 * SDP fetched by DESCRIBE), other nodes by mDNS. Subscriptions find streams
 * here by name. */
#ifndef D4_NODE_DISCO_H
#define D4_NODE_DISCO_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>

#include "discovery/rtsp.h"

struct loop;
struct disco;

#define DISCO_MAX_FLOWS	   64
#define DISCO_MAX_RAVENNA  64
#define DISCO_MAX_PEERS	   64
#define DISCO_API_PATH	   "/api/v1"
#define DISCO_NODE_VERSION "0.1"

struct disco_config {
	const char *node_name;
	const char *node_id;		/* 16 hex digits */
	const char *ifname;		/* SAP egress and group joins; NULL: default */
	bool sap;			/* announce and listen */
	bool mdns;			/* publish and browse through avahi-daemon */
	struct sockaddr_in sap_group;	/* 0.0.0.0:0: 239.255.255.255:9875 */
	uint64_t sap_interval_ns;	/* 0: 30 s */
	int sap_ttl;			/* 0: 15 */
	unsigned int sap_timeout_factor; /* 0: 10 x the observed interval */
	uint64_t sap_timeout_floor_ns;	/* 0: 60 s */
	uint16_t rtsp_port;		/* 0: any free port */
	uint16_t api_port;		/* _d4node._tcp's port; 0: the RTSP port */
	unsigned int tx_channels, rx_channels;
};

/* Start announcing and listening. Parts that cannot start (no avahi-daemon,
 * a port in use) are logged and retried or left out; NULL only when out of
 * memory or when the RTSP port cannot be bound. */
struct disco *disco_new(struct loop *loop, const struct disco_config *cfg);
/* Withdraw everything: SAP deletions (3x) for every flow, mDNS services. */
void disco_destroy(struct disco *d);

/* Announce (or re-announce changed) multicast flow @id (< DISCO_MAX_FLOWS)
 * under session name @name with @sdp. 0, -EINVAL or -ENOMEM. */
int disco_flow_set(struct disco *d, unsigned int id, const char *name,
		   const char *sdp);
/* Stop announcing flow @id (SAP deletions, mDNS withdrawal). */
void disco_flow_remove(struct disco *d, unsigned int id);
/* The node's id as published in TXT (16 hex digits). */
const char *disco_node_id(const struct disco *d);
/* Publish the node under @name from now on (mDNS: withdrawn and
 * published again; the flows' names are the caller's, disco_flow_set). */
void disco_set_name(struct disco *d, const char *name);
/* Whether another node on the network publishes @name (mDNS names are
 * case-insensitive). */
bool disco_peer_named(const struct disco *d, const char *name);
/* Update the channel counts in the node's TXT record. */
void disco_set_channels(struct disco *d, unsigned int tx, unsigned int rx);

/* Where a stream was seen. */
enum disco_origin {
	DISCO_SAP,
	DISCO_RAVENNA,
};

/* The SDP of the stream named @name (its s= line, or the RAVENNA session
 * name), other hosts' streams first, then our own; NULL when none is
 * known. Valid until the control loop runs again. */
const char *disco_stream_sdp(struct disco *d, const char *name,
			     enum disco_origin *origin);
/* Bumped whenever a stream appears, changes or goes: when to look again. */
uint64_t disco_generation(const struct disco *d);

/* For status lines and GET /stats: remote SAP sessions, RAVENNA sessions,
 * peer nodes; the SAP table's size, cap (0: SAP off) and evictions. */
struct disco_counts {
	unsigned int sap_sessions, sap_own, ravenna, peers;
	uint64_t sap_rejected, sap_sdp_invalid;
	unsigned int sap_entries, sap_max_entries;
	uint64_t sap_evicted;
	uint16_t rtsp_port;
	struct rtsp_server_stats rtsp; /* the DESCRIBE responder */
};
void disco_get_counts(const struct disco *d, struct disco_counts *out);

/* Iterate over known streams: @i from 0 until it returns false. */
struct disco_stream {
	const char *name;
	const char *sdp;
	enum disco_origin origin;
	struct in_addr host; /* SAP origin, or the RTSP server's address */
	bool own;
};
bool disco_stream_at(const struct disco *d, unsigned int i,
		     struct disco_stream *out);

#endif
