"""`make bench`, supporter communications: a mailing to 100,000 supporters, sent
to anymail's test backend. Prints how fast the recipients are queued (the
INSERT ... SELECT `mailing_send` does, and the audience count staff wait for),
how fast the messages are sent by one worker and by two side by side, our time
per message, and the memory the sending process uses; then checks that
everyone got exactly one message.

Called by tests/bench/__main__.py once Django is set up on the migrated
PostgreSQL database (it holds the demo supporters, and whatever the benches
before this one added). The audience is made in SQL on this bench database:
`supporters` people are tagged "bench-mailing" and given current email consent
(with a consent event) and an address where they had none; the mailing's
segment is that tag, so supporters other benches added are left out.

Task enqueues go to django-tasks' dummy backend while this runs, so the
workers `mailing_send` starts on commit are recorded, not run in-process: the
bench runs `mailing_send_batch` itself, in this process and then in forked ones."""

import array
import multiprocessing
import os
import resource
import statistics
import time
import tracemalloc
import uuid

from anymail.backends.test import EmailBackend as AnymailTestBackend
from django.core import mail
from django.db import connection, connections
from django.test import override_settings
from django.utils import timezone

from tests.bench.profiling import reset_peak_rss, status_mb

SUPPORTERS = 100_000
TAG = "bench-mailing"
PARALLEL_WORKERS = 2
PARALLEL_IF_UNDER_SECONDS = 600  # the two-worker run only when one worker took less than this
SUBJECT = "{{ first_name }}, a child needs a home this winter"
BODY = ("Dear {{ first_name }},\n\n"
        "This winter, 40 children in our care are waiting for a foster family. £25 pays for a social worker's "
        "visit; £60 a week of respite for a family who has opened their home.\n\n"
        "Everything {{ charity_name }} does begins with people like you. Will you give today?\n\n"
        "With thanks,\nThe team at {{ charity_name }}")
BENCH_SETTINGS = {
    "EMAIL_BACKEND": "tests.bench.mailings.BenchEmailBackend",
    "TASKS": {"default": {"BACKEND": "django_tasks.backends.dummy.DummyBackend"}},
}


class BenchEmailBackend(AnymailTestBackend):
    """anymail's test backend (messages kept in django.core.mail.outbox), with a
    unique provider id per message. Its own id is the message's index in the
    outbox: a scan of the whole list for every message (quadratic over a
    mailing), and one that starts again at 0 whenever the outbox is cleared,
    where EmailMessage.esp_message_id is unique. Also adds up its own time."""
    seconds = 0.0

    def get_esp_message_id(self, message):
        return f"test-{(getattr(message, 'metadata', None) or {}).get('message_uid') or uuid.uuid4()}"

    def send_messages(self, email_messages):
        started = time.perf_counter()
        try:
            return super().send_messages(email_messages)
        finally:
            BenchEmailBackend.seconds += time.perf_counter() - started


class Received:
    """What the test backend received, counted as its outbox is cleared: the
    message_uid each message carries, as two 64-bit halves (1.6 MB per 100,000)."""

    def __init__(self):
        self.count = 0
        self.uids = array.array("Q")

    def drain(self) -> None:
        box = getattr(mail, "outbox", None)
        if not box:
            return
        for message in box:
            uid = uuid.UUID(message.metadata["message_uid"]).int
            self.uids.extend((uid >> 64, uid & 0xFFFF_FFFF_FFFF_FFFF))
        self.count += len(box)
        box.clear()

    def uid_set(self) -> list[int]:
        halves = self.uids
        return [(halves[i] << 64) | halves[i + 1] for i in range(0, len(halves), 2)]


def _maxrss_mb(who=resource.RUSAGE_SELF) -> float:
    return resource.getrusage(who).ru_maxrss / 1024  # kilobytes on Linux


