"""What the fuzz tests share: the rows every data table holds, to show that a
refused input wrote nothing."""

from django.apps import apps

# What a request or an import may write beside the records it is about: the
# import's own record and report, and the stored webhook event (with its error).
_BOOKKEEPING = {"supporters.DataImport", "supporters.ImportMapping", "donations.StripeEvent", "sessions.Session",
                "wagtailcore.ModelLogEntry", "django_tasks_db.DBTaskResult"}
_DATA_APPS = {"supporters", "donations", "campaigns", "finance", "cms"}


def row_counts() -> dict[str, int]:
    """Rows in each of the charity's tables (supporters, gifts, claims, pages…)."""
    return {model._meta.label: model._base_manager.count() for model in apps.get_models()
            if model._meta.app_label in _DATA_APPS and not model._meta.proxy
            and model._meta.label not in _BOOKKEEPING}


def changed(before: dict[str, int], after: dict[str, int]) -> dict[str, tuple[int, int]]:
    return {label: (before[label], after[label]) for label in before if before[label] != after[label]}
