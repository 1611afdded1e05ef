"""The bank: statements imported (each line held once however often its file
comes in) and credits matched to what explains them: a Stripe payout, a
paying-in batch, or Finance's note that it is other income.

Matching is exact: a credit of exactly the payout's (or batch's) amount,
within three working days of the day it was expected, preferring one whose
description carries its reference. Never a near amount. Where one credit fits,
it is proposed and Finance confirms; where two fit, Finance chooses."""

import dataclasses
import datetime

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from config.db import bulk_set
from config.errors import ApplicationError
from finance import bank_statements, selectors
from finance.models import BankAccount, BankLine, BankStatement, PayingInBatch, Payout


def _read(*, account: BankAccount, data: bytes, columns: bank_statements.ColumnMap | None, layout: str | None):
    if columns is not None or layout is not None:
        return bank_statements.read_bank_statement(data, columns=columns, layout=layout)
    try:
        return bank_statements.read_bank_statement(data)
    except bank_statements.StatementError as unknown:
        if not account.column_map or not bank_statements.is_unknown_layout(unknown):
            raise
        return bank_statements.read_bank_statement(data, columns=column_map_from_json(account.column_map))


def column_map_from_json(saved: dict) -> bank_statements.ColumnMap:
    saved = dict(saved)
    if isinstance(saved.get("description"), list):
        saved["description"] = tuple(saved["description"])
    return bank_statements.ColumnMap(**saved)


def column_map_to_json(columns: bank_statements.ColumnMap) -> dict:
    return {key: list(value) if isinstance(value, tuple) else value
            for key, value in dataclasses.asdict(columns).items()}


def _check_account(account: BankAccount, statement) -> None:
    digits = lambda text: "".join(ch for ch in (text or "") if ch.isdigit())  # noqa: E731
    if statement.account_number and account.account_number and \
            digits(statement.account_number) != digits(account.account_number):
        raise ApplicationError(f"This statement is for account number {statement.account_number}, not "
                               f"{account.account_number} ({account.name}). Choose the right account.", field="account")
    if statement.sort_code and account.sort_code and digits(statement.sort_code) != digits(account.sort_code):
        raise ApplicationError(f"This statement is for sort code {statement.sort_code}, not {account.sort_code} "
                               f"({account.name}). Choose the right account.", field="account")


@transaction.atomic
def bank_statement_import(*, account: BankAccount, data: bytes, filename: str,
                          columns: bank_statements.ColumnMap | None = None, layout: str | None = None,
                          by=None) -> BankStatement:
    """Import a statement file into the account: every line not already held is
    added (a re-import of an overlapping statement adds nothing twice; two
    identical lines on one day are two lines). The whole file or nothing:
    StatementError (an ApplicationError naming the line and column) for a file
    we cannot read. Columns Finance mapped for an unknown layout are remembered
    for the account."""
    statement = _read(account=account, data=data, columns=columns, layout=layout)
    if not statement.lines:
        raise ApplicationError("The statement has no transactions in it.", field="file")
    _check_account(account, statement)
    if columns is not None:
        account.column_map = column_map_to_json(columns)
        account.save(update_fields=["column_map"])
    if not account.sort_code and statement.sort_code:
        BankAccount.objects.filter(pk=account.pk).update(sort_code=statement.sort_code)
    if not account.account_number and statement.account_number:
        BankAccount.objects.filter(pk=account.pk).update(account_number=statement.account_number)
    identities = {line.identity(str(account.pk)): line for line in statement.lines}
    held = set()
    keys = list(identities)
    for start in range(0, len(keys), 2000):
        held |= set(BankLine.objects.filter(identity__in=keys[start:start + 2000]).values_list("identity", flat=True))
    record = BankStatement.objects.create(
        account=account, filename=filename[:255], layout=statement.layout, first_date=statement.lines[0].date,
        last_date=statement.lines[-1].date, lines_added=len(identities) - len(held), lines_already_held=len(held),
        imported_by=by)
    BankLine.objects.bulk_create([
        BankLine(account=account, statement=record, identity=identity, date=line.date,
                 description=line.description[:500], paid_in_pence=line.paid_in_pence,
                 paid_out_pence=line.paid_out_pence, balance_pence=line.balance_pence, file_line=line.file_line,
                 status=BankLine.Status.UNMATCHED if line.paid_in_pence else BankLine.Status.NOT_A_CREDIT)
        for identity, line in identities.items() if identity not in held], batch_size=2000)
    return record


