/* Unit tests for the PTP management codec: the exact bytes of a GET, every
 * field of the five datasets ptp4l answers with (laid out here by hand after
 * IEEE 1588-2008 §15.5 and linuxptp's tlv.h), error replies, and that no
 * malformed or cut reply is ever trusted or read past its end. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ptp/mgmt.h"

#define MGMT_BODY	48 /* header 34 + target 10 + hops 2 + action 1 + rsvd 1 */
#define ACTION_GET	0
#define ACTION_SET	1
#define ACTION_RESPONSE 2
#define ACTION_COMMAND	3
#define TLV_MANAGEMENT	1
#define TLV_MGMT_ERROR	2

static const uint8_t src_id[8] = {0x00, 0x1d, 0xc1, 0xff,
				  0xfe, 0x50, 0x36, 0x33};
static const uint8_t gm_a[8] = {0xac, 0xde, 0x48, 0xff, 0xfe, 0x00, 0x11, 0x22};
static const uint8_t parent_a[8] = {0x00, 0x0e, 0xfe, 0xff,
				    0xfe, 0x01, 0x02, 0x03};

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)(v >> 16));
	put16(p + 2, (uint16_t)v);
}

static void put64(uint8_t *p, uint64_t v)
{
	put32(p, (uint32_t)(v >> 32));
	put32(p + 4, (uint32_t)v);
}

/* A RESPONSE as ptp4l sends it: one TLV of @tlv_type whose lengthField is
 * 2 + @dlen (managementId then @data). Returns the message length. */
static size_t build_tlv_reply(uint8_t *buf, uint16_t seq, uint16_t tlv_type,
			      uint16_t id, const uint8_t *data, size_t dlen)
{
	size_t n = MGMT_BODY + 4 + 2 + dlen;

	memset(buf, 0, n);
	buf[0] = 0x0d; /* transportSpecific 0, messageType management */
	buf[1] = 0x02; /* versionPTP 2 */
	put16(buf + 2, (uint16_t)n);
	buf[4] = 0; /* domainNumber */
	memcpy(buf + 20, src_id, 8);
	put16(buf + 28, 1); /* sourcePortIdentity.portNumber */
	put16(buf + 30, seq);
	buf[32] = 0x04;
	buf[33] = 0x7f;
	/* targetPortIdentity: the requester's (all zero from d4) */
	buf[44] = 1; /* startingBoundaryHops */
	buf[45] = 1; /* boundaryHops */
	buf[46] = ACTION_RESPONSE;
	put16(buf + MGMT_BODY, tlv_type);
	put16(buf + MGMT_BODY + 2, (uint16_t)(2 + dlen));
	put16(buf + MGMT_BODY + 4, id);
	if (dlen)
		memcpy(buf + MGMT_BODY + 6, data, dlen);
	return n;
}

static size_t build_reply(uint8_t *buf, uint16_t seq, uint16_t id,
			  const uint8_t *data, size_t dlen)
{
	return build_tlv_reply(buf, seq, TLV_MANAGEMENT, id, data, dlen);
}

/* MANAGEMENT_ERROR_STATUS: managementErrorId, managementId, 4 reserved,
 * then an (empty) PTPText displayData. */
static size_t build_error(uint8_t *buf, uint16_t seq, uint16_t error_id,
			  uint16_t id)
{
	uint8_t d[6] = {0};

	put16(d, id);
	/* The builder writes its @id argument first: here managementErrorId. */
	return build_tlv_reply(buf, seq, TLV_MGMT_ERROR, error_id, d,
			       sizeof(d));
}

/* TIME_STATUS_NP (50 bytes): master_offset, ingress_time,
 * cumulativeScaledRateOffset, scaledLastGmPhaseChange, gmTimeBaseIndicator,
 * lastGmPhaseChange (12), gmPresent, gmIdentity. The fields d4 does not
 * read are filled with non-zero junk so a misplaced read shows. */
static void ds_time_status(uint8_t *d, int64_t master_offset, int64_t ingress,
			   int32_t csro, uint32_t gm_present,
			   const uint8_t gm[8])
{
	put64(d, (uint64_t)master_offset);
	put64(d + 8, (uint64_t)ingress);
	put32(d + 16, (uint32_t)csro);
	put32(d + 20, 0x5a5a5a5a);
	put16(d + 24, 0xa5a5);
	memset(d + 26, 0x77, 12);
	put32(d + 38, gm_present);
	memcpy(d + 42, gm, 8);
}

/* PARENT_DATA_SET (32 bytes): parentPortIdentity (10), parentStats,
 * reserved, observedParentOffsetScaledLogVariance (2),
 * observedParentClockPhaseChangeRate (4), grandmasterPriority1,
 * grandmasterClockQuality (class, accuracy, variance 2),
 * grandmasterPriority2, grandmasterIdentity (8). */
static void ds_parent(uint8_t *d, const uint8_t parent[8], uint16_t port,
		      uint8_t prio1, uint8_t cls, uint8_t prio2,
		      const uint8_t gm[8])
{
	memcpy(d, parent, 8);
	put16(d + 8, port);
	d[10] = 0xe1;
	d[11] = 0xe2;
	put16(d + 12, 0xe3e4);
	put32(d + 14, 0xe5e6e7e8);
	d[18] = prio1;
	d[19] = cls;
	d[20] = 0x21; /* clockAccuracy: within 100 ns */
	put16(d + 21, 0x4e5d);
	d[23] = prio2;
	memcpy(d + 24, gm, 8);
}

