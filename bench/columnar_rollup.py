"""Benchmark: the national rollup of parcels and sales by county and month, through
DuckDB over the Parquet snapshot, beside the same query on PostgreSQL (ADR 0021).

    nice .venv/bin/python bench/columnar_rollup.py [--counties 100] [--days 365] \\
        [--parcels-per-day 1000] [--sales-per-day 200]

What is loaded (set-up, not timed): for each of ``--counties`` synthetic counties, one
year of facts in **the fact shape the snapshot holds** (``impact.columnar``:
PARCEL_SCHEMA and SALE_SCHEMA) — ``--parcels-per-day`` parcels a day (1,000 a day and
county: the issue's 1,000,000 parcels a day over ~1,000 counties), each received on its
day, at its station the same or the next day, picked up (90 %) within 3 days, spread
over 200 villages and 8 carriers; and ``--sales-per-day`` sale rows a day. The same
rows go

* to PostgreSQL, into two plain tables ``parcel_fact`` / ``sale_fact`` of a scratch
  database (``createdb``; dropped at the end unless ``--keep``), by ``COPY`` (CSV
  written by Arrow), then ``ANALYZE``. No index: the rollup reads every row of the
  year, an index would not be used. This is the most favourable shape for PostgreSQL:
  the live rollup on the operational tables (parcels joined to their scan events,
  ``columnar.rollup_database``) does strictly more work.
* to Parquet, with the snapshot's layout (``county=…/month=…/part-0.parquet``, zstd).

Timed (each query run 3 times; the figures are the best and the median): the rollup
``columnar.rollup_columnar`` (national scope, the whole year) in a child process, whose
peak resident memory is reported; and the same two GROUP BY queries on PostgreSQL
(parallel workers as configured: the default 2). The two results are compared row by
row. Targets: DuckDB ≥ 10× faster than PostgreSQL and ≤ 5 s.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cunzhan.config.settings")
os.environ.setdefault("CUNZHAN_TESTING", "1")

PG = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432")
DB = "cz_bench_columnar"
REPEAT = 3


def _uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout.strip()


def duck_child(root: str, first: str, end: str) -> None:
    """Runs in the child process: the DuckDB rollup, REPEAT times; prints JSON."""
    import django

    django.setup()
    from cunzhan.core.scope import RegionScope
    from cunzhan.impact import columnar

    lo, hi = dt.date.fromisoformat(first), dt.date.fromisoformat(end)
    times, rows = [], []
    for _ in range(REPEAT):
        t0 = time.perf_counter()
        rows = columnar.rollup_columnar(scope=RegionScope.national(), first=lo, end=hi, root=root)
        times.append(time.perf_counter() - t0)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    peak = usage.ru_maxrss / 1024
    print(
        json.dumps(
            {
                "times": times,
                "peak_mib": peak,
                "cpu_s": usage.ru_utime + usage.ru_stime,
                "rows": [
                    [r.county_code, r.month, r.parcels, r.weight_g, r.sales_fen] for r in rows
                ],
            }
        )
    )


def generate(county: str, year: int, days: int, per_day: int, sales_per_day: int, rng):
    """One county's parcels and sales as Arrow tables (numpy, vectorised)."""
    import numpy as np
    import pyarrow as pa

    from cunzhan.impact import columnar

    base = np.datetime64(f"{year}-01-01")
    n = days * per_day
    day = base + np.repeat(np.arange(days), per_day).astype("timedelta64[D]")
    villages = np.array(
        [f"{county}{100 + t:03d}{200 + v:03d}" for t in range(10) for v in range(20)]
    )
    vi = rng.integers(0, len(villages), n)
    at = day + rng.integers(0, 2, n).astype("timedelta64[D]")
    picked = at + rng.integers(0, 4, n).astype("timedelta64[D]")
    picked_mask = rng.random(n) < 0.1  # 10 % not picked up (yet)
    carriers = np.array(["ZTO", "YTO", "STO", "YUNDA", "JT", "EMS", "JD", "SF"])
    parcels = pa.Table.from_arrays(
        [
            pa.array(np.full(n, county)),
            pa.array(villages[vi]),
            pa.array(np.char.add("ST", villages[vi])),
            pa.array(carriers[rng.integers(0, len(carriers), n)]),
            pa.array(rng.integers(100, 20_000, n), type=pa.int64()),
            pa.array(day, type=pa.date32()),
            pa.array(at, type=pa.date32()),
            pa.array(picked, type=pa.date32(), mask=picked_mask),
        ],
        schema=columnar.PARCEL_SCHEMA,
    )
    m = days * sales_per_day
    sday = base + np.repeat(np.arange(days), sales_per_day).astype("timedelta64[D]")
    qty = rng.integers(1, 20, m)
    products = np.array([f"product-{i:02d}" for i in range(20)])
    sales = pa.Table.from_arrays(
        [
            pa.array(np.full(m, county)),
            pa.array(villages[rng.integers(0, len(villages), m)]),
            pa.array(sday, type=pa.date32()),
            pa.array(qty, type=pa.int64()),
            pa.array(qty * rng.integers(500, 5_000, m), type=pa.int64()),
            pa.array(products[rng.integers(0, len(products), m)]),
        ],
        schema=columnar.SALE_SCHEMA,
    )
    return parcels, sales


