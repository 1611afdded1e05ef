"""Income targets: Finance sets them, Fundraising sees them (the dashboard shows both the target's share)."""

from django.db import migrations

from config.migration_helpers import grant_role_permissions

ROLE_PERMISSIONS = {
    "Finance": ["add_incometarget", "change_incometarget", "view_incometarget", "delete_incometarget"],
    "Fundraising": ["view_incometarget"],
}


def grant(apps, schema_editor):
    grant_role_permissions(apps, "donations", ROLE_PERMISSIONS)


class Migration(migrations.Migration):
    dependencies = [("donations", "0018_donor_year_kept"), ("cms", "0002_staff_roles")]

    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]
