"""Balances over time: an account's daily balance series, and net worth per currency.

Providers report a balance now (and each sync records it as a `BalanceSnapshot`),
not a history. The series is rebuilt from what is stored:

- walking back from the latest known balance, each day's closing balance is the
  next day's minus that next day's posted, not-removed transactions (FinSync's
  sign: money into the account is positive);
- a recorded snapshot is what the provider said on that day: it wins over the
  derived value and the walk continues from it (so a gap in the synced
  transactions cannot drift the whole history);
- investment accounts' balances are market values that transactions do not
  explain: their series is the snapshots, each carried forward until the next.

Every point says where it came from (`source`): "snapshot", "current" (the
account's balance on its balance date), "derived" or "carried".
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.db.models import QuerySet, Sum
from django.utils import timezone

from sync.errors import ValidationError
from sync.models import Account, BalanceSnapshot, Transaction

MARKET_VALUE_TYPES = ("investment", "brokerage")
# The ranges the admin offers (days back from the last day; None: everything stored).
RANGES = {"30d": 30, "90d": 90, "1y": 365, "all": None}
DEFAULT_RANGE = "90d"
MAX_DAYS = 366 * 30  # a request for more than 30 years of daily points is a mistake


@dataclass(frozen=True)
class BalancePoint:
    """An account's closing balance on one day, and where the value comes from."""

    day: date
    balance: Decimal
    source: str

    def as_dict(self) -> dict:
        return {"date": self.day.isoformat(), "balance": str(self.balance), "source": self.source}


@dataclass(frozen=True)
class NetWorthSeries:
    """The sum of the active accounts' daily balances in one currency."""

    currency: str
    accounts: int
    points: list[tuple[date, Decimal]]


def _local_day(moment: datetime) -> date:
    return timezone.localdate(moment) if timezone.is_aware(moment) else moment.date()


def _snapshots_by_day(account: Account) -> dict[date, Decimal]:
    """The last recorded balance of each day."""
    days: dict[date, Decimal] = {}
    rows = BalanceSnapshot.objects.filter(account=account, balance__isnull=False).order_by("as_of")
    for as_of, balance in rows.values_list("as_of", "balance"):
        days[_local_day(as_of)] = balance  # later in the day overwrites earlier
    return days


def _anchor(account: Account, snapshots: dict[date, Decimal]) -> tuple[date, Decimal, str] | None:
    """The latest known balance: the account's own, else its latest snapshot."""
    if account.balance is not None:
        day = _local_day(account.balance_date) if account.balance_date else timezone.localdate()
        if not snapshots or day >= max(snapshots):
            return day, account.balance, "current"
    if snapshots:
        day = max(snapshots)
        return day, snapshots[day], "snapshot"
    return None


def data_start(account: Account) -> date | None:
    """The first day anything is known about the account's balance (its first transaction or snapshot)."""
    first_tx = (
        Transaction.objects.filter(account=account, is_removed=False)
        .order_by("posted_date")
        .values_list("posted_date", flat=True)
    ).first()
    first_snap = BalanceSnapshot.objects.filter(account=account, balance__isnull=False).order_by("as_of").first()
    days = [d for d in (first_tx, first_snap and _local_day(first_snap.as_of)) if d is not None]
    return min(days) if days else None


def resolve_window(
    range_key: str | None, *, start: date | None, end: date | None, first: date | None, last: date
) -> tuple[date, date]:
    """The days to draw: explicit `start`/`end` win, else `range_key` back from `last` ("all": from `first`)."""
    if range_key is not None and range_key not in RANGES:
        raise ValidationError(
            f"Unknown range {range_key!r}: use one of {', '.join(RANGES)}.", fields={"range": ["Unknown range."]}
        )
    end = end or last
    if start is None:
        days = RANGES[range_key or DEFAULT_RANGE]
        start = (first or end) if days is None else end - timedelta(days=days - 1)
        if first is not None and days is None:
            start = min(start, end)
    if start > end:
        raise ValidationError(f"start ({start}) is after end ({end}).", fields={"start": ["Must be on or before end."]})
    if (end - start).days > MAX_DAYS:
        raise ValidationError(
            f"At most {MAX_DAYS} days at a time ({start} to {end} is {(end - start).days + 1}).",
            fields={"start": ["Too long a range."]},
        )
    return start, end


