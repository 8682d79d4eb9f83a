/* Shared receive sockets (node/rxshare.h) and the media thread's dispatch
 * through them (node/media.c): groups on one port share one socket, up to
 * RXSHARE_USERS; every datagram reaches its own subscription and only
 * it; what came before a subscription started, or for none, is counted
 * and dropped; unicast and broadcast datagrams never reach a shared
 * socket; a moved stream's new receiver reads on a socket of its own. Runs in a network namespace of
 * its own, groups looped back on lo (needs root: skipped otherwise). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "common/net.h"
#include "node/media.h"
#include "node/rtp.h"
#include "node/rxshare.h"
#include "node/sub.h"
#include "ptp/mclock.h"
#include "qemu_user.h"

#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <sched.h>
#include <sys/capability.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#define RATE  48000
#define CH    8
#define FPP   48
#define PT    97
#define PORT  5004
#define PORT2 5006
#define MS    1000000ull
#define T0    (1000ull * NSEC_PER_SEC)

static bool netns_ok;
static uint64_t now_ns = T0;

static uint64_t injected_now(void *ctx)
{
	(void)ctx;
	return now_ns;
}

static int group_setup(void **state)
{
	(void)state;
	if (geteuid() != 0 || qemu_user_lacks_timestampns() ||
	    unshare(CLONE_NEWNET) < 0 ||
	    system("ip link set lo up && "
		   "ip route add 224.0.0.0/4 dev lo && "
		   "ip link add v0 type veth peer name v1 && "
		   "ip addr add 10.99.0.1/24 dev v0 && "
		   "ip addr add 10.99.0.2/24 dev v1 && "
		   "ip link set v0 up && ip link set v1 up && "
		   /* v1's packets come from this host's own address */
		   "sysctl -qw net.ipv4.conf.v0.accept_local=1 "
		   "net.ipv4.conf.all.rp_filter=0 "
		   "net.ipv4.conf.v0.rp_filter=0") != 0)
		return 0; /* each test skips */
	netns_ok = true;
	return 0;
}

static void need_netns(void)
{
	if (!netns_ok)
		skip(); /* needs root and ip(8) */
}

static struct sub_config cfg_for(const char *addr, unsigned int port,
				 bool share)
{
	struct sub_config c = {0};

	snprintf(c.name, sizeof(c.name), "%s", addr);
	c.addr.sin_family = AF_INET;
	c.addr.sin_port = htons((uint16_t)port);
	c.addr.sin_addr.s_addr = inet_addr(addr);
	c.enc = RTP_ENC_L24;
	c.rate = RATE;
	c.channels = CH;
	c.pt = PT;
	c.fpp = FPP;
	c.latency_ns = 5 * MS;
	c.timing = SUB_TIMING_PTP;
	c.share = share;
	return c;
}

static struct sub *open_one(const char *addr, unsigned int port, bool share)
{
	struct sub_config c = cfg_for(addr, port, share);
	char err[256] = "";
	struct sub *s = sub_open(&c, err, sizeof(err));

	if (!s)
		fail_msg("sub_open %s: %s", addr, err);
	return s;
}

/* @n RTP packets of stream @ssrc to @addr:@port, numbered from @seq0,
 * stamped at now_ns on. */
static void send_via(const char *addr, unsigned int port, uint32_t ssrc,
		     unsigned int n, uint16_t seq0, const char *ifname)
{
	struct sockaddr_in to = {.sin_family = AF_INET,
				 .sin_port = htons((uint16_t)port)};
	uint8_t buf[RTP_HDR_LEN + FPP * CH * 3];
	int32_t frames[FPP * CH] = {0};
	uint32_t ts0 = (uint32_t)mclock_ns_to_samples(now_ns, RATE);
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	unsigned int k;

	assert_true(fd >= 0);
	if (ifname) {
		struct ip_mreqn via = {.imr_ifindex =
					   (int)if_nametoindex(ifname)};

		assert_int_equal(setsockopt(fd, IPPROTO_IP, IP_MULTICAST_IF,
					    &via, sizeof(via)),
				 0);
	}
	to.sin_addr.s_addr = inet_addr(addr);
	for (k = 0; k < n; k++) {
		struct rtp_hdr h = {.pt = PT,
				    .seq = (uint16_t)(seq0 + k),
				    .ts = ts0 + k * FPP,
				    .ssrc = ssrc};

		rtp_hdr_encode(&h, buf);
		rtp_pack(RTP_ENC_L24, frames, CH, FPP, buf + RTP_HDR_LEN);
		assert_int_equal(sendto(fd, buf, sizeof(buf), 0,
					(struct sockaddr *)&to, sizeof(to)),
				 (ssize_t)sizeof(buf));
	}
	close(fd);
}

