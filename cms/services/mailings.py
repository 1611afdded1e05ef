"""Mailings: an appeal email sent to a segment of supporters, in the background,
in batches, so that a crash or a second worker never mails anyone twice.

Sending begins with one row per recipient (MailingRecipient, unique per
mailing and supporter), written in one INSERT … SELECT from the audience.
Workers then claim batches with SELECT … FOR UPDATE SKIP LOCKED, so several
run side by side without waiting for each other; each message is marked
`sending` (committed) before the provider is called and `sent` after."""

import datetime
import logging

from django.conf import settings
from django.core.mail import get_connection
from django.db import connection, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from cms.models import Mailing, MailingRecipient
from cms.selectors import mailing_audience, mailing_stalled
from config.errors import ApplicationError
from supporters.models import EmailMessage, Supporter
from supporters.services import email as email_services

logger = logging.getLogger(__name__)
Status = MailingRecipient.Status
IN_FLIGHT = (Status.PENDING, Status.CLAIMED, Status.SENDING)


def mailing_render(*, mailing: Mailing, supporter: Supporter | None, unsubscribe_url: str = "",
                   values: dict | None = None) -> email_services.Rendered:
    values = values if values is not None else email_services.supporter_values(supporter)
    action = (mailing.button_label, mailing.button_url) if mailing.button_url else None
    return email_services.email_render(subject=mailing.subject, body=mailing.body, values=values, action=action,
                                       unsubscribe_url=unsubscribe_url)


def mailing_send_test(*, mailing: Mailing, user) -> str:
    """Send the mailing to the member of staff, marked as a test. Nobody else
    receives it, and it is not recorded against any supporter."""
    if not user.email:
        raise ApplicationError("Your staff account has no email address: add one under Account to receive tests.")
    mailing.full_clean()
    name = user.first_name or user.get_username()
    rendered = mailing_render(mailing=mailing, supporter=None, unsubscribe_url=email_services.site_url() + "/",
                              values={"first_name": name, "full_name": user.get_full_name() or name})
    email_services.email_send_test(to_email=user.email, rendered=rendered)
    return user.email


def mailing_send(*, mailing: Mailing, by=None) -> Mailing:
    """Begin sending: fix the audience (everyone with current consent now) as
    one row each, then let the workers go. A mailing is sent once."""
    with transaction.atomic():
        mailing = Mailing.objects.select_for_update().get(pk=mailing.pk)
        if mailing.status != Mailing.Status.DRAFT:
            raise ApplicationError(f"“{mailing.name}” was already sent ({mailing.get_status_display().lower()}): "
                                   "a mailing goes out once. Copy it to send again.")
        mailing.full_clean()
        now = timezone.now()
        audience = mailing_audience(mailing=mailing).order_by().values_list("id", flat=True)
        sql, params = audience.query.sql_with_params()
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {MailingRecipient._meta.db_table} (mailing_id, supporter_id, status, updated_at) "
                f"SELECT %s, audience.id, %s, %s FROM ({sql}) AS audience",
                [mailing.pk, Status.PENDING, now, *params])
            count = cursor.rowcount
        if not count:
            raise ApplicationError("Nobody in this segment can receive it (no one has current email consent and a "
                                   "deliverable address). Widen the segment.")
        mailing.status, mailing.sent_by, mailing.send_started_at = Mailing.Status.SENDING, by, now
        mailing.recipient_count = count
        mailing.save(update_fields=["status", "sent_by", "send_started_at", "recipient_count"])
        transaction.on_commit(lambda: mailing_start_workers(mailing_id=mailing.pk))
    return mailing


def mailing_start_workers(*, mailing_id: int) -> None:
    from cms.tasks import send_mailing_batch

    for _ in range(settings.MAILING_WORKERS):
        send_mailing_batch.enqueue(mailing_id)


def _claim(mailing_id: int, size: int) -> list[MailingRecipient]:
    with transaction.atomic():
        if not Mailing.objects.filter(pk=mailing_id, status=Mailing.Status.SENDING).exists():
            return []
        ids = list(MailingRecipient.objects.select_for_update(skip_locked=True)
                   .filter(mailing_id=mailing_id, status=Status.PENDING).order_by("pk")
                   .values_list("pk", flat=True)[:size])
        MailingRecipient.objects.filter(pk__in=ids).update(status=Status.CLAIMED, updated_at=timezone.now())
    return list(MailingRecipient.objects.filter(pk__in=ids).select_related("supporter", "mailing").order_by("pk"))


