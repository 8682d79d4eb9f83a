/* NMOS IS-05 and IS-04 with two legs (SMPTE ST 2022-7, docs/nmos.md): a
 * node on two networks, in a network namespace of the test's own (two
 * veth pairs, a0 10.77.0.1 and b0 10.78.0.1; nothing in the root
 * namespace), runs in a thread (node_harness.h). A flow with
 * destination2 is a sender with two legs in staged, active and
 * constraints, and IS-04 binds it to both interfaces; receivers (with
 * [nmos] interface2) have two legs: PATCHed with two, or given a DUP
 * transport file, they make a two-leg subscription; a one-leg transport
 * file makes a one-leg one. Every answer is checked against AMWA's
 * schemas by tests/tools/nmos_check.py, as the nmos suite does. A node
 * without interface2 keeps one-leg receivers, which take a DUP file's
 * first leg alone. d4ctl --registry routes over both legs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "node_harness.h"
#include "qemu_user.h"

#define CONN "/x-nmos/connection/v1.1/single"
#define NODE "/x-nmos/node/v1.3"


/* @s, line by line, as TAP comments. */
static void print_lines(const char *s)
{
	while (*s) {
		const char *e = strchr(s, '\n');
		int n = e ? (int)(e - s) : (int)strlen(s);

		print_message("# %.*s\n", n, s);
		s += n + (e != NULL);
	}
}
static unsigned int api_port;
static bool netns_ok;

static unsigned int reg_port; /* the test registry's, once started */

/* The node's config, with [nmos] interface2 = @iface2 ("": none), and
 * the test registry when it runs. */
static int write_config(const char *iface2)
{
	char reg[64] = "";

	if (reg_port)
		snprintf(reg, sizeof(reg), "registry = http://127.0.0.1:%u\n",
			 reg_port);
	return harness_config("[node]\n"
			      "name = legs\n"
			      "api = 0.0.0.0:%u\n"
			      "state_dir = %s/state\n"
			      "rt_priority = 0\n"
			      "rx_channels = 16\n"
			      "status_interval = 0\n"
			      "[discovery]\n"
			      "sap = off\n"
			      "mdns = off\n"
			      "[nmos]\n"
			      "enable = on\n"
			      "dns_sd = off\n"
			      "p2p = off\n"
			      "host = 10.77.0.1\n"
			      "%s%s%s%s"
			      "[source program]\n"
			      "type = tone\n"
			      "channels = 2\n"
			      "[flow duo]\n"
			      "source = program\n"
			      "destination = 239.69.77.1:5004\n"
			      "interface = a0\n"
			      "destination2 = 239.69.78.1:5004\n"
			      "interface2 = b0\n"
			      "[flow solo]\n"
			      "source = program\n"
			      "destination = 239.69.77.2:5004\n"
			      "interface = a0\n"
			      "[flow uni]\n"
			      "source = program\n"
			      "destination = 10.77.0.9:5004\n"
			      "destination2 = 10.78.0.9:5004\n",
			      api_port, dir, reg,
			      iface2[0] ? "interface2 = " : "", iface2,
			      iface2[0] ? "\n" : "");
}

/* Stop the test registry, if it runs. The harness blocks SIGTERM (the
 * node's signalfd takes it), and the registry inherited that: SIGKILL. */
static void stop_registry(void)
{
	char cmd[160];

	if (!reg_port)
		return;
	snprintf(cmd, sizeof(cmd), "kill -KILL $(cat %s/reg.pid)", dir);
	if (system(cmd) != 0)
		print_message("# cannot stop the test registry\n");
	reg_port = 0;
}

static int group_teardown(void **state)
{
	stop_registry();
	return harness_fini();
}

