/* SPDX-License-Identifier: MIT */
/*
 * table_print.c - a received table as aligned text columns under its payload
 * line in `listen`'s human output: a header of names and types, the first
 * rows (--rows N, default 10), then how many were left out. Cells come off
 * the network, so control characters are shown as '?' and long cells are cut;
 * columns line up by display width (CJK and emoji take two columns).
 */
#include "cli_common.h"

#include <stdlib.h>
#include <string.h>

#define CELL_MAX_WIDTH 40 /* wider cells are cut, ending in "..." */

/* A cell made safe for a terminal: no control characters, at most CELL_MAX_WIDTH columns. */
typedef struct cell_text {
    char *s;      /* malloc'd */
    size_t width; /* terminal columns (cp_width of each code point) */
} cell_text;

typedef struct cp_range {
    uint32_t lo, hi;
} cp_range;

static bool in_ranges(uint32_t cp, const cp_range *r, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (cp >= r[i].lo && cp <= r[i].hi)
            return true;
    return false;
}

/*
 * Terminal columns of a code point, enough to keep columns aligned without a
 * locale (wcwidth needs one): 0 for combining marks and zero-width
 * characters, 2 for East Asian wide and fullwidth characters and emoji.
 */
static size_t cp_width(uint32_t cp)
{
    static const cp_range zero[] = {
        {0x0300, 0x036f}, {0x0483, 0x0489}, {0x0591, 0x05bd}, {0x0610, 0x061a},
        {0x064b, 0x065f}, {0x1ab0, 0x1aff}, {0x1dc0, 0x1dff}, {0x200b, 0x200d},
        {0x20d0, 0x20ff}, {0xfe00, 0xfe0f}, {0xfe20, 0xfe2f}, {0xfeff, 0xfeff},
        {0xe0100, 0xe01ef}};
    static const cp_range wide[] = {
        {0x1100, 0x115f},   {0x2e80, 0x303e},   {0x3041, 0x33ff},  {0x3400, 0x4dbf},
        {0x4e00, 0x9fff},   {0xa000, 0xa4cf},   {0xac00, 0xd7a3},  {0xf900, 0xfaff},
        {0xfe30, 0xfe4f},   {0xff00, 0xff60},   {0xffe0, 0xffe6},  {0x1f300, 0x1f64f},
        {0x1f680, 0x1f6ff}, {0x1f900, 0x1f9ff}, {0x20000, 0x3fffd}};
    if (in_ranges(cp, zero, sizeof zero / sizeof zero[0]))
        return 0;
    return in_ranges(cp, wide, sizeof wide / sizeof wide[0]) ? 2 : 1;
}

/*
 * The code point at s (n > 0 bytes left) and its byte length in *len; -1 (and
 * *len 1) for a byte that starts no sequence. Cells are checked UTF-8, but a
 * printer should not trust that.
 */
static long decode(const unsigned char *s, size_t n, size_t *len)
{
    unsigned char c = s[0];
    size_t k = c < 0x80 ? 1 : c >= 0xf5 ? 0 : c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 ? 2 : 0;
    *len = 1;
    if (k == 0 || k > n)
        return -1;
    long cp = k == 1 ? c : c & (0x7f >> k);
    for (size_t i = 1; i < k; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return -1;
        cp = cp << 6 | (s[i] & 0x3f);
    }
    *len = k;
    return cp;
}

/* Control characters (C0, DEL, C1) and bidi overrides could rewrite the terminal or the line. */
static bool unsafe(long cp)
{
    return cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) || (cp >= 0x202a && cp <= 0x202e) ||
           (cp >= 0x2066 && cp <= 0x2069);
}

/* Copies in[0, n) to out as far as max columns: unsafe bytes as '?'; the width in *width. */
static size_t copy_safe(const char *in, size_t n, char *out, size_t max, size_t *width)
{
    size_t i = 0, o = 0;
    *width = 0;
    while (i < n) {
        size_t len;
        long cp = decode((const unsigned char *)in + i, n - i, &len);
        bool bad = cp < 0 || unsafe(cp);
        size_t w = bad ? 1 : cp_width((uint32_t)cp);
        if (*width + w > max)
            break;
        if (out && bad)
            out[o] = '?';
        else if (out)
            memcpy(out + o, in + i, len);
        o += bad ? 1 : len;
        *width += w;
        i += len;
    }
    return o;
}

static cell_text sanitize(const char *in, size_t n)
{
    cell_text c = {malloc(n + 4), 0};
    if (!c.s)
        return c;
    size_t full;
    copy_safe(in, n, NULL, SIZE_MAX, &full);
    bool cut = full > CELL_MAX_WIDTH;
    size_t o = copy_safe(in, n, c.s, cut ? CELL_MAX_WIDTH - 3 : SIZE_MAX, &c.width);
    if (cut) {
        memcpy(c.s + o, "...", 3);
        o += 3;
        c.width += 3;
    }
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
    size_t pad = width > c->width ? width - c->width : 0;
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
        if (cells[i].width > width[i % cols])
            width[i % cols] = cells[i].width;
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
