"""Create the database cache table(s) named in CACHES, so `migrate` alone readies the cache.

The API's throttle counts live in the default cache, by default Django's DatabaseCache
(CACHE_URL=dbcache://finsync_cache): every process and host then sees the same counts.
This runs Django's `createcachetable` for the database being migrated; it creates only
missing tables and skips caches of other backends, so it is safe to run again (and a
CACHE_URL changed later is covered by running `manage.py createcachetable`).
"""

from django.core.management import call_command
from django.db import migrations


def create_cache_tables(apps, schema_editor):
    call_command("createcachetable", database=schema_editor.connection.alias, verbosity=0)


class Migration(migrations.Migration):
    dependencies = [
        ("sync", "0005_history_survives_deletion"),
    ]

    operations = [
        # No reverse: a cache table holds nothing worth a migration's care; leaving it is harmless.
        migrations.RunPython(create_cache_tables, migrations.RunPython.noop),
    ]
