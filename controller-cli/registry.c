/* d4ctl --registry (registry.h): list, show, routes, route and unroute
 * over an NMOS registry's Query API (IS-04 v1.3) and the devices' IS-05
 * v1.1 Connection APIs.
 *
 * A route is IS-05's: for a unicast sender the sender is pointed at the
 * receiver first (its destination_ip is the receiver's interface, its
 * destination_port the receiver's staged one), then the receiver is given
 * the sender's transport file (its SDP, as the sender serves it after
 * that change), both activated at once. If the receiver refuses, the
 * sender is put back as it was. unroute disables the receiver, and a
 * unicast sender pointed at it. Writes carry each device's node's token
 * (--token, D4_TOKEN, the config file's section with a d4 node's uuid or
 * the [node LABEL] token: d4ctl_token()), as NMOS controllers send a
 * bearer token. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <avahi-client/client.h>
#include <avahi-client/lookup.h>
#include <avahi-common/error.h>
#include <avahi-common/malloc.h>
#include <avahi-common/simple-watch.h>
#include <avahi-common/timeval.h>
#include <curl/curl.h>

#include "controller-cli/args.h"
#include "controller-cli/registry.h"

#define QUERY_PATH "/x-nmos/query/v1.3"
#define CONN_URN   "urn:x-nmos:control:sr-ctrl/v1.1"

struct reg {
	struct d4ctl *ctl;
	struct d4ctl_node q; /* the Query API, as d4ctl_http sees it */
	json_t *nodes, *devices, *senders, *receivers;
};

/* ---- finding the registry ---- */

struct found {
	AvahiSimplePoll *sp;
	AvahiClient *client;
	int pending;
	bool all_for_now;
	int best_pri;
	char url[128];
};

static void found_done(struct found *f)
{
	if (f->all_for_now && !f->pending)
		avahi_simple_poll_quit(f->sp);
}

static const char *txt_value(AvahiStringList *txt, const char *key, char *buf,
			     size_t len)
{
	AvahiStringList *t = avahi_string_list_find(txt, key);
	char *k = NULL, *v = NULL;

	buf[0] = '\0';
	if (t && avahi_string_list_get_pair(t, &k, &v, NULL) == 0 && v)
		snprintf(buf, len, "%s", v);
	avahi_free(k);
	avahi_free(v);
	return buf;
}

static void on_resolve(AvahiServiceResolver *r, AvahiIfIndex iface,
		       AvahiProtocol proto, AvahiResolverEvent event,
		       const char *name, const char *type, const char *domain,
		       const char *host_name, const AvahiAddress *addr,
		       uint16_t port, AvahiStringList *txt,
		       AvahiLookupResultFlags flags, void *data)
{
	struct found *f = data;
	char ver[64], proto_[16], auth[16], pri[16],
	    host[AVAHI_ADDRESS_STR_MAX];
	char *end;
	long p;

	if (event == AVAHI_RESOLVER_FOUND && addr) {
		txt_value(txt, "api_ver", ver, sizeof(ver));
		txt_value(txt, "api_proto", proto_, sizeof(proto_));
		txt_value(txt, "api_auth", auth, sizeof(auth));
		txt_value(txt, "pri", pri, sizeof(pri));
		p = strtol(pri, &end, 10);
		/* a usable one: v1.3 over http without IS-10 */
		if (strstr(ver, "v1.3") && !strcmp(proto_, "http") &&
		    strcmp(auth, "true") && pri[0] && !*end &&
		    (!f->url[0] || p < f->best_pri)) {
			avahi_address_snprint(host, sizeof(host), addr);
			snprintf(f->url, sizeof(f->url), "http://%s:%u", host,
				 port);
			f->best_pri = (int)p;
		}
	}
	avahi_service_resolver_free(r);
	f->pending--;
	found_done(f);
}

static void on_browse(AvahiServiceBrowser *sb, AvahiIfIndex iface,
		      AvahiProtocol proto, AvahiBrowserEvent event,
		      const char *name, const char *type, const char *domain,
		      AvahiLookupResultFlags flags, void *data)
{
	struct found *f = data;

	if (event == AVAHI_BROWSER_NEW &&
	    avahi_service_resolver_new(f->client, iface, proto, name, type,
				       domain, AVAHI_PROTO_INET, 0, on_resolve,
				       f))
		f->pending++;
	if (event == AVAHI_BROWSER_ALL_FOR_NOW) {
		f->all_for_now = true;
		found_done(f);
	}
	if (event == AVAHI_BROWSER_FAILURE)
		avahi_simple_poll_quit(f->sp);
}