static void send_seq(const char *addr, unsigned int port, uint32_t ssrc,
		     unsigned int n, uint16_t seq0)
{
	send_via(addr, port, ssrc, n, seq0, NULL);
}

static void send_rtp(const char *addr, unsigned int port, uint32_t ssrc,
		     unsigned int n)
{
	send_seq(addr, port, ssrc, n, 0);
}

static uint64_t received(const struct sub *s)
{
	return atomic_load(&sub_stats(s)->received);
}

static uint64_t refused(const struct sub *s)
{
	const struct sub_stats *st = sub_stats(s);

	return atomic_load(&st->bad_header) + atomic_load(&st->foreign_ssrc) +
	       atomic_load(&st->bad_pt) + atomic_load(&st->bad_size);
}

/* One pass of @m now, after what was sent reached the sockets. */
static void pass(struct media *m)
{
	usleep(20 * 1000);
	media_run_once(m, now_ns);
}

static void test_groups_on_one_port_share_one_socket(void **state)
{
	struct sub *a, *b, *c;

	(void)state;
	need_netns();
	a = open_one("239.77.0.1", PORT, true);
	b = open_one("239.77.0.2", PORT, true);
	c = open_one("239.77.0.3", PORT2, true);
	assert_non_null(sub_rxshare(a));
	assert_ptr_equal(sub_rxshare(a), sub_rxshare(b));
	assert_ptr_not_equal(sub_rxshare(a), sub_rxshare(c));
	assert_int_equal(sub_fd(a), -1);
	assert_int_equal(rxshare_users(sub_rxshare(a)), 2);
	assert_int_equal(rxshare_port(sub_rxshare(c)), PORT2);
	sub_destroy(b);
	assert_int_equal(rxshare_users(sub_rxshare(a)), 1);
	sub_destroy(a);
	sub_destroy(c);
}

/* Two legs, a unicast address, or share off: a socket of its own. */
static void test_only_one_leg_groups_share(void **state)
{
	struct sub_config two = cfg_for("239.77.0.9", PORT, true);
	struct sub *u, *own, *s2;
	char err[256] = "";

	(void)state;
	need_netns();
	u = open_one("127.0.0.1", PORT, true);
	own = open_one("239.77.0.8", PORT, false);
	two.addr2 = two.addr;
	two.addr2.sin_addr.s_addr = inet_addr("239.77.1.9");
	snprintf(two.ifname2, sizeof(two.ifname2), "lo");
	snprintf(two.ifname, sizeof(two.ifname), "lo");
	s2 = sub_open(&two, err, sizeof(err));
	assert_non_null(s2);
	assert_null(sub_rxshare(u));
	assert_null(sub_rxshare(own));
	assert_null(sub_rxshare(s2));
	assert_true(sub_fd(u) >= 0 && sub_fd(own) >= 0 && sub_fd(s2) >= 0);
	sub_destroy(u);
	sub_destroy(own);
	sub_destroy(s2);
}

/* Each datagram reaches its own group's subscription, and only it; one of
 * a group whose subscription is not in the table is counted unclaimed;
 * what queued before the subscriptions started plays no part. */
static void test_media_hands_each_datagram_to_its_subscription(void **state)
{
	struct mclock *mc = mclock_new_injected(injected_now, NULL, NULL);
	struct sub *s[3];
	struct media *m;

	(void)state;
	need_netns();
	assert_non_null(mc);
	s[0] = open_one("239.77.0.1", PORT, true);
	s[1] = open_one("239.77.0.2", PORT, true);
	s[2] = open_one("239.77.0.3", PORT, true); /* never in the table */
	assert_ptr_equal(sub_rxshare(s[0]), sub_rxshare(s[2]));
	/* before any subscription started: never playable */
	send_rtp("239.77.0.1", PORT, 0x1111, 7);
	m = media_new(mc, NULL, 0, s, 2);
	assert_non_null(m);
	sub_start(s[0], now_ns);
	sub_start(s[1], now_ns);
	pass(m);
	assert_int_equal(received(s[0]), 0);
	assert_int_equal(media_rx_unclaimed(m), 7);

	send_rtp("239.77.0.1", PORT, 0x1111, 5);
	send_rtp("239.77.0.2", PORT, 0x2222, 3);
	send_rtp("239.77.0.3", PORT, 0x3333, 4);
	pass(m);
	assert_int_equal(received(s[0]), 5);
	assert_int_equal(received(s[1]), 3);
	assert_int_equal(refused(s[0]) + refused(s[1]), 0);
	assert_int_equal(received(s[2]), 0);
	assert_int_equal(media_rx_unclaimed(m), 7 + 4);

	/* out of the table: its group's datagrams go to none */
	media_set_sub(m, 1, NULL);
	send_rtp("239.77.0.2", PORT, 0x2222, 2);
	pass(m);
	assert_int_equal(received(s[1]), 3);
	assert_int_equal(media_rx_unclaimed(m), 7 + 4 + 2);
	media_destroy(m);
	mclock_destroy(mc);
	sub_destroy(s[0]);
	sub_destroy(s[1]);
	sub_destroy(s[2]);
}

