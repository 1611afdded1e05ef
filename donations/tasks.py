"""Background work on Django's task framework (django-tasks, with the
django-tasks-db backend in production: `manage.py db_worker`)."""

import datetime

from django_tasks import task

from donations import monthly


@task()
def charge_monthly_gifts(date: str | None = None) -> dict:
    return monthly.monthly_charges_run(today=datetime.date.fromisoformat(date) if date else None)
