/* d4ctl ui: serve the browser controller (docs/ui.md) until Ctrl-C. This
 * process finds the nodes, polls them and holds their tokens; the page
 * talks only to it. */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "controller-cli/args.h"
#include "controller-cli/d4ctl.h"
#include "controller-cli/ui_http.h"
#include "controller-cli/ui_model.h"

#define UI_DEFAULT_LISTEN "127.0.0.1:8090"

static const char usage[] =
    "usage: d4ctl ui [--listen ADDR:PORT] [--latency MS]\n"
    "\n"
    "Serve the browser controller: routing matrix, devices, clock, meters,\n"
    "latency, presets and events, live. Prints the URL to open. d4ctl\n"
    "finds the nodes (mDNS, the config file, --host), polls them and holds\n"
    "their tokens (as every d4ctl command does); the browser talks only\n"
    "to d4ctl and never sees a token. Writes from the page need its\n"
    "origin and a secret made at each start.\n"
    "  --listen ADDR:PORT  where to serve (default " UI_DEFAULT_LISTEN
    ", this\n"
    "                      machine only); 0.0.0.0:8090 shares it with a\n"
    "                      trusted network: anyone who reaches it can route\n"
    "  --latency MS        the latency of routes made from the page (0.25-\n"
    "                      100 ms; default: the node's)\n";

struct ui_opts {
	const char *listen;
	unsigned int latency_us;
};

static int on_opt(void *data, int opt, const char *arg)
{
	struct ui_opts *o = data;
	char err[256];

	switch (opt) {
	case 'L':
		if (!args_is_addr_port(arg)) {
			d4ctl_err("ui",
				  "--listen '%s' is not ADDR:PORT (e.g. "
				  "127.0.0.1:8090)",
				  arg);
			return -1;
		}
		o->listen = arg;
		return 0;
	case 'l':
		if (args_parse_latency(arg, 250, 100000, &o->latency_us, err,
				       sizeof(err)) < 0) {
			d4ctl_err("ui", "--latency %s", err);
			return -1;
		}
		return 0;
	}
	return -1;
}

/* The session secret: 128 random bits, hex. */
static int make_secret(char *buf, size_t len)
{
	unsigned char r[16];

	if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r))
		return -errno;
	for (size_t i = 0; i < sizeof(r) && 2 * i + 2 < len; i++)
		snprintf(buf + 2 * i, 3, "%02x", r[i]);
	return 0;
}

int cmd_ui(struct d4ctl *ctl, int argc, char *argv[])
{
	static const struct option extra[] = {
	    {"listen", required_argument, NULL, 'L'},
	    {"latency", required_argument, NULL, 'l'},
	    {NULL, 0, NULL, 0},
	};
	struct ui_opts o = {.listen = UI_DEFAULT_LISTEN};
	struct ui_model *model;
	struct ui_http *http;
	char secret[40];
	sigset_t set;
	int first, rc, sig;

	rc =
	    d4ctl_getopt(ctl, argc, argv, usage, extra, "", on_opt, &o, &first);
	if (rc)
		return rc > 0 ? D4CTL_EXIT_OK : D4CTL_EXIT_USAGE;
	if (first < argc) {
		d4ctl_err("ui", "unexpected '%s'\n%s", argv[first], usage);
		return D4CTL_EXIT_USAGE;
	}
	if (make_secret(secret, sizeof(secret)) < 0) {
		d4ctl_err("ui", "getrandom: %s", strerror(errno));
		return D4CTL_EXIT_NODE;
	}
	/* Every thread started below inherits the mask: only sigwait()
	 * here sees SIGINT and SIGTERM. */
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	model = ui_model_start(ctl, o.latency_us);
	if (!model) {
		d4ctl_err("ui", "cannot start (out of memory or threads)");
		return D4CTL_EXIT_NODE;
	}
	http = ui_http_start(model, ctl, o.listen, secret, o.latency_us);
	if (!http) {
		ui_model_stop(model);
		ui_model_destroy(model);
		return D4CTL_EXIT_USAGE;
	}
	printf("d4ctl ui: http://%s/ (Ctrl-C stops)\n", o.listen);
	fflush(stdout);
	while (sigwait(&set, &sig) == 0 && sig != SIGINT && sig != SIGTERM)
		;
	fprintf(stderr, "d4ctl ui: stopping\n");
	ui_model_stop(model);
	ui_http_stop(http);
	ui_model_destroy(model);
	return D4CTL_EXIT_OK;
}
