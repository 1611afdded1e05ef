"""The daily income rollups the dashboard reads: kept in each gift's own
transaction (a gift's worth before and after a change, the difference added),
and rebuilt from the gifts themselves.

A gift counts on the day the charity received it (its `given_on`, in UK time),
net of refunds and lost disputes, which move that day's figures. Its donor is
counted once a day of first gift: ever (new), in a tax year, and again in the
year when they also gave in the year before (retained)."""

import dataclasses
import datetime
import functools
from collections import defaultdict

from django.db import connection, transaction
from django.db.models import Case, Count, F, Q, Sum, Value, When
from django.db.models.functions import Coalesce, TruncDate, TruncMonth
from django.utils import timezone

from config.db import as_date, stream_rows
from donations.models import (DailyGiftSizes, DailyIncome, Donation, DonorYear, IncomeSource, MonthlyGiftSizes,
                              PaymentMethod)
from donations.tax_years import tax_year_start
from supporters.models import Supporter

RECEIVED_STATUSES = (*Donation.INCOME_STATUSES, Donation.Status.REFUNDED)
FIGURES = ("gifts", "donor_gifts", "received_pence", "refunded_pence", "kept_pence", "disputed_pence", "fee_pence", "gift_aid_pence")
DONOR_FIGURES = ("new_donors", "year_donors", "year_retained")
_NO_FIGURES = (0,) * len(FIGURES)


def income_source(*, channel: str, gift_aid_claimed_by: str, monthly: bool, payment_method: str = "") -> str:
    """The dashboard's channel of a gift: a platform's (JustGiving and the like,
    which claim its Gift Aid), a monthly gift's, online, or offline."""
    if gift_aid_claimed_by or payment_method == PaymentMethod.PLATFORM:
        return IncomeSource.PLATFORM
    if monthly or channel == Donation.Channel.MONTHLY:
        return IncomeSource.MONTHLY
    if channel == Donation.Channel.WEB:
        return IncomeSource.ONLINE
    return IncomeSource.OFFLINE


def gifts_of_source(source: str) -> Q:
    """income_source() in SQL: the gifts of one channel (for the rebuild, and the gifts list's filter)."""
    platform = ~Q(gift_aid_claimed_by="") | Q(payment_method=PaymentMethod.PLATFORM)
    monthly = Q(recurring_gift__isnull=False) | Q(channel=Donation.Channel.MONTHLY)
    return {IncomeSource.PLATFORM: platform,
            IncomeSource.MONTHLY: ~platform & monthly,
            IncomeSource.ONLINE: ~platform & ~monthly & Q(channel=Donation.Channel.WEB),
            IncomeSource.OFFLINE: ~platform & ~monthly & ~Q(channel=Donation.Channel.WEB)}[source]


@dataclasses.dataclass(frozen=True)
class RollupWorth:
    """What one gift adds to the rollups: its key (day, campaign, appeal, source,
    monthly) and figures, and the day it counts for its donor (None if it does not)."""
    key: tuple | None = None
    figures: tuple = _NO_FIGURES
    donor_day: datetime.date | None = None

    @property
    def kept_pence(self) -> int:
        return self.figures[4]

    @property
    def counted(self) -> bool:
        return self.figures[0] > 0


NO_WORTH = RollupWorth()


def _shard_of(donation: Donation) -> int:
    return donation.pk % DailyIncome.SHARDS


def _key_of(donation: Donation) -> tuple:
    monthly = donation.recurring_gift_id is not None
    return (donation.given_on, donation.campaign_id or 0, donation.appeal_id or 0,
            income_source(channel=donation.channel, gift_aid_claimed_by=donation.gift_aid_claimed_by, monthly=monthly,
                          payment_method=donation.payment_method),
            monthly)


def rollup_worth(donation: Donation) -> RollupWorth:
    if donation.status not in RECEIVED_STATUSES:
        return NO_WORTH
    kept = donation.kept_pence
    counted = 1 if kept > 0 else 0
    figures = (counted, counted if donation.supporter_id else 0, donation.amount_pence, donation.refunded_pence, kept,
               kept if donation.status == Donation.Status.DISPUTED else 0, donation.fee_pence or 0,
               donation.gift_aid_expected_pence)
    key = _key_of(donation)
    return RollupWorth(key=key, figures=figures, donor_day=key[0] if kept > 0 and donation.supporter_id else None)


