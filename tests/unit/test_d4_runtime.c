/* Unit tests of the D4 runtime API: handles, introspection, all-or-nothing
 * d4_exec, limits that need generated programs, and the concurrency
 * contract: a control thread rewriting a list while a media thread runs
 * packets must never let a packet see a half-updated list. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "d4/d4.h"

static const char seed[] = "IP[] _receivers\n"
			   "loop rtp_1_to_n { # coroutine to relay/pass on RTP "
			   "packets\n"
			   "pkt = recv()\n"
			   "for ip in _receivers:\n"
			   "sendto(pkt, ip)\n"
			   "endfor\n"
			   "}\n";

struct capture {
	int n;
	uint16_t ports[128];
	uint8_t first[16];
};

static int capture_send(void *ctx, int handle, const uint8_t *pkt, size_t len,
			const struct sockaddr_in *dst)
{
	struct capture *c = ctx;

	(void)handle;
	if (c->n < 128)
		c->ports[c->n] = ntohs(dst->sin_port);
	if (c->n == 0)
		memcpy(c->first, pkt, len < 16 ? len : 16);
	c->n++;
	return 0;
}

static int exec(struct d4_runtime *rt, const char *src, int *handle, char *err,
		size_t err_len)
{
	return d4_exec(rt, src, strlen(src), handle, err, err_len);
}

static void test_d4_exec_gives_handles_only_for_loops(void **state)
{
	struct d4_runtime *rt = d4_runtime_new(NULL);
	char err[256];
	int h = 7, h2 = 7;

	assert_non_null(rt);
	assert_int_equal(exec(rt, "IP[] _r", &h, err, sizeof(err)), 0);
	assert_int_equal(h, -1);
	assert_int_equal(
	    exec(rt, "loop a {\npkt = recv()\n}", &h, err, sizeof(err)), 0);
	assert_true(h >= 0);
	assert_int_equal(
	    exec(rt, "loop b {\npkt = recv()\n}", &h2, err, sizeof(err)), 0);
	assert_true(h2 >= 0 && h2 != h);
	assert_int_equal(d4_program_find(rt, "a"), h);
	assert_int_equal(d4_program_find(rt, "b"), h2);
	assert_int_equal(d4_program_find(rt, "c"), -ENOENT);
	d4_runtime_destroy(rt);
}

static void test_d4_exec_is_all_or_nothing(void **state)
{
	struct d4_runtime *rt = d4_runtime_new(NULL);
	char err[256], val[256];
	int h;

	assert_int_equal(
	    exec(rt, "IP[] _r = [10.0.0.1:1]", &h, err, sizeof(err)), 0);
	/* the third statement fails: neither the new variable nor the
	 * change to _r, nor the loop, may appear */
	assert_int_equal(exec(rt,
			      "int _n = 5\n_r += 10.0.0.2:2\n_r += 5\n"
			      "loop l {\npkt = recv()\n}\n",
			      &h, err, sizeof(err)),
			 -EINVAL);
	assert_string_equal(err, "3:7: cannot assign int to '_r' of type IP[]");
	assert_int_equal(h, -1);
	assert_int_equal(d4_var_count(rt), 1);
	assert_int_equal(d4_var_format(rt, "_r", val, sizeof(val)), 0);
	assert_string_equal(val, "[10.0.0.1:1]");
	assert_int_equal(d4_program_find(rt, "l"), -ENOENT);
	d4_runtime_destroy(rt);
}