def mailing_send_batch(*, mailing_id: int, size: int | None = None) -> int:
    """Claim up to `size` waiting recipients and send to each; returns how many
    were claimed (0 when none are left). Safe to run in several workers at once."""
    recipients = _claim(mailing_id, size or settings.MAILING_BATCH_SIZE)
    if not recipients:
        mailing_finish_if_done(mailing_id=mailing_id)
        return 0
    mailing = recipients[0].mailing
    # Consent and suppression are checked again as each batch goes: someone may
    # have unsubscribed (or bounced) since the mailing began.
    suppressions = email_services.email_suppressions_for(r.supporter.email for r in recipients)
    mail_connection = get_connection()
    mail_connection.open()
    try:
        for recipient in recipients:
            _send_one(mailing, recipient, mail_connection, suppressions)
    finally:
        mail_connection.close()
    mailing_finish_if_done(mailing_id=mailing_id)
    return len(recipients)


def _send_one(mailing: Mailing, recipient: MailingRecipient, mail_connection, suppressions: dict) -> None:
    supporter = recipient.supporter
    with transaction.atomic():
        message = email_services.email_message_queue(supporter=supporter, category="mailing",
                                                     subject=mailing.subject, marketing=True)
        # Only while this worker's claim still holds (its claim time is the token):
        # a resume may have given the row back to the others after a long stall.
        held = MailingRecipient.objects.filter(
            pk=recipient.pk, status=Status.CLAIMED, updated_at=recipient.updated_at,
        ).update(status=Status.SENDING, message=message, updated_at=timezone.now())
        if not held:
            transaction.set_rollback(True)
    if not held:
        return

    def rendered_for(_message, unsubscribe_url):
        return mailing_render(mailing=mailing, supporter=supporter, unsubscribe_url=unsubscribe_url)

    try:
        message = email_services.email_send(supporter=supporter, category="mailing", rendered_for=rendered_for,
                                            marketing=True, message=message, connection=mail_connection,
                                            suppressions=suppressions, save_sent=False)
        status = Status.SENT if message.status == EmailMessage.Status.SENT else Status.SKIPPED
    except Exception:
        logger.exception("Mailing %s: sending to supporter %s failed", mailing.pk, supporter.pk)
        status = Status.FAILED
    # The message, the recipient's state and the timeline in one commit.
    with transaction.atomic():
        if status == Status.SENT:
            email_services.email_message_record_sent(message=message, timeline_summary=f"Mailing sent: {message.subject}")
        MailingRecipient.objects.filter(pk=recipient.pk).update(status=status, updated_at=timezone.now())


def mailing_finish_if_done(*, mailing_id: int) -> bool:
    """Mark the mailing sent once no recipient is waiting or in flight."""
    in_flight = MailingRecipient.objects.filter(mailing=OuterRef("pk"), status__in=IN_FLIGHT)
    return bool(Mailing.objects.filter(pk=mailing_id, status=Mailing.Status.SENDING).filter(~Exists(in_flight))
                .update(status=Mailing.Status.SENT, send_finished_at=timezone.now()))


def mailing_resume(*, mailing: Mailing, stale_after: datetime.timedelta | None = None) -> dict[str, int]:
    """After the workers died (nothing has moved for `stale_after`): rows they
    had claimed but not tried go back to waiting; a row being sent when they
    died is marked `unknown` and never sent again (the provider may have it).
    Then the workers start again. A mailing still moving is left alone."""
    stale_after = stale_after if stale_after is not None else datetime.timedelta(
        minutes=settings.MAILING_STALE_MINUTES)
    cutoff = timezone.now() - stale_after
    with transaction.atomic():
        mailing = Mailing.objects.select_for_update().get(pk=mailing.pk)
        if not mailing_stalled(mailing=mailing, stale_after=stale_after):
            return {"returned": 0, "unknown": 0}
        stale = MailingRecipient.objects.filter(mailing=mailing, updated_at__lt=cutoff)
        returned = stale.filter(status=Status.CLAIMED).update(status=Status.PENDING, updated_at=timezone.now())
        interrupted = list(stale.filter(status=Status.SENDING).values_list("message_id", flat=True))
        unknown = stale.filter(status=Status.SENDING).update(status=Status.UNKNOWN, updated_at=timezone.now())
        email_services.email_messages_mark_interrupted(interrupted)
        transaction.on_commit(lambda: mailing_start_workers(mailing_id=mailing.pk))
    mailing_finish_if_done(mailing_id=mailing.pk)
    return {"returned": returned, "unknown": unknown}


def mailing_copy(*, mailing: Mailing, by=None) -> Mailing:
    """A new draft with the same wording and segment, to send again or adapt."""
    copy = Mailing.objects.create(
        name=f"{mailing.name} (copy)"[:120], subject=mailing.subject, body=mailing.body,
        button_label=mailing.button_label, button_url=mailing.button_url, campaign=mailing.campaign,
        last_gift_from=mailing.last_gift_from, last_gift_to=mailing.last_gift_to, giving=mailing.giving,
        created_by=by)
    copy.tags.set(mailing.tags.all())
    return copy
