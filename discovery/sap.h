/* SAP (RFC 2974) for AES67 streams: the packet codec, a bounded table of the
 * sessions other hosts announce (timeouts, deletions, eviction under
 * floods), and an announcer that repeats our own sessions on the loop. */
#ifndef D4_DISCOVERY_SAP_H
#define D4_DISCOVERY_SAP_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "discovery/sdp.h"

struct loop;

#define SAP_DEFAULT_GROUP "239.255.255.255"
#define SAP_DEFAULT_PORT  9875
#define SAP_MIME_SDP	  "application/sdp"
#define SAP_HEADER_LEN	  8 /* IPv4 origin, no auth data */
/* Longest SDP we send or keep. RFC 2974 asks for packets of at most 1 kB;
 * 64-channel SDPs with channel names run past that, so allow some room. */
#define SAP_SDP_MAX    4096
#define SAP_PACKET_MAX (SAP_HEADER_LEN + sizeof(SAP_MIME_SDP) + SAP_SDP_MAX)

/* ---- codec ---- */

enum sap_msg_type {
	SAP_ANNOUNCE,
	SAP_DELETE,
};

struct sap_msg {
	enum sap_msg_type type;
	struct in_addr origin;
	uint16_t msg_id_hash;
	bool has_mime;	    /* the payload type field was present */
	const uint8_t *sdp; /* slice of the packet, up to the first NUL */
	size_t sdp_len;	    /* 0 is possible for deletions */
};

/* Write a SAP packet (version 1, IPv4 origin, no auth, payload type
 * "application/sdp") carrying @sdp_len bytes of @sdp into @buf. Returns the
 * packet length, -ENOSPC when @len is too small, -EINVAL when @sdp_len
 * exceeds SAP_SDP_MAX or @sdp holds a NUL byte. */
int sap_pack(enum sap_msg_type type, struct in_addr origin,
	     uint16_t msg_id_hash, const char *sdp, size_t sdp_len,
	     uint8_t *buf, size_t len);

/* Parse @len bytes of a SAP packet; @out's SDP slice points into @buf.
 * Returns 0; -EPROTO for a version other than 1; -ENOTSUP for encrypted or
 * compressed packets, an IPv6 origin or a payload type other than
 * application/sdp; -EINVAL for a malformed packet (truncated, auth data past
 * the end, payload type without its NUL, empty announcement). On error
 * "byte N: what" goes to @err (may be NULL). */
int sap_unpack(const uint8_t *buf, size_t len, struct sap_msg *out, char *err,
	       size_t err_len);

/* The 16-bit message id hash of a session at a version: changes when the
 * version changes, never 0 (RFC 2974 reserves 0). */
uint16_t sap_msg_hash(uint64_t session_id, uint64_t session_version);

/* Session id and version from the o= line of @len bytes of SDP text (the
 * whole SDP need not be valid: deletions may carry the o= line only).
 * true when an o= line with both numbers was found. */
bool sap_sdp_origin(const uint8_t *sdp, size_t len, uint64_t *session_id,
		    uint64_t *session_version);

/* ---- table of remote sessions ---- */

/* One announced session. Pointers handed out stay valid until the next
 * call that modifies the table. */
struct sap_entry {
	struct in_addr origin; /* SAP header origin */
	uint16_t msg_id_hash;
	bool has_session_id; /* keyed by o= session id, else by the hash */
	uint64_t session_id;
	uint64_t session_version;
	char name[SDP_NAME_MAX]; /* s=, "" when none */
	char *sdp;		 /* NUL-terminated copy */
	size_t sdp_len;
	bool valid;		  /* sdp_parse() accepted it: @stream is set */
	struct sdp_stream stream; /* parsed stream when @valid */
	char parse_err[96];	  /* why not, when !@valid */
	bool own;		  /* origin is one of our addresses */
	uint64_t first_seen_ns;	  /* caller's clock */
	uint64_t last_seen_ns;	  /* last announcement */
	uint64_t interval_ns;	  /* observed announce interval, 0: n/a */
	uint64_t expires_ns;	  /* dropped after this */
	unsigned int announcements; /* received, duplicates included */
};

enum sap_event {
	SAP_EVENT_NEW,	   /* a session appeared */
	SAP_EVENT_CHANGED, /* its version or SDP text changed */
	SAP_EVENT_DELETED, /* its sender deleted it */
	SAP_EVENT_EXPIRED, /* not announced within its timeout */
	SAP_EVENT_EVICTED, /* dropped to make room (table full) */
};

/* Called for every change; @e is valid during the call only (removal
 * events come before the entry is freed). Must not modify the table. */
typedef void (*sap_table_event_fn)(void *data, enum sap_event ev,
				   const struct sap_entry *e);

struct sap_table_stats {
	unsigned int entries;
	unsigned int max_entries;
	uint64_t bytes; /* heap held by the table and its entries */
	uint64_t announcements;
	uint64_t deletions;
	uint64_t expired;
	uint64_t evicted;
	uint64_t rejected;    /* packets sap_unpack() or the table refused */
	uint64_t sdp_invalid; /* new or changed SDP text sdp_parse() refused
			       * (kept, without a stream: GET /streams) */
	uint64_t generation;  /* bumped on every event */
};

#define SAP_TABLE_DEFAULT_MAX	  256
#define SAP_TABLE_DEFAULT_FACTOR  10
#define SAP_TABLE_DEFAULT_TIMEOUT (300ull * 1000000000ull) /* 10 x 30 s */
#define SAP_TABLE_DEFAULT_FLOOR	  (60ull * 1000000000ull)
#define SAP_TABLE_DEFAULT_CEILING (3600ull * 1000000000ull)

