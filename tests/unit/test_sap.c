/* SAP: packets round-trip with and without the MIME type, auth data is
 * skipped, encrypted/compressed/IPv6/other-payload packets are refused with
 * a reason, every truncation is handled inside its buffer; the table keys,
 * refreshes, changes, deletes, flags our own origin, times entries out on
 * an injected clock and stays at its cap under a flood, evicting one-shot
 * sessions before ones announced twice (segmented LRU); the announcer
 * bursts, repeats and deletes over a real socket. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/loop.h"
#include "discovery/sap.h"
#include "qemu_user.h"

#define SEC 1000000000ull
#define MS  1000000ull

static struct in_addr ip(const char *s)
{
	struct in_addr a;

	assert_int_equal(inet_pton(AF_INET, s, &a), 1);
	return a;
}

/* An AES67 SDP with the given o= numbers and s= name. */
static const char *mk_sdp(char *buf, size_t len, uint64_t id, uint64_t ver,
			  const char *origin, const char *name)
{
	snprintf(buf, len,
		 "v=0\r\n"
		 "o=- %llu %llu IN IP4 %s\r\n"
		 "s=%s\r\n"
		 "c=IN IP4 239.69.1.2/32\r\n"
		 "t=0 0\r\n"
		 "m=audio 5004 RTP/AVP 98\r\n"
		 "a=rtpmap:98 L24/48000/2\r\n"
		 "a=ptime:1\r\n"
		 "a=ts-refclk:ptp=IEEE1588-2008:00-11-22-FF-FE-33-44-55:0\r\n"
		 "a=mediaclk:direct=0\r\n",
		 (unsigned long long)id, (unsigned long long)ver, origin, name);
	return buf;
}

/* @len bytes of @src in a buffer of exactly that size, so ASan sees any
 * read past the end. */
static uint8_t *exact(const uint8_t *src, size_t len)
{
	uint8_t *p = malloc(len ? len : 1);

	assert_non_null(p);
	if (len)
		memcpy(p, src, len);
	return p;
}

/* ---- codec ---- */

static void test_sap_pack_unpack_round_trip_with_mime(void **state)
{
	char sdp[1024], err[128];
	uint8_t pkt[SAP_PACKET_MAX];
	struct sap_msg m;
	int n;

	mk_sdp(sdp, sizeof(sdp), 42, 7, "10.0.0.1", "Stage left");
	n = sap_pack(SAP_ANNOUNCE, ip("10.0.0.1"), 0xbeef, sdp, strlen(sdp),
		     pkt, sizeof(pkt));
	assert_int_equal(n, SAP_HEADER_LEN + 16 + (int)strlen(sdp));
	assert_int_equal(pkt[0], 0x20);
	assert_int_equal(pkt[1], 0);
	assert_memory_equal(pkt + 8, "application/sdp", 16);

	assert_int_equal(sap_unpack(pkt, (size_t)n, &m, err, sizeof(err)), 0);
	assert_int_equal(m.type, SAP_ANNOUNCE);
	assert_int_equal(m.origin.s_addr, ip("10.0.0.1").s_addr);
	assert_int_equal(m.msg_id_hash, 0xbeef);
	assert_true(m.has_mime);
	assert_int_equal(m.sdp_len, strlen(sdp));
	assert_memory_equal(m.sdp, sdp, m.sdp_len);

	n = sap_pack(SAP_DELETE, ip("10.0.0.1"), 0xbeef, sdp, strlen(sdp), pkt,
		     sizeof(pkt));
	assert_int_equal(pkt[0], 0x24);
	assert_int_equal(sap_unpack(pkt, (size_t)n, &m, err, sizeof(err)), 0);
	assert_int_equal(m.type, SAP_DELETE);
}

static void test_sap_pack_refuses_small_buffer_nul_and_oversize(void **state)
{
	static char big[SAP_SDP_MAX + 2];
	uint8_t pkt[64];

	assert_int_equal(
	    sap_pack(SAP_ANNOUNCE, ip("1.2.3.4"), 1, "v=0\r\n", 5, pkt, 28),
	    -ENOSPC);
	assert_int_equal(sap_pack(SAP_ANNOUNCE, ip("1.2.3.4"), 1, "v=0\0x", 6,
				  pkt, sizeof(pkt)),
			 -EINVAL);
	memset(big, 'a', sizeof(big) - 1);
	assert_int_equal(sap_pack(SAP_ANNOUNCE, ip("1.2.3.4"), 1, big,
				  SAP_SDP_MAX + 1, pkt, sizeof(pkt)),
			 -EINVAL);
}

static void test_sap_unpack_accepts_payload_without_mime_type(void **state)
{
	const char *sdp = "v=0\no=- 1 2 IN IP4 10.0.0.9\ns=x\n";
	uint8_t pkt[256];
	struct sap_msg m;

	pkt[0] = 0x20;
	pkt[1] = 0;
	pkt[2] = 0x12;
	pkt[3] = 0x34;
	memcpy(pkt + 4, &(struct in_addr){ip("10.0.0.9").s_addr}, 4);
	memcpy(pkt + 8, sdp, strlen(sdp));
	assert_int_equal(sap_unpack(pkt, 8 + strlen(sdp), &m, NULL, 0), 0);
	assert_false(m.has_mime);
	assert_int_equal(m.msg_id_hash, 0x1234);
	assert_int_equal(m.sdp_len, strlen(sdp));
	assert_memory_equal(m.sdp, sdp, m.sdp_len);
}

static void test_sap_unpack_skips_auth_data_by_its_length(void **state)
{
	const char *sdp = "v=0\r\no=- 5 6 IN IP4 10.0.0.2\r\n";
	uint8_t pkt[256];
	struct sap_msg m;
	size_t n;
	char err[128];

	pkt[0] = 0x20 | 0x08; /* R bit set: ignored */
	pkt[1] = 3;	      /* 12 bytes of auth data */
	pkt[2] = 0;
	pkt[3] = 9;
	memcpy(pkt + 4, "\x0a\x00\x00\x02", 4);
	memset(pkt + 8, 0xAA, 12);
	memcpy(pkt + 20, "application/sdp", 16);
	memcpy(pkt + 36, sdp, strlen(sdp));
	n = 36 + strlen(sdp);
	assert_int_equal(sap_unpack(pkt, n, &m, err, sizeof(err)), 0);
	assert_true(m.has_mime);
	assert_memory_equal(m.sdp, sdp, strlen(sdp));

	/* auth length pointing past the end: refused, never read */
	pkt[1] = 255;
	assert_int_equal(sap_unpack(pkt, n, &m, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "byte 1"));
	assert_non_null(strstr(err, "authentication"));
}

