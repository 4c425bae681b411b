"""Benchmark (issue 5): one county × one simulated year, then its indicators and its
dashboard.

    nice .venv/bin/python bench/impact_dashboard.py                 # PostgreSQL, 365 days
    nice .venv/bin/python bench/impact_dashboard.py --sqlite        # SQLite (var/)
    nice .venv/bin/python bench/impact_dashboard.py --days 60       # a shorter history

PostgreSQL: a separate database (``createdb`` on ``--pg-server``, default
``postgres://postgres@127.0.0.1:5432``) made for the run and dropped afterwards
(``--keep`` keeps it). SQLite: ``var/bench-impact.sqlite3``, made afresh.

1. Set-up (not timed against a target): the region tree of 贵州省, the 水城区 (520204)
   stations and households of the demo (``demo_build(setup_only=True)``).
2. The simulator (``cunzhan.core.simulation.run_many``, every generator, its default
   parameters) over ``--days`` days ending yesterday: seconds, county-days per second,
   rows per domain. The generators run through the domains' services: no bulk shortcut.
3. Indicators: a full refresh of the county (``indicators_refresh(since=first day)``),
   then one more simulated day (today) and an incremental refresh (no ``since``: the
   days whose data arrived since the last refresh).
4. The county dashboard ``/impact/r/520204/`` as the county manager, through Django's
   test ``Client`` in this process (no HTTP server: the time is the view's, its queries
   and its template), ``--requests`` GETs after 5 warm-up requests, for the year view
   (``period_type=year``) and the month view (``period_type=month``): p50, p95, max,
   queries per request. Target: p95 ≤ 300 ms.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cunzhan.config.settings")
os.environ.setdefault("DEBUG", "1")

COUNTY = "520204"


def parse() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--days", type=int, default=365)
    p.add_argument("--seed", type=int, default=2018)
    p.add_argument("--requests", type=int, default=200)
    p.add_argument(
        "--param",
        action="append",
        default=[],
        help="a generator parameter NAME=VALUE for the simulated days (as `cunzhan simulate`)",
    )
    p.add_argument("--sqlite", action="store_true", help="SQLite instead of PostgreSQL")
    p.add_argument("--pg-server", default="postgres://postgres@127.0.0.1:5432")
    p.add_argument("--db-name", default=f"cz_bench_impact_{os.getpid()}")
    p.add_argument("--keep", action="store_true", help="keep the database afterwards")
    p.add_argument(
        "--refresh-only",
        action="store_true",
        help="on the kept PostgreSQL database --db-name (a simulation stopped part-way: "
        "its committed days): the refreshes and the dashboard, the next day simulated",
    )
    p.add_argument(
        "--dashboard-only",
        action="store_true",
        help="measure the dashboard on the kept PostgreSQL database --db-name (no set-up, "
        "no simulation, no refresh)",
    )
    return p.parse_args()


def pg_cmd(tool: str, name: str, server: str) -> None:
    from urllib.parse import urlparse

    u = urlparse(server)
    subprocess.run(
        [tool, "-h", u.hostname or "127.0.0.1", "-p", str(u.port or 5432), "-U",
         u.username or "postgres", name],
        check=True,
    )  # fmt: skip


def percentile(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    k = max(0, min(len(xs) - 1, round(q * (len(xs) - 1))))
    return xs[k]


def main() -> None:
    args = parse()
    if args.sqlite:
        path = ROOT / "var" / "bench-impact.sqlite3"
        path.parent.mkdir(exist_ok=True)
        path.unlink(missing_ok=True)
        os.environ["DATABASE_URL"] = f"sqlite:///{path}"
    else:
        if not (args.dashboard_only or args.refresh_only):
            pg_cmd("createdb", args.db_name, args.pg_server)
        os.environ["DATABASE_URL"] = f"{args.pg_server}/{args.db_name}"
    try:
        run(args)
    finally:
        if not args.sqlite and not args.keep and not args.dashboard_only and not args.refresh_only:
            from django.db import connections

            connections.close_all()
            pg_cmd("dropdb", args.db_name, args.pg_server)


def run(args: argparse.Namespace) -> None:
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone

    from cunzhan.core import simulation
    from cunzhan.devtools.demo import demo_build

    print(f"python {platform.python_version()}, {connection.vendor}, load {os.getloadavg()}")
    if args.dashboard_only:
        dashboard(args)
        return
    params: dict = {}
    for text in args.param:
        name, _sep, value = text.partition("=")
        try:
            params[name] = json.loads(value)
        except json.JSONDecodeError:
            params[name] = value
    print(f"parameters: {params or 'the generators defaults'}")
    if args.refresh_only:
        from zoneinfo import ZoneInfo

        from cunzhan.logistics.models import ScanEvent

        china = ZoneInfo("Asia/Shanghai")
        first = ScanEvent.objects.order_by("occurred_at").first()
        last = ScanEvent.objects.filter(type="received_at_county").order_by("-occurred_at")
        assert first is not None and last.exists(), "no simulated data in this database"
        start = first.occurred_at.astimezone(china).date()
        next_day = last[0].occurred_at.astimezone(china).date() + dt.timedelta(days=1)
        print(f"simulated days found: {start} .. {next_day - dt.timedelta(days=1)}")
        refresh(args, params, start, next_day, timezone.localdate())
        return
    t0 = time.perf_counter()
    call_command("migrate", verbosity=0)
    today = timezone.localdate()
    start = today - dt.timedelta(days=args.days)
    demo_build(
        seed=args.seed,
        only_counties=[COUNTY],
        setup_only=True,
        households_day=start,
        echo=lambda _m: None,
    )
    print(f"set-up (migrate, regions, stations, households): {time.perf_counter() - t0:.1f} s")

    summary = simulation.run_many(
        seed=args.seed,
        county_codes=[COUNTY],
        start=start,
        days=args.days,
        params={
            **params,
            "until": f"{(today - dt.timedelta(days=1)).isoformat()}T23:59:59+08:00",
        },
        progress=sys.stderr.isatty(),
    )
    rate = summary.county_days / summary.seconds
    print(
        f"simulated {summary.county_days} days ({start} .. {today - dt.timedelta(days=1)}) "
        f"in {summary.seconds:.1f} s: {rate:.3f} county-days/s, "
        f"{summary.seconds / summary.county_days:.2f} s per day; load {os.getloadavg()}"
    )
    print(f"  rows: {summary.by_domain()}")
    print(f"  {dict(sorted(summary.rows.items()))}")
    print(
        "  seconds per generator: "
        + ", ".join(f"{k} {v:.0f}" for k, v in summary.generator_seconds.items())
    )

    refresh(args, params, start, today, today)


def refresh(
    args: argparse.Namespace, params: dict, start: dt.date, next_day: dt.date, today: dt.date
) -> None:
    """The full refresh since ``start``, then ``next_day`` simulated and the incremental
    refresh, then the dashboard."""
    from cunzhan.core import simulation
    from cunzhan.impact.models import IndicatorValue
    from cunzhan.impact.services import indicators_refresh

    t = time.perf_counter()
    full = indicators_refresh(county_code=COUNTY, since=start, today=today)
    full_s = time.perf_counter() - t
    print(
        f"full refresh ({start} .. {today}): {full_s:.1f} s, {full.cells_written} cells "
        f"written ({IndicatorValue.objects.count()} stored); load {os.getloadavg()}"
    )
    more = simulation.run_many(
        seed=args.seed,
        county_codes=[COUNTY],
        start=next_day,
        days=1,
        params={**params, "until": f"{next_day.isoformat()}T23:59:59+08:00"},
        count_rows=False,
    )
    t = time.perf_counter()
    inc = indicators_refresh(county_code=COUNTY, today=today)
    inc_s = time.perf_counter() - t
    print(
        f"one more day ({next_day}) simulated in {more.seconds:.1f} s; incremental refresh: "
        f"{inc_s:.2f} s, {inc.cells_written} cells written, periods {sum(inc.periods.values())}"
    )
    dashboard(args)


def dashboard(args: argparse.Namespace) -> None:
    # as Django's test runner does: no reconnect per request, and keep the query log
    from django.core.signals import request_finished, request_started
    from django.db import close_old_connections, connection, reset_queries
    from django.test import Client

    from cunzhan.accounts.models import User

    request_started.disconnect(reset_queries)
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    user = User.objects.get(username=f"manager-{COUNTY}")
    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(user)
    url = f"/impact/r/{COUNTY}/"
    results = {}
    for label, query in (("year", "?period_type=year"), ("month", "?period_type=month")):
        for _ in range(5):
            assert client.get(url + query).status_code == 200
        queries: list[str] = []

        def count(execute, sql, params, many, context, queries=queries):  # type: ignore[no-untyped-def]
            queries.append(sql)
            return execute(sql, params, many, context)

        with connection.execute_wrapper(count):
            resp = client.get(url + query)
        assert resp.status_code == 200, resp.status_code
        times, cpu = [], []
        for _ in range(args.requests):
            t, c = time.perf_counter(), time.process_time()
            r = client.get(url + query)
            times.append((time.perf_counter() - t) * 1000)
            cpu.append((time.process_time() - c) * 1000)
            assert r.status_code == 200
        results[label] = times
        print(
            f"dashboard {label} view ({url}{query}): n={len(times)} "
            f"p50 {statistics.median(times):.0f} ms, p95 {percentile(times, 0.95):.0f} ms, "
            f"max {max(times):.0f} ms; this process's CPU per request p50 "
            f"{statistics.median(cpu):.0f} ms, p95 {percentile(cpu, 0.95):.0f} ms; "
            f"{len(queries)} queries, {len(resp.content) // 1024} KiB; load {os.getloadavg()}"
        )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS {peak:.0f} MiB; load {os.getloadavg()}")


if __name__ == "__main__":
    main()
