"""Email to supporters: the wording staff edit, consent and suppression, the
one-click unsubscribe, and what the provider's tracking webhooks report.

Every message goes through Django's mail API, so django-anymail sends it in
production (the provider is chosen by EMAIL_BACKEND) and the console or locmem
backend in development and tests. Other apps call `email_send_template` (a
receipt, a welcome) or `email_send` (a mailing); nothing else sends mail."""

import dataclasses
import datetime
import hashlib
import re

from django.conf import settings
from django.core import signing
from django.core.mail import EmailMultiAlternatives
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape, linebreaks
from wagtail.models import ModelLogEntry

from config.errors import ApplicationError
from supporters.email_wording import DEFAULTS, SAMPLE_VALUES, allowed_placeholders, fill
from supporters.models import (
    Channel,
    ConsentMethod,
    EmailEvent,
    EmailMessage,
    EmailSuppression,
    EmailTemplate,
    Interaction,
    Supporter,
)

UNSUBSCRIBE_SALT = "supporters.unsubscribe"
# A year's mail and a month more: a leaked old link stops working, every recent email has a fresh one.
UNSUBSCRIBE_LINK_DAYS = 400
UNSUBSCRIBE_WORDING = "Unsubscribed from email by the link in a message."


@dataclasses.dataclass(frozen=True)
class Rendered:
    subject: str
    html: str
    text: str


def site_url() -> str:
    return settings.WAGTAILADMIN_BASE_URL.rstrip("/")


# Lines at the foot of every message (the charity's registration, its address),
# given by the app that keeps them (cms's site settings) when it starts.
_footer_provider = None


def register_footer(provider) -> None:
    """`provider()` returns the lines at the foot of every message."""
    global _footer_provider
    _footer_provider = provider


def email_render(*, subject: str, body: str, values: dict, details: list[tuple[str, str]] = (),
                 action: tuple[str, str] | None = None, extra_html: str = "", extra_text: str = "",
                 unsubscribe_url: str = "") -> Rendered:
    """A branded HTML + plain-text message from wording with placeholders:
    `details` (label, value) rows and an `action` (label, url) button are added
    by the caller's code, below the wording, so staff edits cannot break them."""
    values = {"charity_name": settings.CHARITY_NAME, **values}
    filled_body = fill(body, values).strip()
    paragraphs = [p.strip() for p in re.split(r"\n\s*\n", filled_body) if p.strip()]
    context = {"charity_name": settings.CHARITY_NAME, "site_url": site_url(), "paragraphs": paragraphs,
               "paragraphs_html": "".join(linebreaks(escape(p)) for p in paragraphs), "details": list(details),
               "action": action, "extra_html": extra_html, "extra_text": extra_text,
               "unsubscribe_url": unsubscribe_url, "subject": fill(subject, values).strip(),
               "footer_lines": _footer_provider() if _footer_provider else [settings.CHARITY_NAME]}
    return Rendered(subject=" ".join(context["subject"].split()),
                    html=render_to_string("emails/message.html", context),
                    text=render_to_string("emails/message.txt", context))


def email_template(key: str) -> EmailTemplate:
    """The wording staff keep for `key`; the default if none was saved."""
    template = EmailTemplate.objects.filter(key=key).first()
    if template is None:
        subject, body = DEFAULTS[key]
        template = EmailTemplate(key=key, subject=subject, body=body)
    return template


def supporter_values(supporter: Supporter) -> dict:
    return {"first_name": supporter.preferred_name or supporter.first_name or "friend",
            "full_name": " ".join(p for p in (supporter.title, supporter.first_name, supporter.last_name) if p)}


