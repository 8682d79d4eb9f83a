/* Parsers of d4ctl's operands (args.h). Every rejection quotes the input. */
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "controller-cli/args.h"

static int parse_uint(const char *s, size_t len, unsigned long *v)
{
	unsigned long x = 0;

	if (len == 0 || len > 9)
		return -EINVAL;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		x = x * 10 + (unsigned long)(s[i] - '0');
	}
	*v = x;
	return 0;
}

int args_parse_channels(const char *s, uint8_t *ch, unsigned int max, char *err,
			size_t err_len)
{
	unsigned int n = 0;
	const char *p = s;

	if (!*s) {
		snprintf(err, err_len, "no channels given");
		return -EINVAL;
	}
	for (;;) {
		const char *end = strchr(p, ',');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		const char *dash = memchr(p, '-', len);
		unsigned long lo, hi;

		if (dash) {
			if (parse_uint(p, (size_t)(dash - p), &lo) < 0 ||
			    parse_uint(dash + 1, len - (size_t)(dash - p) - 1,
				       &hi) < 0) {
				snprintf(err, err_len,
					 "'%.*s' is not a channel range (e.g. "
					 "1-8)",
					 (int)len, p);
				return -EINVAL;
			}
		} else if (parse_uint(p, len, &lo) < 0) {
			snprintf(err, err_len, "'%.*s' is not a channel number",
				 (int)len, p);
			return -EINVAL;
		} else {
			hi = lo;
		}
		if (lo < 1 || hi > ARGS_MAX_CHANNELS) {
			snprintf(err, err_len, "'%.*s': channels are 1-%d",
				 (int)len, p, ARGS_MAX_CHANNELS);
			return -EINVAL;
		}
		if (lo > hi) {
			snprintf(err, err_len,
				 "'%.*s': the range runs backwards", (int)len,
				 p);
			return -EINVAL;
		}
		for (unsigned long c = lo; c <= hi; c++) {
			for (unsigned int i = 0; i < n; i++) {
				if (ch[i] == c) {
					snprintf(err, err_len,
						 "channel %lu given twice", c);
					return -EINVAL;
				}
			}
			if (n == max) {
				snprintf(err, err_len, "more than %u channels",
					 max);
				return -EINVAL;
			}
			ch[n++] = (uint8_t)c;
		}
		if (!end)
			break;
		p = end + 1;
	}
	return (int)n;
}

void args_format_channels(const uint8_t *ch, unsigned int n, char *buf,
			  size_t len)
{
	size_t off = 0;
	unsigned int i = 0;

	if (len)
		buf[0] = '\0';
	while (i < n && off < len) {
		unsigned int j = i;
		int w;

		while (j + 1 < n && ch[j + 1] == ch[j] + 1)
			j++;
		if (j > i)
			w = snprintf(buf + off, len - off, "%s%u-%u",
				     off ? "," : "", ch[i], ch[j]);
		else
			w = snprintf(buf + off, len - off, "%s%u",
				     off ? "," : "", ch[i]);
		if (w < 0)
			return;
		off += (size_t)w;
		i = j + 1;
	}
}

static int copy_name(const char *what, const char *s, const char *p, size_t len,
		     char *dst, size_t dst_len, char *err, size_t err_len)
{
	if (len == 0) {
		snprintf(err, err_len, "'%s': empty %s", s, what);
		return -EINVAL;
	}
	if (len >= dst_len) {
		snprintf(err, err_len, "'%s': %s longer than %zu characters", s,
			 what, dst_len - 1);
		return -EINVAL;
	}
	if (memchr(p, '"', len)) {
		snprintf(err, err_len, "'%s': stray '\"' in the %s", s, what);
		return -EINVAL;
	}
	memcpy(dst, p, len);
	dst[len] = '\0';
	return 0;
}