@functools.cache
def _income_sql(changed: tuple[str, ...]) -> str:
    """INSERT … ON CONFLICT DO UPDATE of one DailyIncome row (PostgreSQL and SQLite
    both read it), for the figures that change: made once per set of them."""
    quote = connection.ops.quote_name
    table = quote(DailyIncome._meta.db_table)
    key_columns = ["day", "campaign_id", "appeal_id", "source", "monthly", "shard"]
    columns = key_columns + list(changed)
    updates = ", ".join(f"{quote(c)} = {table}.{quote(c)} + excluded.{quote(c)}" for c in changed)
    # Figures not named here take the column's default of 0 on a new row.
    defaults = [name for name in (*FIGURES, *DONOR_FIGURES) if name not in changed]
    return (f"INSERT INTO {table} ({', '.join(quote(c) for c in columns + defaults)}) "
            f"VALUES ({', '.join(['%s'] * len(columns) + ['0'] * len(defaults))}) "
            f"ON CONFLICT ({', '.join(quote(c) for c in key_columns)}) DO UPDATE SET {updates}")


def _income_statement(key: tuple, shard: int, changes: dict[str, int]) -> tuple[str, list] | None:
    """The statement that adds to one DailyIncome row, making it if need be."""
    changes = {name: value for name, value in changes.items() if value}
    if not changes:
        return None
    return _income_sql(tuple(changes)), [*key, shard, *changes.values()]


@functools.cache
def _size_sql(model, column: str) -> str:
    table = connection.ops.quote_name(model._meta.db_table)
    return (f"INSERT INTO {table} ({column}, campaign_id, kept_pence, gifts) VALUES (%s, %s, %s, %s) "
            f"ON CONFLICT ({column}, campaign_id, kept_pence) DO UPDATE SET gifts = {table}.gifts + excluded.gifts")


def _size_statements(day: datetime.date, campaign_id: int, kept_pence: int, gifts: int) -> list[tuple[str, list]]:
    """Add to a gift size's count for its day and for its month."""
    return [(_size_sql(DailyGiftSizes, "day"), [day, campaign_id, kept_pence, gifts]),
            (_size_sql(MonthlyGiftSizes, "month"), [day.replace(day=1), campaign_id, kept_pence, gifts])]


def _execute(statements: list[tuple[str, list]], *, counted: tuple[str, list] | None = None) -> int | None:
    """Run the statements; and `counted`, an UPDATE … RETURNING, giving how many
    rows it changed. On PostgreSQL they go as one statement (data-modifying WITH
    clauses, each run once, on rows no other of them touches): one round trip
    for a gift's rollups."""
    if connection.vendor == "postgresql" and (len(statements) + bool(counted)) > 1:
        parts = [f"s{n} AS ({sql})" for n, (sql, _) in enumerate(statements)]
        params = [param for _, statement_params in statements for param in statement_params]
        if counted:
            parts.append(f"counted AS ({counted[0]})")
            params += counted[1]
        with connection.cursor() as cursor:
            cursor.execute(f"WITH {', '.join(parts)} SELECT " + ("(SELECT count(*) FROM counted)" if counted else "1"),
                           params)
            return cursor.fetchone()[0] if counted else None
    with connection.cursor() as cursor:
        for sql, params in statements:
            cursor.execute(sql, params)
        if counted:
            cursor.execute(*counted)
            return len(cursor.fetchall())
    return None


def _add_income(key: tuple, shard: int, changes: dict[str, int]) -> None:
    statement = _income_statement(key, shard, changes)
    if statement:
        _execute([statement])


def _donor_statement(*, donation: Donation, before: RollupWorth, after: RollupWorth) -> tuple[str, list] | None:
    """The common change to a donor's year, as one UPDATE … RETURNING that
    changes nothing when it does not apply (then _donor_move works it out).
    A gift that is not the year's first begins or stops counting: the year's
    gifts and sum move; a part refund: the sum."""
    table = connection.ops.quote_name(DonorYear._meta.db_table)
    if before.donor_day is None:
        return (f"UPDATE {table} SET gifts = gifts + 1, kept_pence = kept_pence + %s "
                f"WHERE supporter_id = %s AND tax_year = %s "
                f"AND (first_gift_on < %s OR (first_gift_on = %s AND first_gift_id < %s)) RETURNING 1",
                [after.kept_pence, donation.supporter_id, tax_year_start(after.donor_day).year, after.donor_day,
                 after.donor_day, donation.pk])
    if after.donor_day is None:
        return (f"UPDATE {table} SET gifts = gifts - 1, kept_pence = kept_pence - %s "
                f"WHERE supporter_id = %s AND tax_year = %s AND first_gift_id <> %s AND gifts > 1 RETURNING 1",
                [before.kept_pence, donation.supporter_id, tax_year_start(before.donor_day).year, donation.pk])
    if before.donor_day == after.donor_day:
        return (f"UPDATE {table} SET kept_pence = kept_pence + %s WHERE supporter_id = %s AND tax_year = %s "
                f"RETURNING 1",
                [after.kept_pence - before.kept_pence, donation.supporter_id, tax_year_start(after.donor_day).year])
    return None