static void on_timeout(AvahiTimeout *t, void *data)
{
	avahi_simple_poll_quit(((struct found *)data)->sp);
}

/* A Query API by DNS-SD (_nmos-query._tcp), the lowest pri. */
static int find_query_api(double seconds, char *url, size_t len)
{
	struct found f = {0};
	AvahiServiceBrowser *sb;
	const AvahiPoll *api;
	struct timeval tv;
	int aerr, rc = -ENOENT;

	f.sp = avahi_simple_poll_new();
	if (!f.sp)
		return -ENOMEM;
	api = avahi_simple_poll_get(f.sp);
	f.client = avahi_client_new(api, 0, NULL, NULL, &aerr);
	if (!f.client) {
		d4ctl_err(NULL, "--registry auto: avahi-daemon: %s",
			  avahi_strerror(aerr));
		avahi_simple_poll_free(f.sp);
		return -EHOSTUNREACH;
	}
	sb = avahi_service_browser_new(f.client, AVAHI_IF_UNSPEC,
				       AVAHI_PROTO_INET, "_nmos-query._tcp",
				       NULL, 0, on_browse, &f);
	if (sb) {
		api->timeout_new(
		    api, avahi_elapse_time(&tv, (unsigned)(seconds * 1000), 0),
		    on_timeout, &f);
		avahi_simple_poll_loop(f.sp);
		avahi_service_browser_free(sb);
	}
	if (f.url[0]) {
		snprintf(url, len, "%s", f.url);
		rc = 0;
	} else {
		d4ctl_err(NULL,
			  "--registry auto: no Query API (_nmos-query._tcp, "
			  "v1.3, http) found by DNS-SD in %.1f s",
			  seconds);
	}
	avahi_client_free(f.client);
	avahi_simple_poll_free(f.sp);
	return rc;
}

/* ---- the registry's data ---- */

/* "http://HOST:PORT[/...]" into @n (its base the Query API). */
static int set_base(struct d4ctl_node *n, const char *name, const char *url,
		    const char *path)
{
	const char *h = url + 7;
	size_t hl = strcspn(h, "/"), tl, pl;
	char trimmed[256];

	if (strncmp(url, "http://", 7) || !hl || hl >= sizeof(n->addr))
		return -EINVAL;
	memset(n, 0, sizeof(*n));
	snprintf(n->name, sizeof(n->name), "%s", name);
	snprintf(n->addr, sizeof(n->addr), "%.*s", (int)hl, h);
	snprintf(n->host, sizeof(n->host), "%.*s", (int)strcspn(n->addr, ":"),
		 n->addr);
	snprintf(trimmed, sizeof(trimmed), "%s", url);
	while (strlen(trimmed) > 7 && trimmed[strlen(trimmed) - 1] == '/')
		trimmed[strlen(trimmed) - 1] = '\0';
	tl = strlen(trimmed);
	pl = strlen(path);
	if (tl + pl >= sizeof(n->base))
		return -EINVAL;
	memcpy(n->base, trimmed, tl);
	memcpy(n->base + tl, path, pl + 1);
	return 0;
}

static int reg_open(struct d4ctl *ctl, struct reg *r)
{
	char url[256];
	int rc;

	memset(r, 0, sizeof(*r));
	r->ctl = ctl;
	if (!strcmp(ctl->registry, "auto")) {
		rc = find_query_api(ctl->browse_s, url, sizeof(url));
		if (rc < 0)
			return rc;
	} else {
		if (strlen(ctl->registry) >= sizeof(url))
			goto bad;
		snprintf(url, sizeof(url), "%s", ctl->registry);
	}
	if (set_base(&r->q, "registry", url, QUERY_PATH) < 0) {
	bad:
		d4ctl_err(NULL,
			  "--registry '%s' is not http://HOST:PORT (or auto)",
			  ctl->registry);
		return -EINVAL;
	}
	return 0;
}