static void test_d4_introspection_reports_programs_and_vars(void **state)
{
	struct capture cap = {0};
	struct d4_host host = {.send = capture_send, .ctx = &cap};
	struct d4_runtime *rt = d4_runtime_new(&host);
	struct d4_program_info pi;
	struct d4_var_info vi;
	struct sockaddr_in src = {.sin_family = AF_INET};
	uint8_t pkt[4] = {1, 2, 3, 4};
	int handles[8], h;
	char err[256], val[16];

	assert_int_equal(exec(rt, seed, &h, err, sizeof(err)), 0);
	/* a receiver without a port in the list the loop sends to: refused,
	 * the list as it was (it would trap each run, the rest unheard) */
	assert_int_equal(exec(rt, "_receivers = [10.0.0.5:5004, 10.0.0.6]",
			      NULL, err, sizeof(err)),
			 -EINVAL);
	assert_string_equal(err, "1:1: 10.0.0.6 has no port, and loop "
				 "'rtp_1_to_n' sends to the endpoints of "
				 "'_receivers' (5:1) without naming one");
	assert_int_equal(d4_var_format(rt, "_receivers", val, sizeof(val)), 0);
	assert_string_equal(val, "[]");
	assert_int_equal(exec(rt, "_receivers = [10.0.0.5:5004, 10.0.0.6:9]",
			      NULL, err, sizeof(err)),
			 0);
	assert_int_equal(d4_program_list(rt, handles, 8), 1);
	assert_int_equal(handles[0], h);
	assert_int_equal(d4_program_info(rt, h, &pi), 0);
	assert_string_equal(pi.name, "rtp_1_to_n");
	assert_string_equal(pi.binding, "none");
	assert_false(pi.running);
	assert_int_equal(pi.wcet_insns, 405);

	assert_int_equal(d4_var_count(rt), 1);
	assert_int_equal(d4_var_info(rt, 0, &vi), 0);
	assert_string_equal(vi.name, "_receivers");
	assert_string_equal(vi.type, "IP[100]");
	assert_int_equal(vi.count, 2);
	assert_int_equal(vi.cap, 100);
	assert_int_equal(d4_var_info(rt, 1, &vi), -ENOENT);
	/* too small a buffer: -ENOSPC, never an overrun */
	assert_int_equal(d4_var_format(rt, "_receivers", val, sizeof(val)),
			 -ENOSPC);
	assert_int_equal(d4_var_format(rt, "nope", val, sizeof(val)), -ENOENT);

	assert_int_equal(d4_run(rt, h, pkt, sizeof(pkt), &src), -EAGAIN);
	assert_int_equal(d4_start(rt, h), 0);
	assert_int_equal(d4_run(rt, h, pkt, sizeof(pkt), &src), 2);
	assert_int_equal(cap.n, 2);
	assert_int_equal(d4_program_info(rt, h, &pi), 0);
	assert_true(pi.running);
	assert_int_equal(pi.pkts_in, 1);
	assert_int_equal(pi.pkts_sent, 2);
	assert_int_equal(pi.errors, 0);
	assert_string_equal(pi.last_error, "");
	assert_true(pi.max_insns > 0 && pi.max_insns <= pi.wcet_insns);
	d4_runtime_destroy(rt);
}

static void test_d4_run_rejects_bad_arguments(void **state)
{
	struct d4_runtime *rt = d4_runtime_new(NULL);
	uint8_t pkt[4] = {0};
	int h;

	assert_int_equal(exec(rt, seed, &h, NULL, 0), 0);
	assert_int_equal(d4_start(rt, h), 0);
	assert_int_equal(d4_run(rt, -1, pkt, 4, NULL), -ENOENT);
	assert_int_equal(d4_run(rt, D4_MAX_PROGRAMS, pkt, 4, NULL), -ENOENT);
	assert_int_equal(d4_run(rt, h + 1, pkt, 4, NULL), -ENOENT);
	assert_int_equal(d4_run(rt, h, NULL, 4, NULL), -EINVAL);
	assert_int_equal(d4_run(rt, h, pkt, D4_MAX_PKT + 1, NULL), -EINVAL);
	/* no host: sends go nowhere but count */
	assert_int_equal(d4_run(rt, h, pkt, 4, NULL), 0);
	assert_int_equal(d4_start(rt, 99), -ENOENT);
	assert_int_equal(d4_stop(rt, -3), -ENOENT);
	d4_runtime_destroy(rt);
}

