/* d4ctl meters: peak and RMS of every channel of a node's flows and
 * subscriptions (GET /meters), as bars redrawn in place about ten times a
 * second, or one JSON snapshot. */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "controller-cli/d4ctl.h"

#define METERS_PERIOD_NS (100 * 1000 * 1000L) /* ~10 redraws a second */
#define BAR_WIDTH	 40
#define BAR_FLOOR_DB	 (-60.0) /* the bar's left end; 0 dBFS its right */

static const char usage[] =
    "usage: d4ctl meters [--json] [--count N] NODE\n"
    "\n"
    "Peak and RMS level of each channel of NODE's flows (what they send)\n"
    "and subscriptions (what they play out), in dBFS (0 = 24-bit full\n"
    "scale; -inf = digital silence), over the node's last 50 ms window.\n"
    "A bar per channel spans -60 to 0 dBFS: '#' up to the RMS, '-' on to\n"
    "the peak. Redrawn in place about 10 times a second until Ctrl-C.\n"
    "\n"
    "  --count N  redraw N times, then exit (one frame after another when\n"
    "             stdout is not a terminal)\n"
    "  --json     print one snapshot as JSON and exit\n";

struct meters_opts {
	long count; /* 0: until Ctrl-C */
};

static volatile sig_atomic_t meters_stop;

static void on_sigint(int sig)
{
	(void)sig;
	meters_stop = 1;
}

static int on_opt(void *data, int opt, const char *arg)
{
	struct meters_opts *o = data;
	char *end;

	if (opt != 'c')
		return -EINVAL;
	errno = 0;
	o->count = strtol(arg, &end, 10);
	if (errno || end == arg || *end || o->count < 1 || o->count > 1000000) {
		d4ctl_err("meters",
			  "--count '%s' is not a number from 1 to "
			  "1000000",
			  arg);
		return -EINVAL;
	}
	return 0;
}

/* Bar cells up to @v dBFS (null or a number). */
static int bar_cells(const json_t *v)
{
	double db;

	if (!json_is_number(v))
		return 0;
	db = json_number_value(v);
	if (db <= BAR_FLOOR_DB)
		return 0;
	if (db >= 0)
		return BAR_WIDTH;
	return (int)((db - BAR_FLOOR_DB) / -BAR_FLOOR_DB * BAR_WIDTH + 0.5);
}

static void fmt_db(const json_t *v, char *buf, size_t len)
{
	if (json_is_number(v))
		snprintf(buf, len, "%6.1f", json_number_value(v));
	else
		snprintf(buf, len, "%6s", "-inf");
}

/* One line per channel; returns the lines printed. */
static int draw_bank(const char *kind, const json_t *bank, const char *eol)
{
	const json_t *chans = json_object_get(bank, "channels"), *c;
	int lines = 1;
	size_t i;

	printf("%s %s  (%" JSON_INTEGER_FORMAT " updates)%s\n", kind,
	       json_string_value(json_object_get(bank, "name")),
	       json_integer_value(json_object_get(bank, "updates")), eol);
	json_array_foreach(chans, i, c)
	{
		const json_t *pk = json_object_get(c, "peak_dbfs");
		const json_t *rms = json_object_get(c, "rms_dbfs");
		const json_t *rx = json_object_get(c, "rx");
		int r = bar_cells(rms), p = bar_cells(pk), k;
		char bar[BAR_WIDTH + 1], pks[16], rmss[16], to[16] = "";

		for (k = 0; k < BAR_WIDTH; k++)
			bar[k] = k < r ? '#' : k < p ? '-' : ' ';
		bar[BAR_WIDTH] = '\0';
		fmt_db(pk, pks, sizeof(pks));
		fmt_db(rms, rmss, sizeof(rmss));
		/* a subscription's channel: the RX channel it fills */
		if (json_is_integer(rx))
			snprintf(to, sizeof(to), " RX %-3" JSON_INTEGER_FORMAT,
				 json_integer_value(rx));
		else if (rx)
			snprintf(to, sizeof(to), " %-6s", "-");
		printf("  %3" JSON_INTEGER_FORMAT "%s [%s] peak %s  rms %s%s\n",
		       json_integer_value(json_object_get(c, "channel")), to,
		       bar, pks, rmss, eol);
		lines++;
	}
	return lines;
}

