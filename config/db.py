"""Database helpers the apps share."""

from collections.abc import Iterator

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
