"""The demo's daily plan: vans for a county centre, a day's load when the county has
none (:func:`demo_load_create`, the one function to switch to the simulator's
generators), and today's plan built with a short time limit."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from typing import Any

from django.utils import timezone

from cunzhan.accounts.models import User
from cunzhan.core.errors import ApplicationError
from cunzhan.core.scope import RegionScope
from cunzhan.logistics import services
from cunzhan.logistics import statemachine as sm
from cunzhan.logistics.models import Shipment, ShipmentState
from cunzhan.logistics.plan_load import station_loads
from cunzhan.logistics.plan_models import DailyPlan, Vehicle
from cunzhan.logistics.plans import (
    cutoff_at,
    loads_at_cutoff,
    local_dt,
    plan_build,
    vehicle_create,
)
from cunzhan.network.models import Region, Station, StationKind, StationStatus
from cunzhan.registry.simulation import person_name

__all__ = ["demo_fleet", "demo_load_create", "plan_demo"]

NATIONAL = RegionScope.national()
# (name, plate suffix, kg, pieces, fixed cost fen per day, fen per km)
VANS = [
    ("1号车", "A1", 1500, 200, 12_000, 180),
    ("2号车", "A2", 1200, 180, 10_000, 160),
    ("3号车", "A3", 1000, 150, 9_000, 150),
    ("4号车", "A4", 800, 120, 8_000, 140),
]


def _village_stations(county_code: str) -> list[Station]:
    return list(
        Station.objects.filter(
            RegionScope.for_regions([county_code]).q("region_id"),
            kind=StationKind.VILLAGE_STATION,
            status=StationStatus.ACTIVE,
        ).order_by("code")
    )


def demo_fleet(*, county_code: str) -> list[Vehicle]:
    """2-4 vans (one per ~45 active village stations) at the county centre, shifts
    07:30-18:30; the county's demo driver drives the first. Idempotent."""
    existing = list(Vehicle.objects.filter(county_id=county_code))
    if existing:
        return existing
    n = min(4, max(2, math.ceil(len(_village_stations(county_code)) / 45)))
    driver = User.objects.filter(username=f"driver-{county_code}").first()
    out = []
    for i, (name, plate, kg, pieces, fixed, per_km) in enumerate(VANS[:n]):
        out.append(
            vehicle_create(
                scope=NATIONAL,
                county_code=county_code,
                name=name,
                plate=f"贵B·{county_code[-3:]}{plate}",
                capacity_kg=kg,
                capacity_pieces=pieces,
                shift_start="07:30",
                shift_end="18:30",
                fixed_cost_fen=fixed,
                cost_per_km_fen=per_km,
                driver_id=driver.pk if (driver and i == 0) else None,
            )
        )
    return out