/* A port's groups beyond RXSHARE_USERS go to a second socket; the media
 * thread reads both, each group to its own subscription. */
static void test_more_groups_than_a_socket_takes(void **state)
{
	struct mclock *mc = mclock_new_injected(injected_now, NULL, NULL);
	struct sub *s[RXSHARE_USERS + 1];
	struct media *m;
	unsigned int i, n = RXSHARE_USERS + 1;
	char addr[32];

	(void)state;
	need_netns();
	assert_non_null(mc);
	for (i = 0; i < n; i++) {
		snprintf(addr, sizeof(addr), "239.77.2.%u", i + 1);
		s[i] = open_one(addr, PORT, true);
		assert_non_null(sub_rxshare(s[i]));
	}
	assert_int_equal(rxshare_users(sub_rxshare(s[0])), RXSHARE_USERS);
	assert_ptr_not_equal(sub_rxshare(s[0]), sub_rxshare(s[n - 1]));
	assert_int_equal(rxshare_users(sub_rxshare(s[n - 1])), 1);
	m = media_new(mc, NULL, 0, s, n);
	assert_non_null(m);
	for (i = 0; i < n; i++)
		sub_start(s[i], now_ns);
	pass(m);
	for (i = 0; i < n; i++) {
		snprintf(addr, sizeof(addr), "239.77.2.%u", i + 1);
		send_rtp(addr, PORT, 0x100 + i, 1 + i % 3);
	}
	pass(m);
	for (i = 0; i < n; i++)
		assert_int_equal(received(s[i]), 1 + i % 3);
	assert_int_equal(media_rx_unclaimed(m), 0);
	media_destroy(m);
	mclock_destroy(mc);
	for (i = 0; i < n; i++)
		sub_destroy(s[i]);
}

/* A shared socket keeps multicast only: unicast and broadcast datagrams
 * to its port never take room in its buffer (its socket filter drops them
 * in the kernel: nothing reads them, nothing counts them unclaimed). */
static void test_a_shared_socket_takes_no_unicast_or_broadcast(void **state)
{
	struct mclock *mc = mclock_new_injected(injected_now, NULL, NULL);
	struct sub *s[1];
	struct media *m;
	int fd, on = 1;
	struct sockaddr_in bc = {.sin_family = AF_INET,
				 .sin_port = htons(PORT),
				 .sin_addr.s_addr = inet_addr("10.99.0.255")};
	uint8_t junk[64] = {0x80};
	unsigned int k;

	(void)state;
	need_netns();
	assert_non_null(mc);
	s[0] = open_one("239.77.0.1", PORT, true);
	assert_non_null(sub_rxshare(s[0]));
	m = media_new(mc, NULL, 0, s, 1);
	assert_non_null(m);
	sub_start(s[0], now_ns);
	pass(m);
	send_rtp("127.0.0.1", PORT, 0x5555, 20);
	send_rtp("10.99.0.1", PORT, 0x5555, 20);
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	assert_int_equal(
	    setsockopt(fd, SOL_SOCKET, SO_BROADCAST, &on, sizeof(on)), 0);
	for (k = 0; k < 20; k++)
		assert_int_equal(sendto(fd, junk, sizeof(junk), 0,
					(struct sockaddr *)&bc, sizeof(bc)),
				 (ssize_t)sizeof(junk));
	close(fd);
	send_rtp("239.77.0.1", PORT, 0x1111, 3);
	pass(m);
	assert_int_equal(received(s[0]), 3);
	assert_int_equal(refused(s[0]), 0);
	assert_int_equal(media_rx_unclaimed(m), 0);
	media_destroy(m);
	mclock_destroy(mc);
	sub_destroy(s[0]);
}

/* A moved stream's new receiver keeps what reaches it before it is put in
 * place (sub_take_over): it reads on a socket of its own. */