def income_rollups_move(*, donation: Donation, before: RollupWorth, after: RollupWorth) -> None:
    """Carry a change in a gift's worth to the rollups, in the caller's
    transaction (which has the gift's row locked): on PostgreSQL one statement
    for the common case."""
    if before == after:
        return
    shard = _shard_of(donation)
    statements = []
    if before.key == after.key:
        statements.append(_income_statement(after.key, shard, {
            name: a - b for name, a, b in zip(FIGURES, after.figures, before.figures)}))
    else:
        if before.key:
            statements.append(_income_statement(before.key, shard, {
                name: -b for name, b in zip(FIGURES, before.figures)}))
        if after.key:
            statements.append(_income_statement(after.key, shard, dict(zip(FIGURES, after.figures))))
    sized_before = (before.key[0], before.key[1], before.kept_pence) if before.counted else None
    sized_after = (after.key[0], after.key[1], after.kept_pence) if after.counted else None
    if sized_before != sized_after:
        if sized_before:
            statements += _size_statements(*sized_before, -1)
        if sized_after:
            statements += _size_statements(*sized_after, 1)
    statements = [statement for statement in statements if statement]
    donor_changes = donation.supporter_id and (before.donor_day != after.donor_day
                                               or (after.donor_day and before.kept_pence != after.kept_pence))
    counted = _donor_statement(donation=donation, before=before, after=after) if donor_changes else None
    changed = _execute(statements, counted=counted)
    if donor_changes and not changed and before.donor_day != after.donor_day:
        _donor_move(donation=donation, before=before, after=after)


def income_rollups_move_fees(*, fees: list[tuple[Donation, int]]) -> None:
    """Stripe's fees recorded on many gifts at once: each gift (as it was, with
    the fields its key needs) and its new fee. One statement per row changed."""
    changes = defaultdict(int)
    for gift, fee in fees:
        worth = rollup_worth(gift)
        if worth.key:
            changes[(worth.key, _shard_of(gift))] += fee - (gift.fee_pence or 0)
    for (key, shard), change in changes.items():
        _add_income(key, shard, {"fee_pence": change})


def income_rollups_compact(*, before: datetime.date | None = None) -> int:
    """Fold each past day's shards into its first: the shards only spare a busy
    day's gifts from queuing for one row, and a day read later is read faster in
    a quarter of the rows. Sums are unchanged; a gift recorded meanwhile waits for
    the rows it changes (or, on a shard just folded, makes it again, to be folded
    next time). Returns how many rows were folded away."""
    before = before or timezone.localdate()
    names = (*FIGURES, *DONOR_FIGURES)
    with transaction.atomic():
        if connection.vendor == "postgresql":
            table = connection.ops.quote_name(DailyIncome._meta.db_table)
            key = "day, campaign_id, appeal_id, source, monthly"
            with connection.cursor() as cursor:
                cursor.execute(f"""
                    WITH folded AS (DELETE FROM {table} WHERE day < %s AND shard <> 0 RETURNING *),
                         merged AS (INSERT INTO {table} ({key}, shard, {", ".join(names)})
                                    SELECT {key}, 0, {", ".join(f"SUM({name})" for name in names)}
                                    FROM folded GROUP BY {key}
                                    ON CONFLICT ({key}, shard) DO UPDATE SET
                                    {", ".join(f"{name} = {table}.{name} + excluded.{name}" for name in names)})
                    SELECT count(*) FROM folded""", [before])
                return cursor.fetchone()[0]
        rows = list(DailyIncome.objects.filter(day__lt=before).exclude(shard=0)
                    .values_list("pk", "day", "campaign_id", "appeal_id", "source", "monthly", *names))
        DailyIncome.objects.filter(pk__in=[row[0] for row in rows]).delete()
        for _pk, *row in rows:
            _add_income(tuple(row[:5]), 0, dict(zip(names, row[5:])))
        return len(rows)


# The donor counts ----------------------------------------------------------