/* PORT_DATA_SET (26 bytes): portIdentity (10), portState,
 * logMinDelayReqInterval, peerMeanPathDelay (8), logAnnounceInterval,
 * announceReceiptTimeout, logSyncInterval, delayMechanism,
 * logMinPdelayReqInterval, versionNumber. */
static void ds_port(uint8_t *d, const uint8_t id[8], uint16_t port,
		    uint8_t state)
{
	memcpy(d, id, 8);
	put16(d + 8, port);
	d[10] = state;
	d[11] = 0xfd; /* -3 */
	put64(d + 12, 0xc1c2c3c4c5c6c7c8ull);
	d[20] = 1;
	d[21] = 3;
	d[22] = 0xfd;
	d[23] = 1;
	d[24] = 0;
	d[25] = 2;
}

/* TIME_PROPERTIES_DATA_SET (4 bytes): currentUtcOffset, flags
 * (LI_61 0x01, LI_59 0x02, UTC_OFF_VALID 0x04, PTP_TIMESCALE 0x08,
 * TIME_TRACEABLE 0x10, FREQ_TRACEABLE 0x20), timeSource. */
static void ds_props(uint8_t *d, int16_t utc, uint8_t flags, uint8_t source)
{
	put16(d, (uint16_t)utc);
	d[2] = flags;
	d[3] = source;
}

/* CURRENT_DATA_SET (18 bytes): stepsRemoved, offsetFromMaster and
 * meanPathDelay as TimeInterval (ns * 2^16). */
static void ds_current(uint8_t *d, uint16_t steps, int64_t off_scaled,
		       int64_t delay_scaled)
{
	put16(d, steps);
	put64(d + 2, (uint64_t)off_scaled);
	put64(d + 10, (uint64_t)delay_scaled);
}

/* Decode from a heap copy of exactly @len bytes, so ASan sees any read
 * past the end. */
static int decode(const uint8_t *buf, size_t len, struct mgmt_reply *r,
		  char *err, size_t err_len)
{
	uint8_t *copy = malloc(len ? len : 1);
	int rc;

	assert_non_null(copy);
	if (len)
		memcpy(copy, buf, len);
	rc = mgmt_decode(copy, len, r, err, err_len);
	free(copy);
	return rc;
}

/* Decoding @buf fails with -EINVAL and an error text containing @needle. */
static void assert_rejected(const uint8_t *buf, size_t len, const char *needle)
{
	struct mgmt_reply r;
	char err[160] = "";

	assert_int_equal(decode(buf, len, &r, err, sizeof(err)), -EINVAL);
	assert_true(err[0] != '\0');
	if (!strstr(err, needle))
		fail_msg("error '%s' does not mention '%s'", err, needle);
}

static void test_mgmt_encode_get_writes_exact_request_bytes(void **state)
{
	static const uint8_t want[54] = {
	    /* messageType 0xD, versionPTP 2, messageLength 54, domain 3 */
	    0x0d, 0x02, 0x00, 0x36, 0x03, 0x00, 0x00, 0x00,
	    /* correctionField, reserved, sourcePortIdentity: all zero */
	    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	    /* sequenceId 0xbeef, controlField 4, logMessageInterval 0x7f */
	    0xbe, 0xef, 0x04, 0x7f,
	    /* targetPortIdentity: every clock, every port */
	    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	    /* hops 0, 0; action GET; reserved */
	    0x00, 0x00, 0x00, 0x00,
	    /* TLV MANAGEMENT, length 2, TIME_STATUS_NP */
	    0x00, 0x01, 0x00, 0x02, 0xc0, 0x00};
	uint8_t buf[MGMT_MSG_MAX];

	memset(buf, 0xcc, sizeof(buf));
	assert_int_equal(
	    mgmt_encode_get(buf, sizeof(buf), MGMT_TIME_STATUS_NP, 3, 0xbeef),
	    sizeof(want));
	assert_memory_equal(buf, want, sizeof(want));
	/* Nothing written past the message. */
	assert_int_equal(buf[sizeof(want)], 0xcc);
}

static void test_mgmt_encode_get_places_id_domain_and_seq(void **state)
{
	static const uint16_t ids[] = {MGMT_CURRENT_DATA_SET,
				       MGMT_PARENT_DATA_SET,
				       MGMT_TIME_PROPERTIES_DATA_SET,
				       MGMT_PORT_DATA_SET, MGMT_TIME_STATUS_NP};
	uint8_t buf[64];
	size_t i;

	for (i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
		uint16_t seq = (uint16_t)(0xfffe + i); /* across the wrap */

		assert_int_equal(mgmt_encode_get(buf, sizeof(buf), ids[i],
						 (uint8_t)(i + 100), seq),
				 54);
		assert_int_equal(buf[0] & 0x0f, 0x0d);
		assert_int_equal(buf[1] & 0x0f, 2);
		assert_int_equal(buf[2] << 8 | buf[3], 54);
		assert_int_equal(buf[4], i + 100);
		assert_int_equal(buf[30] << 8 | buf[31], seq);
		assert_int_equal(buf[32], 4);
		assert_int_equal(buf[33], 0x7f);
		assert_int_equal(buf[46] & 0x0f, ACTION_GET);
		assert_int_equal(buf[48] << 8 | buf[49], TLV_MANAGEMENT);
		assert_int_equal(buf[50] << 8 | buf[51], 2);
		assert_int_equal(buf[52] << 8 | buf[53], ids[i]);
	}
}

