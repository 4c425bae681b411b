"""A small county for the daily plan: village stations with coordinates, parcels sorted
at the centre, shipments booked and returns waiting — all through the services."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from typing import Any

from cunzhan.core.scope import RegionScope
from cunzhan.logistics import plans
from cunzhan.logistics import services as logistics_services
from cunzhan.logistics import statemachine as sm
from cunzhan.logistics.models import Parcel, Shipment
from cunzhan.network.models import Kind, Level, Region, Station, StationKind, StationStatus
from tests.factories.stations import make_station

NATIONAL = RegionScope.national()
DAY = dt.date(2026, 11, 3)  # a Tuesday
TZ = zoneinfo.ZoneInfo("Asia/Shanghai")
EARLY = dt.datetime(2026, 11, 3, 5, 0, tzinfo=TZ)  # before the 07:00 cut-off


def county_centre(county: str) -> Station:
    found = Station.objects.filter(region_id=county, kind=StationKind.COUNTY_CENTRE).first()
    return found or make_station(county, StationStatus.ACTIVE, name=f"县中心 {county}")


def village_stations(county: str, township: str, n: int, first: int = 210) -> list[Station]:
    """``n`` new villages under ``township`` (codes township + 2xx), each with an active
    station (synthetic coordinates 1.5-8 km from the township)."""
    out = []
    for k in range(n):
        code = f"{township}{first + k:03d}"
        Region.objects.get_or_create(
            code=code,
            defaults={
                "name": f"测试{first + k}村村民委员会",
                "level": Level.VILLAGE,
                "kind": Kind.VILLAGE,
                "parent_id": township,
            },
        )
        out.append(make_station(code, StationStatus.ACTIVE, name=f"测试{first + k}村服务站"))
    return out


_seq = {"n": 0}


def sorted_parcels(
    station: Station, n: int, weight_g: int = 1500, at: dt.datetime = EARLY, carrier: str = "ZTO"
) -> list[Parcel]:
    """``n`` parcels announced for the station's village and sorted at the centre."""
    rows = []
    for _ in range(n):
        _seq["n"] += 1
        rows.append(
            {
                "tracking_number": f"PL{_seq['n']:08d}",
                "recipient_name": "李四",
                "phone": "13812345678",
                "village_code": station.region_id,
                "weight_g": weight_g,
                "size_class": "M",
            }
        )
    logistics_services.manifest_intake(
        scope=NATIONAL, carrier_code=carrier, rows=rows, occurred_at=at - dt.timedelta(hours=2)
    )
    events = []
    for r in rows:
        tn = r["tracking_number"]
        for i, t in enumerate((sm.RECEIVED_AT_COUNTY, sm.SORTED)):
            events.append(
                {
                    "event_id": f"f-{tn}-{t}",
                    "carrier": carrier,
                    "tracking_number": tn,
                    "type": t,
                    "occurred_at": at + dt.timedelta(minutes=i),
                }
            )
    logistics_services.scan_events_record(scope=NATIONAL, events=events)
    return list(Parcel.objects.filter(tracking_number__in=[r["tracking_number"] for r in rows]))


def refused_parcel(station: Station) -> Parcel:
    """A parcel that reached the station and was refused: it waits to go back up."""
    (p,) = sorted_parcels(station, 1, weight_g=2000, at=EARLY - dt.timedelta(days=2))
    t = EARLY - dt.timedelta(days=1)
    logistics_services.scan_events_record(
        scope=NATIONAL,
        events=[
            {
                "event_id": f"f-{p.tracking_number}-{typ}",
                "carrier": "ZTO",
                "tracking_number": p.tracking_number,
                "type": typ,
                "occurred_at": t + dt.timedelta(hours=i),
                "station_code": station.code if typ == sm.AT_STATION else "",
            }
            for i, typ in enumerate((sm.LOADED, sm.AT_STATION, sm.REFUSED))
        ],
    )
    p.refresh_from_db()
    return p


def booked_shipment(station: Station, pieces: int = 2, weight_g: int = 12_000) -> Shipment:
    s = Shipment.objects.create(
        station=station,
        producer_name="王五",
        contents="猕猴桃",
        pieces=pieces,
        weight_g=weight_g,
        destination="贵阳市",
    )
    Shipment.objects.filter(pk=s.pk).update(created_at=EARLY - dt.timedelta(hours=3))
    s.refresh_from_db()
    return s


def van(county: str, name: str = "车1", **kw: Any):
    args = {
        "capacity_kg": 1000,
        "capacity_pieces": 150,
        "shift_start": "07:30",
        "shift_end": "18:30",
        "cost_per_km_fen": 150,
        "fixed_cost_fen": 5000,
    }
    args.update(kw)
    county_centre(county)
    return plans.vehicle_create(scope=NATIONAL, county_code=county, name=name, **args)


def world_plan(county: str, village_station: Station, manager: Any) -> dict[str, Any]:
    """For the access matrix: a van, a plan with a started run (``plan``, ``run``,
    ``stop``), a later plan whose route has not started (``route``) and a shipment
    booked at the village station (a pickup collects it)."""
    from cunzhan.logistics import runs

    vehicle = van(county, "矩阵车")
    sorted_parcels(village_station, 1)
    booked_shipment(village_station, pieces=1, weight_g=3000)
    plan = plans.plan_build(scope=NATIONAL, county_code=county, day=DAY, time_limit=0.3)
    route = plan.routes.get()
    run = runs.run_start(scope=NATIONAL, route=route, actor=manager)
    later = plans.plan_build(
        scope=NATIONAL, county_code=county, day=DAY + dt.timedelta(days=1), time_limit=0.3
    )
    return {
        "vehicle": vehicle,
        "plan": plan,
        "run": run,
        "stop": route.stops.get(),
        "route": later.routes.get(),
    }


def planned_day(make_user: Any, county: str = "520204") -> dict[str, Any]:
    """A driver's van planned through two village stations of the county: three parcels
    to drop at ``a``; a booked shipment and a refused parcel to pick up at ``b``."""
    driver = make_user("driver", regions=[county])
    v = van(county)
    plans.vehicle_update(scope=NATIONAL, vehicle=v, driver_id=driver.pk)
    a, b = village_stations(county, f"{county}106", 2)
    drops = sorted_parcels(a, 3)
    ship = booked_shipment(b)
    ret = refused_parcel(b)
    plan = plans.plan_build(scope=NATIONAL, county_code=county, day=DAY, time_limit=1)
    route = plan.routes.get()
    stops = {s.station_id: s for s in route.stops.all()}
    return {
        "driver": driver,
        "route": route,
        "a": a,
        "b": b,
        "stop_a": stops[a.pk],
        "stop_b": stops[b.pk],
        "drops": drops,
        "ship": ship,
        "ret": ret,
    }
