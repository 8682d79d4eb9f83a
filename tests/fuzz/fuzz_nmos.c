/* libFuzzer harness for the IS-05 Connection API's request bodies
 * (node/nmos_conn.c, node/api.c's NMOS table): a whole node with [nmos]
 * enable runs in a thread of this program (tests/unit/node_harness.c), in
 * a network namespace of its own with only lo (so receivers and senders
 * the fuzzer points anywhere reach nothing), and every input is one
 * authorized request to it.
 *
 * Input: a selector byte, then the body. The low 3 bits pick the target:
 * PATCH the staged parameters of receiver RX 1-2 or RX 3-4, of the
 * multicast sender or the unicast one, or POST bulk/receivers or
 * bulk/senders. In the body "@R" becomes RX 1-2's id and "@S" the
 * multicast sender's, so that bulk items and sender_id reach the code
 * past "no such receiver".
 *
 * Undone after each input that was taken: a scheduled activation (202)
 * is cancelled, every receiver disconnected, the senders put back, as
 * they started.
 *
 * Beyond "no crash, no sanitizer report, no leak":
 *   - every answer comes, with a status IS-05 gives (200, 202, 400, 404,
 *     409, 423, 500);
 *   - an error is {"code": the status, "error": text, "debug": ...};
 *   - a refused PATCH (4xx) changes nothing its staged endpoint shows;
 *   - 200 and 202 answer the endpoint's parameters with "activation". */
#include "tests/unit/node_harness.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <net/route.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CONN "/x-nmos/connection/v1.1"

static char rx12[40], rx34[40], tx_m[40], tx_u[40];

static void die(const char *what, const struct reply *r)
{
	fprintf(stderr, "fuzz_nmos: %s: HTTP %ld %s\n", what, r ? r->status : 0,
		r && r->text ? r->text : "");
	abort();
}

/* ---- the network namespace (as fuzz_api.c's) ---- */

static int write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = write(fd, text, strlen(text));
	close(fd);
	return n == (ssize_t)strlen(text) ? 0 : -EIO;
}

static void route_lo(int fd, const char *dst, const char *mask)
{
	struct rtentry rt = {0};
	struct sockaddr_in *d = (struct sockaddr_in *)&rt.rt_dst;
	struct sockaddr_in *m = (struct sockaddr_in *)&rt.rt_genmask;
	char dev[] = "lo";

	d->sin_family = AF_INET;
	m->sin_family = AF_INET;
	inet_pton(AF_INET, dst, &d->sin_addr);
	inet_pton(AF_INET, mask, &m->sin_addr);
	rt.rt_flags = RTF_UP;
	rt.rt_dev = dev;
	ioctl(fd, SIOCADDRT, &rt);
}

static int isolate_network(void)
{
	struct ifreq ifr = {0};
	char map[64];
	uid_t uid = getuid();
	gid_t gid = getgid();
	int fd;

	if (unshare(CLONE_NEWNET) < 0) {
		if (unshare(CLONE_NEWUSER | CLONE_NEWNET) < 0)
			return -errno;
		snprintf(map, sizeof(map), "0 %u 1", (unsigned int)uid);
		write_file("/proc/self/setgroups", "deny");
		if (write_file("/proc/self/uid_map", map) < 0)
			return -EPERM;
		snprintf(map, sizeof(map), "0 %u 1", (unsigned int)gid);
		if (write_file("/proc/self/gid_map", map) < 0)
			return -EPERM;
	}
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0 ||
	    (ifr.ifr_flags |= IFF_UP, ioctl(fd, SIOCSIFFLAGS, &ifr) < 0)) {
		close(fd);
		return -EPERM;
	}
	route_lo(fd, "0.0.0.0", "0.0.0.0");
	route_lo(fd, "224.0.0.0", "240.0.0.0");
	close(fd);
	return 0;
}

/* ---- the node ---- */

