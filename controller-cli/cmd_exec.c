/* d4ctl exec: D4 text to a node (POST /d4/exec): a declaration, a
 * statement such as "_main_receivers += 10.77.0.3:5004", or a loop (loaded
 * stopped; its name is printed). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "controller-cli/d4ctl.h"

static const char usage[] =
    "usage: d4ctl exec NODE 'D4 TEXT'\n"
    "       d4ctl exec NODE -f FILE.d4\n"
    "\n"
    "Run D4 text on NODE. A loop is loaded stopped (d4ctl start NODE LOOP);\n"
    "its name is printed. Errors come back with their line:column.\n";

struct exec_opts {
	const char *file;
};

static int on_opt(void *data, int opt, const char *arg)
{
	struct exec_opts *o = data;

	o->file = arg;
	return 0;
}

static int read_file(const char *path, char **text)
{
	size_t len = 0, n;
	char buf[4096], *t = NULL;
	FILE *f = fopen(path, "r");
	int rc = 0;

	if (!f) {
		rc = -errno;
		d4ctl_err("exec", "'%s': %s", path, strerror(errno));
		return rc;
	}
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0) {
		char *p = len + n > (1 << 16) ? NULL : realloc(t, len + n + 1);

		if (!p) {
			d4ctl_err("exec", "'%s': larger than 64 KiB", path);
			rc = -EFBIG;
			break;
		}
		t = p;
		memcpy(t + len, buf, n);
		len += n;
		t[len] = '\0';
	}
	fclose(f);
	if (rc == 0 && !t)
		t = strdup("");
	if (rc < 0 || !t) {
		free(t);
		return rc < 0 ? rc : -ENOMEM;
	}
	*text = t;
	return 0;
}

int cmd_exec(struct d4ctl *ctl, int argc, char *argv[])
{
	static const struct option extra[] = {
	    {"file", required_argument, NULL, 'f'},
	    {NULL, 0, NULL, 0},
	};
	struct exec_opts o = {0};
	struct d4ctl_node node;
	const char *nodename = NULL;
	char *text = NULL;
	json_t *body, *resp = NULL;
	int first, rc, nargs;

	rc = d4ctl_getopt(ctl, argc, argv, usage, extra, "f:", on_opt, &o,
			  &first);
	if (rc)
		return rc > 0 ? D4CTL_EXIT_OK : D4CTL_EXIT_USAGE;
	nargs = argc - first;
	if (nargs == (o.file ? 1 : 2))
		nodename = argv[first];
	else if (!(ctl->host && nargs == (o.file ? 0 : 1))) {
		d4ctl_err("exec", "expected NODE and D4 text (or -f FILE)\n%s",
			  usage);
		return D4CTL_EXIT_USAGE;
	}
	if (o.file) {
		rc = read_file(o.file, &text);
		if (rc < 0)
			return D4CTL_EXIT_USAGE;
	} else {
		text = strdup(argv[argc - 1]);
	}
	rc = d4ctl_node_find(ctl, nodename, &node);
	if (rc < 0)
		goto out;
	body = json_pack("{s:s}", "text", text);
	rc = d4ctl_http(ctl, &node, "POST", "/d4/exec", body, &resp);
	json_decref(body);
	if (rc == 0) {
		json_int_t h =
		    json_integer_value(json_object_get(resp, "handle"));

		if (ctl->json)
			d4ctl_print_json(resp);
		else if (json_object_get(resp, "loop"))
			printf("loaded, stopped: loop %s (d4ctl start %s %s)\n",
			       json_string_value(json_object_get(resp, "loop")),
			       node.name,
			       json_string_value(json_object_get(resp, "loop")));
		else if (json_object_get(resp, "handle") && h >= 0)
			printf("loaded, stopped: handle %lld\n", (long long)h);
	}
	json_decref(resp);
out:
	free(text);
	return d4ctl_exit_code(rc);
}
