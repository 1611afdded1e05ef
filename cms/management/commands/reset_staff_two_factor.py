"""Remove a staff login's authenticator (a lost or replaced phone): at their next
sign-in, after their password, they set up a new one. A superuser can do the same
in the admin (Settings → Users → the person → Reset two-factor sign-in)."""

from django.core.management.base import BaseCommand, CommandError

from cms.services import staff_two_factor
from config.errors import ApplicationError


class Command(BaseCommand):
    help = "Reset a staff login's two-factor sign-in, so they enrol a new authenticator at their next sign-in."

    def add_arguments(self, parser):
        parser.add_argument("username")

    def handle(self, *args, username, **options):
        try:
            removed = staff_two_factor.two_factor_reset(username=username)
        except ApplicationError as error:
            raise CommandError(error.message) from error
        self.stdout.write(f"{username}: {removed} authenticator(s) removed; they set up a new one at their next sign-in.")