static void
test_sap_unpack_refuses_encrypted_compressed_ipv6_and_version(void **state)
{
	char sdp[512], err[128];
	uint8_t pkt[SAP_PACKET_MAX];
	struct sap_msg m;
	int n;

	mk_sdp(sdp, sizeof(sdp), 1, 1, "10.0.0.1", "x");
	n = sap_pack(SAP_ANNOUNCE, ip("10.0.0.1"), 1, sdp, strlen(sdp), pkt,
		     sizeof(pkt));

	pkt[0] = 0x20 | 0x02;
	assert_int_equal(sap_unpack(pkt, (size_t)n, &m, err, sizeof(err)),
			 -ENOTSUP);
	assert_non_null(strstr(err, "encrypted"));
	pkt[0] = 0x20 | 0x01;
	assert_int_equal(sap_unpack(pkt, (size_t)n, &m, err, sizeof(err)),
			 -ENOTSUP);
	assert_non_null(strstr(err, "compressed"));
	pkt[0] = 0x20 | 0x10;
	assert_int_equal(sap_unpack(pkt, (size_t)n, &m, err, sizeof(err)),
			 -ENOTSUP);
	assert_non_null(strstr(err, "IPv6"));
	pkt[0] = 0x40;
	assert_int_equal(sap_unpack(pkt, (size_t)n, &m, err, sizeof(err)),
			 -EPROTO);
	assert_non_null(strstr(err, "version 2"));
	pkt[0] = 0x00;
	assert_int_equal(sap_unpack(pkt, (size_t)n, &m, err, sizeof(err)),
			 -EPROTO);
}

static void test_sap_unpack_refuses_other_payload_types_and_empty(void **state)
{
	uint8_t pkt[128];
	struct sap_msg m;
	char err[128];

	memset(pkt, 0, sizeof(pkt));
	pkt[0] = 0x20;
	memcpy(pkt + 8, "text/plain\0hello", 16);
	assert_int_equal(sap_unpack(pkt, 24, &m, err, sizeof(err)), -ENOTSUP);
	assert_non_null(strstr(err, "text/plain"));

	/* a payload type without its NUL */
	memcpy(pkt + 8, "application/sd", 14);
	assert_int_equal(sap_unpack(pkt, 22, &m, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "byte 8"));

	/* an announcement must carry an SDP; a deletion need not */
	memcpy(pkt + 8, "application/sdp\0", 16);
	assert_int_equal(sap_unpack(pkt, 24, &m, err, sizeof(err)), -EINVAL);
	pkt[0] = 0x24;
	assert_int_equal(sap_unpack(pkt, 24, &m, err, sizeof(err)), 0);
	assert_int_equal(m.type, SAP_DELETE);
	assert_int_equal(m.sdp_len, 0);

	assert_int_equal(sap_unpack(pkt, 0, &m, err, sizeof(err)), -EINVAL);
	assert_int_equal(sap_unpack(NULL, 0, &m, NULL, 0), -EINVAL);
}

static void test_sap_unpack_handles_every_truncation_in_bounds(void **state)
{
	char sdp[512], err[128];
	uint8_t pkt[SAP_PACKET_MAX];
	struct sap_msg m;
	size_t len;
	int n, with_mime;

	mk_sdp(sdp, sizeof(sdp), 77, 3, "10.1.2.3", "Truncate me");
	for (with_mime = 0; with_mime < 2; with_mime++) {
		n = sap_pack(SAP_ANNOUNCE, ip("10.1.2.3"), 0x4242, sdp,
			     strlen(sdp), pkt, sizeof(pkt));
		if (!with_mime) {
			memmove(pkt + 8, pkt + 24, (size_t)n - 24);
			n -= 16;
		}
		for (len = 0; len <= (size_t)n; len++) {
			uint8_t *p = exact(pkt, len);
			int ret = sap_unpack(p, len, &m, err, sizeof(err));

			if (ret == 0) {
				/* the slice lies inside what was given */
				assert_true(m.sdp >= p);
				assert_true(m.sdp + m.sdp_len <= p + len);
				assert_true(m.sdp_len > 0);
			} else {
				assert_true(ret == -EINVAL);
				assert_true(strncmp(err, "byte ", 5) == 0);
			}
			/* the header needs 8 bytes; a MIME type its NUL */
			if (len < 8 + (with_mime ? 17u : 1u))
				assert_int_not_equal(ret, 0);
			free(p);
		}
	}
}

static void test_sap_unpack_survives_mutations(void **state)
{
	char sdp[512], err[128];
	uint8_t pkt[SAP_PACKET_MAX];
	struct sap_msg m;
	unsigned int seed = 1;
	int n, i;

	mk_sdp(sdp, sizeof(sdp), 9, 9, "10.9.9.9", "Mutant");
	n = sap_pack(SAP_ANNOUNCE, ip("10.9.9.9"), 9, sdp, strlen(sdp), pkt,
		     sizeof(pkt));
	for (i = 0; i < 20000; i++) {
		uint8_t *p = exact(pkt, (size_t)n);
		size_t len = (size_t)(rand_r(&seed) % (n + 1));
		int k, ret;

		for (k = 0; k < 3; k++)
			p[rand_r(&seed) % 40] = (uint8_t)rand_r(&seed);
		ret = sap_unpack(p, len, &m, err, sizeof(err));
		assert_true(ret == 0 || ret == -EINVAL || ret == -ENOTSUP ||
			    ret == -EPROTO);
		if (ret == 0)
			assert_true(m.sdp + m.sdp_len <= p + len);
		free(p);
	}
}