static int group_setup(void **state)
{
	/* a network namespace of our own: the node's networks are veths.
	 * Under qemu-user no subscription opens (qemu_user.h): skipped. */
	if (geteuid() != 0 || qemu_user_lacks_timestampns() ||
	    unshare(CLONE_NEWNET) < 0 ||
	    system("ip link set lo up && "
		   "ip link add a0 type veth peer name a1 && "
		   "ip link add b0 type veth peer name b1 && "
		   "ip addr add 10.77.0.1/24 dev a0 && "
		   "ip addr add 10.78.0.1/24 dev b0 && "
		   "ip link set a0 up && ip link set a1 up && "
		   "ip link set b0 up && ip link set b1 up && "
		   "ip route add 224.0.0.0/4 dev a0") != 0)
		return 0; /* each test skips */
	netns_ok = true;
	api_port = free_port(SOCK_STREAM);
	if (harness_init("nmos-conn", api_port) < 0 || write_config("b0") < 0 ||
	    start_node() < 0) {
		group_teardown(state);
		return -1;
	}
	return 0;
}

static void need_netns(void)
{
	if (!netns_ok)
		skip(); /* needs root, ip(8) and receive timestamps */
}

/* GET @path from the server's root: its JSON (the caller frees it). */
static json_t *nget(const char *path)
{
	struct reply r;
	json_t *j;

	request(&r, "GET", path, NULL, 0, NULL);
	if (r.status != 200)
		fail_msg("GET %s: %ld %s", path, r.status, r.text);
	j = json_incref(r.json);
	reply_free(&r);
	assert_non_null(j);
	return j;
}

/* PATCH @path with @body and the node's token: its status, its JSON
 * answer into *@out when @out (the caller frees it). */
static long npatch(const char *path, const char *body, json_t **out)
{
	struct reply r;
	long st;

	request(&r, "PATCH", path, body, strlen(body), AUTH_TOKEN);
	st = r.status;
	if (out)
		*out = json_incref(r.json);
	if (st >= 400)
		print_message("# PATCH %s: %ld %s\n", path, st, r.text);
	reply_free(&r);
	return st;
}

/* The id of the IS-04 @coll resource labelled @label. */
static void id_of(const char *coll, const char *label, char *id, size_t len)
{
	char path[64];
	json_t *all, *x;
	size_t i;

	snprintf(path, sizeof(path), NODE "/%s", coll);
	all = nget(path);
	json_array_foreach(all, i,
			   x) if (!strcmp(member_str(x, "label"), label))
	{
		snprintf(id, len, "%s", member_str(x, "id"));
		json_decref(all);
		return;
	}
	fail_msg("no %s labelled %s", coll, label);
}

/* GET CONN/@kind/@id/@what. */
static json_t *conn(const char *kind, const char *id, const char *what)
{
	char path[160];

	snprintf(path, sizeof(path), CONN "/%s/%s/%s", kind, id, what);
	return nget(path);
}

static json_t *leg(const json_t *o, size_t l)
{
	const json_t *tps = json_object_get(o, "transport_params");

	assert_true(json_is_array(tps));
	assert_true(l < json_array_size(tps));
	return json_array_get(tps, l);
}

static size_t nlegs(const json_t *o)
{
	return json_array_size(json_object_get(o, "transport_params"));
}

/* The d4 API's view of subscription @name. */
static json_t *subscription(const char *name)
{
	char path[96];

	snprintf(path, sizeof(path), "/subscriptions/%s", name);
	return get(path);
}

/* Every answer of the node's IS-04 and IS-05 APIs against AMWA's
 * schemas (tests/tools/nmos_check.py, the nmos suite's checker). */
static void check_schemas(void)
{
	const char *data = getenv("D4_TEST_DATA");
	char cmd[1024];

	assert_non_null(data);
	snprintf(cmd, sizeof(cmd),
		 "D4_NMOS_SPECS=%s/nmos /usr/bin/python3 "
		 "%s/../tools/nmos_check.py node http://10.77.0.1:%u "
		 ">%s/check.out; rc=$?; sed 's/^/# /' %s/check.out; exit $rc",
		 data, data, api_port, dir, dir); /* its lines: TAP comments */
	assert_int_equal(system(cmd), 0);
}

