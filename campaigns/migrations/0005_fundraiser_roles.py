"""Fundraising approves and hides supporters' fundraising pages; Finance reads them."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

ROLE_PERMISSIONS = {"Fundraising": ["view_fundraiserpage", "change_fundraiserpage", "moderate_fundraiserpage"],
                    "Finance": ["view_fundraiserpage"]}


def grant(apps, schema_editor):
    app_config = apps.get_app_config("campaigns")
    app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0)
    app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, codenames in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=name)
        group.permissions.add(*Permission.objects.filter(content_type__app_label="campaigns", codename__in=codenames))


class Migration(migrations.Migration):
    dependencies = [("campaigns", "0004_fundraiser_pages")]

    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]
