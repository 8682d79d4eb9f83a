/* SAP codec, the table of remote sessions and the announcer. The table is a
 * hash on (origin, session id) with an LRU list: a refresh moves an entry to
 * the tail, so the list's order is the iteration order (least recently
 * announced first). Eviction is a segmented LRU over two more lists:
 * entries announced once (probation) and entries announced at least twice
 * (protected), each least recently announced first. A full table evicts
 * the head of probation, and the head of protected only when probation is
 * empty: a flood of distinct one-shot sessions only ever evicts its own
 * kind, and a session that keeps announcing stays. Every step is O(1) per
 * packet and the table never holds more than max_entries entries. */
#include "discovery/sap.h"
#include "common/log.h"
#include "common/loop.h"
#include "common/net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#define SAP_V1		  0x20
#define SAP_F_A		  0x10 /* IPv6 origin */
#define SAP_F_T		  0x04 /* deletion */
#define SAP_F_E		  0x02 /* encrypted */
#define SAP_F_C		  0x01 /* compressed */
#define SAP_OWN_MAX	  16
#define SAP_GAPS	  4 /* intervals remembered per entry */
#define SAP_ENTRIES_LIMIT (1u << 20)

/* ---- codec ---- */

static int fail(char *err, size_t err_len, int ret, size_t pos, const char *fmt,
		...) __attribute__((format(printf, 5, 6)));

static int fail(char *err, size_t err_len, int ret, size_t pos, const char *fmt,
		...)
{
	va_list ap;
	int n;

	if (!err || !err_len)
		return ret;
	n = snprintf(err, err_len, "byte %zu: ", pos);
	if (n < 0 || (size_t)n >= err_len)
		return ret;
	va_start(ap, fmt);
	vsnprintf(err + n, err_len - (size_t)n, fmt, ap);
	va_end(ap);
	return ret;
}

int sap_pack(enum sap_msg_type type, struct in_addr origin,
	     uint16_t msg_id_hash, const char *sdp, size_t sdp_len,
	     uint8_t *buf, size_t len)
{
	size_t need = SAP_HEADER_LEN + sizeof(SAP_MIME_SDP) + sdp_len;

	if (sdp_len > SAP_SDP_MAX || (sdp_len && !sdp) ||
	    (sdp_len && memchr(sdp, '\0', sdp_len)))
		return -EINVAL;
	if (len < need)
		return -ENOSPC;
	buf[0] = SAP_V1 | (type == SAP_DELETE ? SAP_F_T : 0);
	buf[1] = 0; /* no authentication data */
	buf[2] = (uint8_t)(msg_id_hash >> 8);
	buf[3] = (uint8_t)msg_id_hash;
	memcpy(buf + 4, &origin.s_addr, 4);
	memcpy(buf + SAP_HEADER_LEN, SAP_MIME_SDP, sizeof(SAP_MIME_SDP));
	if (sdp_len)
		memcpy(buf + SAP_HEADER_LEN + sizeof(SAP_MIME_SDP), sdp,
		       sdp_len);
	return (int)need;
}

/* Printable rendering of outside text for error messages. */
static const char *quote(const uint8_t *p, size_t n, char *out, size_t len)
{
	size_t i, o = 0;

	for (i = 0; i < n && o + 5 < len; i++)
		out[o++] = (p[i] >= 0x20 && p[i] < 0x7f) ? (char)p[i] : '?';
	if (i < n && o + 4 < len) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o] = '\0';
	return out;
}

