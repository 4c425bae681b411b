"""Benchmark: whole-country region import (five levels, ~665k rows) on SQLite and PostgreSQL.

    .venv/bin/python bench/regions_import.py [--pg-url postgres://postgres@127.0.0.1:5432/cunzhan_bench]

For each database: a fresh database (SQLite file in a temporary folder; the
PostgreSQL database is created and dropped by this script), ``cunzhan migrate``
(not timed), then ``cunzhan regions import --all`` twice in its own process: the
first run loads everything, the second shows the idempotent re-run. Each run
is timed by wall clock; its peak memory is the child's ``ru_maxrss`` (from
``os.wait4``, i.e. the child's own resource usage, not the benchmark's).
Targets (issue 2): <= 60 s and <= 1 GiB per run on a 2-core machine.
Results go to ``docs/benchmarks.md`` by hand.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[1]
CUNZHAN = [sys.executable, "-m", "cunzhan"]
TARGET_SECONDS = 60
TARGET_BYTES = 1024**3


def run(cmd: list[str], env: dict[str, str]) -> dict:
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    # read the pipes before waiting, so a chatty child cannot block
    out, err = proc.stdout.read(), proc.stderr.read()  # type: ignore[union-attr]
    _pid, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        sys.stderr.write(err.decode(errors="replace"))
        raise SystemExit(f"failed: {' '.join(cmd)} (exit {proc.returncode})")
    return {
        "seconds": seconds,
        "max_rss_bytes": usage.ru_maxrss * 1024,  # Linux reports KiB
        "stdout": out.decode(),
    }


def report_counts(stdout: str) -> dict:
    m = re.search(
        r"(\d+) rows in ([\d.]+) s; created (\d+), updated (\d+), unchanged (\d+), withdrawn (\d+)",
        stdout,
    )
    if not m:
        raise SystemExit(f"cannot read the import report from: {stdout!r}")
    rows, inner, created, updated, unchanged, withdrawn = m.groups()
    return {
        "rows": int(rows),
        "import_seconds": float(inner),
        "created": int(created),
        "updated": int(updated),
        "unchanged": int(unchanged),
        "withdrawn": int(withdrawn),
    }


def bench_database(label: str, url: str, env: dict[str, str]) -> list[dict]:
    env = {**env, "DATABASE_URL": url}
    run([*CUNZHAN, "migrate", "-v0"], env)
    results = []
    for attempt in ("first run", "second run (idempotent)"):
        r = run([*CUNZHAN, "regions", "import", "--all", "--no-progress"], env)
        counts = report_counts(r["stdout"])
        results.append(
            {
                "database": label,
                "run": attempt,
                "wall_seconds": round(r["seconds"], 2),
                "rows_per_second": round(counts["rows"] / r["seconds"]),
                "peak_rss_mib": round(r["max_rss_bytes"] / 1024**2, 1),
                **counts,
            }
        )
        print(json.dumps(results[-1], ensure_ascii=False), flush=True)
    return results


def pg_admin(url: str, sql: str) -> None:
    import psycopg

    parts = urlsplit(url)
    admin = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql)


def versions(pg_url: str | None) -> dict[str, str]:
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = "?"
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem = f"{int(line.split()[1]) / 1024**2:.1f} GiB"
    except OSError:
        pass
    info = {
        "date": time.strftime("%Y-%m-%d %H:%M %Z"),
        "nproc": str(os.cpu_count()),
        "cpu": cpu,
        "ram": mem,
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "os": platform.platform(),
    }
    if pg_url:
        import psycopg

        with psycopg.connect(pg_url) as conn:
            row = conn.execute("SHOW server_version").fetchone()
            info["postgresql"] = row[0] if row else "?"
    return info


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pg-url", default="postgres://postgres@127.0.0.1:5432/cunzhan_bench")
    parser.add_argument("--skip-sqlite", action="store_true")
    parser.add_argument("--skip-postgres", action="store_true")
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    args = parser.parse_args()

    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env.setdefault("CUNZHAN_TESTING", "1")  # dev secrets; no effect on the import
    env["PYTHONPATH"] = str(ROOT / "src") + os.pathsep + env.get("PYTHONPATH", "")
    results: list[dict] = []

    if not args.skip_sqlite:
        folder = Path(tempfile.mkdtemp(prefix="cunzhan-bench-"))
        try:
            results += bench_database("SQLite", f"sqlite:///{folder / 'bench.sqlite3'}", env)
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    pg_url = None if args.skip_postgres else args.pg_url
    if pg_url:
        name = urlsplit(pg_url).path.lstrip("/")
        if not re.fullmatch(r"[a-z_][a-z0-9_]*", name):
            raise SystemExit(f"refusing database name {name!r}")
        pg_admin(pg_url, f'DROP DATABASE IF EXISTS "{name}"')
        pg_admin(pg_url, f'CREATE DATABASE "{name}"')
        try:
            results += bench_database("PostgreSQL", pg_url, env)
            info = versions(pg_url)
        finally:
            pg_admin(pg_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    else:
        info = versions(None)

    print()
    print("| " + " | ".join(f"{k}: {v}" for k, v in info.items()) + " |")
    print()
    print("| database | run | rows | wall s | rows/s | peak RSS MiB | created | unchanged |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    ok = True
    for r in results:
        print(
            f"| {r['database']} | {r['run']} | {r['rows']:,} | {r['wall_seconds']} | "
            f"{r['rows_per_second']:,} | {r['peak_rss_mib']} | {r['created']:,} | "
            f"{r['unchanged']:,} |"
        )
        ok &= r["wall_seconds"] <= TARGET_SECONDS
        ok &= r["peak_rss_mib"] * 1024**2 <= TARGET_BYTES
    print()
    print("targets (<= 60 s, <= 1 GiB):", "met" if ok else "MISSED")
    if args.json:
        args.json.write_text(json.dumps({"machine": info, "results": results}, indent=2))
    if not ok:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
