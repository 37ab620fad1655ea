"""What a handler returns, and the counts it accumulates."""

from __future__ import annotations

from dataclasses import dataclass, field
from uuid import UUID


@dataclass(slots=True)
class Counts:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0

    def as_dict(self) -> dict[str, int]:
        return {"created": self.created, "updated": self.updated, "unchanged": self.unchanged, "removed": self.removed}


@dataclass(frozen=True, kw_only=True)
class SyncResult:
    """The outcome of a sync that did not fail: `succeeded` or `skipped`."""

    command: str  # "accounts", "transactions" or "holdings"
    status: str  # "succeeded" or "skipped"
    connection_id: UUID
    account_id: UUID | None
    sync_run_id: UUID
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    reason: str = ""
    message: str = ""
    warnings: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "command": self.command,
            "connection_id": str(self.connection_id),
            "account_id": str(self.account_id) if self.account_id else None,
            "status": self.status,
            "reason": self.reason,
            "message": self.message,
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "removed": self.removed,
            "warnings": list(self.warnings),
            "sync_run_id": str(self.sync_run_id),
        }
