"""Database helpers the apps share."""

import datetime
import decimal
import functools
import json
import logging
import uuid
from collections import Counter
from collections.abc import Collection, Iterator, Sequence

from django.core.exceptions import EmptyResultSet
from django.db import IntegrityError, connection, models, transaction
from django.db.models.expressions import DatabaseDefault
from django.db.models.lookups import In
from django.db.models.sql import Query
from django.utils import timezone

logger = logging.getLogger(__name__)

# psycopg binds a statement's parameters client-side, at some 12 µs a placeholder: a
# filter on 2,000 ids or an UPDATE of 2,000 rows spends more there than in PostgreSQL.
# So, on PostgreSQL, a long list goes as one parameter: an array, or rows in JSON.


def _json(values) -> str:
    """JSON of values as the database takes them: datetimes in full (to the
    microsecond), decimals and UUIDs as text. TypeError or ValueError for anything
    else (a JSON field's value, NaN), which the callers then bind one by one."""
    def plain(value):
        if isinstance(value, datetime.date | datetime.time):
            return value.isoformat()
        if isinstance(value, decimal.Decimal | uuid.UUID):
            return str(value)
        raise TypeError(f"{type(value).__name__} is not sent as JSON")
    return json.dumps(values, default=plain, allow_nan=False, separators=(",", ":"))


# Fields whose Python values psycopg writes as Django would store them (given the
# types these fields hold: str, int, bool, date, aware datetime, UUID, None), so
# copy_rows and AnyOf skip their get_db_prep_save. Exact classes: a subclass (a
# phone or a country field) may convert, and is converted.
_AS_IS = {models.CharField, models.TextField, models.EmailField, models.SlugField, models.BooleanField,
          models.IntegerField, models.BigIntegerField, models.SmallIntegerField, models.PositiveIntegerField,
          models.PositiveBigIntegerField, models.PositiveSmallIntegerField, models.AutoField, models.BigAutoField,
          models.DateField, models.DateTimeField, models.UUIDField, models.ForeignKey}


class AnyOf(In):
    """`AnyOf(F("email"), emails)` in a filter: `email__in=emails` for thousands
    of values. On PostgreSQL the list is one array constant, `email = ANY('{…}')`,
    rather than a placeholder each (see above), and PostgreSQL looks each up in
    an index or in a hash of the array whatever it believes of the table's size:
    a join against a list of values goes wrong while a transaction fills the
    table. Elsewhere, `in`."""

    def as_postgresql(self, compiler, connection):
        if not self.rhs_is_direct_value():
            return super().as_sql(compiler, connection)
        lhs, lhs_params = self.process_lhs(compiler, connection)
        field = self.lhs.output_field
        values = {value for value in self.rhs if value is not None}
        if not values:
            raise EmptyResultSet
        if type(field) not in _AS_IS:  # as `in` prepares them; a plain field's str or int is its own (see _AS_IS)
            values = {field.get_db_prep_value(value, connection, prepared=False) for value in values}
        array = "{" + ",".join('"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"' for value in values) + "}"
        return f"{lhs} = ANY(%s::{field.cast_db_type(connection)}[])", [*lhs_params, array]


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


def rows_table(rows: Sequence[Sequence], width: int) -> tuple[str, list]:
    """SQL and parameters for a list of rows as a table, to name in a WITH clause
    (`WITH given (a, b) AS (<sql>)`): on PostgreSQL one JSON parameter (see
    above), its columns text, to be cast; elsewhere, or for values JSON does not
    carry, VALUES with a placeholder each."""
    if connection.vendor == "postgresql":
        try:
            return ("SELECT " + ", ".join(f"given.row->>{n}" for n in range(width))
                    + " FROM jsonb_array_elements(%s::jsonb) AS given (row)", [_json(rows)])
        except (TypeError, ValueError):
            pass
    placeholder = "(" + ", ".join(["%s"] * width) + ")"
    return "VALUES " + ", ".join([placeholder] * len(rows)), [value for row in rows for value in row]


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
    # PostgreSQL types a column of the list by its values (text when all are NULL, or
    # from JSON), so each is cast to its field's type; SQLite needs no cast (and casts
    # dates to numbers).
    cast = "CAST(given.{name} AS {type})" if connection.vendor == "postgresql" else "given.{name}"
    assignments = ", ".join(f"{quote(field.column)} = " + cast.format(name=f"v{n}", type=field.db_type(connection))
                            for n, field in enumerate(model_fields))
    given_pk = cast.format(name="pk", type=meta.pk.cast_db_type(connection))
    for start in range(0, len(rows), batch_size):
        batch = [[row[0], *(field.get_db_prep_save(value, connection) for field, value in zip(model_fields, row[1:]))]
                 for row in rows[start:start + batch_size]]
        sql, params = rows_table(batch, len(names))
        with connection.cursor() as cursor:
            cursor.execute(f"WITH given ({', '.join(names)}) AS ({sql}) "
                           f"UPDATE {table} SET {assignments} FROM given WHERE {table}.{pk} = {given_pk}", params)


