/* The node's state directory: the API token and state.json, what the API
 * made and changed — flows, subscriptions, D4 programs and the values of
 * D4 variables, channel names, the latencies of the config file's
 * subscriptions, the node's name. The file is written from the typed
 * records (tx.h, rx.h) after every change, atomically (temp file, fsync,
 * rename, fsync of the directory), and replayed into them at start
 * through the functions the API calls, never through HTTP handlers.
 *
 * Version 2 (this one) keeps each record's canonical settings
 * (settings_to_json) and D4 variables by value, so the file's size
 * follows what the node holds, not how many changes made it. Version 1
 * (no "version" member) kept API request bodies and every D4 statement
 * in order; it still restores, and is rewritten as version 2. */
#include "common/log.h"
#include "node/api.h"
#include "node/node_priv.h"
#include "node/relay.h"
#include "node/rx.h"
#include "node/settings.h"
#include "node/tx.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define STATE_VERSION 2

static int mkdirs(const char *path)
{
	char buf[4096];
	char *p;

	snprintf(buf, sizeof(buf), "%s", path);
	for (p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0755) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(buf, 0700) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

/* Write @text and a newline to @dir/@name, mode 0600: through a temporary
 * file and rename (@replace) or only if there is none yet (O_EXCL: -EEXIST
 * when another process made it first). 0 or -errno. */
static int write_small(const char *dir, const char *name, const char *text,
		       bool replace)
{
	char path[4200], tmp[4220];
	size_t len = strlen(text);
	int fd, rc = 0;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	/* A new file, never one planted at token.tmp: a link was written
	 * through, and a file of someone else's (mode 0666) became the
	 * token (an attacker's, a reviewer's, who could write the state
	 * directory) */
	if (replace)
		unlink(tmp);
	fd = open(replace ? tmp : path,
		  O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_EXCL, 0600);
	if (fd < 0)
		return -errno;
	errno = 0;
	if (write(fd, text, len) != (ssize_t)len || write(fd, "\n", 1) != 1 ||
	    fsync(fd) < 0)
		rc = errno ? -errno : -ENOSPC; /* a short write: the disk */
	close(fd);
	if (rc == 0 && replace && rename(tmp, path) < 0)
		rc = -errno;
	if (rc < 0)
		unlink(replace ? tmp : path);
	if (rc == 0 && replace) {
		fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd >= 0) {
			fsync(fd);
			close(fd);
		}
	}
	return rc;
}

/* 32 random bytes as hex. */
static int new_token(char *tok, size_t len)
{
	unsigned char raw[32];
	unsigned int i;

	if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw))
		return -EIO;
	for (i = 0; i < sizeof(raw) && 2 * i + 2 < len; i++)
		snprintf(tok + 2 * i, 3, "%02x", raw[i]);
	return 0;
}

/* A random (version 4) UUID, RFC 9562 5.4. */
static int new_uuid(char *buf, size_t len)
{
	unsigned char u[16];

	if (getrandom(u, sizeof(u), 0) != (ssize_t)sizeof(u))
		return -EIO;
	u[6] = (unsigned char)((u[6] & 0x0f) | 0x40);
	u[8] = (unsigned char)((u[8] & 0x3f) | 0x80);
	snprintf(buf, len,
		 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
		 "%02x%02x%02x%02x%02x%02x",
		 u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9],
		 u[10], u[11], u[12], u[13], u[14], u[15]);
	return 0;
}

/* Read @dir/@name (one line), or make it with @make at first start. */
static int load_or_make(const char *dir, const char *name, char *buf,
			size_t len, int (*make)(char *, size_t), bool *made)
{
	char path[4200];
	bool retried = false;
	ssize_t r;
	int fd, rc;

	*made = false;
	snprintf(path, sizeof(path), "%s/%s", dir, name);
again:
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		r = read(fd, buf, len - 1);
		close(fd);
		if (r <= 0)
			return -EINVAL;
		buf[r] = '\0';
		buf[strcspn(buf, "\r\n")] = '\0';
		return buf[0] ? 0 : -EINVAL;
	}
	rc = make(buf, len);
	if (rc == 0)
		rc = write_small(dir, name, buf, false);
	if (rc == -EEXIST && !retried) {
		/* Another process made it first: use that one. */
		retried = true;
		usleep(10000);
		goto again;
	}
	*made = rc == 0;
	return rc;
}

