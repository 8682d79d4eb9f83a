/* Loading a library when first needed (see dlib.h). */
#include "common/dlib.h"

#include <dlfcn.h>
#include <stdio.h>

void *dlib_load(const char *soname, const struct dlib_sym *syms, size_t n,
		void *table, char *err, size_t err_len)
{
	void *dl = dlopen(soname, RTLD_NOW | RTLD_LOCAL);
	size_t i;

	if (!dl) {
		snprintf(err, err_len, "cannot load %s: %s", soname, dlerror());
		return NULL;
	}
	for (i = 0; i < n; i++) {
		void *f = dlsym(dl, syms[i].name);

		if (!f) {
			snprintf(err, err_len, "%s has no %s", soname,
				 syms[i].name);
			dlclose(dl);
			return NULL;
		}
		*(void **)((char *)table + syms[i].off) = f;
	}
	return dl;
}
