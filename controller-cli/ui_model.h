/* d4ctl ui's view of the network: which nodes there are (mDNS, the config
 * file, --host, looked for again every few seconds) and what each one's
 * API says, polled by one thread per node with its connection kept open;
 * and the hub that hands what changed to every browser's event stream,
 * latest first: a slow browser skips old meter frames and states, never
 * queues them (docs/ui.md "How it works").
 *
 * Messages are server-sent events, built once and shared by every client:
 *   state  {"nodes": [...], "routes": [...], "ui": {...}}, on a change
 *          (without what changes at every poll: uptime, clock offset,
 *          counters)
 *   stats  {"nodes": {ADDR: {SUB: {"stats", "state_reason",
 *          "latency_safe_us"}}}}, once a second: what a subscription
 *          says afresh at every poll
 *   meters {"t": ms, "seq": n, "nodes": {ADDR: {"f": {FLOW: [[pk, rms]]},
 *          "s": {SUB: [[pk, rms]]}}}}, 20 a second while a client wants
 *   clock  {"t": ms, "nodes": {ADDR: [ms, offset_ns, state, gm]}}, 2/s
 *   log    {"t": ms, "kind", "node", "text"}: GM and lock changes,
 *          subscription states, nodes coming and going, actions */
#ifndef D4_CONTROLLER_CLI_UI_MODEL_H
#define D4_CONTROLLER_CLI_UI_MODEL_H

#include <stdbool.h>
#include <stdint.h>

#include "controller-cli/d4ctl.h"

struct ui_model;

/* Start discovery and polling with @ctl's nodes, config and tokens
 * (@ctl is copied). @latency_us: the latency for routes made from the
 * page (0: the node's default), shown to it in "ui". NULL on failure. */
struct ui_model *ui_model_start(const struct d4ctl *ctl,
				unsigned int latency_us);

/* Stop every thread; wakes every client waiting in ui_model_next(). */
void ui_model_stop(struct ui_model *m);
void ui_model_destroy(struct ui_model *m);

/* Seconds on the monotonic clock (d4ctl ui's deadlines and periods). */
double ui_mono_s(void);

/* The state message's JSON now (for the page itself and GET /api/state),
 * a malloc'd string, or NULL. @flags: jansson dump flags. */
char *ui_model_state_text(struct ui_model *m, size_t flags);

/* The nodes now, for an action: a malloc'd array, their count. */
int ui_model_nodes(struct ui_model *m, struct d4ctl_node **nodes);

/* Poll every node again now (after a write). */
void ui_model_refresh(struct ui_model *m);

/* Add a log event (kind "action", ...). */
void ui_model_log(struct ui_model *m, const char *kind, const char *node,
		  const char *text);

/* One browser's event stream. */
struct ui_stream;

struct ui_stream *ui_stream_new(struct ui_model *m, bool meters);
void ui_stream_free(struct ui_stream *s);

/* Wait (up to @timeout_ms) for what @s has not had yet and return it as
 * SSE text (a malloc'd string; "" after a quiet timeout means send a
 * keep-alive), or NULL once the model stops. */
char *ui_stream_next(struct ui_stream *s, int timeout_ms);

#endif