static void test_sap_hash_follows_version_and_is_never_zero(void **state)
{
	uint64_t v;
	int changed = 0;

	assert_int_equal(sap_msg_hash(1, 2), sap_msg_hash(1, 2));
	for (v = 0; v < 200000; v++) {
		assert_int_not_equal(sap_msg_hash(v * 7919, v), 0);
		if (sap_msg_hash(123456, v) != sap_msg_hash(123456, v + 1))
			changed++;
	}
	/* a 16-bit hash collides now and then, but rarely */
	assert_true(changed > 199000);
	assert_int_not_equal(sap_msg_hash(1, 1), sap_msg_hash(2, 1));
}

static void test_sap_sdp_origin_reads_o_line_alone_or_in_full(void **state)
{
	char sdp[512];
	uint64_t id, ver;
	const char *only = "o=alice 2890844526 2890842807 IN IP4 10.47.16.5\n";

	mk_sdp(sdp, sizeof(sdp), 18446744073709551615ull, 12, "10.0.0.1", "x");
	assert_true(
	    sap_sdp_origin((const uint8_t *)sdp, strlen(sdp), &id, &ver));
	assert_true(id == 18446744073709551615ull);
	assert_true(ver == 12);
	assert_true(
	    sap_sdp_origin((const uint8_t *)only, strlen(only), &id, &ver));
	assert_true(id == 2890844526ull && ver == 2890842807ull);

	assert_false(
	    sap_sdp_origin((const uint8_t *)"v=0\ns=x\n", 8, &id, &ver));
	assert_false(sap_sdp_origin((const uint8_t *)"o=- 12x 3 IN IP4 a\n", 19,
				    &id, &ver));
	assert_false(sap_sdp_origin(
	    (const uint8_t *)"o=- 99999999999999999999 3 IN IP4 a\n", 37, &id,
	    &ver));
	assert_false(sap_sdp_origin((const uint8_t *)"o=- 1", 5, &id, &ver));
	/* a NUL ends the text */
	assert_false(sap_sdp_origin((const uint8_t *)"v=0\n\0o=- 1 2 IN\n", 16,
				    &id, &ver));
}

/* ---- table ---- */

struct events {
	int n[SAP_EVENT_EVICTED + 1];
	enum sap_event last;
	char last_name[SDP_NAME_MAX];
};

static void on_event(void *data, enum sap_event ev, const struct sap_entry *e)
{
	struct events *evs = data;

	evs->n[ev]++;
	evs->last = ev;
	snprintf(evs->last_name, sizeof(evs->last_name), "%s", e->name);
}

static int announce(struct sap_table *t, uint64_t now, const char *origin,
		    uint64_t id, uint64_t ver, const char *name)
{
	char sdp[1024];

	mk_sdp(sdp, sizeof(sdp), id, ver, origin, name);
	return sap_table_update(t, now, ip(origin), sap_msg_hash(id, ver),
				(const uint8_t *)sdp, strlen(sdp));
}

static void test_sap_table_inserts_refreshes_and_changes(void **state)
{
	struct sap_table *t = sap_table_new(0, 0, 0);
	struct events ev = {0};
	const struct sap_entry *e;
	struct sap_table_stats st;

	sap_table_set_callback(t, on_event, &ev);
	assert_int_equal(announce(t, 100 * SEC, "10.0.0.5", 1001, 1, "Mix"), 0);
	assert_int_equal(ev.n[SAP_EVENT_NEW], 1);
	assert_string_equal(ev.last_name, "Mix");
	assert_int_equal(sap_table_count(t), 1);

	e = sap_table_find_name(t, "Mix");
	assert_non_null(e);
	assert_true(e->valid);
	assert_true(e->has_session_id);
	assert_true(e->session_id == 1001);
	assert_true(e->session_version == 1);
	assert_int_equal(e->stream.channels, 2);
	assert_int_equal(e->stream.port, 5004);
	assert_false(e->own);
	assert_true(e->first_seen_ns == 100 * SEC);
	assert_null(sap_table_find_name(t, "Nope"));

	/* the same announcement again: refreshed, no event */
	assert_int_equal(announce(t, 130 * SEC, "10.0.0.5", 1001, 1, "Mix"), 0);
	assert_int_equal(ev.n[SAP_EVENT_NEW], 1);
	assert_int_equal(ev.n[SAP_EVENT_CHANGED], 0);
	e = sap_table_find_name(t, "Mix");
	assert_int_equal(e->announcements, 2);
	assert_true(e->last_seen_ns == 130 * SEC);
	assert_true(e->interval_ns == 30 * SEC);

	/* a new version of the same session: the same entry, changed */
	assert_int_equal(
	    announce(t, 131 * SEC, "10.0.0.5", 1001, 2, "Mix renamed"), 0);
	assert_int_equal(ev.n[SAP_EVENT_CHANGED], 1);
	assert_int_equal(sap_table_count(t), 1);
	assert_null(sap_table_find_name(t, "Mix"));
	e = sap_table_find_name(t, "Mix renamed");
	assert_non_null(e);
	assert_true(e->session_version == 2);
	assert_true(e->first_seen_ns == 100 * SEC);

	/* the same session id from another host is another session */
	assert_int_equal(announce(t, 132 * SEC, "10.0.0.6", 1001, 1, "Other"),
			 0);
	assert_int_equal(sap_table_count(t), 2);

	sap_table_get_stats(t, &st);
	assert_int_equal(st.entries, 2);
	assert_int_equal(st.announcements, 4);
	assert_true(st.generation == 3);
	sap_table_destroy(t);
}

static void test_sap_table_honours_deletions_by_id_and_by_hash(void **state)
{
	struct sap_table *t = sap_table_new(16, 0, 0);
	struct events ev = {0};
	char sdp[1024];
	const char *bare = "v=0\r\ns=No origin\r\n";

	sap_table_set_callback(t, on_event, &ev);
	announce(t, 1 * SEC, "10.0.0.5", 7, 1, "A");
	announce(t, 1 * SEC, "10.0.0.5", 8, 1, "B");
	assert_int_equal(sap_table_update(t, 1 * SEC, ip("10.0.0.7"), 0x5151,
					  (const uint8_t *)bare, strlen(bare)),
			 0);
	assert_int_equal(sap_table_count(t), 3);

	/* a deletion carrying the full SDP (aes67-linux-daemon, PipeWire) */
	mk_sdp(sdp, sizeof(sdp), 7, 1, "10.0.0.5", "A");
	assert_int_equal(sap_table_delete(t, ip("10.0.0.5"), 1,
					  (const uint8_t *)sdp, strlen(sdp)),
			 0);
	assert_int_equal(ev.n[SAP_EVENT_DELETED], 1);
	assert_string_equal(ev.last_name, "A");
	/* only the o= line (RFC 2974) */
	assert_int_equal(
	    sap_table_delete(t, ip("10.0.0.5"), 1,
			     (const uint8_t *)"o=- 8 1 IN IP4 10.0.0.5\r\n",
			     25),
	    0);
	assert_string_equal(ev.last_name, "B");
	/* nothing but origin and hash */
	assert_int_equal(sap_table_delete(t, ip("10.0.0.7"), 0x5151, NULL, 0),
			 0);
	assert_string_equal(ev.last_name, "No origin");
	assert_int_equal(sap_table_count(t), 0);
	assert_int_equal(sap_table_delete(t, ip("10.0.0.7"), 0x5151, NULL, 0),
			 -ENOENT);
	sap_table_destroy(t);
}

