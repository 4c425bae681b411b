"""The desks: what the county centre and the station operator read and do on their pages.

Reads (``*_figures``, ``*_groups``, lists) and writes that wrap :mod:`services` for a
person at a desk: a scan form (receive at the centre, sort, arrival at a station) turns
lines of tracking numbers into ONE validated batch of scan events (an unknown tracking
number stops the whole batch and names its line: nothing is written), and an
exception is resolved, for an unmatched parcel by giving it a station (audited).

Event ids of desk scans are ``desk-<type>-<parcel id>``: scanning a parcel again is
reported as a duplicate and changes nothing.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from django.apps import apps
from django.db import transaction
from django.db.models import Count, Exists, OuterRef, Q, QuerySet, Sum
from django.utils import timezone

from cunzhan.core.audit import audit_record, snapshot
from cunzhan.core.errors import ApplicationError, Conflict, NotFound, Unprocessable
from cunzhan.core.scope import RegionScope, prefix_q
from cunzhan.logistics import selectors, services
from cunzhan.logistics import statemachine as sm
from cunzhan.logistics.models import (
    Carrier,
    ExceptionStatus,
    Parcel,
    ParcelException,
    ScanEvent,
    in_states,
)
from cunzhan.network.models import Level, Region, Station, StationKind, StationStatus

__all__ = [
    "ScanLine",
    "county_choices",
    "county_figures",
    "county_get",
    "desk_scan",
    "exception_get",
    "exception_list",
    "exception_resolve_with_station",
    "exception_station_choices",
    "inbound_by_carrier",
    "parcel_return_due",
    "sorting_groups",
    "station_aging",
    "station_figures",
    "station_to_receive",
    "station_waiting",
]

MAX_LINES = 2000
APPLIED = "applied"  # the statuses services.scan_events_record answers per event
DUPLICATE = "duplicate"
MISSING_AFTER = dt.timedelta(days=1)  # announced but not received after a day: missing
WAITING_BEFORE_STATION = (sm.ANNOUNCED, sm.RECEIVED_AT_COUNTY, sm.SORTED)


# --- counties ----------------------------------------------------------------------------


def county_get(*, scope: RegionScope, code: str) -> Region:
    """A county (6-digit code) inside the caller's scope, else NotFound."""
    code = (code or "").strip()
    if not re.fullmatch(r"[0-9]{6}", code) or not scope.contains_code(code):
        raise NotFound("county not found", code="county_not_found")
    county = Region.objects.filter(code=code, level=Level.COUNTY).first()
    if county is None:
        raise NotFound("county not found", code="county_not_found")
    return county


def county_choices(*, scope: RegionScope) -> list[Region]:
    """The counties in scope that have a village station (where parcels can go)."""
    codes = {
        rid[:6]
        for rid in Station.objects.filter(scope.q("region_id"), kind=StationKind.VILLAGE_STATION)
        .values_list("region_id", flat=True)
        .distinct()
    }
    codes |= {p for p in scope.prefixes if len(p) == 6}
    return list(
        Region.objects.filter(code__in=codes, level=Level.COUNTY)
        .filter(scope.q("code"))
        .order_by("code")
    )


def _county_parcels(scope: RegionScope, county: str) -> QuerySet[Parcel]:
    return selectors.parcels_in_scope(scope=scope).filter(prefix_q("village_id", county))


def _day_start(now: dt.datetime) -> dt.datetime:
    local = timezone.localtime(now)
    return local.replace(hour=0, minute=0, second=0, microsecond=0)