/* A table of at most @max_entries sessions (0: default). An entry expires
 * @timeout_factor (0: default 10) times its observed announce interval
 * after its last announcement, clamped to [floor, ceiling]; an entry seen
 * once gets @default_timeout_ns (0: default). NULL on failure. */
struct sap_table *sap_table_new(unsigned int max_entries,
				unsigned int timeout_factor,
				uint64_t default_timeout_ns);
void sap_table_destroy(struct sap_table *t);

/* Bounds of the computed timeout (defaults 60 s and 1 h). The floor keeps
 * a sender's start-up burst (announcements 1 s apart) from making its
 * entry expire before its first regular announcement. 0 or -EINVAL. */
int sap_table_set_timeout_bounds(struct sap_table *t, uint64_t floor_ns,
				 uint64_t ceiling_ns);

void sap_table_set_callback(struct sap_table *t, sap_table_event_fn fn,
			    void *data);

/* Addresses whose announcements are ours (flagged .own). Up to 16;
 * -ENOSPC beyond. Entries already in the table are re-flagged. */
int sap_table_add_own_addr(struct sap_table *t, struct in_addr addr);

/* An announcement from @origin at @now_ns (any monotonic clock, used
 * consistently). Inserts or refreshes the entry. When full, evicts the
 * least recently announced of the entries announced only once, or, when
 * every entry has been announced at least twice, the least recently
 * announced of all (a segmented LRU: a flood of distinct one-shot
 * sessions cannot push out a session that keeps announcing). 0, -EINVAL
 * (empty SDP or longer than SAP_SDP_MAX) or -ENOMEM. */
int sap_table_update(struct sap_table *t, uint64_t now_ns,
		     struct in_addr origin, uint16_t msg_id_hash,
		     const uint8_t *sdp, size_t sdp_len);

/* A deletion: removes the entry matching the o= session id of @sdp, or the
 * hash when @sdp has no o= line. 0, or -ENOENT when nothing matched. */
int sap_table_delete(struct sap_table *t, struct in_addr origin,
		     uint16_t msg_id_hash, const uint8_t *sdp, size_t sdp_len);

/* sap_unpack() then update or delete: what a listener does with each
 * datagram. 0 or the -errno of the step that refused it (counted in
 * .rejected, reason in @err). */
int sap_table_receive(struct sap_table *t, uint64_t now_ns, const uint8_t *pkt,
		      size_t len, char *err, size_t err_len);

/* Drop entries whose time is up at @now_ns; returns how many. */
unsigned int sap_table_expire(struct sap_table *t, uint64_t now_ns);

/* The earliest expiry time, UINT64_MAX when empty: when to call
 * sap_table_expire() next. */
uint64_t sap_table_next_expiry(const struct sap_table *t);

unsigned int sap_table_count(const struct sap_table *t);

/* Iterate: pass NULL to get the first entry, then the previous entry;
 * NULL at the end. Order: least recently announced first. */
const struct sap_entry *sap_table_next(const struct sap_table *t,
				       const struct sap_entry *prev);

/* The entry whose s= name is @name (the most recently announced one when
 * several share it), or NULL. */
const struct sap_entry *sap_table_find_name(const struct sap_table *t,
					    const char *name);

void sap_table_get_stats(const struct sap_table *t,
			 struct sap_table_stats *out);

/* ---- listener: a socket and an expiry timer feeding a table ---- */

/* Join @group (NULL: 239.255.255.255:9875) on @ifname (NULL: default) and
 * feed every datagram to @t; expire entries on a timer. NULL on failure. */
struct sap_listener *sap_listener_new(struct loop *loop, struct sap_table *t,
				      const struct sockaddr_in *group,
				      const char *ifname);
void sap_listener_destroy(struct sap_listener *l);

/* ---- announcer of our own sessions ---- */

struct sap_announcer_config {
	struct sockaddr_in dst;	   /* 0.0.0.0:0 means 239.255.255.255:9875 */
	struct in_addr origin;	   /* header origin and source; 0: egress */
	const char *ifname;	   /* multicast egress interface, or NULL */
	int ttl;		   /* 0 means 15 */
	int dscp;		   /* 0-63 */
	uint64_t interval_ns;	   /* 0 means 30 s; sent +-10 % */
	unsigned int burst_count;  /* quick repeats on add/change; 0: 3 */
	uint64_t burst_gap_ns;	   /* 0 means 1 s */
	unsigned int delete_count; /* deletions sent on remove; 0: 3 */
};

/* Open the socket (common/net.h) and start with no sessions; a NULL @cfg
 * takes every default. NULL on failure (logged). */
struct sap_announcer *sap_announcer_new(struct loop *loop,
					const struct sap_announcer_config *cfg);

/* Send deletions for every session, then free. */
void sap_announcer_destroy(struct sap_announcer *a);

/* Announce @sdp under our key @id: a new session or changed text is sent
 * at once and burst_count - 1 more times burst_gap apart, then every
 * interval; the same text again changes nothing. 0, -EINVAL (empty, too
 * long, NUL inside) or -ENOMEM. */
int sap_announcer_set(struct sap_announcer *a, uint32_t id, const char *sdp);

/* Send delete_count deletions for @id and forget it. 0 or -ENOENT. */
int sap_announcer_remove(struct sap_announcer *a, uint32_t id);

/* The origin address put in our packets (add it to the table's own list). */
struct in_addr sap_announcer_origin(const struct sap_announcer *a);

/* Packets sent so far (announcements and deletions), and send failures. */
uint64_t sap_announcer_sent(const struct sap_announcer *a);
uint64_t sap_announcer_send_errors(const struct sap_announcer *a);

#endif
