"""The apply engine: provider DTOs into the database, inside the handler's data transaction.

- `accounts`, `holdings`: the few-rows records, through model instances (`instances`).
- `transactions`: the bulk of the data, as plain rows read from the `spool`,
  written with `sql` (COPY on PostgreSQL); `spans` skip unchanged chunks of a
  window provider; `normalize` holds the field rules every path shares.
"""
