/* mDNS/DNS-SD through avahi-daemon, on the node's control loop: publish
 * services (the node's _d4node._tcp, one RAVENNA _rtsp._tcp per multicast
 * flow) and browse for others. The daemon may be absent, restart or rename
 * our services; this module rides through all three and says so. */
#ifndef D4_DISCOVERY_MDNS_H
#define D4_DISCOVERY_MDNS_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>

struct loop;
struct mdns;
struct mdns_service;
struct mdns_browser;

#define MDNS_TYPE_D4NODE	  "_d4node._tcp"
#define MDNS_TYPE_RTSP		  "_rtsp._tcp"
#define MDNS_SUBTYPE_RAVENNA	  "_ravenna_session"
#define MDNS_TYPE_RAVENNA_SESSION "_ravenna_session._sub._rtsp._tcp"
#define MDNS_RETRY_NS		  (5ull * 1000000000ull)
#define MDNS_BROWSE_MAX		  512 /* instances kept per browser */

enum mdns_state {
	MDNS_STATE_CONNECTING, /* no D-Bus or no daemon yet, or it is
				* registering the host name: retrying */
	MDNS_STATE_RUNNING,    /* connected; services are (re)published */
	MDNS_STATE_FAILURE,    /* the connection failed; reconnecting */
};

struct mdns_callbacks {
	/* Every change of state, with a reason for humans. May be NULL. */
	void (*state)(void *data, enum mdns_state state, const char *why);
	/* A name collision made @svc take @new_name. May be NULL. A flow's
	 * RTSP responder must then answer DESCRIBE for the new name too:
	 * peers ask for rtsp://host:port/by-name/<the name they browsed>. */
	void (*renamed)(void *data, struct mdns_service *svc,
			const char *old_name, const char *new_name);
};

/* Connect to avahi-daemon through the system D-Bus on @loop. A missing
 * bus or daemon is not an error: the state is reported and the connection
 * retried (every MDNS_RETRY_NS without a bus; on the daemon's appearance
 * with one). @cb is copied. NULL only when out of memory. */
struct mdns *mdns_new(struct loop *loop, const struct mdns_callbacks *cb,
		      void *data);

/* Withdraw everything and disconnect. Services and browsers still open
 * are freed too. Not from an mdns callback. */
void mdns_destroy(struct mdns *m);

/* The wait between connection attempts when there is no D-Bus, or after
 * an error other than the daemon leaving (default MDNS_RETRY_NS). */
void mdns_set_retry_interval(struct mdns *m, uint64_t ns);

enum mdns_state mdns_get_state(const struct mdns *m);
const char *mdns_state_name(enum mdns_state s);

/* The daemon's host name ("node1.local") while running, else NULL. */
const char *mdns_host_name(struct mdns *m);

struct mdns_service_desc {
	const char *type;	     /* "_d4node._tcp" */
	const char *const *subtypes; /* NULL-terminated, or NULL; short
				      * ("_ravenna_session") or full */
	const char *name;	     /* instance name, UTF-8, < 64 bytes */
	uint16_t port;
	const char *const *txt; /* NULL-terminated "key=value" */
};

/* Publish a service (everything is copied). It is registered now, or as
 * soon as the daemon is there, and again after a daemon restart. NULL on
 * bad arguments (logged) or when out of memory. */
struct mdns_service *mdns_publish(struct mdns *m,
				  const struct mdns_service_desc *desc);

/* Replace the TXT record. 0 or -EINVAL/-ENOMEM (or -EIO from the daemon,
 * logged). */
int mdns_service_set_txt(struct mdns_service *s, const char *const *txt);

/* The name in use: the one asked for, or what a collision made of it. */
const char *mdns_service_name(const struct mdns_service *s);

/* True when the daemon confirmed the registration. */
bool mdns_service_established(const struct mdns_service *s);

/* Withdraw and free (NULL is fine). */
void mdns_unpublish(struct mdns_service *s);

enum mdns_event {
	MDNS_INSTANCE_ADDED,   /* resolved for the first time */
	MDNS_INSTANCE_UPDATED, /* resolved again: address, port or TXT */
	MDNS_INSTANCE_REMOVED, /* gone, or the daemon connection was lost */
};

/* A resolved service instance; valid during the callback only. One
 * instance per interface it was seen on (our own services show up too,
 * on loopback as well: filter on @own). */
struct mdns_instance {
	const char *name;
	const char *type; /* the service type, without a subtype */
	const char *domain;
	const char *host; /* "node1.local" */
	struct in_addr addr;
	uint16_t port;
	const char *const *txt; /* NULL-terminated; "key=value" or "key" */
	int ifindex;
	bool local; /* published by this host */
	bool own;   /* published by this mdns object */
};

typedef void (*mdns_browse_fn)(void *data, enum mdns_event ev,
			       const struct mdns_instance *inst);

/* Browse IPv4 for @type ("_d4node._tcp", or a subtype such as
 * "_ravenna_session._sub._rtsp._tcp") and resolve each instance found.
 * Starts now or when the daemon appears. NULL on bad arguments or no
 * memory. */
struct mdns_browser *mdns_browse(struct mdns *m, const char *type,
				 mdns_browse_fn fn, void *data);

/* Stop browsing and free (NULL is fine); no REMOVED events are sent. */
void mdns_browser_free(struct mdns_browser *b);

/* The value of TXT key @key of @inst ("" for a bare key), or NULL. */
const char *mdns_txt_get(const struct mdns_instance *inst, const char *key);

#endif
