"""manage.py restore_drill: back up this site's PostgreSQL database and its
files, restore them into a fresh database and folder, and print the figures of
each side by side; exits with 1 if any differs (`make restore-drill`).

    python manage.py restore_drill --demo-if-empty     # make restore-drill
    python manage.py restore_drill --compare-only      # the last drill's copy against the database now

The restored database (`<name>_restored` unless --restore-into says otherwise)
and the backup files (in --workdir) are kept until the next drill, to inspect."""

import sys
import tempfile
from pathlib import Path

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import connections

from cms import backups
from supporters.models import Supporter


class Command(BaseCommand):
    help = "Back up the database and files, restore them afresh, and compare the figures (exit 1 on a difference)."

    def add_arguments(self, parser):
        parser.add_argument("--restore-into", default="", help="Database name to restore into (default: <name>_restored).")
        parser.add_argument("--workdir", default="", help="Where the backup and the restored files go "
                                                          "(default: a folder in the system's temp folder).")
        parser.add_argument("--demo-if-empty", action="store_true",
                            help="Create and migrate the database if needed, and load demo data if it has none.")
        parser.add_argument("--supporters", type=int, default=500, help="Demo supporters, with --demo-if-empty.")
        parser.add_argument("--compare-only", action="store_true",
                            help="Compare with the copy the last drill restored, without a new backup.")

    def handle(self, *args, restore_into, workdir, demo_if_empty, supporters, compare_only, **options):
        try:
            source = backups.default_database()
        except RuntimeError as error:
            raise CommandError(str(error)) from None
        target = source.renamed(restore_into or f"{source.name}_restored")
        if target.name == source.name:
            raise CommandError("The drill restores into a database of its own, never over the one it backs up.")
        work = Path(workdir or Path(tempfile.gettempdir()) / f"brightwell-restore-drill-{source.name}")
        restored_files = work / "restored-files"

        if demo_if_empty and not compare_only:
            if backups.database_ensure(source):
                self.stdout.write(f"Created the database {source.name}.")
            call_command("migrate", interactive=False, verbosity=0)
            if not Supporter.objects.exists():
                self.stdout.write(f"Loading demo data ({supporters} supporters) into {source.name}...")
                call_command("load_demo_data", supporters=supporters, stdout=self.stdout)
        if not compare_only:
            self.stdout.write(f"Backing up {source.name} (pg_dump, custom format) and the files into {work}...")
            backup = backups.backup_make(database=source, into=work)
            self.stdout.write(f"Restoring into a fresh database {target.name} and {restored_files}...")
            backups.backup_restore(backup=backup, database=target, files_into=restored_files)

        alias = backups.restored_alias(target)
        try:
            before = backups.figures(using="default", roots=backups.file_roots())
            after = backups.figures(using=alias, roots={key: restored_files / key for key in backups.file_roots()})
        finally:
            connections[alias].close()
        different = backups.differences(before, after)
        self._table(before, after, source.name, target.name, different)
        if different:
            self.stderr.write(f"The restored copy differs in {len(different)} figure(s): {', '.join(different)}.")
            sys.exit(1)
        self.stdout.write(self.style.SUCCESS(f"Restore drill passed: all {len(before)} figures match."))

    def _table(self, before, after, source_name, target_name, different):
        labels = sorted(before.keys() | after.keys())
        width = max(len(label) for label in labels) + 2
        column = max([len(v) for v in before.values()] + [len(source_name)]) + 2
        self.stdout.write(f"{'':{width}}{source_name:{column}}{target_name}")
        for label in labels:
            mark = "  <-- differs" if label in different else ""
            self.stdout.write(f"{label:{width}}{before.get(label, '(none)'):{column}}{after.get(label, '(none)')}{mark}")
