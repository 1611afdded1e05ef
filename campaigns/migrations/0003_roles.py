"""Fundraising runs appeals and source codes; Finance reads them."""

from django.db import migrations

from config.migration_helpers import grant_role_permissions

ROLE_PERMISSIONS = {"Fundraising": ["add_appeal", "change_appeal", "view_appeal"], "Finance": ["view_appeal"]}


def grant(apps, schema_editor):
    grant_role_permissions(apps, "campaigns", ROLE_PERMISSIONS)


class Migration(migrations.Migration):
    dependencies = [("campaigns", "0002_appeals_and_totals"), ("auth", "0012_alter_user_first_name_max_length"),
                    ("contenttypes", "0002_remove_content_type_name")]

    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]
