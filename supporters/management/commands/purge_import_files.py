"""manage.py purge_import_files [--days N]: nightly, delete imported files (and
the rows their reports show) older than IMPORT_FILE_DAYS. What each import
counted, and the records it made, stay; so does its rollback."""

from django.core.management.base import BaseCommand

from supporters.services.imports import import_files_purge


class Command(BaseCommand):
    help = "Delete imported files older than IMPORT_FILE_DAYS (personal data kept no longer than needed)."

    def add_arguments(self, parser):
        parser.add_argument("--days", type=int, default=None, help="Older than this many days (default: the setting).")

    def handle(self, *args, days, **options):
        count = import_files_purge(older_than_days=days)
        self.stdout.write(f"Cleared the files of {count} import{'s' if count != 1 else ''}.")
