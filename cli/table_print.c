/*
 * table_print.c - a received table as aligned text columns under its payload
 * line in `listen`'s human output: a header of names and types, the first
 * rows (--rows N, default 10), then how many were left out. Cells come off
 * the network, so control characters are shown as '?' and long cells are cut.
 */
#include "cli_common.h"

#include <stdlib.h>
#include <string.h>

#define CELL_MAX_CHARS 40 /* longer cells are cut, ending in "..." */

/* A cell made safe for a terminal: no control characters, at most CELL_MAX_CHARS characters. */
typedef struct cell_text {
    char *s;      /* malloc'd */
    size_t chars; /* display width, counted in code points */
} cell_text;

static cell_text sanitize(const char *in, size_t n)
{
    cell_text c = {malloc(n + 4), 0};
    size_t o = 0;
    for (size_t i = 0; c.s && i < n; i++) {
        unsigned char ch = (unsigned char)in[i];
        bool starts_char = (ch & 0xc0) != 0x80;
        if (starts_char && c.chars == CELL_MAX_CHARS - 3 && n - i > 3) {
            memcpy(c.s + o, "...", 3);
            o += 3;
            c.chars += 3;
            break;
        }
        c.chars += starts_char;
        c.s[o++] = ch < 0x20 || ch == 0x7f ? '?' : (char)ch;
    }
    if (c.s)
        c.s[o] = '\0';
    return c;
}

static bool is_numeric(nb_column_type t)
{
    return t != NB_COL_BOOL && t != NB_COL_UTF8 && t != NB_COL_BINARY &&
           t != NB_COL_DATE32 && t != NB_COL_TIMESTAMP;
}

int cli_table_type_text(const nb_column_view *v, char *buf, size_t n)
{
    static const char units[][3] = {"s", "ms", "us", "ns"};
    if (v->type != NB_COL_TIMESTAMP)
        return snprintf(buf, n, "%s", nb_table_type_name(v->type));
    if (v->timezone)
        return snprintf(buf, n, "timestamp[%s, %s]", units[v->unit], v->timezone);
    return snprintf(buf, n, "timestamp[%s]", units[v->unit]);
}

static void print_padded(const cell_text *c, size_t width, bool right, bool last)
{
    size_t pad = width > c->chars ? width - c->chars : 0;
    if (right)
        printf("%*s%s", (int)pad, "", c->s ? c->s : "?");
    else if (last)
        printf("%s", c->s ? c->s : "?");
    else
        printf("%s%*s", c->s ? c->s : "?", (int)pad, "");
}

/* The header (names, then types) and shown rows, one cell_text per cell, row-major. */
static cell_text *collect(const nb_table *t, size_t cols, int64_t shown)
{
    cell_text *cells = calloc((size_t)(shown + 2) * cols, sizeof *cells);
    for (size_t c = 0; cells && c < cols; c++) {
        nb_column_view v;
        char type[160];
        nb_table_column(t, c, &v);
        cells[c] = sanitize(v.name, strlen(v.name));
        cli_table_type_text(&v, type, sizeof type);
        cells[cols + c] = sanitize(type, strlen(type));
        for (int64_t r = 0; r < shown; r++) {
            char *text = NULL;
            size_t len = 0;
            if (nb_table_is_null(&v, r))
                cells[(size_t)(r + 2) * cols + c] = sanitize("null", 4);
            else if (nb_table_value_text(t, c, r, &text, &len) == NB_OK)
                cells[(size_t)(r + 2) * cols + c] = sanitize(text, len);
            free(text);
        }
    }
    return cells;
}

void cli_print_table(const nb_table *t, int64_t max_rows, const char *indent)
{
    size_t cols = nb_table_column_count(t);
    int64_t rows = nb_table_rows(t);
    int64_t shown = rows < max_rows ? rows : max_rows;
    cell_text *cells = cols ? collect(t, cols, shown) : NULL;
    size_t *width = cols ? calloc(cols, sizeof *width) : NULL;
    if (cols && (!cells || !width)) {
        printf("%s(out of memory printing the table)\n", indent);
        cols = 0;
    }
    for (size_t i = 0; i < (size_t)(shown + 2) * cols; i++)
        if (cells[i].chars > width[i % cols])
            width[i % cols] = cells[i].chars;
    for (int64_t r = 0; r < shown + 2 && cols; r++) {
        printf("%s", indent);
        for (size_t c = 0; c < cols; c++) {
            nb_column_view v;
            nb_table_column(t, c, &v);
            bool right = r >= 2 && is_numeric(v.type);
            print_padded(&cells[(size_t)r * cols + c], width[c], right, c + 1 == cols);
            if (c + 1 < cols)
                printf("  ");
        }
        putchar('\n');
    }
    printf("%s(%lld row%s, %zu column%s%s)\n", indent, (long long)rows, rows == 1 ? "" : "s",
           nb_table_column_count(t), nb_table_column_count(t) == 1 ? "" : "s",
           shown < rows ? ", first rows shown; see --rows" : "");
    for (size_t i = 0; cells && i < (size_t)(shown + 2) * nb_table_column_count(t); i++)
        free(cells[i].s);
    free(cells);
    free(width);
}
