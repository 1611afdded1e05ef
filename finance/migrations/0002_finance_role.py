"""Finance's screens are Finance's (and superusers'): Fundraising sees none of them."""

from django.db import migrations

from config.migration_helpers import grant_role_permissions

MODELS = ["payout", "payoutline", "bankaccount", "bankstatement", "bankline", "payinginbatch", "payinginbatchgift",
          "chartofaccounts", "campaignledgercode", "closedmonth", "monthreopening", "financedownload"]
ROLE_PERMISSIONS = {
    "Finance": [f"{action}_{model}" for model in MODELS for action in ("add", "change", "view")] + ["close_month"],
}


def grant(apps, schema_editor):
    grant_role_permissions(apps, "finance", ROLE_PERMISSIONS)


class Migration(migrations.Migration):
    dependencies = [("finance", "0001_initial"), ("cms", "0002_staff_roles")]

    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]
