/* libcurl by dlopen() (see curl_lib.h). */
#include "node/curl_lib.h"
#include "common/log.h"

#include <dlfcn.h>
#include <stdbool.h>
#include <stddef.h>

/* Debian's libcurl4 (OpenSSL); the soname every libcurl since 7.16 has */
#define CURL_SONAME "libcurl.so.4"

static struct curl_lib lib;
static bool loaded, tried;

static const struct {
	const char *name;
	size_t off;
} syms[] = {
#define SYM(f) {"curl_" #f, offsetof(struct curl_lib, f)}
    SYM(multi_init),	 SYM(multi_setopt),	   SYM(multi_socket_action),
    SYM(multi_assign),	 SYM(multi_info_read),	   SYM(multi_add_handle),
    SYM(multi_remove_handle), SYM(multi_cleanup), SYM(easy_init),
    SYM(easy_setopt),	 SYM(easy_getinfo),	   SYM(easy_perform),
    SYM(easy_cleanup),	 SYM(easy_strerror),	   SYM(slist_append),
    SYM(slist_free_all),
#undef SYM
};

const struct curl_lib *curl_lib(void)
{
	CURLcode (*global_init)(long);
	void *dl;
	size_t i;

	if (loaded || tried)
		return loaded ? &lib : NULL;
	tried = true;
	dl = dlopen(CURL_SONAME, RTLD_NOW | RTLD_LOCAL);
	if (!dl) {
		log_err("nmos: cannot load %s (%s): no registration; install "
			"libcurl4",
			CURL_SONAME, dlerror());
		return NULL;
	}
	for (i = 0; i < sizeof(syms) / sizeof(syms[0]); i++) {
		void *f = dlsym(dl, syms[i].name);

		if (!f) {
			log_err("nmos: %s has no %s: no registration",
				CURL_SONAME, syms[i].name);
			dlclose(dl);
			return NULL;
		}
		*(void **)((char *)&lib + syms[i].off) = f;
	}
	*(void **)&global_init = dlsym(dl, "curl_global_init");
	if (!global_init || global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		log_err("nmos: curl_global_init failed: no registration");
		dlclose(dl);
		return NULL;
	}
	loaded = true;
	return &lib;
}

const struct curl_lib *curl_lib_loaded(void)
{
	return loaded ? &lib : NULL;
}