def _contributions(years: dict[int, tuple]) -> dict[tuple, dict[str, int]]:
    """The donor counts a donor's years add, by (income key, shard): `years` maps a
    tax year to its first gift (id, day, campaign, appeal, source, monthly)."""
    added = defaultdict(lambda: defaultdict(int))
    for year, (gift_id, *key) in years.items():
        where = (tuple(key), gift_id % DailyIncome.SHARDS)
        added[where]["year_donors"] += 1
        if year - 1 in years:
            added[where]["year_retained"] += 1
        if year == min(years):
            added[where]["new_donors"] += 1
    return added


def _first_gifts_by_year(supporter_id: int) -> dict[int, tuple]:
    """The first counted gift of each tax year a supporter gave in, with how many
    gifts that year and what they brought, from the gifts."""
    found = {}
    counts, kept = defaultdict(int), defaultdict(int)
    gifts = (Donation.objects.filter(supporter_id=supporter_id, status__in=Donation.INCOME_STATUSES,
                                     amount_pence__gt=F("refunded_pence"))
             .only("pk", "paid_at", "created_at", "campaign_id", "appeal_id", "channel", "gift_aid_claimed_by",
                   "payment_method",
                   "recurring_gift_id", "amount_pence", "refunded_pence", "status"))
    for gift in gifts:
        key = _key_of(gift)
        year = tax_year_start(key[0]).year
        counts[year] += 1
        kept[year] += gift.kept_pence
        if year not in found or (key[0], gift.pk) < (found[year][1], found[year][0]):
            found[year] = (gift.pk, *key)
    return {year: (*first, counts[year], kept[year]) for year, first in found.items()}


def _held_firsts(held: dict[int, DonorYear]) -> dict[int, tuple]:
    return {year: (row.first_gift_id, row.first_gift_on, row.first_campaign_id, row.first_appeal_id,
                   row.first_source, row.first_monthly) for year, row in held.items()}


def _donor_years_replace(supporter_id: int, held_firsts: dict[int, tuple]) -> None:
    """Work a donor's years out again from their gifts and add the difference in
    their donor counts (`held_firsts`: their years' first gifts as they were)."""
    found = _first_gifts_by_year(supporter_id)
    _apply_contribution_change(_contributions(held_firsts),
                               _contributions({year: first[:-2] for year, first in found.items()}))
    DonorYear.objects.filter(supporter_id=supporter_id).delete()
    DonorYear.objects.bulk_create([
        DonorYear(supporter_id=supporter_id, tax_year=year, gifts=gifts, kept_pence=kept, first_gift_id=gift_id,
                  first_gift_on=day, first_campaign_id=campaign_id, first_appeal_id=appeal_id, first_source=source,
                  first_monthly=monthly)
        for year, (gift_id, day, campaign_id, appeal_id, source, monthly, gifts, kept) in found.items()])


def _donor_years_locked(supporter_id: int) -> dict[int, tuple]:
    """Lock the supporter's row (so two gifts of one donor at once cannot both
    make a year's row) and read their years, in one statement."""
    donor_year = connection.ops.quote_name(DonorYear._meta.db_table)
    supporter = connection.ops.quote_name(Supporter._meta.db_table)
    for_update = " FOR UPDATE OF s" if connection.features.has_select_for_update_of else ""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT y.tax_year, y.id, y.gifts, y.first_gift_id, y.first_gift_on, y.first_campaign_id, "
                       f"y.first_appeal_id, y.first_source, y.first_monthly FROM {supporter} s "
                       f"LEFT JOIN {donor_year} y ON y.supporter_id = s.id WHERE s.id = %s{for_update}",
                       [supporter_id])
        rows = cursor.fetchall()
    return {year: (pk, gifts, (first_id, as_date(day), campaign_id, appeal_id, source, bool(monthly)))
            for year, pk, gifts, first_id, day, campaign_id, appeal_id, source, monthly in rows if year is not None}


