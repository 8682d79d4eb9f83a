/* libFuzzer harness for the kernel back end's translator (d4/bpf.c): every
 * loop the front end verifies is either translated to something the
 * kernel's verifier accepts, or refused by the translator with a reason
 * that names its place. Built with the library's own .c files, the loader
 * too, so that libFuzzer sees their branches (tests/fuzz/meson.build).
 *
 * Input: as fuzz_d4's (program text, a NUL byte, then anything); the first
 * byte after the NUL, if any, picks options: bit 0 passes originals up the
 * stack, bit 1 sets a source port of its own, bit 2 takes away the
 * per-second send budget (a node's 100 000 otherwise, so the token bucket
 * is in the translation).
 *
 * Where this process may load BPF (root, a kernel that runs it), every
 * translation is loaded and the kernel's verifier judges it; elsewhere the
 * instruction stream is checked for structure (d4_bpf_check). Aborts when
 * the verifier refuses a translation as unsafe (-EPROTO), the stream is
 * malformed (-EIO), or a refusal reads other than "LINE:COL: construct:
 * why". The verifier giving up on loops in loops at its own limit of a
 * million instructions (-E2BIG) is a refusal, named at the outer loop:
 * the translator's walk estimate does not bound such nests (docs/d4.md). */
#include "d4/d4.h"
#include "d4/kernel.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_reason(const char *why)
{
	const char *p = why;

	if (!isdigit((unsigned char)*p))
		abort();
	while (isdigit((unsigned char)*p))
		p++;
	if (*p++ != ':' || !isdigit((unsigned char)*p))
		abort();
	while (isdigit((unsigned char)*p))
		p++;
	if (p[0] != ':' || p[1] != ' ' || !strchr(p, ':'))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int may_load = -1;
	struct d4_kern_opts o = {.dscp = 46};
	const uint8_t *nul = memchr(data, 0, size);
	size_t src_len = nul ? (size_t)(nul - data) : size;
	int handles[D4_MAX_PROGRAMS], n, i, ret;
	uint32_t per_second = 100000;
	struct d4_runtime *rt;
	char err[512], why[512];

	if (may_load < 0) {
		may_load = !getenv("D4_FUZZ_NO_LOAD") &&
			   !d4_kern_probe(why, sizeof(why));
		fprintf(stderr, "fuzz_d4_bpf: %s\n",
			may_load ? "loading every translation into the kernel"
				 : "checking the instruction streams only");
	}
	if (nul && nul + 1 < data + size) {
		o.pass_original = nul[1] & 1;
		o.src_port = nul[1] & 2 ? 4242 : 0;
		per_second = nul[1] & 4 ? 0 : per_second;
	}
	rt = d4_runtime_new(NULL);
	if (!rt)
		return 0;
	d4_runtime_set_budget(rt, D4_SENDS_PER_PACKET, per_second);
	if (d4_load(rt, (const char *)data, src_len, err, sizeof(err)))
		goto out;
	n = d4_program_list(rt, handles, D4_MAX_PROGRAMS);
	for (i = 0; i < n; i++) {
		why[0] = '\0';
		ret = d4_kern_check(rt, handles[i], &o, may_load, why,
				    sizeof(why));
		if (ret == -EPROTO || ret == -EIO) {
			fprintf(stderr, "fuzz_d4_bpf: %s\n", why);
			abort();
		}
		/* the verifier's own limit, met by loops in loops, is a
		 * refusal with a place too (d4/kernel.c load_prog) */
		if (ret == -EINVAL || ret == -E2BIG)
			check_reason(why);
	}
out:
	d4_runtime_destroy(rt);
	return 0;
}