def county_figures(*, scope: RegionScope, county: str, now: dt.datetime | None = None) -> dict:
    """Where the county's parcels are now, and what happened today."""
    now = now or timezone.now()
    parcels = _county_parcels(scope, county)
    by_state = dict(parcels.values_list("state").annotate(n=Count("id")).order_by())
    settings = selectors.county_settings(county_code=county)
    overdue = parcels.filter(
        in_states(sm.AT_STATION), state_at__lte=now - dt.timedelta(days=settings.reminder_days)
    ).count()
    start = _day_start(now)
    today = dict(
        ScanEvent.objects.filter(parcel__in=parcels, occurred_at__gte=start)
        .values_list("type")
        .annotate(n=Count("id"))
        .order_by()
    )
    exceptions = ParcelException.objects.filter(
        parcel__in=parcels, status=ExceptionStatus.OPEN
    ).count()
    return {
        "announced": by_state.get(sm.ANNOUNCED, 0),
        "at_centre": by_state.get(sm.RECEIVED_AT_COUNTY, 0),
        "sorted": by_state.get(sm.SORTED, 0),
        "on_runs": by_state.get(sm.LOADED, 0),
        "waiting": by_state.get(sm.AT_STATION, 0),
        "overdue": overdue,
        "returns": by_state.get(sm.RETURN_DUE, 0)
        + by_state.get(sm.REFUSED, 0)
        + by_state.get(sm.DAMAGED, 0),
        "collected": by_state.get(sm.COLLECTED, 0),
        "exceptions": exceptions,
        "today": {
            "announced": today.get(sm.ANNOUNCED, 0),
            "received": today.get(sm.RECEIVED_AT_COUNTY, 0),
            "at_station": today.get(sm.AT_STATION, 0),
            "picked_up": today.get(sm.PICKED_UP, 0),
        },
        "reminder_days": settings.reminder_days,
    }


def inbound_by_carrier(
    *, scope: RegionScope, county: str, now: dt.datetime | None = None
) -> list[dict[str, Any]]:
    """Per carrier, today and this week (from Monday): announced, received at the
    centre; and missing now (announced more than a day ago, not received)."""
    now = now or timezone.now()
    today = _day_start(now)
    week = today - dt.timedelta(days=today.weekday())
    parcels = _county_parcels(scope, county)
    rows: dict[str, dict[str, Any]] = defaultdict(
        lambda: {
            "today_announced": 0,
            "today_received": 0,
            "week_announced": 0,
            "week_received": 0,
            "missing": 0,
        }
    )
    events = (
        ScanEvent.objects.filter(
            parcel__in=parcels,
            type__in=[sm.ANNOUNCED, sm.RECEIVED_AT_COUNTY],
            occurred_at__gte=week,
        )
        .values_list("parcel__carrier__code", "type")
        .annotate(
            week=Count("id"),
            today=Count("id", filter=Q(occurred_at__gte=today)),
        )
        .order_by()
    )
    for carrier, type_, n_week, n_today in events:
        key = "announced" if type_ == sm.ANNOUNCED else "received"
        rows[carrier][f"week_{key}"] += n_week
        rows[carrier][f"today_{key}"] += n_today
    missing = (
        parcels.filter(in_states(sm.ANNOUNCED), state_at__lt=now - MISSING_AFTER)
        .values_list("carrier__code")
        .annotate(n=Count("id"))
        .order_by()
    )
    for carrier, n in missing:
        rows[carrier]["missing"] = n
    names = dict(Carrier.objects.filter(code__in=list(rows)).values_list("code", "name"))
    return [
        {"carrier": code, "carrier_name": names.get(code, code), **rows[code]}
        for code in sorted(rows)
    ]


PLAN_MODELS = ("DailyPlan", "PlanStop")  # the planning pages' models (ADR 0011), if present


def _plan_routes(county: str) -> dict[int, tuple[tuple[int, int], str]]:
    """station id -> (sort key, label) of its stop in the county's plan for today, when
    the planning models exist (``DailyPlan`` / ``PlanStop``, see ADR 0011); empty
    otherwise, or when there is no plan today."""
    try:
        plan_model, stop_model = (apps.get_model("logistics", m) for m in PLAN_MODELS)
    except LookupError:
        return {}
    try:
        with transaction.atomic():  # a savepoint: a failed query leaves no broken transaction
            plan = plan_model.objects.filter(county_id=county, date=timezone.localdate()).first()
            if plan is None:
                return {}
            stops = stop_model.objects.filter(route__plan=plan).values_list(
                "station_id", "route__position", "route__vehicle__name", "position"
            )
            return {
                station_id: ((route, stop), f"{route} · {vehicle} · #{stop}")
                for station_id, route, vehicle, stop in stops
            }
    except Exception:  # a plan of another shape must not break the sorting page
        return {}


