"""A provider whose data is whatever the test says it is ("the provider's truth").

The truth lives in the connection's config (`config["truth"]`), so a test can
change the bank's history between syncs: add, modify, remove, post pending
rows (with or without a link), close and reopen accounts.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from providers.base import (
    AccountData,
    AccountsResult,
    Capabilities,
    ConnectionSetup,
    Provider,
    TransactionData,
    TransactionsResult,
)


class ScriptedProvider(Provider):
    slug = "scripted"
    display_name = "Scripted bank"
    capabilities = Capabilities(accounts=True, transactions=True, holdings=False)

    @classmethod
    def connect(cls, options):
        return ConnectionSetup(
            credentials={"token": "scripted"}, config={"truth": {"accounts": {}, "transactions": {}}}
        )

    @property
    def truth(self) -> dict:
        return self.config["truth"]

    def _open(self) -> list[str]:
        return sorted(pid for pid, account in self.truth["accounts"].items() if account["open"])

    def fetch_accounts(self):
        return AccountsResult(
            accounts=[
                AccountData(provider_account_id=pid, name=self.truth["accounts"][pid]["name"], type="depository")
                for pid in self._open()
            ]
        )

    def fetch_transactions(self, *, start, end, account_ids=None, cursor=None):
        covered = [pid for pid in self._open() if account_ids is None or pid in account_ids]
        rows = []
        for tid, row in sorted(self.truth["transactions"].items()):
            day = date.fromisoformat(row["date"])
            if row["account"] in covered and start <= day <= end:
                rows.append(
                    TransactionData(
                        provider_transaction_id=tid,
                        provider_account_id=row["account"],
                        posted_date=day,
                        amount=Decimal(row["amount"]),
                        description=row["description"],
                        pending=row["pending"],
                        pending_transaction_id=row.get("replaces", ""),
                    )
                )
        return TransactionsResult(transactions=rows, accounts_covered=covered)