static void test_a_continuing_receiver_reads_on_its_own_socket(void **state)
{
	struct sub *a, *b;
	struct rxshare *r;

	(void)state;
	need_netns();
	a = open_one("239.77.0.1", PORT, true);
	b = open_one("239.77.0.2", PORT, true);
	r = sub_rxshare(a);
	assert_int_equal(rxshare_users(r), 2);
	sub_set_continues(b);
	assert_null(sub_rxshare(b));
	assert_true(sub_fd(b) >= 0);
	assert_int_equal(rxshare_users(r), 1);
	sub_destroy(b);
	sub_destroy(a);
}

/* A group joined on "the kernel's choice" (lo, by the route) and the same
 * group on a named interface (v0) never sit on one socket, where the first
 * would get the second's copies too: each subscription gets what came on
 * its own interface, once. */
static void test_a_group_on_two_interfaces_reads_apart(void **state)
{
	struct mclock *mc = mclock_new_injected(injected_now, NULL, NULL);
	struct sub_config named = cfg_for("239.77.0.5", PORT, true);
	struct sub *s[2];
	struct media *m;
	char err[256] = "";

	(void)state;
	need_netns();
	assert_non_null(mc);
	s[0] = open_one("239.77.0.5", PORT, true);
	snprintf(named.ifname, sizeof(named.ifname), "v0");
	s[1] = sub_open(&named, err, sizeof(err));
	assert_non_null(s[1]);
	assert_non_null(sub_rxshare(s[0]));
	assert_non_null(sub_rxshare(s[1]));
	assert_ptr_not_equal(sub_rxshare(s[0]), sub_rxshare(s[1]));
	m = media_new(mc, NULL, 0, s, 2);
	assert_non_null(m);
	sub_start(s[0], now_ns);
	sub_start(s[1], now_ns);
	pass(m);
	send_rtp("239.77.0.5", PORT, 0x5151, 6);	       /* on lo */
	send_via("239.77.0.5", PORT, 0x5252, 4, 0, "v1"); /* on v0 */
	pass(m);
	assert_int_equal(received(s[0]), 6);
	assert_int_equal(received(s[1]), 4);
	assert_int_equal(atomic_load(&sub_stats(s[0])->foreign_ssrc), 0);
	assert_int_equal(atomic_load(&sub_stats(s[0])->duplicate), 0);
	assert_int_equal(atomic_load(&sub_stats(s[1])->duplicate), 0);
	media_destroy(m);
	mclock_destroy(mc);
	sub_destroy(s[0]);
	sub_destroy(s[1]);
}

/* Two subscriptions of one group on one socket both get every datagram;
 * when one leaves, the group stays joined for the other. A member that
 * leaves from the middle of the socket's list leaves the others theirs. */
static void test_a_group_held_by_two_outlives_one(void **state)
{
	struct mclock *mc = mclock_new_injected(injected_now, NULL, NULL);
	struct sub *s[4];
	struct media *m;

	(void)state;
	need_netns();
	assert_non_null(mc);
	s[0] = open_one("239.77.0.6", PORT, true);
	s[1] = open_one("239.77.0.6", PORT, true);
	s[2] = open_one("239.77.0.7", PORT, true);
	s[3] = open_one("239.77.0.8", PORT, true);
	assert_ptr_equal(sub_rxshare(s[0]), sub_rxshare(s[1]));
	assert_ptr_equal(sub_rxshare(s[0]), sub_rxshare(s[3]));
	m = media_new(mc, NULL, 0, s, 4);
	assert_non_null(m);
	for (unsigned int i = 0; i < 4; i++)
		sub_start(s[i], now_ns);
	pass(m);
	send_rtp("239.77.0.6", PORT, 0x6666, 4);
	pass(m);
	assert_int_equal(received(s[0]), 4);
	assert_int_equal(received(s[1]), 4);

	/* s[1] leaves, then s[2] (the middle of the list) */
	media_set_sub(m, 1, NULL);
	sub_destroy(s[1]);
	media_set_sub(m, 2, NULL);
	sub_destroy(s[2]);
	assert_int_equal(rxshare_users(sub_rxshare(s[0])), 2);
	send_seq("239.77.0.6", PORT, 0x6666, 3, 4);
	send_rtp("239.77.0.8", PORT, 0x8888, 5);
	send_rtp("239.77.0.7", PORT, 0x7777, 2); /* left: the kernel drops */
	pass(m);
	assert_int_equal(received(s[0]), 7);
	assert_int_equal(received(s[3]), 5);
	assert_int_equal(media_rx_unclaimed(m), 0);
	media_destroy(m);
	mclock_destroy(mc);
	sub_destroy(s[0]);
	sub_destroy(s[3]);
}

