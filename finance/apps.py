from django.apps import AppConfig


class FinanceConfig(AppConfig):
    name = "finance"
    verbose_name = "Finance"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        # Stripe sends payout events to the one webhook that donations owns.
        from donations import webhooks
        from donations.services import books
        from finance.services import months, payouts

        for event_type in payouts.PAYOUT_EVENTS:
            webhooks.register_event_handler(event_type, payouts.payout_event_apply)
        # Donations' services refuse changes dated in a month Finance has closed.
        books.register_closed_month_check(months.month_is_closed)
