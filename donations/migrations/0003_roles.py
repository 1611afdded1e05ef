"""What the two staff roles may do with money. Finance: read every gift, refund,
cancel monthly gifts, retry failed Stripe events. Fundraising: read gifts and
monthly gifts, and cancel a monthly gift when a supporter asks."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

ROLE_PERMISSIONS = {
    "Finance": ["view_donation", "refund_donation", "view_recurringgift", "cancel_recurringgift",
                "view_stripeevent", "retry_stripeevent"],
    "Fundraising": ["view_donation", "view_recurringgift", "cancel_recurringgift"],
}


def grant(apps, schema_editor):
    app_config = apps.get_app_config("donations")
    app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0)
    app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, codenames in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=name)
        group.permissions.add(*Permission.objects.filter(content_type__app_label="donations", codename__in=codenames))


class Migration(migrations.Migration):
    dependencies = [
        ("donations", "0002_staff_permissions"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]
