"""django-auditlog's own log table is swapped out for AuditEntry (AUDITLOG_LOGENTRY_MODEL)
and never written, but auditlog's migrations still create it, with foreign keys to users
and content types. On PostgreSQL those keys stop anything from emptying the tables they
point at (TRUNCATE refuses: a test's flush, a data reset), so they are dropped; the empty
table stays for auditlog's own later migrations."""

from django.db import migrations

DROP_FOREIGN_KEYS = """
DO $$
DECLARE constraint_name text;
BEGIN
    FOR constraint_name IN
        SELECT conname FROM pg_constraint
        WHERE conrelid = to_regclass('auditlog_logentry') AND contype = 'f'
    LOOP
        EXECUTE 'ALTER TABLE auditlog_logentry DROP CONSTRAINT ' || quote_ident(constraint_name);
    END LOOP;
END $$;
"""


def drop_foreign_keys(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP_FOREIGN_KEYS)


class Migration(migrations.Migration):
    dependencies = [
        ("supporters", "0016_audit_log"),
        ("auditlog", "0017_add_actor_email"),
    ]

    operations = [migrations.RunPython(drop_foreign_keys, migrations.RunPython.noop)]
