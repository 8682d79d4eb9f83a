/* libcurl by dlopen() (see curl_lib.h). */
#include "node/curl_lib.h"
#include "common/dlib.h"
#include "common/log.h"

#include <stdbool.h>

/* Debian's libcurl4 (OpenSSL); the soname every libcurl since 7.16 has */
#define CURL_SONAME "libcurl.so.4"

#define SYM(f) DLIB_SYM(struct curl_lib, "curl_", f)
static const struct dlib_sym syms[] = {
    SYM(multi_init),	      SYM(multi_setopt),    SYM(multi_socket_action),
    SYM(multi_assign),	      SYM(multi_info_read), SYM(multi_add_handle),
    SYM(multi_remove_handle), SYM(multi_cleanup),   SYM(easy_init),
    SYM(easy_setopt),	      SYM(easy_getinfo),    SYM(easy_perform),
    SYM(easy_cleanup),	      SYM(easy_strerror),   SYM(slist_append),
    SYM(slist_free_all),      SYM(global_init),
};
#undef SYM

static struct curl_lib lib;
static bool loaded, tried;

const struct curl_lib *curl_lib(void)
{
	char err[256];

	if (tried)
		return loaded ? &lib : NULL;
	tried = true;
	if (!dlib_load(CURL_SONAME, syms, sizeof(syms) / sizeof(syms[0]), &lib,
		       err, sizeof(err))) {
		log_err("nmos: %s: no registration (Debian package libcurl4)", err);
		return NULL;
	}
	if (lib.global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		log_err("nmos: curl_global_init failed: no registration");
		return NULL;
	}
	loaded = true;
	return &lib;
}

const struct curl_lib *curl_lib_loaded(void)
{
	return loaded ? &lib : NULL;
}
