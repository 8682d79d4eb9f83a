/* libcurl, loaded when first needed: the node's only HTTP client is NMOS
 * registration (node/nmos_http.c), and most nodes never register. Linked,
 * libcurl and the libraries only it brings (OpenSSL, Kerberos, LDAP,
 * SSH...) were 3 MB of the node's resident memory at start whether or
 * not they were used (bench/scale.sh, "rss part"). Loaded with dlopen()
 * on the control thread, the first time a request is made; never
 * unloaded. */
#ifndef D4_NODE_CURL_LIB_H
#define D4_NODE_CURL_LIB_H

#include <curl/curl.h>

/* The functions of libcurl the node calls. */
struct curl_lib {
	CURLM *(*multi_init)(void);
	CURLMcode (*multi_setopt)(CURLM *, CURLMoption, ...);
	CURLMcode (*multi_socket_action)(CURLM *, curl_socket_t, int, int *);
	CURLMcode (*multi_assign)(CURLM *, curl_socket_t, void *);
	CURLMsg *(*multi_info_read)(CURLM *, int *);
	CURLMcode (*multi_add_handle)(CURLM *, CURL *);
	CURLMcode (*multi_remove_handle)(CURLM *, CURL *);
	CURLMcode (*multi_cleanup)(CURLM *);
	CURL *(*easy_init)(void);
	CURLcode (*easy_setopt)(CURL *, CURLoption, ...);
	CURLcode (*easy_getinfo)(CURL *, CURLINFO, ...);
	CURLcode (*easy_perform)(CURL *);
	void (*easy_cleanup)(CURL *);
	const char *(*easy_strerror)(CURLcode);
	struct curl_slist *(*slist_append)(struct curl_slist *, const char *);
	void (*slist_free_all)(struct curl_slist *);
	CURLcode (*global_init)(long);
};

/* libcurl, loaded and curl_global_init()ed on the first call; NULL when
 * it cannot be (the reason is logged once: install libcurl4). Control
 * thread only. */
const struct curl_lib *curl_lib(void);

/* libcurl if a curl_lib() call loaded it, else NULL: loads nothing. */
const struct curl_lib *curl_lib_loaded(void);

#endif
