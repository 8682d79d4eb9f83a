/* d4ctl: the controller CLI. What every subcommand shares: the global
 * options, the exit codes, the subcommand table and the helpers that find a
 * node and talk to it. */
#ifndef D4_CONTROLLER_CLI_D4CTL_H
#define D4_CONTROLLER_CLI_D4CTL_H

#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>

#include <jansson.h>

#include "controller-cli/config.h"

/* Exit codes (docs/d4ctl.md). Scripts may rely on them. */
enum {
	D4CTL_EXIT_OK = 0,
	D4CTL_EXIT_NODE = 1,  /* a node said no (HTTP error), or a plan fails */
	D4CTL_EXIT_USAGE = 2, /* bad command line */
	D4CTL_EXIT_NOTFOUND = 3, /* node not found or unreachable */
	D4CTL_EXIT_CHECK = 4,	 /* check: a stream breaks a rule */
};

struct d4ctl {
	const char *host;  /* --host ADDR:PORT, or NULL */
	const char *token; /* --token, else D4_TOKEN, else NULL (config) */
	bool json;	   /* --json */
	bool
	    multi; /* NODE operands name several nodes: --host is one of them */
	double browse_s; /* mDNS browse time */
	long timeout_ms; /* per HTTP request */
	struct d4ctl_config cfg;
};

/* A node to talk to: its name and its API base URL. */
struct d4ctl_node {
	char name[64];
	char addr[64]; /* "10.77.0.1:8080" */
	char host[48]; /* "10.77.0.1" */
	unsigned int port;
	char base[128]; /* "http://10.77.0.1:8080/api/v1" */
	/* its address on a second network (mDNS saw it on two interfaces:
	 * ST 2022-7's two networks), or "" */
	char host2[48];
	char id[32]; /* mDNS TXT id, "" when not from mDNS */
};

struct d4ctl_cmd {
	const char *name;
	int (*fn)(struct d4ctl *ctl, int argc, char *argv[]);
	const char *summary;
};

extern const struct d4ctl_cmd d4ctl_cmds[];

/* Run the CLI; returns the exit code. */
int d4ctl_main(int argc, char *argv[]);

/* -errno (or 0) of a helper below -> exit code: -EINVAL usage, -ENOENT and
 * -EHOSTUNREACH not found, anything else a node error. */
int d4ctl_exit_code(int rc);

/* Parse a subcommand's options: --help/-h (prints @usage, returns 1 so the
 * caller exits 0), --json (sets ctl->json), and @extra long options with a
 * short-option string @extra_short; each extra option calls @on_opt. Returns
 * 0 with *first set to the index of the first operand, 1 after --help, or
 * -EINVAL after a usage message. */
int d4ctl_getopt(struct d4ctl *ctl, int argc, char *argv[], const char *usage,
		 const struct option *extra, const char *extra_short,
		 int (*on_opt)(void *data, int opt, const char *arg),
		 void *data, int *first);

/* Print "d4ctl: CMD: message" to stderr. */
void d4ctl_err(const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Find a node: @spec is a name, "ADDR:PORT", or NULL for --host. 0, or
 * -EINVAL (bad address), -ENOENT (no such node). */
int d4ctl_node_find(struct d4ctl *ctl, const char *spec,
		    struct d4ctl_node *node);

/* Every node on the network (mDNS, config [node] sections and --host); a
 * malloc'd array in *nodes. The count, or -errno. */
int d4ctl_node_all(struct d4ctl *ctl, struct d4ctl_node **nodes);

/* The token for writes to @node (NULL if none). */
const char *d4ctl_token(const struct d4ctl *ctl, const struct d4ctl_node *node);

/* HTTP to a node's API: @path under /api/v1, @body NULL or a JSON value,
 * *out gets the decoded response (NULL for 204). Errors are printed with
 * the node, method, path, status and the node's message. 0, -EHOSTUNREACH
 * (unreachable), -EIO (HTTP error), -EPROTO (not JSON), -ENOMEM. */
int d4ctl_http(struct d4ctl *ctl, const struct d4ctl_node *node,
	       const char *method, const char *path, json_t *body,
	       json_t **out);

/* GET @path from @spec (a node name or NULL) and print it as JSON when
 * ctl->json; *out gets the response either way. 0 or -errno. */
int d4ctl_get(struct d4ctl *ctl, const char *spec, const char *path,
	      struct d4ctl_node *node, json_t **out);

/* Print a JSON value indented, for --json. */
void d4ctl_print_json(const json_t *v);

/* A JSON member as text for a table cell ("-" when missing). */
const char *d4ctl_jstr(const json_t *obj, const char *key, char *buf,
		       size_t len);

/* Print the objects of array @arr as a table: column i is @headers[i]
 * and shows member @keys[i] ("clock.state" reaches one level down); both
 * NULL-terminated, at most 16 columns. 0 or -ENOMEM. */
int d4ctl_table(const json_t *arr, const char *const *headers,
		const char *const *keys);

/* Subcommands, one file each. */
int cmd_list(struct d4ctl *ctl, int argc, char *argv[]);
int cmd_show(struct d4ctl *ctl, int argc, char *argv[]);
int cmd_channels(struct d4ctl *ctl, int argc, char *argv[]);
int cmd_name(struct d4ctl *ctl, int argc, char *argv[]);
int cmd_streams(struct d4ctl *ctl, int argc, char *argv[]);
int cmd_flow(struct d4ctl *ctl, int argc, char *argv[]);
int cmd_sub(struct d4ctl *ctl, int argc, char *argv[]);
int cmd_latency(struct d4ctl *ctl, int argc, char *argv[]);
int cmd_exec(struct d4ctl *ctl, int argc, char *argv[]);
int cmd_start(struct d4ctl *ctl, int argc, char *argv[]);
int cmd_vars(struct d4ctl *ctl, int argc, char *argv[]);
int cmd_programs(struct d4ctl *ctl, int argc, char *argv[]);
int cmd_ptp(struct d4ctl *ctl, int argc, char *argv[]);
int cmd_stats(struct d4ctl *ctl, int argc, char *argv[]);
int cmd_meters(struct d4ctl *ctl, int argc, char *argv[]);
int cmd_route(struct d4ctl *ctl, int argc, char *argv[]);
int cmd_unroute(struct d4ctl *ctl, int argc, char *argv[]);
int cmd_routes(struct d4ctl *ctl, int argc, char *argv[]);
int cmd_check(struct d4ctl *ctl, int argc, char *argv[]);

#endif
