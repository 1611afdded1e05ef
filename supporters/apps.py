from django.apps import AppConfig


class SupportersConfig(AppConfig):
    name = "supporters"
    verbose_name = "Supporters"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from anymail.signals import tracking

        from config import exports
        from supporters import checks  # noqa: F401  (registers the deployment check)
        from supporters.email_tracking import on_tracking_event
        from supporters.imports.engine import kind_register
        from supporters.imports.kinds import DeclarationsResource, SupportersResource
        from supporters import personal_data
        from supporters.services.exports import export_record_create

        tracking.connect(on_tracking_event, dispatch_uid="supporters.email_tracking")
        # Every download, from any app, is kept as an ExportRecord (the lowest app holds it).
        exports.export_recorder_register(export_record_create)
        kind_register(SupportersResource)
        kind_register(DeclarationsResource)
