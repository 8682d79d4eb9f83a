/* libFuzzer harness for SAP (discovery/sap.c): the packet decoder and the
 * session table a listener feeds with every datagram from the group, and so
 * through it the SDP parser.
 *
 * Input: records, each a 2-byte big-endian length, a step byte and that
 * many bytes of packet (cut short at the end of the input). The step byte
 * moves the table's clock forward by its low 7 bits in seconds; its top bit
 * expires entries first. The table holds at most 4 sessions, so evictions
 * happen too.
 *
 * Beyond "no crash, no sanitizer report": a refusal says "byte N: what"; the
 * table never holds more than its cap, iterates least recently announced
 * first, evicts an entry announced twice only when every entry has been
 * (segmented LRU), hands out NUL-terminated text, finds each entry by its
 * name, and gives back every byte it counted once it is empty. */
#include "discovery/sap.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define TABLE_MAX 4
#define SEC	  1000000000ull

/* "byte 12: message" */
static void check_error_text(const char *err)
{
	const char *p = err;

	if (strncmp(p, "byte ", 5))
		abort();
	p += 5;
	if (!isdigit((unsigned char)*p))
		abort();
	while (isdigit((unsigned char)*p))
		p++;
	if (p[0] != ':' || p[1] != ' ' || !p[2])
		abort();
}

static void check_entry(const struct sap_entry *e)
{
	if (!e->sdp || e->sdp[e->sdp_len] || strlen(e->sdp) > e->sdp_len)
		abort();
	if (strnlen(e->name, sizeof(e->name)) == sizeof(e->name))
		abort();
	if (e->valid && e->parse_err[0])
		abort();
	if (e->last_seen_ns < e->first_seen_ns || !e->announcements)
		abort();
}

static void on_event(void *data, enum sap_event ev, const struct sap_entry *e)
{
	const struct sap_table *t = data;
	const struct sap_entry *o;

	check_entry(e);
	/* the evicted entry is out of the table already: none announced
	 * once may remain when one announced twice went */
	if (ev == SAP_EVENT_EVICTED && e->announcements >= 2)
		for (o = sap_table_next(t, NULL); o; o = sap_table_next(t, o))
			if (o->announcements < 2)
				abort();
}

static void check_table(const struct sap_table *t)
{
	const struct sap_entry *e, *found;
	struct sap_table_stats st;
	uint64_t last = 0;
	unsigned int n = 0;

	sap_table_get_stats(t, &st);
	for (e = sap_table_next(t, NULL); e; e = sap_table_next(t, e)) {
		check_entry(e);
		if (e->last_seen_ns < last)
			abort();
		last = e->last_seen_ns;
		found = sap_table_find_name(t, e->name);
		if (!found || strcmp(found->name, e->name))
			abort();
		n++;
	}
	if (n != sap_table_count(t) || n != st.entries || n > TABLE_MAX)
		abort();
}

/* Decode alone too: the listener's error path, and the slice it returns. */
static void unpack(const uint8_t *pkt, size_t len)
{
	struct sap_msg m;
	char err[160];
	uint64_t id, ver;

	if (sap_unpack(pkt, len, &m, err, sizeof(err))) {
		check_error_text(err);
		return;
	}
	if (m.sdp < pkt || m.sdp + m.sdp_len > pkt + len)
		abort();
	if (memchr(m.sdp, '\0', m.sdp_len))
		abort();
	sap_sdp_origin(m.sdp, m.sdp_len, &id, &ver);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *p = data, *end = data + size;
	struct sap_table_stats empty, st;
	struct in_addr own = {.s_addr = htonl(0x0a000001)}; /* 10.0.0.1 */
	uint64_t now = 1000 * SEC;
	struct sap_table *t;
	char err[160];

	t = sap_table_new(TABLE_MAX, 0, 0);
	if (!t)
		return 0;
	sap_table_get_stats(t, &empty);
	sap_table_set_callback(t, on_event, t);
	sap_table_add_own_addr(t, own);
	while (p + 3 <= end) {
		size_t len = (size_t)p[0] << 8 | p[1];
		uint8_t step = p[2];
		uint8_t *pkt;

		p += 3;
		if (len > (size_t)(end - p))
			len = (size_t)(end - p);
		now += (uint64_t)(step & 0x7f) * SEC;
		if (step & 0x80)
			sap_table_expire(t, now);
		/* a heap copy of exactly @len bytes: ASan sees any
		 * over-read */
		pkt = malloc(len ? len : 1);
		if (!pkt)
			break;
		memcpy(pkt, p, len);
		unpack(pkt, len);
		if (sap_table_receive(t, now, pkt, len, err, sizeof(err)) &&
		    !err[0])
			abort();
		free(pkt);
		check_table(t);
		p += len;
	}
	if (sap_table_next_expiry(t) < now && sap_table_count(t) &&
	    sap_table_expire(t, now) == 0)
		abort();
	sap_table_expire(t, UINT64_MAX);
	sap_table_get_stats(t, &st);
	if (st.entries || st.bytes != empty.bytes)
		abort();
	sap_table_destroy(t);
	return 0;
}
