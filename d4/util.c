/* Small pieces every stage of libd4 uses: the first-error diagnostic, the
 * per-compilation arena, names of types, endpoint text. */
#include "d4/internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

const char *const d4_error_formats[] = {
#define D4_ERR_STR(f) f,
    D4_ERRORS(D4_ERR_STR)
#undef D4_ERR_STR
	NULL,
};

static void diag_add(struct d4_diag *d, int line, int col, const char *fmt,
		     va_list ap)
{
	struct d4_diag_entry *e;

	if (!d->failed) {
		d->failed = true;
		d->line = line;
		d->col = col;
		vsnprintf(d->msg, sizeof(d->msg), fmt, ap);
		return;
	}
	if (d->nmore == D4_DIAG_MORE)
		return;
	e = &d->more[d->nmore++];
	e->line = line;
	e->col = col;
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
}

void d4_diag_set(struct d4_diag *d, int line, int col, const char *fmt, ...)
{
	va_list ap;

	if (d->hard)
		return;
	d->hard = true;
	va_start(ap, fmt);
	diag_add(d, line, col, fmt, ap);
	va_end(ap);
}

void d4_diag_soft(struct d4_diag *d, int line, int col, const char *fmt, ...)
{
	va_list ap;

	if (d->hard)
		return;
	va_start(ap, fmt);
	diag_add(d, line, col, fmt, ap);
	va_end(ap);
}

void d4_diag_format(const struct d4_diag *d, char *buf, size_t len)
{
	size_t o;
	int i;

	if (!len)
		return;
	snprintf(buf, len, "%d:%d: %s", d->line, d->col, d->msg);
	for (i = 0; i < d->nmore; i++) {
		o = strlen(buf);
		snprintf(buf + o, len - o, "\n%d:%d: %s", d->more[i].line,
			 d->more[i].col, d->more[i].msg);
	}
}

static const char *const backend_names[] = {
    [D4_BACKEND_AUTO] = "auto",
    [D4_BACKEND_VM] = "vm",
    [D4_BACKEND_KERNEL] = "kernel",
};

int d4_backend_parse(const char *text, enum d4_backend *out)
{
	unsigned int i;

	for (i = 0; i < sizeof(backend_names) / sizeof(backend_names[0]); i++)
		if (text && !strcasecmp(text, backend_names[i])) {
			*out = (enum d4_backend)i;
			return 0;
		}
	return -EINVAL;
}

const char *d4_backend_name(enum d4_backend b)
{
	if ((unsigned int)b < sizeof(backend_names) / sizeof(backend_names[0]))
		return backend_names[b];
	return "?";
}

struct d4_arena_chunk {
	struct d4_arena_chunk *next;
	size_t size;
	size_t used;
	max_align_t data[];
};

#define ARENA_CHUNK (64 * 1024)

void *d4_arena_alloc(struct d4_arena *a, size_t size)
{
	struct d4_arena_chunk *c = a->head;
	size_t align = sizeof(max_align_t);
	void *p;

	size = (size + align - 1) / align * align;
	if (!c || c->size - c->used < size) {
		size_t cap = size > ARENA_CHUNK ? size : ARENA_CHUNK;

		c = malloc(sizeof(*c) + cap);
		if (!c)
			return NULL;
		c->next = a->head;
		c->size = cap;
		c->used = 0;
		a->head = c;
	}
	p = (char *)c->data + c->used;
	c->used += size;
	memset(p, 0, size);
	return p;
}

void d4_arena_free(struct d4_arena *a)
{
	struct d4_arena_chunk *c = a->head, *next;

	for (; c; c = next) {
		next = c->next;
		free(c);
	}
	a->head = NULL;
}

const char *d4_type_name(enum d4_type t)
{
	switch (t) {
	case D4T_INT:
		return "int";
	case D4T_IP:
		return "IP";
	case D4T_LIST:
		return "IP[]";
	case D4T_PKT:
		return "packet";
	case D4T_NONE:
		break;
	}
	return "nothing";
}

void d4_ep_format(uint64_t ep, char *buf, size_t len)
{
	uint32_t addr = (uint32_t)(ep >> 16);
	unsigned int port = ep & 0xffff;

	if (port)
		snprintf(buf, len, "%u.%u.%u.%u:%u", addr >> 24,
			 (addr >> 16) & 0xff, (addr >> 8) & 0xff, addr & 0xff,
			 port);
	else
		snprintf(buf, len, "%u.%u.%u.%u", addr >> 24,
			 (addr >> 16) & 0xff, (addr >> 8) & 0xff, addr & 0xff);
}
