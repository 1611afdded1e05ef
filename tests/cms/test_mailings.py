"""Mailings, as fundraising staff use them: write, segment, count, test, send in
the background, watch progress; and the promises to supporters: only those
with current consent, one-click unsubscribe honoured in the next mailing,
and nobody mailed twice when a worker dies or two run at once."""

import datetime
import re

import pytest
from django.core import mail
from django.core.mail import get_connection
from django.core.mail.backends.locmem import EmailBackend
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from cms import selectors
from cms.services import mailings
from cms.models import Mailing, MailingRecipient
from campaigns.models import Campaign
from config.errors import ApplicationError
from donations.models import Donation, RecurringGift
from supporters.models import EmailMessage, EmailSuppression, Interaction
from supporters.services import supporter_erase
from tests.helpers import run_at_once
from tests.supporters.factories import SupporterFactory

pytestmark = pytest.mark.django_db


def gave(supporter, on: datetime.date, campaign=None, pence=2500):
    moment = timezone.make_aware(datetime.datetime.combine(on, datetime.time(12)))
    return Donation.objects.create(supporter=supporter, amount_pence=pence, status=Donation.Status.SUCCEEDED,
                                   channel=Donation.Channel.OFFLINE, created_at=moment, paid_at=moment,
                                   campaign=campaign)


def mailing(**fields):
    values = {"name": "Winter appeal", "subject": "{{ first_name }}, a child needs a home this winter",
              "body": "Dear {{ first_name }},\n\nThis winter, £25 keeps a family together.",
              "button_label": "Give now", "button_url": "https://brightwell.example/winter/"}
    tags = fields.pop("tags", [])
    created = Mailing.objects.create(**{**values, **fields})
    created.tags.set(tags)
    return created


def recipients_in(outbox) -> list[str]:
    return sorted(address for message in outbox for address in message.to)


@pytest.fixture
def campaign():
    return Campaign.objects.create(name="Home for Christmas", code="XMAS26")


def test_the_segment_picks_by_tag_campaign_last_gift_and_monthly_giving(campaign):
    tagged = SupporterFactory(consent_email=True)
    tagged.tags.add("volunteer", "event-2025")
    donor = SupporterFactory(consent_email=True)
    gave(donor, datetime.date(2026, 10, 1), campaign=campaign)
    gave(donor, datetime.date(2026, 10, 2), campaign=campaign)  # two gifts: still one person
    lapsed = SupporterFactory(consent_email=True)
    gave(lapsed, datetime.date(2024, 5, 1))
    monthly = SupporterFactory(consent_email=True)
    RecurringGift.objects.create(supporter=monthly, amount_pence=1000, day_of_month=5,
                                 status=RecurringGift.Status.ACTIVE)
    refunded = SupporterFactory(consent_email=True)
    Donation.objects.create(supporter=refunded, amount_pence=500, status=Donation.Status.REFUNDED, campaign=campaign,
                            paid_at=timezone.now())

    def picks(**segment):
        return set(selectors.mailing_segment(mailing=mailing(**segment)).values_list("pk", flat=True))

    from taggit.models import Tag
    assert picks(tags=[Tag.objects.get(name="volunteer")]) == {tagged.pk}
    assert picks(campaign=campaign) == {donor.pk}, "a refunded gift is not giving to the campaign"
    assert picks(last_gift_to=datetime.date(2025, 1, 1)) == {lapsed.pk}, "lapsed: no gift since"
    assert picks(last_gift_from=datetime.date(2026, 9, 1)) == {donor.pk}
    assert picks(last_gift_from=datetime.date(2024, 1, 1), last_gift_to=datetime.date(2024, 12, 31)) == {lapsed.pk}
    assert picks(giving=Mailing.Giving.MONTHLY) == {monthly.pk}
    assert monthly.pk not in picks(giving=Mailing.Giving.NOT_MONTHLY)


