/* d4c: check a D4 program without a node. Compiles and verifies FILE and
 * prints each loop's proven worst case, or the error as FILE:LINE:COL:
 * message with exit status 1 (one line each when the verifier names more
 * than one 'for' over the seed's limits). --dump adds the bytecode. */
#include "d4/d4.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *out)
{
	fprintf(out, "usage: d4c [--dump] FILE.d4\n"
		     "  Compile and verify a D4 program; print each loop's "
		     "worst-case\n"
		     "  instructions per packet (exit 0) or the errors "
		     "(exit 1).\n"
		     "  --dump  also print the bytecode\n");
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
	bool dump = false;
	char err[2048], *line, *save;
	size_t len = 0;
	char *src;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--dump")) {
			dump = true;
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
	if (!rt) {
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
		printf("%s: loop %s: worst case %llu instructions per packet\n",
		       path, info.name, (unsigned long long)info.wcet_insns);
		if (dump)
			d4_program_dump(rt, handles[i], stdout);
	}
out:
	d4_runtime_destroy(rt);
	free(src);
	return ret;
}
