/* The node's INI configuration (docs/config.md lists every key). Parsing
 * checks every value and every cross-reference; an error names the file,
 * line, section and key, and quotes the bad value. */
#ifndef D4_NODE_CONFIG_H
#define D4_NODE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "node/flow.h"
#include "node/recorder.h"
#include "node/rxbus.h"
#include "node/source.h"
#include "node/sub.h"
#include "ptp/mclock.h"

#define CONFIG_MAX_SOURCES 32
#define CONFIG_MAX_FLOWS   64
#define CONFIG_MAX_SUBS	   64
#define CONFIG_MAX_SINKS   64

enum sink_type {
	SINK_FILE,
	SINK_NULL,
	SINK_ALSA, /* a sound card (node/alsa.h) */
};

struct sink_config {
	enum sink_type type;
	char sub[SUB_NAME_MAX];
	/* rx = LIST: records the node's RX channels (rec.chans index
	 * them), whatever routes fill them, instead of one subscription. */
	bool rx;
	unsigned int nch; /* 0: every channel of the subscription */
	struct recorder_config rec;
	struct alsa_config alsa; /* type alsa: device, map, period... */
	int line;
};

enum ptp_run {
	PTP_RUN_OFF,	  /* no ptp4l: the media clock free-runs */
	PTP_RUN_EXTERNAL, /* ptp4l runs on its own; we ask it */
	PTP_RUN_SPAWN,	  /* the node starts and restarts ptp4l */
};

struct ptp_node_config {
	enum ptp_run run;
	enum mclock_mode clock;
	char uds[108]; /* "" = linuxptp's defaults */
	int domain;
	char phc[64];
	unsigned long long lock_threshold_ns;
	unsigned long long holdover_ns;
	char ptp4l[256];
	char ptp4l_config[4096];
	char ifname[32];
	int line;
};

/* [discovery]: SAP, mDNS and the RTSP responder (docs/config.md). */
struct discovery_config {
	bool sap;
	bool mdns;
	struct sockaddr_in sap_group; /* 0.0.0.0:0: 239.255.255.255:9875 */
	unsigned long long sap_interval_ns;
	int sap_ttl;
	unsigned int sap_timeout_factor;
	unsigned long long sap_timeout_floor_ns;
	unsigned int rtsp_port;
	char ifname[32];
};

#define CONFIG_MAX_D4	   16
#define CONFIG_MAX_D4_EXEC 32

/* [d4 NAME]: a program file, statements on its variables, and the socket
 * options of what its loops send. */
struct d4prog_config {
	char name[SOURCE_NAME_MAX];
	char file[4096];
	char exec[CONFIG_MAX_D4_EXEC][200];
	unsigned int nexec;
	char bind[CONFIG_MAX_D4_EXEC][200]; /* "LOOP udp ADDR:PORT" */
	unsigned int nbind;
	int dscp;
	int ttl;
	char ifname[32];
	int line;
};

struct node_config {
	char path[4096];
	char name[64];
	unsigned int status_interval_s;
	int rt_priority;
	unsigned int spin_us;
	char control[108]; /* UNIX datagram control socket, "" = none */
	bool api_off;		   /* [node] api = off */
	struct sockaddr_in api_addr; /* default 0.0.0.0:8080 */
	bool api_read_token;	   /* reads need the token too */
	char state_dir[4096];	   /* "" = $D4_STATE_DIR/NAME or /var/lib/d4node/NAME */
	char user[64];		   /* after start-up, "" = as started (privs.h) */
	unsigned int rx_channels;  /* the node's RX channels (default 8) */
	struct ptp_node_config ptp;

	struct source_config sources[CONFIG_MAX_SOURCES];
	unsigned int nsources;
	struct flow_config flows[CONFIG_MAX_FLOWS];
	int flow_line[CONFIG_MAX_FLOWS];
	unsigned int nflows;
	struct sub_config subs[CONFIG_MAX_SUBS];
	unsigned int nsubs;
	/* A subscription by stream name: the SDP, found by SAP or RAVENNA
	 * while the node runs, fills what the INI left out (sub_keys). */
	char sub_stream[CONFIG_MAX_SUBS][128];
	unsigned int sub_keys[CONFIG_MAX_SUBS];
	/* rx_channels/stream_channels: the RX channels it fills (n = 0:
	 * none, it feeds only sinks bound to it by name) */
	struct rx_map sub_rx[CONFIG_MAX_SUBS];
	struct discovery_config disco;
	struct sink_config sinks[CONFIG_MAX_SINKS];
	unsigned int nsinks;
	struct d4prog_config d4[CONFIG_MAX_D4];
	unsigned int nd4;
};

/* Parse @path. 0, or -errno / -EINVAL with "FILE:LINE: ..." in @err.
 * Relative paths in it are relative to the file's directory. */
int config_load(const char *path, struct node_config *cfg, char *err,
		size_t err_len);

/* The same for text in memory; @name stands for the file in messages and
 * relative paths stay as written. */
int config_parse_string(const char *text, const char *name,
			struct node_config *cfg, char *err, size_t err_len);

/* Fill subscription @i from a parsed SDP; keys the INI gave win. 0 or
 * -EINVAL (encoding not L24/L16, sinks asking for channels the stream
 * lacks) with the reason in @err. */
struct sdp_stream;
int config_sub_apply_sdp(struct node_config *cfg, unsigned int i,
			 const struct sdp_stream *st, char *err,
			 size_t err_len);

/* Check subscription @i's RX channels: inside the node's, as many as
 * the stream channels they take, those inside the stream (when its
 * channel count is known, @channels_known), none filled by another
 * subscription, the stream at the RX channels' rate (48 kHz). 0 or
 * -EINVAL / -EBUSY (taken) with the reason in @err. */
int config_check_rx_map(const struct node_config *cfg, unsigned int i,
			bool channels_known, char *err, size_t err_len);

/* The RX channels' sample rate. */
#define CONFIG_RX_RATE 48000

/* Index of the source/subscription called @name, or -1. */
int config_find_source(const struct node_config *cfg, const char *name);
int config_find_sub(const struct node_config *cfg, const char *name);

/* "1ms", "250us", "0.5s", "3000ns"; a bare number is in @bare_unit_ns.
 * 0 or -EINVAL. */
int config_parse_duration(const char *s, unsigned long long bare_unit_ns,
			  unsigned long long *out_ns);

/* "1-8,10" (1-based, ranges allowed) into 0-based @chans; returns the
 * count or -EINVAL. */
int config_parse_channels(const char *s, uint8_t *chans, unsigned int max);

#endif