/* A flow with destination2 is a sender with two legs: staged, active
 * and constraints hold two, the second its destination2 from b0's
 * address; IS-04 binds it to a0 and b0. One leg in a PATCH is refused;
 * leg 2 disabled stops the second leg's loop alone. */
static void test_nmos_sender_of_a_two_leg_flow_has_two_legs(void **state)
{
	char id[40], path[160];
	json_t *j, *l2;

	need_netns();
	id_of("senders", "duo", id, sizeof(id));
	snprintf(path, sizeof(path), NODE "/senders/%s", id);
	j = nget(path);
	l2 = json_object_get(j, "interface_bindings");
	assert_int_equal(json_array_size(l2), 2);
	assert_string_equal(json_string_value(json_array_get(l2, 0)), "a0");
	assert_string_equal(json_string_value(json_array_get(l2, 1)), "b0");
	json_decref(j);

	j = conn("senders", id, "staged");
	assert_int_equal(nlegs(j), 2);
	json_decref(j);

	j = conn("senders", id, "constraints");
	assert_int_equal(json_array_size(j), 2);
	l2 = json_array_get(j, 1);
	assert_string_equal(
	    json_string_value(json_array_get(
		member(member(l2, "destination_ip"), "enum"), 0)),
	    "239.69.78.1");
	assert_string_equal(json_string_value(json_array_get(
				member(member(l2, "source_ip"), "enum"), 0)),
			    "10.78.0.1");
	json_decref(j);

	j = conn("senders", id, "active");
	assert_int_equal(nlegs(j), 2);
	assert_string_equal(member_str(leg(j, 0), "destination_ip"),
			    "239.69.77.1");
	assert_string_equal(member_str(leg(j, 1), "destination_ip"),
			    "239.69.78.1");
	assert_string_equal(member_str(leg(j, 1), "source_ip"), "10.78.0.1");
	assert_true(json_is_true(member(leg(j, 1), "rtp_enabled")));
	json_decref(j);

	snprintf(path, sizeof(path), CONN "/senders/%s/staged", id);
	assert_int_equal(
	    npatch(path, "{\"transport_params\":[{\"rtp_enabled\":true}]}",
		   NULL),
	    400);
	/* the second leg off, the first on */
	assert_int_equal(npatch(path,
				"{\"master_enable\":true,\"transport_params\":"
				"[{},{\"rtp_enabled\":false}],\"activation\":"
				"{\"mode\":\"activate_immediate\"}}",
				NULL),
			 200);
	j = conn("senders", id, "active");
	assert_true(json_is_true(member(leg(j, 0), "rtp_enabled")));
	assert_true(json_is_false(member(leg(j, 1), "rtp_enabled")));
	assert_true(json_is_true(member(j, "master_enable")));
	json_decref(j);
	assert_int_equal(npatch(path,
				"{\"transport_params\":[{},{\"rtp_enabled\":"
				"true}],\"activation\":{\"mode\":"
				"\"activate_immediate\"}}",
				NULL),
			 200);
	j = conn("senders", id, "active");
	assert_true(json_is_true(member(leg(j, 1), "rtp_enabled")));
	json_decref(j);

	/* a flow of one leg: one */
	id_of("senders", "solo", id, sizeof(id));
	j = conn("senders", id, "constraints");
	assert_int_equal(json_array_size(j), 1);
	json_decref(j);
	j = conn("senders", id, "active");
	assert_int_equal(nlegs(j), 1);
	json_decref(j);
	check_schemas();
}

/* A receiver PATCHed with two legs makes a two-leg subscription:
 * address2 the second leg's group, interface2 b0; active shows both. */
