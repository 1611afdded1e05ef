"""The roles as README says: only Finance downloads gifts (CSV or XLSX), and only
Finance records offline gifts; Fundraising reads gifts and exports none."""

from django.db import migrations

from config.migration_helpers import grant_role_permissions


def roles(apps, schema_editor):
    grant_role_permissions(apps, "donations", {"Finance": ["export_donation"]})
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for group in Group.objects.filter(name="Fundraising"):
        group.permissions.remove(*Permission.objects.filter(content_type__app_label="donations",
                                                            codename__in=["add_offline_donation", "export_donation"]))


class Migration(migrations.Migration):

    dependencies = [
        ('donations', '0011_gift_aid_claim_keys'),
    ]

    operations = [
        migrations.AlterModelOptions(
            name='donation',
            options={'ordering': ['-created_at', '-id'], 'permissions': [('refund_donation', 'Can refund a donation through Stripe'), ('add_offline_donation', 'Can record a gift that did not come through Stripe'), ('export_donation', 'Can download gifts as CSV or XLSX')]},
        ),
        migrations.RunPython(roles, migrations.RunPython.noop),
    ]
