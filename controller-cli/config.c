/* d4ctl's config file: tokens and static node addresses (config.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ini.h>

#include "controller-cli/config.h"

struct parse_ctx {
	struct d4ctl_config *cfg;
	char *err;
	size_t err_len;
	int line;
};

static int copy_value(struct parse_ctx *p, char *dst, size_t len,
		      const char *key, const char *value)
{
	if (strlen(value) >= len) {
		snprintf(p->err, p->err_len, "'%s' is too long for %s", value,
			 key);
		return 0;
	}
	snprintf(dst, len, "%s", value);
	return 1;
}

static int on_entry(void *data, const char *section, const char *key,
		    const char *value)
{
	struct parse_ctx *p = data;
	struct d4ctl_config *cfg = p->cfg;
	struct d4ctl_config_node *n;
	const char *name;

	if (!key) /* a section header: nothing to do until its keys */
		return 1;
	if (!section[0] || !strcmp(section, "d4ctl")) {
		if (!strcmp(key, "token"))
			return copy_value(p, cfg->token, sizeof(cfg->token),
					  key, value);
		snprintf(p->err, p->err_len, "unknown key '%s' (token)", key);
		return 0;
	}
	if (strncmp(section, "node ", 5) || !section[5]) {
		snprintf(p->err, p->err_len,
			 "unknown section '[%s]' ([node NAME])", section);
		return 0;
	}
	name = section + 5;
	n = (struct d4ctl_config_node *)d4ctl_config_node(cfg, name);
	if (!n) {
		if (cfg->nnodes == D4CTL_CONFIG_MAX_NODES) {
			snprintf(p->err, p->err_len,
				 "more than %d [node] sections",
				 D4CTL_CONFIG_MAX_NODES);
			return 0;
		}
		n = &cfg->nodes[cfg->nnodes++];
		memset(n, 0, sizeof(*n));
		if (!copy_value(p, n->name, sizeof(n->name), "a node name",
				name))
			return 0;
	}
	if (!strcmp(key, "token"))
		return copy_value(p, n->token, sizeof(n->token), key, value);
	if (!strcmp(key, "host")) {
		if (!strchr(value, ':')) {
			snprintf(p->err, p->err_len,
				 "host '%s' is not ADDR:PORT", value);
			return 0;
		}
		return copy_value(p, n->host, sizeof(n->host), key, value);
	}
	snprintf(p->err, p->err_len, "unknown key '%s' in [%s] (token, host)",
		 key, section);
	return 0;
}

int d4ctl_config_parse(const char *text, struct d4ctl_config *cfg, char *err,
		       size_t err_len)
{
	char msg[200] = "";
	struct parse_ctx p = {cfg, msg, sizeof(msg), 0};
	int rc;

	memset(cfg, 0, sizeof(*cfg));
	rc = ini_parse_string(text, on_entry, &p);
	if (rc == 0)
		return 0;
	if (rc > 0)
		snprintf(err, err_len, "%d: %s", rc,
			 msg[0] ? msg : "not a key = value line");
	else
		snprintf(err, err_len, "out of memory");
	return -EINVAL;
}

int d4ctl_config_load(const char *path, struct d4ctl_config *cfg, char *err,
		      size_t err_len)
{
	char *text = NULL;
	size_t len = 0, n;
	char buf[4096];
	FILE *f;
	int rc;

	memset(cfg, 0, sizeof(*cfg));
	f = fopen(path, "r");
	if (!f) {
		if (errno == ENOENT)
			return 0;
		rc = -errno;
		snprintf(err, err_len, "%s: %s", path, strerror(errno));
		return rc;
	}
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0) {
		char *t = realloc(text, len + n + 1);

		if (!t) {
			rc = -ENOMEM;
			snprintf(err, err_len, "%s: out of memory", path);
			goto out_free;
		}
		text = t;
		memcpy(text + len, buf, n);
		len += n;
		text[len] = '\0';
	}
	if (ferror(f)) {
		rc = -EIO;
		snprintf(err, err_len, "%s: read error", path);
		goto out_free;
	}
	rc = 0;
	if (text) {
		char msg[256];

		rc = d4ctl_config_parse(text, cfg, msg, sizeof(msg));
		if (rc < 0)
			snprintf(err, err_len, "%s:%s", path, msg);
	}
out_free:
	free(text);
	fclose(f);
	return rc;
}

int d4ctl_config_path(char *buf, size_t len)
{
	const char *xdg = getenv("XDG_CONFIG_HOME");
	const char *home = getenv("HOME");

	if (xdg && xdg[0])
		snprintf(buf, len, "%s/d4ctl/config", xdg);
	else if (home && home[0])
		snprintf(buf, len, "%s/.config/d4ctl/config", home);
	else
		return -ENOENT;
	return 0;
}

const struct d4ctl_config_node *
d4ctl_config_node(const struct d4ctl_config *cfg, const char *name)
{
	for (unsigned int i = 0; i < cfg->nnodes; i++)
		if (!strcmp(cfg->nodes[i].name, name))
			return &cfg->nodes[i];
	return NULL;
}