int state_open(struct node *n)
{
	const char *env = getenv("D4_STATE_DIR");
	bool made;
	int rc;

	if (n->cfg->state_dir[0])
		snprintf(n->state_dir, sizeof(n->state_dir), "%s",
			 n->cfg->state_dir);
	else
		snprintf(n->state_dir, sizeof(n->state_dir), "%s/%s",
			 env && *env ? env : "/var/lib/d4node", n->cfg->name);
	rc = mkdirs(n->state_dir);
	if (rc == 0)
		rc = load_or_make(n->state_dir, "token", n->token,
				  sizeof(n->token), new_token, &made);
	if (rc == 0 && made)
		log_info("api: new token in %s/token (mode 0600)",
			 n->state_dir);
	if (rc == 0)
		rc = load_or_make(n->state_dir, "uuid", n->uuid,
				  sizeof(n->uuid), new_uuid, &made);
	if (rc < 0) {
		log_err("state: directory %s unusable (%s); no control API and "
			"no saved state",
			n->state_dir, strerror(-rc));
		n->state_dir[0] = '\0';
	}
	if (n->cfg->recordings_dir[0])
		snprintf(n->rec_dir, sizeof(n->rec_dir), "%s",
			 n->cfg->recordings_dir);
	else if (n->state_dir[0])
		snprintf(n->rec_dir, sizeof(n->rec_dir), "%s/recordings",
			 n->state_dir);
	return rc;
}

int state_rotate_token(struct node *n, char *err, size_t err_len)
{
	char tok[sizeof(n->token)];
	int rc;

	if (!n->state_dir[0]) {
		snprintf(err, err_len, "no state directory");
		return -ENOENT;
	}
	rc = new_token(tok, sizeof(tok));
	if (rc == 0)
		rc = write_small(n->state_dir, "token", tok, true);
	if (rc < 0) {
		/* the API's error line says it (once: it was said twice) */
		snprintf(err, err_len,
			 "token not rotated: cannot write %s/token: %s",
			 n->state_dir, strerror(-rc));
		return rc;
	}
	memcpy(n->token, tok, sizeof(tok));
	if (n->api)
		api_set_token(n->api, tok);
	log_info("api: token rotated (%s/token); the old one is refused",
		 n->state_dir);
	return 0;
}

/* ---- writing ---- */

static json_t *names_json(struct node *n)
{
	json_t *o = json_object(), *tx = json_object(), *rx = json_object();
	unsigned int i;
	char num[16], def[16];

	/* only those renamed: the others follow the channel count */
	for (i = 0; i < NODE_MAX_TX; i++) {
		snprintf(def, sizeof(def), "%02u", i + 1);
		snprintf(num, sizeof(num), "%u", i + 1);
		if (n->tx_name[i][0] && strcmp(n->tx_name[i], def))
			json_object_set_new(tx, num,
					    json_string(n->tx_name[i]));
	}
	for (i = 0; i < RXBUS_MAX_CHANNELS; i++) {
		snprintf(def, sizeof(def), "%02u", i + 1);
		snprintf(num, sizeof(num), "%u", i + 1);
		if (n->rx_name[i][0] && strcmp(n->rx_name[i], def))
			json_object_set_new(rx, num,
					    json_string(n->rx_name[i]));
	}
	json_object_set_new(o, "tx", tx);
	json_object_set_new(o, "rx", rx);
	return o;
}

static json_t *d4_json(struct node *n)
{
	struct d4_runtime *rt = relay_runtime(n->relay);
	json_t *progs = json_array(), *vars = json_array();
	int nv = d4_var_count(rt), i;
	unsigned int k;
	char val[4096];

	for (k = 0; k < n->nd4_texts; k++) {
		struct d4_program_info pi;

		if (d4_program_info(rt, n->d4_texts[k].handle, &pi) < 0)
			continue;
		json_array_append_new(progs, json_pack("{s:s,s:b}", "text",
						       n->d4_texts[k].text,
						       "running", pi.running));
	}
	for (i = 0; i < nv; i++) {
		struct d4_var_info vi;

		if (d4_var_info(rt, i, &vi) < 0 ||
		    tx_list_orphaned(n->tx, vi.name) ||
		    d4_var_format(rt, vi.name, val, sizeof(val)) < 0)
			continue;
		json_array_append_new(vars, json_pack("{s:s,s:s,s:s}", "name",
						      vi.name, "type", vi.type,
						      "value", val));
	}
	return json_pack("{s:o,s:o}", "programs", progs, "vars", vars);
}