static int reg_load(struct reg *r)
{
	int rc = d4ctl_http(r->ctl, &r->q, "GET", "/nodes", NULL, &r->nodes);

	if (!rc)
		rc = d4ctl_http(r->ctl, &r->q, "GET", "/devices", NULL,
				&r->devices);
	if (!rc)
		rc = d4ctl_http(r->ctl, &r->q, "GET", "/senders", NULL,
				&r->senders);
	if (!rc)
		rc = d4ctl_http(r->ctl, &r->q, "GET", "/receivers", NULL,
				&r->receivers);
	if (!rc &&
	    (!json_is_array(r->nodes) || !json_is_array(r->devices) ||
	     !json_is_array(r->senders) || !json_is_array(r->receivers))) {
		d4ctl_err(NULL, "registry %s: its Query API answers no lists",
			  r->q.addr);
		rc = -EPROTO;
	}
	return rc;
}

static void reg_close(struct reg *r)
{
	json_decref(r->nodes);
	json_decref(r->devices);
	json_decref(r->senders);
	json_decref(r->receivers);
}

static const char *str(const json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s ? s : "";
}

static const json_t *by_id(const json_t *arr, const char *id)
{
	const json_t *o;
	size_t i;

	json_array_foreach(arr, i, o) if (!strcmp(str(o, "id"), id)) return o;
	return NULL;
}

/* The node a sender or receiver belongs to (through its device). */
static const json_t *node_of(const struct reg *r, const json_t *res)
{
	const json_t *dev = by_id(r->devices, str(res, "device_id"));

	return dev ? by_id(r->nodes, str(dev, "node_id")) : NULL;
}

static const char *node_label(const struct reg *r, const json_t *res)
{
	const json_t *n = node_of(r, res);

	return n ? str(n, "label") : "?";
}

/* "LABEL@NODE" or a UUID: the one sender (receiver) it names. For a
 * receiver "1-2@B" also finds d4's "RX 1-2". */
static int find(const struct reg *r, const json_t *arr, const char *spec,
		const char *kind, const json_t **out)
{
	const char *at = strrchr(spec, '@');
	char label[128], rx[140];
	const json_t *o;
	size_t i;
	int n = 0;

	*out = NULL;
	if (!at) {
		*out = by_id(arr, spec);
		if (*out)
			return 0;
		d4ctl_err(NULL,
			  "'%s': a %s is LABEL@NODE or its id (d4ctl "
			  "--registry ... show NODE lists them)",
			  spec, kind);
		return strlen(spec) == 36 ? -ENOENT : -EINVAL;
	}
	snprintf(label, sizeof(label), "%.*s", (int)(at - spec), spec);
	snprintf(rx, sizeof(rx), "RX %s", label);
	json_array_foreach(arr, i, o)
	{
		if (strcmp(node_label(r, o), at + 1) ||
		    (strcmp(str(o, "label"), label) &&
		     strcmp(str(o, "label"), rx)))
			continue;
		/* an exact label wins over "RX " + it */
		if (*out && !strcmp(str(*out, "label"), label))
			continue;
		if (!*out || strcmp(str(o, "label"), label))
			n++;
		*out = o;
	}
	if (!*out) {
		d4ctl_err(NULL, "no %s '%s' in the registry", kind, spec);
		return -ENOENT;
	}
	if (n > 1) {
		d4ctl_err(NULL, "'%s' names %d %ss: give its id", spec, n,
			  kind);
		return -EINVAL;
	}
	return 0;
}

/* The IS-05 API of @res's device, as a d4ctl node whose name is the
 * NMOS node's label (for its token). */
static int conn_api(const struct reg *r, const json_t *res,
		    struct d4ctl_node *out)
{
	const json_t *dev = by_id(r->devices, str(res, "device_id"));
	const json_t *c;
	size_t i;

	json_array_foreach(json_object_get(dev, "controls"), i, c)
	{
		if (strcmp(str(c, "type"), CONN_URN))
			continue;
		if (set_base(out, node_label(r, res), str(c, "href"), "") == 0)
			return 0;
	}
	d4ctl_err(NULL, "%s@%s: its device has no IS-05 v1.1 control",
		  str(res, "label"), node_label(r, res));
	return -ENOENT;
}

struct text {
	char *data;
	size_t len;
};

static size_t on_text(char *ptr, size_t size, size_t nmemb, void *user)
{
	struct text *t = user;
	size_t n = size * nmemb;
	char *p;

	if (t->len + n > (1u << 20))
		return 0;
	p = realloc(t->data, t->len + n + 1);
	if (!p)
		return 0;
	memcpy(p + t->len, ptr, n);
	t->data = p;
	t->len += n;
	t->data[t->len] = '\0';
	return n;
}