static void test_nmos_receiver_patched_with_two_legs(void **state)
{
	char id[40], path[160];
	json_t *j, *c;

	need_netns();
	id_of("receivers", "RX 1-2", id, sizeof(id));
	snprintf(path, sizeof(path), NODE "/receivers/%s", id);
	j = nget(path);
	c = json_object_get(j, "interface_bindings");
	assert_int_equal(json_array_size(c), 2);
	assert_string_equal(json_string_value(json_array_get(c, 1)), "b0");
	json_decref(j);
	j = conn("receivers", id, "constraints");
	assert_int_equal(json_array_size(j), 2);
	c = member(member(json_array_get(j, 1), "interface_ip"), "enum");
	assert_int_equal(json_array_size(c), 1);
	assert_string_equal(json_string_value(json_array_get(c, 0)),
			    "10.78.0.1");
	json_decref(j);

	snprintf(path, sizeof(path), CONN "/receivers/%s/staged", id);
	/* one leg to a two-leg receiver: refused, as IS-05 says */
	assert_int_equal(
	    npatch(
		path,
		"{\"transport_params\":[{\"multicast_ip\":\"239.69.77.1\"}]}",
		NULL),
	    400);
	/* leg 2 on an address of the wrong network */
	assert_int_equal(npatch(path,
				"{\"transport_params\":[{},{\"interface_ip\":"
				"\"10.77.0.1\"}]}",
				NULL),
			 400);
	assert_int_equal(
	    npatch(path,
		   "{\"master_enable\":true,\"transport_params\":["
		   "{\"multicast_ip\":\"239.69.77.1\",\"destination_port\":"
		   "5004},{\"multicast_ip\":\"239.69.78.1\",\"destination_"
		   "port\":5004,\"source_ip\":\"10.78.0.1\",\"rtp_enabled\":"
		   "true}],\"activation\":{\"mode\":\"activate_immediate\"}}",
		   NULL),
	    200);
	j = subscription("nmos-rx1-2");
	assert_string_equal(member_str(j, "address2"), "239.69.78.1:5004");
	assert_int_equal(json_array_size(member(j, "legs")), 2);
	assert_string_equal(
	    member_str(json_array_get(member(j, "legs"), 1), "interface"),
	    "b0");
	json_decref(j);
	j = conn("receivers", id, "active");
	assert_int_equal(nlegs(j), 2);
	assert_string_equal(member_str(leg(j, 1), "multicast_ip"),
			    "239.69.78.1");
	assert_string_equal(member_str(leg(j, 1), "source_ip"), "10.78.0.1");
	assert_true(json_is_true(member(leg(j, 1), "rtp_enabled")));
	assert_string_equal(member_str(leg(j, 0), "interface_ip"), "10.77.0.1");
	json_decref(j);
	/* leg A on interface2's address (its constraints allow every
	 * address of the node): active says where it is (it said a0's) */
	assert_int_equal(
	    npatch(path,
		   "{\"master_enable\":true,\"transport_params\":["
		   "{\"multicast_ip\":\"239.69.77.3\",\"destination_port\":"
		   "5004,\"interface_ip\":\"10.78.0.1\"},{\"multicast_ip\":"
		   "\"239.69.78.3\",\"destination_port\":5004,\"rtp_enabled\":"
		   "true}],\"activation\":{\"mode\":\"activate_immediate\"}}",
		   NULL),
	    200);
	j = conn("receivers", id, "active");
	assert_string_equal(member_str(leg(j, 0), "multicast_ip"),
			    "239.69.77.3");
	assert_string_equal(member_str(leg(j, 0), "interface_ip"), "10.78.0.1");
	json_decref(j);
	check_schemas();
}

/* How many of the node's subscriptions are named @prefix... */
static unsigned int subs_named(const char *prefix)
{
	json_t *all = get("/subscriptions"), *s;
	unsigned int n = 0;
	size_t i;

	json_array_foreach(all, i, s)
	{
		if (!strncmp(member_str(s, "name"), prefix, strlen(prefix)))
			n++;
	}
	json_decref(all);
	return n;
}

/* PATCH @path: an immediate activation of both legs, to one of two
 * pairs of groups by @i's parity; it must be taken. */
