/* SPDX-License-Identifier: MIT */
/*
 * csv.c - CSV files to tables (`send --csv NAME=FILE.csv`) and tables to CSV
 * (`listen --save-dir DIR --csv`). RFC 4180: comma-separated, fields quoted
 * with '"' and a doubled '"' inside, CRLF or LF line ends, a header row of
 * column names. Column types are inferred: int64, float64, bool, else utf8;
 * empty cells are nulls.
 */
#include "cli_common.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ======================================================================== */
/* Reading                                                                  */
/* ======================================================================== */

typedef struct field {
    size_t off, len; /* unquoted text in csv_reader.text */
    bool quoted;     /* "" is an empty string; an empty unquoted field is a null */
} field;

typedef struct csv_reader {
    const char *path;
    const char *p, *end;
    size_t line;        /* 1-based line of p */
    char *text;         /* every field's unquoted text, back to back */
    size_t text_len;
    field *fields;      /* row-major: rows * cols */
    size_t n_fields, cap_fields;
    size_t cols;
} csv_reader;

static int csv_error(const csv_reader *r, size_t line, size_t col, const char *what)
{
    cli_error("--csv: %s: line %zu, column %zu: %s", r->path, line, col, what);
    return CLI_USAGE;
}

static int push_field(csv_reader *r, size_t off, size_t len, bool quoted)
{
    if (r->n_fields == r->cap_fields) {
        size_t cap = r->cap_fields ? r->cap_fields * 2 : 256;
        field *g = realloc(r->fields, cap * sizeof *g);
        if (!g) {
            cli_error("out of memory reading %s", r->path);
            return CLI_RUNTIME;
        }
        r->fields = g;
        r->cap_fields = cap;
    }
    r->fields[r->n_fields++] = (field){off, len, quoted};
    return CLI_CONTINUE;
}

/* One field at r->p (col is 1-based); its unquoted text goes to r->text. */
static int read_field(csv_reader *r, size_t col)
{
    size_t off = r->text_len;
    bool quoted = r->p < r->end && *r->p == '"';
    if (quoted) {
        size_t open_line = r->line;
        for (r->p++;; r->p++) {
            if (r->p >= r->end)
                return csv_error(r, open_line, col, "unterminated quoted field");
            if (*r->p == '"' && r->p + 1 < r->end && r->p[1] == '"')
                r->p++; /* "" is one quote */
            else if (*r->p == '"')
                break;
            if (*r->p == '\n')
                r->line++;
            r->text[r->text_len++] = *r->p;
        }
        r->p++;
        if (r->p < r->end && *r->p != ',' && *r->p != '\n' && *r->p != '\r')
            return csv_error(r, r->line, col, "text after a closing quote");
    } else {
        for (; r->p < r->end && *r->p != ',' && *r->p != '\n' && *r->p != '\r'; r->p++) {
            if (*r->p == '"')
                return csv_error(r, r->line, col, "quote inside an unquoted field");
            r->text[r->text_len++] = *r->p;
        }
    }
    return push_field(r, off, r->text_len - off, quoted);
}

/* One record; *n gets its field count. */
static int read_record(csv_reader *r, size_t *n)
{
    int rc = CLI_CONTINUE;
    *n = 0;
    do {
        rc = read_field(r, ++*n);
    } while (rc == CLI_CONTINUE && r->p < r->end && *r->p == ',' && ++r->p);
    if (rc == CLI_CONTINUE && r->p < r->end) { /* the line end: CRLF or LF */
        if (*r->p == '\r' && (++r->p == r->end || *r->p != '\n'))
            return csv_error(r, r->line, *n, "carriage return not followed by a line feed");
        r->p++;
        r->line++;
    }
    return rc;
}

static int read_records(csv_reader *r)
{
    if (r->end - r->p >= 3 && memcmp(r->p, "\xef\xbb\xbf", 3) == 0)
        r->p += 3; /* a UTF-8 byte order mark, as spreadsheets write */
    if (r->p == r->end)
        return csv_error(r, 1, 1, "no header row");
    size_t n;
    int rc = read_record(r, &n);
    r->cols = n;
    while (rc == CLI_CONTINUE && r->p < r->end) {
        size_t line = r->line;
        rc = read_record(r, &n);
        if (rc == CLI_CONTINUE && n != r->cols) {
            char what[96];
            snprintf(what, sizeof what, "%zu fields, the header has %zu", n, r->cols);
            return csv_error(r, line, n < r->cols ? n + 1 : r->cols + 1, what);
        }
    }
    return rc;
}

/* ---- types ---------------------------------------------------------------- */

typedef enum { C_INT, C_FLOAT, C_BOOL, C_TEXT } csv_kind;

/* "007" or "02134" is an identifier (a code, a ZIP code): a number would lose its zeros. */
static bool leading_zero(const char *s, size_t n)
{
    size_t i = n && (s[0] == '-' || s[0] == '+') ? 1 : 0;
    return n - i >= 2 && s[i] == '0' && s[i + 1] >= '0' && s[i + 1] <= '9';
}

