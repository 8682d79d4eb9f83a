/* The browser controller's files, built into d4ctl (ui/embed.c). */
#ifndef D4_CONTROLLER_CLI_UI_ASSETS_H
#define D4_CONTROLLER_CLI_UI_ASSETS_H

#include <stddef.h>

struct ui_asset {
	const char *path; /* "/ui.js" */
	const char *type; /* Content-Type */
	const unsigned char *data;
	size_t len;
};

/* Ends with an entry whose path is NULL. */
extern const struct ui_asset ui_assets[];

#endif
