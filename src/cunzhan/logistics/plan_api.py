"""Daily plan API under /api/v1/logistics: vehicles, plans (build, read, GeoJSON) and
runs (start, load, arrive / drop / pickup per stop, finish).

Roles: county managers and network admins manage vehicles and build plans; drivers read
plans and record their runs (a manager or admin may record for a driver); auditors
read. Station operators have no access. Outside the caller's scope: 404.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from django.conf import settings
from django.http import HttpRequest
from ninja import Field, Query, Router, Schema, Status

from cunzhan.accounts.roles import Perm, Role
from cunzhan.accounts.selectors import scope_for_user
from cunzhan.core.api import (
    ERROR_RESPONSES,
    HHMM_PATTERN,
    ErrorOut,
    Id,
    IsoDate,
    JsonNumber,
    require,
)
from cunzhan.core.errors import PermissionDenied
from cunzhan.logistics import plans, runs
from cunzhan.logistics.plan_models import DailyPlan, PlanRoute, PlanStop, Run, Vehicle

router = Router(tags=["logistics: daily plan"])

READ_ROLES = frozenset({Role.NETWORK_ADMIN, Role.COUNTY_MANAGER, Role.DRIVER, Role.AUDITOR})
MANAGE_ROLES = frozenset({Role.NETWORK_ADMIN, Role.COUNTY_MANAGER})
DRIVE_ROLES = frozenset({Role.NETWORK_ADMIN, Role.COUNTY_MANAGER, Role.DRIVER})
WRITE_ERRORS: dict[int, Any] = {**ERROR_RESPONSES, 409: ErrorOut}


def _user(request: HttpRequest, roles: frozenset[str]) -> Any:
    user = require(request, Perm.VIEW_NETWORK)
    if user.role not in roles:
        raise PermissionDenied("this action is not open to your role")
    return user


# --- schemas ------------------------------------------------------------------------------


# A shift's start and end: a wall-clock time of the county, "HH:MM" (or "HH:MM:SS"),
# without a time zone. The end must be after the start (else 422 invalid_vehicle).
ShiftTime = Annotated[str, Field(pattern=HHMM_PATTERN, description="HH:MM, no time zone")]
VEHICLE_NAME = r"\S"
Capacity = Annotated[int, JsonNumber]


class VehicleIn(Schema):
    """The depot is the county's centre (the default; another station: 422
    ``invalid_depot``); the driver an active driver of the county (else 422)."""

    county_code: str = Field(..., pattern=r"^[0-9]{6}$")
    name: str = Field(..., min_length=1, max_length=60, pattern=VEHICLE_NAME)
    plate: str = Field("", max_length=20)
    capacity_kg: Capacity = Field(..., ge=1, le=plans.MAX_CAPACITY_KG)
    capacity_pieces: Capacity = Field(..., ge=1, le=plans.MAX_CAPACITY_PIECES)
    shift_start: ShiftTime = "07:30"
    shift_end: ShiftTime = "18:30"
    fixed_cost_fen: Annotated[int, JsonNumber] = Field(0, ge=0, le=10**9)
    cost_per_km_fen: Annotated[int, JsonNumber] = Field(150, ge=1, le=10**9)
    driver_id: Annotated[int | None, JsonNumber] = Field(None, ge=0, le=2**63 - 1)
    depot_id: Annotated[int | None, JsonNumber] = Field(None, ge=1, le=2**63 - 1)
    active: bool = Field(True, strict=True)


class VehiclePatch(Schema):
    name: str | None = Field(None, min_length=1, max_length=60, pattern=VEHICLE_NAME)
    plate: str | None = Field(None, max_length=20)
    capacity_kg: Annotated[int | None, JsonNumber] = Field(None, ge=1, le=plans.MAX_CAPACITY_KG)
    capacity_pieces: Annotated[int | None, JsonNumber] = Field(
        None, ge=1, le=plans.MAX_CAPACITY_PIECES
    )
    shift_start: ShiftTime | None = None
    shift_end: ShiftTime | None = None
    fixed_cost_fen: Annotated[int | None, JsonNumber] = Field(None, ge=0, le=10**9)
    cost_per_km_fen: Annotated[int | None, JsonNumber] = Field(None, ge=1, le=10**9)
    driver_id: Annotated[int | None, JsonNumber] = Field(
        None, ge=0, le=2**63 - 1, description="0 removes the driver"
    )
    active: bool | None = Field(None, strict=True)


class VehicleOut(Schema):
    id: int
    county_code: str
    depot_id: int
    depot_code: str
    name: str
    plate: str
    capacity_kg: int
    capacity_pieces: int
    shift_start: ShiftTime
    shift_end: ShiftTime
    fixed_cost_fen: int
    cost_per_km_fen: int
    driver_id: int | None
    driver_username: str | None
    active: bool


class PlanIn(Schema):
    county_code: str = Field(..., pattern=r"^[0-9]{6}$")
    date: IsoDate
    # the request waits for the solver: at most CUNZHAN_PLAN_MAX_TIME_LIMIT_S (30 s)
    time_limit: Annotated[float, JsonNumber] = Field(
        min(10.0, settings.CUNZHAN_PLAN_MAX_TIME_LIMIT_S),
        gt=0,
        le=min(plans.MAX_TIME_LIMIT_S, settings.CUNZHAN_PLAN_MAX_TIME_LIMIT_S),
    )


class UnservedOut(Schema):
    station_id: int
    station_code: str
    station_name: str
    reason: str
    reason_code: str
    drop_pieces: int
    pickup_pieces: int


class StopOut(Schema):
    id: int
    position: int
    station_id: int
    station_code: str
    station_name: str
    longitude: float | None
    latitude: float | None
    drop_pieces: int
    drop_g: int
    pickup_pieces: int
    pickup_g: int
    arrives_at: dt.datetime
    departs_at: dt.datetime
    arrived_at: dt.datetime | None
    dropped: int
    picked_shipments: int
    picked_returns: int


class RouteOut(Schema):
    id: int
    position: int
    vehicle_id: int
    vehicle_name: str
    metres: int
    seconds: int
    cost_fen: int
    departs_at: dt.datetime
    returns_at: dt.datetime
    run_id: int | None
    run_status: str | None
    stops: list[StopOut]


class PlanSummaryOut(Schema):
    id: int
    county_code: str
    county_name: str
    date: dt.date
    status: str
    built_at: dt.datetime
    feasible: bool
    total_metres: int
    total_cost_fen: int
    routes: int
    unserved: int


class PlanOut(Schema):
    id: int
    county_code: str
    county_name: str
    date: dt.date
    cutoff: dt.datetime
    built_at: dt.datetime
    status: str
    time_limit_s: float
    solver_seconds: float
    distances: str
    feasible: bool
    violations: list[str]
    total_metres: int
    total_seconds: int
    total_cost_fen: int
    unserved: list[UnservedOut]
    routes: list[RouteOut]


class OdometerIn(Schema):
    odometer_km: Annotated[float | None, JsonNumber] = Field(None, ge=0, le=9_999_999)


class FinishIn(OdometerIn):
    """At the end the odometer reads at least what it read at the start (else 422)."""

    note: str = Field("", max_length=300)


class ScanIn(Schema):
    """``tracking_numbers``: the parcels scanned one by one; omitted: all of them. One
    that is not on the list: 422 ``not_on_route``."""

    tracking_numbers: list[Annotated[str, Field(pattern=r"^[A-Za-z0-9-]{4,40}$")]] | None = Field(
        None, min_length=1, max_length=5000
    )


class ScanOut(Schema):
    sent: int
    applied: int
    illegal: int


class RunPickupOut(Schema):
    shipments: int
    returns: int
    illegal: int


class RunStopOut(Schema):
    stop_id: int
    position: int
    station_code: str
    station_name: str
    arrives_at: dt.datetime
    arrived_at: dt.datetime | None
    late_min: int | None
    drops_planned: int
    drops_done: int
    pickups_planned: int
    pickups_done: int
    loaded: int


class RunOut(Schema):
    id: int
    route_id: int
    plan_id: int
    vehicle_name: str
    status: str
    driver_username: str | None
    started_at: dt.datetime
    loaded_at: dt.datetime | None
    finished_at: dt.datetime | None
    planned_km: float
    actual_km: float | None
    drops_planned: int
    drops_done: int
    pickups_planned: int
    pickups_done: int
    stops: list[RunStopOut]


# --- mapping ------------------------------------------------------------------------------


def vehicle_out(v: Vehicle) -> dict[str, Any]:
    return {
        "id": v.pk,
        "county_code": v.county_id,
        "depot_id": v.depot_id,
        "depot_code": v.depot.code,
        "name": v.name,
        "plate": v.plate,
        "capacity_kg": v.capacity_kg,
        "capacity_pieces": v.capacity_pieces,
        "shift_start": v.shift_start.strftime("%H:%M"),
        "shift_end": v.shift_end.strftime("%H:%M"),
        "fixed_cost_fen": v.fixed_cost_fen,
        "cost_per_km_fen": v.cost_per_km_fen,
        "driver_id": v.driver_id,
        "driver_username": v.driver.username if v.driver else None,
        "active": v.active,
    }


def stop_out(s: PlanStop) -> dict[str, Any]:
    return {
        "id": s.pk,
        "position": s.position,
        "station_id": s.station_id,
        "station_code": s.station.code,
        "station_name": s.station.name,
        "longitude": s.station.longitude,
        "latitude": s.station.latitude,
        "drop_pieces": s.drop_pieces,
        "drop_g": s.drop_g,
        "pickup_pieces": s.pickup_pieces,
        "pickup_g": s.pickup_g,
        "arrives_at": s.arrives_at,
        "departs_at": s.departs_at,
        "arrived_at": s.arrived_at,
        "dropped": s.dropped,
        "picked_shipments": s.picked_shipments,
        "picked_returns": s.picked_returns,
    }


def route_out(r: PlanRoute) -> dict[str, Any]:
    run = plans.route_run(r)
    return {
        "id": r.pk,
        "position": r.position,
        "vehicle_id": r.vehicle_id,
        "vehicle_name": r.vehicle.name,
        "metres": r.metres,
        "seconds": r.seconds,
        "cost_fen": r.cost_fen,
        "departs_at": r.departs_at,
        "returns_at": r.returns_at,
        "run_id": run.pk if run else None,
        "run_status": run.status if run else None,
        "stops": [stop_out(s) for s in r.stops.all()],
    }


def plan_summary(p: DailyPlan) -> dict[str, Any]:
    return {
        "id": p.pk,
        "county_code": p.county_id,
        "county_name": p.county.name,
        "date": p.date,
        "status": p.status,
        "built_at": p.built_at,
        "feasible": p.feasible,
        "total_metres": p.total_metres,
        "total_cost_fen": p.total_cost_fen,
        "routes": p.route_count if hasattr(p, "route_count") else p.routes.count(),
        "unserved": len(p.unserved),
    }


def plan_out(p: DailyPlan) -> dict[str, Any]:
    return {
        **plan_summary(p),
        "cutoff": p.cutoff,
        "time_limit_s": p.time_limit_s,
        "solver_seconds": p.solver_seconds,
        "distances": p.distances,
        "violations": p.violations,
        "total_seconds": p.total_seconds,
        "unserved": p.unserved,
        "routes": [route_out(r) for r in plans.plan_routes(plan=p)],
    }


def run_out(run: Run) -> dict[str, Any]:
    report = runs.run_report(route=run.route)
    return {
        "id": run.pk,
        "route_id": run.route_id,
        "plan_id": run.route.plan_id,
        "vehicle_name": run.route.vehicle.name,
        "status": run.status,
        "driver_username": run.driver.username if run.driver else None,
        "started_at": run.started_at,
        "loaded_at": run.loaded_at,
        "finished_at": run.finished_at,
        "planned_km": report["planned_km"],
        "actual_km": report["actual_km"],
        "drops_planned": report["drops_planned"],
        "drops_done": report["drops_done"],
        "pickups_planned": report["pickups_planned"],
        "pickups_done": report["pickups_done"],
        "stops": [
            {
                "stop_id": s["stop"].pk,
                "position": s["stop"].position,
                "station_code": s["stop"].station.code,
                "station_name": s["stop"].station.name,
                "arrives_at": s["stop"].arrives_at,
                "arrived_at": s["stop"].arrived_at,
                "late_min": s["late_min"],
                "drops_planned": s["drops_planned"],
                "drops_done": s["drops_done"],
                "pickups_planned": s["pickups_planned"],
                "pickups_done": s["pickups_done"],
                "loaded": s["loaded"],
            }
            for s in report["stops"]
        ],
    }


# --- vehicles -----------------------------------------------------------------------------


@router.get("/vehicles", response={200: list[VehicleOut], **ERROR_RESPONSES})
def vehicles_list(
    request: HttpRequest,
    county: str = Query("", pattern=r"^[0-9]{0,12}$", description="a county code"),
):
    """The vehicles in the caller's scope (``county``: a county code to narrow it)."""
    user = _user(request, READ_ROLES)
    qs = plans.vehicles_in_scope(scope=scope_for_user(user))
    if county:
        qs = qs.filter(county_id=county[:12])
    return [vehicle_out(v) for v in qs[:500]]


