"""The daily plan per county centre: vehicles, building and storing the plan
(docs/adr/0011-daily-plan.md), and reads for the pages and the API.

Loads at the county's cut-off: a station's drop is every parcel ``sorted`` for it at the
centre; its pickup is every shipment ``booked`` there and every parcel waiting there to
go back (:func:`returns_waiting_at`). Two load dimensions: kg (rounded up
per station) and pieces. Times are seconds since the plan day's local midnight.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
import os
import time
import zoneinfo
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Count, F, OuterRef, Prefetch, Q, QuerySet, Subquery
from django.utils import timezone

from cunzhan.accounts.models import User
from cunzhan.accounts.roles import Role
from cunzhan.accounts.selectors import scope_for_user
from cunzhan.core.errors import ApplicationError, Conflict, NotFound, Unprocessable
from cunzhan.core.scope import RegionScope
from cunzhan.core.validation import is_ascii_digits
from cunzhan.logistics import selectors
from cunzhan.logistics import statemachine as sm
from cunzhan.logistics.models import Parcel, ScanEvent, Shipment, ShipmentState, in_states
from cunzhan.logistics.plan_models import (
    DailyPlan,
    PlanItem,
    PlanRoute,
    PlanStatus,
    PlanStop,
    Run,
    Vehicle,
)
from cunzhan.logistics.planning import solver as planning_solver
from cunzhan.logistics.planning.checker import check
from cunzhan.logistics.planning.distances import (
    DistanceProvider,
    HaversineProvider,
    OsrmProvider,
)
from cunzhan.logistics.planning.problem import Client, Depot, Problem, VehicleType
from cunzhan.network.models import Level, Region, Station, StationKind, StationStatus

RETURN_STATES = (sm.RETURN_DUE, sm.REFUSED)  # waiting at the station whatever the scan
SERVICE_BASE_S = 180  # park, greet, sign: per stop
SERVICE_PER_PIECE_S = 6  # hand over / take one piece
DAY_S = 86_400
MAX_CAPACITY_KG = 50_000
MAX_CAPACITY_PIECES = 100_000
MAX_TIME_LIMIT_S = 300.0


def _tz() -> dt.tzinfo:
    return zoneinfo.ZoneInfo(settings.TIME_ZONE)


def local_dt(day: dt.date, seconds: int) -> dt.datetime:
    """The aware datetime ``seconds`` after the local midnight of ``day``."""
    midnight = dt.datetime.combine(day, dt.time(0), tzinfo=_tz())
    return midnight + dt.timedelta(seconds=seconds)


def _secs(t: dt.time) -> int:
    return t.hour * 3600 + t.minute * 60 + t.second


def _as_time(value: Any, what: str) -> dt.time:
    if not isinstance(value, dt.time):
        try:
            value = dt.time.fromisoformat(str(value))
        except ValueError:
            value = None
    # a shift is a wall-clock time of the county: no zone (comparing an aware time with
    # the stored naive one would fail)
    if value is None or value.tzinfo is not None:
        raise Unprocessable(
            f"{what}: a time of day like 07:30, without a time zone", code="invalid_vehicle"
        )
    return value


# --- counties and vehicles ----------------------------------------------------------------


def county_get(*, scope: RegionScope, county_code: str) -> Region:
    code = (county_code or "").strip()
    region = Region.objects.filter(code=code, level=Level.COUNTY).first()
    if region is None or not scope.contains_code(region.code) or scope.station_ids is not None:
        raise NotFound(f"no county {code!r} in your scope")
    return region


def vehicles_in_scope(*, scope: RegionScope) -> QuerySet[Vehicle]:
    if scope.station_ids is not None and not scope.everything:
        return Vehicle.objects.none()
    return Vehicle.objects.filter(scope.q("county_id")).select_related("depot", "driver", "county")


def vehicle_get(*, scope: RegionScope, vehicle_id: int) -> Vehicle:
    v = vehicles_in_scope(scope=scope).filter(pk=vehicle_id).first()
    if v is None:
        raise NotFound()
    return v


VEHICLE_FIELDS = (
    "name",
    "plate",
    "capacity_kg",
    "capacity_pieces",
    "shift_start",
    "shift_end",
    "fixed_cost_fen",
    "cost_per_km_fen",
    "driver_id",
    "depot_id",
    "active",
)


def _whole(value: Any) -> bool:
    """An id: a whole number (an int, or its digits as text)."""
    if isinstance(value, bool):
        return False
    if isinstance(value, str) and is_ascii_digits(value.strip()):
        value = int(value)
    return isinstance(value, int) and 0 < value < 2**63


def _name_taken(county_id: str, name: str, exclude_pk: int | None = None) -> bool:
    taken = Vehicle.objects.filter(county_id=county_id, name=name)
    if exclude_pk is not None:
        taken = taken.exclude(pk=exclude_pk)
    return taken.exists()


def _clean_vehicle(county: Region, data: dict[str, Any]) -> dict[str, Any]:
    """Validate a whole vehicle (create, or update merged over the stored values)."""
    out = dict(data)
    name = str(out.get("name") or "").strip()
    if not name or len(name) > 60:
        raise Unprocessable("name: 1-60 characters", code="invalid_vehicle")
    out["name"] = name
    out["plate"] = str(out.get("plate") or "").strip()[:20]
    for key, top in (("capacity_kg", MAX_CAPACITY_KG), ("capacity_pieces", MAX_CAPACITY_PIECES)):
        value = out.get(key)
        if not isinstance(value, int) or isinstance(value, bool) or not 0 < value <= top:
            raise Unprocessable(f"{key}: a whole number from 1 to {top}", code="invalid_vehicle")
    for key in ("fixed_cost_fen", "cost_per_km_fen"):
        value = out.get(key, 0)
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 10**9:
            raise Unprocessable(f"{key}: a whole number of fen ≥ 0", code="invalid_vehicle")
    if out.get("cost_per_km_fen", 1) < 1:
        raise Unprocessable(
            "cost_per_km_fen: at least 1 fen (the plan minimises it)", code="invalid_vehicle"
        )
    start = _as_time(out.get("shift_start"), "shift_start")
    end = _as_time(out.get("shift_end"), "shift_end")
    if end <= start:
        raise Unprocessable("shift_end must be after shift_start", code="invalid_vehicle")
    out["shift_start"], out["shift_end"] = start, end
    depot_id = out.get("depot_id")
    if depot_id is not None and not _whole(depot_id):
        raise Unprocessable(
            f"depot: the county centre of {county.name} ({county.code})", code="invalid_depot"
        )
    depot = Station.objects.filter(pk=depot_id or 0).first()
    if (
        depot is None
        or depot.kind != StationKind.COUNTY_CENTRE
        or depot.region_id != county.code
        or depot.status == StationStatus.CLOSED
    ):
        raise Unprocessable(
            f"depot: the county centre of {county.name} ({county.code})", code="invalid_depot"
        )
    driver_id = out.get("driver_id")
    if driver_id and not _whole(driver_id):
        raise Unprocessable(
            f"driver: an active driver assigned to {county.name} (an id, not {driver_id!r})",
            code="invalid_driver",
        )
    if driver_id:
        driver = User.objects.filter(pk=driver_id, role=Role.DRIVER, is_active=True).first()
        if driver is None or not scope_for_user(driver).contains_code(county.code):
            raise Unprocessable(
                f"driver: an active driver assigned to {county.name}", code="invalid_driver"
            )
    else:
        out["driver_id"] = None
    out["active"] = bool(out.get("active", True))
    return {k: out[k] for k in VEHICLE_FIELDS if k in out}


def vehicle_create(
    *,
    scope: RegionScope,
    county_code: str,
    name: str,
    capacity_kg: int,
    capacity_pieces: int,
    depot_id: int | None = None,
    plate: str = "",
    shift_start: Any = "07:30",
    shift_end: Any = "18:30",
    fixed_cost_fen: int = 0,
    cost_per_km_fen: int = 150,
    driver_id: int | None = None,
    active: bool = True,
) -> Vehicle:
    """A van of the county. ``depot_id`` defaults to the county's (live) centre."""
    county = county_get(scope=scope, county_code=county_code)
    if depot_id is None:
        centre = (
            Station.objects.filter(region=county, kind=StationKind.COUNTY_CENTRE)
            .exclude(status=StationStatus.CLOSED)
            .first()
        )
        depot_id = centre.pk if centre else None
    data = _clean_vehicle(
        county,
        {
            "name": name,
            "plate": plate,
            "capacity_kg": capacity_kg,
            "capacity_pieces": capacity_pieces,
            "shift_start": shift_start,
            "shift_end": shift_end,
            "fixed_cost_fen": fixed_cost_fen,
            "cost_per_km_fen": cost_per_km_fen,
            "driver_id": driver_id,
            "depot_id": depot_id,
            "active": active,
        },
    )
    if _name_taken(county.code, data["name"]):
        raise Conflict(
            f"the county already has a vehicle named {data['name']!r}", code="duplicate_vehicle"
        )
    try:
        with transaction.atomic():
            return Vehicle.objects.create(county=county, **data)
    except IntegrityError:  # the same name added at the same moment
        raise ApplicationError(
            f"the county already has a vehicle named {data['name']!r}",
            code="duplicate_vehicle",
            status=409,
        ) from None