static void test_mgmt_encode_get_refuses_a_too_small_buffer(void **state)
{
	uint8_t buf[64];

	memset(buf, 0xcc, sizeof(buf));
	assert_int_equal(mgmt_encode_get(buf, 53, MGMT_PORT_DATA_SET, 0, 1), 0);
	assert_int_equal(buf[0], 0xcc);
	assert_int_equal(mgmt_encode_get(buf, 54, MGMT_PORT_DATA_SET, 0, 1),
			 54);
}

static void test_mgmt_own_get_is_not_a_reply(void **state)
{
	uint8_t buf[64];
	struct mgmt_reply r;
	char err[80] = "";
	size_t n =
	    mgmt_encode_get(buf, sizeof(buf), MGMT_PARENT_DATA_SET, 0, 9);

	assert_int_equal(decode(buf, n, &r, err, sizeof(err)), -ENOMSG);
}

static void test_mgmt_decodes_time_status_np_fields(void **state)
{
	uint8_t d[50], buf[MGMT_MSG_MAX];
	struct mgmt_reply r;
	char err[80] = "";
	size_t n;

	ds_time_status(d, -123456789, 1795000000123456789ll, -27000, 1, gm_a);
	n = build_reply(buf, 0x4321, MGMT_TIME_STATUS_NP, d, sizeof(d));
	assert_int_equal(n, 104);
	memset(&r, 0xa5, sizeof(r));
	assert_int_equal(decode(buf, n, &r, err, sizeof(err)), 0);
	assert_int_equal(r.seq, 0x4321);
	assert_int_equal(r.id, MGMT_TIME_STATUS_NP);
	assert_false(r.error);
	assert_memory_equal(r.src_clock_id, src_id, 8);
	assert_true(r.u.ts.master_offset_ns == -123456789);
	assert_true(r.u.ts.ingress_time_ns == 1795000000123456789ll);
	assert_int_equal(r.u.ts.cumulative_scaled_rate_offset, -27000);
	assert_true(r.u.ts.gm_present);
	assert_memory_equal(r.u.ts.gm_id, gm_a, 8);

	/* No grandmaster; the largest negative offset survives. */
	ds_time_status(d, INT64_MIN, 0, INT32_MAX, 0, src_id);
	n = build_reply(buf, 1, MGMT_TIME_STATUS_NP, d, sizeof(d));
	assert_int_equal(decode(buf, n, &r, err, sizeof(err)), 0);
	assert_true(r.u.ts.master_offset_ns == INT64_MIN);
	assert_true(r.u.ts.ingress_time_ns == 0);
	assert_int_equal(r.u.ts.cumulative_scaled_rate_offset, INT32_MAX);
	assert_false(r.u.ts.gm_present);
	assert_memory_equal(r.u.ts.gm_id, src_id, 8);

	/* gmPresent is a 32-bit boolean: any non-zero bit counts. */
	ds_time_status(d, 5, 6, 0, 0x01000000, gm_a);
	n = build_reply(buf, 2, MGMT_TIME_STATUS_NP, d, sizeof(d));
	assert_int_equal(decode(buf, n, &r, err, sizeof(err)), 0);
	assert_true(r.u.ts.gm_present);
	assert_true(r.u.ts.master_offset_ns == 5);
	assert_true(r.u.ts.ingress_time_ns == 6);
}

static void test_mgmt_decodes_parent_data_set_fields(void **state)
{
	uint8_t d[32], buf[MGMT_MSG_MAX];
	struct mgmt_reply r;
	char err[80] = "";
	size_t n;

	ds_parent(d, parent_a, 0x0102, 128, 248, 127, gm_a);
	n = build_reply(buf, 77, MGMT_PARENT_DATA_SET, d, sizeof(d));
	assert_int_equal(n, 86);
	memset(&r, 0xa5, sizeof(r));
	assert_int_equal(decode(buf, n, &r, err, sizeof(err)), 0);
	assert_int_equal(r.seq, 77);
	assert_int_equal(r.id, MGMT_PARENT_DATA_SET);
	assert_false(r.error);
	assert_memory_equal(r.u.parent.parent_clock_id, parent_a, 8);
	assert_int_equal(r.u.parent.parent_port, 0x0102);
	assert_int_equal(r.u.parent.gm_priority1, 128);
	assert_int_equal(r.u.parent.gm_class, 248);
	assert_int_equal(r.u.parent.gm_priority2, 127);
	assert_memory_equal(r.u.parent.gm_id, gm_a, 8);
}