static void test_sap_table_receive_runs_packets_through(void **state)
{
	struct sap_table *t = sap_table_new(16, 0, 0);
	uint8_t pkt[SAP_PACKET_MAX];
	char sdp[1024], err[128];
	struct sap_table_stats st;
	int n;

	mk_sdp(sdp, sizeof(sdp), 55, 1, "10.0.0.5", "Pkt");
	n = sap_pack(SAP_ANNOUNCE, ip("10.0.0.5"), sap_msg_hash(55, 1), sdp,
		     strlen(sdp), pkt, sizeof(pkt));
	assert_int_equal(
	    sap_table_receive(t, SEC, pkt, (size_t)n, err, sizeof(err)), 0);
	assert_non_null(sap_table_find_name(t, "Pkt"));
	pkt[0] |= 0x02;
	assert_int_equal(
	    sap_table_receive(t, SEC, pkt, (size_t)n, err, sizeof(err)),
	    -ENOTSUP);
	assert_non_null(strstr(err, "encrypted"));
	pkt[0] = 0x24;
	assert_int_equal(
	    sap_table_receive(t, SEC, pkt, (size_t)n, err, sizeof(err)), 0);
	assert_int_equal(sap_table_count(t), 0);
	sap_table_get_stats(t, &st);
	assert_int_equal(st.rejected, 1);
	assert_int_equal(st.deletions, 1);
	sap_table_destroy(t);
}

static void test_sap_table_keeps_unparsable_sdp_with_its_reason(void **state)
{
	struct sap_table *t = sap_table_new(16, 0, 0);
	const char *video = "v=0\r\no=- 3 4 IN IP4 10.0.0.8\r\ns=Camera\r\n"
			    "c=IN IP4 239.1.1.1\r\nt=0 0\r\n"
			    "m=video 5000 RTP/AVP 96\r\n";
	const struct sap_entry *e;

	assert_int_equal(sap_table_update(t, SEC, ip("10.0.0.8"), 1,
					  (const uint8_t *)video,
					  strlen(video)),
			 0);
	e = sap_table_find_name(t, "Camera");
	assert_non_null(e);
	assert_false(e->valid);
	assert_true(e->parse_err[0] != '\0');
	assert_true(e->session_id == 3 && e->session_version == 4);
	assert_int_equal(sap_table_update(t, SEC, ip("10.0.0.8"), 1,
					  (const uint8_t *)video, 0),
			 -EINVAL);
	sap_table_destroy(t);
}

static void test_sap_table_flags_own_origins(void **state)
{
	struct sap_table *t = sap_table_new(16, 0, 0);
	const struct sap_entry *e;

	announce(t, SEC, "10.0.0.1", 1, 1, "Mine");
	announce(t, SEC, "10.0.0.2", 2, 1, "Theirs");
	assert_false(sap_table_find_name(t, "Mine")->own);
	/* flagged retroactively, and for new entries */
	assert_int_equal(sap_table_add_own_addr(t, ip("10.0.0.1")), 0);
	assert_true(sap_table_find_name(t, "Mine")->own);
	assert_false(sap_table_find_name(t, "Theirs")->own);
	announce(t, SEC, "10.0.0.1", 3, 1, "Mine too");
	e = sap_table_find_name(t, "Mine too");
	assert_true(e->own);
	sap_table_destroy(t);
}

static void test_sap_table_times_out_on_injected_clock(void **state)
{
	struct sap_table *t = sap_table_new(16, 10, 300 * SEC);
	struct events ev = {0};
	uint64_t now;

	sap_table_set_callback(t, on_event, &ev);

	/* seen once: the default timeout */
	announce(t, 0, "10.0.0.1", 1, 1, "Once");
	assert_true(sap_table_next_expiry(t) == 300 * SEC);
	assert_int_equal(sap_table_expire(t, 299 * SEC), 0);
	assert_int_equal(sap_table_expire(t, 300 * SEC), 1);
	assert_int_equal(ev.n[SAP_EVENT_EXPIRED], 1);
	assert_true(sap_table_next_expiry(t) == UINT64_MAX);

	/* a 5 s sender (PipeWire): 10 x 5 s = 50 s, raised to the 60 s
	 * floor; a 30 s sender: 300 s */
	for (now = 0; now <= 20 * SEC; now += 5 * SEC)
		announce(t, now, "10.0.0.2", 2, 1, "Fast");
	for (now = 0; now <= 90 * SEC; now += 30 * SEC)
		announce(t, now, "10.0.0.3", 3, 1, "Slow");
	assert_true(sap_table_find_name(t, "Fast")->expires_ns ==
		    20 * SEC + 60 * SEC);
	assert_true(sap_table_find_name(t, "Slow")->expires_ns ==
		    90 * SEC + 300 * SEC);
	assert_int_equal(sap_table_expire(t, 80 * SEC), 1);
	assert_null(sap_table_find_name(t, "Fast"));
	assert_int_equal(sap_table_expire(t, 389 * SEC), 0);
	assert_int_equal(sap_table_expire(t, 390 * SEC), 1);

	/* a start-up burst 1 s apart, then the regular 30 s: the entry
	 * lives through the gap after the burst */
	announce(t, 1000 * SEC, "10.0.0.4", 4, 1, "Burst");
	announce(t, 1001 * SEC, "10.0.0.4", 4, 1, "Burst");
	announce(t, 1002 * SEC, "10.0.0.4", 4, 1, "Burst");
	assert_int_equal(sap_table_expire(t, 1032 * SEC - 1), 0);
	announce(t, 1032 * SEC, "10.0.0.4", 4, 1, "Burst");
	assert_true(sap_table_find_name(t, "Burst")->expires_ns ==
		    1032 * SEC + 300 * SEC);

	/* bounds are settable; the ceiling caps a silly interval */
	assert_int_equal(sap_table_set_timeout_bounds(t, 2 * SEC, SEC),
			 -EINVAL);
	assert_int_equal(sap_table_set_timeout_bounds(t, SEC, 100 * SEC), 0);
	announce(t, 2000 * SEC, "10.0.0.5", 5, 1, "Rare");
	announce(t, 3000 * SEC, "10.0.0.5", 5, 1, "Rare");
	assert_true(sap_table_find_name(t, "Rare")->expires_ns == 3100 * SEC);
	sap_table_destroy(t);
}

