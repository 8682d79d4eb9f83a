/* The kernel back end when d4 was built without libbpf (kernel.h): every
 * attach is refused with that reason, so "auto" keeps loops on the VM and
 * "kernel" fails clearly. */
#include "d4/kernel.h"
#include "d4/bpf.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NO_LIBBPF "d4 was built without libbpf (libbpf-dev)"

struct d4_kern {
	struct d4_runtime *rt;
	bool tried[D4_MAX_PROGRAMS];
};

struct d4_kern *d4_kern_new(struct d4_runtime *rt)
{
	struct d4_kern *k = calloc(1, sizeof(*k));

	if (k)
		k->rt = rt;
	return k;
}

void d4_kern_destroy(struct d4_kern *k)
{
	free(k);
}

int d4_kern_probe(char *why, size_t why_len)
{
	if (why && why_len)
		snprintf(why, why_len, NO_LIBBPF);
	return -ENOSYS;
}

int d4_kern_attach(struct d4_kern *k, int handle, const struct d4_kern_opts *o,
		   char *why, size_t why_len)
{
	(void)o;
	if (handle >= 0 && handle < D4_MAX_PROGRAMS)
		k->tried[handle] = true;
	return d4_kern_probe(why, why_len);
}

int d4_kern_apply(struct d4_kern *k, int handle, enum d4_backend backend,
		  const struct d4_kern_opts *o, char *msg, size_t msg_len)
{
	struct d4_program_info info;

	if (msg && msg_len)
		msg[0] = '\0';
	if (d4_program_info(k->rt, handle, &info))
		return -ENOENT;
	if (backend == D4_BACKEND_VM)
		return 0;
	d4_kern_attach(k, handle, o, NULL, 0);
	if (msg && msg_len)
		snprintf(msg, msg_len, "%sloop %s: %s",
			 backend == D4_BACKEND_KERNEL ? "" : "d4: ", info.name,
			 NO_LIBBPF);
	return backend == D4_BACKEND_KERNEL ? -ENOSYS : 0;
}

/* Translated and checked for structure; nothing can be loaded. */
int d4_kern_check(struct d4_runtime *rt, int handle,
		  const struct d4_kern_opts *o, bool load, char *why,
		  size_t why_len)
{
	struct d4_program_info info;
	struct d4_bpf_opts bo = {0};
	struct d4_bpf_prog *p;
	int ret;

	if (d4_program_info(rt, handle, &info))
		return -ENOENT;
	bo.bind_addr = info.bind_kind == D4_BIND_UDP
			   ? ntohl(info.bind_addr.sin_addr.s_addr)
			   : 0x0a000001;
	bo.bind_port = info.bind_kind == D4_BIND_UDP
			   ? ntohs(info.bind_addr.sin_port)
			   : 5004;
	bo.src_port = o && o->src_port ? o->src_port : bo.bind_port;
	bo.max_payload = 1472;
	bo.pass_original = o && o->pass_original;
	ret = d4_bpf_translate(d4_runtime_code(rt, handle), &bo, &p, why,
			       why_len);
	if (ret)
		return ret;
	if (d4_bpf_check(p, why, why_len))
		ret = -EIO;
	else if (load)
		ret = d4_kern_probe(why, why_len);
	d4_bpf_free(p);
	return ret;
}

int d4_kern_detach(struct d4_kern *k, int handle)
{
	(void)k;
	(void)handle;
	return -ENOENT;
}

bool d4_kern_attached(const struct d4_kern *k, int handle)
{
	(void)k;
	(void)handle;
	return false;
}

int d4_kern_sync(struct d4_kern *k, char *why, size_t why_len)
{
	(void)k;
	if (why && why_len)
		why[0] = '\0';
	return 0;
}

void d4_kern_poll(struct d4_kern *k)
{
	(void)k;
}

int d4_kern_program_info(struct d4_kern *k, int handle,
			 struct d4_program_info *info)
{
	int ret = d4_program_info(k->rt, handle, info);

	if (!ret && handle < D4_MAX_PROGRAMS && k->tried[handle])
		snprintf(info->backend_why, sizeof(info->backend_why), "%s",
			 NO_LIBBPF);
	return ret;
}

int d4_kern_stats(struct d4_kern *k, int handle, struct d4_kern_stats *st)
{
	(void)k;
	(void)handle;
	(void)st;
	return -ENOENT;
}