static void activate_between_two_groups(const char *path, unsigned int i)
{
	char body[512];

	snprintf(body, sizeof(body),
		 "{\"master_enable\":true,\"transport_params\":["
		 "{\"multicast_ip\":\"239.69.77.%u\",\"destination_"
		 "port\":5004},{\"multicast_ip\":\"239.69.78.%u\","
		 "\"destination_port\":5004,\"source_ip\":\"10.78.0.1\","
		 "\"rtp_enabled\":true}],\"activation\":{\"mode\":"
		 "\"activate_immediate\"}}",
		 10 + i % 2, 10 + i % 2);
	assert_int_equal(npatch(path, body, NULL), 200);
}

/* Seven activations at once, each moving RX 1-2 between two groups:
 * once the switches are over one subscription is left (an attacker's
 * burst left three, saved and restored at the next start, and a storm
 * filled the node's 64). */
static void test_nmos_receiver_burst_of_activations_leaves_one(void **state)
{
	char id[40], path[160];
	unsigned int i, n = 0;

	need_netns();
	id_of("receivers", "RX 1-2", id, sizeof(id));
	snprintf(path, sizeof(path), CONN "/receivers/%s/staged", id);
	for (i = 0; i < 7; i++) {
		activate_between_two_groups(path, i);
	}
	/* the switches' cleanup: latency + 60 ms after each; 5 s at most */
	for (i = 0; i < 100 && (n = subs_named("nmos-rx1-2")) != 1; i++)
		usleep(50 * 1000);
	assert_int_equal(n, 1);
	/* 120 at once: each replaces the one before it that has not
	 * started; none is refused for a full table, and the node never
	 * holds more than a handful (an attacker's 250 in
	 * one bulk request: 188 answered 500, the node's 64 taken) */
	for (i = 0; i < 120; i++) {
		activate_between_two_groups(path, i);
		/* the one playing, those leaving (each lives its latency +
		 * 60 ms past its switch; a switch every 50 ms at most) and
		 * the one to come: a handful, never the table */
		assert_true(subs_named("nmos-rx1-2") <= 8);
	}
	for (i = 0; i < 100 && (n = subs_named("nmos-rx1-2")) != 1; i++)
		usleep(50 * 1000);
	assert_int_equal(n, 1);
}

/* A relative activation whose time from now passes 64 bits of
 * nanoseconds is refused, for receivers and senders (it wrapped into the
 * past and ran at once: an attacker's "17000000000:0"); one a day ahead
 * is scheduled. */
static void test_nmos_relative_activation_past_2554_refused(void **state)
{
	static const char *const kinds[] = {"receivers", "senders"};
	static const char *const labels[] = {"RX 1-2", "solo"};
	char id[40], path[160];
	json_t *j = NULL;
	unsigned int k;

	need_netns();
	for (k = 0; k < 2; k++) {
		id_of(kinds[k], labels[k], id, sizeof(id));
		snprintf(path, sizeof(path), CONN "/%s/%s/staged", kinds[k],
			 id);
		assert_int_equal(
		    npatch(path,
			   "{\"activation\": {\"mode\": "
			   "\"activate_scheduled_relative\", "
			   "\"requested_time\": \"17000000000:0\"}}",
			   NULL),
		    400);
		assert_int_equal(npatch(path,
					"{\"activation\": {\"mode\": "
					"\"activate_scheduled_relative\", "
					"\"requested_time\": \"86400:0\"}}",
					&j),
				 202);
		json_decref(j);
		j = NULL;
		/* cancelled again: nothing of it runs later in the suite */
		assert_int_equal(
		    npatch(path, "{\"activation\": {\"mode\": null}}", NULL),
		    200);
	}
	/* an absolute time in the past runs at once and says when (it
	 * answered a null activation_time) */
	id_of("receivers", "RX 1-2", id, sizeof(id));
	snprintf(path, sizeof(path), CONN "/receivers/%s/staged", id);
	assert_int_equal(npatch(path,
				"{\"activation\": {\"mode\": "
				"\"activate_scheduled_absolute\", "
				"\"requested_time\": \"0:0\"}}",
				&j),
			 202);
	assert_true(json_is_string(json_object_get(
	    json_object_get(j, "activation"), "activation_time")));
	json_decref(j);
}

