/* Simulated NMOS nodes for the registration load test (tests/nmos/
 * load.sh): N registration clients — the node's own (node/nmos_reg.c),
 * with its backoff and jitter — on one loop and one HTTP client, each
 * with a node's resources (node, device, source, flow, sender, receiver;
 * no audio), all started at the same instant.
 *
 *   nmos_simnodes --registry URL [--nodes N] [--seconds S]
 *                 [--no-jitter] [--seed K] [--log FILE]
 *
 * Prints one line a second: "t=S registered=R/N backoff=B requests=Q",
 * and a last line with the clients' counters. --log writes a line per
 * request as it is sent: "SENT NODE METHOD KIND DUE" (monotonic
 * seconds; KIND heartbeat or resource; DUE when the node meant to send
 * it if its own timer decided — a start, a heartbeat, a retry — else 0:
 * it follows the registry's answer to the one before). Exits 0 after S
 * seconds. */
#include "common/log.h"
#include "common/loop.h"
#include "node/nmos_http.h"
#include "node/nmos_id.h"
#include "node/nmos_reg.h"

#include <curl/curl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NS 1000000000ull

struct sim {
	struct nmos_reg *reg;
	unsigned int index;
	char id[6][NMOS_UUID_LEN];
};

static FILE *req_log;

static void on_request(void *ctx, const char *method, const char *url,
		       uint64_t due_ns)
{
	const struct sim *s = ctx;

	if (req_log)
		fprintf(req_log, "%.6f %u %s %s %.6f\n",
			(double)loop_now_ns() / 1e9, s->index, method,
			strstr(url, "/health/") ? "heartbeat" : "resource",
			(double)due_ns / 1e9);
}

static json_t *core(const char *id, const char *label)
{
	return json_pack("{s:s,s:s,s:s,s:s,s:{}}", "id", id, "version", "1:0",
			 "label", label, "description", "simulated", "tags");
}

/* A node's resources, as a d4 node of one flow and one receiver would
 * register them. */
static void resources(struct sim *s, unsigned int i, const char *url)
{
	static const char *const names[6] = {"node", "device", "source",
					     "flow", "sender", "receiver"};
	uint8_t ns[16];
	char label[32], name[64];
	json_t *o[6];
	unsigned int k;

	snprintf(label, sizeof(label), "sim%03u", i);
	snprintf(name, sizeof(name), "d4-sim/%u", i);
	nmos_uuid5_str("8f0c1e5a-4d2b-4c6e-9a7f-3b1d0e2c4a68", name, s->id[0]);
	nmos_uuid_parse(s->id[0], ns);
	for (k = 1; k < 6; k++)
		nmos_uuid5(ns, names[k], s->id[k]);
	o[0] = core(s->id[0], label);
	json_object_update_new(
	    o[0],
	    json_pack("{s:s,s:{s:[s],s:[{s:s,s:i,s:s}]},s:{},s:[],s:[{s:s,s:"
		      "s}],s:[]}",
		      "href", "http://192.0.2.1:8080/", "api", "versions",
		      "v1.3", "endpoints", "host", "192.0.2.1", "port", 8080,
		      "protocol", "http", "caps", "services", "clocks", "name",
		      "clk0", "ref_type", "internal", "interfaces"));
	o[1] = core(s->id[1], label);
	json_object_update_new(o[1],
			       json_pack("{s:s,s:s,s:[s],s:[s],s:[]}", "type",
					 "urn:x-nmos:device:generic", "node_id",
					 s->id[0], "senders", s->id[4],
					 "receivers", s->id[5], "controls"));
	o[2] = core(s->id[2], label);
	json_object_update_new(
	    o[2], json_pack("{s:{},s:s,s:[],s:s,s:s,s:[{s:s},{s:s}]}", "caps",
			    "device_id", s->id[1], "parents", "clock_name",
			    "clk0", "format", "urn:x-nmos:format:audio",
			    "channels", "label", "01", "label", "02"));
	o[3] = core(s->id[3], label);
	json_object_update_new(
	    o[3],
	    json_pack("{s:s,s:s,s:[],s:s,s:{s:i},s:s,s:i}", "source_id",
		      s->id[2], "device_id", s->id[1], "parents", "format",
		      "urn:x-nmos:format:audio", "sample_rate", "numerator",
		      48000, "media_type", "audio/L24", "bit_depth", 24));
	o[4] = core(s->id[4], label);
	json_object_update_new(
	    o[4],
	    json_pack("{s:s,s:s,s:s,s:s,s:[s],s:{s:n,s:b}}", "flow_id",
		      s->id[3], "transport", "urn:x-nmos:transport:rtp.mcast",
		      "device_id", s->id[1], "manifest_href",
		      "http://192.0.2.1:8080/sdp", "interface_bindings", "eth0",
		      "subscription", "receiver_id", "active", 1));
	o[5] = core(s->id[5], label);
	json_object_update_new(
	    o[5],
	    json_pack("{s:s,s:s,s:[s],s:{s:n,s:b},s:s,s:{s:[s]}}", "device_id",
		      s->id[1], "transport", "urn:x-nmos:transport:rtp",
		      "interface_bindings", "eth0", "subscription", "sender_id",
		      "active", 0, "format", "urn:x-nmos:format:audio", "caps",
		      "media_types", "audio/L24"));
	for (k = 0; k < 6; k++) {
		nmos_reg_set(s->reg, (enum nmos_type)k, s->id[k], o[k]);
		json_decref(o[k]);
	}
	(void)url;
}

