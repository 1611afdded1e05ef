"""The record of every download (ExportRecord), and who may download Gift Aid
declarations: Finance, whose records they are (HMRC's). Nobody is given the
record's view permission here: it is for the charity's administrators (superusers)
and whoever they grant it to, not for the roles it watches."""

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models

from config.migration_helpers import grant_role_permissions


def grant(apps, schema_editor):
    grant_role_permissions(apps, "supporters", {"Finance": ["export_giftaiddeclaration"]})


class Migration(migrations.Migration):

    dependencies = [
        ('supporters', '0013_import_roles'),
        ('cms', '0002_staff_roles'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AlterModelOptions(
            name='giftaiddeclaration',
            options={'ordering': ['-declared_on', '-id'], 'permissions': [('export_giftaiddeclaration', 'Can download Gift Aid declarations as CSV or XLSX')]},
        ),
        migrations.CreateModel(
            name='ExportRecord',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('user_name', models.CharField(blank=True, max_length=150, verbose_name='Who')),
                ('exporter', models.CharField(db_index=True, max_length=100)),
                ('what', models.CharField(max_length=255)),
                ('file_format', models.CharField(max_length=10, verbose_name='Format')),
                ('rows', models.PositiveIntegerField()),
                ('at', models.DateTimeField(db_index=True, default=django.utils.timezone.now, verbose_name='When')),
                ('user', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
            ],
            options={
                'ordering': ['-at', '-id'],
            },
        ),
        migrations.RunPython(grant, migrations.RunPython.noop),
    ]