def vehicle_update(*, scope: RegionScope, vehicle: Vehicle, **changes: Any) -> Vehicle:
    """Change some fields (names as in :func:`vehicle_create`); validated as a whole."""
    if not scope.contains_code(vehicle.county_id) or scope.station_ids is not None:
        raise NotFound()
    unknown = set(changes) - set(VEHICLE_FIELDS)
    if unknown:
        raise ApplicationError(f"unknown fields: {sorted(unknown)}", code="invalid_vehicle")
    merged = {k: getattr(vehicle, k) for k in VEHICLE_FIELDS}
    merged.update(changes)
    data = _clean_vehicle(vehicle.county, merged)
    if _name_taken(vehicle.county_id, data["name"], exclude_pk=vehicle.pk):
        raise Conflict(
            f"the county already has a vehicle named {data['name']!r}", code="duplicate_vehicle"
        )
    for k, v in data.items():
        setattr(vehicle, k, v)
    try:
        with transaction.atomic():
            vehicle.save()
    except IntegrityError:
        raise ApplicationError(
            f"the county already has a vehicle named {data['name']!r}",
            code="duplicate_vehicle",
            status=409,
        ) from None
    return vehicle


# --- the plan -----------------------------------------------------------------------------


@dataclass
class _Load:
    station: Station
    drops: list[Parcel] = field(default_factory=list)
    returns: list[Parcel] = field(default_factory=list)
    shipments: list[Shipment] = field(default_factory=list)

    @property
    def drop_pieces(self) -> int:
        return len(self.drops)

    @property
    def drop_g(self) -> int:
        return sum(p.weight_g for p in self.drops)

    @property
    def pickup_pieces(self) -> int:
        return len(self.returns) + sum(s.pieces for s in self.shipments)

    @property
    def pickup_g(self) -> int:
        return sum(p.weight_g for p in self.returns) + sum(s.weight_g for s in self.shipments)

    @property
    def service_s(self) -> int:
        return SERVICE_BASE_S + SERVICE_PER_PIECE_S * (self.drop_pieces + self.pickup_pieces)


