"""What the two staff roles may do with money. Finance: read every gift, refund,
cancel monthly gifts, retry failed Stripe events. Fundraising: read gifts and
monthly gifts, and cancel a monthly gift when a supporter asks."""

from django.db import migrations

from config.migration_helpers import grant_role_permissions

ROLE_PERMISSIONS = {
    "Finance": ["view_donation", "refund_donation", "view_recurringgift", "cancel_recurringgift",
                "view_stripeevent", "retry_stripeevent"],
    "Fundraising": ["view_donation", "view_recurringgift", "cancel_recurringgift"],
}


def grant(apps, schema_editor):
    grant_role_permissions(apps, "donations", ROLE_PERMISSIONS)


class Migration(migrations.Migration):
    dependencies = [
        ("donations", "0002_staff_permissions"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]
