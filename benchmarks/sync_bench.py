"""Sync benchmark: FinSync's transactions sync against a naive ORM path and the raw bulk-load floor.

    .venv/bin/python benchmarks/sync_bench.py                 # 10 accounts x 10,000 rows, PostgreSQL and SQLite
    .venv/bin/python benchmarks/sync_bench.py --quick         # a small smoke run
    .venv/bin/python benchmarks/sync_bench.py --accounts 10 --per-account 100000 --databases postgres
    .venv/bin/python benchmarks/sync_bench.py --providers plaid --databases postgres

A loopback fake (tests.fakes) serves N accounts x M transactions over a 730-day
window, plus holdings, for each provider of `--providers` (both by default):
SimpleFIN (a window provider: every sync resends the whole window) and Plaid
(a cursor provider: `/transactions/sync` pages of 500 with only what changed
since the stored cursor; benchmarks/plaid_data.py). For each database and
provider the run makes a fresh database
(PostgreSQL: a scratch database on the server of scripts/start-postgres.sh,
dropped afterwards; SQLite: a temporary file), migrates it, and runs every
scenario in a fresh subprocess so that its peak RSS (the child's own
`VmHWM` in /proc/self/status, read at its end) is the scenario's alone. Not `ru_maxrss`: Linux carries
the parent's high-water mark across fork + exec into it, and the parent holds the fake's data.

- initial: the first transactions sync, end to end (HTTP, parse, apply); best of --repeats, each into a
  fresh database;
- unchanged: a re-sync with nothing changed (best of --repeats); Plaid's cursor then returns no rows;
- changed: a re-sync after 1% of the rows were modified and 1% are new (best of --repeats, a new change each time;
  Plaid sends them as `modified` and `added` through the cursor);
- naive: per-row `update_or_create` of the same rows into an empty account (a sample, extrapolated);
- floor: the same rows as pre-built tuples, no HTTP and no ORM: on PostgreSQL psycopg COPY into a temporary
  table and one INSERT ... ON CONFLICT DO UPDATE ... WHERE ... IS DISTINCT FROM ...; on SQLite one executemany
  INSERT ... ON CONFLICT DO UPDATE ... WHERE. Run twice: into an empty account, then again (nothing changes).
  A floor run follows each initial sync, in a fresh database, so that both sample the same stretches of a
  noisy machine; each pass is the best of all its runs.
  The baselines do not depend on the provider: they run once per database, in a database of their own, and
  every provider's ratios use them.

Queries are counted with `connection.execute_wrapper` (every statement Django
sends, as CaptureQueriesContext would count them, without recording the SQL
text, which would distort the timings). Machines are noisy: compare the ratios
within one run. The table is printed and written to benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import secrets
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

END = date(2026, 6, 14)
DAYS = 730
USERNAME = "bench"
CONNECTION_NAME = "Benchmark bank"
HOLDINGS_PER_ACCOUNT = 50
RESULTS = ROOT / "benchmarks" / "RESULTS.md"
PROVIDERS = {"simplefin": "SimpleFIN", "plaid": "Plaid"}


# --- the data (the fake serves it; the baselines rebuild the same rows) -----------------


def account_ids(n_accounts: int) -> list[str]:
    return [f"acct-{i:03d}" for i in range(n_accounts)]


def base_rows(n_accounts: int, per_account: int, days: int = DAYS):
    """(account_id, transaction_id, day, amount, description, payee, pending) of the initial history."""
    for account_id in account_ids(n_accounts):
        for j in range(per_account):
            day = END - timedelta(days=(j * days) // per_account)
            pending = j < max(1, per_account // 500)  # the newest few are pending
            amount = f"{-((j * 7919) % 250000) / 100 + (1500 if j % 40 == 0 else 0):.2f}"
            yield (account_id, f"t-{j:07d}", day, amount, f"Card purchase {j % 997}", f"Merchant {j % 313}", pending)


def change_rows(n_accounts: int, per_account: int, round_no: int, days: int = DAYS):
    """Round `round_no` of changes: 1% of the rows modified, 1% new, per account."""
    step = 100
    for account_id in account_ids(n_accounts):
        for j in range(round_no, per_account, step):
            day = END - timedelta(days=(j * days) // per_account)
            yield (account_id, f"t-{j:07d}", day, f"{-(j % 5000) / 100 - round_no:.2f}", f"Amended {j}", "", False)
        for k in range(max(1, per_account // step)):
            day = END - timedelta(days=(k * days) // max(1, per_account // step))
            yield (account_id, f"n{round_no}-{k:06d}", day, f"-{k % 300}.{round_no:02d}", f"New {k}", "Shop", False)


def build_fake(provider: str, n_accounts: int, per_account: int):
    if provider == "plaid":
        from benchmarks import plaid_data

        fake = plaid_data.build_fake(n_accounts, account_ids(n_accounts), base_rows(n_accounts, per_account))
        fake.prepare()
        return fake
    from benchmarks.simplefin_data import PreparedSimpleFINFake

    fake = PreparedSimpleFINFake(window=(END - timedelta(days=DAYS - 1), END))
    for index, account_id in enumerate(account_ids(n_accounts)):
        holdings = None
        if index % 5 == 0:  # every fifth account is a brokerage account
            holdings = [
                {
                    "id": f"h-{account_id}-{h}",
                    "currency": "USD",
                    "cost_basis": f"{1000 + h}.00",
                    "description": f"Fund {h}",
                    "market_value": f"{1200 + h * 3}.50",
                    "shares": f"{10 + h}",
                    "symbol": f"F{h:03d}",
                }
                for h in range(HOLDINGS_PER_ACCOUNT)
            ]
        fake.add_account(account_id, f"Account {index}", balance="1000.00", holdings=holdings)
    add_rows(fake, base_rows(n_accounts, per_account))
    fake.prepare()
    return fake


def add_changes(provider: str, fake, rows) -> None:
    if provider == "plaid":
        from benchmarks import plaid_data

        plaid_data.add_changes(fake, rows)
        fake.prepare()
    else:
        add_rows(fake, rows)
        fake.prepare()


def add_rows(fake, rows) -> None:
    for account_id, transaction_id, day, amount, description, payee, pending in rows:
        fake.add_transaction(
            account_id,
            transaction_id,
            amount=amount,
            description=description,
            payee=payee or None,
            posted=None if pending else day,
            transacted_at=datetime(day.year, day.month, day.day, 12, tzinfo=UTC),
            pending=pending,
        )


# --- the child: one scenario in a fresh process ----------------------------------------


def _django(db_url: str) -> None:
    os.environ["DATABASE_URL"] = db_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "finsync_project.settings")
    import django

    django.setup()


class QueryCounter:
    def __init__(self):
        self.count = 0

    def __call__(self, execute, sql, params, many, context):
        self.count += 1
        return execute(sql, params, many, context)


def _sync(kind: str, **kwargs):
    from django.db import connection

    from sync.commands import SyncAccounts, SyncHoldings, SyncTransactions
    from sync.services.handlers import sync_accounts, sync_holdings, sync_transactions

    command = {"accounts": SyncAccounts, "transactions": SyncTransactions, "holdings": SyncHoldings}[kind]
    handler = {"accounts": sync_accounts, "transactions": sync_transactions, "holdings": sync_holdings}[kind]
    counter = QueryCounter()
    started = time.perf_counter()
    with connection.execute_wrapper(counter):
        result = handler(command(force=True, **kwargs), source="cli")
    return time.perf_counter() - started, counter.count, result


def _time_apply() -> dict:
    """Accumulate the time spent applying the spooled transactions (inside the data transaction)."""
    from sync.services import handlers

    spent = {"seconds": 0.0}
    original = handlers.apply_spooled_transactions

    def timed(*args, **kwargs):
        started = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            spent["seconds"] += time.perf_counter() - started

    handlers.apply_spooled_transactions = timed
    return spent


def child(args) -> dict:
    _django(args.db)
    from django.contrib.auth import get_user_model

    from sync.models import Account, Connection
    from sync.services.connections import create_connection

    out: dict = {"scenario": args.scenario}
    if args.scenario in ("naive", "floor"):
        from benchmarks import baselines

        rows = list(base_rows(args.accounts, args.per_account))
        out |= getattr(baselines, args.scenario)(rows, sample=args.naive_sample)
        out["rss_kb"] = peak_rss_kb()
        return out

    User = get_user_model()
    user, _ = User.objects.get_or_create(username=USERNAME)
    bank = Connection.objects.filter(owner=user, name=CONNECTION_NAME).first()
    if bank is None:
        if args.provider == "plaid":
            from benchmarks.plaid_data import ACCESS_TOKEN

            options = {"access_token": ACCESS_TOKEN}
        else:
            from tests.fakes.simplefin import SimpleFINFake

            options = {"access_url": SimpleFINFake().access_url(args.server)}
        bank = create_connection(
            owner=user, provider=args.provider, name=CONNECTION_NAME, options=options, actor=user, source="cli"
        )
        _sync("accounts", connection_id=bank.pk, user_id=user.pk)
    start = END - timedelta(days=DAYS - 1)
    applying = _time_apply()
    seconds, queries, result = _sync(
        "transactions", connection_id=bank.pk, user_id=user.pk, start_date=start, end_date=END
    )
    out |= {"seconds": seconds, "apply_seconds": applying["seconds"], "queries": queries, "counts": _counts(result)}
    if args.scenario == "initial":
        total, total_queries, rows = 0.0, 0, 0
        for account in Account.objects.filter(connection=bank, type="investment"):
            spent, used, held = _sync("holdings", account_id=account.pk, user_id=user.pk)
            total, total_queries, rows = total + spent, total_queries + used, rows + held.created
        out["holdings"] = {"seconds": total, "queries": total_queries, "rows": rows}
    out["rss_kb"] = peak_rss_kb()
    return out


def peak_rss_kb() -> int:
    """This process's peak resident set size: VmHWM on Linux, else ru_maxrss (which may include the parent's)."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _counts(result) -> dict:
    return {
        "created": result.created,
        "updated": result.updated,
        "unchanged": result.unchanged,
        "removed": result.removed,
    }