/* Is a saved entry of @kind the same record as one in @live (a flow or
 * subscription of the same name, a program of the same text)? */
static bool kept_shadowed(const char *kind, json_t *e, json_t *live)
{
	const char *key = strcmp(kind, "programs") ? "name" : "text";
	const char *v = json_string_value(json_object_get(e, key));
	json_t *o;
	size_t i;

	json_array_foreach(live, i, o)
	{
		const char *w = json_string_value(json_object_get(o, key));

		if (v && w && !strcmp(v, w))
			return true;
	}
	return false;
}

/* The kept (not restored) entries of @kind into @into, but for those a
 * live record of the same name has replaced. */
static void kept_into(struct node *n, const char *kind, json_t *into)
{
	json_t *e, *kept = json_object_get(n->state_kept, kind);
	size_t i;

	json_array_foreach(kept, i, e)
	{
		if (!kept_shadowed(kind, e, into))
			json_array_append(into, e);
	}
}

/* Keep a saved entry that did not restore: a flow or subscription with
 * a name (the API can then delete it), a program with its text. */
static bool keep(struct node *n, const char *kind, json_t *e)
{
	json_t *a;

	if (!json_is_object(e) ||
	    !json_is_string(
		json_object_get(e, strcmp(kind, "programs") ? "name" : "text")))
		return false;

	if (!n->state_kept)
		n->state_kept = json_object();
	a = json_object_get(n->state_kept, kind);
	if (!a) {
		a = json_array();
		json_object_set_new(n->state_kept, kind, a);
	}
	json_array_append(a, e);
	return true;
}

#define KEPT(ok)                                                               \
	((ok) ? "kept in the state file, tried again at the next start"        \
	      : "dropped")

bool state_forget_kept(struct node *n, const char *kind, const char *name)
{
	json_t *a = json_object_get(n->state_kept, kind), *e;
	size_t i;

	json_array_foreach(a, i, e)
	{
		const char *v = json_string_value(json_object_get(e, "name"));

		if (v && !strcmp(v, name)) {
			json_array_remove(a, i);
			log_info("state: %s '%s', kept from an earlier start, "
				 "forgotten",
				 strcmp(kind, "flows") ? "subscription"
						       : "flow",
				 name);
			state_save(n);
			return true;
		}
	}
	return false;
}

void state_kept_free(struct node *n)
{
	json_decref(n->state_kept);
	n->state_kept = NULL;
}

/* The state of every record as JSON. */
static json_t *state_json(struct node *n)
{
	json_t *flows = json_array(), *subs = json_array();
	json_t *lats = json_object(), *st, *d4;
	unsigned int i;

	for (i = 0; i < tx_slots(n->tx); i++)
		if (tx_flow_exists(n->tx, i) &&
		    tx_flow_origin(n->tx, i) == TX_API)
			json_array_append_new(
			    flows,
			    settings_to_json(SETTINGS_FLOW,
					     tx_flow_settings(n->tx, i), ~0u));
	for (i = 0; i < rx_slots(n->rx); i++) {
		const struct sub_settings *s;

		if (!rx_sub_exists(n->rx, i))
			continue;
		s = rx_sub_settings(n->rx, i);
		if (rx_sub_origin(n->rx, i) == RX_API)
			json_array_append_new(
			    subs, settings_to_json(SETTINGS_SUB, s, s->given));
		else if (rx_sub_latency_changed(n->rx, i))
			json_object_set_new(
			    lats, s->name,
			    json_integer((json_int_t)(s->latency_ns / 1000)));
	}
	kept_into(n, "flows", flows);
	kept_into(n, "subscriptions", subs);
	d4 = d4_json(n);
	kept_into(n, "programs", json_object_get(d4, "programs"));
	st = json_pack("{s:i,s:s,s:o,s:o,s:o,s:o,s:o}", "version",
		       STATE_VERSION, "node_name", n->cfg->name, "names",
		       names_json(n), "flows", flows, "subscriptions", subs,
		       "latencies", lats, "d4", d4);
	return st;
}

