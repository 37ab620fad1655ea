"""Holdings: a full snapshot per account; upsert what is reported, deactivate the rest."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from providers.base import HoldingData, HoldingsResult
from sync.apply.instances import assign_changed, write_instances
from sync.apply.normalize import currency, quantity
from sync.models import Account, Holding
from sync.results import Counts

HOLDING_SYNCED_FIELDS = (
    "symbol",
    "name",
    "asset_type",
    "quantity",
    "price",
    "cost_basis",
    "market_value",
    "currency",
    "as_of",
    "is_active",
    "cusip",
)


def _holding_values(data: HoldingData, now: datetime) -> dict:
    what = f"holding {data.provider_holding_id}"
    return {
        "symbol": (data.symbol or "")[:64],
        "name": (data.name or "")[:255],
        "asset_type": (data.asset_type or "")[:50],
        "quantity": quantity(data.quantity, f"{what} quantity") or Decimal(0),
        "price": quantity(data.price, f"{what} price"),
        "cost_basis": quantity(data.cost_basis, f"{what} cost basis"),
        "market_value": quantity(data.market_value, f"{what} market value"),
        "currency": currency(data.currency, what),
        "as_of": data.as_of,
        "is_active": True,
        "cusip": (data.cusip or "")[:12],
    }


def apply_holdings(account: Account, result: HoldingsResult, *, now: datetime) -> Counts:
    """Holdings are a full snapshot: upsert what is reported, deactivate the rest."""
    counts = Counts()
    existing = {h.provider_holding_id: h for h in Holding.objects.filter(account=account)}
    reported = {h.provider_holding_id: h for h in result.holdings}
    created, updated = [], []
    for provider_id, data in reported.items():
        values = _holding_values(data, now)
        holding = existing.get(provider_id)
        if holding is None:
            created.append(Holding(account=account, provider_holding_id=provider_id, **values))
            counts.created += 1
        elif assign_changed(holding, values):
            updated.append(holding)
            counts.updated += 1
        else:
            counts.unchanged += 1
    for provider_id, holding in existing.items():
        if provider_id not in reported and holding.is_active:
            holding.is_active = False
            updated.append(holding)
            counts.removed += 1
    write_instances(Holding, created, updated, HOLDING_SYNCED_FIELDS, now)
    return counts
