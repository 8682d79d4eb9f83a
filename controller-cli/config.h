/* d4ctl's config file, ~/.config/d4ctl/config (INI, read by inih):
 *
 *   token = 3f2a...          ; for every node
 *   [node stagebox]
 *   token = 91bc...          ; for this node (nodes make their own)
 *   host = 10.77.0.1:8080    ; found here instead of by mDNS
 */
#ifndef D4_CONTROLLER_CLI_CONFIG_H
#define D4_CONTROLLER_CLI_CONFIG_H

#include <stddef.h>

#define D4CTL_CONFIG_MAX_NODES 32

struct d4ctl_config_node {
	char name[64];
	char token[128];
	char host[64];
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

/* The [node NAME] section for @name, or NULL. */
const struct d4ctl_config_node *
d4ctl_config_node(const struct d4ctl_config *cfg, const char *name);

#endif
