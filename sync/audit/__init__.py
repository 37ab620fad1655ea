"""Domain events and the append-only audit log.

- `signals`: the events the services send.
- `receivers`: write them to AuditEvent (connected in SyncConfig.ready()).
- `dbguard`: the database's own refusal to change or delete an audit row.
"""
