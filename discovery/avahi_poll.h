/* An AvahiPoll on our own event loop (common/loop.h), so that avahi-client
 * runs on the node's control thread instead of a thread of its own: the
 * pattern of PipeWire's zeroconf-utils/avahi-poll.c. */
#ifndef D4_DISCOVERY_AVAHI_POLL_H
#define D4_DISCOVERY_AVAHI_POLL_H

#include <avahi-common/watch.h>

struct loop;

/* An AvahiPoll whose watches and timeouts live on @loop; pass it to
 * avahi_client_new(). NULL when out of memory. (Named for its module;
 * libavahi has no function of this name.) */
AvahiPoll *avahi_poll_new(struct loop *loop);

/* Free the adapter after every client using it (and so every watch and
 * timeout) is gone; leftovers are freed and logged. NULL is fine. */
void avahi_poll_free(AvahiPoll *api);

#endif