/* One frame: a header, then every flow and subscription. On a terminal
 * it overwrites the @prev lines of the last frame. Returns its lines. */
static int draw(const struct d4ctl_node *node, const json_t *v, int prev,
		bool tty)
{
	const char *eol = tty ? "\033[K" : "";
	const json_t *b;
	int lines = 1;
	size_t i;

	if (tty && prev)
		printf("\033[%dA\r", prev);
	else if (prev)
		putchar('\n');
	if (strcmp(node->name, node->addr))
		printf("%s (%s): ", node->name, node->addr);
	else
		printf("%s: ", node->addr);
	printf("dBFS over %" JSON_INTEGER_FORMAT " ms windows%s\n",
	       json_integer_value(json_object_get(v, "window_ms")), eol);
	json_array_foreach(json_object_get(v, "flows"), i, b) lines +=
	    draw_bank("flow", b, eol);
	json_array_foreach(json_object_get(v, "subscriptions"), i, b) lines +=
	    draw_bank("subscription", b, eol);
	if (lines == 1) {
		printf("no flows and no subscriptions%s\n", eol);
		lines++;
	}
	if (tty)
		fputs("\033[J", stdout); /* the last frame had more lines */
	fflush(stdout);
	return lines;
}

static void sleep_until(struct timespec *t)
{
	struct timespec now;

	t->tv_nsec += METERS_PERIOD_NS;
	if (t->tv_nsec >= 1000000000L) {
		t->tv_nsec -= 1000000000L;
		t->tv_sec++;
	}
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (now.tv_sec > t->tv_sec ||
	    (now.tv_sec == t->tv_sec && now.tv_nsec > t->tv_nsec)) {
		*t = now; /* a slow node: no burst to catch up */
		return;
	}
	/* EINTR on Ctrl-C: the caller sees meters_stop. */
	clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, t, NULL);
}

static int live(struct d4ctl *ctl, const struct d4ctl_node *node, long count)
{
	struct sigaction sa = {.sa_handler = on_sigint}, old;
	bool tty = isatty(STDOUT_FILENO);
	struct timespec t;
	int rc = 0, prev = 0;
	long n;

	/* no SA_RESTART: Ctrl-C cuts the sleep short */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, &old);
	meters_stop = 0;
	clock_gettime(CLOCK_MONOTONIC, &t);
	for (n = 0; !meters_stop && (!count || n < count); n++) {
		json_t *v;

		if (n)
			sleep_until(&t);
		if (meters_stop)
			break;
		rc = d4ctl_http(ctl, node, "GET", "/meters", NULL, &v);
		if (rc < 0)
			break;
		prev = draw(node, v, prev, tty);
		json_decref(v);
	}
	sigaction(SIGINT, &old, NULL);
	return rc;
}

int cmd_meters(struct d4ctl *ctl, int argc, char *argv[])
{
	static const struct option extra[] = {
	    {"count", required_argument, NULL, 'c'},
	    {NULL, 0, NULL, 0},
	};
	struct meters_opts o = {0};
	struct d4ctl_node node;
	json_t *v = NULL;
	int first, rc;

	rc = d4ctl_getopt(ctl, argc, argv, usage, extra, "c:", on_opt, &o,
			  &first);
	if (rc)
		return rc > 0 ? D4CTL_EXIT_OK : D4CTL_EXIT_USAGE;
	if (argc - first > 1) {
		d4ctl_err("meters", "unexpected '%s'\n%s", argv[first + 1],
			  usage);
		return D4CTL_EXIT_USAGE;
	}
	if (first == argc && !ctl->host) {
		d4ctl_err("meters", "which node? give NODE or --host\n%s",
			  usage);
		return D4CTL_EXIT_USAGE;
	}
	if (ctl->json) {
		rc = d4ctl_get(ctl, first < argc ? argv[first] : NULL,
			       "/meters", &node, &v);
		json_decref(v);
		return d4ctl_exit_code(rc);
	}
	rc = d4ctl_node_find(ctl, first < argc ? argv[first] : NULL, &node);
	if (rc == 0)
		rc = live(ctl, &node, o.count);
	return d4ctl_exit_code(rc);
}
