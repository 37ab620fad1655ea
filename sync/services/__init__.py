"""The service layer: what the interfaces (admin, API, CLI) call.

- `handlers`: the three sync commands, each executed top to bottom.
- `runs`: a sync attempt's SyncRun, its claim on the connection and its lease.
- `connections`: connect, disconnect, rotate credentials.
- `connection_sync`: several kinds of sync for one connection, in order.
- `due`: which connections are due (the recently-synced rule plus requested ones), synced in-process.
- `jobs`: the job engine (Procrastinate on PostgreSQL): the sync task, scheduling, deferring, `request_sync`.
"""