def _kg(grams: int) -> int:
    return math.ceil(grams / 1000)


def cutoff_at(*, county_code: str, day: dt.date) -> dt.datetime:
    rules = selectors.county_settings(county_code=county_code)
    cutoff = rules.cutoff if isinstance(rules.cutoff, dt.time) else _as_time(rules.cutoff, "cutoff")
    return local_dt(day, _secs(cutoff))


def returns_waiting_at(station_ids: Sequence[int]) -> QuerySet[Parcel]:
    """The parcels waiting at these stations to go back up (the one rule of the plan's
    pickup load and the driver's pickup): ``return_due`` or ``refused``, or ``damaged``
    when the (last) damaged scan was made at the parcel's own station — a parcel
    damaged at the county centre or on the van is not at the station."""
    damaged_at = (
        ScanEvent.objects.filter(parcel_id=OuterRef("pk"), type=sm.DAMAGED)
        .order_by("-occurred_at", "-id")
        .values("station_id")[:1]
    )
    return (
        Parcel.objects.filter(station_id__in=list(station_ids))
        .annotate(damaged_at_station=Subquery(damaged_at))
        .filter(
            in_states(*RETURN_STATES)
            | (in_states(sm.DAMAGED) & Q(damaged_at_station=F("station_id")))
        )
    )


