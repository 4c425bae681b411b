"""Runs: a driver carries out one route of the plan. Every scan goes through the parcel
state machine (``services.scan_events_record``): ``loaded`` at the depot, ``at_station``
when dropped, ``collected`` for returns picked up; booked shipments become
``collected``. Each tap is idempotent: what is already done is not sent again."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from cunzhan.accounts.roles import Role
from cunzhan.core.errors import Conflict, NotFound, PermissionDenied, Unprocessable
from cunzhan.core.scope import RegionScope
from cunzhan.logistics import services, shipments
from cunzhan.logistics import statemachine as sm
from cunzhan.logistics.models import (
    Carrier,
    ExceptionStatus,
    ParcelException,
    ScanEvent,
    Shipment,
    ShipmentState,
)
from cunzhan.logistics.plan_models import (
    DailyPlan,
    PlanItem,
    PlanRoute,
    PlanStatus,
    PlanStop,
    Run,
    RunStatus,
)
from cunzhan.logistics.plans import plans_in_scope, returns_waiting_at

DEVICE = "cunzhan-driver"
MAX_ODOMETER_KM = Decimal("9999999")


def routes_in_scope(*, scope: RegionScope) -> QuerySet[PlanRoute]:
    return PlanRoute.objects.filter(plan__in=plans_in_scope(scope=scope)).select_related(
        "plan", "plan__county", "vehicle", "vehicle__depot", "vehicle__driver"
    )


def route_get(*, scope: RegionScope, route_id: int) -> PlanRoute:
    route = routes_in_scope(scope=scope).filter(pk=route_id).first()
    if route is None:
        raise NotFound()
    return route


def run_get(*, scope: RegionScope, run_id: int) -> Run:
    run = (
        Run.objects.filter(route__in=routes_in_scope(scope=scope), pk=run_id)
        .select_related("route", "route__plan", "route__vehicle", "route__vehicle__depot", "driver")
        .first()
    )
    if run is None:
        raise NotFound()
    return run


def stop_get(*, run: Run, stop_id: int) -> PlanStop:
    stop = PlanStop.objects.filter(route_id=run.route_id, pk=stop_id).select_related("station")
    found = stop.first()
    if found is None:
        raise NotFound()
    return found


def driver_routes(*, scope: RegionScope, user: Any, day: dt.date) -> list[PlanRoute]:
    """The routes of ``day`` for this driver: his vehicles' routes, else the routes of
    vehicles without a driver in his scope (he takes one); every route in scope for a
    county manager or admin."""
    today = routes_in_scope(scope=scope).filter(plan__date=day).order_by("plan_id", "position")
    if getattr(user, "role", "") != Role.DRIVER:  # a manager or admin acting for a driver
        return list(today)
    mine = list(today.filter(vehicle__driver=user))
    if mine:
        return mine
    return list(today.filter(vehicle__driver__isnull=True))


def _may_drive(route: PlanRoute, actor: Any) -> None:
    """A driver drives his vehicle's routes (or a vehicle without a driver); county
    managers and admins may act for a driver (in their scope, checked by the caller)."""
    role = getattr(actor, "role", "")
    if role in (Role.NETWORK_ADMIN, Role.COUNTY_MANAGER):
        return
    if role != Role.DRIVER:
        raise PermissionDenied("only drivers, county managers and admins record runs")
    driver_id = route.vehicle.driver_id
    if driver_id is not None and driver_id != getattr(actor, "pk", None):
        raise PermissionDenied("this route belongs to another driver")


def _odometer(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        raw = Decimal(str(value).strip())
        if not raw.is_finite():  # NaN, Infinity: not a reading
            raise InvalidOperation
        km = raw.quantize(Decimal("0.1"))
    except (InvalidOperation, ValueError):
        raise Unprocessable("odometer: kilometres, like 12345.6", code="invalid_run") from None
    if not Decimal(0) <= km <= MAX_ODOMETER_KM:
        raise Unprocessable("odometer: kilometres, 0 or more", code="invalid_run")
    return km


def _open(run: Run) -> None:
    """Lock the run (a tap at a time per run, inside the caller's transaction) and check
    that it is still open."""
    status = Run.objects.select_for_update().filter(pk=run.pk).values_list("status", flat=True)
    if next(iter(status), None) != RunStatus.STARTED:
        raise Conflict("this run is finished", code="run_finished")


def _lock_stop(stop: PlanStop) -> PlanStop:
    """Lock the stop row (inside the caller's transaction): two taps on one stop at once
    wait for each other."""
    return PlanStop.objects.select_for_update().select_related("station").get(pk=stop.pk)


def run_start(*, scope: RegionScope, route: PlanRoute, actor: Any, odometer_km: Any = None) -> Run:
    _may_drive(route, actor)
    km = _odometer(odometer_km)
    with transaction.atomic():
        # the plan first, as a rebuild does (plans._store): a rebuild cannot delete the
        # route while its run is being created
        plan = DailyPlan.objects.select_for_update().filter(pk=route.plan_id).first()
        locked = PlanRoute.objects.select_for_update().filter(pk=route.pk).first()
        if plan is None or locked is None:
            raise Conflict(
                "the plan was rebuilt meanwhile: open today's routes again",
                code="plan_rebuilt",
                status=409,
            )
        if Run.objects.filter(route=locked).exists():
            raise Conflict("this route's run has already started", code="run_started")
        run = Run.objects.create(
            route=locked,
            driver=actor if getattr(actor, "pk", None) else None,
            started_at=timezone.now(),
            odometer_start_km=km,
        )
        DailyPlan.objects.filter(pk=route.plan_id, status=PlanStatus.PLANNED).update(
            status=PlanStatus.IN_PROGRESS
        )
    return run


def _pick_items(items: list[PlanItem], tracking_numbers: list[str] | None) -> list[PlanItem]:
    if tracking_numbers is None:
        return items
    wanted = [t.strip() for t in tracking_numbers if t and t.strip()]
    if not wanted:
        raise Unprocessable("no tracking number given", code="invalid_scan")
    by_tn: dict[str, PlanItem] = {}
    for it in items:
        assert it.parcel is not None
        by_tn[it.parcel.tracking_number] = it
    unknown = [t for t in wanted if t not in by_tn]
    if unknown:
        raise Unprocessable(
            f"not on this stop's list: {', '.join(unknown[:10])}",
            code="not_on_route",
            details={"tracking_numbers": unknown},
        )
    return [by_tn[t] for t in dict.fromkeys(wanted)]


def _event_id(run: Run, type_: str, item: PlanItem) -> str:
    return f"run{run.pk}-{type_}-{item.pk}"


def _stored(items: list[PlanItem], run: Run, type_: str) -> dict[int, bool]:
    """The items whose event of ``type_`` is already stored: item id → applied (False
    when the event was illegal and its exception is still open)."""
    if not items:
        return {}
    by_eid = {_event_id(run, type_, it): it.pk for it in items}
    stored = dict(ScanEvent.objects.filter(event_id__in=list(by_eid)).values_list("event_id", "pk"))
    if not stored:
        return {}
    illegal = set(
        ParcelException.objects.filter(
            event_id__in=list(stored.values()),
            problem=ParcelException.Problem.ILLEGAL_TRANSITION,
            status=ExceptionStatus.OPEN,
        ).values_list("event_id", flat=True)
    )
    return {by_eid[eid]: pk not in illegal for eid, pk in stored.items()}


def _events(
    items: list[PlanItem], run: Run, type_: str, at: dt.datetime, station_code: str
) -> list[dict[str, Any]]:
    """One scan event per item; ``event_id`` is stable per run, type and item, so a tap
    repeated after a lost answer is recognised as a duplicate."""
    ids = {it.parcel.carrier_id for it in items if it.parcel is not None}
    codes = dict(Carrier.objects.filter(pk__in=ids).values_list("pk", "code"))
    return [
        {
            "event_id": _event_id(run, type_, it),
            "carrier": codes[it.parcel.carrier_id],  # type: ignore[union-attr]
            "tracking_number": it.parcel.tracking_number,  # type: ignore[union-attr]
            "type": type_,
            "occurred_at": at,
            "station_code": station_code,
            "device": DEVICE,
        }
        for it in items
    ]


@dataclass
class ScanResult:
    sent: int  # events sent
    applied: int
    illegal: int  # stored but not legal in the parcel's state (an exception is opened)

    def as_dict(self) -> dict[str, int]:
        return {"sent": self.sent, "applied": self.applied, "illegal": self.illegal}


def _record(
    scope: RegionScope,
    items: list[PlanItem],
    run: Run,
    type_: str,
    at: dt.datetime,
    station_code: str,
    actor: Any,
) -> tuple[ScanResult, set[int]]:
    """Send one event per item whose event is not stored yet (a tap repeated after an
    illegal answer must not send the same event id again with another time: the whole
    batch would be refused); answer the counts and the ids of the items whose event was
    applied, now or before."""
    if not items:
        return ScanResult(0, 0, 0), set()
    stored = _stored(items, run, type_)
    ok = {pk for pk, applied_before in stored.items() if applied_before}
    to_send = [it for it in items if it.pk not in stored]
    if not to_send:
        return ScanResult(0, 0, 0), ok
    events = _events(to_send, run, type_, at, station_code)
    statuses = services.scan_events_record(scope=scope, events=events, actor=actor)
    applied = illegal = 0
    for it, s in zip(to_send, statuses, strict=True):
        if s["status"] == "illegal":
            illegal += 1
        else:
            applied += s["status"] == "applied"
            ok.add(it.pk)
    return ScanResult(len(to_send), applied, illegal), ok


def run_load(
    *, scope: RegionScope, run: Run, actor: Any, tracking_numbers: list[str] | None = None
) -> ScanResult:
    """装车: a ``loaded`` event at the depot for the route's drops not loaded yet (all of
    them, or those scanned)."""
    _may_drive(run.route, actor)
    with transaction.atomic():
        _open(run)
        pending = list(
            PlanItem.objects.filter(
                stop__route_id=run.route_id, kind=PlanItem.Kind.DROP, loaded_at__isnull=True
            ).select_related("parcel")
        )
        items = _pick_items(pending, tracking_numbers)
        now = timezone.now()
        depot = run.route.vehicle.depot.code
        result, ok = _record(scope, items, run, sm.LOADED, now, depot, actor)
        PlanItem.objects.filter(pk__in=ok).update(loaded_at=now)
        if run.loaded_at is None:
            run.loaded_at = now
            run.save(update_fields=["loaded_at"])
    return result


def run_arrive(*, scope: RegionScope, run: Run, stop: PlanStop, actor: Any) -> PlanStop:
    """到达: the arrival time at the stop (the first tap counts)."""
    _may_drive(run.route, actor)
    with transaction.atomic():
        _open(run)
        PlanStop.objects.filter(pk=stop.pk, arrived_at__isnull=True).update(
            arrived_at=timezone.now()
        )
        stop.arrived_at = PlanStop.objects.get(pk=stop.pk).arrived_at
    return stop


def run_drop(
    *,
    scope: RegionScope,
    run: Run,
    stop: PlanStop,
    actor: Any,
    tracking_numbers: list[str] | None = None,
) -> ScanResult:
    """卸货: ``at_station`` events for the stop's parcels not dropped yet (all, or those
    scanned). A parcel not scanned at loading gets its ``loaded`` event first. A parcel
    the station operator has already received here counts as dropped (nothing sent); a
    parcel whose ``loaded`` event was illegal waits for its exception to be handled (it
    does not hold up the rest of the stop)."""
    _may_drive(run.route, actor)
    with transaction.atomic():
        _open(run)
        stop = _lock_stop(stop)
        if stop.arrived_at is None:
            stop.arrived_at = timezone.now()
            stop.save(update_fields=["arrived_at"])
        pending = list(
            stop.items.filter(kind=PlanItem.Kind.DROP, done_at__isnull=True).select_related(
                "parcel"
            )
        )
        items = _pick_items(pending, tracking_numbers)
        now = timezone.now()
        received = [
            it
            for it in items
            if it.parcel is not None
            and it.parcel.state == sm.AT_STATION
            and it.parcel.station_id == stop.station_id
        ]
        items = [it for it in items if it not in received]
        unloaded = [it for it in items if it.loaded_at is None]
        blocked: set[int] = set()
        if unloaded:
            _r, ok_loaded = _record(
                scope,
                unloaded,
                run,
                sm.LOADED,
                now - dt.timedelta(seconds=1),
                run.route.vehicle.depot.code,
                actor,
            )
            PlanItem.objects.filter(pk__in=ok_loaded).update(loaded_at=now)
            not_ok = [it.pk for it in unloaded if it.pk not in ok_loaded]
            # an illegal ``loaded`` holds the parcel back unless it is loaded all the same
            blocked = set(
                PlanItem.objects.filter(pk__in=not_ok)
                .exclude(parcel__state=sm.LOADED)
                .values_list("pk", flat=True)
            )
        to_drop = [it for it in items if it.pk not in blocked]
        result, ok = _record(scope, to_drop, run, sm.AT_STATION, now, stop.station.code, actor)
        result.illegal += len(blocked)
        PlanItem.objects.filter(pk__in=ok | {it.pk for it in received}).update(done_at=now)
        stop.dropped = stop.items.filter(kind=PlanItem.Kind.DROP, done_at__isnull=False).count()
        stop.save(update_fields=["dropped"])
    return result


def run_pickup(*, scope: RegionScope, run: Run, stop: PlanStop, actor: Any) -> dict[str, int]:
    """揽收: every shipment booked at the station becomes ``collected`` and every parcel
    waiting there to go back gets a ``collected`` event — the planned ones and what was
    booked or refused since the plan was built (added to the stop, ``planned`` False)."""
    _may_drive(run.route, actor)
    with transaction.atomic():
        _open(run)
        # two taps at once would both read the items and insert the same extras
        stop = _lock_stop(stop)
        run_arrive(scope=scope, run=run, stop=stop, actor=actor)
        now = timezone.now()
        station = stop.station
        known_s = set(stop.items.exclude(shipment=None).values_list("shipment_id", flat=True))
        known_p = set(
            stop.items.filter(kind=PlanItem.Kind.RETURN).values_list("parcel_id", flat=True)
        )
        extra = [
            PlanItem(
                stop=stop,
                kind=PlanItem.Kind.SHIPMENT,
                shipment=s,
                pieces=s.pieces,
                weight_g=s.weight_g,
                planned=False,
            )
            for s in Shipment.objects.filter(station=station, state=ShipmentState.BOOKED).exclude(
                pk__in=known_s
            )
        ]
        extra += [
            PlanItem(
                stop=stop, kind=PlanItem.Kind.RETURN, parcel=p, weight_g=p.weight_g, planned=False
            )
            for p in returns_waiting_at([station.pk]).exclude(pk__in=known_p)
        ]
        PlanItem.objects.bulk_create(extra)
        ship_items = list(
            stop.items.filter(kind=PlanItem.Kind.SHIPMENT, done_at__isnull=True).select_related(
                "shipment"
            )
        )
        ids = [it.shipment_id for it in ship_items if it.shipment_id is not None]
        collectable = shipments.shipments_collect_many(shipment_ids=ids, at=now)
        PlanItem.objects.filter(
            pk__in=[it.pk for it in ship_items if it.shipment_id in collectable]
        ).update(done_at=now)
        returns = list(
            stop.items.filter(kind=PlanItem.Kind.RETURN, done_at__isnull=True).select_related(
                "parcel"
            )
        )
        result, ok = _record(scope, returns, run, sm.COLLECTED, now, station.code, actor)
        PlanItem.objects.filter(pk__in=ok).update(done_at=now)
        stop.picked_shipments = stop.items.filter(
            kind=PlanItem.Kind.SHIPMENT, done_at__isnull=False
        ).count()
        stop.picked_returns = stop.items.filter(
            kind=PlanItem.Kind.RETURN, done_at__isnull=False
        ).count()
        stop.save(update_fields=["picked_shipments", "picked_returns"])
    return {
        "shipments": len(collectable),
        "returns": result.applied,
        "illegal": result.illegal,
    }


def run_finish(
    *, scope: RegionScope, run: Run, actor: Any, odometer_km: Any = None, note: str = ""
) -> Run:
    _may_drive(run.route, actor)
    km = _odometer(odometer_km)
    if km is not None and run.odometer_start_km is not None and km < run.odometer_start_km:
        raise Unprocessable(
            f"odometer at the end ({km} km) is below the start ({run.odometer_start_km} km)",
            code="invalid_run",
        )
    with transaction.atomic():
        _open(run)
        run.status = RunStatus.FINISHED
        run.finished_at = timezone.now()
        run.odometer_end_km = km
        run.note = (note or "")[:300]
        run.save(update_fields=["status", "finished_at", "odometer_end_km", "note"])
        plan = run.route.plan
        unfinished = plan.routes.exclude(run__status=RunStatus.FINISHED).exists()
        if not unfinished:
            DailyPlan.objects.filter(pk=plan.pk).update(status=PlanStatus.DONE)
    return run


# --- planned vs actual --------------------------------------------------------------------


def run_report(*, route: PlanRoute) -> dict[str, Any]:
    """Planned vs actual for a route (its run, if started): per stop arrival planned and
    actual (minutes late, negative = early), drops and pickups planned vs done, km."""
    run: Run | None
    try:
        run = route.run
    except Run.DoesNotExist:
        run = None
    stops: list[dict[str, Any]] = []
    for s in route.stops.select_related("station").prefetch_related("items").order_by("position"):
        planned_items = list(s.items.all())
        late = None
        if s.arrived_at is not None:
            late = round((s.arrived_at - s.arrives_at).total_seconds() / 60)
        stops.append(
            {
                "stop": s,
                "late_min": late,
                "drops_planned": sum(1 for i in planned_items if i.kind == "drop"),
                "drops_done": sum(1 for i in planned_items if i.kind == "drop" and i.done_at),
                "pickups_planned": sum(
                    i.pieces for i in planned_items if i.kind != "drop" and i.planned
                ),
                "pickups_done": sum(
                    i.pieces for i in planned_items if i.kind != "drop" and i.done_at
                ),
                "loaded": sum(1 for i in planned_items if i.kind == "drop" and i.loaded_at),
            }
        )
    actual_km = None
    if run and run.odometer_start_km is not None and run.odometer_end_km is not None:
        actual_km = float(run.odometer_end_km - run.odometer_start_km)
    totals = {
        k: sum(s[k] for s in stops)
        for k in ("drops_planned", "drops_done", "pickups_planned", "pickups_done", "loaded")
    }
    return {
        "route": route,
        "run": run,
        "stops": stops,
        "planned_km": round(route.metres / 1000, 1),
        "actual_km": actual_km,
        "visited": sum(1 for s in stops if s["stop"].arrived_at),
        **totals,
    }
