"""The OpenAPI schema's operation ids (readable names a client generator can use: `syncConnectionAccounts`)
and its path ids (an example that tells the reader where to find a real one).
"""

from __future__ import annotations

from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter

# What the standard actions do, as verbs; `destroy` on a connection disconnects it (nothing is deleted).
VERBS = {"list": "list", "retrieve": "get", "create": "create", "partial_update": "update", "update": "replace"}
PLURALS = {"Connection": "Connections", "Account": "Accounts", "Transaction": "Transactions", "Holding": "Holdings"}


def _camel(words: list[str]) -> str:
    return "".join(word[:1].upper() + word[1:] for word in words)


def id_placeholder(basename: str) -> str:
    """The docs' example of a `{id}`: not an id, so that "Try it out" sent as is reaches no record.

    A path id that is not a UUID is `404 not_found` before any handler runs: no
    sync is attempted, so no failed sync run is recorded (a well-formed id of
    nothing would be an attempt, recorded like every other).
    """
    return f"paste-{basename}-id-here"


class AutoSchema(SpectacularAutoSchema):
    """`listTransactions`, `getAccount`, `syncConnectionAccounts`, `disconnectConnection`, `getAccountBalances`."""

    def get_override_parameters(self):
        parameters = list(super().get_override_parameters())
        basename = getattr(self.view, "basename", None)
        if basename and "{id}" in self.path:
            noun = basename.replace("-", " ")
            listing = self.path.split("{id}")[0]
            parameters.append(
                OpenApiParameter(
                    "id",
                    OpenApiTypes.UUID,
                    OpenApiParameter.PATH,
                    description=f"The {noun}'s id: paste one from `GET {listing}` (its `id` field). The example "
                    "is only a placeholder: sent as is, it is `404 not_found` and nothing is synced or recorded.",
                    examples=[OpenApiExample("placeholder", value=id_placeholder(basename))],
                )
            )
        return parameters

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