static bool parse_int(const char *s, size_t n, int64_t *v)
{
    char buf[32];
    size_t i = n && (s[0] == '-' || s[0] == '+') ? 1 : 0;
    if (n == i || n >= sizeof buf || strspn(s + i, "0123456789") < n - i || leading_zero(s, n))
        return false;
    memcpy(buf, s, n);
    buf[n] = '\0';
    errno = 0;
    long long x = strtoll(buf, NULL, 10);
    *v = x;
    return errno == 0;
}

/* Plain decimal numbers only: strtod would also take "inf", "nan" and hex. */
static bool parse_float(const char *s, size_t n, double *v)
{
    char buf[400];
    if (n == 0 || n >= sizeof buf || strspn(s, "0123456789+-.eE") < n ||
        strspn(s, "+-.eE") == n || leading_zero(s, n))
        return false;
    memcpy(buf, s, n);
    buf[n] = '\0';
    char *end;
    errno = 0;
    *v = strtod(buf, &end);
    /* 1e999 overflows to infinity: kept as text rather than changed. */
    return *end == '\0' && !(errno == ERANGE && (*v > 1 || *v < -1));
}

static bool parse_bool(const char *s, size_t n, bool *v)
{
    *v = n == 4 && strncasecmp(s, "true", 4) == 0;
    return *v || (n == 5 && strncasecmp(s, "false", 5) == 0);
}

/* The narrowest kind every non-empty cell of column c fits. */
static csv_kind infer(const csv_reader *r, size_t c, size_t rows)
{
    bool can_int = true, can_float = true, can_bool = true, any = false;
    for (size_t i = 1; i <= rows; i++) {
        const field *f = &r->fields[i * r->cols + c];
        const char *s = r->text + f->off;
        int64_t iv;
        double dv;
        bool bv;
        if (f->len == 0 && !f->quoted)
            continue; /* null */
        any = true;
        can_int = can_int && parse_int(s, f->len, &iv);
        can_float = can_float && (can_int || parse_float(s, f->len, &dv));
        can_bool = can_bool && parse_bool(s, f->len, &bv);
    }
    if (!any)
        return C_TEXT;
    return can_int ? C_INT : can_float ? C_FLOAT : can_bool ? C_BOOL : C_TEXT;
}

/* One column's Arrow buffers, filled from the CSV cells. */
typedef struct column_buffers {
    uint8_t *valid, *values;
    int32_t *offsets; /* C_TEXT only */
    char *data;       /* C_TEXT only */
} column_buffers;

/* Fills the buffers of column c; the text bytes used, or SIZE_MAX beyond int32 offsets. */
static size_t fill_column(const csv_reader *r, size_t c, size_t rows, csv_kind kind,
                          column_buffers *b)
{
    size_t used = 0;
    for (size_t i = 0; i < rows; i++) {
        const field *f = &r->fields[(i + 1) * r->cols + c];
        const char *txt = r->text + f->off;
        bool v = false;
        if (f->len || f->quoted)
            b->valid[i / 8] |= (uint8_t)(1u << (i % 8));
        if (kind == C_INT && f->len)
            parse_int(txt, f->len, (int64_t *)(void *)b->values + i);
        else if (kind == C_FLOAT && f->len)
            parse_float(txt, f->len, (double *)(void *)b->values + i);
        else if (kind == C_BOOL && f->len && parse_bool(txt, f->len, &v) && v)
            b->values[i / 8] |= (uint8_t)(1u << (i % 8));
        else if (kind == C_TEXT) {
            memcpy(b->data + used, txt, f->len);
            used += f->len;
            if (used > INT32_MAX) /* Arrow's utf8 has int32 offsets */
                return SIZE_MAX;
            b->offsets[i + 1] = (int32_t)used;
        }
    }
    return used;
}

/* Column c of the CSV as a new column of t; a CLI exit code (CLI_CONTINUE when added). */
static int add_column(nb_table *t, const csv_reader *r, size_t c, size_t rows)
{
    csv_kind kind = infer(r, c, rows);
    column_buffers b = {calloc(rows / 8 + 1, 1), calloc(rows * 8 + 1, 1),
                        kind == C_TEXT ? calloc(rows + 1, sizeof(int32_t)) : NULL,
                        kind == C_TEXT ? malloc(r->text_len + 1) : NULL};
    const field *name = &r->fields[c];
    char *col = strndup(r->text + name->off, name->len);
    int rc = CLI_CONTINUE;
    if (!col || !b.valid || !b.values || (kind == C_TEXT && (!b.offsets || !b.data))) {
        cli_error("out of memory reading %s", r->path);
        rc = CLI_RUNTIME;
    } else if (fill_column(r, c, rows, kind, &b) == SIZE_MAX) {
        cli_error("--csv: %s: column %zu holds more than 2 GiB of text", r->path, c + 1);
        rc = CLI_USAGE;
    } else {
        nb_column_type type = kind == C_INT ? NB_COL_INT64 : kind == C_FLOAT ? NB_COL_FLOAT64
                              : kind == C_BOOL ? NB_COL_BOOL : NB_COL_UTF8;
        nb_status s = nb_table_add_column(t, col, type, (int64_t)rows,
                                          kind == C_TEXT ? (const void *)b.data : b.values,
                                          b.offsets, b.valid);
        char what[300];
        snprintf(what, sizeof what, "--csv %s", r->path);
        if (s != NB_OK)
            rc = cli_fail(s == NB_NO_MEMORY ? CLI_RUNTIME : CLI_USAGE, s, what);
    }
    free(col);
    free(b.valid);
    free(b.values);
    free(b.offsets);
    free(b.data);
    return rc;
}

