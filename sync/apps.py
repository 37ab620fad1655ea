from django.apps import AppConfig


class SyncConfig(AppConfig):
    name = "sync"
    verbose_name = "FinSync"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from sync import audit

        audit.connect_receivers()
