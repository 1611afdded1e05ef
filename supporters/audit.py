"""The audit log of personal data (supporters.AuditEntry), wired to django-auditlog.

Why django-auditlog rather than django-pghistory: pghistory records by PostgreSQL
triggers, and the tests and `make run` use SQLite too; auditlog records in Python
on both, lets the log's model be ours (AUDITLOG_LOGENTRY_MODEL: with the event and
the link to the export log) and already knows an "access" action for views.

Changes are recorded for what staff do in the admin only: a gift on the public
site, Stripe's webhooks and the task worker write nothing here, so the audit log
never slows or blocks a gift. Views, downloads and erasures are written by
supporters.services.audit."""

from auditlog.context import disable_auditlog
from auditlog.middleware import AuditlogMiddleware
from auditlog.registry import auditlog

# (model, the field naming its supporter) for each model whose changes are logged:
# an erasure scrubs their entries of the person's data.
_AUDITED = []


def audit_register(model, *, supporter_field: str, **options) -> None:
    """Log the changes staff make to `model` (auditlog's options, e.g. include_fields)."""
    auditlog.register(model, **options)
    _AUDITED.append((model, supporter_field))


def audited_models():
    return list(_AUDITED)


class StaffAuditMiddleware(AuditlogMiddleware):
    """Names the staff member behind each change made in the admin; elsewhere
    (the public site, webhooks) nothing is logged."""

    prefix = "/admin/"

    def __call__(self, request):
        if request.path.startswith(self.prefix):
            return super().__call__(request)
        with disable_auditlog():
            return self.get_response(request)
