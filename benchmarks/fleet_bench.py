"""Fleet benchmark: N demo connections synced by 1, 2 and 4 Procrastinate worker processes on PostgreSQL.

    .venv/bin/python benchmarks/fleet_bench.py --postgres-url postgres://postgres@127.0.0.1:54329/finsync
    .venv/bin/python benchmarks/fleet_bench.py --postgres-url URL --connections 100 --workers 1,2

For each worker count: a fresh scratch database on that server (dropped afterwards)
is migrated, N demo connections (2 accounts each, the demo's default history) are
created, `manage.py sync all --all-connections --defer` queues one job per
connection, then that many `manage.py procrastinate worker --concurrency 1`
processes (started and idle before the defer) run them. Measured from Procrastinate's own job events: connections per
minute (N over the span from the defer to the last job's end) and the queue's
latency, from a job's `deferred` event to its `started` event (median, p95, max).
Written to benchmarks/RESULTS-fleet.md with the machine's state (cores, load).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "RESULTS-fleet.md"

SETUP = """
from django.contrib.auth.models import User
from sync.services.connections import create_connection
owners = [User.objects.create_user(f"owner{{i}}") for i in range(10)]
for c in range({connections}):
    owner = owners[c % len(owners)]
    create_connection(owner=owner, provider="demo", name=f"Bank {{c}}", options={{"accounts": 2}},
                      actor=owner, source="cli")
"""


def _with_db(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", "", ""))


def _manage(env, *args, timeout=600, capture=True) -> str:
    done = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=capture, text=True, timeout=timeout
    )
    if done.returncode != 0:
        raise SystemExit(f"manage.py {' '.join(args)} failed:\n{done.stderr}")
    return done.stdout


def run_once(server_url: str, connections: int, workers: int, timeout: float) -> dict:
    name = f"finsync_fleet_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(_with_db(server_url, "postgres"), autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = _with_db(server_url, name)
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "DEBUG": "1",
        "FINSYNC_ENV_FILE": os.devnull,
        "FINSYNC_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        # Neither periodic task may add work during the measurement.
        "FINSYNC_SYNC_SCHEDULE": "0 0 1 1 *",
        "FINSYNC_STALLED_JOBS_SCHEDULE": "0 0 1 1 *",
    }
    processes: list[subprocess.Popen] = []
    try:
        _manage(env, "migrate", "-v", "0")
        _manage(env, "shell", "-v", "0", "-c", SETUP.format(connections=connections))
        load_before = os.getloadavg()[0]
        processes = [
            subprocess.Popen(
                [sys.executable, "manage.py", "procrastinate", "worker", "--concurrency", "1"],
                cwd=ROOT,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            for _ in range(workers)
        ]
        deadline = time.monotonic() + 120
        with psycopg.connect(url, autocommit=True) as db:
            # The workers are up and waiting before the defer: latency is the queue's, not start-up.
            while db.execute("SELECT count(*) FROM procrastinate_workers").fetchone()[0] < workers:
                if time.monotonic() > deadline:
                    raise SystemExit("the workers did not start")
                time.sleep(0.2)
        defer_started = datetime.now(UTC)
        _manage(env, "sync", "all", "--all-connections", "--defer", "--format", "json")
        deadline = time.monotonic() + timeout
        with psycopg.connect(url, autocommit=True) as db:
            while True:
                left = db.execute(
                    "SELECT count(*) FROM procrastinate_jobs "
                    "WHERE task_name = 'finsync.sync_connection' AND status IN ('todo', 'doing')"
                ).fetchone()[0]
                if not left:
                    break
                if time.monotonic() > deadline:
                    raise SystemExit(f"{left} jobs still queued after {timeout}s with {workers} workers")
                time.sleep(0.5)
            load_after = os.getloadavg()[0]
            rows = db.execute(
                """
                SELECT j.status,
                       max(e.at) FILTER (WHERE e.type = 'deferred'),
                       min(e.at) FILTER (WHERE e.type = 'started'),
                       max(e.at) FILTER (WHERE e.type IN ('succeeded', 'failed'))
                FROM procrastinate_jobs j JOIN procrastinate_events e ON e.job_id = j.id
                WHERE j.task_name = 'finsync.sync_connection' GROUP BY j.id, j.status
                """
            ).fetchall()
            runs = db.execute("SELECT status, count(*) FROM sync_syncrun GROUP BY status").fetchall()
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=30)
        with psycopg.connect(_with_db(server_url, "postgres"), autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    latencies = sorted((started - deferred).total_seconds() for _, deferred, started, _ in rows)
    span = (max(end for *_, end in rows) - defer_started).total_seconds()
    return {
        "workers": workers,
        "jobs": len(rows),
        "failed_jobs": sum(status != "succeeded" for status, *_ in rows),
        "runs": dict(runs),
        "span": span,
        "per_minute": len(rows) / span * 60,
        "latency_p50": statistics.median(latencies),
        "latency_p95": latencies[int(0.95 * (len(latencies) - 1))],
        "latency_max": latencies[-1],
        "load": (load_before, load_after),
    }


def write(results: list[dict], connections: int) -> str:
    base = results[0]["per_minute"]
    lines = [
        "# Fleet benchmark",
        "",
        f"`benchmarks/fleet_bench.py`: {connections} demo connections (2 accounts each), `sync all` per connection,",
        "queued by `sync all --all-connections --defer` and run by N `procrastinate worker --concurrency 1`",
        "processes on PostgreSQL 15 (the throwaway server of scripts/start-postgres.sh).",
        f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {os.cpu_count()} cores"
        " shared with other work: figures are noisy, compare within one run.",
        "",
        "| workers | jobs | failed | connections/min | vs 1 worker | queue latency p50 / p95 / max (s) "
        "| load before / after |",
        "|---:|---:|---:|---:|---:|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {r['workers']} | {r['jobs']} | {r['failed_jobs']} | {r['per_minute']:.0f} | "
            f"{r['per_minute'] / base:.2f}x | "
            f"{r['latency_p50']:.1f} / {r['latency_p95']:.1f} / {r['latency_max']:.1f} | "
            f"{r['load'][0]:.1f} / {r['load'][1]:.1f} |"
        )
    lines += [
        "",
        "Queue latency is the wait from a job's `deferred` event to its `started` event: with every connection",
        "queued at once (workers already waiting) it is the backlog ahead of the job, so it falls as workers are",
        "added; an idle queue starts a job within the workers' polling interval.",
        "Sync runs (all runs): " + ", ".join(f"{r['workers']} workers {r['runs']}" for r in results) + ".",
        "",
    ]
    text = "\n".join(lines)
    RESULTS.write_text(text)
    return text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--postgres-url", required=True, help="any database URL on the PostgreSQL server to use")
    parser.add_argument("--connections", type=int, default=500)
    parser.add_argument("--workers", default="1,2,4", help="comma-separated worker counts (default 1,2,4)")
    parser.add_argument("--timeout", type=float, default=900, help="seconds one worker count may take")
    args = parser.parse_args()
    results = []
    for count in [int(n) for n in args.workers.split(",")]:
        result = run_once(args.postgres_url, args.connections, count, args.timeout)
        print(f"{count} workers: {result['per_minute']:.0f} connections/min, span {result['span']:.1f}s", flush=True)
        results.append(result)
    print(write(results, args.connections))


if __name__ == "__main__":
    main()
