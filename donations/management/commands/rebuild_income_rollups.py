import time

from django.core.management.base import BaseCommand

from donations import services


class Command(BaseCommand):
    help = ("Work the dashboard's daily income rollups (income, gift sizes, donors by tax year) out again from "
            "the gifts, replacing what was kept live: after a bulk load, or to prove and repair them. Gifts "
            "recorded meanwhile wait for it, then add themselves.")

    def handle(self, *args, **options):
        started = time.monotonic()
        counts = services.income_rollups_rebuild()
        self.stdout.write(f"Rebuilt in {time.monotonic() - started:.1f} s: "
                          + ", ".join(f"{count:,} {name}" for name, count in counts.items()) + ".")