def loads_at_cutoff(*, county: Region, cutoff: dt.datetime) -> dict[int, _Load]:
    """What each station of the county gets and sends on the day of ``cutoff``."""
    in_county = RegionScope.for_regions([county.code])
    loads: dict[int, _Load] = {}
    stations = {
        s.pk: s
        for s in Station.objects.filter(in_county.q("region_id")).exclude(
            kind=StationKind.COUNTY_CENTRE
        )
    }

    def load(station_id: int) -> _Load:
        if station_id not in loads:
            loads[station_id] = _Load(station=stations[station_id])
        return loads[station_id]

    drops = Parcel.objects.filter(in_states(sm.SORTED), station_id__in=list(stations)).filter(
        Q(state_at__lte=cutoff) | Q(state_at__isnull=True)
    )
    for p in drops.order_by("id"):
        load(p.station_id).drops.append(p)  # type: ignore[arg-type]
    returns = returns_waiting_at(list(stations))
    for p in returns.order_by("id"):
        load(p.station_id).returns.append(p)  # type: ignore[arg-type]
    booked = Shipment.objects.filter(
        station_id__in=list(stations), state=ShipmentState.BOOKED, created_at__lte=cutoff
    )
    for s in booked.order_by("id"):
        load(s.station_id).shipments.append(s)
    return loads


def distance_provider(*, county_code: str) -> tuple[DistanceProvider, str]:
    """OSRM when ``CUNZHAN_OSRM_URL`` is set (setting or environment), else great-circle
    × the county's circuity at its average speed."""
    url = getattr(settings, "CUNZHAN_OSRM_URL", "") or os.environ.get("CUNZHAN_OSRM_URL", "")
    if url:
        return OsrmProvider(base_url=url), f"OSRM {url}"
    rules = selectors.county_settings(county_code=county_code)
    return (
        HaversineProvider(circuity=rules.circuity_pct / 100, speed_kmh=float(rules.speed_kmh)),
        f"haversine × {rules.circuity_pct}% @ {rules.speed_kmh} km/h",
    )


def _workers() -> int:
    if settings.TESTING:
        return 1
    return max(1, int(getattr(settings, "CUNZHAN_PLAN_WORKERS", 0) or os.cpu_count() or 1))


@dataclass
class _Built:
    problem: Problem
    vehicles: list[Vehicle]
    clients: list[_Load]
    unserved: list[dict[str, Any]]


def _unserved(load: _Load, reason: str, code: str) -> dict[str, Any]:
    return {
        "station_id": load.station.pk,
        "station_code": load.station.code,
        "station_name": load.station.name,
        "reason": reason,
        "reason_code": code,
        "drop_pieces": load.drop_pieces,
        "pickup_pieces": load.pickup_pieces,
    }