static void id_of(const char *coll, const char *label, char *out)
{
	struct reply r;
	json_t *x;
	size_t i;
	char path[128];

	snprintf(path, sizeof(path), "/x-nmos/node/v1.3/%s", coll);
	request(&r, "GET", path, NULL, 0, NULL);
	if (r.status != 200 || !json_is_array(r.json))
		die(path, &r);
	json_array_foreach(
	    r.json, i,
	    x) if (!strcmp(json_string_value(json_object_get(x, "label")),
			   label))
	    snprintf(out, 40, "%s",
		     json_string_value(json_object_get(x, "id")));
	if (!out[0])
		die(label, &r);
	reply_free(&r);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static bool ready;
	unsigned int port = 18080;

	(void)argc;
	(void)argv;
	if (ready)
		return 0;
	ready = true;
	if (isolate_network() < 0) {
		fprintf(stderr, "fuzz_nmos: no network namespace of its own "
				"(needs root or user namespaces): skipped\n");
		exit(77);
	}
	if (harness_init("fuzz-nmos", port) < 0 ||
	    harness_config("[node]\nname = fz\napi = 127.0.0.1:%u\n"
			   "rx_channels = 4\nstate_dir = %s/state\n"
			   "[discovery]\nsap = off\nmdns = off\n"
			   "[nmos]\nenable = on\ndns_sd = off\np2p = off\n"
			   "[source tone]\ntype = tone\nchannels = 4\n"
			   "[flow m]\nsource = tone\nchannels = 1-2\n"
			   "destination = 239.69.9.1:5004\n"
			   "[flow u]\nsource = tone\nchannels = 3-4\n"
			   "destination = 127.0.0.1:5010\n",
			   port, dir) < 0 ||
	    start_node() < 0) {
		fprintf(stderr, "fuzz_nmos: the node did not start\n");
		exit(1);
	}
	atexit((void (*)(void))harness_fini); /* the node, its directory */
	id_of("receivers", "RX 1-2", rx12);
	id_of("receivers", "RX 3-4", rx34);
	id_of("senders", "m", tx_m);
	id_of("senders", "u", tx_u);
	return 0;
}

/* The body with "@R" and "@S" put in. */
static char *expand(const uint8_t *data, size_t size, size_t *len)
{
	char *out = malloc(size * 20 + 1);
	size_t i, n = 0;

	if (!out)
		abort();
	for (i = 0; i < size; i++) {
		if (data[i] == '@' && i + 1 < size &&
		    (data[i + 1] == 'R' || data[i + 1] == 'S')) {
			const char *id = data[i + 1] == 'R' ? rx12 : tx_m;

			memcpy(out + n, id, 36);
			n += 36;
			i++;
			continue;
		}
		out[n++] = (char)data[i];
	}
	out[n] = '\0';
	*len = n;
	return out;
}

static void patch(const char *kind, const char *id, const char *body)
{
	struct reply r;
	char path[160];

	snprintf(path, sizeof(path), CONN "/single/%s/%s/staged", kind, id);
	request(&r, "PATCH", path, body, strlen(body), AUTH_TOKEN);
	if (r.status != 200)
		die(body, &r);
	reply_free(&r);
}

