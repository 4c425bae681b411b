"""Benchmark: a county's daily plan (issue 3) — every village of 水城区 (520204) and
盘州市 (520281) as a station, a realistic day's load, the county's fleet.

    .venv/bin/python bench/county_plan.py [--time-limit 30] [--workers 2] [--day 2026-11-03]

The village points are the platform's station coordinates (real where the data has
them, else the deterministic synthetic points of ``network.services.station_coordinates``,
exactly what the demo's stations get), computed from the region tree of 贵州省 imported
from data/cn into a scratch SQLite database (kept in var/ between runs). The load is
``logistics.plan_load.station_loads`` (≈1.6 parcels per village a day, shipments up in
harvest months, a few returns); the fleet follows the demo's rule (one van per ~45
stations, 2-4 vans of 800-1500 kg / 120-200 pieces, 07:30-18:30), and when the county's
load needs more, vans are added until the plan serves every station. Distances:
great-circle × 1.4 at 35 km/h (the county defaults). The same problem goes to the
nearest-neighbour baseline. Both are verified by the independent checker.
Target: feasible in ≤ 30 s with ≥ 25 % fewer km than the baseline.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cunzhan.config.settings")
os.environ.setdefault("DEBUG", "1")
os.environ.setdefault("DATABASE_URL", f"sqlite:///{ROOT / 'var' / 'bench-county-plan.sqlite3'}")
(ROOT / "var").mkdir(exist_ok=True)

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402

from cunzhan.logistics import plans  # noqa: E402
from cunzhan.logistics.models import Parcel, Shipment, Vehicle  # noqa: E402
from cunzhan.logistics.plan_demo import VANS  # noqa: E402
from cunzhan.logistics.plan_load import station_loads  # noqa: E402
from cunzhan.logistics.planning.baseline import nearest_neighbour  # noqa: E402
from cunzhan.logistics.planning.checker import check  # noqa: E402
from cunzhan.logistics.planning.distances import HaversineProvider  # noqa: E402
from cunzhan.logistics.planning.solver import solve  # noqa: E402
from cunzhan.network.models import Kind, Level, Region, Station, StationKind  # noqa: E402
from cunzhan.network.regions_import import regions_import  # noqa: E402
from cunzhan.network.services import station_coordinates  # noqa: E402

COUNTIES = ("520204", "520281")


def stations_of(county: Region) -> tuple[Station, list[Station]]:
    lon, lat, _ = station_coordinates(region=county) or (None, None, True)
    centre = Station(
        code=f"ZS-{county.code}-01",
        name=f"{county.name}县级服务中心",
        kind=StationKind.COUNTY_CENTRE,
        region=county,
        status="active",
        longitude=lon,
        latitude=lat,
    )
    out = []
    villages = Region.objects.filter(
        code__startswith=county.code, level=Level.VILLAGE, kind=Kind.VILLAGE, withdrawn_in=""
    ).order_by("code")
    for v in villages:
        point = station_coordinates(region=v)
        if point is None:
            continue
        out.append(
            Station(
                code=f"ZS-{v.code}-01",
                name=v.name,
                kind=StationKind.VILLAGE_STATION,
                region=v,
                status="active",
                longitude=point[0],
                latitude=point[1],
                opens_at=dt.time(8),
                closes_at=dt.time(20),
                open_days="1234567",
            )
        )
    return centre, out


def fleet(county: Region, centre: Station, n: int) -> list[Vehicle]:
    vans = []
    for i in range(n):
        _name, plate, kg, pieces, fixed, per_km = VANS[i % len(VANS)]
        vans.append(
            Vehicle(
                county=county,
                depot=centre,
                name=f"{i + 1}号车",
                plate=plate,
                capacity_kg=kg,
                capacity_pieces=pieces,
                shift_start=dt.time(7, 30),
                shift_end=dt.time(18, 30),
                fixed_cost_fen=fixed,
                cost_per_km_fen=per_km,
            )
        )
    return vans


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--time-limit", type=float, default=30.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--day", default="2026-11-03")
    args = parser.parse_args()
    day = dt.date.fromisoformat(args.day)
    call_command("migrate", verbosity=0)
    if not Region.objects.filter(code="520281").exists():
        print("importing the region tree of 贵州省 (52) …", flush=True)
        regions_import(provinces=["52"], data_dir=settings.DATA_DIR, progress=False)
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    )
    print(f"day {day}, time limit {args.time_limit:g} s, {args.workers} workers\n")
    print(
        "| county | stations | with load | parcels | pickups | vans | ours: served | ours: km "
        "| ours: s | feasible | baseline: km | baseline: vans | baseline feasible | km saved |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---|---:|")
    for code in COUNTIES:
        county = Region.objects.get(code=code)
        centre, stations = stations_of(county)
        day_loads = station_loads([s.code for s in stations], day)
        loads: dict[int, plans._Load] = {}
        for i, (st, ld) in enumerate(zip(stations, day_loads, strict=True)):
            if not (ld.drop_pieces or ld.pickup_pieces):
                continue
            item = plans._Load(station=st)
            item.drops = [Parcel(weight_g=g) for g in ld.parcels_g]
            item.returns = [Parcel(weight_g=g) for g in ld.returns_g]
            item.shipments = [Shipment(pieces=p, weight_g=w) for p, w in ld.shipments]
            loads[i] = item
        provider = HaversineProvider(circuity=1.4, speed_kmh=35)
        n = min(4, max(2, -(-len(stations) // 45)))
        while True:
            vans = fleet(county, centre, n)
            built = plans.build_problem(
                county=county,
                day=day,
                cutoff=plans.local_dt(day, 7 * 3600),
                vehicles=vans,
                loads=loads,
                provider=provider,
            )
            problem = built.problem
            started = time.perf_counter()
            ours = solve(problem, time_limit=args.time_limit, workers=args.workers, wall_clock=True)
            seconds = time.perf_counter() - started
            served = sum(len(r.clients) for r in ours.routes)
            if served == len(problem.clients) or n >= 12:
                break
            print(f"  {county.name}: {n} vans serve {served}/{len(problem.clients)}; adding one")
            n += 1
        ours_check = check(problem, [(r.vehicle_type, r.clients) for r in ours.routes])
        base = nearest_neighbour(problem)
        base_routes = [r for r in base.routes if r.clients]
        base_km = base.check.distance / 1000
        ours_km = ours_check.distance / 1000
        parcels = sum(ld.drop_pieces for ld in day_loads)
        pickups = sum(ld.pickup_pieces for ld in day_loads)
        saved = 1 - ours_km / base_km if base_km else 0.0
        print(
            f"| {county.name} {code} | {len(stations)} | {len(problem.clients)} | {parcels} "
            f"| {pickups} | {n} | {served}/{len(problem.clients)} | {ours_km:.1f} | {seconds:.1f} "
            f"| {'yes' if ours_check.feasible else 'NO'} | {base_km:.1f} | {len(base_routes)} "
            f"| {'yes' if base.check.feasible else 'no'} | {saved:.1%} |",
            flush=True,
        )
        if not ours_check.feasible:
            print("   violations:", ours_check.violations[:5])
        if not base.check.feasible:
            print("   baseline:", base.check.violations[:3])


if __name__ == "__main__":
    main()
