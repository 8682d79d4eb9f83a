/* d4c: check a D4 program without a node. Compiles and verifies FILE and
 * prints each loop's proven worst case (instructions and datagrams per
 * packet; --max-sends N checks against a node's budget of N datagrams
 * per packet instead of the default), or the error as FILE:LINE:COL:
 * message with exit status 1 (one line each when the verifier names more
 * than one 'for' over the seed's limits). --dump adds the bytecode. */
#include "d4/d4.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *out)
{
	fprintf(out,
		"usage: d4c [--dump] [--max-sends N] FILE.d4\n"
		"  Compile and verify a D4 program; print each loop's "
		"worst-case\n"
		"  instructions and datagrams per packet (exit 0) or the "
		"errors\n"
		"  (exit 1).\n"
		"  --dump         also print the bytecode\n"
		"  --max-sends N  datagrams one packet may send, 1-%d "
		"(default %d)\n",
		D4_MAX_SENDS_PER_PACKET, D4_SENDS_PER_PACKET);
}

/* The whole file, one byte past the language's limit at most (so an
 * oversized file still gets the lexer's error). */
static char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;

	if (!f)
		return NULL;
	buf = malloc(D4_MAX_SRC + 1);
	if (!buf) {
		fclose(f);
		return NULL;
	}
	*len = fread(buf, 1, D4_MAX_SRC + 1, f);
	if (ferror(f)) {
		free(buf);
		buf = NULL;
	}
	fclose(f);
	return buf;
}

int main(int argc, char *argv[])
{
	struct d4_runtime *rt;
	struct d4_program_info info;
	int handles[D4_MAX_PROGRAMS], n, i, ret = 0;
	const char *path = NULL;
	unsigned long max_sends = D4_SENDS_PER_PACKET;
	bool dump = false;
	char *end;
	char err[2048], *line, *save;
	size_t len = 0;
	char *src;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--dump")) {
			dump = true;
		} else if (!strcmp(argv[i], "--max-sends") && i + 1 < argc) {
			max_sends = strtoul(argv[++i], &end, 10);
			if (*end || !max_sends ||
			    max_sends > D4_MAX_SENDS_PER_PACKET) {
				usage(stderr);
				return 2;
			}
		} else if (!strcmp(argv[i], "--help") ||
			   !strcmp(argv[i], "-h")) {
			usage(stdout);
			return 0;
		} else if (argv[i][0] == '-' || path) {
			usage(stderr);
			return 2;
		} else {
			path = argv[i];
		}
	}
	if (!path) {
		usage(stderr);
		return 2;
	}
	src = read_file(path, &len);
	if (!src) {
		fprintf(stderr, "d4c: %s: %m\n", path);
		return 2;
	}
	rt = d4_runtime_new(NULL);
	if (!rt || d4_runtime_set_budget(rt, (uint32_t)max_sends, 0)) {
		fprintf(stderr, "d4c: out of memory\n");
		free(src);
		return 2;
	}
	if (d4_load(rt, src, len, err, sizeof(err))) {
		for (line = strtok_r(err, "\n", &save); line;
		     line = strtok_r(NULL, "\n", &save))
			fprintf(stderr, "%s:%s\n", path, line);
		ret = 1;
		goto out;
	}
	n = d4_program_list(rt, handles, D4_MAX_PROGRAMS);
	if (n == 0)
		printf("%s: no loops\n", path);
	for (i = 0; i < n; i++) {
		d4_program_info(rt, handles[i], &info);
		printf("%s: loop %s: worst case %llu instructions and %llu "
		       "datagrams per packet\n",
		       path, info.name, (unsigned long long)info.wcet_insns,
		       (unsigned long long)info.max_sends);
		if (dump)
			d4_program_dump(rt, handles[i], stdout);
	}
out:
	d4_runtime_destroy(rt);
	free(src);
	return ret;
}