def test_the_count_staff_see_leaves_out_no_consent_no_address_suppressed_and_erased():
    SupporterFactory.create_batch(3, consent_email=True)
    SupporterFactory(consent_email=False)
    SupporterFactory(consent_email=True, email="")
    bounced = SupporterFactory(consent_email=True)
    EmailSuppression.objects.create(email=bounced.email, reason=EmailSuppression.Reason.BOUNCED)
    supporter_erase(supporter=SupporterFactory(consent_email=True), reason="Asked to be forgotten")
    SupporterFactory(consent_email=True, deceased_on=datetime.date(2026, 1, 5))  # never mailed again
    count = selectors.mailing_audience_count(mailing=mailing())
    assert (count.in_segment, count.no_consent, count.unreachable, count.will_receive) == (6, 1, 2, 3)
    assert selectors.mailing_audience(mailing=mailing()).count() == 3


def test_fundraising_tests_sends_and_watches_a_mailing(fundraiser_client, fundraiser, django_capture_on_commit_callbacks):
    fans = SupporterFactory.create_batch(3, consent_email=True)
    quiet = SupporterFactory(consent_email=False)
    appeal = mailing()

    page = fundraiser_client.get(f"/admin/mailing/inspect/{appeal.pk}/").content.decode()
    assert re.search(r"<strong>3</strong> supporters will receive it", page)
    assert "Left out: no email consent</dt><dd>1" in page

    response = fundraiser_client.post(f"/admin/mailing/test/{appeal.pk}/", follow=True)
    assert f"A test was sent to {fundraiser.email}" in response.content.decode()
    (test,) = mail.outbox
    assert test.to == [fundraiser.email] and test.subject == "[Test] Fundraiser, a child needs a home this winter"
    assert not EmailMessage.objects.exists(), "a test is not a message to a supporter"
    mail.outbox.clear()

    assert "Send to 3 supporters" in fundraiser_client.get(f"/admin/mailing/send/{appeal.pk}/").content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = fundraiser_client.post(f"/admin/mailing/send/{appeal.pk}/", follow=True)
    assert "Sending “Winter appeal” to 3 supporters" in response.content.decode()
    assert recipients_in(mail.outbox) == sorted(f.email for f in fans) and quiet.email not in recipients_in(mail.outbox)
    sent = {m.to[0]: m for m in mail.outbox}[fans[0].email]
    assert sent.subject == f"{fans[0].first_name}, a child needs a home this winter"
    assert sent.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "https://brightwell.example/winter/" in sent.alternatives[0][0]
    appeal.refresh_from_db()
    assert appeal.status == "sent" and appeal.recipient_count == 3 and appeal.send_finished_at
    page = fundraiser_client.get(f"/admin/mailing/inspect/{appeal.pk}/").content.decode()
    assert "<strong>3</strong> of 3 done (100%)" in page and "<dt>Sent</dt><dd>3</dd>" in page
    assert Interaction.objects.filter(supporter=fans[0], summary__startswith="Mailing sent").count() == 1

    with pytest.raises(ApplicationError, match="a mailing goes out once"):
        mailings.mailing_send(mailing=appeal)
    assert fundraiser_client.get(f"/admin/mailing/edit/{appeal.pk}/").status_code == 302, "what was sent stays"
    assert fundraiser_client.post(f"/admin/mailing/delete/{appeal.pk}/").status_code == 302
    assert Mailing.objects.filter(pk=appeal.pk).exists(), "a sent mailing is the record of what went"


def test_unsubscribing_by_the_link_leaves_the_supporter_out_of_the_next_mailing(client, django_capture_on_commit_callbacks):
    leaver, stayer = SupporterFactory.create_batch(2, consent_email=True)
    appeal = mailing()
    with django_capture_on_commit_callbacks(execute=True):
        mailings.mailing_send(mailing=appeal)
    to_leaver = next(m for m in mail.outbox if m.to == [leaver.email])
    link = to_leaver.extra_headers["List-Unsubscribe"].strip("<>")
    assert client.post(link[link.index("/email/"):]).status_code == 200
    leaver.refresh_from_db()
    assert not leaver.consent_email
    assert leaver.consent_events.filter(granted=False, source_detail__contains="a child needs a home this winter").exists()

    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        mailings.mailing_send(mailing=mailings.mailing_copy(mailing=appeal))
    assert recipients_in(mail.outbox) == [stayer.email]