# --- the parent: databases, the fake, the scenarios, the table -------------------------


def _postgres_server_url() -> str:
    if os.environ.get("FINSYNC_BENCH_POSTGRES_URL"):
        return os.environ["FINSYNC_BENCH_POSTGRES_URL"]
    return subprocess.run(
        [str(ROOT / "scripts" / "start-postgres.sh")], check=True, capture_output=True, text=True
    ).stdout.strip()


class Database:
    """A fresh, migrated database for one run; removed afterwards."""

    def __init__(self, vendor: str):
        self.vendor = vendor
        self.url = ""
        self._name = f"finsync_bench_{os.getpid()}_{uuid.uuid4().hex[:6]}"
        self._server = ""
        self._file = ""

    def __enter__(self) -> Database:
        if self.vendor == "postgres":
            self._server = _postgres_server_url()
            self._admin(f'CREATE DATABASE "{self._name}"')
            self.url = self._server.rsplit("/", 1)[0] + "/" + self._name
        else:
            handle, self._file = tempfile.mkstemp(prefix="finsync-bench-", suffix=".sqlite3")
            os.close(handle)
            self.url = f"sqlite:///{self._file}"
        subprocess.run(
            [sys.executable, str(ROOT / "manage.py"), "migrate", "--noinput", "-v", "0"],
            check=True,
            env=_child_env(self.url),
            cwd=ROOT,
        )
        return self

    def _admin(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(self._server.rsplit("/", 1)[0] + "/postgres", autocommit=True) as conn:
            conn.execute(sql)

    def __exit__(self, *exc) -> None:
        if self.vendor == "postgres":
            self._admin(f'DROP DATABASE IF EXISTS "{self._name}" WITH (FORCE)')
        else:
            for suffix in ("", "-wal", "-shm"):
                Path(self._file + suffix).unlink(missing_ok=True)


def _child_env(db_url: str, server_url: str = "") -> dict:
    from cryptography.fernet import Fernet

    from tests.fakes.plaid import PlaidFake

    plaid = PlaidFake()
    env = dict(os.environ)
    env.update(
        DATABASE_URL=db_url,
        DJANGO_SETTINGS_MODULE="finsync_project.settings",
        FINSYNC_ALLOW_HTTP_PROVIDERS="1",
        FINSYNC_ALLOW_PRIVATE_PROVIDER_HOSTS="1",
        FINSYNC_HTTP_READ_TIMEOUT="300",
        FINSYNC_HTTP_MAX_PAGES="100000",  # Plaid: 2,000 pages of 500 at 1,000,000 rows
        FINSYNC_MAX_SYNC_DAYS=str(DAYS),
        PLAID_BASE_URL=server_url or "http://127.0.0.1:9",
        PLAID_CLIENT_ID=plaid.client_id,
        PLAID_SECRET=plaid.secret,
        PYTHONPATH=str(ROOT),
    )
    env.setdefault("FINSYNC_ENCRYPTION_KEYS", _KEY.setdefault("key", Fernet.generate_key().decode()))
    return env


_KEY: dict = {}


def run_child(args, db: Database, scenario: str, server_url: str, provider: str = "simplefin") -> dict:
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--child",
        scenario,
        "--provider",
        provider,
        "--db",
        db.url,
        "--server",
        server_url,
        "--accounts",
        str(args.accounts),
        "--per-account",
        str(args.per_account),
        "--naive-sample",
        str(args.naive_sample),
    ]
    done = subprocess.run(command, env=_child_env(db.url, server_url), cwd=ROOT, capture_output=True, text=True)
    if done.returncode != 0:
        sys.stderr.write(done.stdout + done.stderr)
        raise SystemExit(f"scenario {scenario} ({provider}) on {db.vendor} failed")
    return json.loads(done.stdout.strip().splitlines()[-1])


