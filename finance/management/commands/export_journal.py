import getpass

from django.core.management.base import BaseCommand, CommandError

from config.errors import ApplicationError
from finance.exports import JOURNAL_EXPORTERS, JournalSelection, parse_month


class Command(BaseCommand):
    help = ("Write the journals of a Stripe payout, a paying-in batch or a month to stdout, in the layout an "
            "accounts package imports (xero, sage, sage50, or a plain csv). Past the package's limits the "
            "journals come as a zip of files. What to check (codes that fell back to a default, payouts left "
            "out) goes to stderr; nothing but the file goes to stdout. Each export is logged.")

    def add_arguments(self, parser):
        which = parser.add_mutually_exclusive_group(required=True)
        which.add_argument("--payout", help="A Stripe payout: its id (po_...) or our number for it.")
        which.add_argument("--batch", type=int, help="A paying-in batch's number.")
        which.add_argument("--month", help="Every journal of a month: YYYY-MM.")
        parser.add_argument("--format", required=True, choices=sorted(JOURNAL_EXPORTERS), dest="journal_format",
                            help="The accounts package's layout.")

    def handle(self, *args, payout=None, batch=None, month=None, journal_format="csv", **options):
        try:
            selection = JournalSelection(payout=payout.strip() if payout else None, batch=batch,
                                         month=parse_month(month) if month is not None else None)
            exporter = JOURNAL_EXPORTERS[journal_format](selection=selection,
                                                         source=f"from the command line, as {_who()}")
            data, extension, count = exporter.content()
        except ApplicationError as error:
            raise CommandError(error.message) from error
        out = self.stdout._out
        binary = getattr(out, "buffer", None)
        if extension == "zip" and (binary is None or out.isatty()):
            raise CommandError(f"The journals need {exporter.label}'s files split: send the output to a file, e.g. "
                               f"> {exporter.filename()}.zip")
        exporter.extension = extension
        exporter.log(user=None, file_format=extension, count=count)
        for flag in exporter.flags:
            self.stderr.write(f"Check: {flag}")
        if binary is not None:
            binary.write(data)
            binary.flush()
        else:  # a text stream (tests): a CSV is text
            out.write(data.decode(exporter.encoding))
        if extension == "zip":
            self.stderr.write(f"{count} journal lines in a zip of files, to import one after the other.")


def _who() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no name for this process's user
        return "an unnamed user"

