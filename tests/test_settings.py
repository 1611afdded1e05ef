"""Production settings: with the production variables set, Django's deployment
check reports nothing; with a secret missing, the site refuses to start."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PRODUCTION_ENV = {
    "DJANGO_SETTINGS_MODULE": "config.settings.production",
    "SECRET_KEY": "k8$Zp2!vQ7#rW4^tY9&uI1*oP3(aS6)dF0_gH5+jK8=lL2-xC7",
    "ALLOWED_HOSTS": "give.brightwell.example",
    "DATABASE_URL": "sqlite:////tmp/brightwell-deploy-check.sqlite3",
    "EMAIL_BACKEND": "anymail.backends.postmark.EmailBackend",
    "ANYMAIL_POSTMARK_SERVER_TOKEN": "token",
    "CACHE_URL": "redis://127.0.0.1:6379/1",
    "STRIPE_SECRET_KEY": "sk_live_x",
    "STRIPE_PUBLISHABLE_KEY": "pk_live_x",
    "STRIPE_WEBHOOK_SECRET": "whsec_x",
    "ANYMAIL_WEBHOOK_SECRET": "hook:long-random-words",
    "RATELIMIT_IP_META_KEY": "HTTP_X_FORWARDED_FOR",
}


def manage(*args, env):
    clean = {k: v for k, v in os.environ.items()
             if k not in PRODUCTION_ENV and k not in ("DATABASE_URL", "DJANGO_ALLOW_ASYNC_UNSAFE")}
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env={**clean, **env},
                          capture_output=True, text=True, timeout=120)


def test_deploy_check_reports_nothing_with_production_variables():
    result = manage("check", "--deploy", "--fail-level", "DEBUG", env=PRODUCTION_ENV)
    assert result.returncode == 0, result.stdout + result.stderr
    # One check is silenced on purpose (X_FRAME_OPTIONS, for Wagtail's preview; see production.py).
    assert "System check identified no issues (1 silenced)." in result.stdout


def test_production_refuses_to_start_without_a_secret_key():
    env = {k: v for k, v in PRODUCTION_ENV.items() if k != "SECRET_KEY"}
    result = manage("check", env=env)
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr


def test_production_refuses_to_start_without_the_email_webhook_secret():
    """Without it anyone could post forged bounces to the tracking webhook and stop our email."""
    env = {k: v for k, v in PRODUCTION_ENV.items() if k != "ANYMAIL_WEBHOOK_SECRET"}
    result = manage("check", env=env)
    assert result.returncode != 0
    assert "ANYMAIL_WEBHOOK_SECRET" in result.stderr


def test_a_provider_that_signs_its_webhooks_may_use_its_signing_key_instead():
    env = {k: v for k, v in PRODUCTION_ENV.items() if k not in ("ANYMAIL_WEBHOOK_SECRET", "ANYMAIL_POSTMARK_SERVER_TOKEN")}
    env.update(EMAIL_BACKEND="anymail.backends.mailgun.EmailBackend", ANYMAIL_MAILGUN_API_KEY="key",
               ANYMAIL_MAILGUN_SENDER_DOMAIN="mg.brightwell.example", ANYMAIL_MAILGUN_WEBHOOK_SIGNING_KEY="signing")
    result = manage("check", "--deploy", "--fail-level", "DEBUG", env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    without_key = {k: v for k, v in env.items() if k != "ANYMAIL_MAILGUN_WEBHOOK_SIGNING_KEY"}
    result = manage("check", env=without_key)
    assert result.returncode != 0 and "ANYMAIL_MAILGUN_WEBHOOK_SIGNING_KEY" in result.stderr


def test_production_mounts_only_the_providers_tracking_webhook():
    probe = ("from django.urls import resolve\n"
             "for path in ['/anymail/postmark/tracking/', '/anymail/postmark/inbound/', '/anymail/mailgun/tracking/',"
             " '/anymail/sendgrid/tracking/', '/anymail/mandrill/']:\n"
             "    print('RESOLVED', path, resolve(path).view_name)\n")
    result = manage("shell", "-c", probe, env=PRODUCTION_ENV)
    assert result.returncode == 0, result.stderr
    resolved = [line.split()[1:] for line in result.stdout.splitlines() if line.startswith("RESOLVED")]
    # Anything else falls through to Wagtail's pages (a 404 there).
    assert resolved == [["/anymail/postmark/tracking/", "anymail:postmark_tracking_webhook"],
                        ["/anymail/postmark/inbound/", "wagtail_serve"], ["/anymail/mailgun/tracking/", "wagtail_serve"],
                        ["/anymail/sendgrid/tracking/", "wagtail_serve"], ["/anymail/mandrill/", "wagtail_serve"]]


def test_the_deployment_check_flags_an_open_email_webhook(settings):
    from django.core.checks import run_checks

    settings.EMAIL_TRACKING_PROVIDER = "postmark"
    settings.ANYMAIL = {"POSTMARK_SERVER_TOKEN": "token"}
    flagged = [message for message in run_checks(include_deployment_checks=True) if message.id == "supporters.E001"]
    assert flagged and "ANYMAIL_WEBHOOK_SECRET" in flagged[0].msg
    settings.ANYMAIL = {"POSTMARK_SERVER_TOKEN": "token", "WEBHOOK_SECRET": "hook:words"}
    assert not [m for m in run_checks(include_deployment_checks=True) if m.id == "supporters.E001"]


def test_the_content_security_policy_is_enforced_unless_report_only_is_asked_for():
    ask = ("from django.conf import settings as s; "
           "print(bool(s.CONTENT_SECURITY_POLICY), bool(getattr(s, 'CONTENT_SECURITY_POLICY_REPORT_ONLY', None)))")
    enforced = manage("shell", "-c", ask, env=PRODUCTION_ENV)
    assert enforced.stdout.split()[-2:] == ["True", "False"], enforced.stdout + enforced.stderr
    reporting = manage("shell", "-c", ask, env={**PRODUCTION_ENV, "CSP_REPORT_ONLY": "true"})
    assert reporting.stdout.split()[-2:] == ["False", "True"], reporting.stdout + reporting.stderr
