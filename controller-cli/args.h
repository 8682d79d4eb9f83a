/* Parsers of d4ctl's operands: channel specs ("1-2@A", "Vox@A",
 * "1-2@\"stream name\""), "NODE/SUB", and millisecond values. Pure: no I/O,
 * errors quote the bad input and say what would be accepted. */
#ifndef D4_CONTROLLER_CLI_ARGS_H
#define D4_CONTROLLER_CLI_ARGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ARGS_MAX_CHANNELS 64
#define ARGS_NAME_MAX	  128

struct chanspec {
	unsigned int nch;	       /* channels by number; 0 with a name */
	uint8_t ch[ARGS_MAX_CHANNELS]; /* 1-based, in the order given */
	char chan_name[ARGS_NAME_MAX]; /* a channel by name, or "" */
	bool stream;		       /* target is a stream name, not a node */
	char target[ARGS_NAME_MAX];    /* node name, ADDR:PORT, or stream */
};

/* Parse CHANS@NODE or CHANS@"stream name". CHANS: numbers and ranges
 * separated by commas ("1-2", "1,3,5-8"), or one channel name (bare, or in
 * double quotes). 0, or -EINVAL with a message in @err. */
int args_parse_chanspec(const char *s, struct chanspec *cs, char *err,
			size_t err_len);

/* Parse a channel list ("1-8", "1,3,5-6") into @ch (at most @max). The
 * count, or -EINVAL with a message in @err. */
int args_parse_channels(const char *s, uint8_t *ch, unsigned int max, char *err,
			size_t err_len);

/* Format a channel list compactly: {1,2,3,5} -> "1-3,5". */
void args_format_channels(const uint8_t *ch, unsigned int n, char *buf,
			  size_t len);

/* Parse NODE/NAME into @node and @name. 0 or -EINVAL (@err). */
int args_parse_node_sub(const char *s, char *node, size_t node_len, char *name,
			size_t name_len, char *err, size_t err_len);

/* Parse a latency in ms ("2", "0.25", "2ms", "500us") into µs within
 * [@min_us, @max_us]. 0 or -EINVAL (@err). */
int args_parse_latency(const char *s, unsigned int min_us, unsigned int max_us,
		       unsigned int *us, char *err, size_t err_len);

/* Percent-encode @s for one URL path segment ("rx 1" -> "rx%201"). */
void args_url_escape(const char *s, char *buf, size_t len);

/* Whether @s is a numeric "A.B.C.D:PORT". */
bool args_is_addr_port(const char *s);

/* The node's API port when a user gives an address alone ([node] api's
 * default). */
#define ARGS_API_PORT 8080

/* @s as "A.B.C.D:PORT" in @out: as it is, or a bare "A.B.C.D" with
 * ARGS_API_PORT. false for anything else. */
bool args_host(const char *s, char *out, size_t len);

#endif
