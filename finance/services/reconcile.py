"""Reconciliation in one call (for the screen, the command and cron): lines
matched to gifts that have since arrived, every certain bank match confirmed,
and what is left, by kind."""

import dataclasses
import datetime

from finance import selectors
from finance.services import bank, payouts


@dataclasses.dataclass
class Reconciliation:
    lines_matched_now: int
    bank_matches_now: int
    to_choose: list[bank.Proposal]
    exceptions: selectors.Exceptions


def reconcile(*, month: datetime.date | None = None, confirm_certain: bool = True, by=None,
              today: datetime.date | None = None) -> Reconciliation:
    """Idempotent: a second run finds nothing new to match."""
    lines_matched = payouts.payout_lines_match(lines=selectors.lines_without_gift())
    matched = bank.bank_matches_confirm(by=by) if confirm_certain else 0
    _certain, to_choose = bank.bank_match_proposals()
    return Reconciliation(lines_matched_now=lines_matched, bank_matches_now=matched, to_choose=to_choose,
                          exceptions=selectors.finance_exceptions(today=today, month=month))


def exceptions_beyond(exceptions: selectors.Exceptions, proposals: list[bank.Proposal]) -> selectors.Exceptions:
    """The exceptions less the payouts, batches and credits that a proposed match
    already accounts for (Finance confirms or chooses those above them)."""
    payout_ids = {proposal.payout.pk for proposal in proposals if proposal.payout}
    line_ids = {line.pk for proposal in proposals for line in proposal.candidates}
    return dataclasses.replace(
        exceptions,
        payouts_not_in_bank=[payout for payout in exceptions.payouts_not_in_bank if payout.pk not in payout_ids],
        unmatched_credits=[line for line in exceptions.unmatched_credits if line.pk not in line_ids])
