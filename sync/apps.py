from django.apps import AppConfig


class SyncConfig(AppConfig):
    name = "sync"
    verbose_name = "FinSync"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.db.backends.signals import connection_created

        from sync.audit import dbguard, receivers

        receivers.connect_receivers()
        connection_created.connect(dbguard.register_sqlite_functions, dispatch_uid="finsync.dbguard.sqlite")