def sorting_groups(*, scope: RegionScope, county: str) -> dict[str, Any]:
    """The parcels at the centre (received: to sort; sorted: ready to load), grouped by
    township then station (with today's route when a plan exists): counts and weight."""
    parcels = _county_parcels(scope, county).filter(in_states(sm.RECEIVED_AT_COUNTY, sm.SORTED))
    rows = (
        parcels.values_list("village_id", "station_id", "state")
        .annotate(n=Count("id"), w=Sum("weight_g"))
        .order_by()
    )
    per_station: dict[int | None, dict[str, Any]] = {}
    for village, station_id, state, n, w in rows:
        key = station_id
        d = per_station.setdefault(
            key,
            {
                "station_id": station_id,
                "township": village[:9],
                "to_sort": 0,
                "sorted": 0,
                "weight_g": 0,
            },
        )
        d["to_sort" if state == sm.RECEIVED_AT_COUNTY else "sorted"] += n
        d["weight_g"] += w or 0
    stations = {
        s.pk: s for s in Station.objects.filter(pk__in=[k for k in per_station if k is not None])
    }
    routes = _plan_routes(county)
    townships = dict(
        Region.objects.filter(code__in={d["township"] for d in per_station.values()}).values_list(
            "code", "name"
        )
    )
    groups: dict[str, dict[str, Any]] = {}
    for key, d in per_station.items():
        st = stations.get(key) if key is not None else None
        if st is not None:
            d["township"] = st.region_id[:9]
        d["station"] = st
        route = routes.get(key or 0)
        d["route"] = route[1] if route else ""
        d["route_key"] = route[0] if route else (10**6, 0)
        g = groups.setdefault(
            d["township"],
            {
                "code": d["township"],
                "name": townships.get(d["township"], d["township"]),
                "stations": [],
                "to_sort": 0,
                "sorted": 0,
                "weight_g": 0,
            },
        )
        g["stations"].append(d)
        for k in ("to_sort", "sorted", "weight_g"):
            g[k] += d[k]
    out = sorted(groups.values(), key=lambda g: g["code"])
    for d in per_station.values():
        d["weight_kg"] = f"{d['weight_g'] / 1000:.1f}"
    for g in out:
        g["weight_kg"] = f"{g['weight_g'] / 1000:.1f}"
        g["stations"].sort(
            key=lambda d: (d["route_key"], d["station"].code if d["station"] else "")
        )
    return {
        "groups": out,
        "to_sort": sum(g["to_sort"] for g in out),
        "sorted": sum(g["sorted"] for g in out),
        "weight_g": sum(g["weight_g"] for g in out),
        "has_routes": bool(routes),
    }


# --- desk scans --------------------------------------------------------------------------


@dataclass
class ScanLine:
    line: int
    text: str
    parcel: Parcel | None = None
    status: str = ""  # applied, duplicate, illegal
    problem: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def _parse_lines(text: str) -> list[tuple[int, str, str]]:
    """(line number, carrier or '', tracking number) for each non-empty line. A line is
    a tracking number, or a carrier code and a tracking number ("ZTO 7812...")."""
    out = []
    for n, raw in enumerate((text or "").splitlines(), start=1):
        parts = [p for p in re.split(r"[\s,;，；:]+", raw.strip()) if p]
        if not parts:
            continue
        if len(parts) == 1:
            out.append((n, "", parts[0]))
        else:
            out.append((n, parts[0].upper(), parts[-1]))
    return out