int sap_unpack(const uint8_t *buf, size_t len, struct sap_msg *out, char *err,
	       size_t err_len)
{
	const uint8_t *payload, *nul;
	size_t pos, plen, auth_len;
	struct sap_msg m;

	if (err && err_len)
		err[0] = '\0';
	if (!buf || len == 0)
		return fail(err, err_len, -EINVAL, 0, "empty packet");
	if ((buf[0] >> 5) != 1)
		return fail(err, err_len, -EPROTO, 0, "SAP version %u, want 1",
			    buf[0] >> 5);
	if (buf[0] & SAP_F_E)
		return fail(err, err_len, -ENOTSUP, 0,
			    "encrypted (E bit set), not supported");
	if (buf[0] & SAP_F_C)
		return fail(err, err_len, -ENOTSUP, 0,
			    "compressed (C bit set), not supported");
	if (buf[0] & SAP_F_A)
		return fail(err, err_len, -ENOTSUP, 0,
			    "IPv6 origin, not supported");
	if (len < SAP_HEADER_LEN)
		return fail(err, err_len, -EINVAL, len,
			    "truncated header (%zu of %d bytes)", len,
			    SAP_HEADER_LEN);
	auth_len = (size_t)buf[1] * 4;
	if (auth_len > len - SAP_HEADER_LEN)
		return fail(err, err_len, -EINVAL, 1,
			    "authentication data of %zu bytes runs past the "
			    "end of a %zu-byte packet",
			    auth_len, len);

	memset(&m, 0, sizeof(m));
	m.type = (buf[0] & SAP_F_T) ? SAP_DELETE : SAP_ANNOUNCE;
	m.msg_id_hash = (uint16_t)(buf[2] << 8 | buf[3]);
	memcpy(&m.origin.s_addr, buf + 4, 4);
	pos = SAP_HEADER_LEN + auth_len;
	payload = buf + pos;
	plen = len - pos;

	/* The payload type is optional (RFC 2974 §6): an SDP starts "v=0",
	 * which no MIME type does. */
	if (plen >= 3 && memcmp(payload, "v=0", 3) == 0) {
		m.has_mime = false;
	} else {
		char q[40];

		nul = memchr(payload, '\0', plen);
		if (!nul)
			return fail(err, err_len, -EINVAL, pos,
				    "payload type '%s' without its NUL "
				    "terminator",
				    quote(payload, plen, q, sizeof(q)));
		if ((size_t)(nul - payload) != strlen(SAP_MIME_SDP) ||
		    strncasecmp((const char *)payload, SAP_MIME_SDP,
				strlen(SAP_MIME_SDP)) != 0)
			return fail(err, err_len, -ENOTSUP, pos,
				    "payload type '%s', want %s",
				    quote(payload, (size_t)(nul - payload), q,
					  sizeof(q)),
				    SAP_MIME_SDP);
		m.has_mime = true;
		pos += (size_t)(nul - payload) + 1;
		payload = nul + 1;
		plen = len - pos;
	}
	nul = memchr(payload, '\0', plen);
	m.sdp = payload;
	m.sdp_len = nul ? (size_t)(nul - payload) : plen;
	if (m.type == SAP_ANNOUNCE && m.sdp_len == 0)
		return fail(err, err_len, -EINVAL, pos,
			    "announcement without SDP");
	*out = m;
	return 0;
}

uint16_t sap_msg_hash(uint64_t session_id, uint64_t session_version)
{
	uint32_t h = 2166136261u; /* FNV-1a */
	uint16_t r;
	int i;

	for (i = 0; i < 8; i++) {
		h = (h ^ (uint8_t)(session_id >> (8 * i))) * 16777619u;
		h = (h ^ (uint8_t)(session_version >> (8 * i))) * 16777619u;
	}
	r = (uint16_t)((h >> 16) ^ h);
	return r ? r : 1;
}

/* The value of the first "<type>=" line of @sdp, as a slice. */
static bool sdp_line(const uint8_t *sdp, size_t len, char type,
		     const uint8_t **val, size_t *val_len)
{
	const uint8_t *nul = memchr(sdp, '\0', len);
	size_t pos = 0;

	if (nul)
		len = (size_t)(nul - sdp);
	while (pos < len) {
		const uint8_t *eol = memchr(sdp + pos, '\n', len - pos);
		size_t end = eol ? (size_t)(eol - sdp) : len;
		size_t n = end - pos;

		if (n && sdp[end - 1] == '\r')
			n--;
		if (n >= 2 && sdp[pos] == (uint8_t)type &&
		    sdp[pos + 1] == '=') {
			*val = sdp + pos + 2;
			*val_len = n - 2;
			return true;
		}
		pos = end + 1;
	}
	return false;
}

