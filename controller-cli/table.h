/* Plain-text tables for d4ctl's default output: columns as wide as their
 * widest cell, two spaces apart, a header row in capitals. */
#ifndef D4_CONTROLLER_CLI_TABLE_H
#define D4_CONTROLLER_CLI_TABLE_H

#include <stdio.h>

struct table;

/* A table with @ncols columns named by the NULL-terminated @headers. */
struct table *table_new(const char *const *headers);
void table_destroy(struct table *t);

/* Add a row of ncols cells (copied; NULL prints "-"). 0 or -ENOMEM. */
int table_add(struct table *t, const char *const *cells);

void table_print(const struct table *t, FILE *out);

#endif