def best(results: list[dict]) -> dict:
    return min(results, key=lambda r: r["seconds"])


def bench_database(args, vendor: str) -> dict:
    """Every provider's scenarios, each provider in a fresh database, and the baselines in databases of their own.

    A raw floor run follows each initial sync, so that the two sample the same
    stretches of a noisy machine; the floor is the best of all its runs.
    """
    from tests.fakes.server import LiveServer

    rows = args.accounts * args.per_account
    repeats = 1 if args.quick else args.repeats
    out: dict = {"vendor": vendor, "rows": rows, "providers": {}}
    floors: list[dict] = []

    def floor_run() -> None:
        if not args.no_baselines:
            with Database(vendor) as scratch:
                say(f"[{vendor}] raw floor, run {len(floors) + 1}")
                floors.append(run_child(args, scratch, "floor", ""))

    for provider in args.providers:
        fake = build_fake(provider, args.accounts, args.per_account)
        label = f"{vendor}, {PROVIDERS[provider]}"
        result: dict = {}
        with LiveServer(fake) as server, Database(vendor) as db:
            say(f"[{label}] initial sync of {rows:,} rows x{repeats}, each into a fresh database")
            initials = []
            for _ in range(repeats - 1):
                with Database(vendor) as scratch:
                    initials.append(run_child(args, scratch, "initial", server.url, provider))
                floor_run()
            initials.append(run_child(args, db, "initial", server.url, provider))  # the re-syncs go on from here
            floor_run()
            result["initial"] = best(initials)
            say(f"[{label}] unchanged re-sync x{repeats}")
            result["unchanged"] = best([run_child(args, db, "unchanged", server.url, provider) for _ in range(repeats)])
            changed = []
            for round_no in range(1, repeats + 1):
                add_changes(provider, fake, change_rows(args.accounts, args.per_account, round_no))
                say(f"[{label}] re-sync with 1% modified and 1% new, round {round_no}")
                changed.append(run_child(args, db, "changed", server.url, provider))
            result["changed"] = best(changed)
        out["providers"][provider] = result
        del fake
    if not args.no_baselines:
        with Database(vendor) as db:
            say(f"[{vendor}] naive per-row update_or_create, sample of {min(args.naive_sample, rows):,}")
            out["naive"] = run_child(args, db, "naive", "")
        out["floor"] = best(floors) | {"again_seconds": min(f["again_seconds"] for f in floors)}
        out["floor_runs"] = len(floors)
    return out


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


