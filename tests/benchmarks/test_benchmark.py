"""The benchmark script still runs: a quick pass (3 x 2,000 rows, both providers, SQLite) prints every ratio."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
@pytest.mark.skipif(connection.vendor != "sqlite", reason="the script makes its own databases: run it once per suite")
def test_quick_benchmark_prints_the_table_and_ratios(tmp_path):
    results = tmp_path / "RESULTS.md"
    done = subprocess.run(
        [sys.executable, "benchmarks/sync_bench.py", "--quick", "--databases", "sqlite", "--results", str(results)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    for provider in ("SimpleFIN", "Plaid"):
        assert f"## sqlite, {provider}" in done.stdout
    for line in ("FinSync initial vs naive", "FinSync initial vs raw floor", "unchanged re-sync vs initial"):
        assert done.stdout.count(line) == 2
    assert "rows written: 0" in done.stdout
    assert results.read_text().strip() == done.stdout.strip()  # the table it printed is the one it kept