int state_save(struct node *n)
{
	char path[4200], tmp[4220];
	json_t *st;
	int fd, rc = 0;
	ssize_t wr = -1;
	char *text;
	size_t len;

	if (!n->state_dir[0])
		return 0;
	st = state_json(n);
	text = st ? json_dumps(st, JSON_INDENT(1) | JSON_SORT_KEYS) : NULL;
	json_decref(st);
	if (!text)
		return -ENOMEM;
	len = strlen(text);
	snprintf(path, sizeof(path), "%s/state.json", n->state_dir);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	/* O_NOFOLLOW: a link planted at the temporary name is not written
	 * through; errno cleared only for the writes (it was cleared after
	 * the open: a read-only disk said "Input/output error") */
	unlink(tmp); /* a new file, never one planted there */
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
		  0600);
	if (fd >= 0)
		errno = 0;
	if (fd < 0 || (wr = write(fd, text, len)) != (ssize_t)len ||
	    fsync(fd) < 0) {
		/* a short write sets no errno: the disk is full */
		rc = fd >= 0 && wr >= 0 && wr < (ssize_t)len ? -ENOSPC
		     : errno				     ? -errno
							     : -EIO;
		log_err("state: cannot write %s: %s", tmp, strerror(-rc));
		if (fd >= 0) {
			close(fd);
			unlink(tmp);
		}
		free(text);
		return rc;
	}
	close(fd);
	free(text);
	if (rename(tmp, path) < 0) {
		rc = -errno;
		log_err("state: cannot rename %s: %m", tmp);
		unlink(tmp);
		return rc;
	}
	fd = open(n->state_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
	return 0;
}

int state_persist(void *node)
{
	struct node *n = node;

	return n->restoring ? 0 : state_save(n);
}

/* ---- replay ---- */

static json_t *load(struct node *n, char *path, size_t len)
{
	char bad[4300];
	json_error_t jerr;
	json_t *st, *v;

	snprintf(path, len, "%s/state.json", n->state_dir);
	if (access(path, F_OK) < 0)
		return NULL;
	st = json_load_file(path, 0, &jerr);
	v = json_object_get(st, "version");
	if (st && json_is_object(st) &&
	    ((!v && json_is_array(json_object_get(st, "flows")) &&
	      json_is_array(json_object_get(st, "subscriptions")) &&
	      json_is_array(json_object_get(st, "d4"))) ||
	     json_integer_value(v) == STATE_VERSION))
		return st;
	snprintf(bad, sizeof(bad), "%s.bad-%ld", path, (long)time(NULL));
	rename(path, bad);
	log_err("state: %s is %s (%s); moved to %s, starting from the config "
		"file",
		path, st ? "not a d4 state" : "corrupt",
		!st ? jerr.text
		: v ? "a version this node does not know"
		    : "members missing",
		bad);
	json_decref(st);
	return NULL;
}

void state_restore_name(struct node *n)
{
	char path[4200];
	json_t *st, *v;

	if (!n->state_dir[0])
		return;
	snprintf(path, sizeof(path), "%s/state.json", n->state_dir);
	st = json_load_file(path, 0, NULL);
	v = json_object_get(st, "node_name");
	if (json_is_string(v) && node_name_ok(json_string_value(v)))
		node_set_name(n, json_string_value(v), true);
	else if (v)
		log_err("state: node name not restored: not a node name");
	json_decref(st);
}