def copy_rows(model, fields: Sequence[str], rows: Sequence[Sequence], *, ignore_conflicts: bool = False,
              as_stored: Collection[str] = ()) -> list[int] | None:
    """bulk_create's effect for rows given as values of `fields` (names, or
    attnames such as "supporter_id"; a relation by its name may be given an
    object or an id), in that order: the model's other fields take their
    defaults (a callable's per row; auto_now, auto_now_add and timezone.now one
    moment for the batch), no save() is called. Returns the new rows' ids in the rows' order, or None with
    ignore_conflicts (rows that would break a unique constraint are left out, and
    bulk_create gives no ids then either).

    On PostgreSQL the rows go by COPY, their ids taken first from the table's
    sequence: building a model instance and an INSERT's parameters costs more than
    PostgreSQL's whole write, a few thousand rows a second for a wide table like
    Donation. Values must be what the fields hold (an aware datetime, an id for
    a foreign key); each is converted as the field converts it, except those of
    plain fields (_AS_IS) and of `as_stored`: fields whose values are given as
    the database stores them already (a phone number's E.164 text, which the
    phone field would parse again at 0.2 ms a number). Elsewhere, bulk_create."""
    if not rows:
        return None if ignore_conflicts else []
    meta = model._meta
    given = [meta.get_field(name) for name in fields]
    # A relation given by its name may hold an object: its id is written.
    by_object = [n for n, (name, field) in enumerate(zip(fields, given)) if field.is_relation and name == field.name]
    if by_object:
        rows = [[getattr(value, "pk", value) if n in by_object else value for n, value in enumerate(row)]
                for row in rows]
    attnames = [field.attname for field in given]
    if connection.vendor != "postgresql":
        made = [model(**dict(zip(attnames, row, strict=True))) for row in rows]
        model.objects.bulk_create(made, batch_size=2000, ignore_conflicts=ignore_conflicts)
        return None if ignore_conflicts else [obj.pk for obj in made]

    now = timezone.now()
    constant, made = [], []  # the other fields: (field, its value) and (field, a callable giving it)
    for field in meta.concrete_fields:
        if field in given or field.primary_key or getattr(field, "generated", False):
            continue
        if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False) or (
                field.has_default() and field.default is timezone.now):
            constant.append((field, now))  # one moment for the batch
        elif field.has_default() and callable(field.default):
            made.append((field, field.default))  # a new one per row (uuid4)
        else:
            value = field.get_default()
            if not isinstance(value, DatabaseDefault):  # left to the database's own default
                constant.append((field, value))

    def plain(field) -> bool:
        return type(field) in _AS_IS or field.name in as_stored or field.attname in as_stored

    def stored(field, value):
        return value if plain(field) else field.get_db_prep_save(value, connection)

    converted = [(n, field) for n, field in enumerate(given) if not plain(field)]
    tail = [stored(field, value) for field, value in constant]  # the same in every row

    def values(row) -> list:
        out = list(row)
        for n, field in converted:
            out[n] = field.get_db_prep_save(out[n], connection)
        for field, make in made:
            out.append(stored(field, make()))
        out += tail
        return out

    columns = [*given, *(field for field, _ in made), *(field for field, _ in constant)]
    quote = connection.ops.quote_name
    table = quote(meta.db_table)
    names = ", ".join(quote(field.column) for field in columns)
    def copy(into: str, rows_with_values) -> None:
        # psycopg's own cursor copies; its errors are raised as Django's, as bulk_create's would be.
        with connection.wrap_database_errors, cursor.cursor.copy(f"COPY {into} FROM STDIN") as copying:
            for row in rows_with_values:
                copying.write_row(row)

    with connection.cursor() as cursor:
        if ignore_conflicts:
            # COPY has no ON CONFLICT. Rows that break no unique constraint (the usual
            # case: ignoring conflicts is a guard) go straight in, in a savepoint; if
            # one does, they go to a scratch table and from there with ON CONFLICT DO
            # NOTHING, at twice the cost.
            try:
                with transaction.atomic():
                    copy(f"{table} ({names})", map(values, rows))
                return None
            except IntegrityError as error:
                if getattr(error.__cause__, "sqlstate", None) != "23505":  # not a unique violation: as bulk_create
                    raise
            cursor.execute(f"CREATE TEMPORARY TABLE copy_rows_scratch AS SELECT {names} FROM {table} WITH NO DATA")
            copy(f"copy_rows_scratch ({names})", map(values, rows))
            cursor.execute(f"INSERT INTO {table} ({names}) SELECT {names} FROM copy_rows_scratch "
                           "ON CONFLICT DO NOTHING")
            cursor.execute("DROP TABLE copy_rows_scratch")
            return None
        # The sequence hands out increasing ids, so the rows keep their order as bulk_create's do.
        # (Its name is looked up first: pg_get_serial_sequence in the select list would be asked once per row.)
        cursor.execute("SELECT pg_get_serial_sequence(%s, %s)", [meta.db_table, meta.pk.column])
        cursor.execute("SELECT nextval(%s::regclass) FROM generate_series(1, %s)", [cursor.fetchone()[0], len(rows)])
        ids = sorted(row[0] for row in cursor.fetchall())
        copy(f"{table} ({quote(meta.pk.column)}, {names})",
             ([pk, *values(row)] for pk, row in zip(ids, rows, strict=True)))
    return ids


