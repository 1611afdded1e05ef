from django.apps import AppConfig


class DonationsConfig(AppConfig):
    name = "donations"
    verbose_name = "Donations"
    default_auto_field = "django.db.models.BigAutoField"