/* Without CAP_NET_ADMIN a socket's buffer stops at twice rmem_max: a
 * socket takes as many subscriptions as that holds RXSHARE_UNIT (16 at
 * most), and none opens that would hold only one (then each subscription
 * has a socket of its own, bound to its group, as before sharing). */
static void test_without_cap_net_admin_rmem_max_decides(void **state)
{
	long max = net_core_sysctl("rmem_max");
	unsigned int fit, i, n = RXSHARE_USERS + 1;
	struct sub *s[RXSHARE_USERS + 1];
	cap_t caps;
	cap_value_t na = CAP_NET_ADMIN;
	char addr[32];

	(void)state;
	need_netns();
	caps = cap_get_proc();
	assert_non_null(caps);
	assert_int_equal(cap_set_flag(caps, CAP_EFFECTIVE, 1, &na, CAP_CLEAR),
			 0);
	assert_int_equal(cap_set_proc(caps), 0);
	fit = (unsigned int)(2 * max / RXSHARE_UNIT);
	if (fit > RXSHARE_USERS)
		fit = RXSHARE_USERS;
	for (i = 0; i < n; i++) {
		snprintf(addr, sizeof(addr), "239.77.3.%u", i + 1);
		s[i] = open_one(addr, PORT, true);
	}
	if (fit < 2) {
		for (i = 0; i < n; i++) {
			assert_null(sub_rxshare(s[i]));
			assert_true(sub_fd(s[i]) >= 0);
		}
	} else {
		assert_int_equal(rxshare_users(sub_rxshare(s[0])), fit);
		assert_ptr_not_equal(sub_rxshare(s[0]), sub_rxshare(s[fit]));
	}
	print_message("# rmem_max %ld: %u a socket\n", max, fit < 2 ? 1 : fit);
	for (i = 0; i < n; i++)
		sub_destroy(s[i]);
	assert_int_equal(cap_set_flag(caps, CAP_EFFECTIVE, 1, &na, CAP_SET), 0);
	assert_int_equal(cap_set_proc(caps), 0);
	cap_free(caps);
}

/* An interface name the kernel cannot look up for want of a descriptor
 * (if_nametoindex opens a socket to ask) is EMFILE, as the failure is,
 * not "No such device" (an attacker's prlimit); a name no interface
 * has is ENODEV. */
static void test_out_of_descriptors_is_not_no_such_device(void **state)
{
	struct sockaddr_in g = {.sin_family = AF_INET, .sin_port = htons(5999)};
	struct rlimit old, low;
	struct in_addr ia;
	uint8_t mac[6];
	int fds[64], n = 0, fd, rc, rc_addr;

	(void)state;
	if (!netns_ok)
		skip();
	inet_pton(AF_INET, "239.69.77.1", &g.sin_addr);
	assert_int_equal(net_udp_rx_open(&g, "nosuch0"), -ENODEV);
	assert_int_equal(net_iface_addr("nosuch0", &ia, mac), -ENODEV);
	assert_int_equal(net_iface_addr("v0", &ia, mac), 0);
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &old), 0);
	fd = dup(0);
	assert_true(fd >= 0);
	close(fd);
	low = old;
	low.rlim_cur = (rlim_t)fd + 8;
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
	while (n < 64 && (fd = dup(0)) >= 0)
		fds[n++] = fd;
	rc = net_udp_rx_open(&g, "v0");
	rc_addr = net_iface_addr("v0", &ia, mac);
	while (n)
		close(fds[--n]);
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &old), 0);
	assert_int_equal(rc, -EMFILE);
	assert_int_equal(rc_addr, -EMFILE); /* it said "no IPv4 address" */
	fd = net_udp_rx_open(&g, "v0");
	assert_true(fd >= 0);
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_groups_on_one_port_share_one_socket),
	    cmocka_unit_test(test_only_one_leg_groups_share),
	    cmocka_unit_test(test_media_hands_each_datagram_to_its_subscription),
	    cmocka_unit_test(test_more_groups_than_a_socket_takes),
	    cmocka_unit_test(test_a_shared_socket_takes_no_unicast_or_broadcast),
	    cmocka_unit_test(test_a_continuing_receiver_reads_on_its_own_socket),
	    cmocka_unit_test(test_a_group_on_two_interfaces_reads_apart),
	    cmocka_unit_test(test_a_group_held_by_two_outlives_one),
	    cmocka_unit_test(test_out_of_descriptors_is_not_no_such_device),
	    /* last: it lowers the process's capabilities for a while */
	    cmocka_unit_test(test_without_cap_net_admin_rmem_max_decides),
	};

	return cmocka_run_group_tests(tests, group_setup, NULL);
}