@router.post("/vehicles", response={201: VehicleOut, **ERROR_RESPONSES})
def vehicle_post(request: HttpRequest, payload: VehicleIn):
    """Add a van: capacities > 0 (kg and pieces), shift end after start, depot = the
    county's centre (the default), driver = an active driver of the county."""
    user = _user(request, MANAGE_ROLES)
    data = payload.dict()
    v = plans.vehicle_create(scope=scope_for_user(user), **data)
    return Status(201, vehicle_out(plans.vehicle_get(scope=scope_for_user(user), vehicle_id=v.pk)))


@router.get("/vehicles/{vehicle_id}", response={200: VehicleOut, **ERROR_RESPONSES})
def vehicle_detail(request: HttpRequest, vehicle_id: Id):
    user = _user(request, READ_ROLES)
    return vehicle_out(plans.vehicle_get(scope=scope_for_user(user), vehicle_id=vehicle_id))


@router.patch("/vehicles/{vehicle_id}", response={200: VehicleOut, **ERROR_RESPONSES})
def vehicle_patch(request: HttpRequest, vehicle_id: Id, payload: VehiclePatch):
    """Change some fields; the whole vehicle is validated again. ``driver_id: null``
    with other fields keeps the driver; send ``driver_id: 0`` to remove him."""
    user = _user(request, MANAGE_ROLES)
    scope = scope_for_user(user)
    v = plans.vehicle_get(scope=scope, vehicle_id=vehicle_id)
    changes = payload.dict(exclude_unset=True)
    if "driver_id" in changes and not changes["driver_id"]:
        changes["driver_id"] = None
    v = plans.vehicle_update(scope=scope, vehicle=v, **changes)
    return vehicle_out(plans.vehicle_get(scope=scope, vehicle_id=v.pk))


