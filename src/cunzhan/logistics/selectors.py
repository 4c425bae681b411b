"""Parcel reads. Every selector takes a scope: a parcel is visible to callers whose scope
contains its village (and, for station-level scopes, its station)."""

from __future__ import annotations

import datetime as dt
import uuid

from django.db.models import Q, QuerySet

from cunzhan.core.errors import ApplicationError, NotFound
from cunzhan.core.scope import RegionScope
from cunzhan.core.validation import is_ascii_digits
from cunzhan.logistics import statemachine as sm
from cunzhan.logistics.models import (
    CountyLogisticsSettings,
    Parcel,
    ParcelException,
    ScanEvent,
    in_states,
)


def parcels_in_scope(*, scope: RegionScope) -> QuerySet[Parcel]:
    qs = Parcel.objects.filter(scope.q("village_id"))
    if not scope.everything and scope.station_ids is not None:
        qs = qs.filter(station_id__in=list(scope.station_ids))
    return qs


def parcel_list(
    *,
    scope: RegionScope,
    state: str = "",
    village: str = "",
    station_id: int | None = None,
    carrier: str = "",
    q: str = "",
) -> QuerySet[Parcel]:
    """Filters: ``state``, ``village`` (a region code prefix), ``station_id``,
    ``carrier`` (code), ``q`` (tracking number prefix or recipient name)."""
    qs = parcels_in_scope(scope=scope).select_related("carrier", "station", "village")
    if state:
        if state not in sm.STATES:
            raise ApplicationError(f"unknown state {state!r}", code="invalid_filter")
        qs = qs.filter(in_states(state))
    if village:
        if not is_ascii_digits(village) or len(village) > 12:
            raise ApplicationError("village: a region code", code="invalid_filter")
        qs = qs.filter(RegionScope.for_regions([village]).q("village_id"))
    if station_id is not None:
        qs = qs.filter(station_id=station_id)
    if carrier:
        qs = qs.filter(carrier__code=carrier.strip().upper())
    if q:
        q = q.strip()[:80]
        qs = qs.filter(Q(tracking_number__startswith=q) | Q(recipient_name=q))
    return qs.order_by("-created_at", "-id")


def parcel_get(*, scope: RegionScope, parcel_id: uuid.UUID) -> Parcel:
    p = (
        parcels_in_scope(scope=scope)
        .select_related("carrier", "station", "village")
        .filter(uuid=parcel_id)
        .first()
    )
    if p is None:
        raise NotFound()
    return p


def parcel_events(*, parcel: Parcel) -> list[ScanEvent]:
    """The parcel's events in the order the state machine applies them."""
    events = list(parcel.events.select_related("station"))
    return sorted(events, key=lambda e: sm.order_key(sm.Event(e.occurred_at, e.event_id, e.type)))


def parcel_exceptions(*, parcel: Parcel) -> QuerySet[ParcelException]:
    return parcel.exceptions.select_related("event").order_by("created_at", "id")


def exceptions_open(*, scope: RegionScope) -> QuerySet[ParcelException]:
    return ParcelException.objects.filter(
        parcel__in=parcels_in_scope(scope=scope), status="open"
    ).select_related("parcel", "event")


def county_settings(*, county_code: str) -> CountyLogisticsSettings:
    """The county's logistics rules; the defaults (unsaved) if it has set none. Any
    region code inside the county works (its first 6 digits)."""
    code = county_code[:6]
    found = CountyLogisticsSettings.objects.filter(county_id=code).first()
    return found if found is not None else CountyLogisticsSettings(county_id=code)


# the event id prefix of a hand-out (``services.parcel_pick_up``: pickup code or phone
# and name at the station): what a person can prove, unlike a bulk ``picked_up`` scan
HANDOUT_EVENT_PREFIX = "pickup:"


def parcels_handed_out(*, parcel_ids: list[int]) -> dict[int, tuple[int | None, dt.datetime]]:
    """For each of ``parcel_ids`` handed out to its recipient through the hand-out
    service: ``parcel id -> (station id, time)`` of that hand-out. A parcel closed by a
    bulk ``picked_up`` scan (no code, no phone and name) is not in the result.
    Internal to the domains that pay for a hand-out (代购 commission); no scope."""
    out: dict[int, tuple[int | None, dt.datetime]] = {}
    if not parcel_ids:
        return out
    for pid, station_id, at in (
        ScanEvent.objects.filter(
            parcel_id__in=list(parcel_ids),
            type=sm.PICKED_UP,
            event_id__startswith=HANDOUT_EVENT_PREFIX,
        )
        .order_by("occurred_at", "id")
        .values_list("parcel_id", "station_id", "occurred_at")
    ):
        out.setdefault(pid, (station_id, at))
    return out
