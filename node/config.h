/* The node's INI configuration (docs/config.md lists every key; the keys,
 * their types, defaults and ranges are node/settings.c's table). Parsing
 * checks every value and every cross-reference; an error names the file,
 * line, section and key, and quotes the bad value. This header owns the
 * parsed file: the sections as typed structs, nothing that runs. */
#ifndef D4_NODE_CONFIG_H
#define D4_NODE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "node/alsa.h"
#include "node/flow.h"
#include "node/recorder.h"
#include "node/rx.h"
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

/* [sink NAME]: records (or plays) one subscription's stream channels, or
 * some of the node's RX channels. */
struct sink_config {
	char name[SOURCE_NAME_MAX];
	enum sink_type type;
	char sub[SUB_NAME_MAX];		    /* subscription = NAME */
	unsigned int nrx;		    /* rx = LIST: RX channels ... */
	uint8_t rx[SOURCE_MAX_CHANNELS];    /* ... 0-based */
	unsigned int nch;		    /* channels = LIST; 0: all */
	uint8_t chans[SOURCE_MAX_CHANNELS]; /* stream channels, 0-based */
	char path[4096];
	int file_format; /* libsndfile major format */
	int bits;	 /* libsndfile PCM subtype */
	enum start_mode start;
	uint64_t start_ns;	 /* START_AT */
	uint64_t duration_ns;	 /* 0: until the node stops */
	struct alsa_config alsa; /* type alsa: device, map, period... */
};

/* A file recorder's config for sink @k of a stream of @stream_channels
 * channels at @rate (RX channels: the bus's). 0, or -EINVAL with the
 * reason in @err (a channel the stream lacks). */
int sink_recorder_config(const struct sink_config *k,
			 unsigned int stream_channels, uint32_t rate,
			 struct recorder_config *out, char *err,
			 size_t err_len);

enum ptp_run {
	PTP_RUN_OFF,	  /* no ptp4l: the media clock free-runs */
	PTP_RUN_EXTERNAL, /* ptp4l runs on its own; we ask it */
	PTP_RUN_SPAWN,	  /* the node starts and restarts ptp4l */
};

struct ptp_node_config {
	enum ptp_run run;
	enum mclock_mode clock;
	char uds[108]; /* "" = linuxptp's defaults */
	unsigned int domain;
	char phc[64];
	uint64_t lock_threshold_ns;
	uint64_t holdover_ns;
	char ptp4l[256];
	char ptp4l_config[4096];
	char ifname[32];
};

/* [discovery]: SAP, mDNS and the RTSP responder (docs/config.md). */
struct discovery_config {
	bool sap;
	bool mdns;
	struct sockaddr_in sap_group; /* 0.0.0.0:0: 239.255.255.255:9875 */
	uint64_t sap_interval_ns;
	unsigned int sap_ttl;
	unsigned int sap_timeout_factor;
	uint64_t sap_timeout_floor_ns;
	unsigned int rtsp_port;
	char ifname[32];
};

#define CONFIG_MAX_D4	   16
#define CONFIG_MAX_D4_EXEC 32
#define CONFIG_D4_LINE	   200

/* [d4 NAME]: a program file, statements on its variables, and the socket
 * options of what its loops send. */
struct d4prog_config {
	char name[SOURCE_NAME_MAX];
	char file[4096];
	char exec[CONFIG_MAX_D4_EXEC][CONFIG_D4_LINE];
	unsigned int nexec;
	char bind[CONFIG_MAX_D4_EXEC]
		 [CONFIG_D4_LINE]; /* "LOOP udp ADDR:PORT" */
	unsigned int nbind;
	unsigned int dscp;
	unsigned int ttl;
	char ifname[32];
	int backend;		       /* enum d4_backend */
	unsigned int sends_per_packet; /* the loops' send budgets */
	unsigned int sends_per_second;
};

#define CONFIG_MAX_REGISTRIES 8
#define CONFIG_URL_MAX	      256

enum nmos_write_auth {
	NMOS_AUTH_TOKEN, /* the node's token, or one of tokens_file's */
	NMOS_AUTH_OPEN,	 /* no token: for controllers that send none */
};

/* [nmos]: IS-04 Node API and registration, IS-05 (docs/nmos.md). */
struct nmos_config {
	bool enable;
	char registry[CONFIG_MAX_REGISTRIES][CONFIG_URL_MAX]; /* in order */
	unsigned int nregistry;
	bool dns_sd; /* browse _nmos-register._tcp */
	bool p2p;    /* _nmos-node._tcp while no registry is found */
	uint64_t heartbeat_ns;
	unsigned int receiver_channels; /* RX channels per receiver */
	uint64_t latency_ns; /* of the subscriptions IS-05 makes */
	bool has_host;
	struct in_addr host; /* the address in hrefs; 0: the interface's */
	char interface2[32]; /* receivers' second leg (ST 2022-7), or "" */
	enum nmos_write_auth write_auth;
	char tokens_file[4096]; /* more bearer tokens, one a line */
};

struct node_config {
	char path[4096];
	/* [node] */
	char name[64];
	unsigned int status_interval_s;
	unsigned int rt_priority;
	unsigned int spin_us;
	bool api_off;		     /* api = off */
	struct sockaddr_in api_addr; /* default 0.0.0.0:8080 */
	bool api_read_token;	     /* reads need the token too */
	bool pairing;		     /* d4ctl login by a code in the log */
	char state_dir[4096]; /* "" = $D4_STATE_DIR/NAME or /var/lib/d4node/NAME
			       */
	char recordings_dir[4096]; /* "" = STATE_DIR/recordings */
	char user[64];	      /* after start-up, "" = as started (privs.h) */
	unsigned int rx_channels; /* the node's RX channels (default 8) */
	struct ptp_node_config ptp;
	struct discovery_config disco;
	struct nmos_config nmos;

	struct source_config sources[CONFIG_MAX_SOURCES];
	unsigned int nsources;
	struct flow_config flows[CONFIG_MAX_FLOWS];
	unsigned int nflows;
	struct sub_settings subs[CONFIG_MAX_SUBS];
	unsigned int nsubs;
	struct sink_config sinks[CONFIG_MAX_SINKS];
	unsigned int nsinks;
	struct d4prog_config d4[CONFIG_MAX_D4];
	unsigned int nd4;
};

/* Parse @path into @cfg (heap: it is large). 0, or -errno / -EINVAL with
 * "FILE:LINE: ..." in @err. Relative paths in it are relative to the
 * file's directory. */
int config_load(const char *path, struct node_config *cfg, char *err,
		size_t err_len);

/* The same for text in memory; @name stands for the file in messages and
 * relative paths stay as written. */
int config_parse_string(const char *text, const char *name,
			struct node_config *cfg, char *err, size_t err_len);

/* The RX channels' sample rate. */
#define CONFIG_RX_RATE 48000

/* Index of the source/subscription called @name, or -1. */
int config_find_source(const struct node_config *cfg, const char *name);
int config_find_sub(const struct node_config *cfg, const char *name);

#endif
