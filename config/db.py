"""Database helpers the apps share."""

import datetime
from collections.abc import Iterator, Sequence

from django.db import connection


def stream_rows(queryset, chunk_size: int = 20_000) -> Iterator[tuple]:
    """The rows of a values_list() queryset, streamed. On PostgreSQL they arrive in
    chunks while the query still runs (libpq's chunked mode: unlike a server-side
    cursor, what iterator() uses, this keeps parallel workers), without Django's
    per-row converters: for the plain columns, dates and booleans read here
    PostgreSQL already returns the Python values the converters would give.
    Elsewhere, iterator()."""
    if connection.vendor != "postgresql":
        yield from queryset.iterator(chunk_size=chunk_size)
        return
    sql, params = queryset.query.sql_with_params()
    with connection.cursor() as cursor:
        rows = cursor.cursor.stream(sql, params, size=chunk_size)
        try:
            for row in rows:
                yield row
        finally:
            for _row in rows:  # a caller that stops early: read to the end, as closing would cancel the query
                pass


def bulk_set(model, rows: Sequence[tuple], fields: Sequence[str], *, batch_size: int = 2000) -> None:
    """bulk_update's effect for rows given as (pk, value of each field...): one
    UPDATE from a list of values per batch. Django's bulk_update builds a CASE
    with a condition per row and field, about 0.1 ms a row and field in Python
    alone, which is most of the time when thousands of rows change at once.
    Like bulk_update, it calls no save() and leaves auto_now fields alone.
    PostgreSQL and SQLite (3.33 or later) both read this statement."""
    if not rows:
        return
    meta = model._meta
    model_fields = [meta.get_field(name) for name in fields]
    quote = connection.ops.quote_name
    table, pk = quote(meta.db_table), quote(meta.pk.column)
    names = ["pk"] + [f"v{n}" for n in range(len(model_fields))]
    # PostgreSQL types a column of the list by its values (text when all are NULL), so
    # each is cast to its field's type; SQLite needs no cast (and casts dates to numbers).
    cast = "CAST(given.v{n} AS {type})" if connection.vendor == "postgresql" else "given.v{n}"
    assignments = ", ".join(f"{quote(field.column)} = " + cast.format(n=n, type=field.db_type(connection))
                            for n, field in enumerate(model_fields))
    placeholder = "(" + ", ".join(["%s"] * len(names)) + ")"
    for start in range(0, len(rows), batch_size):
        batch = rows[start:start + batch_size]
        params = []
        for row in batch:
            params.append(row[0])
            params.extend(field.get_db_prep_save(value, connection) for field, value in zip(model_fields, row[1:]))
        with connection.cursor() as cursor:
            cursor.execute(f"WITH given ({', '.join(names)}) AS (VALUES {', '.join([placeholder] * len(batch))}) "
                           f"UPDATE {table} SET {assignments} FROM given WHERE {table}.{pk} = given.pk", params)


def as_date(value) -> datetime.date:
    """A date as a raw or annotated query gave it: SQLite may give text or a
    datetime where PostgreSQL gives a date."""
    if isinstance(value, str):
        return datetime.date.fromisoformat(value[:10])
    if isinstance(value, datetime.datetime):
        return value.date()
    return value