/* A sender's transport file (its SDP), from its manifest_href. */
static int fetch_sdp(struct reg *r, const char *url, char **out)
{
	struct text t = {0};
	long status = 0;
	CURLcode cc;
	CURL *c = curl_easy_init();

	*out = NULL;
	if (!c)
		return -ENOMEM;
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L); /* 307 allowed */
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, r->ctl->timeout_ms);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_text);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &t);
	cc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(c);
	if (cc != CURLE_OK || status != 200 || !t.data) {
		d4ctl_err(NULL, "GET %s: %s", url,
			  cc != CURLE_OK ? curl_easy_strerror(cc)
					 : "not 200 with a body");
		free(t.data);
		return cc != CURLE_OK ? -EHOSTUNREACH : -EIO;
	}
	*out = t.data;
	return 0;
}

/* ---- commands ---- */

static const char *sort_key;

static int by_key(const void *a, const void *b)
{
	return strcmp(str(*(json_t *const *)a, sort_key),
		      str(*(json_t *const *)b, sort_key));
}

/* Rows in the order of their member @key (a registry lists in any). */
static void sort_by(json_t *arr, const char *key)
{
	size_t n = json_array_size(arr), i;
	json_t **v = calloc(n ? n : 1, sizeof(*v));

	if (!v)
		return;
	for (i = 0; i < n; i++)
		v[i] = json_incref(json_array_get(arr, i));
	sort_key = key;
	qsort(v, n, sizeof(*v), by_key);
	json_array_clear(arr);
	for (i = 0; i < n; i++)
		json_array_append_new(arr, v[i]);
	free(v);
}

static const char list_usage[] =
    "usage: d4ctl --registry URL list [--json]\n"
    "\n"
    "Nodes in the registry: name, Node API address, senders, receivers,\n"
    "clock (ptp locked / ptp unlocked / internal), id.\n";

static json_t *clock_text(const json_t *node)
{
	const json_t *c = json_array_get(json_object_get(node, "clocks"), 0);

	if (!c)
		return json_string("-");
	if (!strcmp(str(c, "ref_type"), "ptp"))
		return json_string(json_is_true(json_object_get(c, "locked"))
				       ? "ptp locked"
				       : "ptp unlocked");
	return json_string(str(c, "ref_type"));
}

static int count_of(const struct reg *r, const json_t *arr, const json_t *node)
{
	const json_t *o;
	size_t i;
	int n = 0;

	json_array_foreach(arr, i, o) n += node_of(r, o) == node;
	return n;
}

static int reg_list(struct reg *r, int argc, char *argv[])
{
	static const char *const headers[] = {
	    "NAME", "ADDRESS", "SENDERS", "RECEIVERS", "CLOCK", "ID", NULL};
	static const char *const keys[] = {
	    "name", "address", "senders", "receivers", "clock", "id", NULL};
	json_t *out = json_array();
	const json_t *n;
	size_t i;

	json_array_foreach(r->nodes, i, n)
	{
		const json_t *ep = json_array_get(
		    json_object_get(json_object_get(n, "api"), "endpoints"), 0);
		char addr[80];

		snprintf(addr, sizeof(addr), "%s:%" JSON_INTEGER_FORMAT,
			 str(ep, "host"),
			 json_integer_value(json_object_get(ep, "port")));
		json_array_append_new(
		    out, json_pack("{s:s,s:s,s:i,s:i,s:o,s:s}", "name",
				   str(n, "label"), "address", addr, "senders",
				   count_of(r, r->senders, n), "receivers",
				   count_of(r, r->receivers, n), "clock",
				   clock_text(n), "id", str(n, "id")));
	}
	sort_by(out, "name");
	if (r->ctl->json)
		d4ctl_print_json(out);
	else
		d4ctl_table(out, headers, keys);
	json_decref(out);
	return D4CTL_EXIT_OK;
}

/* "label@node" of sender @id, or NULL. */
static void sender_name(const struct reg *r, const char *id, char *buf,
			size_t len)
{
	const json_t *s = id && *id ? by_id(r->senders, id) : NULL;

	if (s)
		snprintf(buf, len, "%s@%s", str(s, "label"), node_label(r, s));
	else
		snprintf(buf, len, "%s", id && *id ? id : "-");
}