def build_problem(
    *,
    county: Region,
    day: dt.date,
    cutoff: dt.datetime,
    vehicles: Sequence[Vehicle],
    loads: dict[int, _Load],
    provider: DistanceProvider,
) -> _Built:
    """The routing problem of the day: one vehicle type per van (count 1), one optional
    client per station with a load (its prize above any route's cost), and the stations
    that cannot be planned at all, with the reason."""
    depots: list[Station] = []
    for v in vehicles:
        if v.depot.longitude is None or v.depot.latitude is None:
            raise Unprocessable(
                f"the depot {v.depot.name} ({v.depot.code}) of vehicle {v.name} has no "
                "coordinates: set them on the station page",
                code="depot_without_coordinates",
            )
        if v.depot not in depots:
            depots.append(v.depot)
    max_kg = max(v.capacity_kg for v in vehicles)
    max_pieces = max(v.capacity_pieces for v in vehicles)
    weekday = str(day.isoweekday())
    unserved: list[dict[str, Any]] = []
    clients: list[_Load] = []
    for load in sorted(loads.values(), key=lambda x: x.station.code):
        st = load.station
        if st.status != StationStatus.ACTIVE:
            unserved.append(_unserved(load, f"the station is not active ({st.status})", "inactive"))
        elif st.longitude is None or st.latitude is None:
            unserved.append(_unserved(load, "the station has no coordinates", "no_coordinates"))
        elif weekday not in (st.open_days or ""):
            unserved.append(_unserved(load, "the station is closed on this day", "closed"))
        elif (
            max(_kg(load.drop_g), _kg(load.pickup_g)) > max_kg
            or max(load.drop_pieces, load.pickup_pieces) > max_pieces
        ):
            unserved.append(
                _unserved(
                    load,
                    f"its load ({_kg(load.drop_g)} kg / {load.drop_pieces} pieces down, "
                    f"{_kg(load.pickup_g)} kg / {load.pickup_pieces} pieces up) is larger than "
                    f"any vehicle ({max_kg} kg / {max_pieces} pieces)",
                    "too_large",
                )
            )
        else:
            clients.append(load)
    points = [(d.longitude, d.latitude) for d in depots] + [
        (c.station.longitude, c.station.latitude) for c in clients
    ]
    metres, seconds = provider.matrices(points)  # type: ignore[arg-type]
    start_floor = _secs(cutoff.astimezone(_tz()).time()) if cutoff.date() == day else 0
    vtypes = []
    for v in vehicles:
        early = max(_secs(v.shift_start), start_floor)
        late = _secs(v.shift_end)
        vtypes.append(
            VehicleType(
                count=1,
                capacity=(v.capacity_kg, v.capacity_pieces),
                depot=depots.index(v.depot),
                tw_early=early,
                tw_late=max(early, late),
                max_duration=max(0, late - early),
                fixed_cost=v.fixed_cost_fen * 1000,
                unit_distance_cost=max(1, v.cost_per_km_fen),  # fen per 1000 m
                name=v.name,
            )
        )
    longest = max((max(row) for row in metres), default=0)
    unit = max(vt.unit_distance_cost for vt in vtypes)
    fixed = max(vt.fixed_cost for vt in vtypes)
    prize = 2 * longest * unit + fixed + 1000  # more than any detour to serve a station
    problem_clients = []
    for i, c in enumerate(clients):
        st = c.station
        service = c.service_s
        opens, closes = _secs(st.opens_at), _secs(st.closes_at)
        problem_clients.append(
            Client(
                ident=i,
                delivery=(_kg(c.drop_g), c.drop_pieces),
                pickup=(_kg(c.pickup_g), c.pickup_pieces),
                service=service,
                tw_early=opens,
                tw_late=max(opens, closes - service),
                x=float(st.longitude),  # type: ignore[arg-type]
                y=float(st.latitude),  # type: ignore[arg-type]
                required=False,
                prize=prize,
            )
        )
    problem = Problem(
        name=f"{county.code}-{day.isoformat()}",
        depots=[
            Depot(ident=i, tw_early=0, tw_late=DAY_S, x=d.longitude, y=d.latitude)  # type: ignore[arg-type]
            for i, d in enumerate(depots)
        ],
        clients=problem_clients,
        vehicle_types=vtypes,
        distance=metres,
        duration=seconds,
    )
    return _Built(problem=problem, vehicles=list(vehicles), clients=clients, unserved=unserved)


