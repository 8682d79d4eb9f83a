/* d4ctl ui's HTTP server (libmicrohttpd, a thread per connection: an
 * event stream waits for news in its own thread, and a write runs the
 * planner and the nodes' API calls without holding anyone else up). It
 * serves the page and its files from the binary, the live event stream,
 * and the page's writes, which must come from the page itself: the Host
 * is this server's, the Origin is the page's, and the request carries the
 * per-start session secret the page was given (docs/ui.md "Security"). */
#ifndef D4_CONTROLLER_CLI_UI_HTTP_H
#define D4_CONTROLLER_CLI_UI_HTTP_H

#include "controller-cli/d4ctl.h"
#include "controller-cli/ui_model.h"

struct ui_http;

/* Listen on @listen ("ADDR:PORT", IPv4) for @model, with @ctl's tokens
 * for the writes and @session the secret every write must carry; routes
 * that name no latency get @latency_us (0: the node's). NULL (with a
 * message on stderr) if it cannot listen. */
struct ui_http *ui_http_start(struct ui_model *model, const struct d4ctl *ctl,
			      const char *listen, const char *session,
			      unsigned int latency_us);

/* Stop serving: waits for every connection's thread. */
void ui_http_stop(struct ui_http *h);

#endif