static bool parse_u64(const uint8_t **p, const uint8_t *end, uint64_t *out)
{
	uint64_t v = 0;
	const uint8_t *s = *p;

	if (s == end || *s < '0' || *s > '9')
		return false;
	for (; s < end && *s >= '0' && *s <= '9'; s++) {
		if (v > (UINT64_MAX - (uint64_t)(*s - '0')) / 10)
			return false;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	*p = s;
	*out = v;
	return true;
}

bool sap_sdp_origin(const uint8_t *sdp, size_t len, uint64_t *session_id,
		    uint64_t *session_version)
{
	const uint8_t *v, *end;
	size_t n;
	uint64_t id, ver;

	if (!sdp || !sdp_line(sdp, len, 'o', &v, &n))
		return false;
	end = v + n;
	/* <username> <sess-id> <sess-version> ... */
	while (v < end && *v != ' ')
		v++;
	while (v < end && *v == ' ')
		v++;
	if (!parse_u64(&v, end, &id) || v == end || *v != ' ')
		return false;
	while (v < end && *v == ' ')
		v++;
	if (!parse_u64(&v, end, &ver) || (v != end && *v != ' '))
		return false;
	*session_id = id;
	*session_version = ver;
	return true;
}

/* ---- table ---- */

struct sap_key {
	uint32_t origin;
	bool by_id;
	uint64_t id; /* o= session id, or the msg id hash */
};

struct tentry {
	struct sap_entry e; /* first: the public view */
	struct sap_key key;
	struct tentry *hnext;
	struct tentry *prev, *next;   /* LRU: head is the stalest */
	struct tentry *sprev, *snext; /* in its segment, same order */
	bool protected;		      /* announced at least twice */
	uint64_t gaps_ns[SAP_GAPS];
	unsigned int n_gaps;
	unsigned int gap_pos;
	size_t bytes;
};

struct sap_table {
	unsigned int max_entries;
	unsigned int factor;
	uint64_t default_timeout_ns;
	uint64_t floor_ns;
	uint64_t ceiling_ns;
	struct tentry **buckets;
	unsigned int n_buckets; /* power of two */
	struct tentry *head, *tail;
	struct sap_seg {
		struct tentry *head, *tail;
	} probation, protected;
	struct in_addr own[SAP_OWN_MAX];
	unsigned int n_own;
	sap_table_event_fn fn;
	void *fn_data;
	struct sap_table_stats st;
};

static struct tentry *tentry_of(const struct sap_entry *e)
{
	return (struct tentry *)e;
}

static unsigned int key_bucket(const struct sap_table *t,
			       const struct sap_key *k)
{
	uint64_t h = k->id * 0x9e3779b97f4a7c15ull;

	h ^= (uint64_t)k->origin * 0xc2b2ae3d27d4eb4full;
	h ^= k->by_id;
	h ^= h >> 29;
	return (unsigned int)h & (t->n_buckets - 1);
}

static bool key_eq(const struct sap_key *a, const struct sap_key *b)
{
	return a->origin == b->origin && a->by_id == b->by_id && a->id == b->id;
}

struct sap_table *sap_table_new(unsigned int max_entries,
				unsigned int timeout_factor,
				uint64_t default_timeout_ns)
{
	struct sap_table *t;

	if (max_entries == 0)
		max_entries = SAP_TABLE_DEFAULT_MAX;
	if (max_entries > SAP_ENTRIES_LIMIT) {
		log_err("sap_table_new: %u entries is more than %u",
			max_entries, SAP_ENTRIES_LIMIT);
		return NULL;
	}
	t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->max_entries = max_entries;
	t->factor = timeout_factor ? timeout_factor : SAP_TABLE_DEFAULT_FACTOR;
	t->default_timeout_ns =
	    default_timeout_ns ? default_timeout_ns : SAP_TABLE_DEFAULT_TIMEOUT;
	t->floor_ns = SAP_TABLE_DEFAULT_FLOOR;
	t->ceiling_ns = SAP_TABLE_DEFAULT_CEILING;
	t->n_buckets = 16;
	while (t->n_buckets < max_entries)
		t->n_buckets <<= 1;
	t->buckets = calloc(t->n_buckets, sizeof(*t->buckets));
	if (!t->buckets) {
		free(t);
		return NULL;
	}
	t->st.max_entries = max_entries;
	t->st.bytes = sizeof(*t) + t->n_buckets * sizeof(*t->buckets);
	return t;
}

static void tentry_free(struct tentry *te)
{
	free(te->e.sdp);
	free(te);
}

void sap_table_destroy(struct sap_table *t)
{
	struct tentry *te, *next;

	if (!t)
		return;
	for (te = t->head; te; te = next) {
		next = te->next;
		tentry_free(te);
	}
	free(t->buckets);
	free(t);
}

int sap_table_set_timeout_bounds(struct sap_table *t, uint64_t floor_ns,
				 uint64_t ceiling_ns)
{
	if (!t || floor_ns > ceiling_ns)
		return -EINVAL;
	t->floor_ns = floor_ns;
	t->ceiling_ns = ceiling_ns;
	return 0;
}

void sap_table_set_callback(struct sap_table *t, sap_table_event_fn fn,
			    void *data)
{
	t->fn = fn;
	t->fn_data = data;
}

static bool is_own(const struct sap_table *t, struct in_addr a)
{
	unsigned int i;

	for (i = 0; i < t->n_own; i++)
		if (t->own[i].s_addr == a.s_addr)
			return true;
	return false;
}

static void flag_own(const struct sap_table *t, struct tentry *te)
{
	te->e.own = is_own(t, te->e.origin) ||
		    (te->e.valid && is_own(t, te->e.stream.origin_addr));
}

int sap_table_add_own_addr(struct sap_table *t, struct in_addr addr)
{
	struct tentry *te;

	if (is_own(t, addr))
		return 0;
	if (t->n_own == SAP_OWN_MAX)
		return -ENOSPC;
	t->own[t->n_own++] = addr;
	for (te = t->head; te; te = te->next)
		flag_own(t, te);
	return 0;
}

static void emit(struct sap_table *t, enum sap_event ev, struct tentry *te)
{
	t->st.generation++;
	if (t->fn)
		t->fn(t->fn_data, ev, &te->e);
}

static void lru_unlink(struct sap_table *t, struct tentry *te)
{
	if (te->prev)
		te->prev->next = te->next;
	else
		t->head = te->next;
	if (te->next)
		te->next->prev = te->prev;
	else
		t->tail = te->prev;
	te->prev = te->next = NULL;
}

static void lru_append(struct sap_table *t, struct tentry *te)
{
	te->prev = t->tail;
	te->next = NULL;
	if (t->tail)
		t->tail->next = te;
	else
		t->head = te;
	t->tail = te;
}

static struct sap_seg *seg_of(struct sap_table *t, const struct tentry *te)
{
	return te->protected ? &t->protected : &t->probation;
}

static void seg_unlink(struct sap_table *t, struct tentry *te)
{
	struct sap_seg *sg = seg_of(t, te);

	if (te->sprev)
		te->sprev->snext = te->snext;
	else
		sg->head = te->snext;
	if (te->snext)
		te->snext->sprev = te->sprev;
	else
		sg->tail = te->sprev;
	te->sprev = te->snext = NULL;
}

static void seg_append(struct sap_table *t, struct tentry *te)
{
	struct sap_seg *sg = seg_of(t, te);

	te->sprev = sg->tail;
	te->snext = NULL;
	if (sg->tail)
		sg->tail->snext = te;
	else
		sg->head = te;
	sg->tail = te;
}

/* Announced again: to the tail of the LRU list and of its segment,
 * promoted to protected from its second announcement on. */
static void lru_touch(struct sap_table *t, struct tentry *te)
{
	lru_unlink(t, te);
	lru_append(t, te);
	seg_unlink(t, te);
	if (te->e.announcements >= 2)
		te->protected = true;
	seg_append(t, te);
}

/* Whom a full table drops: the stalest one-shot entry, else the stalest
 * of all (every entry is protected then). */
static struct tentry *victim(const struct sap_table *t)
{
	return t->probation.head ? t->probation.head : t->protected.head;
}

static struct tentry *lookup(const struct sap_table *t, const struct sap_key *k)
{
	struct tentry *te;

	for (te = t->buckets[key_bucket(t, k)]; te; te = te->hnext)
		if (key_eq(&te->key, k))
			return te;
	return NULL;
}

/* Unlink, report and free. */
static void remove_entry(struct sap_table *t, struct tentry *te,
			 enum sap_event ev)
{
	struct tentry **pp = &t->buckets[key_bucket(t, &te->key)];

	while (*pp != te)
		pp = &(*pp)->hnext;
	*pp = te->hnext;
	lru_unlink(t, te);
	seg_unlink(t, te);
	t->st.entries--;
	t->st.bytes -= te->bytes;
	emit(t, ev, te);
	tentry_free(te);
}

static void make_key(struct in_addr origin, uint16_t hash, const uint8_t *sdp,
		     size_t len, struct sap_key *k)
{
	uint64_t ver;

	memset(k, 0, sizeof(*k));
	k->origin = origin.s_addr;
	k->by_id = sap_sdp_origin(sdp, len, &k->id, &ver);
	if (!k->by_id)
		k->id = hash;
}

static uint64_t timeout_of(const struct sap_table *t, const struct tentry *te)
{
	uint64_t gap = 0, timeout;
	unsigned int i;

	if (te->n_gaps == 0)
		return t->default_timeout_ns;
	/* The largest recent gap: a start-up burst or a duplicate packet
	 * must not shorten the timeout of a 30 s sender. */
	for (i = 0; i < te->n_gaps; i++)
		if (te->gaps_ns[i] > gap)
			gap = te->gaps_ns[i];
	timeout =
	    gap > t->ceiling_ns / t->factor ? t->ceiling_ns : gap * t->factor;
	if (timeout < t->floor_ns)
		timeout = t->floor_ns;
	if (timeout > t->ceiling_ns)
		timeout = t->ceiling_ns;
	return timeout;
}

/* (Re)fill an entry's text and what is derived from it. */
static int set_sdp(struct sap_table *t, struct tentry *te, const uint8_t *sdp,
		   size_t len)
{
	char *copy = malloc(len + 1);
	const uint8_t *v;
	size_t n;
	uint64_t id, ver;

	if (!copy)
		return -ENOMEM;
	memcpy(copy, sdp, len);
	copy[len] = '\0';
	t->st.bytes -= te->bytes;
	if (te->e.sdp)
		te->bytes -= te->e.sdp_len + 1;
	free(te->e.sdp);
	te->e.sdp = copy;
	te->e.sdp_len = len;
	te->bytes += len + 1;
	t->st.bytes += te->bytes;

	te->e.valid = sdp_parse(sdp, len, &te->e.stream, te->e.parse_err,
				sizeof(te->e.parse_err)) == 0;
	if (te->e.valid) {
		te->e.parse_err[0] = '\0';
		te->e.session_version = te->e.stream.session_version;
		snprintf(te->e.name, sizeof(te->e.name), "%s",
			 te->e.stream.name);
	} else {
		t->st.sdp_invalid++;
		memset(&te->e.stream, 0, sizeof(te->e.stream));
		te->e.name[0] = '\0';
		if (sdp_line(sdp, len, 's', &v, &n)) {
			if (n >= sizeof(te->e.name))
				n = sizeof(te->e.name) - 1;
			memcpy(te->e.name, v, n);
			te->e.name[n] = '\0';
		}
		if (sap_sdp_origin(sdp, len, &id, &ver))
			te->e.session_version = ver;
	}
	flag_own(t, te);
	return 0;
}

int sap_table_update(struct sap_table *t, uint64_t now_ns,
		     struct in_addr origin, uint16_t msg_id_hash,
		     const uint8_t *sdp, size_t sdp_len)
{
	struct sap_key k;
	struct tentry *te;
	unsigned int b;
	int err;

	if (!sdp || sdp_len == 0 || sdp_len > SAP_SDP_MAX)
		return -EINVAL;
	make_key(origin, msg_id_hash, sdp, sdp_len, &k);
	te = lookup(t, &k);
	if (te) {
		bool changed = te->e.sdp_len != sdp_len ||
			       memcmp(te->e.sdp, sdp, sdp_len) != 0;

		if (changed) {
			err = set_sdp(t, te, sdp, sdp_len);
			if (err)
				return err;
		}
		if (now_ns >= te->e.last_seen_ns) {
			te->gaps_ns[te->gap_pos] = now_ns - te->e.last_seen_ns;
			te->gap_pos = (te->gap_pos + 1) % SAP_GAPS;
			if (te->n_gaps < SAP_GAPS)
				te->n_gaps++;
			te->e.interval_ns = now_ns - te->e.last_seen_ns;
			te->e.last_seen_ns = now_ns;
		}
		te->e.msg_id_hash = msg_id_hash;
		te->e.announcements++;
		te->e.expires_ns = te->e.last_seen_ns + timeout_of(t, te);
		lru_touch(t, te);
		t->st.announcements++;
		if (changed)
			emit(t, SAP_EVENT_CHANGED, te);
		return 0;
	}

	if (t->st.entries >= t->max_entries) {
		t->st.evicted++;
		remove_entry(t, victim(t), SAP_EVENT_EVICTED);
	}
	te = calloc(1, sizeof(*te));
	if (!te)
		return -ENOMEM;
	te->bytes = sizeof(*te);
	t->st.bytes += te->bytes;
	te->key = k;
	te->e.origin = origin;
	te->e.msg_id_hash = msg_id_hash;
	te->e.has_session_id = k.by_id;
	te->e.session_id = k.by_id ? k.id : 0;
	err = set_sdp(t, te, sdp, sdp_len);
	if (err) {
		t->st.bytes -= te->bytes;
		free(te);
		return err;
	}
	te->e.first_seen_ns = now_ns;
	te->e.last_seen_ns = now_ns;
	te->e.announcements = 1;
	te->e.expires_ns = now_ns + timeout_of(t, te);
	b = key_bucket(t, &k);
	te->hnext = t->buckets[b];
	t->buckets[b] = te;
	lru_append(t, te);
	seg_append(t, te);
	t->st.entries++;
	t->st.announcements++;
	emit(t, SAP_EVENT_NEW, te);
	return 0;
}

int sap_table_delete(struct sap_table *t, struct in_addr origin,
		     uint16_t msg_id_hash, const uint8_t *sdp, size_t sdp_len)
{
	struct sap_key k;
	struct tentry *te;

	make_key(origin, msg_id_hash, sdp, sdp_len, &k);
	te = lookup(t, &k);
	if (!te && k.by_id) {
		k.by_id = false;
		k.id = msg_id_hash;
		te = lookup(t, &k);
	}
	if (!te) {
		/* RFC 2974 names the announcement by origin and hash only */
		for (te = t->head; te; te = te->next)
			if (te->e.origin.s_addr == origin.s_addr &&
			    te->e.msg_id_hash == msg_id_hash)
				break;
	}
	if (!te)
		return -ENOENT;
	t->st.deletions++;
	remove_entry(t, te, SAP_EVENT_DELETED);
	return 0;
}

int sap_table_receive(struct sap_table *t, uint64_t now_ns, const uint8_t *pkt,
		      size_t len, char *err, size_t err_len)
{
	struct sap_msg m;
	int ret;

	ret = sap_unpack(pkt, len, &m, err, err_len);
	if (ret) {
		t->st.rejected++;
		return ret;
	}
	if (m.type == SAP_DELETE) {
		sap_table_delete(t, m.origin, m.msg_id_hash, m.sdp, m.sdp_len);
		return 0;
	}
	ret = sap_table_update(t, now_ns, m.origin, m.msg_id_hash, m.sdp,
			       m.sdp_len);
	if (ret) {
		t->st.rejected++;
		if (err && err_len)
			snprintf(err, err_len, "SDP of %zu bytes refused: %s",
				 m.sdp_len, strerror(-ret));
	}
	return ret;
}

unsigned int sap_table_expire(struct sap_table *t, uint64_t now_ns)
{
	struct tentry *te, *next;
	unsigned int n = 0;

	for (te = t->head; te; te = next) {
		next = te->next;
		if (te->e.expires_ns > now_ns)
			continue;
		t->st.expired++;
		remove_entry(t, te, SAP_EVENT_EXPIRED);
		n++;
	}
	return n;
}

uint64_t sap_table_next_expiry(const struct sap_table *t)
{
	const struct tentry *te;
	uint64_t next = UINT64_MAX;

	for (te = t->head; te; te = te->next)
		if (te->e.expires_ns < next)
			next = te->e.expires_ns;
	return next;
}

unsigned int sap_table_count(const struct sap_table *t)
{
	return t->st.entries;
}

const struct sap_entry *sap_table_next(const struct sap_table *t,
				       const struct sap_entry *prev)
{
	const struct tentry *te = prev ? tentry_of(prev)->next : t->head;

	return te ? &te->e : NULL;
}

const struct sap_entry *sap_table_find_name(const struct sap_table *t,
					    const char *name)
{
	const struct tentry *te;

	for (te = t->tail; te; te = te->prev)
		if (strcmp(te->e.name, name) == 0)
			return &te->e;
	return NULL;
}

void sap_table_get_stats(const struct sap_table *t, struct sap_table_stats *out)
{
	*out = t->st;
}

/* ---- listener ---- */

#define SAP_RX_BUF	 65536
#define SAP_RX_PER_WAKE	 64
#define SAP_EXPIRE_EVERY (1000000000ull)

struct sap_listener {
	struct loop *loop;
	struct sap_table *table;
	int fd;
	struct loop_io *io;
	struct loop_timer *timer;
	struct log_ratelimit rl;
	uint8_t buf[SAP_RX_BUF];
};

static void listener_readable(void *data, int fd, uint32_t events)
{
	struct sap_listener *l = data;
	int i;

	/* bounded, so a flood cannot starve the rest of the loop */
	for (i = 0; i < SAP_RX_PER_WAKE; i++) {
		struct sockaddr_in from;
		socklen_t flen = sizeof(from);
		char err[160], ep[32];
		unsigned int supp;
		ssize_t n;

		n = recvfrom(fd, l->buf, sizeof(l->buf), MSG_TRUNC,
			     (struct sockaddr *)&from, &flen);
		if (n < 0) {
			if (errno != EAGAIN && errno != EINTR &&
			    log_ratelimit_ok(&l->rl, &supp))
				log_warn("sap: recvfrom: %m");
			return;
		}
		if ((size_t)n > sizeof(l->buf)) {
			l->table->st.rejected++;
			continue;
		}
		if (sap_table_receive(l->table, loop_now_ns(), l->buf,
				      (size_t)n, err, sizeof(err)) &&
		    log_ratelimit_ok(&l->rl, &supp))
			log_warn("sap: packet from %s refused: %s%s",
				 net_endpoint_str(&from, ep, sizeof(ep)), err,
				 supp ? " (and earlier ones not logged)" : "");
	}
}

static void listener_expire(void *data)
{
	struct sap_listener *l = data;

	sap_table_expire(l->table, loop_now_ns());
}

struct sap_listener *sap_listener_new(struct loop *loop, struct sap_table *t,
				      const struct sockaddr_in *group,
				      const char *ifname)
{
	struct sap_listener *l = calloc(1, sizeof(*l));
	struct sockaddr_in addr;

	if (!l)
		return NULL;
	l->fd = -1;
	l->loop = loop;
	l->table = t;
	l->rl = (struct log_ratelimit)LOG_RATELIMIT_INIT(10000000000ull, 5);
	if (group) {
		addr = *group;
	} else {
		memset(&addr, 0, sizeof(addr));
		addr.sin_family = AF_INET;
		addr.sin_port = htons(SAP_DEFAULT_PORT);
		inet_pton(AF_INET, SAP_DEFAULT_GROUP, &addr.sin_addr);
	}
	l->fd = net_udp_rx_open(&addr, ifname);
	if (l->fd < 0)
		goto out_destroy;
	l->io = loop_io_add(loop, l->fd, LOOP_IN, listener_readable, l);
	l->timer = loop_timer_new(loop, listener_expire, l);
	if (!l->io || !l->timer)
		goto out_destroy;
	loop_timer_arm(l->timer, SAP_EXPIRE_EVERY, SAP_EXPIRE_EVERY);
	return l;

out_destroy:
	sap_listener_destroy(l);
	return NULL;
}

void sap_listener_destroy(struct sap_listener *l)
{
	if (!l)
		return;
	loop_timer_free(l->timer);
	loop_io_remove(l->io);
	if (l->fd >= 0)
		close(l->fd);
	free(l);
}

/* ---- announcer ---- */

struct asession {
	struct sap_announcer *a;
	uint32_t id;
	char *sdp;
	size_t sdp_len;
	uint16_t hash;
	unsigned int revision;
	unsigned int burst_left;
	struct loop_timer *timer;
	struct asession *next;
};

struct sap_announcer {
	struct loop *loop;
	struct sap_announcer_config cfg;
	char *ifname;
	int fd;
	struct asession *sessions;
	uint64_t sent;
	uint64_t errors;
	uint64_t rng;
	struct log_ratelimit rl;
	uint8_t pkt[SAP_PACKET_MAX];
};

/* The regular interval, spread by +-10 % (RFC 2974 3.1) so that the
 * sessions of one host, and hosts started together, do not stay in step. */
static uint64_t next_interval(struct sap_announcer *a)
{
	uint64_t ns = a->cfg.interval_ns, span = ns / 5;

	a->rng ^= a->rng << 13;
	a->rng ^= a->rng >> 7;
	a->rng ^= a->rng << 17;
	return span ? ns - ns / 10 + a->rng % span : ns;
}

static void send_msg(struct sap_announcer *a, struct asession *s,
		     enum sap_msg_type type)
{
	unsigned int supp;
	int n;

	n = sap_pack(type, a->cfg.origin, s->hash, s->sdp, s->sdp_len, a->pkt,
		     sizeof(a->pkt));
	if (n < 0)
		return; /* checked in sap_announcer_set() */
	if (sendto(a->fd, a->pkt, (size_t)n, 0,
		   (const struct sockaddr *)&a->cfg.dst,
		   sizeof(a->cfg.dst)) < 0) {
		a->errors++;
		if (log_ratelimit_ok(&a->rl, &supp))
			log_warn("sap: sendto: %m%s",
				 supp ? " (and earlier ones not logged)" : "");
		return;
	}
	a->sent++;
}

static void session_tick(void *data)
{
	struct asession *s = data;
	struct sap_announcer *a = s->a;

	send_msg(a, s, SAP_ANNOUNCE);
	if (s->burst_left)
		s->burst_left--;
	loop_timer_arm(s->timer,
		       s->burst_left ? a->cfg.burst_gap_ns : next_interval(a),
		       0);
}

struct sap_announcer *sap_announcer_new(struct loop *loop,
					const struct sap_announcer_config *cfg)
{
	struct sap_announcer *a = calloc(1, sizeof(*a));
	struct net_tx_opts opts = {0};
	uint8_t mac[6];

	if (!a)
		return NULL;
	a->fd = -1;
	a->loop = loop;
	a->rl = (struct log_ratelimit)LOG_RATELIMIT_INIT(10000000000ull, 5);
	a->rng = (loop_now_ns() ^ ((uint64_t)getpid() << 32)) | 1;
	if (cfg)
		a->cfg = *cfg;
	if (a->cfg.dst.sin_addr.s_addr == htonl(INADDR_ANY)) {
		a->cfg.dst.sin_family = AF_INET;
		inet_pton(AF_INET, SAP_DEFAULT_GROUP, &a->cfg.dst.sin_addr);
	}
	if (a->cfg.dst.sin_port == 0)
		a->cfg.dst.sin_port = htons(SAP_DEFAULT_PORT);
	if (a->cfg.ttl == 0)
		a->cfg.ttl = 15;
	if (a->cfg.interval_ns == 0)
		a->cfg.interval_ns = 30ull * 1000000000ull;
	if (a->cfg.burst_count == 0)
		a->cfg.burst_count = 3;
	if (a->cfg.burst_gap_ns == 0)
		a->cfg.burst_gap_ns = 1000000000ull;
	if (a->cfg.delete_count == 0)
		a->cfg.delete_count = 3;
	if (a->cfg.ifname) {
		a->ifname = strdup(a->cfg.ifname);
		if (!a->ifname)
			goto out_destroy;
	}
	a->cfg.ifname = a->ifname;
	if (a->cfg.origin.s_addr == htonl(INADDR_ANY))
		net_egress(&a->cfg.dst, &a->cfg.origin, mac);
	opts.src = a->cfg.origin;
	opts.dscp = a->cfg.dscp;
	opts.ttl = a->cfg.ttl;
	opts.ifname = a->ifname;
	a->fd = net_udp_tx_open(&a->cfg.dst, &opts);
	if (a->fd < 0)
		goto out_destroy;
	return a;

out_destroy:
	sap_announcer_destroy(a);
	return NULL;
}

static void session_free(struct asession *s)
{
	loop_timer_free(s->timer);
	free(s->sdp);
	free(s);
}

void sap_announcer_destroy(struct sap_announcer *a)
{
	struct asession *s;

	if (!a)
		return;
	while ((s = a->sessions)) {
		unsigned int i;

		a->sessions = s->next;
		if (a->fd >= 0)
			for (i = 0; i < a->cfg.delete_count; i++)
				send_msg(a, s, SAP_DELETE);
		session_free(s);
	}
	if (a->fd >= 0)
		close(a->fd);
	free(a->ifname);
	free(a);
}

static struct asession **find_session(struct sap_announcer *a, uint32_t id)
{
	struct asession **pp;

	for (pp = &a->sessions; *pp; pp = &(*pp)->next)
		if ((*pp)->id == id)
			break;
	return pp;
}

/* A hash that changes whenever the text does (RFC 2974 §5). */
static uint16_t session_hash(const struct asession *s, bool had_hash)
{
	uint64_t id, ver;
	uint16_t h;

	if (!sap_sdp_origin((const uint8_t *)s->sdp, s->sdp_len, &id, &ver)) {
		id = s->id;
		ver = 0;
	}
	h = sap_msg_hash(id, ver + ((uint64_t)s->revision << 48));
	if (had_hash && h == s->hash)
		h = sap_msg_hash(id, ver + ((uint64_t)(s->revision + 1) << 48));
	return h;
}

int sap_announcer_set(struct sap_announcer *a, uint32_t id, const char *sdp)
{
	struct asession **pp = find_session(a, id), *s = *pp;
	size_t len = sdp ? strlen(sdp) : 0;
	uint64_t sid, ver, old_ver;
	bool had;
	char *copy;

	if (len == 0 || len > SAP_SDP_MAX)
		return -EINVAL;
	if (s && s->sdp_len == len && memcmp(s->sdp, sdp, len) == 0)
		return 0;
	copy = strdup(sdp);
	if (!copy)
		return -ENOMEM;
	had = s != NULL;
	if (!s) {
		s = calloc(1, sizeof(*s));
		if (!s)
			goto out_free_copy;
		s->a = a;
		s->id = id;
		s->timer = loop_timer_new(a->loop, session_tick, s);
		if (!s->timer) {
			free(s);
			goto out_free_copy;
		}
		s->next = a->sessions;
		a->sessions = s;
	} else {
		/* same o= version with new text: the hash must still move */
		if (!sap_sdp_origin((const uint8_t *)s->sdp, s->sdp_len, &sid,
				    &old_ver) ||
		    !sap_sdp_origin((const uint8_t *)copy, len, &sid, &ver) ||
		    ver == old_ver)
			s->revision++;
	}
	free(s->sdp);
	s->sdp = copy;
	s->sdp_len = len;
	s->hash = session_hash(s, had);
	s->burst_left = a->cfg.burst_count - 1;
	send_msg(a, s, SAP_ANNOUNCE);
	loop_timer_arm(s->timer,
		       s->burst_left ? a->cfg.burst_gap_ns : next_interval(a),
		       0);
	return 0;

out_free_copy:
	free(copy);
	return -ENOMEM;
}

int sap_announcer_remove(struct sap_announcer *a, uint32_t id)
{
	struct asession **pp = find_session(a, id), *s = *pp;
	unsigned int i;

	if (!s)
		return -ENOENT;
	*pp = s->next;
	for (i = 0; i < a->cfg.delete_count; i++)
		send_msg(a, s, SAP_DELETE);
	session_free(s);
	return 0;
}

struct in_addr sap_announcer_origin(const struct sap_announcer *a)
{
	return a->cfg.origin;
}

uint64_t sap_announcer_sent(const struct sap_announcer *a)
{
	return a->sent;
}

uint64_t sap_announcer_send_errors(const struct sap_announcer *a)
{
	return a->errors;
}