@dataclass
class _Timed:
    metres: int
    departs: int
    returns: int
    stops: list[tuple[int, int]]  # (arrival, departure) seconds


def route_times(problem: Problem, vt_index: int, stops: Sequence[int]) -> _Timed:
    """Times along a route as the checker computes them (leave at the shift start, wait
    for a window to open), then the departure pushed as late as the windows allow so
    that the van does not wait at the first stop."""
    vt = problem.vehicle_types[vt_index]
    dloc = vt.depot
    start = max(vt.tw_early, problem.depots[vt.depot].tw_early)

    # the latest departure that keeps every begin time: push by the slack before waits
    def simulate(t0: int) -> tuple[list[tuple[int, int]], int, int]:
        t, prev, waited, times = t0, dloc, 0, []
        for c in stops:
            cl = problem.clients[c]
            arrive = t + problem.duration[prev][problem.loc(c)]
            begin = max(arrive, cl.tw_early)
            waited += begin - arrive
            t = begin + cl.service
            times.append((begin, t))
            prev = problem.loc(c)
        return times, t + problem.duration[prev][dloc], waited

    times, end, _ = simulate(start)
    if stops:
        first = problem.clients[stops[0]]
        arrive = start + problem.duration[dloc][problem.loc(stops[0])]
        push = max(0, first.tw_early - arrive)
        if push:
            times2, end2, _ = simulate(start + push)
            if all(
                b <= problem.clients[c].tw_late for (b, _), c in zip(times2, stops, strict=True)
            ):
                start, times, end = start + push, times2, end2
    locs = [dloc, *(problem.loc(c) for c in stops), dloc]
    metres = sum(problem.distance[a][b] for a, b in itertools.pairwise(locs))
    return _Timed(metres=metres, departs=start, returns=end, stops=times)


def _plan_started(plan: DailyPlan) -> bool:
    return Run.objects.filter(route__plan=plan).exists()


def plan_build(
    *,
    scope: RegionScope,
    county_code: str,
    day: dt.date,
    time_limit: float = 10.0,
    actor: Any = None,
    workers: int | None = None,
    provider: DistanceProvider | None = None,
) -> DailyPlan:
    """Build, check and store the county's plan for ``day`` (replacing an unstarted one)."""
    county = county_get(scope=scope, county_code=county_code)
    if not 0 < float(time_limit) <= MAX_TIME_LIMIT_S:
        raise ApplicationError(
            f"time_limit: more than 0 and at most {MAX_TIME_LIMIT_S:g} seconds",
            code="invalid_plan",
        )
    existing = DailyPlan.objects.filter(county=county, date=day).first()
    if existing is not None and _plan_started(existing):
        raise ApplicationError(
            f"a run of the {day} plan of {county.name} has started: it can no longer be rebuilt",
            code="plan_started",
            status=409,
        )
    vehicles = list(
        Vehicle.objects.filter(county=county, active=True)
        .select_related("depot")
        .order_by("name", "id")
    )
    if not vehicles:
        raise Unprocessable(
            f"{county.name} has no active vehicles: add one on the vehicles page first",
            code="no_vehicles",
        )
    cutoff = cutoff_at(county_code=county.code, day=day)
    loads = loads_at_cutoff(county=county, cutoff=cutoff)
    if provider is None:
        provider, source = distance_provider(county_code=county.code)
    else:
        source = type(provider).__name__
    built = build_problem(
        county=county,
        day=day,
        cutoff=cutoff,
        vehicles=vehicles,
        loads=loads,
        provider=provider,
    )
    problem = built.problem
    started = time.monotonic()
    result = planning_solver.solve(
        problem, time_limit=float(time_limit), workers=workers or _workers(), wall_clock=True
    )
    seconds = time.monotonic() - started
    served = {c for r in result.routes for c in r.clients}
    unserved = list(built.unserved)
    for i, load in enumerate(built.clients):
        if i in served:
            continue
        alone = [
            vt for vt in range(len(problem.vehicle_types)) if check(problem, [(vt, [i])]).feasible
        ]
        if alone:
            unserved.append(
                _unserved(
                    load,
                    "the fleet's capacity or shifts are used up: it waits for the next plan",
                    "fleet_full",
                )
            )
        else:
            unserved.append(
                _unserved(
                    load,
                    "no vehicle can reach it within its opening hours and a shift",
                    "unreachable",
                )
            )
    return _store(
        county=county,
        day=day,
        cutoff=cutoff,
        built=built,
        result=result,
        unserved=unserved,
        seconds=seconds,
        time_limit=float(time_limit),
        source=source,
        actor=actor,
    )