# --- matching ----------------------------------------------------------------------

@dataclasses.dataclass
class Proposal:
    """What a credit could be: a payout or a batch, and the credits that fit."""

    payout: Payout | None
    batch: PayingInBatch | None
    candidates: list[BankLine]

    @property
    def amount_pence(self) -> int:
        return self.payout.amount_pence if self.payout else self.batch.expected_total_pence

    @property
    def key(self) -> str:
        return f"payout-{self.payout.pk}" if self.payout else f"batch-{self.batch.pk}"


def _payout_reference(payout: Payout) -> str:
    return payout.statement_descriptor or payout.stripe_payout_id


def bank_match_proposals() -> tuple[list[Proposal], list[Proposal]]:
    """(one credit fits: proposed for Finance to confirm; several fit: for Finance
    to choose). A credit that fits two payouts is offered to neither as certain."""
    proposals = []
    credits = selectors.unmatched_credits_by_amount()
    for payout in selectors.payouts_awaiting_bank():
        candidates = selectors.credit_candidates(amount_pence=payout.amount_pence, expected_on=payout.arrival_date,
                                                 reference=_payout_reference(payout), credits_by_amount=credits)
        if candidates:
            proposals.append(Proposal(payout, None, candidates))
    for batch in selectors.batches_awaiting_bank():
        candidates = selectors.credit_candidates(amount_pence=batch.expected_total_pence,
                                                 expected_on=batch.banking_date, reference=batch.reference,
                                                 credits_by_amount=credits)
        if candidates:
            proposals.append(Proposal(None, batch, candidates))
    wanted: dict[int, int] = {}
    for proposal in proposals:
        for line in proposal.candidates:
            wanted[line.pk] = wanted.get(line.pk, 0) + 1
    certain = [p for p in proposals if len(p.candidates) == 1 and wanted[p.candidates[0].pk] == 1]
    return certain, [p for p in proposals if p not in certain]


def _refuse_line(line: BankLine) -> None:
    if line.status != BankLine.Status.UNMATCHED:
        raise ApplicationError(f"The bank line of {line.date:%d/%m/%Y} is already {line.get_status_display().lower()}.")


def _refuse_target(line: BankLine, target: Payout | PayingInBatch) -> None:
    """ApplicationError unless the payout or batch (locked) can be matched to the credit."""
    amount = target.amount_pence if isinstance(target, Payout) else target.expected_total_pence
    if target.bank_line_id:
        raise ApplicationError(f"{target} is already matched to a bank line.")
    if isinstance(target, PayingInBatch) and target.status != PayingInBatch.Status.CLOSED:
        raise ApplicationError(f"{target} is still open: close it (its gifts must add up) before matching it.")
    if amount != line.paid_in_pence:
        raise ApplicationError(f"The credit is {line.paid_in_pence / 100:,.2f} and {target} is "
                               f"{amount / 100:,.2f}: only an exact amount matches.")


