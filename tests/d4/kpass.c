/* The original packet on the kernel back end: consumed by default, as the
 * binding's socket would consume it; with pass_original, an untouched
 * copy also goes up the stack, for other sockets on the same port, while
 * the loop rewrites and sends its own. On knet.h's wire: a loop that
 * rewrites the payload and sends to one receiver; a UDP socket of our own
 * on the binding's address. Exit 77 where the kernel refuses BPF. */
#include "d4/d4.h"
#include "d4/kernel.h"
#include "knet.h"

#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static const char program[] = "loop p on udp 10.99.0.1:5004 {\n"
			      "pkt = recv()\n"
			      "pkt[0:4] = 0xdeadbeef\n"
			      "sendto(pkt, 10.0.0.5:6000)\n"
			      "}\n";

static int failures;

static void expect(bool ok, const char *what)
{
	printf("%s - %s\n", ok ? "ok" : "not ok", what);
	failures += !ok;
}

/* What the socket got within @ms: its length, 0 for nothing. */
static ssize_t socket_got(int fd, uint8_t *buf, size_t len, int ms)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};

	if (poll(&p, 1, ms) <= 0)
		return 0;
	return recv(fd, buf, len, MSG_DONTWAIT);
}

static void round_trip(struct knet *n, int fd, bool pass)
{
	static const uint8_t payload[8] = {1, 2, 3, 4, 5, 6, 7, 8};
	struct sockaddr_in src = {.sin_family = AF_INET,
				  .sin_port = htons(4000)};
	struct sockaddr_in dst = {.sin_family = AF_INET,
				  .sin_port = htons(KNET_PORT)};
	struct knet_copy c;
	uint8_t buf[64];
	char why[256], what[160];
	ssize_t got;
	int r;

	src.sin_addr.s_addr = htonl(0xc0a80101);
	dst.sin_addr.s_addr = htonl(KNET_ADDR);
	knet_inject(n, &src, &dst, payload, sizeof(payload), true);
	r = knet_next(n, 2000, KNET_PORT, &c, why, sizeof(why));
	snprintf(what, sizeof(what),
		 "%s: the loop's copy went out rewritten, headers right",
		 pass ? "pass_original" : "default");
	expect(r == 1 && c.len == 8 && !memcmp(c.data, "\xde\xad\xbe\xef", 4) &&
		   !memcmp(c.data + 4, payload + 4, 4) &&
		   ntohs(c.dst.sin_port) == 6000,
	       what);
	if (r < 0)
		printf("# %s\n", why);
	got = socket_got(fd, buf, sizeof(buf), pass ? 2000 : 300);
	if (pass) {
		expect(got == 8 && !memcmp(buf, payload, 8),
		       "pass_original: the socket got the original, untouched");
		expect(socket_got(fd, buf, sizeof(buf), 200) == 0,
		       "pass_original: once");
	} else {
		expect(got == 0, "default: the kernel consumed the original");
	}
}

int main(void)
{
	struct knet n;
	struct d4_kern_opts o = {.ifname = KNET_IF,
				 .dscp = KNET_DSCP,
				 .ttl = KNET_TTL,
				 .mcast_ttl = KNET_MCAST_TTL};
	struct sockaddr_in sa = {.sin_family = AF_INET,
				 .sin_port = htons(KNET_PORT)};
	struct d4_runtime *rt;
	struct d4_kern *k;
	struct d4_kern_stats st;
	char why[256];
	int h, fd, pass;

	if (d4_kern_probe(why, sizeof(why)) ||
	    knet_setup(&n, why, sizeof(why))) {
		printf("SKIP: the kernel back end cannot run here: %s\n", why);
		return 77;
	}
	sa.sin_addr.s_addr = htonl(KNET_ADDR);
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		perror("kpass: socket");
		return 1;
	}
	for (pass = 0; pass < 2; pass++) {
		rt = d4_runtime_new(NULL);
		k = rt ? d4_kern_new(rt) : NULL;
		if (!k ||
		    d4_exec(rt, program, strlen(program), &h, why,
			    sizeof(why)) ||
		    d4_start(rt, h)) {
			fprintf(stderr, "kpass: %s\n", why);
			return 1;
		}
		o.pass_original = pass;
		if (d4_kern_attach(k, h, &o, why, sizeof(why))) {
			fprintf(stderr, "kpass: attach: %s\n", why);
			return 1;
		}
		round_trip(&n, fd, pass);
		d4_kern_stats(k, h, &st);
		expect(st.in == 1 && st.sent == 1 && st.passed == 0 &&
			   st.errors == 0,
		       "the kernel ran it once and sent one copy");
		d4_kern_destroy(k);
		d4_runtime_destroy(rt);
	}
	close(fd);
	return failures ? 1 : 0;
}
