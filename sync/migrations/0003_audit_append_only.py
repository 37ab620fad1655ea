"""Make the audit log append-only in the database itself, beside the model guard.

PostgreSQL: a trigger function refuses UPDATE and DELETE of sync_auditevent rows.
(TRUNCATE, a table-level maintenance statement, stays possible for the owner.)
SQLite: BEFORE UPDATE / BEFORE DELETE triggers raise; the DELETE trigger yields
only to a deliberate purge (see sync.audit.dbguard: the test suite's flush between
transactional tests), which no application code runs.
"""

from django.db import migrations

POSTGRES_UP = """
CREATE OR REPLACE FUNCTION finsync_audit_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'sync_auditevent is append-only: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
DROP TRIGGER IF EXISTS finsync_audit_append_only ON sync_auditevent;
CREATE TRIGGER finsync_audit_append_only BEFORE UPDATE OR DELETE ON sync_auditevent
    FOR EACH ROW EXECUTE FUNCTION finsync_audit_append_only();
"""
POSTGRES_DOWN = """
DROP TRIGGER IF EXISTS finsync_audit_append_only ON sync_auditevent;
DROP FUNCTION IF EXISTS finsync_audit_append_only();
"""
SQLITE_UP = [
    """CREATE TRIGGER IF NOT EXISTS finsync_audit_no_update BEFORE UPDATE ON sync_auditevent
       BEGIN SELECT RAISE(ABORT, 'sync_auditevent is append-only: UPDATE refused'); END""",
    """CREATE TRIGGER IF NOT EXISTS finsync_audit_no_delete BEFORE DELETE ON sync_auditevent
       WHEN finsync_audit_purge_allowed() = 0
       BEGIN SELECT RAISE(ABORT, 'sync_auditevent is append-only: DELETE refused'); END""",
]
SQLITE_DOWN = ["DROP TRIGGER IF EXISTS finsync_audit_no_update", "DROP TRIGGER IF EXISTS finsync_audit_no_delete"]


def install(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(POSTGRES_UP, params=None)
    elif vendor == "sqlite":
        for statement in SQLITE_UP:
            schema_editor.execute(statement)


def uninstall(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(POSTGRES_DOWN, params=None)
    elif vendor == "sqlite":
        for statement in SQLITE_DOWN:
            schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [("sync", "0002_fleet_claim")]

    operations = [migrations.RunPython(install, uninstall, elidable=False)]