static void test_sap_table_flood_stays_at_cap_and_bounded(void **state)
{
	const unsigned int cap = 64;
	struct sap_table *t = sap_table_new(cap, 0, 0);
	struct events ev = {0};
	struct sap_table_stats st;
	const struct sap_entry *e;
	uint64_t max_bytes = 0;
	unsigned int i, n;
	char name[32];

	sap_table_set_callback(t, on_event, &ev);
	for (i = 0; i < 10000; i++) {
		char origin[32];

		snprintf(origin, sizeof(origin), "10.%u.%u.%u", i >> 16,
			 (i >> 8) & 255, i & 255);
		snprintf(name, sizeof(name), "flood %u", i);
		assert_int_equal(announce(t, i * MS, origin, i + 1, 1, name),
				 0);
		assert_true(sap_table_count(t) <= cap);
		sap_table_get_stats(t, &st);
		if (st.bytes > max_bytes)
			max_bytes = st.bytes;
	}
	sap_table_get_stats(t, &st);
	assert_int_equal(st.entries, cap);
	assert_true(st.evicted == 10000 - cap);
	assert_int_equal(ev.n[SAP_EVENT_EVICTED], 10000 - cap);
	assert_int_equal(ev.n[SAP_EVENT_NEW], 10000);
	/* memory: the table itself plus cap entries of at most the longest
	 * SDP we keep */
	assert_true(max_bytes <= sizeof(struct sap_entry) * 4 * cap +
				     (uint64_t)cap * 8 +
				     (uint64_t)cap * (SAP_SDP_MAX + 1) + 4096);
	/* the stalest went: the newest cap sessions remain, in order */
	for (e = sap_table_next(t, NULL), n = 0; e; e = sap_table_next(t, e))
		n++;
	assert_int_equal(n, cap);
	snprintf(name, sizeof(name), "flood %u", 10000 - cap);
	assert_string_equal(sap_table_next(t, NULL)->name, name);
	assert_non_null(sap_table_find_name(t, "flood 9999"));
	assert_null(sap_table_find_name(t, "flood 0"));
	sap_table_destroy(t);
}

static void test_sap_table_refresh_protects_from_eviction(void **state)
{
	struct sap_table *t = sap_table_new(4, 0, 0);
	unsigned int i;

	announce(t, 0, "10.0.0.1", 1, 1, "Keeper");
	for (i = 0; i < 100; i++) {
		char name[16];

		snprintf(name, sizeof(name), "x%u", i);
		announce(t, i + 1, "10.0.0.2", 100 + i, 1, name);
		/* a live sender that keeps announcing stays */
		announce(t, i + 1, "10.0.0.1", 1, 1, "Keeper");
	}
	assert_non_null(sap_table_find_name(t, "Keeper"));
	assert_int_equal(sap_table_count(t), 4);
	sap_table_destroy(t);
}

/* The names of evicted entries, in order. */
struct evictions {
	unsigned int n;
	char names[64][SDP_NAME_MAX];
	bool saw_keeper;
};

static void on_evict(void *data, enum sap_event ev, const struct sap_entry *e)
{
	struct evictions *x = data;

	if (ev != SAP_EVENT_EVICTED)
		return;
	if (!strcmp(e->name, "Keeper"))
		x->saw_keeper = true;
	if (x->n < 64)
		snprintf(x->names[x->n], sizeof(x->names[0]), "%s", e->name);
	x->n++;
}

/* Iteration stays least recently announced first. */
static void assert_lru_order(const struct sap_table *t)
{
	const struct sap_entry *e;
	uint64_t last = 0;
	unsigned int n = 0;

	for (e = sap_table_next(t, NULL); e; e = sap_table_next(t, e)) {
		assert_true(e->last_seen_ns >= last);
		last = e->last_seen_ns;
		n++;
	}
	assert_int_equal(n, sap_table_count(t));
}

/* The SAP flood of the fault lab (tests/lab/faults/sap_flood.sh), in
 * small: a table full of one-shot sessions arriving far faster than a real
 * sender announces never evicts the sender, announced twice before. */
static void test_sap_table_one_shot_flood_spares_twice_announced(void **state)
{
	const unsigned int cap = 8;
	struct sap_table *t = sap_table_new(cap, 0, 0);
	struct evictions x = {0};
	struct sap_table_stats st;
	unsigned int i;

	sap_table_set_callback(t, on_evict, &x);
	assert_int_equal(announce(t, 0, "10.0.0.1", 1, 1, "Keeper"), 0);
	assert_int_equal(announce(t, 1 * SEC, "10.0.0.1", 1, 1, "Keeper"), 0);
	for (i = 0; i < 1000; i++) {
		char name[16], origin[32];

		snprintf(name, sizeof(name), "x%u", i);
		snprintf(origin, sizeof(origin), "10.1.%u.%u", i >> 8, i & 255);
		/* 5000 a second; the keeper announces once a second only */
		assert_int_equal(announce(t, 2 * SEC + i * 200000ull, origin,
					  100 + i, 1, name),
				 0);
		assert_true(sap_table_count(t) <= cap);
		assert_non_null(sap_table_find_name(t, "Keeper"));
		/* the keeper is the stalest, and still first in iteration */
		assert_string_equal(sap_table_next(t, NULL)->name, "Keeper");
	}
	assert_false(x.saw_keeper);
	sap_table_get_stats(t, &st);
	assert_int_equal(st.entries, cap);
	assert_true(st.evicted == 1000 - (cap - 1));
	assert_int_equal(x.n, 1000 - (cap - 1));
	/* the flood evicted its own, oldest first */
	assert_string_equal(x.names[0], "x0");
	assert_string_equal(x.names[1], "x1");
	assert_lru_order(t);
	sap_table_destroy(t);
}

