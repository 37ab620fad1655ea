"""The admin console: connections and accounts with sync controls, synced records, sync runs and the audit log."""

from sync.admin import accounts, connections, records  # noqa: F401  (each module registers its admins)
