/* d4ctl check: every rule of Dante's AES67 mode, AES67 and ST 2110-30 a
 * stream breaks (discovery/aes67check.h), for an SDP file, a stream a node
 * has seen announced or a node's flow; and, where this host can join the
 * stream, what its packets show: DSCP, and the send-time offset of each
 * packet from its RTP timestamp with the arrival spread. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/timex.h>
#include <time.h>
#include <unistd.h>

#include "controller-cli/d4ctl.h"
#include "discovery/aes67check.h"
#include "ptp/mclock.h"
#include "ptp/sync.h"

#define CHECK_FINDINGS_MAX 32
#define CHECK_SDP_MAX	   8192
#define TAI_UTC_S	   37	 /* since 2017 */
#define CHECK_OFFSETS_MAX  60000 /* packets whose offsets are kept */

static const char usage[] =
    "usage: d4ctl check [OPTIONS] FILE.sdp\n"
    "       d4ctl check [OPTIONS] --stream NAME [NODE]\n"
    "       d4ctl check [OPTIONS] --flow NAME [NODE]\n"
    "\n"
    "Report every rule of Dante's AES67 mode, AES67 and ST 2110-30 that a\n"
    "stream breaks: address, port, rate, encoding, packet time, channels,\n"
    "SDP line order, o= id, ts-refclk against the live grandmaster,\n"
    "mediaclk; and, listening to the stream for a while, the DSCP on the\n"
    "wire and how late packets arrive after their RTP timestamp.\n"
    "\n"
    "  --stream NAME     a stream NODE has seen announced (GET /streams)\n"
    "  --flow NAME       a flow of NODE (GET /flows)\n"
    "  --listen SECONDS  listen to the stream this long (default 3; 0: do\n"
    "                    not listen)\n"
    "  --ptp4l SOCKET    PTP time from this host's ptp4l (its management\n"
    "                    socket), as a node in follow mode reads it;\n"
    "                    default CLOCK_TAI\n"
    "  --json            findings as JSON\n"
    "\n"
    "With NODE (or --host) the node's grandmaster and the other streams it\n"
    "has seen are checked against too. Exit codes: 0 no rule broken, 4 a\n"
    "rule broken (a warning or an error), 1 a node refused, 2 usage, 3 node\n"
    "or stream not found.\n";

enum {
	OPT_STREAM = 's',
	OPT_FLOW = 'f',
	OPT_LISTEN = 'l',
	OPT_PTP4L = 'p',
};

struct check_opts {
	const char *stream;
	const char *flow;
	double listen_s;
	const char *ptp4l;
};

static int on_opt(void *data, int opt, const char *arg)
{
	struct check_opts *o = data;
	char *end;

	switch (opt) {
	case OPT_STREAM:
		o->stream = arg;
		return 0;
	case OPT_FLOW:
		o->flow = arg;
		return 0;
	case OPT_PTP4L:
		o->ptp4l = arg;
		return 0;
	case OPT_LISTEN:
		o->listen_s = strtod(arg, &end);
		if (*end || o->listen_s < 0 || o->listen_s > 600) {
			d4ctl_err("check", "bad --listen '%s'", arg);
			return -EINVAL;
		}
		return 0;
	}
	return -EINVAL;
}

static int read_file(const char *path, char *buf, size_t size, size_t *len)
{
	FILE *f = fopen(path, "rb");

	if (!f) {
		d4ctl_err("check", "cannot open '%s': %m", path);
		return -ENOENT;
	}
	*len = fread(buf, 1, size - 1, f);
	buf[*len] = '\0';
	fclose(f);
	return 0;
}

/* The "sdp" of the entry named @name in the list at @path of @node. */
static int node_sdp(struct d4ctl *ctl, const struct d4ctl_node *node,
		    const char *path, const char *name, char *buf, size_t size,
		    size_t *len)
{
	json_t *list, *e;
	size_t i;
	int rc;

	rc = d4ctl_http(ctl, node, "GET", path, NULL, &list);
	if (rc < 0)
		return rc;
	json_array_foreach(list, i, e)
	{
		const char *n = json_string_value(json_object_get(e, "name"));
		const char *sdp = json_string_value(json_object_get(e, "sdp"));

		if (!n || !sdp || strcmp(n, name))
			continue;
		*len = (size_t)snprintf(buf, size, "%s", sdp);
		json_decref(list);
		return *len < size ? 0 : -E2BIG;
	}
	json_decref(list);
	d4ctl_err("check", "%s has no %s '%s'", node->name, path + 1, name);
	return -ENOENT;
}

