/* A packet never sees a half-updated list, on the kernel back end too: the
 * seed relay runs in the kernel (knet.h's wire) over a list of 10
 * receivers, while this program rewrites the whole list thousands of
 * times between two sets (A: 10.1.0.x:1000, B: 10.2.0.x:2000) with
 * d4_exec + d4_kern_sync. Packets carry a sequence number; every one must
 * leave as 10 copies, all to A or all to B. Both sets must be seen, and
 * lists must have changed while packets ran. Exit 77 where the kernel
 * refuses BPF.
 *
 * usage: d4kswap [PACKETS] */
#include "d4/d4.h"
#include "d4/kernel.h"
#include "knet.h"

#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NRECV 10
#define BATCH 32

static const char program[] = "IP[] _r\n"
			      "loop s on udp 10.99.0.1:5004 {\n"
			      "pkt = recv()\n"
			      "for ip in _r:\n"
			      "  sendto(pkt, ip)\n"
			      "endfor\n"
			      "}\n";

struct run {
	struct knet net;
	long packets;
	atomic_long captured; /* packets whose 10 copies all came */
	atomic_bool done;
	/* per packet: copies seen, and of which set (1 A, 2 B, 3 both) */
	uint8_t *copies;
	uint8_t *sets;
	long torn, bad;
};

static void *capture(void *arg)
{
	struct run *r = arg;
	struct knet_copy c;
	char why[256];
	uint32_t seq;
	int got;

	while (!atomic_load(&r->done)) {
		got = knet_next(&r->net, 100, KNET_PORT, &c, why, sizeof(why));
		if (got <= 0) {
			if (got < 0) {
				fprintf(stderr, "d4kswap: %s\n", why);
				r->bad++;
			}
			continue;
		}
		memcpy(&seq, c.data, 4);
		seq = ntohl(seq);
		if (c.len != 4 || seq >= (uint32_t)r->packets) {
			r->bad++;
			continue;
		}
		r->sets[seq] |= ntohs(c.dst.sin_port) == 1000 ? 1 : 2;
		if (++r->copies[seq] == NRECV)
			atomic_fetch_add(&r->captured, 1);
	}
	return NULL;
}

static void *inject(void *arg)
{
	struct run *r = arg;
	struct sockaddr_in src = {.sin_family = AF_INET,
				  .sin_port = htons(7000)};
	struct sockaddr_in dst = {.sin_family = AF_INET,
				  .sin_port = htons(KNET_PORT)};
	long i, k;

	src.sin_addr.s_addr = htonl(0xc0a80101);
	dst.sin_addr.s_addr = htonl(KNET_ADDR);
	for (i = 0; i < r->packets; i += BATCH) {
		for (k = i; k < i + BATCH && k < r->packets; k++) {
			uint32_t seq = htonl((uint32_t)k);

			knet_inject(&r->net, &src, &dst, (uint8_t *)&seq, 4,
				    true);
		}
		/* let the capture keep up: no copy may be lost to a full
		 * socket buffer */
		for (int w = 0; w < 2000 && atomic_load(&r->captured) < i; w++)
			sched_yield();
	}
	return NULL;
}

static void list_text(char *buf, size_t len, int set)
{
	size_t o = (size_t)snprintf(buf, len, "_r = [");
	int i;

	for (i = 1; i <= NRECV; i++)
		o += (size_t)snprintf(buf + o, len - o, "%s10.%d.0.%d:%d",
				      i > 1 ? ", " : "", set, i, set * 1000);
	snprintf(buf + o, len - o, "]");
}

int main(int argc, char *argv[])
{
	static struct run r;
	struct d4_kern_opts o = {.ifname = KNET_IF,
				 .dscp = KNET_DSCP,
				 .ttl = KNET_TTL,
				 .mcast_ttl = KNET_MCAST_TTL};
	struct d4_runtime *rt;
	struct d4_kern *k;
	struct d4_kern_stats st;
	pthread_t cap, inj;
	char why[256], lists[2][512];
	long flips = 0, flips_during = 0, i, a = 0, b = 0, incomplete = 0;
	int h, ret;

	r.packets = argc > 1 ? atol(argv[1]) : 20000;
	if (d4_kern_probe(why, sizeof(why)) ||
	    knet_setup(&r.net, why, sizeof(why))) {
		printf("SKIP: the kernel back end cannot run here: %s\n", why);
		return 77;
	}
	r.copies = calloc((size_t)r.packets, 1);
	r.sets = calloc((size_t)r.packets, 1);
	rt = d4_runtime_new(NULL);
	k = rt ? d4_kern_new(rt) : NULL;
	if (!r.copies || !r.sets || !k)
		return 1;
	list_text(lists[0], sizeof(lists[0]), 1);
	list_text(lists[1], sizeof(lists[1]), 2);
	if (d4_exec(rt, program, strlen(program), &h, why, sizeof(why)) ||
	    d4_exec(rt, lists[0], strlen(lists[0]), NULL, why, sizeof(why)) ||
	    d4_start(rt, h)) {
		fprintf(stderr, "d4kswap: %s\n", why);
		return 1;
	}
	ret = d4_kern_attach(k, h, &o, why, sizeof(why));
	if (ret) {
		fprintf(stderr, "d4kswap: attach: %s\n", why);
		return 1;
	}
	pthread_create(&cap, NULL, capture, &r);
	pthread_create(&inj, NULL, inject, &r);
	/* flip the whole list as fast as d4_exec goes, while packets run */
	while (atomic_load(&r.captured) < r.packets) {
		const char *l = lists[++flips % 2];
		long before = atomic_load(&r.captured);

		if (d4_exec(rt, l, strlen(l), NULL, why, sizeof(why)) ||
		    d4_kern_sync(k, why, sizeof(why))) {
			fprintf(stderr, "d4kswap: flip: %s\n", why);
			return 1;
		}
		if (atomic_load(&r.captured) != before)
			flips_during++;
		if (flips > 50 * r.packets)
			break; /* the copies stopped coming */
	}
	pthread_join(inj, NULL);
	atomic_store(&r.done, true);
	pthread_join(cap, NULL);
	for (i = 0; i < r.packets; i++) {
		if (r.copies[i] != NRECV)
			incomplete++;
		if (r.sets[i] == 3)
			r.torn++;
		a += r.sets[i] == 1;
		b += r.sets[i] == 2;
	}
	d4_kern_stats(k, h, &st);
	printf("%ld packets: %ld all to A, %ld all to B, %ld torn, %ld "
	       "incomplete, %ld bad; %ld list rewrites (%ld while copies "
	       "came); kernel in=%llu sent=%llu errors=%llu\n",
	       r.packets, a, b, r.torn, incomplete, r.bad, flips, flips_during,
	       (unsigned long long)st.in, (unsigned long long)st.sent,
	       (unsigned long long)st.errors);
	d4_kern_destroy(k);
	d4_runtime_destroy(rt);
	if (r.torn || incomplete || r.bad || !a || !b || flips_during < 100) {
		printf("not ok: a packet saw a half-updated list, lost a "
		       "copy, or the lists did not change under traffic\n");
		return 1;
	}
	printf("ok: every packet saw one whole list\n");
	return 0;
}
