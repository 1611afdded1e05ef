"""Both roles record Gift Aid declarations (a phone call, a paper form); Finance
also cancels them and completes missing details."""

from django.db import migrations

from config.migration_helpers import grant_role_permissions

ROLE_PERMISSIONS = {
    "Finance": ["add_giftaiddeclaration", "change_giftaiddeclaration", "view_giftaiddeclaration"],
    "Fundraising": ["add_giftaiddeclaration", "view_giftaiddeclaration"],
}


def grant(apps, schema_editor):
    grant_role_permissions(apps, "supporters", ROLE_PERMISSIONS)


class Migration(migrations.Migration):
    dependencies = [("supporters", "0004_gift_aid_declaration_history")]

    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]
