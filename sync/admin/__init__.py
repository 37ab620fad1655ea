"""The admin console: connections and accounts with sync controls, synced records, sync runs and the audit log."""

from django.contrib import admin

from sync.admin import accounts, connections, jobs, records  # noqa: F401  (each module registers its admins)

admin.site.site_header = "FinSync console"
admin.site.site_title = "FinSync"
admin.site.index_title = "Connections, synced data and the audit trail"
