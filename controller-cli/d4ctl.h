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

/* Where the token of a write came from: said when a node refuses it. */
enum d4ctl_token_from {
	D4CTL_TOKEN_NONE,
	D4CTL_TOKEN_FLAG,	 /* --token */
	D4CTL_TOKEN_ENV,	 /* D4_TOKEN */
	D4CTL_TOKEN_CONFIG_NODE, /* a [node NAME] section (by uuid or name) */
	D4CTL_TOKEN_CONFIG,	 /* the config file's top-level token */
	D4CTL_TOKEN_ELSEWHERE,	 /* a section's, paired at another address:
				    not sent */
};

struct d4ctl {
	const char *host;  /* --host ADDR:PORT, or NULL */
	const char *token; /* --token, else D4_TOKEN, else NULL (config) */
	enum d4ctl_token_from token_from; /* of @token: FLAG, ENV or NONE */
	/* The config file: --config, else the default one ("" when there
	 * is no HOME). d4ctl reads it, `login` writes it. */
	char config_path[512];
	bool config_read; /* @config_path was there, and read */
	/* Where the helpers below print: progress of a plan (@out, NULL:
	 * stdout) and errors (@errs, NULL: stderr). d4ctl ui points them at
	 * a buffer per request, to answer the browser with them. */
	FILE *out, *errs;
	const char *registry; /* --registry URL|auto: through NMOS */
	bool json;	      /* --json */
	bool
	    multi; /* NODE operands name several nodes: --host is one of them */
	double browse_s; /* mDNS browse time */
	long timeout_ms; /* per HTTP request */
	struct d4ctl_config cfg;
	/* nodes' uuids learnt this run (GET /node), by address */
	struct {
		char addr[64];
		char uuid[40];
	} uuids[16];
	unsigned int nuuids;
	/* nodes' first addresses that did not answer this run: their
	 * second network's (host2) is asked instead (controller-cli/http.c) */
	char unanswered[8][48];
	unsigned int nunanswered;
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

/* The token for a request to @node (NULL if none): --token, D4_TOKEN,
 * the config's section for the node (by its uuid, which a @write asks
 * the node for once, GET /node; by its name for a section without one),
 * the config's top-level token. *from (may be NULL) says where it was
 * found. */
const char *d4ctl_token(struct d4ctl *ctl, const struct d4ctl_node *node,
			bool write, enum d4ctl_token_from *from);

/* Where @node's token for a @write (or a read) comes from, for a message:
 * "--token", "D4_TOKEN", "the config file PATH, [node LABEL]", ... or
 * "no token (...)". */
const char *d4ctl_token_source(struct d4ctl *ctl, const struct d4ctl_node *node,
			       bool write, char *buf, size_t len);

/* The node's uuid (GET /node, remembered for this run), or NULL. */
const char *d4ctl_node_uuid(struct d4ctl *ctl, const struct d4ctl_node *node);

/* After @node took a write with a token from a config section found by
 * its label alone (a section written by hand, without a uuid): keep the
 * node's uuid in that section, so the token is still found when the node
 * is renamed. 1 when the file was changed, 0 when there was nothing to
 * do, -errno with @err. */
int d4ctl_remember_node(struct d4ctl *ctl, const struct d4ctl_node *node,
			char *err, size_t err_len);

/* The config file d4ctl reads and `login` writes: --config, else
 * $XDG_CONFIG_HOME/d4ctl/config or ~/.config/d4ctl/config. 0, or
 * -ENOENT (no HOME either). */
int d4ctl_config_file(const struct d4ctl *ctl, char *buf, size_t len);

/* The command name closest to @word (a typo: at most 2 edits, or a
 * prefix of one command), or NULL. */
const char *d4ctl_suggest(const char *word, const char *const *names);

/* Print an error to ctl->errs (stderr when NULL), "d4ctl: " first. */
void d4ctl_errf(const struct d4ctl *ctl, const char *fmt, ...)
    __attribute__((format(printf, 2, 3), nonnull(2)));

/* ctl->out, or stdout. */
FILE *d4ctl_out(const struct d4ctl *ctl);

/* HTTP to a node's API: @path under /api/v1, @body NULL or a JSON value,
 * *out gets the decoded response (NULL for 204). Errors are printed with
 * the node, method, path, status and the node's message. 0, -EHOSTUNREACH
 * (unreachable), -EACCES (401), -EIO (other HTTP error), -EPROTO (not
 * JSON), -ENOMEM. */
int d4ctl_http(struct d4ctl *ctl, const struct d4ctl_node *node,
	       const char *method, const char *path, json_t *body,
	       json_t **out);

/* d4ctl_http() on a curl handle @handle kept between calls (its
 * connection is reused; NULL: a new one), and with the error in @err
 * instead of printed when @err is not NULL. A 401 names where the token
 * came from (d4ctl_token_source()) and returns -EACCES. */
int d4ctl_http_with(struct d4ctl *ctl, void *handle,
		    const struct d4ctl_node *node, const char *method,
		    const char *path, json_t *body, json_t **out, char *err,
		    size_t err_len);

/* GET @path from @spec (a node name or NULL) and print it as JSON when
 * ctl->json; *out gets the response either way. 0 or -errno. */
int d4ctl_get(struct d4ctl *ctl, const char *spec, const char *path,
	      struct d4ctl_node *node, json_t **out);

/* GET @path (an array) from the node @spec, or with no @spec and no
 * --host from every node found (a NODE column first), and print it as a
 * table of @headers/@keys (d4ctl_table) or JSON. An exit code. */
int d4ctl_list(struct d4ctl *ctl, const char *spec, const char *path,
	       const char *const *headers, const char *const *keys);
/* The same, @row (if not NULL) called on each row before a table is
 * printed (not for --json): to add a column made from others. */
int d4ctl_list_rows(struct d4ctl *ctl, const char *spec, const char *path,
		    const char *const *headers, const char *const *keys,
		    void (*row)(json_t *sub));

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
int cmd_preset(struct d4ctl *ctl, int argc, char *argv[]);
int cmd_ui(struct d4ctl *ctl, int argc, char *argv[]);
int cmd_help(struct d4ctl *ctl, int argc, char *argv[]);
int cmd_login(struct d4ctl *ctl, int argc, char *argv[]);
int cmd_token(struct d4ctl *ctl, int argc, char *argv[]);

#endif