static void restore_names(struct node *n, json_t *names)
{
	const char *dirs[2] = {"tx", "rx"}, *num;
	char err[160];
	json_t *v;
	int k, named_tx = 0;

	for (k = 0; k < 2; k++) {
		json_object_foreach(json_object_get(names, dirs[k]), num, v)
		{
			char *end;
			unsigned long idx = strtoul(num, &end, 10);

			if (!json_is_string(v)) {
				snprintf(err, sizeof(err), "not a name");
			} else if (*end || end == num || num[0] == '-' ||
				   !idx || idx > 1000) {
				snprintf(err, sizeof(err),
					 "not a channel number (1-1000)");
			} else if (!node_set_channel_name(n, k == 0,
							  (unsigned int)idx - 1,
							  json_string_value(v),
							  err, sizeof(err))) {
				named_tx += k == 0;
				continue;
			}
			log_err(
			    "state: %s channel name '%.16s' not restored: %s",
			    dirs[k], num, err);
		}
	}
	/* the flows' SDPs (i=) name their channels: said anew */
	if (named_tx)
		tx_publish_all(n->tx);
}

static int restore_flow(struct node *n, json_t *o, char *err, size_t len)
{
	struct flow_config fc;

	if (settings_from_json(SETTINGS_FLOW, o, &fc, NULL, NULL, err, len) < 0)
		return -EINVAL;
	return tx_flow_create(n->tx, &fc, TX_API, err, len);
}

static int restore_sub(struct node *n, json_t *o, char *err, size_t len)
{
	struct sub_settings s;

	memset(&s, 0, sizeof(s));
	if (settings_from_json(SETTINGS_SUB, o, &s, NULL, &s.given, err, len) <
	    0)
		return -EINVAL;
	return rx_sub_create(n->rx, &s, RX_API, NULL, err, len);
}

static int exec_d4(struct node *n, const char *text, int *handle, char *err,
		   size_t len)
{
	int h = -1, rc;

	rc = d4_exec(relay_runtime(n->relay), text, strlen(text), &h, err, len);
	if (handle)
		*handle = h;
	return rc;
}

/* Version 2's D4 variables: declared (@values false) before the
 * programs that use them are loaded, and set (@values true) once the
 * flows have made their lists (a flow starts its list at its
 * destination). */
/* At most as many D4 programs as the node keeps texts of. */
#define STATE_MAX_D4_PROGRAMS NODE_MAX_D4_TEXTS

/* True if @t is one D4 name or type (@value false: letters, digits, '_',
 * '[', ']') or one value (@value true: none of the characters that end a
 * statement or open a block). */
static bool plain_d4_text(const char *t, bool value)
{
	if (!*t)
		return false;
	for (; *t; t++) {
		unsigned char c = (unsigned char)*t;

		if (value ? (c < ' ' || strchr(";{}#", c) != NULL)
			  : !(isalnum(c) || c == '_' || c == '[' || c == ']'))
			return false;
	}
	return true;
}

/* A saved list the runtime refused whole (@why): one entry it now
 * refuses (a receiver without a port, in a list a loop sends to: a file
 * written before that check, or edited by hand) must not cost the others.
 * The list is restored entry by entry, each refused one logged and left
 * out; 1 if the variable was set at all. Entries are endpoints and
 * numbers, without commas of their own. */
static unsigned int restore_d4_list(struct node *n, const char *name,
				    const char *val, const char *why)
{
	char text[4200], err[256], item[256];
	unsigned int kept = 0, dropped = 0;
	const char *p = val + 1, *end;
	size_t len;

	snprintf(text, sizeof(text), "%s = []", name);
	if (exec_d4(n, text, NULL, err, sizeof(err)) < 0) {
		log_err("state: d4 variable '%s' not restored: %s", name, why);
		return 0;
	}
	while (*p && *p != ']') {
		/* no list holds more than D4_MAX_LIST: the rest of a
		 * longer one is left out at once, in one line */
		if (kept + dropped >= D4_MAX_LIST + 8) {
			log_err("state: d4 variable '%s': the rest of the list "
				"left out (over %d entries)",
				name, D4_MAX_LIST);
			p += strcspn(p, "]");
			break;
		}
		while (*p == ' ' || *p == ',')
			p++;
		end = p + strcspn(p, ",]");
		len = (size_t)(end - p);
		while (len && p[len - 1] == ' ')
			len--;
		if (len && len < sizeof(item)) {
			memcpy(item, p, len);
			item[len] = '\0';
			snprintf(text, sizeof(text), "%s += %s", name, item);
			if (exec_d4(n, text, NULL, err, sizeof(err)) < 0) {
				if (dropped < 8)
					log_err(
					    "state: d4 variable '%s': entry "
					    "'%s' left out: %s",
					    name, item, err);
				dropped++;
			} else {
				kept++;
			}
		} else if (len) {
			log_err("state: d4 variable '%s': an entry of %zu "
				"bytes left out",
				name, len);
			dropped++;
		}
		p = end;
	}
	if (*p == ']') {
		p++;
		p += strspn(p, " ");
	}
	if (*p) {
		log_err("state: d4 variable '%s': '%.40s' after the list's end "
			"left out",
			name, p);
		dropped++;
	}
	log_warn("state: d4 variable '%s' restored with %u of %u entries "
		 "(the whole list was refused: %s)",
		 name, kept, kept + dropped, why);
	return 1;
}