/* Without a one-shot entry the least recently announced goes, as before;
 * one-shot entries go first, in their order; protected ones keep theirs. */
static void test_sap_table_eviction_order(void **state)
{
	struct sap_table *t = sap_table_new(3, 0, 0);
	struct evictions x = {0};

	sap_table_set_callback(t, on_evict, &x);
	/* all one-shot: the stalest goes, as a plain LRU */
	announce(t, 1 * SEC, "10.0.0.1", 1, 1, "a");
	announce(t, 2 * SEC, "10.0.0.1", 2, 1, "b");
	announce(t, 3 * SEC, "10.0.0.1", 3, 1, "c");
	announce(t, 4 * SEC, "10.0.0.1", 4, 1, "d");
	assert_int_equal(x.n, 1);
	assert_string_equal(x.names[0], "a");
	assert_int_equal(sap_table_count(t), 3);

	/* all announced twice: the least recently announced goes */
	announce(t, 5 * SEC, "10.0.0.1", 2, 1, "b");
	announce(t, 6 * SEC, "10.0.0.1", 4, 1, "d");
	announce(t, 7 * SEC, "10.0.0.1", 3, 1, "c");
	announce(t, 8 * SEC, "10.0.0.1", 2, 1, "b"); /* d is the stalest */
	assert_lru_order(t);
	assert_string_equal(sap_table_next(t, NULL)->name, "d");
	announce(t, 9 * SEC, "10.0.0.1", 5, 1, "e");
	assert_int_equal(x.n, 2);
	assert_string_equal(x.names[1], "d");

	/* now e is the only one-shot entry: it goes before the staler c */
	announce(t, 10 * SEC, "10.0.0.1", 6, 1, "f");
	assert_int_equal(x.n, 3);
	assert_string_equal(x.names[2], "e");
	/* f announced again joins the protected, behind c and b */
	announce(t, 11 * SEC, "10.0.0.1", 6, 1, "f");
	announce(t, 12 * SEC, "10.0.0.1", 7, 1, "g");
	assert_int_equal(x.n, 4);
	assert_string_equal(x.names[3], "c");
	announce(t, 13 * SEC, "10.0.0.1", 8, 1, "h");
	assert_int_equal(x.n, 5);
	assert_string_equal(x.names[4], "g");
	assert_int_equal(sap_table_count(t), 3);
	assert_non_null(sap_table_find_name(t, "b"));
	assert_non_null(sap_table_find_name(t, "f"));
	assert_non_null(sap_table_find_name(t, "h"));
	assert_lru_order(t);

	/* a deleted or expired entry leaves its segment too */
	assert_int_equal(sap_table_expire(t, UINT64_MAX), 3);
	assert_int_equal(sap_table_count(t), 0);
	announce(t, 20 * SEC, "10.0.0.1", 9, 1, "i");
	assert_int_equal(sap_table_count(t), 1);
	assert_int_equal(x.n, 5);
	sap_table_destroy(t);
}

/* Random announcements, deletions and expiries against a model of the
 * segmented LRU: the table never exceeds its cap, evicts whom the model
 * says and iterates least recently announced first. */
struct model {
	bool in[40];
	uint64_t seq[40]; /* when last announced */
	unsigned int ann[40];
	int evicted; /* index of the last eviction, -1 none */
	unsigned int n_evicted;
};

static void on_model_evict(void *data, enum sap_event ev,
			   const struct sap_entry *e)
{
	struct model *m = data;

	if (ev != SAP_EVENT_EVICTED)
		return;
	m->evicted = atoi(e->name + 1);
	m->n_evicted++;
}

static void test_sap_table_segmented_lru_matches_model(void **state)
{
	const unsigned int cap = 8, pool = 40;
	struct sap_table *t = sap_table_new(cap, 0, 0);
	struct model m = {0};
	struct sap_table_stats st;
	uint64_t now = SEC;
	unsigned int step, count = 0, evictions = 0, r = 12345;

	sap_table_set_callback(t, on_model_evict, &m);
	for (step = 0; step < 20000; step++) {
		unsigned int k, i, op;
		char name[16];

		r = r * 1103515245u + 12345u;
		k = (r >> 8) % pool;
		op = (r >> 20) % 16;
		snprintf(name, sizeof(name), "s%u", k);
		now += MS;
		if (op == 0 && m.in[k]) {
			char sdp[1024];

			mk_sdp(sdp, sizeof(sdp), 1000 + k, 1, "10.0.0.1", name);
			assert_int_equal(
			    sap_table_delete(t, ip("10.0.0.1"),
					     sap_msg_hash(1000 + k, 1),
					     (const uint8_t *)sdp, strlen(sdp)),
			    0);
			m.in[k] = false;
			count--;
			continue;
		}
		if (op == 1) {
			/* the short default timeout is not in play: expire
			 * nothing, the table must still be consistent */
			assert_int_equal(sap_table_expire(t, now), 0);
			continue;
		}
		m.evicted = -1;
		if (!m.in[k] && count == cap) {
			int want = -1;

			/* stalest one-shot, else stalest of all */
			for (i = 0; i < pool; i++)
				if (m.in[i] && m.ann[i] == 1 &&
				    (want < 0 || m.seq[i] < m.seq[want]))
					want = (int)i;
			if (want < 0)
				for (i = 0; i < pool; i++)
					if (m.in[i] && (want < 0 ||
							m.seq[i] < m.seq[want]))
						want = (int)i;
			assert_int_equal(
			    announce(t, now, "10.0.0.1", 1000 + k, 1, name), 0);
			assert_int_equal(m.evicted, want);
			m.in[want] = false;
			count--;
			evictions++;
		} else {
			assert_int_equal(
			    announce(t, now, "10.0.0.1", 1000 + k, 1, name), 0);
			assert_int_equal(m.evicted, -1);
		}
		if (!m.in[k]) {
			m.in[k] = true;
			m.ann[k] = 0;
			count++;
		}
		m.ann[k]++;
		m.seq[k] = now;
		assert_int_equal(sap_table_count(t), count);
		assert_true(count <= cap);
		assert_lru_order(t);
	}
	sap_table_get_stats(t, &st);
	assert_true(evictions > 100);
	assert_true(st.evicted == evictions);
	assert_int_equal(m.n_evicted, evictions);
	sap_table_destroy(t);
}