int main(int argc, char *argv[])
{
	static const struct option opts[] = {
	    {"registry", required_argument, NULL, 'r'},
	    {"nodes", required_argument, NULL, 'n'},
	    {"seconds", required_argument, NULL, 's'},
	    {"no-jitter", no_argument, NULL, 'j'},
	    {"seed", required_argument, NULL, 'k'},
	    {"log", required_argument, NULL, 'l'},
	    {NULL, 0, NULL, 0}};
	const char *url = NULL;
	unsigned int n = 200, seed = 1, i;
	double secs = 30;
	bool no_jitter = false;
	struct nmos_registry reg;
	struct nmos_http *http;
	struct loop *loop;
	struct sim *sims;
	uint64_t start, next;
	int c;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'r':
			url = optarg;
			break;
		case 'n':
			n = (unsigned int)atoi(optarg);
			break;
		case 's':
			secs = atof(optarg);
			break;
		case 'j':
			no_jitter = true;
			break;
		case 'k':
			seed = (unsigned int)atoi(optarg);
			break;
		case 'l':
			req_log = fopen(optarg, "w");
			if (!req_log) {
				perror(optarg);
				return 2;
			}
			break;
		default:
			fprintf(stderr, "usage: nmos_simnodes --registry URL "
					"[--nodes N] [--seconds S] "
					"[--no-jitter] [--seed K]\n");
			return 2;
		}
	}
	if (!url || !n || n > 2000 || strlen(url) >= sizeof(reg.url)) {
		fprintf(stderr,
			"nmos_simnodes: --registry URL, 1-2000 nodes\n");
		return 2;
	}
	snprintf(reg.url, sizeof(reg.url), "%s", url);
	reg.pri = -1;
	curl_global_init(CURL_GLOBAL_DEFAULT);
	loop = loop_new();
	http = loop ? nmos_http_new(loop) : NULL;
	sims = calloc(n, sizeof(*sims));
	if (!http || !sims)
		return 1;
	/* Every node's clock starts at the same instant, after all are
	 * made: as if powered up together. */
	start = loop_now_ns() + 3 * NS;
	for (i = 0; i < n; i++) {
		uint64_t now = loop_now_ns();

		sims[i].index = i;
		sims[i].reg = nmos_reg_new(
		    loop, http,
		    &(struct nmos_reg_config){.configured = &reg,
					      .nconfigured = 1,
					      .no_jitter = no_jitter,
					      .start_delay_ns =
						  start > now ? start - now : 0,
					      .seed = (uint64_t)seed << 32 | i,
					      .quiet = true,
					      .request_fn = on_request,
					      .ctx = &sims[i]});
		if (!sims[i].reg)
			return 1;
		resources(&sims[i], i, url);
	}
	next = start + NS;
	if (loop_now_ns() > start)
		fprintf(stderr,
			"nmos_simnodes: making %u nodes took over 3 s: "
			"they do not start together\n",
			n);
	while (loop_now_ns() < start + (uint64_t)(secs * 1e9)) {
		loop_run_once(loop, 50);
		if (loop_now_ns() >= next) {
			unsigned int registered = 0, backoff = 0;
			uint64_t reqs = 0;

			for (i = 0; i < n; i++) {
				struct nmos_reg_stats st;

				registered += nmos_reg_state(sims[i].reg) ==
					      NMOS_REG_REGISTERED;
				backoff += nmos_reg_state(sims[i].reg) ==
					   NMOS_REG_BACKOFF;
				nmos_reg_get_stats(sims[i].reg, &st);
				reqs += st.requests;
			}
			printf("t=%.0f registered=%u/%u backoff=%u "
			       "requests=%llu\n",
			       (double)(next - start) / 1e9, registered, n,
			       backoff, (unsigned long long)reqs);
			fflush(stdout);
			next += NS;
		}
	}
	{
		struct nmos_reg_stats sum = {0}, st;

		for (i = 0; i < n; i++) {
			nmos_reg_get_stats(sims[i].reg, &st);
			sum.requests += st.requests;
			sum.heartbeats += st.heartbeats;
			sum.registrations += st.registrations;
			sum.failovers += st.failovers;
			sum.backoffs += st.backoffs;
			sum.not_found += st.not_found;
			sum.rejected += st.rejected;
			nmos_reg_destroy(sims[i].reg, false);
		}
		printf(
		    "final: requests=%llu heartbeats=%llu registrations=%llu "
		    "failures=%llu backoffs=%llu not_found=%llu "
		    "rejected=%llu\n",
		    (unsigned long long)sum.requests,
		    (unsigned long long)sum.heartbeats,
		    (unsigned long long)sum.registrations,
		    (unsigned long long)sum.failovers,
		    (unsigned long long)sum.backoffs,
		    (unsigned long long)sum.not_found,
		    (unsigned long long)sum.rejected);
	}
	nmos_http_destroy(http);
	if (req_log)
		fclose(req_log);
	free(sims);
	loop_destroy(loop);
	curl_global_cleanup();
	return 0;
}