static void test_d4_remove_frees_a_stopped_loop(void **state)
{
	struct d4_runtime *rt = d4_runtime_new(NULL);
	uint8_t pkt[1] = {0};
	int h, h2;

	assert_int_equal(exec(rt, seed, &h, NULL, 0), 0);
	assert_int_equal(d4_start(rt, h), 0);
	assert_int_equal(d4_remove(rt, h), -EBUSY);
	assert_int_equal(d4_stop(rt, h), 0);
	assert_int_equal(d4_remove(rt, h), 0);
	assert_int_equal(d4_remove(rt, h), -ENOENT);
	assert_int_equal(d4_run(rt, h, pkt, 1, NULL), -ENOENT);
	/* the name and the handle are free again */
	assert_int_equal(
	    exec(rt, "loop rtp_1_to_n {\np = recv()\n}", &h2, NULL, 0), 0);
	assert_int_equal(h2, h);
	d4_runtime_destroy(rt);
}

static void test_d4_full_runtime_returns_enospc(void **state)
{
	struct d4_runtime *rt = d4_runtime_new(NULL);
	char src[64], err[256];
	int i, h;

	for (i = 0; i < D4_MAX_PROGRAMS; i++) {
		snprintf(src, sizeof(src), "loop l%d {\npkt = recv()\n}", i);
		assert_int_equal(exec(rt, src, &h, err, sizeof(err)), 0);
	}
	assert_int_equal(
	    exec(rt, "loop one_more {\npkt = recv()\n}", &h, err, sizeof(err)),
	    -ENOSPC);
	assert_string_equal(
	    err, "1:6: no room for loop 'one_more' (limit 64 loops)");
	for (i = 0; i < D4_MAX_VARS; i++) {
		snprintf(src, sizeof(src), "int _v%d", i);
		assert_int_equal(exec(rt, src, &h, err, sizeof(err)), 0);
	}
	assert_int_equal(exec(rt, "int _v", &h, err, sizeof(err)), -ENOSPC);
	d4_runtime_destroy(rt);
}