def desk_scan(
    *,
    scope: RegionScope,
    type_: str,
    lines: str,
    actor: Any = None,
    carrier: str = "",
    county: str = "",
    station: Station | None = None,
    device: str = "desk",
    now: dt.datetime | None = None,
) -> list[ScanLine]:
    """Record one scan event of ``type_`` per line of tracking numbers. The carrier is
    ``carrier`` if chosen, else the line's own prefix, else inferred (the only parcel with
    that number in scope). Every line is checked first: a line naming no parcel (or two
    carriers' parcels, or one outside ``county``/``station``) stops the whole batch with
    an ``unknown_tracking`` error whose details list the lines; nothing is written."""
    if type_ not in (sm.RECEIVED_AT_COUNTY, sm.SORTED, sm.AT_STATION, sm.RETURNED):
        raise ApplicationError(f"not a desk scan: {type_!r}", code="invalid_scan")
    parsed = _parse_lines(lines)
    if not parsed:
        raise ApplicationError("no tracking number given", code="invalid_scan")
    if len(parsed) > MAX_LINES:
        raise ApplicationError(
            f"at most {MAX_LINES} lines at once, got {len(parsed)}", code="batch_too_large"
        )
    carrier = (carrier or "").strip().upper()
    if carrier and not Carrier.objects.filter(code=carrier).exists():
        raise ApplicationError(f"unknown carrier {carrier!r}", code="unknown_carrier")
    qs = selectors.parcels_in_scope(scope=scope)
    if county:
        qs = qs.filter(prefix_q("village_id", county))
    if station is not None:
        qs = qs.filter(station=station)
    tns = {tn for _, _, tn in parsed}
    found: dict[str, list[Parcel]] = defaultdict(list)
    for p in qs.filter(tracking_number__in=tns).select_related("carrier", "station", "village"):
        found[p.tracking_number].append(p)
    errors: list[dict[str, Any]] = []
    result: list[ScanLine] = []
    for n, line_carrier, tn in parsed:
        want = carrier or line_carrier
        cands = [p for p in found.get(tn, []) if not want or p.carrier.code == want]
        if len(cands) == 1:
            result.append(ScanLine(line=n, text=tn, parcel=cands[0]))
            continue
        if not cands:
            errors.append({"line": n, "tracking_number": tn, "problem": "unknown"})
        else:
            errors.append({"line": n, "tracking_number": tn, "problem": "ambiguous"})
    if errors:
        first = errors[0]
        raise ApplicationError(
            f"line {first['line']}: {first['problem']} tracking number {first['tracking_number']}"
            f" ({len(errors)} line(s)); nothing was recorded",
            code="unknown_tracking",
            details={"errors": errors},
        )
    when = now or timezone.now()
    events: list[dict[str, Any]] = []
    seen: set[str] = set()
    existing = set(
        ScanEvent.objects.filter(
            event_id__in=[f"desk-{type_}-{s.parcel.pk}" for s in result if s.parcel]
        ).values_list("event_id", flat=True)
    )
    for s in result:
        assert s.parcel is not None
        eid = f"desk-{type_}-{s.parcel.pk}"
        if eid in existing or eid in seen:
            s.status = DUPLICATE
            continue
        seen.add(eid)
        events.append(
            {
                "event_id": eid,
                "carrier": s.parcel.carrier.code,
                "tracking_number": s.parcel.tracking_number,
                "type": type_,
                "occurred_at": when,
                "station_code": station.code if station is not None else "",
                "device": device,
            }
        )
    if events:
        statuses = services.scan_events_record(scope=scope, events=events, actor=actor)
        by_id = {st["event_id"]: st["status"] for st in statuses}
        for s in result:
            if not s.status:
                assert s.parcel is not None
                s.status = by_id.get(f"desk-{type_}-{s.parcel.pk}", APPLIED)
    pks = [s.parcel.pk for s in result if s.parcel is not None]
    fresh = {p.pk: p for p in Parcel.objects.filter(pk__in=pks).select_related("station")}
    for s in result:
        if s.parcel is not None:
            s.parcel = fresh.get(s.parcel.pk, s.parcel)
    return result


# --- returns ------------------------------------------------------------------------------


def returns_to_hand_back(*, scope: RegionScope, county: str) -> dict[str, Any]:
    """The parcels at the county centre to give back to their carriers, by carrier
    (oldest first): returns a run brought up from the stations (``collected``) and
    parcels damaged at the centre or on the way (a ``damaged`` scan at no station).
    Refused or damaged parcels still at a station are not here: a run collects them."""
    damaged_at_station = ScanEvent.objects.filter(
        parcel_id=OuterRef("pk"), type=sm.DAMAGED, station__isnull=False
    )
    qs = (
        _county_parcels(scope, county)
        .filter(in_states(sm.COLLECTED) | (in_states(sm.DAMAGED) & ~Exists(damaged_at_station)))
        .select_related("carrier", "station")
        .order_by("carrier_id", "state_at", "pk")
    )
    by_carrier: dict[str, list[Parcel]] = defaultdict(list)
    for p in qs[:2000]:
        by_carrier[p.carrier.code].append(p)
    return {
        "total": qs.count(),
        "carriers": [{"code": c, "parcels": ps} for c, ps in sorted(by_carrier.items())],
    }