@transaction.atomic
def bank_match_confirm(*, line: BankLine, payout: Payout | None = None, batch: PayingInBatch | None = None,
                       by=None) -> BankLine:
    """Match a bank credit to a payout or a closed batch of exactly its amount."""
    line = BankLine.objects.select_for_update().get(pk=line.pk)
    _refuse_line(line)
    if (payout is None) == (batch is None):
        raise ApplicationError("Choose a payout or a batch to match.")
    target = Payout.objects.select_for_update().get(pk=payout.pk) if payout else \
        PayingInBatch.objects.select_for_update().get(pk=batch.pk)
    _refuse_target(line, target)
    now = timezone.now()
    target.bank_line = line
    if payout:
        target.matched_by, target.matched_at = by, now
        target.save(update_fields=["bank_line", "matched_by", "matched_at"])
    else:
        target.save(update_fields=["bank_line"])
    line.status, line.resolved_by, line.resolved_at = BankLine.Status.MATCHED, by, now
    line.save(update_fields=["status", "resolved_by", "resolved_at"])
    return line


@transaction.atomic
def bank_matches_confirm(*, keys: list[str] | None = None, by=None) -> int:
    """Confirm the proposed matches named by their keys (all, with none named),
    those still certain; returns how many. All or none, checked as
    bank_match_confirm checks one, in a few statements however many there are
    (a year's 365 payouts one by one took over a second)."""
    certain, _ = bank_match_proposals()
    chosen = [proposal for proposal in certain if keys is None or proposal.key in keys]
    if not chosen:
        return 0
    lines = BankLine.objects.select_for_update().in_bulk([proposal.candidates[0].pk for proposal in chosen])
    payouts = Payout.objects.select_for_update().in_bulk([proposal.payout.pk for proposal in chosen if proposal.payout])
    batches = PayingInBatch.objects.select_for_update().in_bulk(
        [proposal.batch.pk for proposal in chosen if proposal.batch])
    for proposal in chosen:
        line = lines[proposal.candidates[0].pk]
        _refuse_line(line)
        _refuse_target(line, payouts[proposal.payout.pk] if proposal.payout else batches[proposal.batch.pk])
    now = timezone.now()
    bulk_set(Payout, [(proposal.payout.pk, proposal.candidates[0].pk, by.pk if by else None, now)
                      for proposal in chosen if proposal.payout], ["bank_line", "matched_by", "matched_at"])
    bulk_set(PayingInBatch, [(proposal.batch.pk, proposal.candidates[0].pk) for proposal in chosen if proposal.batch],
             ["bank_line"])
    BankLine.objects.filter(pk__in=list(lines)).update(status=BankLine.Status.MATCHED, resolved_by=by, resolved_at=now)
    return len(chosen)


@transaction.atomic
def bank_line_unmatch(*, line: BankLine, by=None) -> BankLine:
    line = BankLine.objects.select_for_update().get(pk=line.pk)
    Payout.objects.filter(bank_line=line).update(bank_line=None, matched_by=None, matched_at=None)
    PayingInBatch.objects.filter(bank_line=line).update(bank_line=None)
    line.status, line.note, line.resolved_by, line.resolved_at = BankLine.Status.UNMATCHED, "", by, timezone.now()
    line.save(update_fields=["status", "note", "resolved_by", "resolved_at"])
    return line


@transaction.atomic
def bank_line_mark_other_income(*, line: BankLine, note: str, by=None) -> BankLine:
    """A credit that is not a donation (interest, a grant, a refund from a
    supplier): kept out of the donation reconciliation, with Finance's note."""
    note = " ".join((note or "").split())
    if not note:
        raise ApplicationError("Say what the money is (e.g. “Bank interest”).", field="note")
    line = BankLine.objects.select_for_update().get(pk=line.pk)
    if line.status != BankLine.Status.UNMATCHED:
        raise ApplicationError(f"This line is already {line.get_status_display().lower()}.")
    line.status, line.note, line.resolved_by, line.resolved_at = BankLine.Status.OTHER_INCOME, note[:255], by, \
        timezone.now()
    line.save(update_fields=["status", "note", "resolved_by", "resolved_at"])
    return line


def unmatched_credits_between(start: datetime.date, end: datetime.date):
    return BankLine.objects.filter(Q(date__gte=start) & Q(date__lte=end), status=BankLine.Status.UNMATCHED,
                                   paid_in_pence__gt=0)
