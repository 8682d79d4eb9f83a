/* IEEE 1588 management messages as ptp4l speaks them on its UNIX socket:
 * GET requests out, RESPONSE/error replies in. Pure encode/decode, no I/O,
 * so every byte of a reply is checked here (and fuzzed). */
#ifndef D4_PTP_MGMT_H
#define D4_PTP_MGMT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MGMT_CURRENT_DATA_SET	      0x2001
#define MGMT_PARENT_DATA_SET	      0x2002
#define MGMT_TIME_PROPERTIES_DATA_SET 0x2003
#define MGMT_PORT_DATA_SET	      0x2004
#define MGMT_TIME_STATUS_NP	      0xC000

/* The largest request we build and reply we accept. */
#define MGMT_MSG_MAX 512

enum ptp_port_state {
	PTP_PS_NONE = 0,
	PTP_PS_INITIALIZING = 1,
	PTP_PS_FAULTY,
	PTP_PS_DISABLED,
	PTP_PS_LISTENING,
	PTP_PS_PRE_MASTER,
	PTP_PS_MASTER,
	PTP_PS_PASSIVE,
	PTP_PS_UNCALIBRATED,
	PTP_PS_SLAVE,
};

struct mgmt_time_status {
	int64_t master_offset_ns;
	int64_t ingress_time_ns;
	int32_t cumulative_scaled_rate_offset;
	bool gm_present;
	uint8_t gm_id[8];
};

struct mgmt_parent {
	uint8_t parent_clock_id[8];
	uint16_t parent_port;
	uint8_t gm_priority1, gm_priority2, gm_class;
	uint8_t gm_id[8];
};

struct mgmt_port {
	uint8_t clock_id[8]; /* this ptp4l's own clock identity */
	uint16_t port;
	enum ptp_port_state state;
};

struct mgmt_time_props {
	int16_t utc_offset_s;
	bool utc_offset_valid;
	bool ptp_timescale;
	uint8_t time_source;
};

struct mgmt_current {
	uint16_t steps_removed;
	int64_t offset_from_master_ns;
	int64_t mean_path_delay_ns;
};

/* A decoded reply: which dataset, and its fields. */
struct mgmt_reply {
	uint16_t seq;
	uint16_t id;	   /* MGMT_* */
	bool error;	   /* a MANAGEMENT_ERROR_STATUS TLV */
	uint16_t error_id; /* its managementErrorId */
	uint8_t src_clock_id[8];
	union {
		struct mgmt_time_status ts;
		struct mgmt_parent parent;
		struct mgmt_port port;
		struct mgmt_time_props props;
		struct mgmt_current current;
	} u;
};

/* Build a GET for dataset @id in @domain with sequence @seq into @buf of
 * @len >= 54 bytes. Returns 54, or 0 when @buf is too small. */
size_t mgmt_encode_get(uint8_t *buf, size_t len, uint16_t id, uint8_t domain,
		       uint16_t seq);

/* Decode one reply. -EINVAL with a reason in @err for anything that is not
 * a well-formed management RESPONSE of a dataset we asked about; -ENOMSG for
 * a well-formed message we do not use (a request echoed, another TLV). */
int mgmt_decode(const uint8_t *buf, size_t len, struct mgmt_reply *out,
		char *err, size_t err_len);

const char *ptp_port_state_name(enum ptp_port_state s);
/* "00-1D-C1-FF-FE-50-36-33" into @buf (at least 24 bytes). */
const char *ptp_clock_id_str(const uint8_t id[8], char *buf, size_t len);

#endif