def write_parquet(root: Path, table_name: str, table, county: str, day_col: str) -> None:
    """The snapshot's layout: one file per county and month (partition month = the month
    of the station day for parcels, of the sale day for sales)."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    months = pc.strftime(table[day_col], format="%Y-%m")
    for month in sorted(set(months.to_pylist())):
        part = table.filter(pc.equal(months, month))
        path = root / table_name / f"county={county}" / f"month={month}" / "part-0.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(part, path, compression="zstd", row_group_size=50_000)


def copy_csv(cur, table_name: str, table) -> None:
    import pyarrow.csv as pacsv

    buf = io.BytesIO()
    pacsv.write_csv(table, buf, pacsv.WriteOptions(include_header=False))
    buf.seek(0)
    cols = ", ".join(table.schema.names)
    with cur.copy(f"COPY {table_name} ({cols}) FROM STDIN (FORMAT csv)") as cp:
        while chunk := buf.read(1 << 20):
            cp.write(chunk)


PG_SQL = {
    "parcels": (
        "SELECT county, to_char(at_station_day, 'YYYY-MM') AS month, count(*), sum(weight_g) "
        "FROM parcel_fact WHERE at_station_day >= %s AND at_station_day < %s GROUP BY 1, 2"
    ),
    "sales": (
        "SELECT county, to_char(day, 'YYYY-MM') AS month, sum(amount_fen), sum(quantity) "
        "FROM sale_fact WHERE day >= %s AND day < %s GROUP BY 1, 2"
    ),
}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--counties", type=int, default=100)
    ap.add_argument("--days", type=int, default=365)
    ap.add_argument("--parcels-per-day", type=int, default=1000)
    ap.add_argument("--sales-per-day", type=int, default=200)
    ap.add_argument("--year", type=int, default=2025)
    ap.add_argument("--keep", action="store_true", help="keep the database and the files")
    ap.add_argument("--duck-child", nargs=3, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.duck_child:
        duck_child(*args.duck_child)
        return

    import numpy as np
    import psycopg

    from cunzhan.impact import columnar

    print(f"uptime: {_uptime()}")
    print(
        f"machine: {platform.platform()}, {os.cpu_count()} cpus, Python {platform.python_version()}"
    )
    rng = np.random.default_rng(2026)
    workdir = Path(tempfile.mkdtemp(prefix="bench-columnar-", dir=ROOT / "var"))
    subprocess.run(["dropdb", "--if-exists", "-h", "127.0.0.1", "-U", "postgres", DB], check=True)
    subprocess.run(["createdb", "-h", "127.0.0.1", "-U", "postgres", DB], check=True)
    first = dt.date(args.year, 1, 1)
    end = first + dt.timedelta(days=args.days + 5)
    end = dt.date(end.year + (end.month == 12), end.month % 12 + 1, 1)
    try:
        with psycopg.connect(f"{PG}/{DB}", autocommit=True) as conn, conn.cursor() as cur:
            cur.execute(
                "CREATE TABLE parcel_fact (county text, village text, station text, carrier text,"
                " weight_g bigint, received_day date, at_station_day date, picked_up_day date)"
            )
            cur.execute(
                "CREATE TABLE sale_fact (county text, village text, day date, quantity bigint,"
                " amount_fen bigint, product text)"
            )
            t0 = time.perf_counter()
            t_pg = t_pq = 0.0
            n_p = n_s = 0
            for i in range(args.counties):
                county = f"{52 + i // 50:02d}{(i % 50) // 10 + 1:02d}{i % 10 + 1:02d}"
                parcels, sales = generate(
                    county, args.year, args.days, args.parcels_per_day, args.sales_per_day, rng
                )
                n_p += parcels.num_rows
                n_s += sales.num_rows
                t1 = time.perf_counter()
                copy_csv(cur, "parcel_fact", parcels)
                copy_csv(cur, "sale_fact", sales)
                t2 = time.perf_counter()
                write_parquet(workdir, "parcels", parcels, county, "at_station_day")
                write_parquet(workdir, "sales", sales, county, "day")
                t3 = time.perf_counter()
                t_pg += t2 - t1
                t_pq += t3 - t2
                if (i + 1) % 10 == 0:
                    print(
                        f"  loaded {i + 1} counties ({time.perf_counter() - t0:.0f} s)", flush=True
                    )
            t1 = time.perf_counter()
            cur.execute("VACUUM ANALYZE parcel_fact")
            cur.execute("VACUUM ANALYZE sale_fact")
            t_an = time.perf_counter() - t1
            cur.execute(
                "SELECT pg_total_relation_size('parcel_fact') + pg_total_relation_size('sale_fact')"
            )
            pg_bytes = cur.fetchone()[0]
            pq_bytes = sum(f.stat().st_size for f in workdir.rglob("*.parquet"))
            print(
                f"loaded {n_p:,} parcels and {n_s:,} sales of {args.counties} counties: "
                f"PostgreSQL COPY {t_pg:.1f} s + VACUUM ANALYZE {t_an:.1f} s "
                f"({pg_bytes / 2**20:,.0f} MiB); Parquet {t_pq:.1f} s ({pq_bytes / 2**20:,.0f} MiB)"
            )
            print(f"uptime: {_uptime()}")

            # PostgreSQL
            pg_times: list[float] = []
            pg_rows: dict[tuple[str, str], list[int]] = {}
            for _ in range(REPEAT):
                t1 = time.perf_counter()
                res = {}
                for key, sql in PG_SQL.items():
                    cur.execute(sql, (first, end))
                    res[key] = cur.fetchall()
                pg_times.append(time.perf_counter() - t1)
            for county, month, n, w in res["parcels"]:
                pg_rows.setdefault((county, month), [0, 0, 0])[:2] = [int(n), int(w)]
            for county, month, fen, _units in res["sales"]:
                pg_rows.setdefault((county, month), [0, 0, 0])[2] = int(fen)
            cur.execute("SHOW max_parallel_workers_per_gather")
            workers = cur.fetchone()[0]

        # DuckDB, in a child process (its own peak memory)
        out = subprocess.run(
            [
                sys.executable,
                __file__,
                "--duck-child",
                str(workdir),
                first.isoformat(),
                end.isoformat(),
            ],
            check=True,
            capture_output=True,
            text=True,
        )
        duck = json.loads(out.stdout.strip().splitlines()[-1])
        duck_rows = {(c, m): [n, w, fen] for c, m, n, w, fen in duck["rows"]}
        same = duck_rows == pg_rows
        pg_best, pg_med = min(pg_times), statistics.median(pg_times)
        dk_best, dk_med = min(duck["times"]), statistics.median(duck["times"])
        print(f"uptime: {_uptime()}")
        print(
            f"rollup ({len(pg_rows)} county-months, results equal: {same}):\n"
            f"  PostgreSQL (max_parallel_workers_per_gather={workers}): best {pg_best:.2f} s, "
            f"median {pg_med:.2f} s  {[f'{t:.2f}' for t in pg_times]}\n"
            f"  DuckDB over Parquet: best {dk_best:.2f} s, median {dk_med:.2f} s  "
            f"{[f'{t:.2f}' for t in duck['times']]}, peak RSS {duck['peak_mib']:.0f} MiB, "
            f"CPU {duck['cpu_s']:.1f} s for the child's {REPEAT} runs and its start-up\n"
            f"  speed-up (median): {pg_med / dk_med:.1f}×"
        )
        if not same:
            raise SystemExit("the two rollups differ")
        _ = columnar  # the layout and schemas come from the snapshot module
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
            subprocess.run(["dropdb", "--if-exists", "-h", "127.0.0.1", "-U", "postgres", DB])


if __name__ == "__main__":
    main()
