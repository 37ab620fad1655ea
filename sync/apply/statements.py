"""Statement files: which stored transaction each row of an imported file is (identity without losing rows).

An OFX file's FITID is not a reliable identity: Chase gives a foreign
transaction fee the FITID of its charge (and a reward that of its purchase),
some banks number FITIDs per file, and some change a transaction's FITID
between two downloads. So a row's stored id is `FITID|date|amount|n`:

1. **Duplicate FITIDs in a file are all kept.** Rows sharing a FITID but not
   its date and amount get different ids; rows identical in FITID, date and
   amount are told apart by their occurrence `n` (0, 1, ...) in the file, so a
   re-import finds each again.
2. **A changed FITID does not duplicate a row.** A row whose id is not stored
   takes the stored row of the same account with the same booking date, the
   same amount and the same name (compared case-insensitively on the first 32
   characters, as banks truncate NAME) that no row of this file matched by id
   and whose FITID this file does not carry; each stored row is taken once,
   in file order. Both downloads cover that day (the overlap), so it is the
   same transaction under a new id. The stored row keeps its id, and is
   updated from the file.
3. **Corrections.** A row with `CORRECTACTION` DELETE removes (soft) the stored
   transaction with FITID `CORRECTFITID`; REPLACE puts the row in its place:
   the old one is removed and the new one carries the user's category and
   notes across. Among several stored rows with that FITID, the one with the
   row's amount, then its date, is meant; when that leaves more than one, or
   none, nothing is removed and a warning says so. Rows of the corrected
   FITID in the same file are superseded by the correction.
4. A row whose stored twin was removed by a correction is not brought back
   by re-importing an older file.

The user's own fields (category, notes) are never written by an import.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import replace
from datetime import date, datetime
from decimal import Decimal

from providers.base import (
    HoldingsResult,
    RemovedTransaction,
    StatementFileResult,
    StatementTransactionData,
    TransactionData,
    TransactionsResult,
)
from sync.apply.accounts import upsert_accounts
from sync.apply.holdings import apply_holdings
from sync.apply.normalize import MONEY_STEP
from sync.apply.transactions import apply_transactions
from sync.models import Account, Connection, SyncKind, Transaction
from sync.results import Counts

NAME_MATCH_CHARS = 32  # banks truncate NAME at the spec's 32 characters
MAX_FITID_IN_ID = 200  # longer (or `|`-holding) FITIDs are stored hashed, so the id stays within 255


def fitid_key(fitid: str) -> str:
    """The FITID as it appears in stored ids: itself, or a hash when it is long or holds `|`."""
    if len(fitid) <= MAX_FITID_IN_ID and "|" not in fitid:
        return fitid
    return "sha256-" + hashlib.sha256(fitid.encode("utf-8")).hexdigest()


def row_id(fitid: str, posted: date, amount: Decimal, occurrence: int) -> str:
    """The stored id of a statement row: FITID, booking date, amount, occurrence."""
    money = Decimal(amount).quantize(MONEY_STEP)
    return f"{fitid_key(fitid)}|{posted:%Y%m%d}|{money:f}|{occurrence}"


def _stored_fitid(provider_id: str) -> str:
    return provider_id.rsplit("|", 3)[0]


def _name_key(name: str) -> str:
    return " ".join(name.split()).casefold()[:NAME_MATCH_CHARS]


class _Stored:
    __slots__ = ("amount", "is_removed", "name", "pid", "posted")

    def __init__(self, pid: str, posted: date, amount: Decimal, name: str, is_removed: bool) -> None:
        self.pid, self.posted, self.amount, self.name, self.is_removed = pid, posted, amount, name, is_removed


def _load(account: Account, fitids: set[str], days: set[date]) -> dict[str, _Stored]:
    """Stored rows of the account on the file's days, or with one of the file's (or its corrections') FITIDs."""
    stored: dict[str, _Stored] = {}
    fields = ("provider_transaction_id", "posted_date", "amount", "payee", "is_removed")
    rows = Transaction.objects.filter(account=account)
    for day_chunk in _chunks(sorted(days), 500):
        for pid, posted, amount, payee, removed in rows.filter(posted_date__in=day_chunk).values_list(*fields):
            stored[pid] = _Stored(pid, posted, amount, payee, removed)
    for fitid in sorted(fitids):
        for pid, posted, amount, payee, removed in rows.filter(
            provider_transaction_id__startswith=fitid_key(fitid) + "|"
        ).values_list(*fields):
            if _stored_fitid(pid) == fitid_key(fitid):
                stored[pid] = _Stored(pid, posted, amount, payee, removed)
    return stored


def _chunks(items: list, size: int):
    for start in range(0, len(items), size):
        yield items[start : start + size]


def statement_transactions(
    account: Account, rows: list[StatementTransactionData]
) -> tuple[TransactionsResult, list[str]]:
    """The rows of one account's statements as a transactions result with stored ids, and warnings.

    Runs inside the import's data transaction (it reads the account's stored
    rows); the result is applied like a cursor provider's changes: nothing the
    file leaves out is removed, except by a correction.
    """
    warnings: list[str] = []
    deletes = [r for r in rows if r.correct_action == "DELETE" and r.correct_fitid]
    replaces = [r for r in rows if r.correct_action == "REPLACE" and r.correct_fitid]
    corrected = {r.correct_fitid for r in deletes + replaces}
    # A DELETE is an instruction, not a transaction; rows of a corrected FITID in
    # the same file are superseded by the correction.
    kept = [r for r in rows if r not in deletes and (r.fitid not in corrected or r.correct_fitid)]
    stored = _load(account, {r.fitid for r in kept} | corrected, {r.transaction.posted_date for r in kept})

    occurrences: dict[tuple, int] = defaultdict(int)
    ids: list[str] = []
    for row in kept:
        data = row.transaction
        key = (fitid_key(row.fitid), data.posted_date, Decimal(data.amount).quantize(MONEY_STEP))
        ids.append(row_id(row.fitid, data.posted_date, data.amount, occurrences[key]))
        occurrences[key] += 1

    links = {id(row): target for row in replaces if (target := _corrected_row(row, stored, warnings))}
    removed = [
        RemovedTransaction(provider_account_id=account.provider_account_id, provider_transaction_id=target)
        for row in deletes
        if (target := _corrected_row(row, stored, warnings))
    ]
    file_fitids = {fitid_key(r.fitid) for r in kept}
    taken = {pid for pid in ids if pid in stored}  # exact matches first, then changed FITIDs
    out: list[TransactionData] = []
    for row, pid in zip(kept, ids, strict=True):
        if pid in stored:
            if stored[pid].is_removed:
                continue  # removed by a correction: an older file does not bring it back
        else:
            twin = _changed_fitid_twin(row.transaction, stored, taken, file_fitids)
            if twin is not None:
                taken.add(twin.pid)
                pid = twin.pid
        out.append(
            replace(
                row.transaction,
                provider_transaction_id=pid,
                provider_account_id=account.provider_account_id,
                pending_transaction_id=links.get(id(row), ""),
            )
        )
    result = TransactionsResult(transactions=out, removed=removed, accounts_covered=[account.provider_account_id])
    return result, warnings


def _changed_fitid_twin(data: TransactionData, stored: dict[str, _Stored], taken: set[str], file_fitids: set[str]):
    name = _name_key(data.payee or data.description)
    amount = Decimal(data.amount).quantize(MONEY_STEP)
    for candidate in stored.values():
        if (
            candidate.pid not in taken
            and not candidate.is_removed
            and candidate.posted == data.posted_date
            and candidate.amount == amount
            and _name_key(candidate.name) == name
            and _stored_fitid(candidate.pid) not in file_fitids
        ):
            return candidate
    return None


def _corrected_row(row: StatementTransactionData, stored: dict[str, _Stored], warnings: list[str]) -> str | None:
    """The stored id a correction means, or None (with a warning) when it is unknown or ambiguous."""
    key = fitid_key(row.correct_fitid)
    candidates = [s for s in stored.values() if _stored_fitid(s.pid) == key and not s.is_removed]
    amount = Decimal(row.transaction.amount).quantize(MONEY_STEP)
    if len(candidates) > 1:
        candidates = [s for s in candidates if s.amount == amount] or candidates
    if len(candidates) > 1:
        candidates = [s for s in candidates if s.posted == row.transaction.posted_date] or candidates
    if len(candidates) == 1:
        return candidates[0].pid
    what = "matches no stored transaction" if not candidates else "matches several stored transactions"
    if candidates or not any(_stored_fitid(s.pid) == key for s in stored.values()):
        warnings.append(
            f"correction {row.correct_action} of FITID {row.correct_fitid[:60]} {what}; nothing was removed"
        )
    return None


def apply_statement_file(
    connection: Connection, parsed: StatementFileResult, *, now: datetime
) -> tuple[Counts, list[str]]:
    """Apply every statement of a parsed file: accounts and balances, transactions, holdings.

    Runs inside the import's data transaction. The counts add up accounts,
    transactions and holdings; the warnings are the identity rules' (an
    ambiguous correction).
    """
    counts, warnings = Counts(), []
    accounts = {s.account.provider_account_id: s.account for s in parsed.statements}
    account_counts, accounts_by_pid = upsert_accounts(
        connection, list(accounts.values()), deactivate_missing=False, snapshot_source=SyncKind.STATEMENT, now=now
    )
    _add(counts, account_counts)
    rows: dict[str, list[StatementTransactionData]] = defaultdict(list)
    for statement in parsed.statements:
        rows[statement.account.provider_account_id] += statement.transactions
    for pid in sorted(rows):
        account = accounts_by_pid[pid]
        result, found = statement_transactions(account, rows[pid])
        warnings += found
        _add(counts, apply_transactions({pid: account}, result, window=None, now=now))
    touched = [accounts_by_pid[pid].pk for pid in rows]
    Account.objects.filter(pk__in=touched).update(transactions_synced_at=now)
    for statement in parsed.statements:
        if statement.holdings is None:
            continue
        account = accounts_by_pid[statement.account.provider_account_id]
        _add(counts, apply_holdings(account, HoldingsResult(holdings=statement.holdings), now=now))
        Account.objects.filter(pk=account.pk).update(holdings_synced_at=now)
    return counts, warnings


def _add(total: Counts, more: Counts) -> None:
    total.created += more.created
    total.updated += more.updated
    total.unchanged += more.unchanged
    total.removed += more.removed
