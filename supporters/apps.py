from django.apps import AppConfig


class SupportersConfig(AppConfig):
    name = "supporters"
    verbose_name = "Supporters"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from anymail.signals import tracking

        from supporters import checks  # noqa: F401  (registers the deployment check)
        from supporters.email_tracking import on_tracking_event

        tracking.connect(on_tracking_event, dispatch_uid="supporters.email_tracking")

        from supporters.imports.engine import kind_register
        from supporters.imports.kinds import DeclarationsResource, SupportersResource

        kind_register(SupportersResource)
        kind_register(DeclarationsResource)