def _donor_move(*, donation: Donation, before: RollupWorth, after: RollupWorth) -> None:
    """A gift began or stopped counting for its donor (or moved day), and the
    one-statement change did not apply: under the supporter's lock, a year
    begun or ended by this gift is added or taken away with the difference it
    makes to the donor counts; anything else (a gift before the year's first,
    the year's first taken away with others left) is worked out from the gifts."""
    held = _donor_years_locked(donation.supporter_id)
    firsts = {year: first for year, (_, _, first) in held.items()}
    key = after.key if after.donor_day else before.key
    year = tax_year_start(key[0]).year
    row = held.get(year)
    table = connection.ops.quote_name(DonorYear._meta.db_table)
    if before.donor_day is None and after.donor_day is not None:
        first = (donation.pk, *key)
        if row is None:  # the donor's first gift of this year
            new = {**firsts, year: first}
            statements = _contribution_statements(_contributions(firsts), _contributions(new))
            statements.append((f"INSERT INTO {table} (supporter_id, tax_year, gifts, kept_pence, first_gift_id, "
                               f"first_gift_on, first_campaign_id, first_appeal_id, first_source, first_monthly) "
                               f"VALUES (%s, %s, 1, %s, %s, %s, %s, %s, %s, %s)",
                               [donation.supporter_id, year, after.kept_pence, *first]))
            _execute(statements)
            return
        if (row[2][1], row[2][0]) < (after.donor_day, donation.pk):  # a year's row made while we waited
            _execute([(f"UPDATE {table} SET gifts = gifts + 1, kept_pence = kept_pence + %s WHERE id = %s",
                       [after.kept_pence, row[0]])])
            return
    elif after.donor_day is None and row is not None and row[1] == 1 and row[2][0] == donation.pk:
        rest = {y: first for y, first in firsts.items() if y != year}  # the year's only gift stops counting
        statements = _contribution_statements(_contributions(firsts), _contributions(rest))
        statements.append((f"DELETE FROM {table} WHERE id = %s", [row[0]]))
        _execute(statements)
        return
    # Rare: lock the years' rows too (a gift just counted in one is committed first), then read the gifts.
    list(DonorYear.objects.select_for_update().filter(supporter_id=donation.supporter_id).values_list("pk"))
    _donor_years_replace(donation.supporter_id, firsts)


def _contribution_statements(old: dict, new: dict) -> list[tuple[str, list]]:
    statements = []
    for where in old.keys() | new.keys():
        was, now = old.get(where, {}), new.get(where, {})
        statement = _income_statement(where[0], where[1], {name: now.get(name, 0) - was.get(name, 0)
                                                           for name in DONOR_FIGURES})
        if statement:
            statements.append(statement)
    return statements


def _apply_contribution_change(old: dict, new: dict) -> None:
    _execute(_contribution_statements(old, new))


def donor_years_merge(*, survivor_id: int, duplicate_id: int) -> None:
    """Two supporters merged (their gifts already moved to the survivor): take
    both donors' counts away and add the survivor's, worked out from the gifts.
    Inside the merge's transaction, which has both supporters locked."""
    held = {row.tax_year: row for row in DonorYear.objects.filter(supporter_id=survivor_id)}
    duplicate = {row.tax_year: row for row in DonorYear.objects.filter(supporter_id=duplicate_id)}
    _apply_contribution_change(_contributions(_held_firsts(duplicate)), {})
    DonorYear.objects.filter(supporter_id=duplicate_id).delete()
    _donor_years_replace(survivor_id, _held_firsts(held))


# Many gifts at once (an import, and its rollback) -------------------------------

def _add_rows(model, rows, fields: dict[str, str], conflict: tuple[str, ...], *, sign: int) -> None:
    """Add a values() query's sums to `model`'s rows (making them as need be),
    the sums times `sign`: INSERT … SELECT … ON CONFLICT DO UPDATE, read by
    PostgreSQL and SQLite alike."""
    quote = connection.ops.quote_name
    table = quote(model._meta.db_table)
    sql, params = rows.query.sql_with_params()
    added = [name for name in fields if name not in conflict]
    select = ", ".join(quote(value) if name in conflict else f"{sign} * {quote(value)}"
                       for name, value in fields.items())
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} ({', '.join(map(quote, fields))}) SELECT {select} FROM ({sql}) AS given WHERE true "
            f"ON CONFLICT ({', '.join(map(quote, conflict))}) DO UPDATE SET "
            + ", ".join(f"{quote(name)} = {table}.{quote(name)} + excluded.{quote(name)}" for name in added), params)