# What the code adds below each wording, with sample figures, for the preview
# (the senders: donations.services, donations.services.monthly, campaigns.services,
# supporters.services' Gift Aid confirmation, donations.services.statements).
_SAMPLE_EXTRAS = {
    "receipt": ([("Amount", "£25.00"), ("Date", "25 November 2026"), ("Reference", "D0000042")],
                "See what your gift does"),
    "monthly_welcome": ([("Monthly gift", "£10.00"), ("Taken on", "the 5th of each month")], "Manage my monthly gift"),
    "monthly_payment_failed": ([("Monthly gift", "£10.00"), ("For", "December 2026"), ("Card", "ending 4242"),
                                ("Next attempt", "8 December 2026")], "Update my card"),
    "gift_aid_confirmation": ([("Your name", "Ms Amara Okafor"), ("Your home address", "12 Mill Lane, Leeds, LS6 2AB"),
                               ("Gifts it covers", "This gift, gifts in the past four years and all future gifts"),
                               ("Date of your declaration", "25 November 2026"),
                               ("Date of this letter", "25 November 2026"), ("Reference", "GAD000042")], None),
    "fundraiser_page_approved": ([("Your page", "Amara runs the London Marathon"), ("For", "London Marathon 2027")],
                                 "See my page"),
    "annual_statement": ([("Tax year", "2025–26 (6 April 2025 to 5 April 2026)"), ("Gifts", "12"),
                          ("Total given", "£300.00"), ("Gift Aid", "£75.00")], "See your statement"),
}


def email_sample(*, template: EmailTemplate) -> Rendered:
    """The message as a supporter would see it, with sample figures: the admin's preview."""
    details, action = _SAMPLE_EXTRAS.get(template.key, ([], None))
    return email_render(subject=template.subject, body=template.body, values=SAMPLE_VALUES, details=details,
                        action=(action, site_url() + "/") if action else None)


# --- sending ----------------------------------------------------------------------

def unsubscribe_token(*, supporter_id: int, message_uid) -> str:
    return signing.TimestampSigner(salt=UNSUBSCRIBE_SALT).sign_object({"s": supporter_id, "m": str(message_uid)})


def unsubscribe_url(*, supporter_id: int, message_uid) -> str:
    return site_url() + reverse("email_unsubscribe", args=[unsubscribe_token(supporter_id=supporter_id,
                                                                            message_uid=message_uid)])


def email_suppressions_for(emails) -> dict[str, EmailSuppression]:
    """The suppressions among these addresses, for a sender of many (one query a batch)."""
    return {s.email: s for s in EmailSuppression.objects.filter(email__in={e.strip().lower() for e in emails if e})}


def _why_not(supporter: Supporter, *, marketing: bool, suppressions: dict | None = None) -> str:
    if supporter.is_erased:
        return "The supporter was erased"
    if not supporter.email:
        return "No email address"
    address = supporter.email.strip().lower()
    suppression = (suppressions.get(address) if suppressions is not None else
                   EmailSuppression.objects.filter(email=address).first())
    if suppression is not None:
        return f"The address is suppressed: {suppression.get_reason_display().lower()}"
    if marketing and supporter.deceased_on:
        return "The supporter has died"
    if marketing and not supporter.consent_email:
        return "No current consent to email"
    return ""


def _claim_once(*, supporter: Supporter, category: str, marketing: bool, once_key: str) -> EmailMessage | None:
    """The message row for `once_key`, this caller's to send; None when it was
    sent already or another caller holds it. The row is written (and, outside a
    transaction, committed) before anything is sent, so a concurrent caller
    meets the unique constraint. A message that failed or was skipped may be tried
    again: one caller wins the move back to 'queued'."""
    try:
        with transaction.atomic():
            return EmailMessage.objects.create(supporter=supporter, category=category, is_marketing=marketing,
                                               subject=category, to_email=supporter.email, once_key=once_key)
    except IntegrityError:
        pass
    retried = (EmailMessage.objects.filter(once_key=once_key,
                                           status__in=[EmailMessage.Status.FAILED, EmailMessage.Status.SKIPPED])
               .update(status=EmailMessage.Status.QUEUED))
    return EmailMessage.objects.get(once_key=once_key) if retried else None