def test_someone_who_unsubscribes_after_sending_began_is_skipped(django_capture_on_commit_callbacks):
    first, second = SupporterFactory.create_batch(2, consent_email=True)
    appeal = mailing()
    mailings.mailing_send(mailing=appeal)  # no worker yet: everyone waits
    from supporters.services import consent_record
    from supporters.models import Channel, ConsentMethod
    consent_record(supporter=second, channel=Channel.EMAIL, granted=False, method=ConsentMethod.UNSUBSCRIBE,
                   wording="Unsubscribed.", source_detail="test")
    mailings.mailing_send_batch(mailing_id=appeal.pk)
    assert recipients_in(mail.outbox) == [first.email]
    assert MailingRecipient.objects.get(mailing=appeal, supporter=second).status == "skipped"


class WorkerKilled(BaseException):
    """The worker process dying (not an error the code could catch and handle)."""


class DiesOnThirdSend(EmailBackend):
    sends = 0

    def send_messages(self, messages):
        DiesOnThirdSend.sends += 1
        if DiesOnThirdSend.sends == 3:
            raise WorkerKilled
        return super().send_messages(messages)


def test_a_worker_that_dies_mid_mailing_is_resumed_without_mailing_anyone_twice(settings):
    supporters = SupporterFactory.create_batch(6, consent_email=True)
    appeal = mailing()
    mailings.mailing_send(mailing=appeal)
    settings.EMAIL_BACKEND = "tests.cms.test_mailings.DiesOnThirdSend"
    DiesOnThirdSend.sends = 0
    with pytest.raises(WorkerKilled):
        mailings.mailing_send_batch(mailing_id=appeal.pk, size=5)
    states = dict(MailingRecipient.objects.filter(mailing=appeal).values_list("supporter_id", "status"))
    assert sorted(states.values()) == ["claimed", "claimed", "pending", "sending", "sent", "sent"]
    in_doubt = next(pk for pk, status in states.items() if status == "sending")

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    # Within the stale time the rows may still belong to a live worker: left alone.
    assert mailings.mailing_resume(mailing=appeal) == {"returned": 0, "unknown": 0}
    result = mailings.mailing_resume(mailing=appeal, stale_after=datetime.timedelta(0))
    assert result == {"returned": 2, "unknown": 1}
    while mailings.mailing_send_batch(mailing_id=appeal.pk, size=5):
        pass

    received = recipients_in(mail.outbox)
    assert len(received) == len(set(received)) == 5, "nobody twice"
    assert set(received) == {s.email for s in supporters if s.pk != in_doubt}
    appeal.refresh_from_db()
    assert appeal.status == "sent"
    assert MailingRecipient.objects.get(mailing=appeal, supporter_id=in_doubt).status == "unknown"
    in_doubt_message = MailingRecipient.objects.get(mailing=appeal, supporter_id=in_doubt).message
    assert in_doubt_message.status == "failed" and "may or may not have arrived" in in_doubt_message.error


def test_the_send_mailings_command_resumes_and_finishes(settings):
    SupporterFactory.create_batch(4, consent_email=True)
    appeal = mailing()
    mailings.mailing_send(mailing=appeal)
    settings.MAILING_STALE_MINUTES = 0
    output = []

    class Out:
        def write(self, text):
            output.append(text)

    call_command("send_mailings", stdout=Out())
    appeal.refresh_from_db()
    assert appeal.status == "sent" and len(mail.outbox) == 4
    assert "Winter appeal: 4 sent or skipped here; sent." in "".join(output)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_three_workers_at_once_send_each_supporter_one_message():
    if connection.vendor != "postgresql":
        pytest.skip("SKIP LOCKED needs PostgreSQL")
    supporters = SupporterFactory.create_batch(60, consent_email=True)
    appeal = mailing()
    mailings.mailing_send(mailing=appeal)
    def drain():
        while mailings.mailing_send_batch(mailing_id=appeal.pk, size=7):
            pass

    run_at_once(drain, workers=3)
    received = recipients_in(mail.outbox)
    assert received == sorted(s.email for s in supporters), "everyone once, nobody twice"
    appeal.refresh_from_db()
    assert appeal.status == "sent"


