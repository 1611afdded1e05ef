from django.apps import AppConfig


class SupportersConfig(AppConfig):
    name = "supporters"
    verbose_name = "Supporters"
    default_auto_field = "django.db.models.BigAutoField"
