"""The admin console: connections and accounts with sync controls, synced records, sync runs and the audit log."""

from django.contrib import admin

from sync.admin import accounts, connections, dashboard, jobs, records  # noqa: F401  (each module registers its admins)

admin.site.site_header = "FinSync console"
admin.site.site_title = "FinSync"
admin.site.index_title = "Connections, synced data and the audit trail"
# "View site": the API root (FinSync has no public front page; Django would show its 404).
admin.site.site_url = "/api/"
dashboard.install(admin.site)