# --- plans --------------------------------------------------------------------------------


@router.get("/plans", response={200: list[PlanSummaryOut], **ERROR_RESPONSES})
def plans_list(
    request: HttpRequest,
    county: str = Query("", pattern=r"^[0-9]{0,12}$", description="a county code"),
    date: IsoDate | None = None,
):
    """Plans in the caller's scope, newest day first (at most 200)."""
    user = _user(request, READ_ROLES)
    qs = plans.plan_list(scope=scope_for_user(user))
    if county:
        qs = qs.filter(county_id=county[:12])
    if date:
        qs = qs.filter(date=date)
    return [plan_summary(p) for p in qs.order_by("-date", "county_id")[:200]]


@router.post("/plans", response={201: PlanOut, **WRITE_ERRORS})
def plan_post(request: HttpRequest, payload: PlanIn):
    """Build the county's plan for ``date`` from the loads at its cut-off (the solver
    runs for ``time_limit`` seconds), check it independently and store it. An unstarted
    plan of the same day is replaced; once a run has started: 409. Stations that cannot
    be served are listed in ``unserved`` with the reason."""
    user = _user(request, MANAGE_ROLES)
    plan = plans.plan_build(
        scope=scope_for_user(user),
        county_code=payload.county_code,
        day=payload.date,
        time_limit=payload.time_limit,
        actor=user,
    )
    return Status(201, plan_out(plan))


