"""The annual statement no longer says "and £0.00 more through Gift Aid" to a
donor without Gift Aid: its wording takes a sentence the code chooses. The
saved wording is updated only where staff have not changed it."""

from django.db import migrations

OLD = ("Dear {{ first_name }},\n\n"
       "Thank you for everything you gave in the {{ tax_year }} tax year: {{ total }} in all, and "
       "{{ gift_aid_total }} more through Gift Aid. Your statement lists every gift.")
NEW = ("Dear {{ first_name }},\n\n"
       "Thank you for everything you gave in the {{ tax_year }} tax year: {{ total }} in all. "
       "{{ gift_aid_sentence }} Your statement lists every gift.")


def forwards(apps, schema_editor):
    apps.get_model("supporters", "EmailTemplate").objects.filter(key="annual_statement", body=OLD).update(body=NEW)


def backwards(apps, schema_editor):
    apps.get_model("supporters", "EmailTemplate").objects.filter(key="annual_statement", body=NEW).update(body=OLD)


class Migration(migrations.Migration):
    dependencies = [("supporters", "0009_email_suppression_roles")]

    operations = [migrations.RunPython(forwards, backwards)]
