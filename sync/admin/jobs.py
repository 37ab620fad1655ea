"""The job engine's jobs in the admin (PostgreSQL only), linked to their connection and sync runs.

Procrastinate's own job admin (read-only; retry, cancel and abort actions) is
kept and extended: each sync job links to its connection and to the sync runs it
made (they share the job's correlation id, sync/services/jobs.py). On SQLite the
job engine is not installed and nothing here registers.
"""

from __future__ import annotations

from django.apps import apps
from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import mark_safe

from sync.services.jobs import connection_lock, job_correlation_id


def jobs_link(connection, site_name: str = "admin") -> str:
    """' · N jobs' linking to the connection's sync jobs, or '' without the job engine."""
    if not apps.is_installed("procrastinate.contrib.django"):
        return ""
    from procrastinate.contrib.django.models import ProcrastinateJob

    lock = connection_lock(connection.pk)
    count = ProcrastinateJob.objects.filter(lock=lock).count()
    url = reverse("admin:procrastinate_procrastinatejob_changelist", current_app=site_name)
    return format_html(' · <a href="{}?lock={}">{} sync jobs</a>', url, lock, count)


if apps.is_installed("procrastinate.contrib.django"):
    from procrastinate.contrib.django.admin import ProcrastinateJobAdmin
    from procrastinate.contrib.django.models import ProcrastinateJob

    admin.site.unregister(ProcrastinateJob)

    @admin.register(ProcrastinateJob)
    class SyncJobAdmin(ProcrastinateJobAdmin):
        """Procrastinate's job admin, plus the connection and the sync runs of each sync job."""

        list_display = [*ProcrastinateJobAdmin.list_display, "connection_link", "sync_runs"]
        fields = [*ProcrastinateJobAdmin.fields, "connection_link", "sync_runs"]

        def get_readonly_fields(self, request, obj=None):
            return [*super().get_readonly_fields(request, obj), "connection_link", "sync_runs"]

        @admin.display(description="Connection")
        def connection_link(self, job) -> str:
            connection_id = (job.args or {}).get("connection_id")
            if not connection_id:
                return "-"
            url = reverse("admin:sync_connection_change", args=[connection_id], current_app=self.admin_site.name)
            return format_html('<a href="{}">{}</a>', url, connection_id)

        @admin.display(description="Sync runs")
        def sync_runs(self, job) -> str:
            if not (job.args or {}).get("connection_id"):
                return mark_safe("-")
            url = reverse("admin:sync_syncrun_changelist", current_app=self.admin_site.name)
            return format_html('<a href="{}?correlation_id={}">sync runs</a>', url, job_correlation_id(job.id))
