from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from config.errors import ApplicationError
from finance import bank_statements
from finance.models import BankAccount
from finance.services import bank


class Command(BaseCommand):
    help = ("Import a bank statement CSV into a bank account: every line not already held is added (a re-import "
            "adds nothing twice). Nothing is saved if any line is wrong.")

    def add_arguments(self, parser):
        parser.add_argument("file")
        parser.add_argument("--account", help="The bank account's ledger code (needed when there are several).")
        parser.add_argument("--layout", help="Read the file as this bank's layout, e.g. \"Lloyds Bank\" "
                            "(default: recognised from its header).")

    def handle(self, *args, file, account=None, layout=None, **options):
        path = Path(file)
        if not path.is_file():
            raise CommandError(f"No such file: {file}")
        accounts = BankAccount.objects.all()
        if account:
            chosen = accounts.filter(code=account).first()
            if chosen is None:
                codes = ", ".join(accounts.values_list("code", flat=True)) or "none set up yet"
                raise CommandError(f"No bank account has the code {account} (codes: {codes}).")
        elif accounts.count() == 1:
            chosen = accounts.get()
        else:
            raise CommandError("Say which bank account with --account CODE." if accounts.exists() else
                               "Set up the bank account first (Finance → Bank accounts).")
        if layout and layout not in bank_statements.layout_names():
            raise CommandError(f"No layout is called “{layout}”. Layouts: {', '.join(bank_statements.layout_names())}.")
        if path.stat().st_size > bank_statements.MAX_FILE_BYTES:
            raise CommandError(f"{path.name}: the file is larger than {bank_statements.MAX_FILE_BYTES // 1024 // 1024} "
                               "MB; is it a statement export?")
        try:
            record = bank.bank_statement_import(account=chosen, data=path.read_bytes(), filename=path.name,
                                                layout=layout)
        except ApplicationError as error:
            raise CommandError(f"{path.name}: {error.message}") from error
        self.stdout.write(f"{path.name} ({record.layout}), {record.first_date:%d/%m/%Y} to {record.last_date:%d/%m/%Y}: "
                          f"{record.lines_added} lines added, {record.lines_already_held} already held.")