int args_parse_chanspec(const char *s, struct chanspec *cs, char *err,
			size_t err_len)
{
	const char *at, *t;
	size_t tlen;
	int n;

	memset(cs, 0, sizeof(*cs));
	if (s[0] == '"') {
		const char *q = strchr(s + 1, '"');

		if (!q) {
			snprintf(err, err_len, "'%s': unterminated '\"'", s);
			return -EINVAL;
		}
		if (copy_name("channel name", s, s + 1, (size_t)(q - s - 1),
			      cs->chan_name, sizeof(cs->chan_name), err,
			      err_len) < 0)
			return -EINVAL;
		at = q + 1;
		if (*at != '@') {
			snprintf(err, err_len,
				 "'%s': expected '@' after the quoted channel "
				 "name",
				 s);
			return -EINVAL;
		}
	} else {
		at = strchr(s, '@');
		if (!at) {
			snprintf(err, err_len,
				 "'%s' has no '@': expected CHANNELS@NODE, "
				 "e.g. 1-2@stagebox",
				 s);
			return -EINVAL;
		}
		if (at == s) {
			snprintf(err, err_len,
				 "'%s': no channels before '@' (e.g. 1-2@%s)",
				 s, s + 1);
			return -EINVAL;
		}
		if (s[0] >= '0' && s[0] <= '9') {
			char chans[64], msg[200];

			if ((size_t)(at - s) >= sizeof(chans)) {
				snprintf(err, err_len,
					 "'%s': channel list too long", s);
				return -EINVAL;
			}
			memcpy(chans, s, (size_t)(at - s));
			chans[at - s] = '\0';
			n = args_parse_channels(
			    chans, cs->ch, ARGS_MAX_CHANNELS, msg, sizeof(msg));
			if (n < 0) {
				snprintf(err, err_len, "'%s': %s", s, msg);
				return n;
			}
			cs->nch = (unsigned int)n;
		} else if (copy_name("channel name", s, s, (size_t)(at - s),
				     cs->chan_name, sizeof(cs->chan_name), err,
				     err_len) < 0) {
			return -EINVAL;
		}
	}
	t = at + 1;
	tlen = strlen(t);
	if (tlen == 0) {
		snprintf(err, err_len,
			 "'%s': no node after '@' (a name, ADDR:PORT or "
			 "\"stream name\")",
			 s);
		return -EINVAL;
	}
	if (t[0] == '"') {
		if (tlen < 2 || t[tlen - 1] != '"') {
			snprintf(err, err_len,
				 "'%s': unterminated '\"' in the stream name",
				 s);
			return -EINVAL;
		}
		cs->stream = true;
		return copy_name("stream name", s, t + 1, tlen - 2, cs->target,
				 sizeof(cs->target), err, err_len);
	}
	return copy_name("node name", s, t, tlen, cs->target,
			 sizeof(cs->target), err, err_len);
}

int args_parse_node_sub(const char *s, char *node, size_t node_len, char *name,
			size_t name_len, char *err, size_t err_len)
{
	const char *slash = strchr(s, '/');

	if (!slash) {
		snprintf(err, err_len,
			 "'%s' has no '/': expected NODE/SUBSCRIPTION", s);
		return -EINVAL;
	}
	if (slash == s || !slash[1]) {
		snprintf(err, err_len,
			 "'%s': expected NODE/SUBSCRIPTION, both non-empty", s);
		return -EINVAL;
	}
	if ((size_t)(slash - s) >= node_len || strlen(slash + 1) >= name_len) {
		snprintf(err, err_len, "'%s': name too long", s);
		return -EINVAL;
	}
	memcpy(node, s, (size_t)(slash - s));
	node[slash - s] = '\0';
	snprintf(name, name_len, "%s", slash + 1);
	return 0;
}

int args_parse_latency(const char *s, unsigned int min_us, unsigned int max_us,
		       unsigned int *us, char *err, size_t err_len)
{
	char *end;
	double v, scale = 1000.0;

	errno = 0;
	v = strtod(s, &end);
	if (end == s || errno || !isfinite(v)) {
		snprintf(err, err_len,
			 "'%s' is not a latency (ms, e.g. 2 or 0.5; or 500us)",
			 s);
		return -EINVAL;
	}
	if (!strcmp(end, "us"))
		scale = 1.0;
	else if (*end && strcmp(end, "ms")) {
		snprintf(err, err_len, "'%s': unknown unit '%s' (ms or us)", s,
			 end);
		return -EINVAL;
	}
	v = round(v * scale);
	if (v < min_us || v > max_us) {
		snprintf(err, err_len,
			 "latency '%s' is out of range (%.2f-%.0f ms)", s,
			 min_us / 1000.0, max_us / 1000.0);
		return -EINVAL;
	}
	*us = (unsigned int)v;
	return 0;
}

bool args_is_addr_port(const char *s)
{
	const char *colon = strrchr(s, ':');
	char host[INET_ADDRSTRLEN];
	struct in_addr a;
	unsigned long port;

	if (!colon || (size_t)(colon - s) >= sizeof(host))
		return false;
	memcpy(host, s, (size_t)(colon - s));
	host[colon - s] = '\0';
	if (inet_pton(AF_INET, host, &a) != 1)
		return false;
	if (parse_uint(colon + 1, strlen(colon + 1), &port) < 0)
		return false;
	return port >= 1 && port <= 65535;
}

bool args_host(const char *s, char *out, size_t len)
{
	struct in_addr a;
	int n;

	if (args_is_addr_port(s))
		n = snprintf(out, len, "%s", s);
	else if (inet_pton(AF_INET, s, &a) == 1)
		n = snprintf(out, len, "%s:%d", s, ARGS_API_PORT);
	else
		return false;
	return n > 0 && (size_t)n < len;
}

void args_url_escape(const char *s, char *buf, size_t len)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;

	for (; *s && o + 4 <= len; s++) {
		unsigned char c = (unsigned char)*s;

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '_' ||
		    c == '.' || c == '~') {
			buf[o++] = (char)c;
		} else {
			buf[o++] = '%';
			buf[o++] = hex[c >> 4];
			buf[o++] = hex[c & 15];
		}
	}
	if (len)
		buf[o < len ? o : len - 1] = '\0';
}