static char *load(const char *dir, const char *file, size_t *len)
{
	char path[800];
	FILE *f;
	char *buf = malloc(SAP_SDP_MAX + 1);

	assert_non_null(buf);
	snprintf(path, sizeof(path), "%s/%s", dir, file);
	f = fopen(path, "rb");
	assert_non_null(f);
	*len = fread(buf, 1, SAP_SDP_MAX, f);
	buf[*len] = '\0';
	fclose(f);
	return buf;
}

/* Every SDP of real gear is kept, valid; announced from one SAP origin,
 * SDPs that share an o= session id are one session (the table's key). */
static void test_sap_table_takes_every_real_sdp_fixture(void **state)
{
	const char *root = getenv("D4_TEST_DATA");
	struct sap_table *t = sap_table_new(64, 0, 0);
	uint8_t pkt[SAP_PACKET_MAX];
	char dir[512], err[128], keys[64][96];
	const struct sap_entry *e;
	struct dirent *de;
	unsigned int n = 0, sessions = 0, i;
	DIR *d;

	if (!root)
		skip();
	snprintf(dir, sizeof(dir), "%s/sdp", root);
	d = opendir(dir);
	assert_non_null(d);
	while ((de = readdir(d))) {
		struct sdp_stream st;
		char key[96];
		size_t len;
		char *sdp;
		int k;

		if (!strstr(de->d_name, ".sdp"))
			continue;
		sdp = load(dir, de->d_name, &len);
		if (sdp_parse((const uint8_t *)sdp, len, &st, err, sizeof(err)))
			fail_msg("%s: %s", de->d_name, err);
		snprintf(key, sizeof(key), "%llu",
			 (unsigned long long)st.session_id);
		for (i = 0; i < sessions && strcmp(keys[i], key); i++)
			;
		if (i == sessions) {
			assert_true(sessions < 64);
			snprintf(keys[sessions++], sizeof(keys[0]), "%s", key);
		}
		k = sap_pack(SAP_ANNOUNCE, ip("192.168.1.17"), 1, sdp, len, pkt,
			     sizeof(pkt));
		assert_true(k > 0);
		assert_int_equal(
		    sap_table_receive(t, SEC, pkt, (size_t)k, err, sizeof(err)),
		    0);
		n++;
		free(sdp);
	}
	closedir(d);
	for (e = sap_table_next(t, NULL); e; e = sap_table_next(t, e))
		if (!e->valid)
			fail_msg("%s", e->parse_err);
	assert_true(n >= 25);
	assert_int_equal(sap_table_count(t), sessions);
	sap_table_destroy(t);
}

/* ---- announcer and listener on a real socket ---- */

struct rx {
	int fd;
	struct sockaddr_in addr;
};

static struct rx rx_open(void)
{
	struct rx r;
	socklen_t sl = sizeof(r.addr);

	memset(&r, 0, sizeof(r));
	r.fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	assert_true(r.fd >= 0);
	r.addr.sin_family = AF_INET;
	r.addr.sin_addr = ip("127.0.0.1");
	assert_int_equal(bind(r.fd, (struct sockaddr *)&r.addr, sizeof(r.addr)),
			 0);
	assert_int_equal(getsockname(r.fd, (struct sockaddr *)&r.addr, &sl), 0);
	return r;
}

struct got {
	int announce;
	int del;
	uint16_t last_hash;
};

static void drain(struct rx *r, struct got *g)
{
	uint8_t buf[SAP_PACKET_MAX + 16];
	struct sap_msg m;
	ssize_t n;

	while ((n = recv(r->fd, buf, sizeof(buf), 0)) > 0) {
		assert_int_equal(sap_unpack(buf, (size_t)n, &m, NULL, 0), 0);
		assert_int_equal(m.origin.s_addr, ip("127.0.0.1").s_addr);
		if (m.type == SAP_DELETE)
			g->del++;
		else
			g->announce++;
		g->last_hash = m.msg_id_hash;
	}
}

static void pump(struct loop *loop, struct rx *r, struct got *g, uint64_t ns)
{
	uint64_t end = loop_now_ns() + ns;

	while (loop_now_ns() < end) {
		loop_run_once(loop, 2);
		drain(r, g);
	}
}

/* Run the loop until *@count reaches @want (within 2 s). */
static bool wait_for(struct loop *loop, struct rx *r, struct got *g, int *count,
		     int want)
{
	uint64_t end = loop_now_ns() + 2000 * MS;

	while (*count < want && loop_now_ns() < end) {
		loop_run_once(loop, 2);
		drain(r, g);
	}
	return *count == want;
}

