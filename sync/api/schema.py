"""The OpenAPI schema's operation ids: readable names a client generator can use (`syncConnectionAccounts`)."""

from __future__ import annotations

from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema

# What the standard actions do, as verbs; `destroy` on a connection disconnects it (nothing is deleted).
VERBS = {"list": "list", "retrieve": "get", "create": "create", "partial_update": "update", "update": "replace"}
PLURALS = {"Connection": "Connections", "Account": "Accounts", "Transaction": "Transactions", "Holding": "Holdings"}


def _camel(words: list[str]) -> str:
    return "".join(word[:1].upper() + word[1:] for word in words)


class AutoSchema(SpectacularAutoSchema):
    """`listTransactions`, `getAccount`, `syncConnectionAccounts`, `disconnectConnection`, `getAccountBalances`."""

    def get_operation_id(self):
        action = getattr(self.view, "action", None)
        basename = getattr(self.view, "basename", None)
        if not action or not basename:
            return super().get_operation_id()
        name = _camel(basename.split("-"))
        if action == "list":
            return f"list{PLURALS.get(name, name + 's')}"
        if action == "destroy":
            return f"disconnect{name}" if name == "Connection" else f"delete{name}"
        if action in VERBS:
            return f"{VERBS[action]}{name}"
        # A custom action: its verb, the resource, then the rest (sync_accounts -> syncConnectionAccounts).
        words = action.split("_")
        if len(words) == 1:
            words = ["get", *words]
        return words[0] + name + _camel(words[1:])