static json_t *receiver_row(const struct reg *r, const json_t *x)
{
	const json_t *sub = json_object_get(x, "subscription");
	const json_t *st = json_array_get(
	    json_object_get(json_object_get(x, "tags"), "urn:x-d4:state"), 0);
	char name[200], from[200];

	snprintf(name, sizeof(name), "%s@%s", str(x, "label"),
		 node_label(r, x));
	sender_name(r, str(sub, "sender_id"), from, sizeof(from));
	return json_pack(
	    "{s:s,s:s,s:b,s:s,s:s}", "receiver", name, "from",
	    json_is_true(json_object_get(sub, "active")) ? from : "-", "active",
	    json_is_true(json_object_get(sub, "active")), "state",
	    st ? json_string_value(st) : "-", "id", str(x, "id"));
}

static const char show_usage[] =
    "usage: d4ctl --registry URL show NODE [--json]\n"
    "\n"
    "A node's senders (label, transport, active) and receivers (label,\n"
    "the sender they receive, d4's subscription state), from the\n"
    "registry.\n";

static int reg_show(struct reg *r, int argc, char *argv[])
{
	static const char *const sh[] = {"SENDER", "TRANSPORT", "ACTIVE", "ID",
					 NULL};
	static const char *const sk[] = {"sender", "transport", "active", "id",
					 NULL};
	static const char *const rh[] = {"RECEIVER", "FROM", "ACTIVE",
					 "STATE",    "ID",   NULL};
	static const char *const rk[] = {"receiver", "from", "active",
					 "state",    "id",   NULL};
	json_t *snd = json_array(), *rcv = json_array(), *out;
	const json_t *node = NULL, *o;
	size_t i;

	json_array_foreach(r->nodes, i,
			   o) if (!strcmp(str(o, "label"), argv[0]) ||
				  !strcmp(str(o, "id"), argv[0])) node = o;
	if (!node) {
		d4ctl_err("show", "no node '%s' in the registry", argv[0]);
		json_decref(snd);
		json_decref(rcv);
		return D4CTL_EXIT_NOTFOUND;
	}
	json_array_foreach(r->senders, i, o)
	{
		if (node_of(r, o) != node)
			continue;
		json_array_append_new(
		    snd, json_pack(
			     "{s:s,s:s,s:b,s:s}", "sender", str(o, "label"),
			     "transport",
			     strstr(str(o, "transport"), "ucast") ? "unicast"
			     : strstr(str(o, "transport"), "mcast")
				 ? "multicast"
				 : str(o, "transport"),
			     "active",
			     json_is_true(json_object_get(
				 json_object_get(o, "subscription"), "active")),
			     "id", str(o, "id")));
	}
	json_array_foreach(r->receivers, i, o) if (node_of(r, o) == node)
	    json_array_append_new(rcv, receiver_row(r, o));
	sort_by(snd, "sender");
	sort_by(rcv, "receiver");
	out = json_pack("{s:s,s:s,s:o,s:o}", "name", str(node, "label"), "id",
			str(node, "id"), "senders", snd, "receivers", rcv);
	if (r->ctl->json) {
		d4ctl_print_json(out);
	} else {
		printf("%s (%s)\n", str(node, "label"), str(node, "id"));
		d4ctl_table(snd, sh, sk);
		d4ctl_table(rcv, rh, rk);
	}
	json_decref(out);
	return D4CTL_EXIT_OK;
}

static const char routes_usage[] =
    "usage: d4ctl --registry URL routes [--json]\n"
    "\n"
    "Every receiver in the registry that receives: RX, from (the sender,\n"
    "label@node; '-' for a stream from outside NMOS), state.\n";

static int reg_routes(struct reg *r, int argc, char *argv[])
{
	static const char *const h[] = {"RX", "FROM", "STATE", NULL};
	static const char *const k[] = {"receiver", "from", "state", NULL};
	json_t *out = json_array();
	const json_t *o;
	size_t i;

	json_array_foreach(
	    r->receivers, i,
	    o) if (json_is_true(json_object_get(json_object_get(o,
								"subscription"),
						"active")))
	    json_array_append_new(out, receiver_row(r, o));
	if (r->ctl->json)
		d4ctl_print_json(out);
	else
		d4ctl_table(out, h, k);
	json_decref(out);
	return D4CTL_EXIT_OK;
}

