/* A node's sound cards: playback sinks attached to their subscriptions and
 * capture sources started, from the configuration (node/alsa.h does the
 * work). node.c calls these three and nothing else of ALSA. */
#ifndef D4_NODE_ALSA_NODE_H
#define D4_NODE_ALSA_NODE_H

#include <stddef.h>

struct alsa_node;
struct node_config;
struct source;
struct sub;
struct mclock;

/* Open every [sink] of type alsa and attach it to its subscription, and
 * start every capture source and playback thread on @mc. Call before the
 * media thread starts. NULL with a message in @err on failure. */
struct alsa_node *alsa_node_build(const struct node_config *cfg,
				  struct source **sources, struct sub **subs,
				  struct mclock *mc, char *err, size_t err_len);
/* "final: alsa NAME ..." lines, one per device. */
void alsa_node_report(const struct alsa_node *an);
/* Stop the playback threads and close their devices (after the media
 * thread has stopped). Capture sources close with their source. */
void alsa_node_destroy(struct alsa_node *an);

#endif