static void test_mgmt_decodes_port_data_set_state_and_identity(void **state)
{
	uint8_t d[26], buf[MGMT_MSG_MAX];
	struct mgmt_reply r;
	char err[80] = "";
	unsigned int s;
	size_t n;

	for (s = 0; s <= 255; s++) {
		ds_port(d, src_id, 0x0203, (uint8_t)s);
		n = build_reply(buf, (uint16_t)s, MGMT_PORT_DATA_SET, d,
				sizeof(d));
		assert_int_equal(n, 80);
		memset(&r, 0xa5, sizeof(r));
		assert_int_equal(decode(buf, n, &r, err, sizeof(err)), 0);
		assert_int_equal(r.id, MGMT_PORT_DATA_SET);
		assert_memory_equal(r.u.port.clock_id, src_id, 8);
		assert_int_equal(r.u.port.port, 0x0203);
		/* 1..9 are the IEEE 1588 states; anything else is NONE. */
		assert_int_equal(r.u.port.state,
				 s <= PTP_PS_SLAVE ? s : PTP_PS_NONE);
	}
	ds_port(d, src_id, 1, 9);
	n = build_reply(buf, 0, MGMT_PORT_DATA_SET, d, sizeof(d));
	assert_int_equal(decode(buf, n, &r, err, sizeof(err)), 0);
	assert_int_equal(r.u.port.state, PTP_PS_SLAVE);
}

static void test_mgmt_decodes_time_properties_offset_and_flags(void **state)
{
	uint8_t d[4], buf[MGMT_MSG_MAX];
	struct mgmt_reply r;
	char err[80] = "";
	size_t n;

	/* A grandmaster on TAI with a valid offset, from GPS (0x20). */
	ds_props(d, 37, 0x04 | 0x08 | 0x10 | 0x20, 0x20);
	n = build_reply(buf, 5, MGMT_TIME_PROPERTIES_DATA_SET, d, sizeof(d));
	assert_int_equal(n, 58);
	assert_int_equal(decode(buf, n, &r, err, sizeof(err)), 0);
	assert_int_equal(r.id, MGMT_TIME_PROPERTIES_DATA_SET);
	assert_int_equal(r.u.props.utc_offset_s, 37);
	assert_true(r.u.props.utc_offset_valid);
	assert_true(r.u.props.ptp_timescale);
	assert_int_equal(r.u.props.time_source, 0x20);

	/* Offset not valid, still PTP timescale; leap flags ignored. */
	ds_props(d, 36, 0x08 | 0x01 | 0x02, 0xa0);
	n = build_reply(buf, 6, MGMT_TIME_PROPERTIES_DATA_SET, d, sizeof(d));
	assert_int_equal(decode(buf, n, &r, err, sizeof(err)), 0);
	assert_int_equal(r.u.props.utc_offset_s, 36);
	assert_false(r.u.props.utc_offset_valid);
	assert_true(r.u.props.ptp_timescale);
	assert_int_equal(r.u.props.time_source, 0xa0);

	/* ARB timescale, valid offset; the field is signed. */
	ds_props(d, -2, 0x04, 0x90);
	n = build_reply(buf, 7, MGMT_TIME_PROPERTIES_DATA_SET, d, sizeof(d));
	assert_int_equal(decode(buf, n, &r, err, sizeof(err)), 0);
	assert_int_equal(r.u.props.utc_offset_s, -2);
	assert_true(r.u.props.utc_offset_valid);
	assert_false(r.u.props.ptp_timescale);

	/* Every other flag bit set: neither of the two is. */
	ds_props(d, 0, (uint8_t) ~(0x04 | 0x08), 0);
	n = build_reply(buf, 8, MGMT_TIME_PROPERTIES_DATA_SET, d, sizeof(d));
	assert_int_equal(decode(buf, n, &r, err, sizeof(err)), 0);
	assert_false(r.u.props.utc_offset_valid);
	assert_false(r.u.props.ptp_timescale);
}

static void test_mgmt_decodes_current_data_set_scaled_intervals(void **state)
{
	uint8_t d[18], buf[MGMT_MSG_MAX];
	struct mgmt_reply r;
	char err[80] = "";
	size_t n;

	ds_current(d, 2, -1500 * 65536ll, 42000 * 65536ll);
	n = build_reply(buf, 9, MGMT_CURRENT_DATA_SET, d, sizeof(d));
	assert_int_equal(n, 72);
	assert_int_equal(decode(buf, n, &r, err, sizeof(err)), 0);
	assert_int_equal(r.id, MGMT_CURRENT_DATA_SET);
	assert_int_equal(r.u.current.steps_removed, 2);
	assert_true(r.u.current.offset_from_master_ns == -1500);
	assert_true(r.u.current.mean_path_delay_ns == 42000);

	/* Sub-nanosecond fractions are dropped; large values survive. */
	ds_current(d, 65535, 3000000000ll * 65536 + 65535, 7 * 65536 + 1);
	n = build_reply(buf, 10, MGMT_CURRENT_DATA_SET, d, sizeof(d));
	assert_int_equal(decode(buf, n, &r, err, sizeof(err)), 0);
	assert_int_equal(r.u.current.steps_removed, 65535);
	assert_true(r.u.current.offset_from_master_ns == 3000000000ll);
	assert_true(r.u.current.mean_path_delay_ns == 7);

	ds_current(d, 0, -(1ll << 40) * 65536, 0);
	n = build_reply(buf, 11, MGMT_CURRENT_DATA_SET, d, sizeof(d));
	assert_int_equal(decode(buf, n, &r, err, sizeof(err)), 0);
	assert_true(r.u.current.offset_from_master_ns == -(1ll << 40));
	assert_true(r.u.current.mean_path_delay_ns == 0);
}