@router.get("/plans/{plan_id}", response={200: PlanOut, **ERROR_RESPONSES})
def plan_detail(request: HttpRequest, plan_id: Id):
    """The plan: routes in order with their stops, loads (pieces, grams), planned
    times, metres and cost, and the stations left out with the reason."""
    user = _user(request, READ_ROLES)
    return plan_out(plans.plan_get(scope=scope_for_user(user), plan_id=plan_id))


@router.get("/plans/{plan_id}/geojson", response={200: dict, **ERROR_RESPONSES})
def plan_geojson(request: HttpRequest, plan_id: Id):
    """The routes as a GeoJSON FeatureCollection (GCJ-02 lon/lat): a LineString per
    route (depot → stops → depot) and a Point per stop."""
    user = _user(request, READ_ROLES)
    return plans.plan_geojson(plan=plans.plan_get(scope=scope_for_user(user), plan_id=plan_id))


# --- runs ---------------------------------------------------------------------------------


@router.post("/routes/{route_id}/start", response={201: RunOut, **ERROR_RESPONSES})
def run_start(request: HttpRequest, route_id: Id, payload: OdometerIn):
    """The driver starts the route's run (optionally with the odometer reading)."""
    user = _user(request, DRIVE_ROLES)
    scope = scope_for_user(user)
    route = runs.route_get(scope=scope, route_id=route_id)
    run = runs.run_start(scope=scope, route=route, actor=user, odometer_km=payload.odometer_km)
    return Status(201, run_out(runs.run_get(scope=scope, run_id=run.pk)))


