"""Benchmark: settle one county's month in the ledger (issue 4) — 100,000 sales (each a
payment and its settlement: 200,000 transactions, 700,000 lines) and 200,000 parcel fees
owed to the county's 200 village stations.

    nice .venv/bin/python bench/ledger_settle.py                      # SQLite (var/)
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/cunzhan_ledger \\
        nice .venv/bin/python bench/ledger_settle.py                  # PostgreSQL

The database is emptied and migrated first. Set-up (regions, stations, parcels and their
owed ``StationFee`` rows, written with ``bulk_create``) is not timed. Timed: the sales
through ``ledger.bulk.sales_post_bulk`` in calls of 10,000 rows (same rules and checks as
the per-call services), then ``ledger.services.station_fees_post`` for the county (all
200,000 fees: one transaction per station, the fees marked posted). Then the books are
checked: every transaction balances, all balances sum to zero, every cached balance
equals the sum of its lines. Peak memory is the process's maximum resident set size.
Targets: ≤ 60 s and ≤ 1 GiB.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import random
import resource
import sys
import time
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cunzhan.config.settings")
os.environ.setdefault("DEBUG", "1")
SQLITE_PATH = ROOT / "var" / "bench-ledger.sqlite3"
if "DATABASE_URL" not in os.environ:
    (ROOT / "var").mkdir(exist_ok=True)
    SQLITE_PATH.unlink(missing_ok=True)
    os.environ["DATABASE_URL"] = f"sqlite:///{SQLITE_PATH}"

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.db.models import Count, Sum  # noqa: E402

from cunzhan.ledger import bulk, services  # noqa: E402
from cunzhan.ledger.models import Account, Line, Transaction  # noqa: E402
from cunzhan.logistics.models import Carrier, Parcel, StationFee  # noqa: E402
from cunzhan.network.models import Kind, Level, Region, Station, StationKind  # noqa: E402

CHINA = ZoneInfo("Asia/Shanghai")
COUNTY = "520204"
TOWNSHIP = "520204106"


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def set_up(stations_n: int, fees_n: int) -> list[Station]:
    if connection.vendor == "postgresql":
        call_command("migrate", verbosity=0)
        call_command("flush", interactive=False, verbosity=0)
    else:
        call_command("migrate", verbosity=0)
    Region.objects.bulk_create(
        [
            Region(code="52", name="贵州省", level=Level.PROVINCE, kind=Kind.PROVINCE),
            Region(
                code="5202",
                name="六盘水市",
                level=Level.PREFECTURE,
                kind=Kind.PREFECTURE,
                parent_id="52",
            ),
            Region(
                code=COUNTY, name="水城区", level=Level.COUNTY, kind=Kind.DISTRICT, parent_id="5202"
            ),
            Region(
                code=TOWNSHIP, name="玉舍镇", level=Level.TOWNSHIP, kind=Kind.TOWN, parent_id=COUNTY
            ),
        ]
    )
    villages = [f"{TOWNSHIP}{i:03d}" for i in range(1, stations_n + 1)]
    Region.objects.bulk_create(
        Region(
            code=v, name=f"村{v[-3:]}", level=Level.VILLAGE, kind=Kind.VILLAGE, parent_id=TOWNSHIP
        )
        for v in villages
    )
    Station.objects.bulk_create(
        Station(
            code=f"ST{v}",
            name=f"村级服务站 {v[-3:]}",
            kind=StationKind.VILLAGE_STATION,
            region_id=v,
            status="active",
        )
        for v in villages
    )
    stations = list(Station.objects.order_by("pk"))
    carrier, _ = Carrier.objects.get_or_create(code="ZTO", defaults={"name": "中通"})
    t0 = dt.datetime(2026, 11, 1, 9, tzinfo=CHINA)
    for start in range(0, fees_n, 20_000):
        batch = range(start, min(fees_n, start + 20_000))
        Parcel.objects.bulk_create(
            (
                Parcel(
                    carrier=carrier,
                    tracking_number=f"ZTO{i:09d}",
                    recipient_name="收件人",
                    recipient_phone="13800000000",
                    phone_last4="0000",
                    village_id=stations[i % len(stations)].region_id,
                    station=stations[i % len(stations)],
                    weight_g=800,
                    state="picked_up",
                )
                for i in batch
            ),
            batch_size=5000,
        )
        ids = list(
            Parcel.objects.filter(tracking_number__gte=f"ZTO{start:09d}")
            .order_by("tracking_number")
            .values_list("pk", "station_id")[: len(batch)]
        )
        StationFee.objects.bulk_create(
            (
                StationFee(
                    station_id=station_id,
                    direction="down",
                    parcel_id=pk,
                    amount_fen=50,
                    earned_at=t0 + dt.timedelta(minutes=(n * 7) % 40_000),
                    month="2026-11",
                )
                for n, (pk, station_id) in enumerate(ids)
            ),
            batch_size=5000,
        )
    return stations


def sales_rows(stations: list[Station], n: int, seed: int) -> list[bulk.SaleRow]:
    rng = random.Random(seed)
    t0 = dt.datetime(2026, 11, 1, 8, tzinfo=CHINA)
    rows = []
    for i in range(n):
        s = stations[rng.randrange(len(stations))]
        producer = rng.randrange(2_000)
        rows.append(
            bulk.SaleRow(
                payment_key=f"order-{i:06d}:pay",
                sale_key=f"order-{i:06d}:sale",
                buyer_key=f"buyer:{rng.randrange(20_000)}",
                buyer_label="买家",
                producer_key=f"producer:{producer}" if producer % 10 else f"cooperative:{producer}",
                producer_label=f"农户 {producer}",
                station=s,
                gross_fen=rng.randrange(500, 50_000),
                occurred_at=t0 + dt.timedelta(seconds=i * 25),
            )
        )
    return rows


def check_books() -> dict[str, int]:
    unbalanced = (
        Line.objects.values("transaction_id").annotate(s=Sum("amount_fen")).exclude(s=0).count()
    )
    total = Account.objects.aggregate(s=Sum("balance_fen"))["s"] or 0
    sums = dict(
        Line.objects.values("account_id")
        .annotate(s=Sum("amount_fen"))
        .values_list("account_id", "s")
    )
    cache_wrong = sum(
        1 for pk, bal in Account.objects.values_list("pk", "balance_fen") if sums.get(pk, 0) != bal
    )
    assert unbalanced == 0 and total == 0 and cache_wrong == 0, (unbalanced, total, cache_wrong)
    return {
        "transactions": Transaction.objects.count(),
        "lines": Line.objects.count(),
        "accounts": Account.objects.count(),
        "fees_owed": StationFee.objects.filter(status="owed").count(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sales", type=int, default=100_000)
    parser.add_argument("--fees", type=int, default=200_000)
    parser.add_argument("--stations", type=int, default=200)
    parser.add_argument("--chunk", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=4)
    args = parser.parse_args()

    t = time.perf_counter()
    stations = set_up(args.stations, args.fees)
    rows = sales_rows(stations, args.sales, args.seed)
    setup_s = time.perf_counter() - t
    rss_setup = peak_mib()

    t0 = time.perf_counter()
    cpu0 = time.process_time()
    posted = 0
    for start in range(0, len(rows), args.chunk):
        posted += bulk.sales_post_bulk(
            county=COUNTY, sales=rows[start : start + args.chunk]
        ).transactions
    t_sales = time.perf_counter() - t0
    t1 = time.perf_counter()
    fees = services.station_fees_post(county=COUNTY)
    t_fees = time.perf_counter() - t1
    total = time.perf_counter() - t0
    cpu = time.process_time() - cpu0
    rss = peak_mib()
    load = os.getloadavg()[0]

    figures = check_books()
    by_kind = dict(
        Transaction.objects.values("kind").annotate(n=Count("pk")).values_list("kind", "n")
    )
    owed = -(
        Account.objects.filter(kind__in=["producer", "cooperative", "station"]).aggregate(
            s=Sum("balance_fen")
        )["s"]
        or 0
    )
    assert posted == 2 * args.sales and fees.fees == args.fees, (posted, fees)
    py = platform.python_version()
    print(f"database        : {connection.vendor} ({connection.settings_dict['NAME']})")
    print(f"machine         : {platform.platform()} · {os.cpu_count()} cpu · Python {py}")
    print(f"set-up (untimed): {setup_s:.1f} s, peak RSS {rss_setup:.0f} MiB")
    print(f"sales           : {args.sales} → {posted} transactions in {t_sales:.1f} s")
    print(
        f"station fees    : {fees.fees} fees → {fees.transactions} transactions, "
        f"{fees.fen} fen in {t_fees:.1f} s"
    )
    print(f"total           : {total:.1f} s (target ≤ 60 s), peak RSS {rss:.0f} MiB (≤ 1024)")
    print(f"this process    : {cpu:.1f} s of CPU; load average {load:.1f} on {os.cpu_count()} cpu")
    print(f"books           : {figures} {by_kind}")
    print(f"owed            : {owed} fen to producers, cooperatives and stations")


if __name__ == "__main__":
    main()