/* Everything back as it started. */
static void undo(void)
{
	static const char *const cancel = "{\"activation\": {\"mode\": null}}";
	static const char *const off =
	    "{\"sender_id\": null, \"master_enable\": false, "
	    "\"transport_file\": {\"data\": null, \"type\": null}, "
	    "\"transport_params\": [{\"source_ip\": null, \"multicast_ip\": "
	    "null, \"interface_ip\": \"auto\", \"destination_port\": "
	    "\"auto\", \"rtp_enabled\": true}], "
	    "\"activation\": {\"mode\": \"activate_immediate\"}}";
	static const char *const on_m =
	    "{\"receiver_id\": null, \"master_enable\": true, "
	    "\"transport_params\": [{\"source_ip\": \"auto\", "
	    "\"destination_ip\": \"auto\", \"source_port\": \"auto\", "
	    "\"destination_port\": \"auto\", \"rtp_enabled\": true}], "
	    "\"activation\": {\"mode\": \"activate_immediate\"}}";
	static const char *const on_u =
	    "{\"receiver_id\": null, \"master_enable\": true, "
	    "\"transport_params\": [{\"source_ip\": \"auto\", "
	    "\"destination_ip\": \"127.0.0.1\", \"source_port\": \"auto\", "
	    "\"destination_port\": 5010, \"rtp_enabled\": true}], "
	    "\"activation\": {\"mode\": \"activate_immediate\"}}";

	patch("receivers", rx12, cancel);
	patch("receivers", rx34, cancel);
	patch("senders", tx_m, cancel);
	patch("senders", tx_u, cancel);
	patch("receivers", rx12, off);
	patch("receivers", rx34, off);
	patch("senders", tx_m, on_m);
	patch("senders", tx_u, on_u);
}

/* Whether an answer (200) may have changed something: a single PATCH
 * did; a bulk one if an item was taken. */
static bool changed(const struct reply *r, bool bulk)
{
	const json_t *x;
	size_t i;

	if (!bulk)
		return true;
	json_array_foreach(
	    r->json, i, x) if (json_integer_value(json_object_get(x, "code")) <
			       300) return true;
	return false;
}

static bool is_nmos_error(const struct reply *r)
{
	const json_t *code = json_object_get(r->json, "code");

	return json_is_object(r->json) &&
	       json_integer_value(code) == r->status &&
	       json_is_string(json_object_get(r->json, "error")) &&
	       json_object_get(r->json, "debug");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct {
		const char *kind, *what;
	} t[6] = {
	    {"receivers", "RX 1-2"}, {"receivers", "RX 3-4"}, {"senders", "m"},
	    {"senders", "u"},	     {"receivers", NULL},     {"senders", NULL},
	};
	const char *ids[4] = {rx12, rx34, tx_m, tx_u};
	struct reply r, before, after;
	char path[160], *body;
	unsigned int k;
	size_t len;

	/* the corpus replay (replay.c) does not call it */
	LLVMFuzzerInitialize(NULL, NULL);
	if (!size)
		return 0;
	k = data[0] % 6;
	body = expand(data + 1, size - 1, &len);
	if (t[k].what)
		snprintf(path, sizeof(path), CONN "/single/%s/%s/staged",
			 t[k].kind, ids[k]);
	else
		snprintf(path, sizeof(path), CONN "/bulk/%s", t[k].kind);
	if (t[k].what)
		request(&before, "GET", path, NULL, 0, NULL);
	request(&r, t[k].what ? "PATCH" : "POST", path, body, len, AUTH_TOKEN);
	switch (r.status) {
	case 200:
	case 202:
		if (!json_is_object(r.json) && !json_is_array(r.json))
			die("an answer that is not JSON", &r);
		if (t[k].what && !json_object_get(r.json, "activation"))
			die("an answer without activation", &r);
		break;
	case 400:
	case 404:
	case 409:
	case 423:
	case 500:
		if (!is_nmos_error(&r))
			die("an error that is not NMOS's", &r);
		if (r.status < 500 && t[k].what) {
			request(&after, "GET", path, NULL, 0, NULL);
			if (!json_equal(before.json, after.json))
				die("a refused PATCH changed the staged "
				    "parameters",
				    &r);
			reply_free(&after);
		}
		break;
	default:
		die("no answer, or one IS-05 does not give", &r);
	}
	if (t[k].what)
		reply_free(&before);
	/* a refusal changed nothing; a bulk answer says item by item */
	if (r.status == 202 || (r.status == 200 && changed(&r, !t[k].what)))
		undo();
	reply_free(&r);
	free(body);
	return 0;
}