static void test_mgmt_decodes_error_status_as_error_with_ids(void **state)
{
	uint8_t buf[MGMT_MSG_MAX];
	struct mgmt_reply r;
	char err[80] = "";
	size_t n;

	/* NOT_SUPPORTED (0x0006) for TIME_STATUS_NP. */
	n = build_error(buf, 0x1111, 0x0006, MGMT_TIME_STATUS_NP);
	assert_int_equal(n, 60);
	memset(&r, 0xa5, sizeof(r));
	assert_int_equal(decode(buf, n, &r, err, sizeof(err)), 0);
	assert_true(r.error);
	assert_int_equal(r.error_id, 0x0006);
	assert_int_equal(r.id, MGMT_TIME_STATUS_NP);
	assert_int_equal(r.seq, 0x1111);
	assert_memory_equal(r.src_clock_id, src_id, 8);

	/* WRONG_VALUE (0x0003) for PORT_DATA_SET, with display text. */
	{
		uint8_t d[6 + 4] = {0};

		put16(d, MGMT_PORT_DATA_SET);
		d[6] = 3;
		memcpy(d + 7, "bad", 3);
		n = build_tlv_reply(buf, 2, TLV_MGMT_ERROR, 0x0003, d,
				    sizeof(d));
	}
	assert_int_equal(decode(buf, n, &r, err, sizeof(err)), 0);
	assert_true(r.error);
	assert_int_equal(r.error_id, 0x0003);
	assert_int_equal(r.id, MGMT_PORT_DATA_SET);

	/* A normal reply is not an error. */
	{
		uint8_t d[4];

		ds_props(d, 37, 0x0c, 0x20);
		n = build_reply(buf, 3, MGMT_TIME_PROPERTIES_DATA_SET, d, 4);
	}
	memset(&r, 0xff, sizeof(r));
	assert_int_equal(decode(buf, n, &r, err, sizeof(err)), 0);
	assert_false(r.error);
	assert_int_equal(r.error_id, 0);
}

static size_t valid_port_reply(uint8_t *buf)
{
	uint8_t d[26];

	ds_port(d, src_id, 1, PTP_PS_SLAVE);
	return build_reply(buf, 1, MGMT_PORT_DATA_SET, d, sizeof(d));
}

static void test_mgmt_rejects_reply_too_short_for_a_tlv(void **state)
{
	uint8_t buf[MGMT_MSG_MAX];
	size_t n = valid_port_reply(buf);

	assert_int_equal(n, 80);
	assert_rejected(buf, 0, "0");
	assert_rejected(buf, 1, "1");
	assert_rejected(buf, 34, "34");
	assert_rejected(buf, 51, "51");
	/* 52 bytes hold the TLV header; a messageLength of 52 then fits. */
	put16(buf + 2, 52);
	put16(buf + MGMT_BODY + 2, 0);
	assert_rejected(buf, 52, "management TLV");
}

static void test_mgmt_rejects_wrong_message_type(void **state)
{
	uint8_t buf[MGMT_MSG_MAX];
	struct mgmt_reply r;
	char err[80];
	size_t n = valid_port_reply(buf);

	buf[0] = 0x0b; /* Announce */
	assert_rejected(buf, n, "11");
	buf[0] = 0x00; /* Sync */
	assert_rejected(buf, n, "0");
	buf[0] = 0x0c; /* Signaling */
	assert_rejected(buf, n, "12");
	/* The high nibble is transportSpecific/majorSdoId, not the type. */
	buf[0] = 0x1d;
	assert_int_equal(decode(buf, n, &r, err, sizeof(err)), 0);
	assert_int_equal(r.u.port.state, PTP_PS_SLAVE);
}

static void test_mgmt_rejects_wrong_ptp_version(void **state)
{
	uint8_t buf[MGMT_MSG_MAX];
	struct mgmt_reply r;
	char err[80];
	size_t n = valid_port_reply(buf);

	buf[1] = 1;
	assert_rejected(buf, n, "1");
	buf[1] = 3;
	assert_rejected(buf, n, "3");
	/* 1588-2019 puts minorVersionPTP in the high nibble: still v2. */
	buf[1] = 0x12;
	assert_int_equal(decode(buf, n, &r, err, sizeof(err)), 0);
}

static void test_mgmt_rejects_message_length_not_fitting(void **state)
{
	uint8_t buf[MGMT_MSG_MAX];
	size_t n = valid_port_reply(buf);

	/* Claims one byte more than arrived. */
	put16(buf + 2, (uint16_t)(n + 1));
	assert_rejected(buf, n, "81");
	put16(buf + 2, 0xffff);
	assert_rejected(buf, n, "65535");
	/* Claims less than a TLV header. */
	put16(buf + 2, 51);
	assert_rejected(buf, n, "51");
	put16(buf + 2, 0);
	assert_rejected(buf, n, "0");
}

