"""Background work for mailings, on Django's task framework (django-tasks; the
database backend and `manage.py db_worker` in production)."""

from django_tasks import task

from cms.services import mailings


@task()
def send_mailing_batch(mailing_id: int) -> int:
    """Send one batch, then queue the next: each task is short, so progress is
    saved batch by batch and several workers share the mailing."""
    sent = mailings.mailing_send_batch(mailing_id=mailing_id)
    if sent:
        send_mailing_batch.enqueue(mailing_id)
    return sent

