/* d4ctl's config file: tokens and static node addresses (config.h). */
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ini.h>

#include "controller-cli/config.h"

struct parse_ctx {
	struct d4ctl_config *cfg;
	char *err;
	size_t err_len;
	int line;
	char section[200]; /* of the last [node] key seen */
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

	if (!key) /* a section header (if inih says so): its keys follow */
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
	/* A section starts where the section name changes (Debian's inih
	 * does not call us on headers): [node a] [node b] [node a] are three
	 * nodes, two [node a] in a row one. */
	if (strcmp(p->section, section) || !cfg->nnodes) {
		if (cfg->nnodes == D4CTL_CONFIG_MAX_NODES) {
			snprintf(p->err, p->err_len,
				 "more than %d [node] sections",
				 D4CTL_CONFIG_MAX_NODES);
			return 0;
		}
		n = &cfg->nodes[cfg->nnodes++];
		memset(n, 0, sizeof(*n));
		snprintf(p->section, sizeof(p->section), "%s", section);
		if (!copy_value(p, n->name, sizeof(n->name), "a node name",
				name))
			return 0;
	}
	n = &cfg->nodes[cfg->nnodes - 1];
	if (!strcmp(key, "token"))
		return copy_value(p, n->token, sizeof(n->token), key, value);
	if (!strcmp(key, "uuid"))
		return copy_value(p, n->uuid, sizeof(n->uuid), key, value);
	if (!strcmp(key, "paired_at")) {
		if (!strchr(value, ':')) {
			snprintf(p->err, p->err_len,
				 "paired_at '%s' is not ADDR:PORT", value);
			return 0;
		}
		return copy_value(p, n->paired_at, sizeof(n->paired_at), key,
				  value);
	}
	if (!strcmp(key, "host")) {
		if (!strchr(value, ':')) {
			snprintf(p->err, p->err_len,
				 "host '%s' is not ADDR:PORT", value);
			return 0;
		}
		return copy_value(p, n->host, sizeof(n->host), key, value);
	}
	snprintf(p->err, p->err_len,
		 "unknown key '%s' in [%s] (token, uuid, host, paired_at)", key,
		 section);
	return 0;
}

