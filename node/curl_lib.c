/* libcurl by dlopen() (see curl_lib.h). */
#include "node/curl_lib.h"
#include "common/dlib.h"
#include "common/log.h"

#include <stdbool.h>

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

static struct curl_lib table;
/* Debian's libcurl4 (OpenSSL); the soname every libcurl since 7.16 has */
static struct dlib lib = DLIB_INIT("libcurl.so.4", "libcurl4", syms, &table);
static bool ready, tried;

const struct curl_lib *curl_lib(void)
{
	const struct curl_lib *c;
	char err[300];

	if (tried)
		return ready ? &table : NULL;
	tried = true;
	if (!(c = dlib_get(&lib, err, sizeof(err)))) {
		log_err("nmos: %s: no registration", err);
		return NULL;
	}
	if (c->global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		log_err("nmos: curl_global_init failed: no registration");
		return NULL;
	}
	ready = true;
	return c;
}

const struct curl_lib *curl_lib_loaded(void)
{
	return ready ? &table : NULL;
}
