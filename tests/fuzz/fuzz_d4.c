/* libFuzzer harness for the whole D4 pipeline: lexer, parser, verifier,
 * compiler, bytecode validator, VM and runtime. Built with the library's
 * own .c files (tests/fuzz/meson.build) so libFuzzer sees their branches.
 *
 * Input: program text, a NUL byte, then packets, each a 2-byte big-endian
 * length and that many bytes (cut short at the end of the input). Every
 * loop of the program is started and runs every packet.
 *
 * Beyond "no crash, no sanitizer report" it checks what must hold for any
 * input: an error reads "LINE:COL: message"; no run executes more
 * instructions than its loop's proven worst case; no packet is sent with a
 * length other than its own or to port 0. */
#include "d4/d4.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct fuzz_host {
	size_t want_len;
	uint64_t sum;
};

static int fuzz_send(void *ctx, int handle, const uint8_t *pkt, size_t len,
		     const struct sockaddr_in *dst)
{
	struct fuzz_host *h = ctx;
	size_t i;

	if (len != h->want_len || dst->sin_port == 0 || handle < 0)
		abort();
	for (i = 0; i < len; i++) /* read every byte sent */
		h->sum += pkt[i];
	return (h->sum & 0xff) == 0x5a ? -1 : 0; /* sometimes fail a send */
}

/* "12:3: message" */
static void check_error_text(const char *err)
{
	const char *p = err;

	if (!isdigit((unsigned char)*p))
		abort();
	while (isdigit((unsigned char)*p))
		p++;
	if (*p++ != ':' || !isdigit((unsigned char)*p))
		abort();
	while (isdigit((unsigned char)*p))
		p++;
	if (p[0] != ':' || p[1] != ' ' || !p[2])
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static FILE *devnull;
	struct fuzz_host fh = {0};
	struct d4_host host = {.send = fuzz_send, .ctx = &fh};
	struct sockaddr_in src = {.sin_family = AF_INET};
	struct d4_program_info info;
	struct d4_var_info vi;
	int handles[D4_MAX_PROGRAMS], n, i, v;
	const uint8_t *nul = memchr(data, 0, size), *p, *end = data + size;
	size_t src_len = nul ? (size_t)(nul - data) : size;
	uint8_t pkt[2048];
	char err[512], val[4096];
	struct d4_runtime *rt;

	if (!devnull)
		devnull = fopen("/dev/null", "w");
	rt = d4_runtime_new(&host);
	if (!rt)
		return 0;
	d4_runtime_seed(rt, 42);
	if (d4_load(rt, (const char *)data, src_len, err, sizeof(err))) {
		check_error_text(err);
		goto out;
	}
	n = d4_program_list(rt, handles, D4_MAX_PROGRAMS);
	for (i = 0; i < n; i++) {
		d4_start(rt, handles[i]);
		if (devnull)
			d4_program_dump(rt, handles[i], devnull);
	}
	for (v = 0; v < d4_var_count(rt); v++)
		if (!d4_var_info(rt, v, &vi))
			d4_var_format(rt, vi.name, val, sizeof(val));
	for (p = nul ? nul + 1 : end; p + 2 <= end;) {
		size_t len = (size_t)p[0] << 8 | p[1];

		p += 2;
		if (len > (size_t)(end - p))
			len = (size_t)(end - p);
		if (len > sizeof(pkt))
			len = sizeof(pkt);
		src.sin_addr.s_addr = htonl(0xc0a80000u | (uint32_t)len);
		src.sin_port = htons((uint16_t)(len + 1000));
		for (i = 0; i < n; i++) {
			memcpy(pkt, p, len);
			fh.want_len = len;
			d4_run(rt, handles[i], pkt, len, &src);
		}
		p += len;
	}
	for (i = 0; i < n; i++) {
		if (d4_program_info(rt, handles[i], &info))
			abort();
		if (info.max_insns > info.wcet_insns ||
		    strstr(info.last_error, "proven"))
			abort();
		if (info.last_error[0])
			check_error_text(info.last_error);
	}
out:
	d4_runtime_destroy(rt);
	return 0;
}