static void test_d4_text_longer_than_limit_is_refused(void **state)
{
	struct d4_runtime *rt = d4_runtime_new(NULL);
	size_t len = D4_MAX_SRC + 1;
	char *src = malloc(len), err[256];

	assert_non_null(src);
	memset(src, '#', len); /* one long comment */
	assert_int_equal(d4_load(rt, src, len, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "1:1: program text longer than 65536 bytes");
	/* exactly at the limit it is fine */
	assert_int_equal(d4_load(rt, src, len - 1, err, sizeof(err)), 0);
	free(src);
	d4_runtime_destroy(rt);
}

static void test_d4_loop_longer_than_code_limit_is_refused(void **state)
{
	struct d4_runtime *rt = d4_runtime_new(NULL);
	size_t cap = D4_MAX_SRC, o = 0;
	char *src = malloc(cap), err[256];
	int line, t;

	assert_non_null(src);
	o += (size_t)snprintf(src + o, cap - o,
			      "loop big {\npkt = recv()\n"
			      "a = pkt[0]\n");
	/* 100 additions a line, one instruction each: 180 lines are over
	 * D4_MAX_CODE but well under D4_MAX_INSNS and the text limit */
	for (line = 0; line < 180; line++) {
		o += (size_t)snprintf(src + o, cap - o, "x = a");
		for (t = 0; t < 100; t++)
			o += (size_t)snprintf(src + o, cap - o, "+a");
		o += (size_t)snprintf(src + o, cap - o, "\n");
	}
	o += (size_t)snprintf(src + o, cap - o, "}\n");
	assert_true(o < cap);
	assert_int_equal(d4_exec(rt, src, o, NULL, err, sizeof(err)), -EINVAL);
	assert_string_equal(
	    err, "1:6: loop 'big' is longer than 16384 instructions");
	free(src);
	d4_runtime_destroy(rt);
}

static void test_d4_program_dump_names_opcodes(void **state)
{
	struct d4_runtime *rt = d4_runtime_new(NULL);
	char *buf = NULL;
	size_t len = 0;
	FILE *f;
	int h;

	assert_int_equal(exec(rt, seed, &h, NULL, 0), 0);
	f = open_memstream(&buf, &len);
	assert_int_equal(d4_program_dump(rt, h, f), 0);
	fclose(f);
	assert_non_null(strstr(buf, "loop rtp_1_to_n (none)"));
	assert_non_null(strstr(buf, "; v0 = _receivers"));
	assert_non_null(strstr(buf, "LCOUNT"));
	assert_non_null(strstr(buf, "FORLOOP"));
	assert_non_null(strstr(buf, "SEND"));
	assert_non_null(strstr(buf, "worst case 405 per packet"));
	free(buf);
	assert_int_equal(d4_program_dump(rt, h + 1, stdout), -ENOENT);
	d4_runtime_destroy(rt);
}

/* ---- two threads ---- */

#define LIST_LEN 10

struct stress {
	struct d4_runtime *rt;
	int handle;
	atomic_bool done;
	/* media side */
	struct capture cap;
	long runs;
	long torn;
	long short_lists;
	uint16_t last_gen;
	long gen_changes;
};

static int stress_send(void *ctx, int handle, const uint8_t *pkt, size_t len,
		       const struct sockaddr_in *dst)
{
	return capture_send(ctx, handle, pkt, len, dst);
}

static void *media_thread(void *arg)
{
	struct stress *s = arg;
	struct sockaddr_in src = {.sin_family = AF_INET};
	uint8_t pkt[12] = {0x80, 0x60};
	int i, ret;

	while (!atomic_load(&s->done) || s->runs < 1000) {
		s->cap.n = 0;
		ret = d4_run(s->rt, s->handle, pkt, sizeof(pkt), &src);
		s->runs++;
		if (ret < 0 || s->cap.n == 0)
			continue; /* before the first list */
		/* every entry of one list carries the same generation */
		for (i = 1; i < s->cap.n; i++)
			if (s->cap.ports[i] != s->cap.ports[0])
				s->torn++;
		if (s->cap.n != LIST_LEN)
			s->short_lists++;
		if (s->cap.ports[0] != s->last_gen)
			s->gen_changes++;
		s->last_gen = s->cap.ports[0];
	}
	return NULL;
}

/* The list for generation @g, as "[10.0.0.1:g, ..., 10.0.0.10:g]". */
static void gen_list(char *buf, size_t len, unsigned int g)
{
	size_t o = 0;
	int i;

	o += (size_t)snprintf(buf + o, len - o, "[");
	for (i = 1; i <= LIST_LEN; i++)
		o += (size_t)snprintf(buf + o, len - o, "%s10.0.0.%d:%u",
				      i > 1 ? ", " : "", i, g);
	snprintf(buf + o, len - o, "]");
}

static void test_d4_media_never_sees_a_torn_list(void **state)
{
	struct stress *s = calloc(1, sizeof(*s));
	struct d4_host host = {.send = stress_send};
	char text[2048], old[512], cur[512], err[256];
	pthread_t media;
	unsigned int g;

	assert_non_null(s);
	host.ctx = &s->cap;
	s->rt = d4_runtime_new(&host);
	assert_int_equal(exec(s->rt, seed, &s->handle, err, sizeof(err)), 0);
	assert_int_equal(d4_start(s->rt, s->handle), 0);
	assert_int_equal(pthread_create(&media, NULL, media_thread, s), 0);
	gen_list(old, sizeof(old), 1);
	snprintf(text, sizeof(text), "_receivers = %s", old);
	assert_int_equal(exec(s->rt, text, NULL, err, sizeof(err)), 0);
	for (g = 2; g < 20000; g++) {
		gen_list(cur, sizeof(cur), g);
		/* every other generation by -= and +=, the rest by = */
		if (g % 2)
			snprintf(text, sizeof(text), "_receivers = %s", cur);
		else
			snprintf(text, sizeof(text),
				 "_receivers -= %s\n_receivers += %s", old,
				 cur);
		assert_int_equal(exec(s->rt, text, NULL, err, sizeof(err)), 0);
		memcpy(old, cur, sizeof(old));
	}
	atomic_store(&s->done, true);
	pthread_join(media, NULL);
	print_message("# %ld runs, %ld generation changes seen\n", s->runs,
		      s->gen_changes);
	assert_int_equal(s->torn, 0);
	assert_int_equal(s->short_lists, 0);
	assert_true(s->runs >= 1000);
	assert_true(s->gen_changes > 0);
	d4_runtime_destroy(s->rt);
	free(s);
}

struct by_way {
	int copied, kept;
	const uint8_t *kept_pkt;
};

static int copy_send(void *ctx, int handle, const uint8_t *pkt, size_t len,
		     const struct sockaddr_in *dst)
{
	((struct by_way *)ctx)->copied++;
	return 0;
}

static int kept_send(void *ctx, int handle, const uint8_t *pkt, size_t len,
		     const struct sockaddr_in *dst)
{
	struct by_way *w = ctx;

	w->kept++;
	w->kept_pkt = pkt;
	return 0;
}

/* A loop with no store to its packet sends through send_unchanged (the
 * host may queue the packet itself); one that writes the packet through
 * send (the host copies), and so does every loop of a host without
 * send_unchanged. */
static void test_d4_unchanged_packets_go_through_send_unchanged(void **state)
{
	struct by_way w = {0};
	struct d4_host host = {
	    .send = copy_send, .send_unchanged = kept_send, .ctx = &w};
	struct d4_runtime *rt = d4_runtime_new(&host);
	uint8_t pkt[16] = {0x80, 96};
	char err[256];
	int ro, rw;

	assert_non_null(rt);
	assert_int_equal(exec(rt,
			      "loop ro {\npkt = recv()\n"
			      "sendto(pkt, 10.0.0.5:5004)\n}\n",
			      &ro, err, sizeof(err)),
			 0);
	assert_int_equal(exec(rt,
			      "loop rw {\npkt = recv()\n"
			      "sendto(pkt, 10.0.0.5:5004)\npkt[1] = 97\n"
			      "sendto(pkt, 10.0.0.5:5005)\n}\n",
			      &rw, err, sizeof(err)),
			 0);
	d4_start(rt, ro);
	d4_start(rt, rw);
	assert_int_equal(d4_run(rt, ro, pkt, sizeof(pkt), NULL), 1);
	assert_int_equal(w.kept, 1);
	assert_ptr_equal(w.kept_pkt, pkt);
	assert_int_equal(w.copied, 0);
	assert_int_equal(d4_run(rt, rw, pkt, sizeof(pkt), NULL), 2);
	assert_int_equal(w.kept, 1);
	assert_int_equal(w.copied, 2);
	assert_int_equal(pkt[1], 97);
	d4_runtime_destroy(rt);

	memset(&w, 0, sizeof(w));
	host.send_unchanged = NULL;
	rt = d4_runtime_new(&host);
	assert_int_equal(exec(rt,
			      "loop ro {\npkt = recv()\n"
			      "sendto(pkt, 10.0.0.5:5004)\n}\n",
			      &ro, err, sizeof(err)),
			 0);
	d4_start(rt, ro);
	assert_int_equal(d4_run(rt, ro, pkt, sizeof(pkt), NULL), 1);
	assert_int_equal(w.copied, 1);
	assert_int_equal(w.kept, 0);
	d4_runtime_destroy(rt);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_d4_exec_gives_handles_only_for_loops),
	    cmocka_unit_test(test_d4_exec_is_all_or_nothing),
	    cmocka_unit_test(test_d4_introspection_reports_programs_and_vars),
	    cmocka_unit_test(test_d4_run_rejects_bad_arguments),
	    cmocka_unit_test(test_d4_remove_frees_a_stopped_loop),
	    cmocka_unit_test(test_d4_full_runtime_returns_enospc),
	    cmocka_unit_test(test_d4_text_longer_than_limit_is_refused),
	    cmocka_unit_test(test_d4_loop_longer_than_code_limit_is_refused),
	    cmocka_unit_test(test_d4_program_dump_names_opcodes),
	    cmocka_unit_test(test_d4_media_never_sees_a_torn_list),
	    cmocka_unit_test(test_d4_unchanged_packets_go_through_send_unchanged),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
