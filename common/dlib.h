/* A library loaded when first needed (dlopen), its functions in a table
 * of pointers: for what most nodes never use and that costs resident
 * memory just by being linked (its relocations, its constructors and
 * the code they touch, and the libraries it brings): libcurl
 * (node/curl_lib.h), libsndfile (node/sndfile_lib.h), libasound
 * (node/alsa_lib.h) and libbpf (d4/kernel.c). */
#ifndef D4_COMMON_DLIB_H
#define D4_COMMON_DLIB_H

#include <stdbool.h>
#include <stddef.h>

/* A function's name and where its pointer goes in the table. */
struct dlib_sym {
	const char *name;
	size_t off;
};

#define DLIB_SYM(type, prefix, f)                                              \
	{                                                                      \
		prefix #f, offsetof(type, f)                                   \
	}

/* dlopen @soname and fill @table from @syms. The handle, or NULL with
 * why in @err (no such library; a function missing). Never unloaded. */
void *dlib_load(const char *soname, const struct dlib_sym *syms, size_t n,
		void *table, char *err, size_t err_len);

/* A library loaded once, by the first dlib_get() from any thread; a
 * failure is remembered and told again to every caller. */
struct dlib {
	const char *soname;
	const char *package; /* the Debian package that has it */
	const struct dlib_sym *syms;
	size_t nsyms;
	void *table;
	/* after the first dlib_get() */
	bool tried, loaded;
	char why[256];
};

#define DLIB_INIT(so, pkg, symtab, tab)                                        \
	{                                                                      \
		.soname = (so), .package = (pkg), .syms = (symtab),            \
		.nsyms = sizeof(symtab) / sizeof((symtab)[0]), .table = (tab)  \
	}

/* @l's table, loaded on the first call; NULL with why in @err ("cannot
 * load ...: ... (Debian package ...)"). */
const void *dlib_get(struct dlib *l, char *err, size_t err_len);

#endif
