"""Background work for campaigns, on Django's task framework (django-tasks)."""

from django_tasks import task


@task()
def send_fundraiser_page_approved(page_id: int, approved_at: str) -> None:
    """Once per approval, however often it runs (see fundraiser_page_send_approved)."""
    from campaigns.services import fundraiser_page_send_approved

    fundraiser_page_send_approved(page_id=page_id, approved_at=approved_at)
