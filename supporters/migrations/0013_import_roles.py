"""Imports: Fundraising and Finance both bring files in, review them and roll them back."""

from django.db import migrations

from config.migration_helpers import grant_role_permissions

ROLE_PERMISSIONS = {
    "Fundraising": ["import_data", "rollback_dataimport", "view_dataimport", "view_likelyduplicate"],
    "Finance": ["import_data", "rollback_dataimport", "view_dataimport", "view_likelyduplicate"],
}


def grant(apps, schema_editor):
    grant_role_permissions(apps, "supporters", ROLE_PERMISSIONS)


class Migration(migrations.Migration):
    dependencies = [("supporters", "0012_data_imports"), ("cms", "0002_staff_roles")]

    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]
