/* A library loaded when first needed (dlopen), its functions in a table
 * of pointers: for what most nodes never use and that costs resident
 * memory just by being linked (its relocations, its constructors and
 * the code they touch, and the libraries it brings): libcurl
 * (node/curl_lib.h) and libsndfile (node/sndfile_lib.h). */
#ifndef D4_COMMON_DLIB_H
#define D4_COMMON_DLIB_H

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

#endif
