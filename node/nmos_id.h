/* NMOS identifiers and times: name-based UUIDs (RFC 4122 version 5, SHA-1)
 * so that every resource of a node keeps its id across restarts, and TAI
 * timestamps as NMOS writes them ("<seconds>:<nanoseconds>"). */
#ifndef D4_NODE_NMOS_ID_H
#define D4_NODE_NMOS_ID_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NMOS_UUID_LEN 37 /* 36 characters and the NUL */
#define NMOS_TAI_LEN  32

/* SHA-1 of @len bytes (FIPS 180-4). */
void nmos_sha1(const void *data, size_t len, uint8_t out[20]);

/* The version 5 UUID of @name in namespace @ns ("xxxxxxxx-xxxx-5xxx-...",
 * lower case, into @out of NMOS_UUID_LEN). */
void nmos_uuid5(const uint8_t ns[16], const char *name,
		char out[NMOS_UUID_LEN]);
/* The same with the namespace given as UUID text; -EINVAL when @ns is
 * not one. */
int nmos_uuid5_str(const char *ns, const char *name, char out[NMOS_UUID_LEN]);
/* The 16 bytes of UUID text @s. 0 or -EINVAL. */
int nmos_uuid_parse(const char *s, uint8_t out[16]);
/* Whether @s is a UUID as NMOS schemas want it (lower case, version
 * 1-5, RFC 4122 variant). */
bool nmos_uuid_ok(const char *s);

/* "<seconds>:<nanoseconds>" of TAI time @ns. */
void nmos_tai_str(uint64_t ns, char out[NMOS_TAI_LEN]);
/* Parse "<seconds>:<nanoseconds>" (nanoseconds < 1e9). 0 or -EINVAL. */
int nmos_tai_parse(const char *s, uint64_t *ns);

#endif