/* One leg of a receiver as a unicast sender's destination. */
struct target {
	char ip[64];
	int port;
};

/* How many legs receiver @x has (its constraints': IS-05 PATCHes hold as
 * many, SMPTE 2022-7) into *@legs, and for each where a unicast sender
 * should send: the receiver's interface (the leg's constraints' first
 * address; on the first leg the one its node's API names if listed) and
 * its staged port ("auto": 5004). */
static int receiver_legs(struct reg *r, const json_t *x, struct d4ctl_node *xc,
			 struct target t[2], unsigned int *legs)
{
	const json_t *host = json_object_get(
	    json_array_get(
		json_object_get(json_object_get(node_of(r, x), "api"),
				"endpoints"),
		0),
	    "host");
	char path[200];
	json_t *cons = NULL, *staged = NULL, *e;
	const json_t *v;
	unsigned int l;
	size_t i;
	int rc;

	snprintf(path, sizeof(path), "/single/receivers/%s/constraints",
		 str(x, "id"));
	rc = d4ctl_http(r->ctl, xc, "GET", path, NULL, &cons);
	if (!rc) {
		snprintf(path, sizeof(path), "/single/receivers/%s/staged",
			 str(x, "id"));
		rc = d4ctl_http(r->ctl, xc, "GET", path, NULL, &staged);
	}
	if (rc)
		goto out;
	*legs = json_array_size(cons) > 1 ? 2 : 1;
	for (l = 0; l < *legs; l++) {
		e = json_object_get(
		    json_object_get(json_array_get(cons, l), "interface_ip"),
		    "enum");
		t[l].ip[0] = '\0';
		json_array_foreach(e, i, v)
		{
			if (!t[l].ip[0] || (!l && json_is_string(host) &&
					    !strcmp(json_string_value(v),
						    json_string_value(host))))
				snprintf(t[l].ip, sizeof(t[l].ip), "%s",
					 json_string_value(v));
		}
		if (!l && !t[l].ip[0] && json_is_string(host))
			snprintf(t[l].ip, sizeof(t[l].ip), "%s",
				 json_string_value(host));
		v = json_object_get(
		    json_array_get(json_object_get(staged, "transport_params"),
				   l),
		    "destination_port");
		t[l].port =
		    json_is_integer(v) ? (int)json_integer_value(v) : 5004;
	}
out:
	json_decref(cons);
	json_decref(staged);
	return rc;
}

static const char route_usage[] =
    "usage: d4ctl --registry URL route SENDER RECEIVER [--dry-run]\n"
    "\n"
    "Connect RECEIVER to SENDER through IS-05. Each is LABEL@NODE (d4:\n"
    "a sender is a flow, main@stagebox; a receiver a group of RX\n"
    "channels, '1-2@mixer' for its 'RX 1-2') or its id. A unicast sender\n"
    "is pointed at the receiver first. --dry-run prints the requests.\n";

static int activate(struct reg *r, struct d4ctl_node *api, const char *kind,
		    const char *id, json_t *body, bool dry)
{
	char path[200];
	json_t *out = NULL;
	int rc;

	snprintf(path, sizeof(path), "/single/%s/%s/staged", kind, id);
	if (dry) {
		char *t = json_dumps(body, JSON_COMPACT);

		printf("PATCH %s%s %s\n", api->base, path, t ? t : "");
		free(t);
		json_decref(body);
		return 0;
	}
	rc = d4ctl_http(r->ctl, api, "PATCH", path, body, &out);
	json_decref(body);
	json_decref(out);
	return rc;
}

