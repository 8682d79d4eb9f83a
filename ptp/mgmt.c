/* PTP management codec. Layout (IEEE 1588-2008 §15): a 34-byte common
 * header, 10-byte target port, hops, action; then TLVs. ptp4l answers a GET
 * with one RESPONSE carrying one MANAGEMENT TLV (or MANAGEMENT_ERROR_STATUS).
 * The TLV's length field is never trusted: it must fit the message and be
 * exactly what the dataset needs (ptp4l pads odd datasets to even). */
#include "ptp/mgmt.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define HDR_LEN		34
#define MGMT_BODY	(HDR_LEN + 10 + 1 + 1 + 1 + 1) /* 48: first TLV */
#define TLV_MANAGEMENT	0x0001
#define TLV_MGMT_ERROR	0x0002
#define ACTION_GET	0
#define ACTION_RESPONSE 2
#define MSG_MANAGEMENT	0xD

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

static int64_t get64(const uint8_t *p)
{
	return (int64_t)((uint64_t)get32(p) << 32 | get32(p + 4));
}

size_t mgmt_encode_get(uint8_t *buf, size_t len, uint16_t id, uint8_t domain,
		       uint16_t seq)
{
	size_t n = MGMT_BODY + 6;

	if (len < n)
		return 0;
	memset(buf, 0, n);
	buf[0] = MSG_MANAGEMENT;
	buf[1] = 2; /* versionPTP */
	put16(buf + 2, (uint16_t)n);
	buf[4] = domain;
	/* sourcePortIdentity: zero clock id, port from our pid is not needed;
	 * ptp4l answers to the socket address. */
	put16(buf + 30, seq);
	buf[32] = 0x04;			 /* controlField: management */
	buf[33] = 0x7f;			 /* logMessageInterval */
	memset(buf + HDR_LEN, 0xff, 10); /* target: all clocks, all ports */
	buf[HDR_LEN + 10] = 0;		 /* startingBoundaryHops */
	buf[HDR_LEN + 11] = 0;		 /* boundaryHops */
	buf[HDR_LEN + 12] = ACTION_GET;
	put16(buf + MGMT_BODY, TLV_MANAGEMENT);
	put16(buf + MGMT_BODY + 2, 2);
	put16(buf + MGMT_BODY + 4, id);
	return n;
}

/* Exact data lengths (ptp4l pads to an even length). */
static size_t dataset_len(uint16_t id)
{
	switch (id) {
	case MGMT_CURRENT_DATA_SET:
		return 18;
	case MGMT_PARENT_DATA_SET:
		return 32;
	case MGMT_TIME_PROPERTIES_DATA_SET:
		return 4;
	case MGMT_PORT_DATA_SET:
		return 26;
	case MGMT_TIME_STATUS_NP:
		return 50;
	}
	return 0;
}