# --- exceptions --------------------------------------------------------------------------


def exception_list(
    *,
    scope: RegionScope,
    county: str = "",
    problem: str = "",
    status: str = ExceptionStatus.OPEN,
    q: str = "",
) -> QuerySet[ParcelException]:
    """Exceptions in scope, newest first; filters: county (a region code prefix), problem, status
    (``open``, ``resolved``, or '' for both), ``q`` (tracking number prefix)."""
    if problem and problem not in ParcelException.Problem.values:
        raise ApplicationError(f"unknown problem {problem!r}", code="invalid_filter")
    if status and status not in ExceptionStatus.values:
        raise ApplicationError(f"unknown status {status!r}", code="invalid_filter")
    if county and not re.fullmatch(r"[0-9]{1,12}", county):
        raise ApplicationError("county: a region code (digits)", code="invalid_filter")
    parcels = selectors.parcels_in_scope(scope=scope)
    if county:
        parcels = parcels.filter(prefix_q("village_id", county))
    qs = ParcelException.objects.filter(parcel__in=parcels)
    if problem:
        qs = qs.filter(problem=problem)
    if status:
        qs = qs.filter(status=status)
    if q:
        qs = qs.filter(parcel__tracking_number__startswith=q.strip()[:40])
    return qs.select_related(
        "parcel", "parcel__carrier", "parcel__village", "parcel__station", "event"
    ).order_by("-created_at", "-id")


def exception_get(*, scope: RegionScope, exception_id: int) -> ParcelException:
    x = (
        ParcelException.objects.filter(pk=exception_id)
        .select_related("parcel", "parcel__carrier", "parcel__village", "parcel__station", "event")
        .first()
    )
    if x is None or not selectors.parcels_in_scope(scope=scope).filter(pk=x.parcel_id).exists():
        raise NotFound("exception not found", code="exception_not_found")
    return x


def exception_station_choices(*, scope: RegionScope, parcel: Parcel) -> list[Station]:
    """Where an unmatched parcel may go: an active village station of its village, or of
    another village in the same township."""
    return list(
        Station.objects.filter(
            prefix_q("region_id", parcel.village_id[:9]),
            scope.q("region_id"),
            kind=StationKind.VILLAGE_STATION,
            status=StationStatus.ACTIVE,
        )
        .select_related("region")
        .order_by("region_id", "code")
    )


def exception_resolve_with_station(
    *,
    scope: RegionScope,
    exception_id: int,
    note: str,
    station_code: str = "",
    actor: Any = None,
) -> ParcelException:
    """Resolve an open exception with a note. For an unmatched parcel, ``station_code``
    (optional) gives it a station: an active village station of its village or of
    another village of the same township, while the parcel has not reached a station.
    Audited."""
    note = (note or "").strip()
    if not note:
        raise Unprocessable("a note is required", code="note_required")
    if len(note) > 300:
        raise Unprocessable("the note has at most 300 characters", code="invalid_note")
    station_code = (station_code or "").strip()
    with transaction.atomic():
        x = exception_get(scope=scope, exception_id=exception_id)
        # the parcel first, then its exception: the order of the event batches, which
        # lock parcels and then update their exceptions (no deadlock between the two)
        parcel = Parcel.objects.select_for_update().get(pk=x.parcel_id)
        x = ParcelException.objects.select_for_update().get(pk=x.pk)
        if x.status != ExceptionStatus.OPEN:
            raise Conflict("the exception is already resolved", code="already_resolved")
        x.parcel = parcel
        before = snapshot(parcel, fields=["station"])
        if station_code:
            if x.problem != ParcelException.Problem.UNMATCHED:
                raise Unprocessable(
                    "a station is given only to an unmatched parcel", code="invalid_station"
                )
            allowed = {s.code: s for s in exception_station_choices(scope=scope, parcel=parcel)}
            station = allowed.get(station_code)
            if station is None:
                raise Unprocessable(
                    f"station {station_code} is not an active village station of the "
                    f"parcel's township",
                    code="invalid_station",
                )
            if parcel.state not in WAITING_BEFORE_STATION:
                raise Conflict(
                    f"the parcel is already {parcel.state}: too late to change its station",
                    code="invalid_state",
                )
            parcel.station = station
            parcel.save(update_fields=["station", "updated_at"])
        services.exception_resolve(scope=scope, exc=x, actor=actor, note=note)
        audit_record(
            action="resolve",
            object_type="logistics.ParcelException",
            object_id=x.pk,
            object_repr=f"{parcel} {x.problem}",
            region_code=parcel.village_id,
            before={"status": ExceptionStatus.OPEN, **before},
            after={"status": x.status, **snapshot(parcel, fields=["station"])},
            note=note,
            actor=actor,
        )
    return x


