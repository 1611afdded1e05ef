"""Background work on Django's task framework (django-tasks, with the
django-tasks-db backend in production: `manage.py db_worker`)."""

import datetime

from django_tasks import task

from donations import monthly


@task()
def charge_monthly_gifts(date: str | None = None) -> dict:
    return monthly.monthly_charges_run(today=datetime.date.fromisoformat(date) if date else None)


@task()
def send_receipt(donation_id: int) -> None:
    from donations.services import donation_send_receipt

    donation_send_receipt(donation_id=donation_id)


@task()
def fetch_fee(payment_intent_id: str) -> None:
    """The fee and net of a succeeded gift, from its balance transaction at Stripe."""
    from donations.services import donation_refresh_from_stripe

    donation_refresh_from_stripe(payment_intent_id=payment_intent_id)