def income_rollups_add_gifts(gifts: Q, *, sign: int = 1) -> None:
    """Add (sign 1) or take away (-1) the worth of many gifts, those matching
    `gifts`, in a few statements: an import's gifts once written, or before its
    rollback deletes them. The donors' years are recounted by donor_years_recount."""
    received = _received_gifts().filter(gifts)
    counted = Q(kept__gt=0)
    _add_rows(DailyIncome, received.annotate(
        to_campaign=Coalesce("campaign_id", Value(0)), to_appeal=Coalesce("appeal_id", Value(0)), shard=Value(0))
        .values("day", "to_campaign", "to_appeal", "source", "monthly", "shard").annotate(
            none=Value(0),  # the donor counts: donor_years_recount's
            n_gifts=Count("pk", filter=counted),
            n_donor_gifts=Count("pk", filter=counted & Q(supporter__isnull=False)), n_received=Sum("amount_pence"),
            n_refunded=Sum("refunded_pence"), n_kept=Sum("kept"),
            n_disputed=Sum(Case(When(status=Donation.Status.DISPUTED, then=F("kept")), default=Value(0))),
            n_fee=Sum(Coalesce("fee_pence", Value(0))),
            n_gift_aid=Sum(Case(When(gift_aid_declared=True, then=F("kept") / Value(4)), default=Value(0))))
        .order_by(),
        {"day": "day", "campaign_id": "to_campaign", "appeal_id": "to_appeal", "source": "source",
         "monthly": "monthly", "shard": "shard", "gifts": "n_gifts", "donor_gifts": "n_donor_gifts",
         "received_pence": "n_received", "refunded_pence": "n_refunded", "kept_pence": "n_kept",
         "disputed_pence": "n_disputed", "fee_pence": "n_fee", "gift_aid_pence": "n_gift_aid",
         **{name: "none" for name in DONOR_FIGURES}},
        ("day", "campaign_id", "appeal_id", "source", "monthly", "shard"), sign=sign)
    sizes = received.filter(counted).annotate(to_campaign=Coalesce("campaign_id", Value(0)), size=F("kept"))
    _add_rows(DailyGiftSizes, sizes.values("day", "to_campaign", "size").annotate(n=Count("pk")).order_by(),
              {"day": "day", "campaign_id": "to_campaign", "kept_pence": "size", "gifts": "n"},
              ("day", "campaign_id", "kept_pence"), sign=sign)
    _add_rows(MonthlyGiftSizes, sizes.annotate(month=TruncMonth("day")).values("month", "to_campaign", "size")
              .annotate(n=Count("pk")).order_by(),
              {"month": "month", "campaign_id": "to_campaign", "kept_pence": "size", "gifts": "n"},
              ("month", "campaign_id", "kept_pence"), sign=sign)


def donor_years_recount(supporters, *, leaving_out: Q | None = None) -> None:
    """Work out again the years of the supporters whose ids `supporters` (a
    values() query) gives, from their gifts (less those `leaving_out`: an
    import's, about to be rolled back), and move the donor counts by the
    difference. Their rows are locked first, as a gift of theirs would lock them."""
    if connection.features.has_select_for_update:
        list(Supporter.objects.filter(pk__in=supporters).order_by("pk").select_for_update().values_list("pk"))
    before = _donor_counts(supporters)
    DonorYear.objects.filter(supporter_id__in=supporters).delete()
    donors = _received_gifts().filter(kept__gt=0, supporter_id__in=supporters)
    if leaving_out is not None:
        donors = donors.exclude(leaving_out)
    (_donor_years_in_sql if connection.vendor == "postgresql" else _donor_years_in_python)(donors)
    after = _donor_counts(supporters)
    by_sql = defaultdict(list)  # one executemany per set of figures changed
    for key in before.keys() | after.keys():
        statement = _income_statement(key, 0, {name: after.get(key, {}).get(name, 0) - before.get(key, {}).get(name, 0)
                                               for name in DONOR_FIGURES})
        if statement:
            by_sql[statement[0]].append(statement[1])
    with connection.cursor() as cursor:
        for sql, params in by_sql.items():
            cursor.executemany(sql, params)


# The rebuild -----------------------------------------------------------------

def _received_gifts():
    """The received gifts annotated with their rollup key's parts, in SQL."""
    kept = Case(When(status__in=Donation.INCOME_STATUSES, then=F("amount_pence") - F("refunded_pence")), default=Value(0))
    source = Case(*(When(gifts_of_source(source), then=Value(source)) for source in IncomeSource.values))
    # A gift taken online counts once recorded (donations.services.gifts.online_gifts_record).
    return (Donation.objects.filter(status__in=RECEIVED_STATUSES, form_details__isnull=True)
            .annotate(day=TruncDate(Coalesce("paid_at", "created_at"), tzinfo=timezone.get_current_timezone()),
                      kept=kept, source=source,
                      monthly=Case(When(recurring_gift__isnull=False, then=Value(True)), default=Value(False))))


