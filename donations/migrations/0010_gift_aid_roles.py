"""Finance owns Gift Aid: builds, submits and tracks claims. Fundraising may look."""

from django.db import migrations

from config.migration_helpers import grant_role_permissions

ROLE_PERMISSIONS = {
    "Finance": ["add_giftaidclaim", "change_giftaidclaim", "view_giftaidclaim", "submit_giftaidclaim"],
}


def grant(apps, schema_editor):
    grant_role_permissions(apps, "donations", ROLE_PERMISSIONS)


class Migration(migrations.Migration):
    dependencies = [("donations", "0009_gift_aid_claims")]

    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]