def analyze_filled_tables() -> None:
    """ANALYZE the tables this transaction has added at least as many rows to as
    PostgreSQL last counted in them: a new site's, filled by its first import.
    Of a table it has never counted, or counted empty, the planner assumes a
    handful of rows, so the rest of such a write is planned as if the table were
    still empty: a join of 2,000 rows against the 10,000 just added becomes a
    loop over both, 5 s instead of 5 ms. Once it has figures, the planner scales
    them as the table grows, so one call, early in the write, is enough; inside
    the transaction, ANALYZE counts the rows added so far. Tables already
    holding more than the write adds are left alone; so is every table elsewhere."""
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT written.relid::regclass::text FROM pg_stat_xact_user_tables written "
                       "JOIN pg_class ON pg_class.oid = written.relid "
                       "WHERE written.n_tup_ins > 0 AND written.n_tup_ins >= pg_class.reltuples")
        tables = [row[0] for row in cursor.fetchall()]
        if tables:
            cursor.execute("ANALYZE " + ", ".join(tables))


def as_date(value) -> datetime.date:
    """A date as a raw or annotated query gave it: SQLite may give text or a
    datetime where PostgreSQL gives a date."""
    if isinstance(value, str):
        return datetime.date.fromisoformat(value[:10])
    if isinstance(value, datetime.datetime):
        return value.date()
    return value


@functools.cache
def _conflict_target(model, unique: tuple[str, ...]) -> str:
    """The ON CONFLICT target for these fields: with the unique constraint's own
    condition, written as Django wrote it into the index, so that the database
    (SQLite strictly) matches the two."""
    quote = connection.ops.quote_name
    target = f"({', '.join(quote(model._meta.get_field(name).column) for name in unique)})"
    for constraint in model._meta.constraints:
        if (isinstance(constraint, models.UniqueConstraint) and tuple(constraint.fields) == unique
                and constraint.condition is not None):
            query = Query(model, alias_cols=False)
            sql, params = query.build_where(constraint.condition).as_sql(query.get_compiler(connection=connection),
                                                                        connection)
            editor = connection.SchemaEditorClass(connection)  # only to quote values as the index has them
            target += " WHERE " + sql % tuple(editor.quote_value(param) for param in params)
    return target