static void test_mgmt_rejects_tlv_length_running_past_message(void **state)
{
	uint8_t buf[MGMT_MSG_MAX];
	size_t n = valid_port_reply(buf);

	/* The TLV says 29 bytes of value; the message holds 28. */
	put16(buf + MGMT_BODY + 2, 29);
	assert_rejected(buf, n, "29");
	put16(buf + MGMT_BODY + 2, 0xffff);
	assert_rejected(buf, n, "65535");
	/* Enough bytes received, but messageLength ends the message first:
	 * the bytes after it are not the TLV's. */
	n = valid_port_reply(buf);
	memset(buf + n, 0, 16);
	put16(buf + 2, (uint16_t)(n - 2));
	assert_rejected(buf, n + 16, "28");
	/* And the same for an error TLV. */
	n = build_error(buf, 1, 6, MGMT_PORT_DATA_SET);
	put16(buf + MGMT_BODY + 2, 200);
	assert_rejected(buf, n, "200");
}

/* A reply for dataset @id whose data is @dlen bytes (wrong for @id). */
static void assert_dataset_len_rejected(uint16_t id, size_t dlen)
{
	uint8_t d[64], buf[MGMT_MSG_MAX];
	char num[16];
	size_t n;

	memset(d, 0x11, sizeof(d));
	n = build_reply(buf, 1, id, d, dlen);
	snprintf(num, sizeof(num), "%zu", dlen);
	assert_rejected(buf, n, num);
}

static void test_mgmt_rejects_dataset_of_wrong_length(void **state)
{
	static const struct {
		uint16_t id;
		size_t len;
	} sets[] = {
	    {MGMT_TIME_STATUS_NP, 50},	 {MGMT_PARENT_DATA_SET, 32},
	    {MGMT_PORT_DATA_SET, 26},	 {MGMT_TIME_PROPERTIES_DATA_SET, 4},
	    {MGMT_CURRENT_DATA_SET, 18},
	};
	uint8_t d[64], buf[MGMT_MSG_MAX];
	struct mgmt_reply r;
	char err[80];
	size_t i, n;

	for (i = 0; i < sizeof(sets) / sizeof(sets[0]); i++) {
		memset(d, 0, sizeof(d));
		n = build_reply(buf, 1, sets[i].id, d, sets[i].len);
		assert_int_equal(decode(buf, n, &r, err, sizeof(err)), 0);
		assert_int_equal(r.id, sets[i].id);
		/* Short, long, and odd either way. */
		assert_dataset_len_rejected(sets[i].id, sets[i].len - 2);
		assert_dataset_len_rejected(sets[i].id, sets[i].len - 1);
		assert_dataset_len_rejected(sets[i].id, sets[i].len + 1);
		assert_dataset_len_rejected(sets[i].id, sets[i].len + 2);
		assert_dataset_len_rejected(sets[i].id, 0);
	}
}

/* Every dataset d4 reads has an even length, so ptp4l never pads one: the
 * only accepted length is the exact one, also for a message that carries
 * bytes after the TLV. */
static void test_mgmt_accepts_exact_dataset_with_trailing_bytes(void **state)
{
	uint8_t d[26], buf[MGMT_MSG_MAX];
	struct mgmt_reply r;
	char err[80];
	size_t n;

	ds_port(d, src_id, 4, PTP_PS_MASTER);
	n = build_reply(buf, 1, MGMT_PORT_DATA_SET, d, sizeof(d));
	/* An extra (padding) TLV-less tail inside messageLength. */
	memset(buf + n, 0, 4);
	put16(buf + 2, (uint16_t)(n + 4));
	assert_int_equal(decode(buf, n + 4, &r, err, sizeof(err)), 0);
	assert_int_equal(r.u.port.state, PTP_PS_MASTER);
	assert_int_equal(r.u.port.port, 4);
}

static void test_mgmt_rejects_error_tlv_shorter_than_8_bytes(void **state)
{
	uint8_t buf[MGMT_MSG_MAX];
	struct mgmt_reply r;
	char err[80];
	size_t n;

	n = build_tlv_reply(buf, 1, TLV_MGMT_ERROR, 6, (const uint8_t *)"\0\0",
			    2);
	/* lengthField 4: errorId and managementId, no reserved bytes. */
	assert_rejected(buf, n, "4");
	n = build_tlv_reply(buf, 1, TLV_MGMT_ERROR, 6,
			    (const uint8_t *)"\xc0\0\0\0\0", 5);
	assert_rejected(buf, n, "7");
	n = build_tlv_reply(buf, 1, TLV_MGMT_ERROR, 6, NULL, 0);
	assert_rejected(buf, n, "2");
	/* Exactly 8 is enough. */
	n = build_tlv_reply(buf, 1, TLV_MGMT_ERROR, 6,
			    (const uint8_t *)"\xc0\0\0\0\0\0", 6);
	assert_int_equal(decode(buf, n, &r, err, sizeof(err)), 0);
	assert_true(r.error);
	assert_int_equal(r.error_id, 6);
	assert_int_equal(r.id, MGMT_TIME_STATUS_NP);
}

