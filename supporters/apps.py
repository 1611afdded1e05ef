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

        from supporters.audit import audit_register
        from supporters.models import ConsentEvent, GiftAidDeclaration, Interaction, Supporter

        def own_fields(model, *leave_out):  # not the reverse relations auditlog would list too
            return [field.name for field in model._meta.concrete_fields if field.name not in leave_out]

        audit_register(Supporter, supporter_field="pk", include_fields=own_fields(Supporter, "updated_at"))
        for model in (ConsentEvent, GiftAidDeclaration, Interaction):
            audit_register(model, supporter_field="supporter", include_fields=own_fields(model))
