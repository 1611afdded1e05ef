"""Fundraising writes and sends mailings; Finance has no part in them."""

from django.db import migrations

from config.migration_helpers import grant_role_permissions

ROLE_PERMISSIONS = {
    "Fundraising": ["add_mailing", "change_mailing", "delete_mailing", "view_mailing", "send_mailing"],
}


def grant(apps, schema_editor):
    grant_role_permissions(apps, "cms", ROLE_PERMISSIONS)


class Migration(migrations.Migration):
    dependencies = [("cms", "0005_mailings")]

    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]
