/* Plain-text tables (table.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "controller-cli/table.h"
#include "common/log.h"

struct table {
	unsigned int ncols;
	size_t nrows, cap; /* rows, the header included */
	char **cells;	   /* nrows * ncols */
};

struct table *table_new(const char *const *headers)
{
	struct table *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	while (headers[t->ncols])
		t->ncols++;
	if (table_add(t, headers) < 0) {
		table_destroy(t);
		return NULL;
	}
	return t;
}

void table_destroy(struct table *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->nrows * t->ncols; i++)
		free(t->cells[i]);
	free(t->cells);
	free(t);
}

int table_add(struct table *t, const char *const *cells)
{
	char **row;

	if (t->nrows == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 16;
		char **c = realloc(t->cells, cap * t->ncols * sizeof(*c));

		if (!c)
			return -ENOMEM;
		t->cells = c;
		t->cap = cap;
	}
	row = &t->cells[t->nrows * t->ncols];
	for (unsigned int i = 0; i < t->ncols; i++) {
		/* cells carry what the network said (SAP session names,
		 * stream names): escaped as the node's log is, so no name
		 * can break the table or drive the terminal */
		const char *c = cells[i] ? cells[i] : "-";
		size_t n = strlen(c) * 4 + 1;

		row[i] = malloc(n);
		if (row[i])
			log_escape(row[i], n, c);
		if (!row[i]) {
			while (i--)
				free(row[i]);
			return -ENOMEM;
		}
	}
	t->nrows++;
	return 0;
}

void table_print(const struct table *t, FILE *out)
{
	size_t w[32] = {0};

	for (size_t r = 0; r < t->nrows; r++)
		for (unsigned int c = 0; c < t->ncols && c < 32; c++) {
			size_t l = strlen(t->cells[r * t->ncols + c]);

			if (l > w[c])
				w[c] = l;
		}
	for (size_t r = 0; r < t->nrows; r++) {
		for (unsigned int c = 0; c < t->ncols; c++) {
			const char *cell = t->cells[r * t->ncols + c];

			if (c + 1 == t->ncols) {
				fputs(cell, out);
				break;
			}
			fprintf(out, "%-*s  ", (int)w[c < 32 ? c : 31], cell);
		}
		fputc('\n', out);
	}
}