def email_send(*, supporter: Supporter, category: str, rendered_for, marketing: bool = False,
               message: EmailMessage | None = None, connection=None, once_key: str | None = None,
               suppressions: dict | None = None, save_sent: bool = True) -> EmailMessage:
    """Send one message to one supporter and record it. `rendered_for(message)`
    returns the Rendered message (it may put the message's own unsubscribe link
    in it). Marketing needs current email consent; nothing goes to a suppressed
    or erased address (the record says why, status 'skipped'). A failure of the
    mail backend is recorded (status 'failed') and raised. With a `once_key`,
    idempotent: a message already sent (or being sent) under that key is
    returned and nothing is sent again. A sender of many passes the batch's
    `suppressions` (see email_suppressions_for) and may save the sent message
    itself (`save_sent=False`), in the transaction that records its own state."""
    if once_key is not None:
        message = _claim_once(supporter=supporter, category=category, marketing=marketing, once_key=once_key)
        if message is None:
            return EmailMessage.objects.get(once_key=once_key)
    if message is None:
        message = EmailMessage(supporter=supporter, category=category, is_marketing=marketing)
    message.to_email = supporter.email
    reason = _why_not(supporter, marketing=marketing, suppressions=suppressions)
    if reason:
        message.status, message.error, message.subject = EmailMessage.Status.SKIPPED, reason, message.subject or category
        message.save()
        return message
    unsubscribe = unsubscribe_url(supporter_id=supporter.pk, message_uid=message.uid) if marketing else ""
    rendered = rendered_for(message, unsubscribe)
    message.subject = rendered.subject[:255]
    headers = {}
    if marketing:
        # RFC 8058 one-click unsubscribe: mail providers POST to the link.
        headers = {"List-Unsubscribe": f"<{unsubscribe}>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}
    mail = EmailMultiAlternatives(subject=rendered.subject, body=rendered.text, to=[supporter.email],
                                  headers=headers, connection=connection)
    mail.attach_alternative(rendered.html, "text/html")
    mail.metadata = {"message_uid": str(message.uid)}  # comes back with tracking events (anymail)
    mail.tags = [category]
    try:
        mail.send()
    except Exception as error:
        message.status, message.error = EmailMessage.Status.FAILED, f"{type(error).__name__}: {error}"[:255]
        message.save()
        raise
    status = getattr(mail, "anymail_status", None)
    esp_message_id = getattr(status, "message_id", None)
    message.esp_message_id = None if esp_message_id in (None, "") else str(esp_message_id)
    message.status, message.sent_at, message.error = EmailMessage.Status.SENT, timezone.now(), ""
    if save_sent:
        message.save()
    return message


def email_message_queue(*, supporter: Supporter, category: str, subject: str, marketing: bool) -> EmailMessage:
    """The record of a message about to be sent to the supporter (status 'queued'),
    for a sender of many (a mailing) that ties its own state to it before
    sending it with email_send(message=...)."""
    return EmailMessage.objects.create(supporter=supporter, to_email=supporter.email, category=category,
                                       is_marketing=marketing, subject=subject[:255])


def email_message_record_sent(*, message: EmailMessage, timeline_summary: str = "", by=None) -> None:
    """Save a message sent with email_send(save_sent=False) and put it on its
    supporter's timeline, in the caller's transaction."""
    from supporters.services import timeline_add

    if message._state.adding:  # sent without a record made beforehand
        message.save()
    else:
        message.save(update_fields=["to_email", "subject", "status", "sent_at", "error", "esp_message_id"])
    timeline_add(supporter=message.supporter, kind=Interaction.Kind.EMAIL,
                 summary=timeline_summary or f"Email sent: {message.subject}", source_ref=f"email:{message.uid}",
                 occurred_at=message.sent_at, by=by)


def email_messages_mark_interrupted(message_ids) -> int:
    """Messages a worker died while sending: they may or may not have arrived,
    so they are marked failed (and never sent again by the sender)."""
    return EmailMessage.objects.filter(pk__in=[pk for pk in message_ids if pk], status=EmailMessage.Status.QUEUED).update(
        status=EmailMessage.Status.FAILED, error="Interrupted while sending: it may or may not have arrived.")


def email_send_template(*, supporter: Supporter, key: str, values: dict | None = None,
                        details: list[tuple[str, str]] = (), action: tuple[str, str] | None = None,
                        extra_html: str = "", extra_text: str = "", once_key: str | None = None,
                        timeline_summary: str = "", by=None) -> EmailMessage:
    """A transactional message (not marketing: it goes without marketing consent)
    in the wording staff keep for `key`, recorded on the supporter's timeline
    (as `timeline_summary` if given, and who sent it). With a `once_key`, sent
    at most once (see email_send)."""
    template = email_template(key)
    merged = {**supporter_values(supporter), **(values or {})}

    def rendered_for(_message, _unsubscribe):
        return email_render(subject=template.subject, body=template.body, values=merged, details=details,
                            action=action, extra_html=extra_html, extra_text=extra_text)

    message = email_send(supporter=supporter, category=key, rendered_for=rendered_for, once_key=once_key,
                         save_sent=False)
    if message.status == EmailMessage.Status.SENT:
        with transaction.atomic():
            email_message_record_sent(message=message, timeline_summary=timeline_summary, by=by)
    return message


# --- unsubscribe --------------------------------------------------------------------

def unsubscribe_read(token: str) -> tuple[Supporter, EmailMessage | None]:
    """The supporter (and message) a signed unsubscribe link names; ApplicationError if
    forged or older than UNSUBSCRIBE_LINK_DAYS."""
    try:
        data = signing.TimestampSigner(salt=UNSUBSCRIBE_SALT).unsign_object(
            token, max_age=datetime.timedelta(days=UNSUBSCRIBE_LINK_DAYS))
    except signing.SignatureExpired:
        raise ApplicationError("This unsubscribe link has expired. Please use the link in our most recent email, "
                               "or reply to it and we will stop emailing you.") from None
    except signing.BadSignature:
        raise ApplicationError("This unsubscribe link is not valid. Please use the link in our most recent email.") from None
    supporter = Supporter.objects.filter(pk=data.get("s")).first()
    if supporter is None or supporter.is_erased:
        raise ApplicationError("We no longer hold your details, so we will not email you.")
    return supporter, EmailMessage.objects.filter(uid=data.get("m")).first()


@transaction.atomic
def email_unsubscribe(*, token: str, how: str = "link") -> Supporter:
    """Withdraw email consent for the supporter the signed link names, and for
    any other record with the same address, with the source (which message)
    and time. Doing it again changes nothing."""
    from supporters.services import consent_record

    supporter, message = unsubscribe_read(token)
    detail = f"{'One-click' if how == 'one_click' else 'Link'} in “{message.subject}”" if message else "Link in an email"
    # The wish is the address's: every record with it stops (two records of one
    # person, not yet merged, must not go on mailing them).
    same_address = Q(pk=supporter.pk) | (Q(email=supporter.email) if supporter.email else Q(pk__in=[]))
    for record in Supporter.objects.select_for_update().filter(same_address, erased_at__isnull=True).order_by("pk"):
        if record.consent_email:
            consent_record(supporter=record, channel=Channel.EMAIL, granted=False, method=ConsentMethod.UNSUBSCRIBE,
                           wording=UNSUBSCRIBE_WORDING, source_detail=detail[:255])
    if message and message.status not in (EmailMessage.Status.BOUNCED, EmailMessage.Status.COMPLAINED):
        message.status = EmailMessage.Status.UNSUBSCRIBED
        message.save(update_fields=["status"])
    return supporter


# --- tracking -----------------------------------------------------------------------

# How far along a message is; an event only moves it forward (late "delivered"
# after "opened" changes nothing), except that bounces and complaints always win.
_PROGRESS = {"queued": 0, "sent": 1, "delivered": 2, "opened": 3, "clicked": 4, "unsubscribed": 5,
             "bounced": 6, "complained": 7}
_EVENT_STATUS = {"delivered": "delivered", "opened": "opened", "clicked": "clicked", "bounced": "bounced",
                 "complained": "complained", "unsubscribed": "unsubscribed", "rejected": "bounced"}
_TIMELINE_WORDS = {"delivered": "delivered", "opened": "opened", "clicked": "link clicked", "bounced": "bounced",
                   "complained": "marked as spam", "unsubscribed": "unsubscribed at the provider",
                   "rejected": "rejected by the provider", "deferred": "delayed", "failed": "failed"}


@transaction.atomic
def email_event_record(*, esp: str, event_id: str | None, event_type: str, esp_message_id: str | None,
                       message_uid: str | None, recipient: str, occurred_at, description: str = "") -> EmailEvent | None:
    """Apply one tracking event from the email provider, once: it is stored by
    the provider's event id (or a digest of its content), so a replayed webhook
    changes nothing. A hard bounce or a complaint suppresses the address and
    withdraws email consent (method 'bounce'); every event goes on the timeline."""
    from supporters.services import consent_record, timeline_add

    if event_type not in _TIMELINE_WORDS:
        return None  # queued, sent, inbound…: nothing a supporter's record needs
    key = f"{esp}:{event_id}" if event_id else "{}:{}".format(esp, hashlib.sha256(
        f"{esp_message_id}|{message_uid}|{event_type}|{recipient}|{occurred_at.isoformat()}".encode()).hexdigest())
    message = None
    if message_uid:
        message = EmailMessage.objects.select_for_update().filter(uid=message_uid).first()
    if message is None and esp_message_id:
        message = EmailMessage.objects.select_for_update().filter(esp_message_id=esp_message_id).first()
    try:
        with transaction.atomic():
            event = EmailEvent.objects.create(dedupe_key=key[:255], message=message, event_type=event_type,
                                              recipient=(recipient or "")[:254], occurred_at=occurred_at,
                                              description=(description or "")[:255])
    except IntegrityError:
        return None  # seen before
    recipient = (recipient or (message.to_email if message else "")).strip().lower()
    if message is not None:
        new = _EVENT_STATUS.get(event_type)
        if new and _PROGRESS[new] > _PROGRESS.get(message.status, 0):
            message.status = new
        message.last_event_at = max(filter(None, [message.last_event_at, occurred_at]))
        message.save(update_fields=["status", "last_event_at"])
    # Every record with the address (a person may have two, not yet merged).
    supporters = (list(Supporter.objects.filter(email=recipient, erased_at__isnull=True)) if recipient else
                  [message.supporter] if message and message.supporter else [])
    if event_type in ("bounced", "complained", "rejected") and recipient:
        reason = EmailSuppression.Reason.COMPLAINED if event_type == "complained" else EmailSuppression.Reason.BOUNCED
        EmailSuppression.objects.get_or_create(email=recipient, defaults={"reason": reason,
                                                                          "detail": (description or "")[:255]})
    for supporter in supporters:
        subject = f"“{message.subject}”" if message else "An email"
        timeline_add(supporter=supporter, kind=Interaction.Kind.EMAIL, occurred_at=occurred_at,
                     summary=f"{subject} {_TIMELINE_WORDS[event_type]}", detail=description or "",
                     source_ref=f"email-event:{event.pk}")
        if event_type in ("bounced", "complained", "rejected", "unsubscribed") and supporter.consent_email:
            consent_record(
                supporter=supporter, channel=Channel.EMAIL, granted=False,
                method=ConsentMethod.UNSUBSCRIBE if event_type == "unsubscribed" else ConsentMethod.BOUNCE,
                wording={"complained": "Marked our email as spam.", "unsubscribed": UNSUBSCRIBE_WORDING}.get(
                    event_type, "The address bounced: email cannot be delivered."),
                occurred_at=occurred_at, source_detail=f"{esp} tracking: {subject}"[:255])
    return event


def email_history_erase(*, supporter: Supporter, address: str) -> None:
    """For an erasure: the messages sent to the supporter stay, with their kind,
    status and dates, but lose the address, the subject (it may hold their name)
    and any error; the provider's events on them, or on the address, lose it too.
    A suppression of the address is deleted with its log entries, unless another
    live record holds the address (the suppression is theirs as well)."""
    address = (address or "").strip().lower()
    labels = dict(EmailTemplate.Key.choices)
    messages = EmailMessage.objects.filter(supporter=supporter)
    for category in set(messages.values_list("category", flat=True)):
        messages.filter(category=category).update(
            to_email="", error="", subject=str(labels.get(category, category.capitalize()))[:255])
    events = Q(message__in=messages)
    shared = bool(address) and Supporter.objects.filter(email__iexact=address, erased_at__isnull=True).exclude(
        pk=supporter.pk).exists()
    if address and not shared:
        events |= Q(recipient__iexact=address)
        EmailMessage.objects.filter(supporter__isnull=True, to_email__iexact=address).update(to_email="", error="")
        for suppression in EmailSuppression.objects.filter(email__iexact=address):
            ModelLogEntry.objects.for_instance(suppression).update(label="An erased address", data={})
            suppression.delete()
    EmailEvent.objects.filter(events).update(recipient="", description="")


def email_send_test(*, to_email: str, rendered: Rendered) -> None:
    """A test of a mailing, to a member of staff: marked as a test, recorded nowhere."""
    mail = EmailMultiAlternatives(subject=f"[Test] {rendered.subject}", body=rendered.text, to=[to_email])
    mail.attach_alternative(rendered.html, "text/html")
    mail.tags = ["test"]
    mail.send()