static void test_mgmt_ignores_requests_and_commands(void **state)
{
	static const uint8_t actions[] = {ACTION_GET, ACTION_SET,
					  ACTION_COMMAND, 4 /* ACK */};
	uint8_t buf[MGMT_MSG_MAX];
	struct mgmt_reply r;
	char err[80];
	size_t i, n;

	for (i = 0; i < sizeof(actions); i++) {
		n = valid_port_reply(buf);
		buf[46] = actions[i];
		assert_int_equal(decode(buf, n, &r, err, sizeof(err)), -ENOMSG);
	}
	/* The high nibble of the action byte is reserved. */
	n = valid_port_reply(buf);
	buf[46] = 0xf0 | ACTION_RESPONSE;
	assert_int_equal(decode(buf, n, &r, err, sizeof(err)), 0);
}

static void test_mgmt_ignores_unknown_tlv_and_unknown_dataset(void **state)
{
	uint8_t d[40] = {0}, buf[MGMT_MSG_MAX];
	struct mgmt_reply r;
	char err[80];
	size_t n;

	/* ORGANIZATION_EXTENSION, well-formed. */
	n = build_tlv_reply(buf, 1, 0x0003, 0x1234, d, 8);
	assert_int_equal(decode(buf, n, &r, err, sizeof(err)), -ENOMSG);
	n = build_tlv_reply(buf, 1, 0x7fff, 0, d, 0);
	assert_int_equal(decode(buf, n, &r, err, sizeof(err)), -ENOMSG);
	/* DEFAULT_DATA_SET (0x2000, 20 bytes): we never ask for it. */
	n = build_reply(buf, 1, 0x2000, d, 20);
	assert_int_equal(decode(buf, n, &r, err, sizeof(err)), -ENOMSG);
	/* PORT_PROPERTIES_NP, another implementation-specific one. */
	n = build_reply(buf, 1, 0xc004, d, 40);
	assert_int_equal(decode(buf, n, &r, err, sizeof(err)), -ENOMSG);
	/* NULL_MANAGEMENT with no data. */
	n = build_reply(buf, 1, 0x0000, d, 0);
	assert_int_equal(decode(buf, n, &r, err, sizeof(err)), -ENOMSG);
}

static void test_mgmt_rejects_without_an_error_buffer(void **state)
{
	uint8_t buf[MGMT_MSG_MAX];
	struct mgmt_reply r;
	size_t n = valid_port_reply(buf);

	assert_int_equal(mgmt_decode(buf, 10, &r, NULL, 0), -EINVAL);
	put16(buf + MGMT_BODY + 2, 0xffff);
	assert_int_equal(mgmt_decode(buf, n, &r, NULL, 0), -EINVAL);
}

/* Each cut of a valid reply either fails or, when the cut still holds the
 * whole message (bytes after messageLength), decodes as the full one. */
static void check_truncations(const uint8_t *full, size_t msg_len, size_t total)
{
	struct mgmt_reply whole, r;
	char err[160];
	size_t cut;

	assert_int_equal(decode(full, total, &whole, err, sizeof(err)), 0);
	for (cut = 0; cut < total; cut++) {
		int rc;

		err[0] = '\0';
		rc = decode(full, cut, &r, err, sizeof(err));
		if (cut < msg_len) {
			if (rc != -EINVAL)
				fail_msg("cut at %zu of %zu: rc %d", cut,
					 msg_len, rc);
			assert_true(err[0] != '\0');
		} else {
			assert_int_equal(rc, 0);
			assert_int_equal(r.id, whole.id);
			assert_int_equal(r.seq, whole.seq);
			assert_memory_equal(&r.u, &whole.u, sizeof(r.u));
		}
	}
}

static void test_mgmt_every_truncation_of_a_reply_is_rejected(void **state)
{
	uint8_t d[64], buf[MGMT_MSG_MAX];
	size_t n;

	ds_time_status(d, -5, 6, 7, 1, gm_a);
	n = build_reply(buf, 1, MGMT_TIME_STATUS_NP, d, 50);
	check_truncations(buf, n, n);
	ds_parent(d, parent_a, 1, 128, 6, 128, gm_a);
	n = build_reply(buf, 2, MGMT_PARENT_DATA_SET, d, 32);
	check_truncations(buf, n, n);
	ds_port(d, src_id, 1, PTP_PS_SLAVE);
	n = build_reply(buf, 3, MGMT_PORT_DATA_SET, d, 26);
	check_truncations(buf, n, n);
	ds_props(d, 37, 0x0c, 0x20);
	n = build_reply(buf, 4, MGMT_TIME_PROPERTIES_DATA_SET, d, 4);
	check_truncations(buf, n, n);
	ds_current(d, 1, -65536, 65536);
	n = build_reply(buf, 5, MGMT_CURRENT_DATA_SET, d, 18);
	check_truncations(buf, n, n);
	n = build_error(buf, 6, 6, MGMT_CURRENT_DATA_SET);
	check_truncations(buf, n, n);
	/* 16 bytes of trailer after a complete message: cuts into the
	 * trailer still hold the message. */
	ds_port(d, src_id, 1, PTP_PS_LISTENING);
	n = build_reply(buf, 7, MGMT_PORT_DATA_SET, d, 26);
	memset(buf + n, 0xee, 16);
	check_truncations(buf, n, n + 16);
}

/* Corrupt one byte of a valid reply at a time, every value: the decoder
 * must stay in bounds (ASan) and answer 0, -EINVAL or -ENOMSG. */
