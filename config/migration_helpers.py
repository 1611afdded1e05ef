"""Small, stable helpers for data migrations (kept free of app code, which changes)."""

from django.contrib.auth.management import create_permissions


def grant_role_permissions(apps, app_label: str, role_permissions: dict[str, list[str]]) -> None:
    """Give each named group (a staff role) these permissions of one app,
    creating the permissions first on a fresh database, where Django would only
    make them after migrate."""
    app_config = apps.get_app_config(app_label)
    app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0)
    app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, codenames in role_permissions.items():
        group, _ = Group.objects.get_or_create(name=name)
        group.permissions.add(*Permission.objects.filter(content_type__app_label=app_label, codename__in=codenames))
