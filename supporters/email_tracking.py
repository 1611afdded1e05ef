"""The receiving end of the email provider's tracking webhook: anymail verifies
the call and sends its `tracking` signal; this checks what the provider sent and
hands it to the email service (connected in SupportersConfig.ready)."""

import datetime
import uuid

from config.errors import ApplicationError
from supporters.services import email as email_services


def on_tracking_event(sender, event, esp_name, **kwargs):
    """anymail's `tracking` signal, sent after anymail verified the webhook
    (signature or basic auth, as the provider supports): check what the
    provider sent and hand it to the service. ApplicationError for content that
    is not a usable event (the webhook answers 400)."""
    if not isinstance(event.timestamp, datetime.datetime):
        raise ApplicationError("It carries no time.")
    for name in ("event_type", "recipient", "description", "reject_reason"):
        if not isinstance(getattr(event, name) or "", str):
            raise ApplicationError(f"Its {name.replace('_', ' ')} is not text.")
    for name in ("event_id", "message_id"):
        if not isinstance(getattr(event, name), (str, int, type(None))):
            raise ApplicationError(f"Its {name.replace('_', ' ')} is not an id.")
    metadata = event.metadata if isinstance(event.metadata, dict) else {}
    message_uid = metadata.get("message_uid")
    try:
        message_uid = str(uuid.UUID(str(message_uid))) if message_uid else None
    except ValueError:
        message_uid = None  # not one of ours: the message is found by the provider's id, if at all
    email_services.email_event_record(
        esp=esp_name, event_id=None if event.event_id in (None, "") else str(event.event_id),
        event_type=event.event_type or "", recipient=event.recipient or "", message_uid=message_uid,
        esp_message_id=None if event.message_id in (None, "") else str(event.message_id),
        occurred_at=event.timestamp, description=event.description or event.reject_reason or "")
