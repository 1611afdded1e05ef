from django_tasks import task


@task()
def fetch_payout_lines(payout_id: str) -> int:
    """Fetch a paid payout's balance transactions from Stripe (idempotent)."""
    from finance.services.payouts import payout_fetch_lines  # services queue this task

    return payout_fetch_lines(payout_id=payout_id).lines.count()
