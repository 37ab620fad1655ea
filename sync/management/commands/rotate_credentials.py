"""`manage.py rotate_credentials`: re-encrypt every connection with the current key."""

from django.core.management.base import BaseCommand, CommandError

from sync.errors import SyncError
from sync.services.connections import rotate_all_credentials


class Command(BaseCommand):
    help = "Re-encrypt every connection's credentials with the first key of FINSYNC_ENCRYPTION_KEYS."

    def handle(self, *args, **options):
        try:
            count = rotate_all_credentials(source="cli")
        except SyncError as error:
            raise CommandError(f"{error.code}: {error.message}") from None
        self.stdout.write(f"Re-encrypted the credentials of {count} connection(s).")
