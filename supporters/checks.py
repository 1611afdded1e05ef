"""`manage.py check --deploy`: the email provider's tracking webhook must authenticate its calls."""

from django.conf import settings
from django.core import checks

from config.email_webhooks import webhook_auth_problem


@checks.register(checks.Tags.security, deploy=True)
def email_tracking_webhook_is_authenticated(app_configs, **kwargs):
    problem = webhook_auth_problem(settings.EMAIL_TRACKING_PROVIDER, settings.ANYMAIL)
    return [checks.Error(problem, id="supporters.E001")] if problem else []
