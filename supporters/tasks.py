"""Background work for imports: a large file is checked or imported by the task
worker, so no web request waits on it."""

from django.contrib.auth import get_user_model
from django_tasks import task

from supporters.services import imports as import_services


@task()
def run_data_import(data_import_id: int, action: str, user_id: int | None) -> None:
    by = get_user_model().objects.filter(pk=user_id).first() if user_id else None
    import_services.data_import_run_queued(data_import_id=data_import_id, action=action, by=by)
