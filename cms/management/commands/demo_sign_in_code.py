"""Development only: the code the demo logins' authenticator would show now, so the
demo can be signed into without a phone (README: Running it)."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django_otp.oath import TOTP


class Command(BaseCommand):
    help = "Print the demo logins' current sign-in code (development only)."

    def handle(self, *args, **options):
        if not settings.DEMO_STAFF_TOTP_KEY:
            raise CommandError("There is no demo authenticator here: staff use their own authenticator apps.")
        totp = TOTP(bytes.fromhex(settings.DEMO_STAFF_TOTP_KEY))
        self.stdout.write(f"{totp.token():06d}  (for admin, fundraiser and finance; changes every 30 seconds)")
