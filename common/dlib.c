/* Loading a library when first needed (see dlib.h). */
#include "common/dlib.h"

#include <dlfcn.h>
#include <pthread.h>
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

static pthread_mutex_t get_lock = PTHREAD_MUTEX_INITIALIZER;

const void *dlib_get(struct dlib *l, char *err, size_t err_len)
{
	bool loaded;

	pthread_mutex_lock(&get_lock);
	if (!l->tried) {
		char why[sizeof(l->why) - 64];

		l->tried = true;
		l->loaded = dlib_load(l->soname, l->syms, l->nsyms, l->table,
				      why, sizeof(why)) != NULL;
		if (!l->loaded)
			snprintf(l->why, sizeof(l->why),
				 "%s (Debian package %s)", why, l->package);
	}
	loaded = l->loaded;
	pthread_mutex_unlock(&get_lock);
	if (loaded)
		return l->table;
	snprintf(err, err_len, "%s", l->why);
	return NULL;
}