def _store(
    *,
    county: Region,
    day: dt.date,
    cutoff: dt.datetime,
    built: _Built,
    result: planning_solver.Plan,
    unserved: list[dict[str, Any]],
    seconds: float,
    time_limit: float,
    source: str,
    actor: Any,
) -> DailyPlan:
    try:
        return _store_locked(
            county=county,
            day=day,
            cutoff=cutoff,
            built=built,
            result=result,
            unserved=unserved,
            seconds=seconds,
            time_limit=time_limit,
            source=source,
            actor=actor,
        )
    except IntegrityError:  # the day's first plan stored by another build at the same moment
        raise ApplicationError(
            f"another plan of {county.name} for {day} was stored at the same moment: "
            "open it, or build again",
            code="plan_conflict",
            status=409,
        ) from None


def _existing_plan(county: Region, day: dt.date) -> DailyPlan | None:
    return DailyPlan.objects.select_for_update().filter(county=county, date=day).first()


def _store_locked(
    *,
    county: Region,
    day: dt.date,
    cutoff: dt.datetime,
    built: _Built,
    result: planning_solver.Plan,
    unserved: list[dict[str, Any]],
    seconds: float,
    time_limit: float,
    source: str,
    actor: Any,
) -> DailyPlan:
    problem = built.problem
    with transaction.atomic():
        existing = _existing_plan(county, day)
        if existing is not None:
            if _plan_started(existing):
                raise ApplicationError(
                    "a run of this plan started while it was being rebuilt",
                    code="plan_started",
                    status=409,
                )
            existing.delete()
        plan = DailyPlan.objects.create(
            county=county,
            date=day,
            cutoff=cutoff,
            built_at=timezone.now(),
            built_by=actor if getattr(actor, "pk", None) else None,
            status=PlanStatus.PLANNED,
            time_limit_s=time_limit,
            solver_seconds=round(seconds, 3),
            distances=source[:120],
            feasible=result.feasible,
            violations=result.check.violations[:50],
            unserved=unserved,
        )
        total_m = total_s = total_cost = 0
        items: list[PlanItem] = []
        routes = sorted(
            (r for r in result.routes if r.clients),
            key=lambda r: built.vehicles[r.vehicle_type].name,
        )
        for position, r in enumerate(routes, start=1):
            vehicle = built.vehicles[r.vehicle_type]
            timed = route_times(problem, r.vehicle_type, r.clients)
            cost = round(timed.metres * vehicle.cost_per_km_fen / 1000) + vehicle.fixed_cost_fen
            route = PlanRoute.objects.create(
                plan=plan,
                vehicle=vehicle,
                position=position,
                metres=timed.metres,
                seconds=timed.returns - timed.departs,
                cost_fen=cost,
                departs_at=local_dt(day, timed.departs),
                returns_at=local_dt(day, timed.returns),
            )
            total_m += timed.metres
            total_s += timed.returns - timed.departs
            total_cost += cost
            for k, (c, (arrive, depart)) in enumerate(
                zip(r.clients, timed.stops, strict=True), start=1
            ):
                load = built.clients[c]
                stop = PlanStop.objects.create(
                    route=route,
                    position=k,
                    station=load.station,
                    drop_pieces=load.drop_pieces,
                    drop_g=load.drop_g,
                    pickup_pieces=load.pickup_pieces,
                    pickup_g=load.pickup_g,
                    arrives_at=local_dt(day, arrive),
                    departs_at=local_dt(day, depart),
                )
                items += [
                    PlanItem(stop=stop, kind=PlanItem.Kind.DROP, parcel=p, weight_g=p.weight_g)
                    for p in load.drops
                ]
                items += [
                    PlanItem(stop=stop, kind=PlanItem.Kind.RETURN, parcel=p, weight_g=p.weight_g)
                    for p in load.returns
                ]
                items += [
                    PlanItem(
                        stop=stop,
                        kind=PlanItem.Kind.SHIPMENT,
                        shipment=s,
                        pieces=s.pieces,
                        weight_g=s.weight_g,
                    )
                    for s in load.shipments
                ]
        PlanItem.objects.bulk_create(items, batch_size=1000)
        plan.total_metres, plan.total_seconds, plan.total_cost_fen = total_m, total_s, total_cost
        plan.save(update_fields=["total_metres", "total_seconds", "total_cost_fen", "updated_at"])
    return plan


