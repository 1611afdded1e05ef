"""Both roles record gifts that came by cheque, cash, post or at events."""

from django.db import migrations

from config.migration_helpers import grant_role_permissions

ROLE_PERMISSIONS = {"Finance": ["add_offline_donation"], "Fundraising": ["add_offline_donation"]}


def grant(apps, schema_editor):
    grant_role_permissions(apps, "donations", ROLE_PERMISSIONS)


class Migration(migrations.Migration):
    dependencies = [("donations", "0007_offline_gifts")]

    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]
