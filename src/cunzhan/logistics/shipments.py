"""Upward shipments: farm products (or anything a villager sends) booked at a village
station, collected by the next run that visits the station, scanned in at the county
centre and handed to the outbound carrier with its tracking number.

States: booked → collected → at_county → handed_over, or booked → cancelled. Every
write locks the shipment row and checks its state inside the transaction, so two
clerks acting on the same shipment at once cannot both succeed. A shipment is visible
to callers whose scope contains its station's region (station operators: their own
stations). See docs/adr/0012-returns-fees-shipments.md.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone

from cunzhan.core.errors import ApplicationError, Conflict, NotFound, Unprocessable
from cunzhan.core.scope import RegionScope
from cunzhan.logistics.models import Carrier, Shipment, ShipmentState
from cunzhan.logistics.services import KNOWN_CARRIERS
from cunzhan.network.models import Station, StationStatus

MAX_PIECES = 1000
MAX_WEIGHT_G = 5_000_000  # 5 t from one village station in one booking
TRACKING_RE = re.compile(r"^[A-Za-z0-9-]{4,40}$")
PHONE_RE = re.compile(r"^\+?[0-9]{7,15}$")


def _station_visible(scope: RegionScope, station: Station) -> bool:
    if not scope.contains_code(station.region_id):
        return False
    return scope.everything or scope.station_ids is None or station.pk in scope.station_ids


def shipments_in_scope(*, scope: RegionScope) -> QuerySet[Shipment]:
    qs = Shipment.objects.filter(scope.q("station__region_id"))
    if not scope.everything and scope.station_ids is not None:
        qs = qs.filter(station_id__in=list(scope.station_ids))
    return qs


def shipment_list(
    *, scope: RegionScope, state: str = "", station_id: int | None = None
) -> QuerySet[Shipment]:
    qs = shipments_in_scope(scope=scope).select_related("station", "outbound_carrier")
    if state:
        if state not in ShipmentState.values:
            raise ApplicationError(
                f"unknown state {state!r}; one of {', '.join(ShipmentState.values)}",
                code="invalid_filter",
            )
        qs = qs.filter(state=state)
    if station_id is not None:
        qs = qs.filter(station_id=station_id)
    return qs.order_by("-created_at", "-id")


def shipment_get(*, scope: RegionScope, shipment_id: uuid.UUID) -> Shipment:
    s = (
        shipments_in_scope(scope=scope)
        .select_related("station", "outbound_carrier")
        .filter(uuid=shipment_id)
        .first()
    )
    if s is None:
        raise NotFound()
    return s


def _carrier(code: str) -> Carrier:
    code = (code or "").strip().upper()
    carrier = Carrier.objects.filter(code=code).first()
    if carrier is None and code in KNOWN_CARRIERS:
        carrier, _ = Carrier.objects.get_or_create(
            code=code, defaults={"name": KNOWN_CARRIERS[code]}
        )
    if carrier is None:
        raise Unprocessable(
            f"unknown carrier {code!r}", code="unknown_carrier", details={"field": "carrier"}
        )
    return carrier


def _field_error(field: str, message: str) -> ApplicationError:
    return Unprocessable(f"{field}: {message}", code="invalid_shipment", details={"field": field})


def shipment_book(
    *,
    scope: RegionScope,
    station: Station,
    producer_name: str,
    contents: str,
    pieces: int,
    weight_g: int,
    destination: str,
    producer_phone: str = "",
    outbound_carrier: str = "",
    actor: Any = None,
    at: dt.datetime | None = None,
) -> Shipment:
    """Book a shipment at ``station`` (in the caller's scope; an operator's own
    station) for a producer. The station must be active."""
    if not _station_visible(scope, station):
        raise NotFound()
    if station.status != StationStatus.ACTIVE:
        raise Conflict(
            "the station is not in operation: it cannot book shipments", code="station_inactive"
        )
    producer_name = (producer_name or "").strip()
    if not producer_name or len(producer_name) > 80 or "\x00" in producer_name:
        raise _field_error("producer_name", "required, at most 80 characters")
    phone = re.sub(r"[\s-]", "", producer_phone or "")
    if phone and not PHONE_RE.match(phone):
        raise _field_error("producer_phone", "7-15 digits")
    contents = (contents or "").strip()
    if not contents or len(contents) > 200 or "\x00" in contents:
        raise _field_error("contents", "required, at most 200 characters")
    destination = (destination or "").strip()
    if not destination or len(destination) > 200 or "\x00" in destination:
        raise _field_error("destination", "required, at most 200 characters")
    if isinstance(pieces, bool) or not isinstance(pieces, int) or not 1 <= pieces <= MAX_PIECES:
        raise _field_error("pieces", f"an integer from 1 to {MAX_PIECES}")
    if isinstance(weight_g, bool) or not isinstance(weight_g, int):
        raise _field_error("weight_g", "an integer (grams)")
    if not 1 <= weight_g <= MAX_WEIGHT_G:
        raise _field_error("weight_g", f"from 1 to {MAX_WEIGHT_G} grams")
    carrier = _carrier(outbound_carrier) if (outbound_carrier or "").strip() else None
    shipment = Shipment.objects.create(
        station=station,
        producer_name=producer_name,
        producer_phone=phone,
        contents=contents,
        pieces=pieces,
        weight_g=weight_g,
        destination=destination,
        outbound_carrier=carrier,
        booked_by=actor if getattr(actor, "pk", None) else None,
    )
    if at is not None:  # a booking recorded after the fact (simulation, paper backlog)
        Shipment.objects.filter(pk=shipment.pk).update(created_at=at)
        shipment.created_at = at
    return shipment


def _transition(
    *,
    scope: RegionScope,
    shipment: Shipment,
    allowed_from: tuple[str, ...],
    to: str,
    what: str,
    apply: Any,
) -> Shipment:
    if not _station_visible(scope, shipment.station):
        raise NotFound()
    with transaction.atomic():
        locked = Shipment.objects.select_for_update().get(pk=shipment.pk)
        if locked.state not in allowed_from:
            raise ApplicationError(
                f"cannot {what} a shipment in state {locked.state!r} "
                f"(only from {', '.join(allowed_from)})",
                code="wrong_state",
                status=409,
                details={"state": locked.state},
            )
        fields = apply(locked)
        locked.state = to
        locked.save(update_fields=["state", "updated_at", *fields])
    return locked


def shipment_cancel(*, scope: RegionScope, shipment: Shipment, actor: Any = None) -> Shipment:
    """Cancel a booking that no run has collected yet."""
    return _transition(
        scope=scope,
        shipment=shipment,
        allowed_from=(ShipmentState.BOOKED,),
        to=ShipmentState.CANCELLED,
        what="cancel",
        apply=lambda s: [],
    )


COLLECT_FROM: tuple[str, ...] = (ShipmentState.BOOKED,)


def shipment_collect(
    *, scope: RegionScope, shipment: Shipment, actor: Any = None, at: dt.datetime | None = None
) -> Shipment:
    """A run picked the shipment up at its station (the one rule shared by the driver's
    pickup scan and the county scan-in)."""
    when = at or timezone.now()

    def apply(s: Shipment) -> list[str]:
        s.collected_at = when
        return ["collected_at"]

    return _transition(
        scope=scope,
        shipment=shipment,
        allowed_from=COLLECT_FROM,
        to=ShipmentState.COLLECTED,
        what="collect",
        apply=apply,
    )


def shipments_collect_many(*, shipment_ids: Any, at: dt.datetime) -> set[Any]:
    """A run picked these shipments up (the driver's pickup tap): the rule of
    :func:`shipment_collect` for many at once (locked, one update). Answers the ids
    collected; a shipment not in a state it may be collected from is left as it is."""
    with transaction.atomic():
        ids = set(
            Shipment.objects.select_for_update()
            .filter(pk__in=list(shipment_ids), state__in=COLLECT_FROM)
            .values_list("pk", flat=True)
        )
        Shipment.objects.filter(pk__in=ids).update(
            state=ShipmentState.COLLECTED, collected_at=at, updated_at=at
        )
    return ids


def shipment_scan_in(
    *, scope: RegionScope, shipment: Shipment, actor: Any = None, at: dt.datetime | None = None
) -> Shipment:
    """The county centre scans the shipment in. From ``collected``, or from ``booked``
    when the run's pickup scan is missing: the shipment is physically at the centre,
    so the run did collect it (``collected_at`` is then the scan-in time)."""
    when = at or timezone.now()

    def apply(s: Shipment) -> list[str]:
        s.at_county_at = when
        if s.collected_at is None:
            s.collected_at = when
        return ["at_county_at", "collected_at"]

    return _transition(
        scope=scope,
        shipment=shipment,
        allowed_from=(ShipmentState.BOOKED, ShipmentState.COLLECTED),
        to=ShipmentState.AT_COUNTY,
        what="scan in",
        apply=apply,
    )


def shipment_hand_over(
    *,
    scope: RegionScope,
    shipment: Shipment,
    carrier: str,
    tracking_number: str,
    actor: Any = None,
    at: dt.datetime | None = None,
) -> Shipment:
    """Hand the shipment (at the centre) to the outbound ``carrier`` under its
    ``tracking_number``, unique per carrier."""
    if not _station_visible(scope, shipment.station):
        raise NotFound()
    tn = (tracking_number or "").strip()
    if not TRACKING_RE.match(tn):
        raise Unprocessable(
            "tracking_number: 4-40 letters, digits or '-'",
            code="invalid_tracking",
            details={"field": "tracking_number"},
        )
    c = _carrier(carrier)
    other = Shipment.objects.filter(outbound_carrier=c, outbound_tracking=tn).exclude(
        pk=shipment.pk
    )
    if other.exists():
        raise ApplicationError(
            f"tracking number {tn} of {c.code} is already used by another shipment",
            code="duplicate_tracking",
            status=409,
            details={"field": "tracking_number"},
        )
    when = at or timezone.now()

    def apply(s: Shipment) -> list[str]:
        s.outbound_carrier = c
        s.outbound_tracking = tn
        s.handed_over_at = when
        return ["outbound_carrier", "outbound_tracking", "handed_over_at"]

    try:
        return _transition(
            scope=scope,
            shipment=shipment,
            allowed_from=(ShipmentState.AT_COUNTY,),
            to=ShipmentState.HANDED_OVER,
            what="hand over",
            apply=apply,
        )
    except IntegrityError as exc:  # the same number given to another shipment just now
        raise ApplicationError(
            f"tracking number {tn} of {c.code} is already used by another shipment",
            code="duplicate_tracking",
            status=409,
            details={"field": "tracking_number"},
        ) from exc