__attribute__((format(printf, 3, 4))) static int bad(char *err, size_t len,
						     const char *fmt, ...)
{
	va_list ap;

	if (err && len) {
		va_start(ap, fmt);
		vsnprintf(err, len, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

static void decode_dataset(uint16_t id, const uint8_t *d,
			   struct mgmt_reply *out)
{
	switch (id) {
	case MGMT_TIME_STATUS_NP:
		out->u.ts.master_offset_ns = get64(d);
		out->u.ts.ingress_time_ns = get64(d + 8);
		out->u.ts.cumulative_scaled_rate_offset =
		    (int32_t)get32(d + 16);
		/* +4 scaledLastGmPhaseChange, +2 gmTimeBaseIndicator,
		 * +12 lastGmPhaseChange */
		out->u.ts.gm_present = get32(d + 38) != 0;
		memcpy(out->u.ts.gm_id, d + 42, 8);
		break;
	case MGMT_PARENT_DATA_SET:
		memcpy(out->u.parent.parent_clock_id, d, 8);
		out->u.parent.parent_port = get16(d + 8);
		out->u.parent.gm_priority1 = d[18];
		out->u.parent.gm_class = d[19];
		out->u.parent.gm_priority2 = d[23];
		memcpy(out->u.parent.gm_id, d + 24, 8);
		break;
	case MGMT_PORT_DATA_SET:
		memcpy(out->u.port.clock_id, d, 8);
		out->u.port.port = get16(d + 8);
		out->u.port.state = d[10] <= PTP_PS_SLAVE
					? (enum ptp_port_state)d[10]
					: PTP_PS_NONE;
		break;
	case MGMT_TIME_PROPERTIES_DATA_SET:
		out->u.props.utc_offset_s = (int16_t)get16(d);
		out->u.props.utc_offset_valid = d[2] & 0x04;
		out->u.props.ptp_timescale = d[2] & 0x08;
		out->u.props.time_source = d[3];
		break;
	case MGMT_CURRENT_DATA_SET:
		out->u.current.steps_removed = get16(d);
		/* TimeInterval: ns scaled by 2^16 */
		out->u.current.offset_from_master_ns = get64(d + 2) / 65536;
		out->u.current.mean_path_delay_ns = get64(d + 10) / 65536;
		break;
	}
}

int mgmt_decode(const uint8_t *buf, size_t len, struct mgmt_reply *out,
		char *err, size_t err_len)
{
	size_t msg_len, tlv_len, want;
	uint16_t tlv_type, id;
	const uint8_t *tlv;

	if (len < MGMT_BODY + 4)
		return bad(err, err_len, "reply of %zu bytes is too short",
			   len);
	if ((buf[0] & 0x0f) != MSG_MANAGEMENT)
		return bad(err, err_len, "message type %u is not management",
			   buf[0] & 0x0f);
	if ((buf[1] & 0x0f) != 2)
		return bad(err, err_len, "PTP version %u, want 2",
			   buf[1] & 0x0f);
	msg_len = get16(buf + 2);
	if (msg_len < MGMT_BODY + 4 || msg_len > len)
		return bad(err, err_len,
			   "messageLength %zu does not fit the %zu bytes "
			   "received",
			   msg_len, len);
	if ((buf[HDR_LEN + 12] & 0x0f) != ACTION_RESPONSE)
		return -ENOMSG; /* e.g. our own GET, or a SET/COMMAND */
	memset(out, 0, sizeof(*out));
	memcpy(out->src_clock_id, buf + 20, 8);
	out->seq = get16(buf + 30);
	tlv = buf + MGMT_BODY;
	tlv_type = get16(tlv);
	tlv_len = get16(tlv + 2);
	if (MGMT_BODY + 4 + tlv_len > msg_len)
		return bad(err, err_len,
			   "TLV length %zu runs past the %zu-byte message",
			   tlv_len, msg_len);
	if (tlv_type == TLV_MGMT_ERROR) {
		if (tlv_len < 8)
			return bad(err, err_len,
				   "error TLV of %zu bytes is too short",
				   tlv_len);
		out->error = true;
		out->error_id = get16(tlv + 4);
		out->id = get16(tlv + 6);
		return 0;
	}
	if (tlv_type != TLV_MANAGEMENT)
		return -ENOMSG;
	if (tlv_len < 2)
		return bad(err, err_len, "management TLV of %zu bytes",
			   tlv_len);
	id = get16(tlv + 4);
	want = dataset_len(id);
	if (!want)
		return -ENOMSG;
	if (tlv_len - 2 != want && tlv_len - 2 != want + (want & 1))
		return bad(err, err_len,
			   "dataset 0x%04x has %zu bytes, want %zu", id,
			   tlv_len - 2, want);
	out->id = id;
	decode_dataset(id, tlv + 6, out);
	return 0;
}

const char *ptp_port_state_name(enum ptp_port_state s)
{
	static const char *const names[] = {
	    "NONE",	    "INITIALIZING", "FAULTY", "DISABLED",
	    "LISTENING",    "PRE_MASTER",   "MASTER", "PASSIVE",
	    "UNCALIBRATED", "SLAVE",
	};

	return (unsigned int)s < sizeof(names) / sizeof(names[0]) ? names[s]
								  : "?";
}

const char *ptp_clock_id_str(const uint8_t id[8], char *buf, size_t len)
{
	snprintf(buf, len, "%02X-%02X-%02X-%02X-%02X-%02X-%02X-%02X", id[0],
		 id[1], id[2], id[3], id[4], id[5], id[6], id[7]);
	return buf;
}
