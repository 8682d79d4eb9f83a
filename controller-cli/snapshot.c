/* Fetch the network for the planner, and run plans (snapshot.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "controller-cli/snapshot.h"

static const char *const parts[][2] = {
    {"node", "/node"},
    {"flows", "/flows"},
    {"subscriptions", "/subscriptions"},
    {"vars", "/d4/vars"},
    {"programs", "/d4/programs"},
    {"streams", "/streams"},
    {"channels", "/channels"},
};

int snapshot_fetch(struct d4ctl *ctl, struct d4ctl_node *nodes, int n,
		   bool all_needed, json_t **net)
{
	json_t *list = json_array(), *missed = json_array();
	int rc = 0;

	*net = NULL;
	if (!list || !missed) {
		json_decref(list);
		json_decref(missed);
		return -ENOMEM;
	}
	for (int i = 0; i < n; i++) {
		json_t *e = json_object();
		const char *name;

		rc = 0;
		for (size_t k = 0; k < sizeof(parts) / sizeof(parts[0]); k++) {
			json_t *v;

			rc = d4ctl_http(ctl, &nodes[i], "GET", parts[k][1],
					NULL, &v);
			if (rc < 0)
				break;
			json_object_set_new(e, parts[k][0], v);
		}
		if (rc < 0) {
			json_decref(e);
			if (all_needed)
				goto out_free;
			json_array_append_new(missed,
					      json_string(nodes[i].name));
			continue;
		}
		name = json_string_value(
		    json_object_get(json_object_get(e, "node"), "name"));
		if (name && strcmp(name, nodes[i].name) &&
		    !strchr(nodes[i].name, ':') && !strchr(nodes[i].name, '.'))
			d4ctl_errf(ctl, "warning: %s calls itself '%s'",
				   nodes[i].addr, name);
		if (name)
			snprintf(nodes[i].name, sizeof(nodes[i].name), "%s",
				 name);
		json_object_set_new(e, "name", json_string(nodes[i].name));
		json_object_set_new(e, "address", json_string(nodes[i].addr));
		if (nodes[i].host2[0])
			json_object_set_new(e, "address2",
					    json_string(nodes[i].host2));
		json_array_append_new(list, e);
	}
	*net = json_pack("{s:o, s:o}", "nodes", list, "unanswered", missed);
	return *net ? 0 : -ENOMEM;
out_free:
	json_decref(list);
	json_decref(missed);
	return rc;
}

static struct d4ctl_node *node_named(struct d4ctl_node *nodes, int n,
				     const char *name)
{
	for (int i = 0; i < n; i++)
		if (!strcmp(nodes[i].name, name))
			return &nodes[i];
	return NULL;
}

static void print_call(FILE *f, const char *prefix, const char *node,
		       const struct plan_call *c)
{
	char *b = c->body ? json_dumps(c->body, JSON_COMPACT) : NULL;

	fprintf(f, "%s%s: %s %s%s%s\n", prefix, node, c->method, c->path,
		b ? " " : "", b ? b : "");
	free(b);
}

void snapshot_print_plan(const struct plan *plan)
{
	if (plan->note[0])
		printf("%s\n", plan->note);
	for (unsigned int i = 0; i < plan->n; i++) {
		printf("%s\n", plan->a[i].what);
		print_call(stdout, "  ", plan->a[i].node, &plan->a[i].call);
	}
}

static void copy_format(json_t *body, const json_t *flow)
{
	static const char *const keys[] = {"encoding", "rate", "ptime_us"};

	for (size_t k = 0; k < 3; k++) {
		json_t *v = json_object_get(flow, keys[k]);

		if (v)
			json_object_set(body, keys[k], v);
	}
}

/* Every node the plan writes to has a token, before anything is done:
 * a plan that would fail at its first write changes nothing. */
static int check_tokens(struct d4ctl *ctl, const struct plan *plan,
			struct d4ctl_node *nodes, int n)
{
	char src[512];

	for (unsigned int i = 0; i < plan->n; i++) {
		struct d4ctl_node *node = node_named(nodes, n, plan->a[i].node);

		if (!node) {
			d4ctl_errf(ctl, "internal: no node '%s'",
				   plan->a[i].node);
			return -ENOENT;
		}
		if (!d4ctl_token(ctl, node, true, NULL)) {
			d4ctl_errf(ctl, "%s: %s; nothing was changed",
				   node->name,
				   d4ctl_token_source(ctl, node, true, src,
						      sizeof(src)));
			return -EACCES;
		}
	}
	return 0;
}

int snapshot_run(struct d4ctl *ctl, const struct plan *plan, const json_t *net,
		 struct d4ctl_node *nodes, int n)
{
	FILE *errs = ctl->errs ? ctl->errs : stderr;
	char *done_text = NULL;
	size_t done_len = 0;
	FILE *done_f;
	json_t *prev = NULL;
	unsigned int done;
	int rc;

	rc = check_tokens(ctl, plan, nodes, n);
	if (rc < 0)
		return rc;
	/* The steps are told once the whole plan is done: a failed write
	 * leaves no line that reads as if it had worked. */
	done_f = open_memstream(&done_text, &done_len);
	if (!done_f)
		return -ENOMEM;
	if (plan->note[0])
		fprintf(done_f, "%s\n", plan->note);
	for (done = 0; done < plan->n; done++) {
		const struct plan_action *a = &plan->a[done];
		struct d4ctl_node *node = node_named(nodes, n, a->node);
		json_t *resp = NULL;

		if (a->format_from_prev && prev)
			copy_format(a->call.body, prev);
		rc = d4ctl_http(ctl, node, a->call.method, a->call.path,
				a->call.body, &resp);
		json_decref(prev);
		prev = resp;
		if (rc < 0)
			break;
		fprintf(done_f, "%s\n", a->what);
	}
	json_decref(prev);
	fclose(done_f);
	if (rc == 0) {
		fputs(done_text ? done_text : "", d4ctl_out(ctl));
		fflush(d4ctl_out(ctl));
		free(done_text);
		return 0;
	}
	free(done_text);
	d4ctl_errf(ctl, "failed: %s", plan->a[done].what);
	if (!done) {
		d4ctl_errf(ctl, "nothing was changed");
		return rc;
	}
	{
		unsigned int undone = 0, steps = done;

		while (done--) {
			const struct plan_action *a = &plan->a[done];
			int urc = -EINVAL;

			if (a->undo.method[0])
				urc = d4ctl_http(ctl,
						 node_named(nodes, n, a->node),
						 a->undo.method, a->undo.path,
						 a->undo.body, NULL);
			if (urc < 0) {
				d4ctl_errf(ctl, "could not undo: %s", a->what);
				continue;
			}
			print_call(errs, "d4ctl: undone: ", a->node, &a->undo);
			undone++;
		}
		if (undone == steps)
			d4ctl_errf(ctl,
				   "nothing was changed (%u step%s "
				   "undone)",
				   steps, steps == 1 ? "" : "s");
	}
	return rc;
}