def test_only_fundraising_reaches_mailings(finance_client):
    appeal = mailing()
    assert finance_client.get("/admin/mailing/").status_code in (302, 403)
    assert finance_client.post(f"/admin/mailing/send/{appeal.pk}/").status_code in (302, 403)
    appeal.refresh_from_db()
    assert appeal.status == "draft"


def test_wording_with_an_unknown_placeholder_is_refused(fundraiser_client):
    appeal = mailing(body="Dear {{ firstname }}")
    from django.core.exceptions import ValidationError
    with pytest.raises(ValidationError, match="Unknown placeholder: firstname"):
        appeal.full_clean()


def test_through_anymail_each_message_carries_what_tracking_needs(settings, django_capture_on_commit_callbacks):
    """The provider's own view of a mailing (anymail's test backend): the
    message's uid in metadata, a 'mailing' tag, the one-click headers, and the
    provider's message id kept, so tracking events find their message."""
    settings.EMAIL_BACKEND = "anymail.backends.test.EmailBackend"
    fan = SupporterFactory(consent_email=True)
    with django_capture_on_commit_callbacks(execute=True):
        mailings.mailing_send(mailing=mailing())
    (sent,) = mail.outbox
    params = sent.anymail_test_params
    message = EmailMessage.objects.get(supporter=fan, category="mailing")
    assert params["metadata"] == {"message_uid": str(message.uid)} and params["tags"] == ["mailing"]
    assert params["extra_headers"]["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message.status == "sent" and message.esp_message_id is not None


def test_two_records_of_one_person_get_one_message_and_one_unsubscribe_stops_both(
        client, django_capture_on_commit_callbacks):
    first = SupporterFactory(consent_email=True, email="lily@example.org")
    second = SupporterFactory(consent_email=True, email="lily@example.org")  # a duplicate not yet merged
    other = SupporterFactory(consent_email=True)
    appeal = mailing()
    count = selectors.mailing_audience_count(mailing=appeal)
    assert (count.in_segment, count.same_address, count.will_receive) == (3, 1, 2)
    with django_capture_on_commit_callbacks(execute=True):
        mailings.mailing_send(mailing=appeal)
    assert recipients_in(mail.outbox) == sorted(["lily@example.org", other.email])

    link = next(m for m in mail.outbox if m.to == ["lily@example.org"]).extra_headers["List-Unsubscribe"].strip("<>")
    client.post(link[link.index("/email/"):])
    first.refresh_from_db()
    second.refresh_from_db()
    assert not first.consent_email and not second.consent_email
    assert selectors.mailing_audience_count(mailing=mailings.mailing_copy(mailing=appeal)).will_receive == 1


def test_a_claim_given_back_after_a_long_stall_is_not_sent_by_its_old_worker(settings):
    """A worker so slow that its claim went stale: the resume gave its rows to
    others, so when it wakes it sends none of them."""
    SupporterFactory.create_batch(3, consent_email=True)
    appeal = mailing()
    mailings.mailing_send(mailing=appeal)
    slow_worker_rows = mailings._claim(appeal.pk, 3)
    assert mailings.mailing_resume(mailing=appeal, stale_after=datetime.timedelta(0))["returned"] == 3
    while mailings.mailing_send_batch(mailing_id=appeal.pk):
        pass
    assert len(mail.outbox) == 3
    for row in slow_worker_rows:  # the slow worker carries on with what it held
        mailings._send_one(appeal, row, get_connection(), {})
    assert len(mail.outbox) == 3, "nobody twice"


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_real_task_queue_sends_the_mailing_in_batches(settings):
    """With the production task backend (tasks stored in the database), sending
    only queues work; `db_worker` then sends batch after batch until done."""
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    settings.MAILING_BATCH_SIZE = 2
    supporters = SupporterFactory.create_batch(5, consent_email=True)
    appeal = mailing()
    mailings.mailing_send(mailing=appeal)
    assert not mail.outbox, "nothing is sent in the request"
    appeal.refresh_from_db()
    assert appeal.status == "sending"
    call_command("db_worker", batch=True, no_startup_delay=True, verbosity=0)
    appeal.refresh_from_db()
    assert appeal.status == "sent"
    assert recipients_in(mail.outbox) == sorted(s.email for s in supporters)
