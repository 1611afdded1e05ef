from django.core.management.base import BaseCommand

from cms.services import mailings
from cms.models import Mailing


class Command(BaseCommand):
    help = (
        "Resume mailings whose worker stopped (rows it had claimed wait again; a message it was sending when it "
        "stopped is not sent again), then send what is waiting, here and now. Safe beside running workers and "
        "with several copies at once: each supporter is sent a mailing once."
    )

    def add_arguments(self, parser):
        parser.add_argument("--resume-only", action="store_true",
                            help="Only resume: leave the sending to the task workers.")

    def handle(self, *args, resume_only=False, **options):
        for mailing in Mailing.objects.filter(status=Mailing.Status.SENDING):
            result = mailings.mailing_resume(mailing=mailing)
            self.stdout.write(f"{mailing.name}: {result['returned']} waiting again, "
                              f"{result['unknown']} interrupted mid-send (not sent again).")
            if resume_only:
                continue
            total = 0
            while claimed := mailings.mailing_send_batch(mailing_id=mailing.pk):
                total += claimed
            mailing.refresh_from_db()
            self.stdout.write(f"{mailing.name}: {total} sent or skipped here; {mailing.get_status_display().lower()}.")