int d4ctl_config_parse(const char *text, struct d4ctl_config *cfg, char *err,
		       size_t err_len)
{
	char msg[200] = "";
	struct parse_ctx p = {cfg, msg, sizeof(msg), 0, ""};
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

const struct d4ctl_config_node *
d4ctl_config_find(const struct d4ctl_config *cfg, const char *uuid,
		  const char *name)
{
	unsigned int i;

	for (i = 0; uuid && i < cfg->nnodes; i++)
		if (!strcasecmp(cfg->nodes[i].uuid, uuid))
			return &cfg->nodes[i];
	for (i = 0; name && i < cfg->nnodes; i++)
		if (!cfg->nodes[i].uuid[0] && !strcmp(cfg->nodes[i].name, name))
			return &cfg->nodes[i];
	return NULL;
}

bool d4ctl_config_has_uuids(const struct d4ctl_config *cfg)
{
	for (unsigned int i = 0; i < cfg->nnodes; i++)
		if (cfg->nodes[i].uuid[0])
			return true;
	return false;
}

/* ---- writing: line by line, so comments and order stay ---- */

struct lines {
	char **v;
	size_t n;
};

static void lines_free(struct lines *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
}

static int lines_insert(struct lines *l, size_t at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Insert a line made by @fmt before line @at (at l->n: append). */
static int lines_insert(struct lines *l, size_t at, const char *fmt, ...)
{
	char **v = realloc(l->v, (l->n + 1) * sizeof(*v));
	va_list ap;
	char *line;
	int rc;

	if (!v)
		return -ENOMEM;
	l->v = v;
	va_start(ap, fmt);
	rc = vasprintf(&line, fmt, ap);
	va_end(ap);
	if (rc < 0)
		return -ENOMEM;
	memmove(l->v + at + 1, l->v + at, (l->n - at) * sizeof(*v));
	l->v[at] = line;
	l->n++;
	return 0;
}

static const char *skip_space(const char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	return s;
}

/* "[node X]" -> X in @label (0), else -1. */
static int node_header(const char *line, char *label, size_t len)
{
	const char *s = skip_space(line), *end;

	if (strncmp(s, "[node ", 6))
		return -1;
	s += 6;
	end = strchr(s, ']');
	if (!end)
		return -1;
	snprintf(label, len, "%.*s", (int)(end - s), s);
	return 0;
}

/* The value of "@key = value" on @line, or NULL. */
static const char *key_value(const char *line, const char *key, char *val,
			     size_t len)
{
	const char *s = skip_space(line);
	size_t k = strlen(key);

	if (strncmp(s, key, k))
		return NULL;
	s = skip_space(s + k);
	if (*s != '=' && *s != ':')
		return NULL;
	s = skip_space(s + 1);
	snprintf(val, len, "%s", s);
	val[strcspn(val, " \t;#")] = '\0';
	return val;
}

static bool is_header(const char *line)
{
	return *skip_space(line) == '[';
}

/* Set @key in the section of lines [@start, @end): replace its line or
 * add one after the last line that is not blank. *@end moves with it. */
static int set_key(struct lines *l, size_t start, size_t *end, const char *key,
		   const char *value)
{
	char val[256];
	size_t i, last = start;

	for (i = start + 1; i < *end; i++) {
		if (key_value(l->v[i], key, val, sizeof(val))) {
			char *line;

			if (asprintf(&line, "%s = %s", key, value) < 0)
				return -ENOMEM;
			free(l->v[i]);
			l->v[i] = line;
			return 0;
		}
		if (*skip_space(l->v[i]))
			last = i;
	}
	(*end)++;
	return lines_insert(l, last + 1, "%s = %s", key, value);
}

char *d4ctl_config_edit(const char *text, const char *uuid, const char *name,
			const char *host, const char *paired_at,
			const char *token)
{
	struct lines l = {0};
	size_t i, start = 0, end = 0, len = 0;
	char label[128], val[256], *out = NULL, *p;
	bool found = false, legacy = false;
	const char *s = text, *nl;
	int rc = 0;

	/* split into lines (without their newlines) */
	while (rc == 0 && *s) {
		nl = strchr(s, '\n');
		len = nl ? (size_t)(nl - s) : strlen(s);
		rc = lines_insert(&l, l.n, "%.*s", (int)len, s);
		s += len + (nl ? 1 : 0);
	}
	/* the section with the uuid; else a labelled one without a uuid */
	for (i = 0; rc == 0 && i < l.n && !found; i++) {
		size_t j;
		bool has_uuid = false, match = false;

		if (node_header(l.v[i], label, sizeof(label)))
			continue;
		for (j = i + 1; j < l.n && !is_header(l.v[j]); j++)
			if (key_value(l.v[j], "uuid", val, sizeof(val))) {
				has_uuid = true;
				match = !strcasecmp(val, uuid);
			}
		if (match) {
			found = true;
			start = i;
			end = j;
		} else if (!has_uuid && !legacy && !strcmp(label, name)) {
			legacy = true;
			start = i;
			end = j;
		}
	}
	if (rc == 0 && !found && !legacy) {
		/* a new section at the end, a blank line before it */
		if (l.n && *skip_space(l.v[l.n - 1]))
			rc = lines_insert(&l, l.n, "%s", "");
		if (rc == 0)
			rc = lines_insert(&l, l.n, "[node %s]", name);
		start = l.n - 1;
		end = l.n;
	}
	if (rc == 0)
		rc = set_key(&l, start, &end, "uuid", uuid);
	if (rc == 0 && host)
		rc = set_key(&l, start, &end, "host", host);
	if (rc == 0 && paired_at)
		rc = set_key(&l, start, &end, "paired_at", paired_at);
	if (rc == 0)
		rc = set_key(&l, start, &end, "token", token);
	for (i = 0, len = 1; rc == 0 && i < l.n; i++)
		len += strlen(l.v[i]) + 1;
	if (rc == 0)
		out = malloc(len);
	for (i = 0, p = out; out && i < l.n; i++)
		p += sprintf(p, "%s\n", l.v[i]);
	if (out && !l.n)
		*out = '\0';
	lines_free(&l);
	return out;
}

int d4ctl_config_store(const char *path, const char *uuid, const char *name,
		       const char *host, const char *paired_at,
		       const char *token, char *err, size_t err_len)
{
	struct d4ctl_config cfg;
	char *text = NULL, *edited, tmp[4200], dir[4096], *slash;
	size_t len = 0, n;
	char buf[4096];
	FILE *f;
	int fd, rc = 0;

	/* refuse to rewrite a file d4ctl cannot read: it would lose it */
	if (d4ctl_config_load(path, &cfg, err, err_len) < 0)
		return -EINVAL;
	f = fopen(path, "r");
	while (f && (n = fread(buf, 1, sizeof(buf), f)) > 0) {
		char *t = realloc(text, len + n + 1);

		if (!t) {
			fclose(f);
			free(text);
			return -ENOMEM;
		}
		text = t;
		memcpy(text + len, buf, n);
		len += n;
		text[len] = '\0';
	}
	if (f)
		fclose(f);
	edited = d4ctl_config_edit(text ? text : "", uuid, name, host,
				   paired_at, token);
	free(text);
	if (!edited)
		return -ENOMEM;
	/* its directory and the ones above (~/.config may be missing) */
	snprintf(dir, sizeof(dir), "%s", path);
	for (slash = strchr(dir + 1, '/'); slash;
	     slash = strchr(slash + 1, '/')) {
		*slash = '\0';
		if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
			rc = -errno;
			snprintf(err, err_len, "%s: %s", dir, strerror(errno));
			goto out_free;
		}
		*slash = '/';
	}
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 ||
	    write(fd, edited, strlen(edited)) != (ssize_t)strlen(edited) ||
	    fsync(fd) < 0) {
		rc = errno ? -errno : -EIO;
		snprintf(err, err_len, "%s: %s", tmp, strerror(-rc));
		if (fd >= 0) {
			close(fd);
			unlink(tmp);
		}
		goto out_free;
	}
	close(fd);
	if (rename(tmp, path) < 0) {
		rc = -errno;
		snprintf(err, err_len, "%s: %s", path, strerror(errno));
		unlink(tmp);
	}
out_free:
	free(edited);
	return rc;
}