static int build_table(const csv_reader *r, nb_table **out)
{
    size_t rows = r->n_fields / r->cols - 1;
    if (rows > INT32_MAX) {
        cli_error("--csv: %s: %zu rows is more than a table payload holds", r->path, rows);
        return CLI_USAGE;
    }
    if (nb_table_create(out) != NB_OK)
        return cli_fail(CLI_RUNTIME, NB_NO_MEMORY, "--csv");
    int rc = CLI_CONTINUE;
    for (size_t c = 0; rc == CLI_CONTINUE && c < r->cols; c++)
        rc = add_column(*out, r, c, rows);
    if (rc != CLI_CONTINUE) {
        nb_table_destroy(*out);
        *out = NULL;
    }
    return rc;
}

int cli_csv_table(const char *path, nb_table **out)
{
    char *bytes = NULL;
    size_t len = 0;
    *out = NULL;
    int err = cli_read_file(path, &bytes, &len);
    if (err) {
        cli_error("--csv: cannot read '%s': %s", path, strerror(err));
        return CLI_USAGE;
    }
    csv_reader r = {.path = path, .p = bytes, .end = bytes + len, .line = 1,
                    .text = malloc(len + 1)};
    int rc = r.text ? read_records(&r) : CLI_RUNTIME;
    if (rc == CLI_CONTINUE)
        rc = build_table(&r, out);
    free(r.text);
    free(r.fields);
    free(bytes);
    return rc;
}

int cli_csv_payload(const char *name, const char *path, nb_payload **out)
{
    nb_table *t = NULL;
    int rc = cli_csv_table(path, &t);
    if (rc != CLI_CONTINUE)
        return rc;
    nb_status s = nb_payload_create_table(out, name, t, 0);
    nb_table_destroy(t);
    return s ? cli_fail(s == NB_NO_MEMORY ? CLI_RUNTIME : CLI_USAGE, s, "--csv") : CLI_CONTINUE;
}

/* ======================================================================== */
/* Writing                                                                  */
/* ======================================================================== */

/* Appends s as one CSV field, quoted when it holds a comma, quote or line end. */
static bool put_field(FILE *f, const char *s, size_t n, bool force_quotes)
{
    bool quote = force_quotes || memchr(s, ',', n) || memchr(s, '"', n) || memchr(s, '\n', n) ||
                 memchr(s, '\r', n);
    if (!quote)
        return fwrite(s, 1, n, f) == n;
    bool ok = fputc('"', f) != EOF;
    for (size_t i = 0; ok && i < n; i++)
        ok = (s[i] != '"' || fputc('"', f) != EOF) && fputc(s[i], f) != EOF;
    return ok && fputc('"', f) != EOF;
}

char *cli_csv_text(const nb_table *t, size_t *len)
{
    char *text = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&text, &n);
    if (!f)
        return NULL;
    size_t cols = nb_table_column_count(t);
    bool ok = true;
    for (size_t c = 0; ok && c < cols; c++) {
        nb_column_view v;
        ok = nb_table_column(t, c, &v) == NB_OK && (c == 0 || fputc(',', f) != EOF) &&
             put_field(f, v.name, strlen(v.name), false);
    }
    ok = ok && fputs("\r\n", f) != EOF;
    for (int64_t row = 0; ok && row < nb_table_rows(t); row++) {
        for (size_t c = 0; ok && c < cols; c++) {
            nb_column_view v;
            char *cell = NULL;
            size_t cell_len = 0;
            ok = nb_table_column(t, c, &v) == NB_OK && (c == 0 || fputc(',', f) != EOF);
            /* An empty string is written "" so that it stays apart from a null. */
            if (ok && !nb_table_is_null(&v, row))
                ok = nb_table_value_text(t, c, row, &cell, &cell_len) == NB_OK &&
                     put_field(f, cell, cell_len, cell_len == 0);
            free(cell);
        }
        ok = ok && fputs("\r\n", f) != EOF;
    }
    if (fclose(f) != 0 || !ok) {
        free(text);
        return NULL;
    }
    *len = n;
    return text;
}