# --- reads --------------------------------------------------------------------------------


def plans_in_scope(*, scope: RegionScope) -> QuerySet[DailyPlan]:
    if scope.station_ids is not None and not scope.everything:
        return DailyPlan.objects.none()
    return DailyPlan.objects.filter(scope.q("county_id")).select_related("county")


def plan_list(*, scope: RegionScope) -> QuerySet[DailyPlan]:
    """Plans in scope, each with ``route_count`` (one query for a page of plans)."""
    return plans_in_scope(scope=scope).annotate(route_count=Count("routes"))


def plan_get(*, scope: RegionScope, plan_id: int) -> DailyPlan:
    plan = plans_in_scope(scope=scope).filter(pk=plan_id).first()
    if plan is None:
        raise NotFound()
    return plan


def plan_routes(*, plan: DailyPlan) -> list[PlanRoute]:
    """The plan's routes with their vehicle, stops (with station) and run, in order."""
    return list(
        plan.routes.select_related("vehicle", "vehicle__driver", "vehicle__depot")
        .prefetch_related(
            Prefetch("stops", queryset=PlanStop.objects.select_related("station")),
        )
        .order_by("position")
    )


def route_run(route: PlanRoute) -> Run | None:
    try:
        return route.run
    except Run.DoesNotExist:
        return None


ROUTE_COLOURS = ("#1f6feb", "#d1242f", "#1a7f37", "#9a6700", "#8250df", "#bf3989", "#0a7ea4")


def plan_geojson(*, plan: DailyPlan) -> dict[str, Any]:
    """A FeatureCollection: per route a LineString depot → stops → depot, and a Point per
    stop (GCJ-02 lon/lat like the rest of the platform)."""
    features: list[dict[str, Any]] = []
    for route in plan_routes(plan=plan):
        depot = route.vehicle.depot
        colour = ROUTE_COLOURS[(route.position - 1) % len(ROUTE_COLOURS)]
        stops = list(route.stops.all())
        line = [[depot.longitude, depot.latitude]]
        line += [[s.station.longitude, s.station.latitude] for s in stops]
        line.append([depot.longitude, depot.latitude])
        features.append(
            {
                "type": "Feature",
                "geometry": {"type": "LineString", "coordinates": line},
                "properties": {
                    "route": route.position,
                    "vehicle": route.vehicle.name,
                    "metres": route.metres,
                    "colour": colour,
                },
            }
        )
        for s in stops:
            features.append(
                {
                    "type": "Feature",
                    "geometry": {
                        "type": "Point",
                        "coordinates": [s.station.longitude, s.station.latitude],
                    },
                    "properties": {
                        "route": route.position,
                        "position": s.position,
                        "station_code": s.station.code,
                        "station_name": s.station.name,
                        "arrives_at": s.arrives_at.isoformat(),
                        "drop_pieces": s.drop_pieces,
                        "pickup_pieces": s.pickup_pieces,
                    },
                }
            )
    return {"type": "FeatureCollection", "features": features}