# --- stations ----------------------------------------------------------------------------


def _station_parcels(scope: RegionScope, station: Station) -> QuerySet[Parcel]:
    return (
        selectors.parcels_in_scope(scope=scope)
        .filter(station=station)
        .select_related("carrier", "village")
    )


def station_to_receive(*, scope: RegionScope, station: Station) -> QuerySet[Parcel]:
    """Loaded on a run for this station: to confirm on arrival."""
    return _station_parcels(scope, station).filter(in_states(sm.LOADED)).order_by("tracking_number")


def station_waiting(*, scope: RegionScope, station: Station) -> QuerySet[Parcel]:
    """Waiting for pickup, by shelf slot."""
    return _station_parcels(scope, station).filter(in_states(sm.AT_STATION)).order_by("shelf_slot")


def station_aging(
    *, scope: RegionScope, station: Station, now: dt.datetime | None = None
) -> tuple[QuerySet[Parcel], int]:
    """Waiting at least the county's ``reminder_days``, oldest first; and those days."""
    now = now or timezone.now()
    days = selectors.county_settings(county_code=station.region_id).reminder_days
    qs = (
        _station_parcels(scope, station)
        .filter(in_states(sm.AT_STATION), state_at__lte=now - dt.timedelta(days=days))
        .order_by("state_at", "id")
    )
    return qs, days


def station_figures(
    *, scope: RegionScope, station: Station, now: dt.datetime | None = None
) -> dict[str, int]:
    now = now or timezone.now()
    parcels = _station_parcels(scope, station)
    by_state = dict(parcels.values_list("state").annotate(n=Count("id")).order_by())
    aging, _days = station_aging(scope=scope, station=station, now=now)
    picked_today = ScanEvent.objects.filter(
        parcel__in=parcels, type=sm.PICKED_UP, occurred_at__gte=_day_start(now)
    ).count()
    return {
        "to_receive": by_state.get(sm.LOADED, 0),
        "waiting": by_state.get(sm.AT_STATION, 0),
        "aging": aging.count(),
        "returns": by_state.get(sm.RETURN_DUE, 0) + by_state.get(sm.REFUSED, 0),
        "picked_today": picked_today,
    }


def parcel_return_due(
    *, scope: RegionScope, station: Station, parcel_id: Any, actor: Any = None
) -> Parcel:
    """Mark a parcel waiting at ``station`` to go back to the carrier (``return_due``)."""
    parcel = _station_parcels(scope, station).filter(uuid=parcel_id).first()
    if parcel is None:
        raise NotFound("parcel not found")
    if parcel.state != sm.AT_STATION:
        raise ApplicationError("the parcel is not waiting at the station", code="not_waiting")
    services.scan_events_record(
        scope=scope,
        events=[
            {
                "event_id": f"desk-{sm.RETURN_DUE}-{parcel.pk}",
                "carrier": parcel.carrier.code,
                "tracking_number": parcel.tracking_number,
                "type": sm.RETURN_DUE,
                "occurred_at": timezone.now(),
                "station_code": station.code,
                "device": "station",
            }
        ],
        actor=actor,
    )
    parcel.refresh_from_db()
    return parcel
