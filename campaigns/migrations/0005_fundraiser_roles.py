"""Fundraising approves and hides supporters' fundraising pages; Finance reads them."""

from django.db import migrations

from config.migration_helpers import grant_role_permissions

ROLE_PERMISSIONS = {"Fundraising": ["view_fundraiserpage", "change_fundraiserpage", "moderate_fundraiserpage"],
                    "Finance": ["view_fundraiserpage"]}


def grant(apps, schema_editor):
    grant_role_permissions(apps, "campaigns", ROLE_PERMISSIONS)


class Migration(migrations.Migration):
    dependencies = [("campaigns", "0004_fundraiser_pages")]

    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]
