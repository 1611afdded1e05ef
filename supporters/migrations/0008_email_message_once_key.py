"""A message sent at most once (an annual statement) carries a unique key:
a rerun or a second worker finds the row and sends nothing."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("supporters", "0007_email_wording_and_roles")]

    operations = [
        migrations.AddField(
            model_name="emailmessage",
            name="once_key",
            field=models.CharField(blank=True, editable=False, max_length=100, null=True, unique=True),
        ),
    ]