static bool parse_gm(const char *s, uint8_t id[8])
{
	unsigned int b[8];
	int i;

	if (!s || sscanf(s, "%2x-%2x-%2x-%2x-%2x-%2x-%2x-%2x", &b[0], &b[1],
			 &b[2], &b[3], &b[4], &b[5], &b[6], &b[7]) != 8)
		return false;
	for (i = 0; i < 8; i++)
		id[i] = (uint8_t)b[i];
	return true;
}

/* What the node knows: the grandmaster it follows, and how many other
 * announced sessions share this stream's o= id and address. */
static int node_facts(struct d4ctl *ctl, const struct d4ctl_node *node,
		      const struct sdp_stream *st, const char *sdp,
		      struct aes67check_live *live)
{
	json_t *ptp, *streams, *e;
	size_t i;
	int rc;

	rc = d4ctl_http(ctl, node, "GET", "/ptp", NULL, &ptp);
	if (rc < 0)
		return rc;
	live->has_gm = parse_gm(json_string_value(json_object_get(ptp, "gm")),
				live->gm_id);
	live->domain = (int)json_integer_value(json_object_get(ptp, "domain"));
	json_decref(ptp);

	rc = d4ctl_http(ctl, node, "GET", "/streams", NULL, &streams);
	if (rc < 0)
		return rc;
	live->has_others = true;
	json_array_foreach(streams, i, e)
	{
		const char *text = json_string_value(json_object_get(e, "sdp"));
		struct sdp_stream o;

		if (!text || !strcmp(text, sdp) ||
		    sdp_parse((const uint8_t *)text, strlen(text), &o, NULL, 0))
			continue;
		/* the same stream seen again (another origin of the same
		 * SDP: SAP and RAVENNA) is not another session */
		if (o.session_id == st->session_id &&
		    o.origin_addr.s_addr == st->origin_addr.s_addr &&
		    (o.addr.s_addr != st->addr.s_addr || o.port != st->port))
			live->same_origin++;
	}
	json_decref(streams);
	return 0;
}

/* PTP time minus CLOCK_REALTIME: from this host's ptp4l when given (read
 * as d4node's follow mode does), else CLOCK_TAI's offset. */
static int ptp_offset(const char *uds, int64_t *off_ns)
{
	struct ptp_sync_cfg sc = {
	    .uds = uds,
	    .lock = {.threshold_ns = 100000,
		     .lock_count = 3,
		     .uncalibrated_ok = true,
		     .holdover_ns = 5000000000ull},
	    .poll_ns = 250 * 1000 * 1000,
	    .step_ns = 1000 * 1000,
	};
	struct mclock_status cs;
	struct ptp_sync *sync;
	struct timespec rt, mono;
	struct mclock *mc;
	struct timex tx = {0};
	char err[256];
	int i;

	if (!uds) {
		clock_gettime(CLOCK_REALTIME, &rt);
		*off_ns =
		    (adjtimex(&tx) >= 0 && tx.tai > 0 ? tx.tai : TAI_UTC_S) *
		    (int64_t)NSEC_PER_SEC;
		return 0;
	}
	mc = mclock_new_ptp(MCLOCK_MODE_FOLLOW, NULL, err, sizeof(err));
	if (!mc) {
		d4ctl_err("check", "%s", err);
		return -ENOMEM;
	}
	sync = ptp_sync_new(&sc, mc);
	if (!sync) {
		mclock_destroy(mc);
		return -ENOMEM;
	}
	for (i = 0; i < 200; i++) { /* 20 s */
		struct pollfd pfd = {ptp_sync_fd(sync), POLLIN, 0};
		struct ptp_sync_events ev;

		poll(&pfd, 1, 100);
		clock_gettime(CLOCK_MONOTONIC, &mono);
		ptp_sync_tick(sync,
			      (uint64_t)mono.tv_sec * NSEC_PER_SEC +
				  (uint64_t)mono.tv_nsec,
			      &ev);
		mclock_get_status(mc, &cs);
		if (cs.state == MCLOCK_LOCKED)
			break;
	}
	clock_gettime(CLOCK_REALTIME, &rt);
	*off_ns = (int64_t)mclock_now_ns(mc) -
		  ((int64_t)rt.tv_sec * (int64_t)NSEC_PER_SEC + rt.tv_nsec);
	ptp_sync_destroy(sync);
	mclock_destroy(mc);
	if (cs.state != MCLOCK_LOCKED) {
		d4ctl_err("check", "ptp4l at %s did not lock in 20 s", uds);
		return -ETIMEDOUT;
	}
	return 0;
}

