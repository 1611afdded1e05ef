"""The starting wording of each transactional email, and who may edit it:
Fundraising writes to supporters; Finance may read what was sent."""

from django.db import migrations

from config.migration_helpers import grant_role_permissions

ROLE_PERMISSIONS = {
    "Fundraising": ["add_emailtemplate", "change_emailtemplate", "view_emailtemplate", "view_emailmessage"],
    "Finance": ["view_emailtemplate", "view_emailmessage"],
}


def seed(apps, schema_editor):
    # The defaults as they stand when this runs (they only fill a fresh database).
    from supporters.email_wording import DEFAULTS

    EmailTemplate = apps.get_model("supporters", "EmailTemplate")
    for key, (subject, body) in DEFAULTS.items():
        EmailTemplate.objects.get_or_create(key=key, defaults={"subject": subject, "body": body})
    grant_role_permissions(apps, "supporters", ROLE_PERMISSIONS)


class Migration(migrations.Migration):
    dependencies = [("supporters", "0006_email")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
