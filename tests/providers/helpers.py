"""Assertions shared by the adapter tests: data snapshots and "no secret leaked anywhere"."""

from __future__ import annotations

import json

from sync.models import Account, AuditEvent, BalanceSnapshot, Connection, Holding, SyncRun, Transaction


def data_snapshot() -> dict:
    """Every synced row's values: a failed sync must leave this exactly as it was."""
    return {
        "accounts": sorted(
            Account.objects.values_list(
                "provider_account_id", "name", "balance", "available_balance", "is_active", "transactions_synced_at"
            )
        ),
        "transactions": sorted(
            Transaction.objects.values_list(
                "provider_transaction_id", "amount", "posted_date", "status", "is_removed", "category", "notes"
            )
        ),
        "holdings": sorted(Holding.objects.values_list("provider_holding_id", "quantity", "market_value", "is_active")),
        "balances": BalanceSnapshot.objects.count(),
        "cursors": sorted(Connection.objects.values_list("pk", "cursor", "transactions_synced_at")),
    }


def assert_no_secrets(secrets, *, caplog=None, extra_texts=()) -> None:
    """No secret in sync runs, audit events, connection errors, captured logs or given texts."""
    texts = [
        json.dumps(list(SyncRun.objects.values("message", "warnings", "reason_code")), default=str),
        json.dumps(list(AuditEvent.objects.values("event", "payload")), default=str),
        json.dumps(list(Connection.objects.values("last_error", "config", "name")), default=str),
        *extra_texts,
    ]
    if caplog is not None:
        texts += [record.getMessage() for record in caplog.records]
        texts.append(caplog.text)
    for secret in secrets:
        assert secret
        for text in texts:
            assert secret not in text, f"a secret leaked into: {text[:300]}"


def last_run(kind: str | None = None) -> SyncRun:
    runs = SyncRun.objects.order_by("-started_at")
    if kind:
        runs = runs.filter(kind=kind)
    return runs.first()


def events(kind: str) -> list[str]:
    return list(AuditEvent.objects.filter(event__startswith=f"sync.{kind}.").values_list("event", flat=True))