static void test_mgmt_single_byte_corruptions_stay_in_bounds(void **state)
{
	uint8_t d[50], buf[MGMT_MSG_MAX];
	struct mgmt_reply r;
	char err[160];
	size_t n, pos;
	unsigned int v;

	ds_time_status(d, -5, 6, 7, 1, gm_a);
	n = build_reply(buf, 1, MGMT_TIME_STATUS_NP, d, sizeof(d));
	for (pos = 0; pos < MGMT_BODY + 6; pos++) {
		uint8_t keep = buf[pos];

		for (v = 0; v < 256; v++) {
			int rc;

			buf[pos] = (uint8_t)v;
			rc = decode(buf, n, &r, err, sizeof(err));
			assert_true(rc == 0 || rc == -EINVAL || rc == -ENOMSG);
		}
		buf[pos] = keep;
	}
}

static void test_mgmt_port_state_names(void **state)
{
	static const char *const want[] = {
	    "NONE",	    "INITIALIZING", "FAULTY", "DISABLED",
	    "LISTENING",    "PRE_MASTER",   "MASTER", "PASSIVE",
	    "UNCALIBRATED", "SLAVE",
	};
	unsigned int s;

	for (s = 0; s < sizeof(want) / sizeof(want[0]); s++)
		assert_string_equal(ptp_port_state_name((enum ptp_port_state)s),
				    want[s]);
	assert_string_equal(ptp_port_state_name(PTP_PS_SLAVE), "SLAVE");
	assert_string_equal(ptp_port_state_name(PTP_PS_MASTER), "MASTER");
	assert_string_equal(ptp_port_state_name((enum ptp_port_state)10), "?");
	assert_string_equal(ptp_port_state_name((enum ptp_port_state) - 1),
			    "?");
}

static void test_mgmt_clock_id_str_is_dashed_upper_hex(void **state)
{
	static const uint8_t zero[8] = {0};
	static const uint8_t ones[8] = {0xff, 0xff, 0xff, 0xff,
					0xff, 0xff, 0xff, 0xff};
	char buf[24];

	memset(buf, 'x', sizeof(buf));
	assert_ptr_equal(ptp_clock_id_str(src_id, buf, sizeof(buf)), buf);
	assert_string_equal(buf, "00-1D-C1-FF-FE-50-36-33");
	assert_string_equal(ptp_clock_id_str(gm_a, buf, sizeof(buf)),
			    "AC-DE-48-FF-FE-00-11-22");
	assert_string_equal(ptp_clock_id_str(zero, buf, sizeof(buf)),
			    "00-00-00-00-00-00-00-00");
	assert_string_equal(ptp_clock_id_str(ones, buf, sizeof(buf)),
			    "FF-FF-FF-FF-FF-FF-FF-FF");
	/* A short buffer is cut, terminated, and not overrun. */
	{
		char small[9];

		memset(small, 'x', sizeof(small));
		ptp_clock_id_str(gm_a, small, 6);
		assert_string_equal(small, "AC-DE");
		assert_int_equal(small[6], 'x');
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_mgmt_encode_get_writes_exact_request_bytes),
	    cmocka_unit_test(test_mgmt_encode_get_places_id_domain_and_seq),
	    cmocka_unit_test(test_mgmt_encode_get_refuses_a_too_small_buffer),
	    cmocka_unit_test(test_mgmt_own_get_is_not_a_reply),
	    cmocka_unit_test(test_mgmt_decodes_time_status_np_fields),
	    cmocka_unit_test(test_mgmt_decodes_parent_data_set_fields),
	    cmocka_unit_test(
		test_mgmt_decodes_port_data_set_state_and_identity),
	    cmocka_unit_test(
		test_mgmt_decodes_time_properties_offset_and_flags),
	    cmocka_unit_test(
		test_mgmt_decodes_current_data_set_scaled_intervals),
	    cmocka_unit_test(test_mgmt_decodes_error_status_as_error_with_ids),
	    cmocka_unit_test(test_mgmt_rejects_reply_too_short_for_a_tlv),
	    cmocka_unit_test(test_mgmt_rejects_wrong_message_type),
	    cmocka_unit_test(test_mgmt_rejects_wrong_ptp_version),
	    cmocka_unit_test(test_mgmt_rejects_message_length_not_fitting),
	    cmocka_unit_test(test_mgmt_rejects_tlv_length_running_past_message),
	    cmocka_unit_test(test_mgmt_rejects_dataset_of_wrong_length),
	    cmocka_unit_test(
		test_mgmt_accepts_exact_dataset_with_trailing_bytes),
	    cmocka_unit_test(test_mgmt_rejects_error_tlv_shorter_than_8_bytes),
	    cmocka_unit_test(test_mgmt_ignores_requests_and_commands),
	    cmocka_unit_test(test_mgmt_ignores_unknown_tlv_and_unknown_dataset),
	    cmocka_unit_test(test_mgmt_rejects_without_an_error_buffer),
	    cmocka_unit_test(test_mgmt_every_truncation_of_a_reply_is_rejected),
	    cmocka_unit_test(test_mgmt_single_byte_corruptions_stay_in_bounds),
	    cmocka_unit_test(test_mgmt_port_state_names),
	    cmocka_unit_test(test_mgmt_clock_id_str_is_dashed_upper_hex),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
