/* SPDX-License-Identifier: MIT */
/*
 * table_send.c - build a table, send it, read it back, hand it to Arrow.
 *
 * A table is built column by column in Arrow's own layout (values, int32
 * offsets for strings, a validity bitmap for nulls), travels as a "table"
 * payload (an Arrow IPC stream, what the Julia, JS and Python peers read),
 * and is read on the other side through nb_column_view. Finally it is
 * exported as Arrow C Data Interface structs and their layout printed: the
 * ABI that Arrow C++ (arrow::ImportRecordBatch), nanoarrow, DuckDB and polars
 * import, though this example hands them to none of those. NATS_URL says
 * where the server is (default nats://localhost:4222).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include <natsbridge.h>

#include "example.h" /* TRY, nats_url, example_connect */

#define ROWS 4

/* Four rows of wine orders in Arrow's layout: id, price, name (one unknown), when ordered. */
static const int64_t ids[ROWS] = {101, 102, 103, 104};
static const double prices[ROWS] = {12.5, 30.0, 7.25, 18.0};
static const char names[] = "RieslingMerlotChablis"; /* row 2 is null: empty */
static const int32_t name_offsets[ROWS + 1] = {0, 8, 14, 14, 21};
static const uint8_t name_validity[1] = {0x0b}; /* rows 0, 1, 3 valid: 0b1011 */
static const int64_t ordered_ms[ROWS] = {1767225600000, 1767229200000, 1767232800000,
                                         1767236400000}; /* 2026-01-01T00:00Z + 1 h steps */

/* The receiver's side: a header, then every value as text (a null as "null"). */
static nb_status print_table(const nb_table *t)
{
    nb_column_view col;
    for (int64_t r = -1; r < nb_table_rows(t); r++) { /* row -1: the header */
        for (size_t c = 0; c < nb_table_column_count(t); c++) {
            char *text = NULL;
            nb_status s = nb_table_column(t, c, &col);
            if (s == NB_OK && r >= 0)
                s = nb_table_value_text(t, c, r, &text, NULL); /* a null is "" */
            if (s != NB_OK)
                return s;
            if (r < 0)
                printf("%s%s:%s", c ? " | " : "", col.name, nb_table_type_name(col.type));
            else
                printf("%s%s", c ? " | " : "", nb_table_is_null(&col, r) ? "null" : text);
            free(text);
        }
        printf("\n");
    }
    /* Typed access without copies: the int64 column's values are a plain array. */
    size_t id_col;
    nb_status s = nb_table_find_column(t, "id", &id_col);
    if (s == NB_OK)
        s = nb_table_column(t, id_col, &col);
    if (s != NB_OK)
        return s;
    int64_t sum = 0;
    for (int64_t r = 0; r < col.rows; r++)
        sum += ((const int64_t *)col.values)[r];
    printf("sum of id: %" PRId64 "\n", sum);
    return NB_OK;
}

/* What an Arrow consumer sees: a struct array ("+s") with one child per column. */
static nb_status show_arrow_export(const nb_table *t)
{
    struct ArrowSchema schema;
    struct ArrowArray array;
    nb_status s = nb_table_export(t, &schema, &array);
    if (s != NB_OK)
        return s;
    printf("arrow: format %s, %" PRId64 " rows, %" PRId64 " children\n", schema.format,
           array.length, schema.n_children);
    for (int64_t i = 0; i < schema.n_children; i++)
        printf("arrow: child %s format %s nulls %" PRId64 "\n", schema.children[i]->name,
               schema.children[i]->format, array.children[i]->null_count);
    /* Whoever ends up owning them calls release: here, we do. */
    schema.release(&schema);
    array.release(&array);
    return NB_OK;
}

int main(void)
{
    const char *subject = "/warehouse/orders";
    nb_client *client = NULL;
    nb_subscription *sub = NULL;
    nb_envelope *msg = NULL, *got = NULL;
    nb_payload *payload = NULL;
    nb_table *table = NULL, *received = NULL;
    int rc = 1;

    /* Every column is copied in once; the first one sets the row count. */
    TRY(nb_table_create(&table));
    TRY(nb_table_add_column(table, "id", NB_COL_INT64, ROWS, ids, NULL, NULL));
    TRY(nb_table_add_column(table, "price", NB_COL_FLOAT64, ROWS, prices, NULL, NULL));
    TRY(nb_table_add_column(table, "name", NB_COL_UTF8, ROWS, names, name_offsets, name_validity));
    TRY(nb_table_add_timestamp_column(table, "ordered", NB_TIME_MILLISECOND, "UTC", ROWS,
                                      ordered_ms, NULL));

    TRY(example_connect(&client, NULL));
    TRY(nb_client_subscribe_sync(client, &sub, subject, NULL));

    /* The table is encoded once, as an Arrow IPC stream, into the payload. */
    TRY(nb_envelope_create(&msg));
    TRY(nb_payload_create_table(&payload, "orders", table, 0));
    TRY(nb_envelope_add_payload(msg, &payload));
    TRY(nb_client_send(client, subject, msg));
    printf("sent table 'orders': %" PRId64 " rows, %zu columns\n", nb_table_rows(table),
           nb_table_column_count(table));

    TRY(nb_subscription_next(sub, 5000, &got));
    const nb_payload *p = nb_envelope_payload(got, 0);
    printf("received '%s' (%s, %llu bytes of Arrow IPC)\n", nb_payload_dataname(p),
           nb_payload_type_name(p), (unsigned long long)nb_payload_size(p));
    TRY(nb_payload_table(p, &received));
    TRY(print_table(received));
    TRY(show_arrow_export(received));
    rc = 0;

done:
    nb_table_destroy(received);
    nb_table_destroy(table);
    nb_payload_destroy(payload);
    nb_envelope_destroy(got);
    nb_envelope_destroy(msg);
    nb_subscription_destroy(sub);
    nb_client_destroy(client);
    return rc;
}