def _prepare(supporters: int) -> dict:
    """Tag `supporters` people and give them current email consent and an address, in SQL."""
    from taggit.models import Tag

    tag, _ = Tag.objects.get_or_create(name=TAG, defaults={"slug": TAG})
    now = timezone.now()
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM supporters_supportertag WHERE tag_id = %s", [tag.pk])
        usable = ("s.erased_at IS NULL AND NOT EXISTS "
                  "(SELECT 1 FROM supporters_emailsuppression x WHERE x.email = s.email)")
        cursor.execute(f"SELECT count(*) FROM supporters_supporter s WHERE {usable}")
        (available,) = cursor.fetchone()
        added = max(0, supporters - available)
        if added:  # fewer people on file than asked for: add plain ones
            cursor.execute(
                """
                INSERT INTO supporters_supporter (
                    title, first_name, last_name, preferred_name, email, phone, date_of_birth, address_house,
                    address_street, address_locality, address_town, address_county, postcode, country, source,
                    notes, consent_email, consent_post, consent_phone, consent_sms, erased_at, created_at,
                    updated_at)
                SELECT '', (ARRAY['Olivia','Noah','Priya','Kwame','Siân','Seán','Zoë','José'])[1 + n %% 8],
                       'Bench', '', 'mailing.bench.new.' || n || '@example.org', '', NULL, '', '', '', '', '', '',
                       'GB', 'other', '', false, false, false, false, NULL, %(now)s, %(now)s
                FROM generate_series(1, %(added)s) AS n
                """, {"added": added, "now": now})
        cursor.execute(f"CREATE TEMPORARY TABLE bench_mailing_audience AS "
                       f"SELECT s.id FROM supporters_supporter s WHERE {usable} ORDER BY s.id LIMIT %s",
                       [supporters])
        cursor.execute(
            """
            INSERT INTO supporters_consentevent (supporter_id, channel, granted, occurred_at, method, wording,
                                                 source_detail, recorded_at, recorded_by_id)
            SELECT s.id, 'email', true, %(now)s, 'import', 'Happy to hear from us by email (make bench).',
                   'make bench: mailing audience', %(now)s, NULL
            FROM supporters_supporter s JOIN bench_mailing_audience a ON a.id = s.id
            WHERE NOT s.consent_email
            """, {"now": now})
        consented = cursor.rowcount
        cursor.execute("SELECT count(*) FROM supporters_supporter s JOIN bench_mailing_audience a ON a.id = s.id "
                       "WHERE s.email = ''")
        (addressed,) = cursor.fetchone()
        cursor.execute(
            """
            UPDATE supporters_supporter s
            SET consent_email = true,
                email = CASE WHEN s.email = '' THEN 'mailing.bench.' || s.id || '@example.org' ELSE s.email END
            FROM bench_mailing_audience a WHERE a.id = s.id
            """)
        cursor.execute("INSERT INTO supporters_supportertag (content_object_id, tag_id) "
                       "SELECT id, %s FROM bench_mailing_audience", [tag.pk])
        tagged = cursor.rowcount
        cursor.execute("DROP TABLE bench_mailing_audience")
        cursor.execute("ANALYZE supporters_supporter")
        cursor.execute("ANALYZE supporters_supportertag")
        cursor.execute("ANALYZE supporters_consentevent")
    return {"tag": tag, "tagged": tagged, "consented": consented, "addressed": addressed, "added": added}


def _queue(mailing) -> dict:
    """Time the audience count staff see, then `mailing_send` (audience -> MailingRecipient rows)."""
    from django_tasks import task_backends

    from cms import selectors
    from cms.services import mailings

    timings, counted = [], None
    for _ in range(3):
        started = time.perf_counter()
        counted = selectors.mailing_audience_count(mailing=mailing)
        timings.append(time.perf_counter() - started)
    backend = task_backends["default"]
    enqueued_before = len(backend.results)
    started = time.perf_counter()
    mailing = mailings.mailing_send(mailing=mailing)
    seconds = time.perf_counter() - started
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE cms_mailingrecipient")
    return {"mailing": mailing, "count": counted, "count_first": timings[0], "count_median": statistics.median(timings),
            "seconds": seconds, "rows": mailing.recipient_count, "enqueued": len(backend.results) - enqueued_before}


def _send_loop(mailing_id: int, received: Received, size: int) -> int:
    from cms.services.mailings import mailing_send_batch

    sent = 0
    while claimed := mailing_send_batch(mailing_id=mailing_id, size=size):
        sent += claimed
        received.drain()
    received.drain()
    return sent


def _worker(mailing_id: int, size: int, results) -> None:
    """One forked worker: its own database connection, batches until none is left."""
    connections.close_all()
    try:
        rss_start = status_mb("VmRSS")
        reset = reset_peak_rss()
        received = Received()
        BenchEmailBackend.seconds = 0.0
        started, cpu = time.perf_counter(), time.process_time()
        sent = _send_loop(mailing_id, received, size)
        results.put({"pid": os.getpid(), "sent": sent, "seconds": time.perf_counter() - started,
                     "cpu": time.process_time() - cpu,
                     "backend": BenchEmailBackend.seconds, "received": received.count, "uids": received.uids,
                     "rss_start": rss_start, "peak": _maxrss_mb(), "reset": reset})
    except BaseException as error:  # the parent reports it
        results.put({"pid": os.getpid(), "error": f"{type(error).__name__}: {error}"})
    finally:
        connections.close_all()