/* The transport file of the two-leg sender (its DUP SDP) staged on a
 * receiver fills both legs, and the activation makes a two-leg
 * subscription; a one-leg file disables leg 2 and makes a one-leg one. */
static void test_nmos_receiver_takes_a_dup_transport_file(void **state)
{
	char sid[40], rid[40], path[160];
	struct reply r;
	json_t *body, *j;
	char *text;

	need_netns();
	id_of("senders", "duo", sid, sizeof(sid));
	id_of("receivers", "RX 3-4", rid, sizeof(rid));
	snprintf(path, sizeof(path), CONN "/senders/%s/transportfile", sid);
	request(&r, "GET", path, NULL, 0, NULL);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.text, "a=group:DUP"));
	body = json_pack("{s:s,s:b,s:{s:s,s:s},s:{s:s}}", "sender_id", sid,
			 "master_enable", 1, "transport_file", "data", r.text,
			 "type", "application/sdp", "activation", "mode",
			 "activate_immediate");
	reply_free(&r);
	text = json_dumps(body, 0);
	json_decref(body);
	snprintf(path, sizeof(path), CONN "/receivers/%s/staged", rid);
	assert_int_equal(npatch(path, text, &j), 200);
	free(text);
	assert_int_equal(nlegs(j), 2);
	assert_string_equal(member_str(leg(j, 0), "multicast_ip"),
			    "239.69.77.1");
	assert_string_equal(member_str(leg(j, 1), "multicast_ip"),
			    "239.69.78.1");
	assert_string_equal(member_str(leg(j, 1), "source_ip"), "10.78.0.1");
	assert_true(json_is_true(member(leg(j, 1), "rtp_enabled")));
	json_decref(j);
	j = subscription("nmos-rx3-4");
	assert_string_equal(member_str(j, "address2"), "239.69.78.1:5004");
	assert_int_equal(json_array_size(member(j, "legs")), 2);
	json_decref(j);

	/* the one-leg flow's file: leg 2 off, a subscription of one leg */
	id_of("senders", "solo", sid, sizeof(sid));
	snprintf(path, sizeof(path), CONN "/senders/%s/transportfile", sid);
	request(&r, "GET", path, NULL, 0, NULL);
	assert_int_equal(r.status, 200);
	assert_null(strstr(r.text, "a=group:DUP"));
	body = json_pack("{s:s,s:b,s:{s:s,s:s},s:{s:s}}", "sender_id", sid,
			 "master_enable", 1, "transport_file", "data", r.text,
			 "type", "application/sdp", "activation", "mode",
			 "activate_immediate");
	reply_free(&r);
	text = json_dumps(body, 0);
	json_decref(body);
	snprintf(path, sizeof(path), CONN "/receivers/%s/staged", rid);
	assert_int_equal(npatch(path, text, &j), 200);
	free(text);
	assert_int_equal(nlegs(j), 2);
	assert_string_equal(member_str(leg(j, 0), "multicast_ip"),
			    "239.69.77.2");
	assert_true(json_is_false(member(leg(j, 1), "rtp_enabled")));
	json_decref(j);
	/* the new one, beside the old until the switch 50 ms on */
	j = subscription("nmos-rx3-4.2");
	assert_string_equal(member_str(j, "address"), "239.69.77.2:5004");
	assert_true(!json_object_get(j, "address2") ||
		    json_is_null(json_object_get(j, "address2")));
	json_decref(j);
	j = conn("receivers", rid, "active");
	assert_string_equal(member_str(leg(j, 0), "multicast_ip"),
			    "239.69.77.2");
	assert_true(json_is_false(member(leg(j, 1), "rtp_enabled")));
	json_decref(j);

	/* a DUP file whose second leg is unicast to an address not this
	 * node's: refused when staged (it was staged, and its activation
	 * failed: an attacker's 127.0.0.1 on leg 2) */
	body = json_pack(
	    "{s:s,s:b,s:{s:s,s:s}}", "sender_id", sid, "master_enable", 1,
	    "transport_file", "data",
	    "v=0\r\no=- 1 1 IN IP4 10.77.0.1\r\ns=x\r\nt=0 0\r\n"
	    "a=group:DUP a b\r\n"
	    "m=audio 5004 RTP/AVP 98\r\nc=IN IP4 239.69.77.9/32\r\n"
	    "a=rtpmap:98 L24/48000/2\r\na=mid:a\r\n"
	    "m=audio 5004 RTP/AVP 98\r\nc=IN IP4 127.0.0.1\r\n"
	    "a=rtpmap:98 L24/48000/2\r\na=mid:b\r\n",
	    "type", "application/sdp");
	text = json_dumps(body, 0);
	json_decref(body);
	assert_int_equal(npatch(path, text, &j), 400);
	assert_non_null(strstr(member_str(j, "error"),
			       "the transport file's leg 2 is received on "
			       "127.0.0.1, not one of this node's addresses"));
	json_decref(j);
	free(text);
	check_schemas();
}