static void test_sap_announcer_bursts_repeats_and_deletes(void **state)
{
	struct loop *loop = loop_new();
	struct rx r = rx_open();
	struct sap_announcer_config cfg = {0};
	struct sap_announcer *a;
	struct got g = {0};
	char sdp[1024];
	uint16_t h1;
	uint64_t t0, t3;

	cfg.dst = r.addr;
	cfg.origin = ip("127.0.0.1");
	cfg.interval_ns = 150 * MS;
	cfg.burst_gap_ns = 20 * MS;
	a = sap_announcer_new(loop, &cfg);
	assert_non_null(a);
	assert_int_equal(sap_announcer_origin(a).s_addr,
			 ip("127.0.0.1").s_addr);

	/* a new session: 3 quick ones (0, 20, 40 ms), then every 150 ms
	 * (+-10 %); waits are bounded, times checked from below */
	mk_sdp(sdp, sizeof(sdp), 10, 1, "127.0.0.1", "Ann");
	t0 = loop_now_ns();
	assert_int_equal(sap_announcer_set(a, 1, sdp), 0);
	drain(&r, &g);
	assert_int_equal(g.announce, 1);
	assert_true(wait_for(loop, &r, &g, &g.announce, 3));
	t3 = loop_now_ns();
	assert_true(t3 - t0 >= 40 * MS);
	h1 = g.last_hash;
	assert_int_equal(h1, sap_msg_hash(10, 1));
	assert_true(wait_for(loop, &r, &g, &g.announce, 4));
	assert_true(loop_now_ns() - t3 >= 130 * MS);

	/* the same text again changes nothing */
	assert_int_equal(sap_announcer_set(a, 1, sdp), 0);
	pump(loop, &r, &g, 10 * MS);
	assert_int_equal(g.announce, 4);

	/* a change bursts again with a new hash */
	mk_sdp(sdp, sizeof(sdp), 10, 2, "127.0.0.1", "Ann v2");
	assert_int_equal(sap_announcer_set(a, 1, sdp), 0);
	assert_true(wait_for(loop, &r, &g, &g.announce, 7));
	assert_int_not_equal(g.last_hash, h1);

	/* text changed but the version did not: the hash still moves */
	h1 = g.last_hash;
	mk_sdp(sdp, sizeof(sdp), 10, 2, "127.0.0.1", "Ann v2 sneaky");
	assert_int_equal(sap_announcer_set(a, 1, sdp), 0);
	drain(&r, &g);
	assert_int_not_equal(g.last_hash, h1);

	/* removal: three deletions */
	g.del = 0;
	assert_int_equal(sap_announcer_remove(a, 1), 0);
	assert_int_equal(sap_announcer_remove(a, 1), -ENOENT);
	drain(&r, &g);
	assert_int_equal(g.del, 3);
	g.announce = 0;
	pump(loop, &r, &g, 200 * MS);
	assert_int_equal(g.announce, 0);

	/* destroy deletes what is left, three times each */
	mk_sdp(sdp, sizeof(sdp), 20, 1, "127.0.0.1", "B");
	sap_announcer_set(a, 2, sdp);
	mk_sdp(sdp, sizeof(sdp), 30, 1, "127.0.0.1", "C");
	sap_announcer_set(a, 3, sdp);
	assert_int_equal(sap_announcer_set(a, 4, ""), -EINVAL);
	g.del = 0;
	assert_true(sap_announcer_sent(a) > 10);
	assert_int_equal(sap_announcer_send_errors(a), 0);
	sap_announcer_destroy(a);
	drain(&r, &g);
	assert_int_equal(g.del, 6);
	close(r.fd);
	loop_destroy(loop);
}

static void test_sap_listener_fills_table_and_knows_own(void **state)
{
	struct loop *loop = loop_new();
	struct sap_table *t = sap_table_new(16, 0, 0);
	struct sap_announcer_config cfg = {0};
	struct sap_announcer *a;
	struct sap_listener *l;
	struct rx probe = rx_open();
	struct sockaddr_in where = probe.addr;
	const struct sap_entry *e;
	char sdp[1024];
	uint64_t end;

	/* take a free port, then listen on it */
	close(probe.fd);
	l = sap_listener_new(loop, t, &where, NULL);
	if (!l)
		qemu_skip_if_no_timestampns(NULL);
	assert_non_null(l);
	cfg.dst = where;
	cfg.origin = ip("127.0.0.1");
	a = sap_announcer_new(loop, &cfg);
	assert_non_null(a);
	sap_table_add_own_addr(t, sap_announcer_origin(a));

	mk_sdp(sdp, sizeof(sdp), 99, 1, "127.0.0.1", "Loopback");
	sap_announcer_set(a, 1, sdp);
	end = loop_now_ns() + 2 * SEC;
	while (!sap_table_count(t) && loop_now_ns() < end)
		loop_run_once(loop, 10);
	e = sap_table_find_name(t, "Loopback");
	assert_non_null(e);
	assert_true(e->own);
	assert_true(e->valid);

	sap_announcer_destroy(a);
	end = loop_now_ns() + 2 * SEC;
	while (sap_table_count(t) && loop_now_ns() < end)
		loop_run_once(loop, 10);
	assert_int_equal(sap_table_count(t), 0);
	sap_listener_destroy(l);
	sap_table_destroy(t);
	loop_destroy(loop);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_sap_pack_unpack_round_trip_with_mime),
	    cmocka_unit_test(
		test_sap_pack_refuses_small_buffer_nul_and_oversize),
	    cmocka_unit_test(test_sap_unpack_accepts_payload_without_mime_type),
	    cmocka_unit_test(test_sap_unpack_skips_auth_data_by_its_length),
	    cmocka_unit_test(
		test_sap_unpack_refuses_encrypted_compressed_ipv6_and_version),
	    cmocka_unit_test(
		test_sap_unpack_refuses_other_payload_types_and_empty),
	    cmocka_unit_test(
		test_sap_unpack_handles_every_truncation_in_bounds),
	    cmocka_unit_test(test_sap_unpack_survives_mutations),
	    cmocka_unit_test(test_sap_hash_follows_version_and_is_never_zero),
	    cmocka_unit_test(test_sap_sdp_origin_reads_o_line_alone_or_in_full),
	    cmocka_unit_test(test_sap_table_inserts_refreshes_and_changes),
	    cmocka_unit_test(
		test_sap_table_honours_deletions_by_id_and_by_hash),
	    cmocka_unit_test(test_sap_table_receive_runs_packets_through),
	    cmocka_unit_test(
		test_sap_table_keeps_unparsable_sdp_with_its_reason),
	    cmocka_unit_test(test_sap_table_flags_own_origins),
	    cmocka_unit_test(test_sap_table_times_out_on_injected_clock),
	    cmocka_unit_test(test_sap_table_flood_stays_at_cap_and_bounded),
	    cmocka_unit_test(test_sap_table_refresh_protects_from_eviction),
	    cmocka_unit_test(
		test_sap_table_one_shot_flood_spares_twice_announced),
	    cmocka_unit_test(test_sap_table_eviction_order),
	    cmocka_unit_test(test_sap_table_segmented_lru_matches_model),
	    cmocka_unit_test(test_sap_table_takes_every_real_sdp_fixture),
	    cmocka_unit_test(test_sap_announcer_bursts_repeats_and_deletes),
	    cmocka_unit_test(test_sap_listener_fills_table_and_knows_own),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