def daily_balances(account: Account, *, start: date | None = None, end: date | None = None) -> list[BalancePoint]:
    """The account's closing balance for every day from `start` to `end` (both included) that can be known.

    Defaults: from the first transaction or snapshot to the latest known balance.
    Days after the latest known balance are not guessed; an account with no
    balance at all has no series.
    """
    snapshots = _snapshots_by_day(account)
    anchor = _anchor(account, snapshots)
    if anchor is None:
        return []
    anchor_day, anchor_balance, anchor_source = anchor
    end = min(end or anchor_day, anchor_day)
    start = start or data_start(account) or anchor_day
    if start > end:
        return []
    if (end - start).days > MAX_DAYS:
        raise ValidationError(
            f"At most {MAX_DAYS} days at a time ({start} to {end} is {(end - start).days + 1}).",
            fields={"start": ["Too long a range."]},
        )
    if account.type in MARKET_VALUE_TYPES:
        return _carried(snapshots, anchor, start, end)
    posted = Transaction.objects.filter(account=account, is_removed=False, status=Transaction.Status.POSTED)
    # The walk starts at `end`, not at the anchor: the balance there is the nearest later
    # snapshot (or the anchor) minus the flows between, in one query (a window far in the
    # past costs its own length, not the years since).
    later = [d for d in snapshots if end < d < anchor_day]
    base_day, base_value = (min(later), snapshots[min(later)]) if later else (anchor_day, anchor_balance)
    running = base_value
    if base_day > end:
        between = posted.filter(posted_date__gt=end, posted_date__lte=base_day).aggregate(total=Sum("amount"))
        running -= _exact(between["total"] or Decimal(0))
    flows = {
        day: _exact(total)
        for day, total in posted.filter(posted_date__gt=start, posted_date__lte=end)
        .values("posted_date")
        .annotate(total=Sum("amount"))
        .values_list("posted_date", "total")
    }
    points: list[BalancePoint] = []
    day = end
    while day >= start:
        if day in snapshots and not (day == anchor_day and anchor_source == "current"):
            running, source = snapshots[day], "snapshot"
        else:
            source = anchor_source if day == anchor_day else "derived"
        points.append(BalancePoint(day, running, source))
        running -= flows.get(day, Decimal(0))  # the day before closed without this day's flow
        day -= timedelta(days=1)
    points.reverse()
    return points


def _exact(total: Decimal | float | int) -> Decimal:
    """A database sum at the stored scale (SQLite sums decimals as floats: 13036.36000000000000)."""
    return Decimal(total).quantize(Decimal("0.0001"))


def _carried(
    snapshots: dict[date, Decimal], anchor: tuple[date, Decimal, str], start: date, end: date
) -> list[BalancePoint]:
    """Market-value accounts: each recorded value carried forward to the next one."""
    anchor_day, anchor_balance, anchor_source = anchor
    known = {**snapshots, anchor_day: anchor_balance}
    earlier = [d for d in known if d <= start]
    value = known[max(earlier)] if earlier else None
    points = []
    day = start
    while day <= end:
        if day in known:
            value = known[day]
            source = anchor_source if day == anchor_day else "snapshot"
        else:
            source = "carried"
        if value is not None:
            points.append(BalancePoint(day, value, source))
        day += timedelta(days=1)
    return points


def net_worth(
    accounts: QuerySet[Account], *, start: date | None = None, end: date | None = None
) -> list[NetWorthSeries]:
    """Per currency, the daily sum of the given accounts' balances (inactive accounts are left out).

    Liabilities count as they are stored (negative, FinSync's sign). Before an
    account's first known day it counts at its first known value; after its
    latest, at its latest. Defaults: the last `DEFAULT_RANGE` up to today.
    """
    end = end or timezone.localdate()
    start, end = resolve_window(None, start=start, end=end, first=None, last=end)
    totals: dict[str, dict[date, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    counts: dict[str, int] = defaultdict(int)
    for account in accounts.filter(is_active=True).order_by("currency", "name", "pk"):
        series = daily_balances(account, start=start, end=end)
        if not series:
            continue
        counts[account.currency] += 1
        by_day = totals[account.currency]
        last = series[-1].balance
        # A market-value account's history starts at its first recorded value (transactions
        # cannot rebuild it); before that it counts at that value, so the total does not
        # jump on the day FinSync first saw it.
        day = start
        while day < series[0].day:
            by_day[day] += series[0].balance
            day += timedelta(days=1)
        for point in series:
            by_day[point.day] += point.balance
        # The latest known balance stands until today (a sync was just not run since).
        day = series[-1].day + timedelta(days=1)
        while day <= end:
            by_day[day] += last
            day += timedelta(days=1)
    return [
        NetWorthSeries(currency=currency, accounts=counts[currency], points=sorted(totals[currency].items()))
        for currency in sorted(totals)
    ]
