/* d4ctl's config file, ~/.config/d4ctl/config (INI, read by inih):
 *
 *   token = 3f2a...          ; for every node
 *   [node stagebox]          ; a label: the node's name when it was saved
 *   uuid = 6f1c...           ; the node's stable id (GET /node "uuid")
 *   token = 91bc...          ; for this node (nodes make their own)
 *   host = 10.77.0.1:8080    ; found here instead of by mDNS
 *
 * A section with a uuid is the node with that uuid, whatever it is called
 * now (a rename keeps its token); one without is found by its label.
 * `d4ctl login` and `d4ctl token rotate` write sections with a uuid
 * (d4ctl_config_store), keeping every other line as it was.
 */
#ifndef D4_CONTROLLER_CLI_CONFIG_H
#define D4_CONTROLLER_CLI_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#define D4CTL_CONFIG_MAX_NODES 32

struct d4ctl_config_node {
	char name[64]; /* the label */
	char uuid[40]; /* "" for a section found by its label */
	char token[128];
	char host[64];
	/* where `d4ctl login` paired with it: its token goes to that
	 * address (or host) only, "" in a section from before (any) */
	char paired_at[64];
};

struct d4ctl_config {
	char token[128];
	unsigned int nnodes;
	struct d4ctl_config_node nodes[D4CTL_CONFIG_MAX_NODES];
};

/* Parse config text. 0, or -EINVAL with "LINE: message" in @err. */
int d4ctl_config_parse(const char *text, struct d4ctl_config *cfg, char *err,
		       size_t err_len);

/* Load @path; a missing file is an empty config. 0 or -errno (@err). */
int d4ctl_config_load(const char *path, struct d4ctl_config *cfg, char *err,
		      size_t err_len);

/* The default path: $XDG_CONFIG_HOME/d4ctl/config or ~/.config/d4ctl/config
 * into @buf; -ENOENT when neither variable is set. */
int d4ctl_config_path(char *buf, size_t len);

/* The first [node NAME] section labelled @name, or NULL. */
const struct d4ctl_config_node *
d4ctl_config_node(const struct d4ctl_config *cfg, const char *name);

/* The section for the node with @uuid (if not NULL), else the first one
 * without a uuid labelled @name (if not NULL), or NULL. */
const struct d4ctl_config_node *
d4ctl_config_find(const struct d4ctl_config *cfg, const char *uuid,
		  const char *name);

/* Whether any section names a node by uuid. */
bool d4ctl_config_has_uuids(const struct d4ctl_config *cfg);

/* Save @token for the node @uuid in @text (a config file's text, or ""):
 * into the section with that uuid, else into a section labelled @name
 * without a uuid (which gets it), else a new [node @name] section; with
 * "host = @host" when @host is not NULL and "paired_at = @paired_at" when
 * @paired_at is not NULL. Every other line stays. A malloc'd new text, or
 * NULL (no memory). */
char *d4ctl_config_edit(const char *text, const char *uuid, const char *name,
			const char *host, const char *paired_at,
			const char *token);

/* d4ctl_config_edit() on the file @path, written anew atomically with mode
 * 0600 (its directory made 0700 if missing). 0 or -errno (@err). */
int d4ctl_config_store(const char *path, const char *uuid, const char *name,
		       const char *host, const char *paired_at,
		       const char *token, char *err, size_t err_len);

#endif