@transaction.atomic
def income_rollups_rebuild(*, in_sql: bool | None = None) -> dict[str, int]:
    """Work every rollup out again from the gifts, replacing what was kept live
    (after a bulk load, or to prove and repair). The rollup tables are locked
    for the while on PostgreSQL: a gift recorded meanwhile waits, then adds
    itself on top. The donors' years are worked out in SQL on PostgreSQL
    (`in_sql`; in Python elsewhere, or to check the SQL against). Returns how
    many rows each table holds."""
    tables = (DailyIncome, DailyGiftSizes, MonthlyGiftSizes, DonorYear)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:  # emptied and locked at once; nothing refers to these rows
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # TRUNCATE refuses while checks wait for the commit
            cursor.execute("TRUNCATE " + ", ".join(connection.ops.quote_name(m._meta.db_table) for m in tables))
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")
    else:
        for model in tables:
            model.objects.all().delete()

    gifts = _received_gifts()
    counted = Q(kept__gt=0)
    income = {}
    for row in (gifts.values("day", "campaign_id", "appeal_id", "source", "monthly")
                .annotate(n_gifts=Count("pk", filter=counted),
                          n_donor_gifts=Count("pk", filter=counted & Q(supporter__isnull=False)), n_received=Sum("amount_pence"),
                          n_refunded=Sum("refunded_pence"), n_kept=Sum("kept"),
                          n_disputed=Sum(Case(When(status=Donation.Status.DISPUTED, then=F("kept")), default=Value(0))),
                          n_fee=Sum(Coalesce("fee_pence", Value(0))),
                          n_gift_aid=Sum(Case(When(gift_aid_declared=True, then=F("kept") / Value(4)),
                                              default=Value(0))))
                .order_by()):
        key = (row["day"], row["campaign_id"] or 0, row["appeal_id"] or 0, row["source"], bool(row["monthly"]), 0)
        income[key] = DailyIncome(
            day=key[0], campaign_id=key[1], appeal_id=key[2], source=key[3], monthly=key[4], shard=0,
            gifts=row["n_gifts"], donor_gifts=row["n_donor_gifts"], received_pence=row["n_received"], refunded_pence=row["n_refunded"],
            kept_pence=row["n_kept"], disputed_pence=row["n_disputed"], fee_pence=row["n_fee"],
            gift_aid_pence=row["n_gift_aid"])

    sizes = _write_rows(
        DailyGiftSizes, gifts.filter(counted).annotate(to_campaign=Coalesce("campaign_id", Value(0)), size=F("kept"))
        .values("day", "to_campaign", "size").annotate(n=Count("pk")).order_by(),
        {"day": "day", "campaign_id": "to_campaign", "kept_pence": "size", "gifts": "n"})
    _write_rows(
        MonthlyGiftSizes, DailyGiftSizes.objects.annotate(month=TruncMonth("day")).values("month", "campaign_id",
                                                                                          "kept_pence")
        .annotate(n=Sum("gifts")).order_by(),
        {"month": "month", "campaign_id": "campaign_id", "kept_pence": "kept_pence", "gifts": "n"})

    donors = gifts.filter(counted, supporter__isnull=False)
    if in_sql is None:
        in_sql = connection.vendor == "postgresql"
    (_donor_years_in_sql if in_sql else _donor_years_in_python)(donors)
    for key, added in _donor_counts().items():
        _add_donor_counts(income, (*key, 0), added)
    DailyIncome.objects.bulk_create(income.values(), batch_size=5000)
    return {"daily income rows": len(income), "gift size rows": sizes,
            "donor years": DonorYear.objects.count()}


def _write_rows(model, rows, fields: dict[str, str]) -> int:
    """Write `model`'s rows from a values() query (field to the query's name for
    it). On PostgreSQL by INSERT … SELECT: hundreds of thousands of rows never
    leave the database. Returns how many."""
    if connection.vendor == "postgresql":
        quote = connection.ops.quote_name
        sql, params = rows.query.sql_with_params()
        with connection.cursor() as cursor:
            cursor.execute(f"INSERT INTO {quote(model._meta.db_table)} ({', '.join(map(quote, fields))}) "
                           f"SELECT {', '.join(map(quote, fields.values()))} FROM ({sql}) AS given", params)
            return cursor.rowcount
    made = [model(**{field: row[name] for field, name in fields.items()}) for row in rows]
    model.objects.bulk_create(made, batch_size=5000)
    return len(made)


def _add_donor_counts(income: dict, key: tuple, added: dict) -> None:
    if key not in income:
        income[key] = DailyIncome(day=key[0], campaign_id=key[1], appeal_id=key[2], source=key[3],
                                  monthly=key[4], shard=key[5])
    for name, value in added.items():
        setattr(income[key], name, getattr(income[key], name) + value)