static int reg_route(struct reg *r, int argc, char *argv[], bool dry)
{
	struct d4ctl_node sc, xc;
	const json_t *s, *x;
	json_t *before = NULL, *stp, *xtp;
	char path[200], *sdp = NULL;
	struct target t[2];
	unsigned int l, xlegs = 1, slegs = 1;
	bool ucast;
	int rc;

	rc = find(r, r->senders, argv[0], "sender", &s);
	if (!rc)
		rc = find(r, r->receivers, argv[1], "receiver", &x);
	if (!rc)
		rc = conn_api(r, s, &sc);
	if (!rc)
		rc = conn_api(r, x, &xc);
	if (!rc)
		rc = receiver_legs(r, x, &xc, t, &xlegs);
	if (rc)
		return d4ctl_exit_code(rc);
	ucast = strstr(str(s, "transport"), "rtp.ucast") != NULL;
	if (ucast) {
		if (!t[0].ip[0]) {
			d4ctl_err("route", "%s@%s: no interface address known",
				  str(x, "label"), node_label(r, x));
			return d4ctl_exit_code(-ENOENT);
		}
		snprintf(path, sizeof(path), "/single/senders/%s/active",
			 str(s, "id"));
		rc = d4ctl_http(r->ctl, &sc, "GET", path, NULL, &before);
		if (rc)
			goto out;
		/* each of the sender's legs to the receiver's (SMPTE
		 * 2022-7); a second leg the receiver lacks stays as it is */
		slegs = json_array_size(
			    json_object_get(before, "transport_params")) > 1
			    ? 2
			    : 1;
		stp = json_array();
		for (l = 0; l < slegs; l++)
			json_array_append_new(
			    stp, l < xlegs && t[l].ip[0]
				     ? json_pack("{s:s,s:i}", "destination_ip",
						 t[l].ip, "destination_port",
						 t[l].port)
				     : json_object());
		rc = activate(r, &sc, "senders", str(s, "id"),
			      json_pack("{s:s,s:b,s:o,s:{s:s}}", "receiver_id",
					str(x, "id"), "master_enable", 1,
					"transport_params", stp, "activation",
					"mode", "activate_immediate"),
			      dry);
		if (rc)
			goto out;
	}
	if (dry) {
		printf("GET %s\n", str(s, "manifest_href"));
		sdp = strdup("(the sender's SDP)");
	} else {
		rc = fetch_sdp(r, str(s, "manifest_href"), &sdp);
		if (!rc && !ucast && strstr(sdp, "a=group:DUP"))
			slegs = 2;
	}
	/* the receiver's legs from the sender's SDP (its DUP leg the second),
	 * a unicast leg on the interface the sender was pointed at */
	xtp = json_array();
	for (l = 0; l < xlegs; l++)
		json_array_append_new(
		    xtp, ucast && l < slegs && t[l].ip[0]
			     ? json_pack("{s:s,s:i}", "interface_ip", t[l].ip,
					 "destination_port", t[l].port)
			     : json_object());
	if (!rc)
		rc = activate(r, &xc, "receivers", str(x, "id"),
			      json_pack("{s:s,s:b,s:{s:s,s:s},s:o,s:{s:s}}",
					"sender_id", str(s, "id"),
					"master_enable", 1, "transport_file",
					"data", sdp, "type", "application/sdp",
					"transport_params", xtp, "activation",
					"mode", "activate_immediate"),
			      dry);
	else
		json_decref(xtp);
	if (rc && ucast && before && !dry) {
		/* the receiver refused: the sender goes back */
		const json_t *tps = json_object_get(before, "transport_params");

		stp = json_array();
		for (l = 0; l < slegs; l++) {
			const json_t *tp = json_array_get(tps, l);

			json_array_append_new(
			    stp,
			    json_pack("{s:O,s:O}", "destination_ip",
				      json_object_get(tp, "destination_ip"),
				      "destination_port",
				      json_object_get(tp, "destination_port")));
		}
		activate(r, &sc, "senders", str(s, "id"),
			 json_pack("{s:O,s:O,s:o,s:{s:s}}", "receiver_id",
				   json_object_get(before, "receiver_id"),
				   "master_enable",
				   json_object_get(before, "master_enable"),
				   "transport_params", stp, "activation",
				   "mode", "activate_immediate"),
			 false);
	}
	if (!rc && !dry)
		printf("routed %s@%s -> %s@%s (%s%s)\n", str(s, "label"),
		       node_label(r, s), str(x, "label"), node_label(r, x),
		       ucast ? "unicast" : "multicast",
		       xlegs > 1 && slegs > 1 ? ", both legs: ST 2022-7" : "");
out:
	free(sdp);
	json_decref(before);
	return d4ctl_exit_code(rc);
}

static const char unroute_usage[] =
    "usage: d4ctl --registry URL unroute RECEIVER [--dry-run]\n"
    "\n"
    "Disconnect RECEIVER (LABEL@NODE or its id) through IS-05; a unicast\n"
    "sender that sends to it stops sending there.\n";