# --- the report ---------------------------------------------------------------------------


def report(args, results: list[dict]) -> str:
    names = " and ".join(PROVIDERS[p] for p in args.providers)
    lines = [
        "# Sync benchmark: last run",
        "",
        f"`{' '.join(['benchmarks/sync_bench.py', *sys.argv[1:]])}` on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC: "
        f"{args.accounts} accounts x {args.per_account:,} transactions over {DAYS} days ({names} "
        f"fake{'s' if len(args.providers) > 1 else ''} on loopback), {os.cpu_count()} CPUs. Peak RSS: each "
        "scenario's own subprocess, VmHWM. Each provider syncs into a fresh database; the baselines (naive, raw "
        "floor) do not depend on the provider. Times are the best of "
        f"{1 if args.quick else args.repeats} runs, the initial sync each into a fresh database, with a raw floor "
        "run (in a fresh database too) after each one; the floor is the best of all its runs, the naive path runs "
        "once, from a sample. rows/s is the history's rows over the sync's time, also for the re-syncs (Plaid's "
        "cursor sends only what changed).",
        "",
    ]
    for r in results:
        for provider, scenarios in r["providers"].items():
            lines += _provider_section(r, provider, scenarios)
    return "\n".join(lines)


def _provider_section(r: dict, provider: str, scenarios: dict) -> list[str]:
    rows = r["rows"]
    initial, unchanged, changed = scenarios["initial"], scenarios["unchanged"], scenarios["changed"]
    naive, floor = r.get("naive"), r.get("floor")
    lines = [
        f"## {r['vendor']}, {PROVIDERS[provider]}",
        "",
        "| scenario | seconds | rows/s | of which applying | queries | peak RSS MB | counts |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for name, item in (("initial sync", initial), ("unchanged re-sync", unchanged), ("1% mod + 1% new", changed)):
        lines.append(
            f"| {name} | {item['seconds']:.2f} | {rows / item['seconds']:,.0f} | {item['apply_seconds']:.2f} "
            f"| {item['queries']} "
            f"| {item['rss_kb'] / 1024:.0f} | {_fmt_counts(item['counts'])} |"
        )
    if naive:
        lines.append(
            f"| naive update_or_create (extrapolated from {naive['sample']:,}) | {naive['seconds']:.2f} "
            f"| {rows / naive['seconds']:,.0f} | | {naive['queries']} | {naive['rss_kb'] / 1024:.0f} | |"
        )
    if floor:
        lines.append(
            f"| raw floor ({floor['method']}), empty account, best of {r.get('floor_runs', 1)} "
            f"| {floor['seconds']:.2f} | {rows / floor['seconds']:,.0f} "
            f"| | {floor['queries']} | {floor['rss_kb'] / 1024:.0f} | written {floor['written']:,} |"
        )
        lines.append(
            f"| raw floor, same rows again | {floor['again_seconds']:.2f} | {rows / floor['again_seconds']:,.0f} "
            f"| | {floor['queries']} | | written {floor['again_written']:,} |"
        )
    holdings = initial.get("holdings")
    if holdings:
        lines.append(
            f"| holdings sync ({holdings['rows']} rows, all brokerage accounts) | {holdings['seconds']:.2f} "
            f"| | | {holdings['queries']} | | |"
        )
    lines.append("")
    if naive:
        lines.append(
            f"- FinSync initial vs naive: **{naive['seconds'] / initial['seconds']:.1f}x faster** (target >= 30x)"
        )
    if floor:
        lines.append(
            f"- FinSync initial vs raw floor: **{initial['seconds'] / floor['seconds']:.2f}x the floor's time** "
            "(target <= 2.5x)"
        )
    lines += [
        f"- unchanged re-sync vs initial: **{initial['seconds'] / unchanged['seconds']:.1f}x faster** "
        f"(target >= 5x), rows written: {unchanged['counts']['created'] + unchanged['counts']['updated']}",
        f"- changed re-sync vs initial: {initial['seconds'] / changed['seconds']:.1f}x faster",
    ]
    if floor:
        lines += [
            f"- applying only (inside the data transaction): initial {initial['apply_seconds']:.2f} s vs floor "
            f"{floor['seconds']:.2f} s ({initial['apply_seconds'] / floor['seconds']:.2f}x); unchanged "
            f"{unchanged['apply_seconds']:.2f} s "
            f"({initial['apply_seconds'] / max(unchanged['apply_seconds'], 1e-9):.1f}x faster than the initial apply)",
            f"- unchanged re-sync vs raw floor's unchanged pass: {unchanged['seconds'] / floor['again_seconds']:.2f}x",
        ]
    lines.append("")
    return lines


def _fmt_counts(counts: dict) -> str:
    return " ".join(f"{k} {v:,}" for k, v in counts.items() if v) or "no rows sent"


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--accounts", type=int, default=10, help="accounts served by the fake (default 10)")
    parser.add_argument("--per-account", type=int, default=10_000, help="transactions per account (default 10,000)")
    parser.add_argument("--databases", default="postgres,sqlite", help="comma-separated: postgres, sqlite")
    parser.add_argument(
        "--providers", default="simplefin,plaid", help="comma-separated: simplefin, plaid (default both)"
    )
    parser.add_argument("--no-baselines", action="store_true", help="skip the naive and raw-floor baselines")
    parser.add_argument(
        "--postgres-url",
        help="a database URL on the PostgreSQL server to use (default: scripts/start-postgres.sh)",
    )
    parser.add_argument("--naive-sample", type=int, default=2000, help="rows the naive path really writes")
    parser.add_argument(
        "--repeats", type=int, default=3, help="runs of each scenario but the naive one; the best counts"
    )
    parser.add_argument("--quick", action="store_true", help="3 x 2,000 rows, no repeats: a smoke run")
    parser.add_argument("--results", default=str(RESULTS), help="where to write the table ('' for nowhere)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--db", help=argparse.SUPPRESS)
    parser.add_argument("--server", help=argparse.SUPPRESS)
    parser.add_argument("--provider", default="simplefin", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        args.scenario = args.child
        print(json.dumps(child(args)))
        return
    args.providers = [p.strip() for p in args.providers.split(",") if p.strip()]
    unknown = set(args.providers) - set(PROVIDERS)
    if unknown or not args.providers:
        parser.error(f"--providers: choose among {', '.join(PROVIDERS)}")
    if args.postgres_url:
        os.environ["FINSYNC_BENCH_POSTGRES_URL"] = args.postgres_url
    # The benchmark's own throwaway databases need no deployment's key; its processes share this one.
    os.environ.setdefault("SECRET_KEY", secrets.token_urlsafe(50))
    if args.quick:
        args.accounts, args.per_account, args.naive_sample = 3, 2000, 300
    results = [bench_database(args, vendor.strip()) for vendor in args.databases.split(",") if vendor.strip()]
    text = report(args, results)
    print(text)
    if args.results:
        Path(args.results).write_text(text)


if __name__ == "__main__":
    main()