def _donor_years_in_python(donors) -> None:
    """DonorYear rows from each donor's counted gifts in date order, read once."""
    donor_years = []
    rows = stream_rows(donors.order_by("supporter_id", "day", "pk")
                       .values_list("supporter_id", "pk", "day", "campaign_id", "appeal_id", "source", "monthly", "kept"))

    def flush(supporter_id, years):
        for year, ((gift_id, day, campaign_id, appeal_id, source, monthly), gifts_in_year, kept) in years.items():
            donor_years.append(DonorYear(
                supporter_id=supporter_id, tax_year=year, gifts=gifts_in_year, kept_pence=kept, first_gift_id=gift_id,
                first_gift_on=day, first_campaign_id=campaign_id, first_appeal_id=appeal_id, first_source=source,
                first_monthly=monthly))

    current, years = None, {}
    for supporter_id, pk, day, campaign_id, appeal_id, source, monthly, kept in rows:
        day = as_date(day)  # stream_rows gives SQLite's TruncDate without Django's converter
        if supporter_id != current:
            if current is not None:
                flush(current, years)
            current, years = supporter_id, {}
        year = tax_year_start(day).year
        if year in years:
            first, gifts_in_year, kept_in_year = years[year]
            years[year] = (first, gifts_in_year + 1, kept_in_year + kept)
        else:
            years[year] = ((pk, day, campaign_id or 0, appeal_id or 0, source, bool(monthly)), 1, kept)
    if current is not None:
        flush(current, years)
    # Written once the read is over: on PostgreSQL the stream holds the connection until then.
    DonorYear.objects.bulk_create(donor_years, batch_size=5000)


def _donor_years_in_sql(donors) -> None:
    """The same as _donor_years_in_python, in PostgreSQL: each donor's first counted gift of each
    tax year (DISTINCT ON), with the year's gifts and what they kept by a window."""
    quote = connection.ops.quote_name
    sql, params = donors.values_list("supporter_id", "pk", "day", "campaign_id", "appeal_id", "source",
                                     "monthly", "kept").order_by().query.sql_with_params()
    table = quote(DonorYear._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(f"""
            INSERT INTO {table} (supporter_id, tax_year, gifts, kept_pence, first_gift_id, first_gift_on,
                                 first_campaign_id, first_appeal_id, first_source, first_monthly)
            SELECT DISTINCT ON (supporter_id, tax_year)
                   supporter_id, tax_year, count(*) OVER year, sum(kept) OVER year, pk, day,
                   coalesce(campaign_id, 0), coalesce(appeal_id, 0), source, monthly
            FROM (SELECT g.*, extract(year FROM day)::int
                              - CASE WHEN to_char(day, 'MMDD') < '0406' THEN 1 ELSE 0 END AS tax_year
                  FROM ({sql}) AS g (supporter_id, pk, day, campaign_id, appeal_id, source, monthly, kept)) AS gifts
            WINDOW year AS (PARTITION BY supporter_id, tax_year)
            ORDER BY supporter_id, tax_year, day, pk""", params)


def _donor_counts(supporters=None) -> dict[tuple, dict[str, int]]:
    """The donor counts the held donors' years add, by their first gifts' keys
    (new: the donor's first year; retained: the year before held too): of every
    donor, or of the supporters whose ids `supporters` (a values() query) gives."""
    table = connection.ops.quote_name(DonorYear._meta.db_table)
    where, params = "", ()
    if supporters is not None:
        sql, params = supporters.query.sql_with_params()
        where = f"WHERE supporter_id IN ({sql})"
    with connection.cursor() as cursor:
        cursor.execute(f"""
            SELECT first_gift_on, first_campaign_id, first_appeal_id, first_source, first_monthly,
                   count(*), count(*) FILTER (WHERE previous = tax_year - 1),
                   count(*) FILTER (WHERE tax_year = first_year)
            FROM (SELECT *, lag(tax_year) OVER (PARTITION BY supporter_id ORDER BY tax_year) AS previous,
                         min(tax_year) OVER (PARTITION BY supporter_id) AS first_year
                  FROM {table} {where}) AS years
            GROUP BY 1, 2, 3, 4, 5""", params)
        return {(as_date(day), campaign_id, appeal_id, source, bool(monthly)):
                {"year_donors": year_donors, "year_retained": retained, "new_donors": new}
                for day, campaign_id, appeal_id, source, monthly, year_donors, retained, new in cursor.fetchall()}