/* Returns how many were restored. */
static unsigned int restore_d4_vars(struct node *n, json_t *d4, bool values)
{
	unsigned int done = 0;
	struct d4_runtime *rt = relay_runtime(n->relay);
	char text[4200], err[256], probe[2];
	json_t *v;
	size_t i;

	json_array_foreach(json_object_get(d4, "vars"), i, v)
	{
		const char *name =
		    json_string_value(json_object_get(v, "name"));
		const char *type =
		    json_string_value(json_object_get(v, "type"));
		const char *val =
		    json_string_value(json_object_get(v, "value"));

		/* declared already (a config flow's list): not again; and no
		 * value for one whose declaration was refused (said once,
		 * by the declaration: an attacker's full table read it twice)
		 */
		if (!name || !type || !val ||
		    (d4_var_format(rt, name, probe, sizeof(probe)) ==
		     -ENOENT) == values)
			continue;
		/* A saved declaration and value are one D4 statement each,
		 * as d4_var_format wrote them: text that would make more
		 * (a line break, a ';', a block) is not run (a hand-edited
		 * value loaded a loop; new-user review). */
		if (!plain_d4_text(name, false) ||
		    !plain_d4_text(type, false) || !plain_d4_text(val, true)) {
			log_err("state: d4 variable '%.64s' not restored: its "
				"name, type or value is not one D4 value",
				name);
			continue;
		}
		if (snprintf(text, sizeof(text),
			     values ? "%s = %s" : "%2$s %1$s", name,
			     values ? val : type) >= (int)sizeof(text)) {
			log_err("state: d4 variable '%.64s' not restored: its "
				"value is longer than %zu bytes",
				name, sizeof(text) - 1);
			continue;
		}
		if (exec_d4(n, text, NULL, err, sizeof(err)) >= 0)
			done++;
		else if (values && val[0] == '[')
			done += restore_d4_list(n, name, val, err);
		else
			log_err("state: d4 variable '%s' not restored: %s",
				name, err);
	}
	return done;
}

/* Version 2's D4 programs (loops loaded through the API), those not yet
 * in @done (one flag per program); a program that fails is logged only
 * when @last. A program may declare its own variables (`IP[] _r` before
 * its loop) or use ones declared through the API on their own: the
 * first pass runs before those are declared, the second after. */
static unsigned int restore_d4_programs(struct node *n, json_t *d4,
					bool *done_flags,
					char (*first_err)[256], bool last)
{
	unsigned int done = 0;
	struct d4_runtime *rt = relay_runtime(n->relay);
	char err[256];
	json_t *v;
	size_t i;

	json_array_foreach(json_object_get(d4, "programs"), i, v)
	{
		const char *t = json_string_value(json_object_get(v, "text"));
		int h = -1;

		if (i >= STATE_MAX_D4_PROGRAMS || done_flags[i])
			continue;
		if (!t || exec_d4(n, t, &h, err, sizeof(err)) < 0 || h < 0 ||
		    n->nd4_texts == NODE_MAX_D4_TEXTS ||
		    node_d4_bind(n, h, err, sizeof(err)) < 0) {
			if (h >= 0)
				d4_remove(rt, h);
			if (!last) {
				/* the first pass's is the cause: the second
				 * may fail only on what the first declared */
				snprintf(first_err[i], sizeof(first_err[i]),
					 "%s", t ? err : "no text");
				continue;
			}
			log_err("state: d4 program %zu not restored: %s; %s", i,
				first_err[i][0] ? first_err[i] : err,
				KEPT(keep(n, "programs", v)));
			continue;
		}
		n->d4_texts[n->nd4_texts++] =
		    (struct node_d4_text){strdup(t), h};
		if (json_is_true(json_object_get(v, "running")))
			d4_start(rt, h);
		done_flags[i] = true;
		done++;
	}
	return done;
}