static int reg_unroute(struct reg *r, int argc, char *argv[], bool dry)
{
	struct d4ctl_node xc, sc;
	const json_t *x, *s, *o;
	size_t i;
	int rc = find(r, r->receivers, argv[0], "receiver", &x);

	if (!rc)
		rc = conn_api(r, x, &xc);
	if (!rc)
		rc = activate(r, &xc, "receivers", str(x, "id"),
			      json_pack("{s:n,s:b,s:{s:s}}", "sender_id",
					"master_enable", 0, "activation",
					"mode", "activate_immediate"),
			      dry);
	if (rc)
		return d4ctl_exit_code(rc);
	json_array_foreach(r->senders, i, o)
	{
		s = o;
		if (strcmp(
			str(json_object_get(s, "subscription"), "receiver_id"),
			str(x, "id")) ||
		    conn_api(r, s, &sc) < 0)
			continue;
		activate(r, &sc, "senders", str(s, "id"),
			 json_pack("{s:n,s:b,s:{s:s}}", "receiver_id",
				   "master_enable", 0, "activation", "mode",
				   "activate_immediate"),
			 dry);
	}
	if (!dry)
		printf("unrouted %s@%s\n", str(x, "label"), node_label(r, x));
	return D4CTL_EXIT_OK;
}

static const char usage[] =
    "usage: d4ctl --registry URL|auto COMMAND [ARGS]\n"
    "\n"
    "Through an NMOS registry (its IS-04 Query API) and each device's\n"
    "IS-05 Connection API, across subnets; 'auto' finds the registry by\n"
    "DNS-SD (_nmos-query._tcp).\n"
    "  list                      nodes\n"
    "  show NODE                 a node's senders and receivers\n"
    "  routes                    receivers that receive, and from what\n"
    "  route SENDER RECEIVER     connect (LABEL@NODE or ids)\n"
    "  unroute RECEIVER          disconnect\n";

static int dry_opt(void *data, int opt, const char *arg)
{
	*(bool *)data = true;
	return 0;
}

int registry_main(struct d4ctl *ctl, int argc, char *argv[])
{
	static const struct option dry[] = {{"dry-run", no_argument, NULL, 'n'},
					    {NULL, 0, NULL, 0}};
	static const struct {
		const char *name, *usage;
		int nargs;
		bool writes;
	} cmds[] = {
	    {"list", list_usage, 0, false},
	    {"show", show_usage, 1, false},
	    {"routes", routes_usage, 0, false},
	    {"route", route_usage, 2, true},
	    {"unroute", unroute_usage, 1, true},
	};
	bool dry_run = false;
	struct reg r;
	unsigned int k;
	int first, rc;

	for (k = 0; k < sizeof(cmds) / sizeof(cmds[0]); k++)
		if (!strcmp(cmds[k].name, argv[0]))
			break;
	if (k == sizeof(cmds) / sizeof(cmds[0])) {
		d4ctl_err(NULL, "'%s' does not run through a registry\n%s",
			  argv[0], usage);
		return D4CTL_EXIT_USAGE;
	}
	rc = d4ctl_getopt(ctl, argc, argv, cmds[k].usage,
			  cmds[k].writes ? dry : NULL, "", dry_opt, &dry_run,
			  &first);
	if (rc)
		return rc > 0 ? D4CTL_EXIT_OK : D4CTL_EXIT_USAGE;
	if (argc - first != cmds[k].nargs) {
		d4ctl_err(argv[0], "takes %d operand(s)\n%s", cmds[k].nargs,
			  cmds[k].usage);
		return D4CTL_EXIT_USAGE;
	}
	rc = reg_open(ctl, &r);
	if (rc < 0)
		return d4ctl_exit_code(rc);
	rc = reg_load(&r);
	if (rc < 0) {
		reg_close(&r);
		return d4ctl_exit_code(rc == -EIO ? -EHOSTUNREACH : rc);
	}
	argv += first;
	switch (k) {
	case 0:
		rc = reg_list(&r, 0, argv);
		break;
	case 1:
		rc = reg_show(&r, 1, argv);
		break;
	case 2:
		rc = reg_routes(&r, 0, argv);
		break;
	case 3:
		rc = reg_route(&r, 2, argv, dry_run);
		break;
	default:
		rc = reg_unroute(&r, 1, argv, dry_run);
		break;
	}
	reg_close(&r);
	return rc;
}