@functools.cache
def _insert_unless_present_statement(model, unique: tuple[str, ...]) -> tuple[list, str]:
    opts = model._meta
    quote = connection.ops.quote_name
    fields = [field for field in opts.concrete_fields if not (field.primary_key and field.get_internal_type()
                                                              in ("AutoField", "BigAutoField", "SmallAutoField"))]
    return fields, (f"INSERT INTO {quote(opts.db_table)} ({', '.join(quote(field.column) for field in fields)}) "
                    f"VALUES ({', '.join(['%s'] * len(fields))}) ON CONFLICT {_conflict_target(model, unique)} "
                    f"DO NOTHING RETURNING {quote(opts.pk.column)}")


def insert_unless_present(instance, *, unique: Sequence[str]) -> bool:
    """Add `instance` in one statement (INSERT … ON CONFLICT DO NOTHING), unless a
    row with the same values of `unique` (the fields of a unique constraint,
    with or without a condition) is there already. Returns True, with
    `instance.pk` set, if it was added. A hot path's "get or create" without the
    savepoint, the second query and the race that `get_or_create` needs them for."""
    model = type(instance)
    fields, statement = _insert_unless_present_statement(model, tuple(unique))
    values = [field.get_db_prep_save(field.pre_save(instance, True), connection) for field in fields]
    with connection.cursor() as cursor:
        cursor.execute(statement, values)
        row = cursor.fetchone()
    if row is None:
        return False
    instance.pk = row[0]
    instance._state.adding, instance._state.db = False, connection.alias
    return True


def save_fields(instance, fields: Sequence[str], *, expect: dict | None = None) -> bool:
    """`instance.save(update_fields=fields)` in one plain UPDATE, for a hot path
    (the ORM's save costs several times the statement): auto_now fields among
    `fields` are set to now as save would set them. `expect`: values (by field
    name; None for empty) the row must still hold, or nothing is written (an
    optimistic check, instead of a lock). Returns whether the row was written.
    No save signals are sent, so use it only for fields nothing listens to
    (the audit log follows who a gift belongs to, never its payment's progress)."""
    model = type(instance)
    opts = model._meta
    quote = connection.ops.quote_name
    wanted = [opts.get_field(name) for name in fields]
    values = [field.get_db_prep_save(field.pre_save(instance, False), connection) for field in wanted]
    where, params = [f"{quote(opts.pk.column)} = %s"], [instance.pk]
    for name, value in (expect or {}).items():
        field = opts.get_field(name)
        if value is None:
            where.append(f"{quote(field.column)} IS NULL")
        else:
            where.append(f"{quote(field.column)} = %s")
            params.append(field.get_db_prep_value(value, connection))
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {quote(opts.db_table)} SET {', '.join(f'{quote(field.column)} = %s' for field in wanted)} "
                       f"WHERE {' AND '.join(where)}", [*values, *params])
        return cursor.rowcount == 1


def apply_in_locked_batches(queryset, apply, *, failed, batch_size: int, apply_together=None) -> dict[str, int]:
    """`apply(row)` to each row of `queryset`, in the order of their keys, a batch
    at a time: each batch in one transaction with its rows locked, taken with
    SKIP LOCKED so that workers running at once take different rows; each row in
    a savepoint of its own, so that one that fails is handed to
    `failed(row, error)` (in the batch's transaction) and the rest of its batch
    is applied. `apply` returns the outcome to count. `apply_together(rows)`, if
    given, is tried first on the whole batch in one savepoint (set-based, it
    returns the counts); should it fail, the batch is applied row by row.
    Returns counts by outcome ("failed" for the failures)."""
    counts = Counter()
    last = None
    while True:
        with transaction.atomic():
            rows = queryset.select_for_update(skip_locked=True).order_by("pk")
            batch = list((rows.filter(pk__gt=last) if last is not None else rows)[:batch_size])
            if apply_together is not None and batch:
                try:
                    with transaction.atomic():
                        counts.update(apply_together(batch))
                    batch_done = True
                except Exception:
                    logger.warning("A batch of %s failed together: applied one by one", queryset.model.__name__,
                                   exc_info=True)
                    batch_done = False
                    batch = list((rows.filter(pk__gt=last) if last is not None else rows)[:batch_size])
            else:
                batch_done = False
            for row in [] if batch_done else batch:
                try:
                    with transaction.atomic():
                        counts[apply(row)] += 1
                except Exception as error:
                    failed(row, error)
                    counts["failed"] += 1
        if len(batch) < batch_size:
            return dict(counts)
        last = batch[-1].pk
