"""Fundraising looks after who we must not email: sees suppressed addresses and
stops one by hand; Finance may look."""

from django.db import migrations

from config.migration_helpers import grant_role_permissions

ROLE_PERMISSIONS = {
    "Fundraising": ["view_emailsuppression", "add_emailsuppression"],
    "Finance": ["view_emailsuppression"],
}


def grant(apps, schema_editor):
    grant_role_permissions(apps, "supporters", ROLE_PERMISSIONS)


class Migration(migrations.Migration):
    dependencies = [("supporters", "0008_email_message_once_key")]

    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]
