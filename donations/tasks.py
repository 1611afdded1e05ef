"""Background work on Django's task framework (django-tasks, with the
django-tasks-db backend in production: `manage.py db_worker`)."""

import datetime

from django_tasks import task

from donations.services import monthly


@task()
def charge_monthly_gifts(date: str | None = None) -> dict:
    return monthly.monthly_charges_run(today=datetime.date.fromisoformat(date) if date else None)


@task()
def apply_stripe_events() -> dict:
    """The Stripe events stored by the webhook and not yet applied (donations.webhooks)."""
    from donations import webhooks

    return webhooks.stripe_events_apply()


@task()
def record_online_gifts() -> dict:
    """The gifts taken online since the last run: their donors, consent, Gift
    Aid declarations, campaigns, totals and receipts (donations.services.gifts)."""
    from donations.services import online_gifts_record

    return online_gifts_record()


@task()
def send_receipt(donation_id: int) -> None:
    from donations.services import donation_send_receipt

    donation_send_receipt(donation_id=donation_id)


@task()
def send_monthly_welcome(recurring_gift_id: int) -> None:
    monthly.recurring_gift_send_welcome(recurring_gift_id=recurring_gift_id)


@task()
def fetch_fee(payment_intent_id: str) -> None:
    """The fee and net of a succeeded gift, from its balance transaction at Stripe."""
    from donations.services import donation_refresh_from_stripe

    donation_refresh_from_stripe(payment_intent_id=payment_intent_id)


@task()
def send_monthly_payment_failed(charge_id: int, attempt: int) -> None:
    """Once per attempt, however often it runs (see monthly_charge_send_failure_notice)."""
    monthly.monthly_charge_send_failure_notice(charge_id=charge_id, attempt=attempt)


@task()
def send_annual_statement(supporter_id: int, tax_year: int) -> bool:
    """One supporter's statement for the tax year starting in `tax_year`; sent at
    most once, so a task run twice (or queued twice) sends one email."""
    from donations.services.statements import annual_statement_send
    from supporters.models import Supporter

    supporter = Supporter.objects.filter(pk=supporter_id, erased_at__isnull=True).first()
    if supporter is None:
        return False
    message = annual_statement_send(supporter=supporter, tax_year=tax_year)
    return message is not None


@task()
def refresh_gift_aid_position() -> None:
    """Work out where unclaimed Gift Aid stands (every unclaimed gift under HMRC's
    rules) and keep it for the dashboard, which asks for this when it is stale."""
    from django.core.cache import cache

    from donations import selectors

    try:
        cache.set(selectors.GIFT_AID_POSITION_KEY, selectors.gift_aid_unclaimed_position(), timeout=None)
    finally:
        cache.delete(selectors.GIFT_AID_POSITION_REFRESHING_KEY)