def demo_load_create(*, county_code: str, day: dt.date, seed: int = 2018) -> dict[str, int]:
    """A realistic day's load for the county's village stations (plan_load.station_loads):
    parcels announced and sorted at the centre before the cut-off, shipments booked,
    a few refused parcels waiting to go back. Through the services (scan events)."""
    import random

    stations = _village_stations(county_code)
    loads = station_loads([s.code for s in stations], day, seed=seed)
    rng = random.Random(f"{seed}:{county_code}:{day}")
    tag = f"{county_code[-4:]}{day:%m%d}"
    rows: list[dict[str, Any]] = []
    returns: list[str] = []
    shipments: list[Shipment] = []
    for st, load in zip(stations, loads, strict=True):
        for k, g in enumerate(load.parcels_g + load.returns_g):
            tn = f"DM{tag}{st.region_id[-6:]}{k:03d}"
            rows.append(
                {
                    "tracking_number": tn,
                    "recipient_name": person_name(
                        rng, sex=rng.choice(["male", "female"]), birth_year=rng.randint(1955, 2005)
                    ),
                    "phone": f"139{rng.randrange(10**8):08d}",
                    "village_code": st.region_id,
                    "weight_g": g,
                    "size_class": "S" if g < 1000 else "M" if g < 5000 else "L",
                }
            )
            if k >= len(load.parcels_g):
                returns.append(tn)
        for pieces, grams in load.shipments:
            shipments.append(
                Shipment(
                    station=st,
                    producer_name=person_name(rng, sex="male", birth_year=rng.randint(1955, 1995)),
                    contents=rng.choice(["猕猴桃", "刺梨", "茶叶", "魔芋", "核桃"]),
                    pieces=pieces,
                    weight_g=grams,
                    destination=rng.choice(["贵阳市", "广州市", "上海市", "重庆市"]),
                    state=ShipmentState.BOOKED,
                )
            )
    # booked the evening before (the cut-off takes what was booked by then)
    created = Shipment.objects.bulk_create(shipments)
    Shipment.objects.filter(pk__in=[s.pk for s in created]).update(
        created_at=local_dt(day, 0) - dt.timedelta(hours=4)
    )
    if not rows:
        return {"parcels": 0, "returns": 0, "shipments": 0}
    # received from 05:00, sorted within two hours; earlier when the day's load is made
    # before that (a demo built at 01:00): no scan lies in the future
    sorted_at = min(local_dt(day, 5 * 3600), timezone.now() - dt.timedelta(hours=2))
    for start in range(0, len(rows), 2000):
        services.manifest_intake(
            scope=NATIONAL,
            carrier_code="ZTO",
            rows=rows[start : start + 2000],
            occurred_at=sorted_at - dt.timedelta(hours=8),
        )
    by_tn = {r["tracking_number"]: r for r in rows}
    returning = set(returns)
    station_of = {s.region_id: s.code for s in stations}
    events: list[dict[str, Any]] = []
    for tn, r in by_tn.items():
        steps: list[tuple[str, dt.datetime, str]]
        if tn in returning:  # came yesterday, refused by the recipient
            t = sorted_at - dt.timedelta(days=1)
            code = station_of[r["village_code"]]
            steps = [
                (sm.RECEIVED_AT_COUNTY, t, ""),
                (sm.SORTED, t + dt.timedelta(minutes=30), ""),
                (sm.LOADED, t + dt.timedelta(hours=3), ""),
                (sm.AT_STATION, t + dt.timedelta(hours=5), code),
                (sm.REFUSED, t + dt.timedelta(hours=9), ""),
            ]
        else:
            steps = [
                (sm.RECEIVED_AT_COUNTY, sorted_at, ""),
                (sm.SORTED, sorted_at + dt.timedelta(minutes=rng.randrange(10, 110)), ""),
            ]
        for typ, at, code in steps:
            events.append(
                {
                    "event_id": f"demo-{tn}-{typ}",
                    "carrier": "ZTO",
                    "tracking_number": tn,
                    "type": typ,
                    "occurred_at": at,
                    "station_code": code,
                    "device": "demo",
                }
            )
    for start in range(0, len(events), 5000):
        services.scan_events_record(scope=NATIONAL, events=events[start : start + 5000])
    return {
        "parcels": len(rows) - len(returns),
        "returns": len(returns),
        "shipments": sum(len(load.shipments) for load in loads),
    }


def plan_demo(
    *,
    county_code: str,
    day: dt.date | None = None,
    time_limit: float = 3.0,
    echo: Callable[[str], None] = print,
) -> DailyPlan | None:
    """Vans, a day's load if the county has none, and the day's plan (default today)."""
    day = day or timezone.localdate()
    demo_fleet(county_code=county_code)
    county = Region.objects.get(code=county_code)
    loads = loads_at_cutoff(county=county, cutoff=cutoff_at(county_code=county_code, day=day))
    has_load = any(load.drops for load in loads.values())  # parcels sorted for that day
    if not has_load:
        made = demo_load_create(county_code=county_code, day=day)
        echo(
            f"  {county_code}: load {made['parcels']} parcels, {made['shipments']} shipments,"
            f" {made['returns']} returns"
        )
    try:
        plan = plan_build(scope=NATIONAL, county_code=county_code, day=day, time_limit=time_limit)
    except ApplicationError as exc:  # e.g. a run of today's plan has started
        echo(f"  {county_code}: plan not rebuilt: {exc.message}")
        return DailyPlan.objects.filter(county_id=county_code, date=day).first()
    echo(
        f"  {county_code}: plan {plan.routes.count()} routes, {plan.total_metres / 1000:.0f} km,"
        f" {len(plan.unserved)} stations left for tomorrow"
    )
    return plan
