"""Domain events, sent by the handlers and received by the audit log (sync.audit.receivers).

Every sync signal is sent with the keyword arguments:
  kind, sync_run, actor, source, correlation_id, connection, account, payload
and the connection signals with:
  connection, actor, source, correlation_id, payload
and `transaction_edited` with:
  transaction, actor, source, correlation_id, payload ({transaction, fields})
`payload` is a JSON-serialisable dict of counts, reasons and messages: never secrets.
"""

from django.dispatch import Signal

sync_attempted = Signal()
sync_succeeded = Signal()
sync_skipped = Signal()
sync_failed = Signal()

connection_created = Signal()
# A connect attempt that created nothing (bad input, provider refused): sent with
# connection=None and a payload of {provider, code, message, fields}, never a secret.
connection_connect_failed = Signal()
connection_status_changed = Signal()
connection_credentials_rotated = Signal()
# A provider said the connection has new data (a webhook): payload {kinds, reason}.
connection_sync_requested = Signal()
# A connection given new credentials (a new login) in place: same id, accounts and history.
connection_reconnected = Signal()

transaction_edited = Signal()

SYNC_SIGNALS = {
    "attempted": sync_attempted,
    "succeeded": sync_succeeded,
    "skipped": sync_skipped,
    "failed": sync_failed,
}