/* The latencies set on config subscriptions: {NAME: us}. */
static void restore_latencies(struct node *n, json_t *lats)
{
	const char *name;
	char err[160];
	json_t *v;
	int i;

	json_object_foreach(lats, name, v)
	{
		const char *why = NULL;

		i = rx_sub_find(n->rx, name);
		if (i < 0 || rx_sub_origin(n->rx, (unsigned int)i) != RX_CONFIG)
			why = "no such subscription in the config file";
		else if (!json_is_integer(v) || json_integer_value(v) <= 0)
			why = "not a latency in us";
		else if (rx_sub_set_latency(n->rx, (unsigned int)i,
					    (uint64_t)json_integer_value(v) *
						1000,
					    err, sizeof(err)))
			why = err;
		if (why)
			log_err("state: latency of subscription '%s' not "
				"restored: %s",
				name, why);
	}
}

void state_restore(struct node *n)
{
	char path[4200], err[512];
	json_t *st, *o, *d4;
	unsigned int nflows = 0, nsubs = 0, nvars = 0, nprogs = 0;
	size_t i;
	bool v1;

	if (!n->state_dir[0] || !(st = load(n, path, sizeof(path))))
		return;
	v1 = !json_object_get(st, "version");
	d4 = json_object_get(st, "d4");
	n->restoring = true;
	restore_names(n, json_object_get(st, "names"));
	if (!v1) {
		bool done_flags[STATE_MAX_D4_PROGRAMS] = {false};
		static char first_err[STATE_MAX_D4_PROGRAMS][256];

		memset(first_err, 0, sizeof(first_err));
		nprogs =
		    restore_d4_programs(n, d4, done_flags, first_err, false);
		restore_d4_vars(n, d4, false);
		nprogs +=
		    restore_d4_programs(n, d4, done_flags, first_err, true);
	}
	/* a member of another type is said, not skipped unseen (an
	 * attacker's "subscriptions": "x"; the next save drops it) */
	for (i = 0; i < 2; i++) {
		static const char *const lists[] = {"flows", "subscriptions"};
		const json_t *l = json_object_get(st, lists[i]);

		if (l && !json_is_array(l))
			log_err("state: '%s' is no list: none restored",
				lists[i]);
	}
	json_array_foreach(json_object_get(st, "flows"), i, o)
	{
		if (restore_flow(n, o, err, sizeof(err)) < 0) {
			log_err("state: flow %zu not restored: %s; %s", i, err,
				KEPT(keep(n, "flows", o)));
		} else {
			nflows++;
		}
	}
	if (v1) {
		/* statements in the order the API took them */
		json_array_foreach(d4, i, o)
		{
			if (!json_is_string(o) ||
			    exec_d4(n, json_string_value(o), NULL, err,
				    sizeof(err)) < 0)
				log_err("state: d4 statement %zu refused: %s",
					i, json_is_string(o) ? err : "text");
		}
	} else {
		nvars = restore_d4_vars(n, d4, true);
	}
	json_array_foreach(json_object_get(st, "subscriptions"), i, o)
	{
		if (restore_sub(n, o, err, sizeof(err)) < 0) {
			log_err("state: subscription %zu not restored: %s; %s",
				i, err, KEPT(keep(n, "subscriptions", o)));
		} else {
			nsubs++;
		}
	}
	restore_latencies(n, json_object_get(st, "latencies"));
	n->restoring = false;
	log_info("state: restored %u flow(s), %u subscription(s), %u D4 "
		 "variable value(s), %u D4 program(s) from %s%s",
		 nflows, nsubs, nvars, nprogs, path,
		 v1 ? " (version 1, saved as 2)" : "");
	json_decref(st);
	if (v1)
		state_save(n);
}
