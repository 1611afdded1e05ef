"""manage.py import_data KIND FILE [--format NAME] [--dry-run] [--skip-bad-rows]

The same import as the Imports screen, from a terminal: prints the same
summary (what is created, matched, updated, already imported, and every
problem by row and column) and exits with 1 if the file has problems."""

import os

from django.core.management.base import BaseCommand, CommandError

from config.errors import ApplicationError
from supporters.imports.engine import kinds
from supporters.services import imports as import_services


class Command(BaseCommand):
    help = "Import supporters, gifts, Gift Aid declarations or a platform's report from a CSV or Excel file."

    def add_arguments(self, parser):
        parser.add_argument("kind", choices=sorted(kinds()), help="What the file holds.")
        parser.add_argument("file", help="The CSV or .xlsx file.")
        parser.add_argument("--format", default="", help="The format's name (its column mapping is remembered).")
        parser.add_argument("--dry-run", action="store_true", help="Check the file and report; save nothing.")
        parser.add_argument("--skip-bad-rows", action="store_true",
                            help="Import the good rows of a file with problems (the bad ones are reported).")
        parser.add_argument("--consent-wording", default=None,
                            help="The words the supporters in the file agreed to (for consent columns).")

    def handle(self, *args, kind, file, format, dry_run, skip_bad_rows, consent_wording, **options):
        if not os.path.isfile(file):
            raise CommandError(f"No file at {file}.")
        try:
            with open(file, "rb") as uploaded:
                data_import = import_services.data_import_upload(uploaded=uploaded, file_name=os.path.basename(file),
                                                                 kind=kind, format_name=format)
            run = import_services.data_import_check(data_import=data_import, skip_bad_rows=skip_bad_rows,
                                                    consent_wording=consent_wording)
            if not dry_run and (not run.problem_count or skip_bad_rows):
                run = import_services.data_import_confirm(data_import=data_import)
        except ApplicationError as error:
            raise CommandError(error.message) from error
        data_import.refresh_from_db()
        for line in import_services.summary_lines(data_import):
            self.stdout.write(line)
        if run.problem_count:
            raise CommandError(f"{run.problem_count} problem{'s' if run.problem_count != 1 else ''} in the file: "
                               + ("nothing was saved." if data_import.status != "imported"
                                  else "the other rows were imported."))