static int listen_socket(const struct sdp_stream *st)
{
	struct sockaddr_in sa = {.sin_family = AF_INET,
				 .sin_port = htons(st->port),
				 .sin_addr = st->addr};
	int fd, one = 1;

	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
	setsockopt(fd, IPPROTO_IP, IP_RECVTOS, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		goto out_close;
	if (st->has_source_filter) {
		struct ip_mreq_source m = {.imr_multiaddr = st->addr,
					   .imr_sourceaddr = st->source_filter};

		if (setsockopt(fd, IPPROTO_IP, IP_ADD_SOURCE_MEMBERSHIP, &m,
			       sizeof(m)) < 0)
			goto out_close;
	} else {
		struct ip_mreq m = {.imr_multiaddr = st->addr};

		if (setsockopt(fd, IPPROTO_IP, IP_ADD_MEMBERSHIP, &m,
			       sizeof(m)) < 0)
			goto out_close;
	}
	return fd;
out_close:
	one = -errno;
	close(fd);
	return one;
}

/* Listens @seconds to @st: DSCP of every packet, and arrival (PTP ns,
 * from the kernel's receive stamp) minus the RTP timestamp's PTP time. */
static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

static int listen_stream(const struct sdp_stream *st, double seconds,
			 int64_t ptp_off_ns, struct aes67check_live *live)
{
	struct timespec now, end;
	int64_t sum = 0, *offs;
	unsigned int kept = 0;
	int fd;

	offs = malloc(CHECK_OFFSETS_MAX * sizeof(*offs));
	if (!offs)
		return -ENOMEM;
	fd = listen_socket(st);
	if (fd < 0) {
		errno = -fd;
		d4ctl_err("check", "cannot listen to the stream: %m");
		free(offs);
		return fd;
	}
	clock_gettime(CLOCK_MONOTONIC, &end);
	end.tv_sec += (time_t)seconds;
	end.tv_nsec += (long)((seconds - (double)(time_t)seconds) * 1e9);
	for (;;) {
		uint8_t pkt[2048], ctrl[256];
		struct iovec iov = {pkt, sizeof(pkt)};
		struct msghdr mh = {.msg_iov = &iov,
				    .msg_iovlen = 1,
				    .msg_control = ctrl,
				    .msg_controllen = sizeof(ctrl)};
		struct pollfd pfd = {fd, POLLIN, 0};
		struct cmsghdr *cm;
		bool has_tos = false, has_ts = false;
		struct timespec rx = {0};
		unsigned int tos = 0;
		int64_t left_ms, arrival, off;
		uint64_t arr_samples;
		uint32_t ts;
		ssize_t n;

		clock_gettime(CLOCK_MONOTONIC, &now);
		left_ms = (end.tv_sec - now.tv_sec) * 1000 +
			  (end.tv_nsec - now.tv_nsec) / 1000000;
		if (left_ms <= 0)
			break;
		if (poll(&pfd, 1, (int)left_ms) <= 0)
			continue;
		n = recvmsg(fd, &mh, 0);
		if (n < 12 || (pkt[0] >> 6) != 2)
			continue;
		for (cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
			if (cm->cmsg_level == IPPROTO_IP &&
			    cm->cmsg_type == IP_TOS) {
				tos = *(uint8_t *)CMSG_DATA(cm);
				has_tos = true;
			} else if (cm->cmsg_level == SOL_SOCKET &&
				   cm->cmsg_type == SCM_TIMESTAMPNS) {
				memcpy(&rx, CMSG_DATA(cm), sizeof(rx));
				has_ts = true;
			}
		}
		if (has_tos) {
			if (!live->has_dscp)
				live->dscp = tos >> 2;
			else if (live->dscp != tos >> 2)
				live->dscp_mixed = true;
			live->has_dscp = true;
			live->dscp_packets++;
		}
		if (!has_ts || !st->rate)
			continue;
		/* RTP timestamp = PTP time in samples + mediaclk offset,
		 * mod 2^32: the difference, read as signed, in ns */
		ts = (uint32_t)pkt[4] << 24 | (uint32_t)pkt[5] << 16 |
		     (uint32_t)pkt[6] << 8 | pkt[7];
		arrival = (int64_t)rx.tv_sec * (int64_t)NSEC_PER_SEC +
			  rx.tv_nsec + ptp_off_ns;
		arr_samples = mclock_ns_to_samples((uint64_t)arrival, st->rate);
		off = (int64_t)(int32_t)((uint32_t)arr_samples -
					 (ts - st->mediaclk_offset));
		off = off * (int64_t)NSEC_PER_SEC / st->rate;
		if (!live->timing_packets || off < live->offset_min_ns)
			live->offset_min_ns = off;
		if (!live->timing_packets || off > live->offset_max_ns)
			live->offset_max_ns = off;
		sum += off;
		if (kept < CHECK_OFFSETS_MAX)
			offs[kept++] = off;
		live->timing_packets++;
		live->has_timing = true;
	}
	close(fd);
	if (kept) {
		live->offset_mean_ns = sum / (int64_t)live->timing_packets;
		qsort(offs, kept, sizeof(*offs), cmp_i64);
		live->offset_p01_ns = offs[kept / 100];
		live->offset_p99_ns = offs[kept - 1 - kept / 100];
	}
	free(offs);
	return 0;
}

static void print_findings(const struct d4ctl *ctl, const char *what,
			   const struct aes67check_finding *f, size_t n,
			   const struct aes67check_live *live)
{
	json_t *arr, *o;
	size_t i;

	if (ctl->json) {
		arr = json_array();
		for (i = 0; i < n; i++)
			json_array_append_new(
			    arr,
			    json_pack("{s:s,s:s,s:s}", "rule", f[i].rule,
				      "severity",
				      aes67check_severity_name(f[i].severity),
				      "message", f[i].msg));
		o = json_pack("{s:s,s:o,s:b}", "checked", what, "findings", arr,
			      "pass", !aes67check_fails(f, n));
		if (live->has_dscp)
			json_object_set_new(o, "dscp",
					    json_integer(live->dscp));
		if (live->has_timing)
			json_object_set_new(
			    o, "timing",
			    json_pack("{s:i,s:I,s:I,s:I,s:I,s:I}", "packets",
				      live->timing_packets, "offset_min_ns",
				      (json_int_t)live->offset_min_ns,
				      "offset_p01_ns",
				      (json_int_t)live->offset_p01_ns,
				      "offset_mean_ns",
				      (json_int_t)live->offset_mean_ns,
				      "offset_p99_ns",
				      (json_int_t)live->offset_p99_ns,
				      "offset_max_ns",
				      (json_int_t)live->offset_max_ns));
		d4ctl_print_json(o);
		json_decref(o);
		return;
	}
	printf("%s:\n", what);
	if (live->has_dscp)
		printf("  on the wire: DSCP %u (%u packets)\n", live->dscp,
		       live->dscp_packets);
	if (live->has_timing)
		printf("  send-time offset: mean %.3f ms, min %.3f, 1%% %.3f, "
		       "99%% %.3f, max %.3f; spread (1-99%%) %.3f ms (%u "
		       "packets)\n",
		       (double)live->offset_mean_ns / 1e6,
		       (double)live->offset_min_ns / 1e6,
		       (double)live->offset_p01_ns / 1e6,
		       (double)live->offset_p99_ns / 1e6,
		       (double)live->offset_max_ns / 1e6,
		       (double)(live->offset_p99_ns - live->offset_p01_ns) /
			   1e6,
		       live->timing_packets);
	for (i = 0; i < n; i++)
		printf("  %-7s %-20s %s\n",
		       aes67check_severity_name(f[i].severity), f[i].rule,
		       f[i].msg);
	printf("%s\n", aes67check_fails(f, n) ? "FAIL" : "pass");
}

int cmd_check(struct d4ctl *ctl, int argc, char *argv[])
{
	static const struct option extra[] = {
	    {"stream", required_argument, NULL, OPT_STREAM},
	    {"flow", required_argument, NULL, OPT_FLOW},
	    {"listen", required_argument, NULL, OPT_LISTEN},
	    {"ptp4l", required_argument, NULL, OPT_PTP4L},
	    {NULL, 0, NULL, 0},
	};
	struct check_opts o = {.listen_s = 3};
	struct aes67check_finding f[CHECK_FINDINGS_MAX];
	struct aes67check_live live = {0};
	struct d4ctl_node node;
	struct sdp_stream st;
	char *sdp, err[256], what[300];
	bool have_node = false;
	int first, rc, ret = D4CTL_EXIT_OK;
	int64_t off_ns = 0;
	size_t len = 0, n;

	rc =
	    d4ctl_getopt(ctl, argc, argv, usage, extra, "", on_opt, &o, &first);
	if (rc)
		return rc > 0 ? D4CTL_EXIT_OK : D4CTL_EXIT_USAGE;
	if ((o.stream && o.flow) || argc - first > 1 ||
	    (!o.stream && !o.flow && argc - first != 1)) {
		d4ctl_err("check", "give one of FILE, --stream or --flow\n%s",
			  usage);
		return D4CTL_EXIT_USAGE;
	}
	sdp = malloc(CHECK_SDP_MAX);
	if (!sdp)
		return D4CTL_EXIT_NODE;
	if (o.stream || o.flow || ctl->host) {
		rc = d4ctl_node_find(ctl,
				     o.stream || o.flow
					 ? (first < argc ? argv[first] : NULL)
					 : NULL,
				     &node);
		if (rc < 0)
			goto out_rc;
		have_node = true;
	}
	if (o.stream || o.flow) {
		rc = node_sdp(ctl, &node, o.stream ? "/streams" : "/flows",
			      o.stream ? o.stream : o.flow, sdp, CHECK_SDP_MAX,
			      &len);
		snprintf(what, sizeof(what), "%s %s on %s",
			 o.stream ? "stream" : "flow",
			 o.stream ? o.stream : o.flow, node.name);
	} else {
		rc = read_file(argv[first], sdp, CHECK_SDP_MAX, &len);
		snprintf(what, sizeof(what), "%s", argv[first]);
	}
	if (rc < 0)
		goto out_rc;
	if (sdp_parse((const uint8_t *)sdp, len, &st, err, sizeof(err))) {
		d4ctl_err("check", "%s: %s", what, err);
		ret = D4CTL_EXIT_CHECK;
		goto out;
	}
	if (have_node) {
		rc = node_facts(ctl, &node, &st, sdp, &live);
		if (rc < 0)
			goto out_rc;
	}
	if (o.listen_s > 0 && IN_MULTICAST(ntohl(st.addr.s_addr))) {
		rc = ptp_offset(o.ptp4l, &off_ns);
		if (rc < 0)
			goto out_rc;
		rc = listen_stream(&st, o.listen_s, off_ns, &live);
		if (rc < 0)
			goto out_rc;
		if (!live.has_dscp && !ctl->json)
			printf("%s: no packet in %.1f s: DSCP and timing not "
			       "measured\n",
			       what, o.listen_s);
	}
	n = aes67check_run(&st, (const uint8_t *)sdp, len, &live, f,
			   CHECK_FINDINGS_MAX);
	if (n > CHECK_FINDINGS_MAX)
		n = CHECK_FINDINGS_MAX;
	print_findings(ctl, what, f, n, &live);
	ret = aes67check_fails(f, n) ? D4CTL_EXIT_CHECK : D4CTL_EXIT_OK;
	goto out;
out_rc:
	ret = d4ctl_exit_code(rc);
out:
	free(sdp);
	return ret;
}
