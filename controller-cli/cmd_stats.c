/* d4ctl stats: packet counters of a node's flows and subscriptions, and
 * each subscription's delay histogram (GET /stats). */
#include <errno.h>
#include <ctype.h>
#include <string.h>

#include "controller-cli/d4ctl.h"
#include "controller-cli/table.h"

static const char usage[] =
    "usage: d4ctl stats [--json] NODE\n"
    "\n"
    "Counters of NODE's flows (packets, send errors, skipped) and\n"
    "subscriptions (received, lost, late, early, ...), and each\n"
    "subscription's packet delay histogram in µs.\n";

#define STATS_MAX_COLS 40

/* One row per object of @map: its name, then its scalar members, every
 * member any object has (a subscription with two legs has "redundant", a
 * one-leg one not: "-"), in the order first met. */
static void print_map(const char *kind, const char *label, const json_t *map)
{
	const char *name, *key;
	const char *cells[STATS_MAX_COLS + 1], *headers[STATS_MAX_COLS + 1];
	const char *keys[STATS_MAX_COLS + 1];
	char buf[STATS_MAX_COLS + 1][64], upper[STATS_MAX_COLS + 1][64];
	json_t *o, *v;
	struct table *t;
	unsigned int n = 1, k, dropped = 0;

	if (!json_object_size(map)) {
		printf("no %s\n", label);
		return;
	}
	headers[0] = kind;
	json_object_foreach((json_t *)map, name, o)
	{
		json_object_foreach(o, key, v)
		{
			if (json_is_object(v))
				continue;
			for (k = 1; k < n && strcmp(keys[k], key); k++)
				;
			if (k < n)
				continue;
			if (n == STATS_MAX_COLS) {
				dropped++;
				continue;
			}
			for (k = 0; key[k] && k < 63; k++)
				upper[n][k] =
				    (char)toupper((unsigned char)key[k]);
			upper[n][k] = '\0';
			headers[n] = upper[n];
			keys[n++] = key;
		}
	}
	headers[n] = NULL;
	t = table_new(headers);
	if (!t)
		return;
	json_object_foreach((json_t *)map, name, o)
	{
		cells[0] = name;
		for (k = 1; k < n; k++)
			cells[k] = json_object_get(o, keys[k])
				       ? d4ctl_jstr(o, keys[k], buf[k],
						    sizeof(buf[k]))
				       : "-";
		table_add(t, cells);
	}
	table_print(t, stdout);
	table_destroy(t);
	if (dropped)
		printf("(%u more counters: d4ctl stats --json)\n", dropped);
	json_object_foreach((json_t *)map, name, o)
	{
		json_object_foreach(o, key, v)
		{
			const char *bin;
			json_t *c;

			if (!json_is_object(v))
				continue;
			printf("%s %s:", name, key);
			json_object_foreach(v, bin, c)
			{
				printf(" %s:%lld", bin,
				       (long long)json_integer_value(c));
			}
			putchar('\n');
		}
	}
}

int cmd_stats(struct d4ctl *ctl, int argc, char *argv[])
{
	struct d4ctl_node node;
	json_t *v = NULL;
	int first, rc;

	rc = d4ctl_getopt(ctl, argc, argv, usage, NULL, NULL, NULL, NULL,
			  &first);
	if (rc)
		return rc > 0 ? D4CTL_EXIT_OK : D4CTL_EXIT_USAGE;
	if (argc - first > 1) {
		d4ctl_err("stats", "unexpected '%s'\n%s", argv[first + 1],
			  usage);
		return D4CTL_EXIT_USAGE;
	}
	rc = d4ctl_get(ctl, first < argc ? argv[first] : NULL, "/stats", &node,
		       &v);
	if (rc == 0 && !ctl->json) {
		print_map("FLOW", "flows", json_object_get(v, "flows"));
		putchar('\n');
		print_map("SUBSCRIPTION", "subscriptions",
			  json_object_get(v, "subscriptions"));
	}
	json_decref(v);
	return d4ctl_exit_code(rc);
}