def _check(mailing, uids: list[int], received: int, since, until) -> list[str]:
    """Every recipient sent; one EmailMessage (sent, with a timeline entry) each; the
    backend got exactly those messages, none twice."""
    from cms.models import Mailing

    problems = []
    mailing = Mailing.objects.get(pk=mailing.pk)
    if mailing.status != Mailing.Status.SENT:
        problems.append(f"mailing is {mailing.status}, not sent")
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT count(*), count(*) FILTER (WHERE r.status = 'sent'), count(DISTINCT r.message_id),
                   count(*) FILTER (WHERE e.status = 'sent' AND e.supporter_id = r.supporter_id),
                   count(DISTINCT e.esp_message_id)
            FROM cms_mailingrecipient r LEFT JOIN supporters_emailmessage e ON e.id = r.message_id
            WHERE r.mailing_id = %s
            """, [mailing.pk])
        total, sent, messages, messages_sent, esp_ids = cursor.fetchone()
        cursor.execute(
            """
            SELECT count(*), count(DISTINCT supporter_id) FROM supporters_emailmessage
            WHERE category = 'mailing' AND created_at BETWEEN %s AND %s
            """, [since, until])
        written, written_people = cursor.fetchone()
        cursor.execute(
            """
            SELECT count(*) FROM supporters_interaction i JOIN supporters_emailmessage e
              ON i.source_ref = 'email:' || e.uid::text
            JOIN cms_mailingrecipient r ON r.message_id = e.id WHERE r.mailing_id = %s
            """, [mailing.pk])
        (timeline,) = cursor.fetchone()
        cursor.execute("SELECT e.uid FROM cms_mailingrecipient r JOIN supporters_emailmessage e "
                       "ON e.id = r.message_id WHERE r.mailing_id = %s", [mailing.pk])
        expected = {row[0].int for row in cursor.fetchall()}
    if total != mailing.recipient_count:
        problems.append(f"{total:,} recipient rows for {mailing.recipient_count:,} chosen")
    if sent != total:
        problems.append(f"{total - sent:,} recipients not 'sent'")
    if not (messages == messages_sent == esp_ids == total):
        problems.append(f"{messages:,} messages linked, {messages_sent:,} sent to their recipient, "
                        f"{esp_ids:,} provider ids, for {total:,} recipients")
    if not (written == written_people == total):
        problems.append(f"{written:,} mailing messages written for {written_people:,} people while sending")
    if timeline != total:
        problems.append(f"{timeline:,} timeline entries for {total:,} recipients")
    if received != total:
        problems.append(f"the backend received {received:,} messages for {total:,} recipients")
    unique = set(uids)
    if len(unique) != len(uids):
        problems.append(f"{len(uids) - len(unique):,} messages received twice")
    if unique != expected:
        problems.append(f"{len(unique - expected):,} received that were not recorded, "
                        f"{len(expected - unique):,} recorded that were not received")
    return problems


def run(url: str, supporters: int = SUPPORTERS) -> None:
    from django.conf import settings

    from cms.models import Mailing
    from cms.services.mailings import mailing_copy, mailing_send_batch

    with override_settings(**BENCH_SETTINGS):
        size = settings.MAILING_BATCH_SIZE
        started = time.perf_counter()
        data = _prepare(supporters)
        print(f"mailing data: {data['tagged']:,} supporters tagged “{TAG}” with current email consent in "
              f"{time.perf_counter() - started:.1f} s (bulk SQL on the bench database: consent given to "
              f"{data['consented']:,} with a consent event each, an address to the {data['addressed']:,} without "
              f"one, {data['added']:,} supporters added)")
        # The benches before this one bulk-load a million gifts; let the database
        # settle (as a live one would be) so their clean-up is not timed here.
        started = time.perf_counter()
        with connection.cursor() as cursor:
            cursor.execute("CHECKPOINT")
            cursor.execute("VACUUM ANALYZE")
        print(f"mailing: database vacuumed and checkpointed first, in {time.perf_counter() - started:.1f} s")

        # --- queued: the audience, as staff see it, becomes one row per recipient.
        first = Mailing.objects.create(name="Bench: winter appeal", subject=SUBJECT, body=BODY,
                                       button_label="Give now", button_url="https://brightwell.example/winter/")
        first.tags.set([data["tag"]])
        queued = _queue(first)
        count = queued["count"]
        print(f"mailing audience count: {count.will_receive:,} will receive it ({count.in_segment:,} in the segment, "
              f"{count.no_consent:,} without consent, {count.unreachable:,} unreachable, "
              f"{count.same_address:,} sharing an address with another record) in "
              f"{queued['count_first'] * 1000:,.0f} ms (median of 3: {queued['count_median'] * 1000:,.0f} ms)")
        print(f"mailing queued: {queued['rows']:,} recipients written by mailing_send in {queued['seconds']:.2f} s "
              f"({queued['rows'] / queued['seconds']:,.0f} rows/s; {queued['enqueued']} worker tasks enqueued on "
              f"commit, held by the dummy task backend)")
        mailing = queued["mailing"]

        # --- sent, one worker, in this process.
        received = Received()
        mail.outbox = []
        since = timezone.now()
        warm = mailing_send_batch(mailing_id=mailing.pk, size=size)  # templates loaded, connections made
        received.drain()
        tracemalloc.start()
        traced = mailing_send_batch(mailing_id=mailing.pk, size=size)
        received.drain()
        traced_peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        rss_before = status_mb("VmRSS")
        reset = reset_peak_rss()
        BenchEmailBackend.seconds = 0.0
        started, cpu = time.perf_counter(), time.process_time()
        timed = _send_loop(mailing.pk, received, size)
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
        peak, rss_after = _maxrss_mb(), status_mb("VmRSS")
        backend_seconds = BenchEmailBackend.seconds
        until = timezone.now()
        print(f"mailing sent, one worker: {timed:,} messages in {seconds:.1f} s ({timed / seconds:,.0f} messages/s; "
              f"{seconds / timed * 1000:.2f} ms each, of which the test backend {backend_seconds / timed * 1000:.2f}"
              f" ms and our code {(seconds - backend_seconds) / timed * 1000:.2f} ms, this process's CPU "
              f"{cpu / timed * 1000:.2f} ms; batches of {size}, after "
              f"{warm + traced:,} sent in 2 untimed batches)")
        print(f"mailing memory, one worker: peak RSS {peak:,.0f} MB while sending "
              f"({'since the send began' if reset else 'since the process started'}; {rss_before:,.0f} MB before, "
              f"{rss_after:,.0f} MB after: this process holds the benches before it too); "
              f"tracemalloc peak over one batch of {traced}: {traced_peak / 2**20:.1f} MB")
        problems = _check(mailing, received.uid_set(), received.count, since, until)
        print(f"mailing checks, one worker ({received.count:,} received by the backend; every recipient sent, one "
              f"message each, none twice): " + ("OK" if not problems else "FAILED: " + "; ".join(problems)))

        # --- sent, two workers side by side, on a copy of the mailing.
        if seconds >= PARALLEL_IF_UNDER_SECONDS:
            print(f"mailing sent, {PARALLEL_WORKERS} workers: skipped (one worker took {seconds:.0f} s)")
            return
        second = _queue(mailing_copy(mailing=mailing))
        mailing = second["mailing"]
        print(f"mailing queued again (a copy): {second['rows']:,} recipients in {second['seconds']:.2f} s "
              f"({second['rows'] / second['seconds']:,.0f} rows/s)")
        since = timezone.now()
        connections.close_all()  # the children open their own; none inherits this one
        context = multiprocessing.get_context("fork")
        results = context.Queue()
        workers = [context.Process(target=_worker, args=(mailing.pk, size, results))
                   for _ in range(PARALLEL_WORKERS)]
        started = time.perf_counter()
        for worker in workers:
            worker.start()
        reports = [results.get(timeout=3 * PARALLEL_IF_UNDER_SECONDS) for _ in workers]
        for worker in workers:
            worker.join()
        seconds = time.perf_counter() - started
        until = timezone.now()
        errors = [report["error"] for report in reports if "error" in report]
        if errors:
            print(f"mailing sent, {PARALLEL_WORKERS} workers: FAILED: " + "; ".join(errors))
            return
        total = sum(report["sent"] for report in reports)
        own = sum(report["seconds"] - report["backend"] for report in reports)
        print(f"mailing sent, {PARALLEL_WORKERS} workers (forked processes): {total:,} messages in {seconds:.1f} s "
              f"({total / seconds:,.0f} messages/s; shares " + ", ".join(f"{r['sent']:,}" for r in reports)
              + f"; per message, our code {own / total * 1000:.2f} ms of worker time, "
              f"{sum(r['cpu'] for r in reports) / total * 1000:.2f} ms of worker CPU)")
        print(f"mailing memory, {PARALLEL_WORKERS} workers: peak RSS " + ", ".join(
            f"{r['peak']:,.0f} MB (from {r['rss_start']:,.0f} MB at fork)" for r in reports)
            + f"; RUSAGE_CHILDREN largest {_maxrss_mb(resource.RUSAGE_CHILDREN):,.0f} MB "
            "(any child this process ever had, fork-shared pages included)")
        uids = []
        for report in reports:
            halves = report["uids"]
            uids += [(halves[i] << 64) | halves[i + 1] for i in range(0, len(halves), 2)]
        problems = _check(mailing, uids, sum(report["received"] for report in reports), since, until)
        print(f"mailing checks, {PARALLEL_WORKERS} workers ({len(uids):,} received by the backend): "
              + ("OK" if not problems else "FAILED: " + "; ".join(problems)))