@router.get("/runs/{run_id}", response={200: RunOut, **ERROR_RESPONSES})
def run_detail(request: HttpRequest, run_id: Id):
    """Planned vs actual: per stop the planned and actual arrival, drops and pickups
    planned and done; km planned and driven (from the odometer readings)."""
    user = _user(request, READ_ROLES)
    return run_out(runs.run_get(scope=scope_for_user(user), run_id=run_id))


@router.post("/runs/{run_id}/load", response={200: ScanOut, **ERROR_RESPONSES})
def run_load(request: HttpRequest, run_id: Id, payload: ScanIn):
    """装车: ``loaded`` scans at the depot for the route's parcels (all, or those listed)."""
    user = _user(request, DRIVE_ROLES)
    scope = scope_for_user(user)
    run = runs.run_get(scope=scope, run_id=run_id)
    return runs.run_load(
        scope=scope, run=run, actor=user, tracking_numbers=payload.tracking_numbers
    ).as_dict()


@router.post("/runs/{run_id}/stops/{stop_id}/arrive", response={200: StopOut, **ERROR_RESPONSES})
def run_arrive(request: HttpRequest, run_id: Id, stop_id: Id):
    """到达: the arrival time at the stop (the first tap counts)."""
    user = _user(request, DRIVE_ROLES)
    scope = scope_for_user(user)
    run = runs.run_get(scope=scope, run_id=run_id)
    stop = runs.stop_get(run=run, stop_id=stop_id)
    return stop_out(runs.run_arrive(scope=scope, run=run, stop=stop, actor=user))


@router.post("/runs/{run_id}/stops/{stop_id}/drop", response={200: ScanOut, **ERROR_RESPONSES})
def run_drop(request: HttpRequest, run_id: Id, stop_id: Id, payload: ScanIn):
    """卸货: ``at_station`` scans for the stop's parcels (all, or those listed)."""
    user = _user(request, DRIVE_ROLES)
    scope = scope_for_user(user)
    run = runs.run_get(scope=scope, run_id=run_id)
    stop = runs.stop_get(run=run, stop_id=stop_id)
    return runs.run_drop(
        scope=scope, run=run, stop=stop, actor=user, tracking_numbers=payload.tracking_numbers
    ).as_dict()


@router.post(
    "/runs/{run_id}/stops/{stop_id}/pickup", response={200: RunPickupOut, **ERROR_RESPONSES}
)
def run_pickup(request: HttpRequest, run_id: Id, stop_id: Id):
    """揽收: the shipments booked at the station are collected, returns get a
    ``collected`` scan."""
    user = _user(request, DRIVE_ROLES)
    scope = scope_for_user(user)
    run = runs.run_get(scope=scope, run_id=run_id)
    stop = runs.stop_get(run=run, stop_id=stop_id)
    return runs.run_pickup(scope=scope, run=run, stop=stop, actor=user)


@router.post("/runs/{run_id}/finish", response={200: RunOut, **ERROR_RESPONSES})
def run_finish(request: HttpRequest, run_id: Id, payload: FinishIn):
    """The run ends (optionally with the odometer reading and a note)."""
    user = _user(request, DRIVE_ROLES)
    scope = scope_for_user(user)
    run = runs.run_get(scope=scope, run_id=run_id)
    runs.run_finish(
        scope=scope, run=run, actor=user, odometer_km=payload.odometer_km, note=payload.note
    )
    return run_out(runs.run_get(scope=scope, run_id=run_id))
