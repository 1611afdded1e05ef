from django.apps import AppConfig


class FinanceConfig(AppConfig):
    name = "finance"
    verbose_name = "Finance"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        # Stripe sends payout events to the one webhook that donations owns.
        from donations import webhooks
        from finance.services import payouts

        for event_type in payouts.PAYOUT_EVENTS:
            webhooks.register_event_handler(event_type, payouts.payout_event_apply)