/* Run @cmd (sh), its output into @out (@len bytes): its exit status. */
static int run(const char *cmd, char *out, size_t len)
{
	FILE *f = popen(cmd, "r");
	size_t n;

	assert_non_null(f);
	n = fread(out, 1, len - 1, f);
	out[n] = '\0';
	return pclose(f);
}

/* d4ctl --registry route from a two-leg unicast sender to a two-leg
 * receiver, through tests/tools' registry: the sender's legs go to the
 * receiver's two interfaces and the receiver takes both (its PATCHes
 * hold two legs; one was refused). */
static void test_nmos_d4ctl_registry_route_takes_both_legs(void **state)
{
	const char *data = getenv("D4_TEST_DATA"), *d4ctl = getenv("D4CTL");
	char cmd[1024], out[4096], id[40];
	json_t *j;
	int i, rc = -1;

	need_netns();
	if (!d4ctl)
		skip(); /* meson gives D4CTL */
	reg_port = free_port(SOCK_STREAM);
	snprintf(cmd, sizeof(cmd),
		 "/usr/bin/python3 %s/../tools/nmos_registry.py --bind "
		 "127.0.0.1 --port %u --schemas %s/nmos >%s/reg.out 2>&1 & "
		 "echo $! >%s/reg.pid",
		 data, reg_port, data, dir, dir);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(stop_node(), 0);
	assert_int_equal(write_config("b0"), 0);
	assert_int_equal(start_node(), 0);
	/* registered: the registry lists the receiver */
	snprintf(cmd, sizeof(cmd),
		 "curl -sf http://127.0.0.1:%u/x-nmos/query/v1.3/receivers",
		 reg_port);
	for (i = 0; i < 300; i++) {
		if (run(cmd, out, sizeof(out)) == 0 && strstr(out, "RX 9-10"))
			break;
		usleep(100 * 1000);
	}
	assert_non_null(strstr(out, "RX 9-10"));
	snprintf(cmd, sizeof(cmd),
		 "%s --registry http://127.0.0.1:%u --token %s route uni@legs "
		 "9-10@legs 2>&1",
		 d4ctl, reg_port, token);
	rc = run(cmd, out, sizeof(out));
	stop_registry();
	print_lines(out);
	assert_int_equal(rc, 0);
	assert_non_null(strstr(out, "both legs: ST 2022-7"));
	j = subscription("nmos-rx9-10");
	assert_string_equal(member_str(j, "address"), "10.77.0.1:5004");
	assert_string_equal(member_str(j, "address2"), "10.78.0.1:5004");
	json_decref(j);
	id_of("senders", "uni", id, sizeof(id));
	j = conn("senders", id, "active");
	assert_string_equal(member_str(leg(j, 0), "destination_ip"),
			    "10.77.0.1");
	assert_string_equal(member_str(leg(j, 1), "destination_ip"),
			    "10.78.0.1");
	assert_int_equal(
	    json_integer_value(member(leg(j, 1), "destination_port")), 5004);
	json_decref(j);
	check_schemas();
}

/* Without [nmos] interface2 a receiver has one leg, as before: one leg in
 * a PATCH connects it, two are refused; a DUP transport file connects
 * its first leg. */
static void test_nmos_receiver_of_one_leg_still_works(void **state)
{
	char id[40], sid[40], path[160];
	struct reply r;
	json_t *j, *body;
	char *text;

	need_netns();
	assert_int_equal(stop_node(), 0);
	assert_int_equal(write_config(""), 0);
	assert_int_equal(start_node(), 0);
	id_of("receivers", "RX 5-6", id, sizeof(id));
	j = conn("receivers", id, "constraints");
	assert_int_equal(json_array_size(j), 1);
	json_decref(j);
	snprintf(path, sizeof(path), CONN "/receivers/%s/staged", id);
	assert_int_equal(npatch(path,
				"{\"transport_params\":[{},{}],\"activation\":"
				"{\"mode\":\"activate_immediate\"}}",
				NULL),
			 400);
	assert_int_equal(
	    npatch(path,
		   "{\"master_enable\":true,\"transport_params\":["
		   "{\"multicast_ip\":\"239.69.77.2\",\"destination_port\":"
		   "5004}],\"activation\":{\"mode\":\"activate_immediate\"}}",
		   NULL),
	    200);
	j = subscription("nmos-rx5-6");
	assert_string_equal(member_str(j, "address"), "239.69.77.2:5004");
	assert_true(!json_object_get(j, "address2") ||
		    json_is_null(json_object_get(j, "address2")));
	json_decref(j);
	j = conn("receivers", id, "active");
	assert_int_equal(nlegs(j), 1);
	assert_string_equal(member_str(leg(j, 0), "multicast_ip"),
			    "239.69.77.2");
	json_decref(j);

	/* a DUP transport file: its first leg alone (IS-05's advice for a
	 * receiver of one leg), though the node is on both networks */
	id_of("senders", "duo", sid, sizeof(sid));
	snprintf(path, sizeof(path), CONN "/senders/%s/transportfile", sid);
	request(&r, "GET", path, NULL, 0, NULL);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.text, "a=group:DUP"));
	body = json_pack("{s:b,s:{s:s,s:s},s:{s:s}}", "master_enable", 1,
			 "transport_file", "data", r.text, "type",
			 "application/sdp", "activation", "mode",
			 "activate_immediate");
	reply_free(&r);
	text = json_dumps(body, 0);
	json_decref(body);
	id_of("receivers", "RX 7-8", id, sizeof(id));
	snprintf(path, sizeof(path), CONN "/receivers/%s/staged", id);
	assert_int_equal(npatch(path, text, &j), 200);
	free(text);
	assert_int_equal(nlegs(j), 1);
	json_decref(j);
	j = subscription("nmos-rx7-8");
	assert_string_equal(member_str(j, "address"), "239.69.77.1:5004");
	assert_true(!json_object_get(j, "address2") ||
		    json_is_null(json_object_get(j, "address2")));
	json_decref(j);
	check_schemas();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_nmos_sender_of_a_two_leg_flow_has_two_legs),
	    cmocka_unit_test(test_nmos_receiver_patched_with_two_legs),
	    cmocka_unit_test(
		test_nmos_receiver_burst_of_activations_leaves_one),
	    cmocka_unit_test(test_nmos_receiver_takes_a_dup_transport_file),
	    cmocka_unit_test(test_nmos_relative_activation_past_2554_refused),
	    cmocka_unit_test(test_nmos_d4ctl_registry_route_takes_both_legs),
	    cmocka_unit_test(test_nmos_receiver_of_one_leg_still_works),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
