"""Every read of the commerce catalogue. Producers and lots are scoped by their village
(and, for station operators, their station); price tiers by their county; products and
grade standards are national reference data readable by every commerce role.

The lot's story (:func:`lot_story`) merges the lot's own events (harvested, graded,
packed; delivered from orders) with the steps of its upward shipment, read through the
logistics selectors: picked up at the station (``collected_at``), at the county centre
(``at_county_at``), handed to the carrier (``handed_over_at``)."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Prefetch, Q, QuerySet
from django.utils import timezone

from cunzhan.commerce import codes
from cunzhan.commerce.models import (
    Grade,
    GradeStandard,
    Lot,
    LotEvent,
    LotEventType,
    LotGrading,
    LotStatus,
    PriceTier,
    Producer,
    ProducerMember,
    Product,
)
from cunzhan.core.errors import ApplicationError, NotFound
from cunzhan.core.scope import RegionScope
from cunzhan.core.validation import is_ascii_digits
from cunzhan.logistics import shipments as logistics_shipments
from cunzhan.network.models import Region

EVENT_ORDER = {t: i for i, t in enumerate(LotEventType.values)}
# the namespace of the ids of the events derived from a shipment (stable across reads)
SHIPMENT_EVENT_NS = uuid.UUID("6f0e1c1e-5a8b-4d7e-9a52-8c0f7f3b0c14")


def _uuid(value: Any) -> uuid.UUID | None:
    try:
        return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
    except (ValueError, TypeError, AttributeError):
        return None


def _station_q(scope: RegionScope, field_name: str) -> Q:
    return scope.station_q(field_name)


# --- producers ------------------------------------------------------------------------------


def producers_in_scope(*, scope: RegionScope) -> QuerySet[Producer]:
    return Producer.objects.filter(scope.q("village_id")).filter(_station_q(scope, "station_id"))


def producer_list(
    *, scope: RegionScope, station_id: int | None = None, kind: str = "", q: str = ""
) -> QuerySet[Producer]:
    qs = producers_in_scope(scope=scope).select_related("station", "village")
    if station_id is not None:
        qs = qs.filter(station_id=station_id)
    if kind:
        qs = qs.filter(kind=kind)
    if q:
        qs = qs.filter(name__icontains=q[:40])
    return qs.order_by("station_id", "name", "id")


def producer_get(*, scope: RegionScope, producer_id: Any) -> Producer:
    key = _uuid(producer_id)
    p = (
        producers_in_scope(scope=scope)
        .select_related("station", "village", "household")
        .filter(uuid=key)
        .first()
        if key
        else None
    )
    if p is None:
        raise NotFound()
    return p


def producer_members(*, producer: Producer) -> QuerySet[ProducerMember]:
    return producer.members.select_related("household").order_by("id")


def producer_choices(*, scope: RegionScope, station_id: int) -> QuerySet[Producer]:
    return producers_in_scope(scope=scope).filter(station_id=station_id, active=True)


# --- products and standards -------------------------------------------------------------------


def product_list(*, active_only: bool = True) -> QuerySet[Product]:
    qs = Product.objects.all()
    if active_only:
        qs = qs.filter(active=True)
    return qs.prefetch_related(
        Prefetch("standards", queryset=GradeStandard.objects.filter(active=True))
    ).order_by("code")


def product_get(*, product_code: str) -> Product:
    p = Product.objects.filter(code=str(product_code)[:40]).first()
    if p is None:
        raise NotFound()
    return p


def standard_active(*, product: Product) -> GradeStandard | None:
    return (
        product.standards.filter(active=True)
        .prefetch_related(
            Prefetch("grades", queryset=Grade.objects.prefetch_related("criteria").order_by("rank"))
        )
        .first()
    )


def grade_get(*, grade_id: int) -> Grade:
    g = Grade.objects.select_related("standard__product").filter(pk=grade_id).first()
    if g is None:
        raise NotFound()
    return g


# --- lots ----------------------------------------------------------------------------------------


def lots_in_scope(*, scope: RegionScope) -> QuerySet[Lot]:
    return Lot.objects.filter(scope.q("village_id")).filter(_station_q(scope, "station_id"))


def lot_list(
    *,
    scope: RegionScope,
    station_id: int | None = None,
    product: str = "",
    status: str = "",
    producer_id: Any = None,
) -> QuerySet[Lot]:
    qs = lots_in_scope(scope=scope).select_related(
        "product", "producer", "station", "village", "grade"
    )
    if station_id is not None:
        qs = qs.filter(station_id=station_id)
    if product:
        qs = qs.filter(product__code=product[:40])
    if status:
        if status not in LotStatus.values:
            raise ApplicationError(
                f"unknown status {status!r}; one of {', '.join(LotStatus.values)}",
                code="invalid_filter",
            )
        qs = qs.filter(status=status)
    if producer_id is not None:
        key = _uuid(producer_id)
        qs = qs.filter(producer__uuid=key) if key else qs.none()
    return qs.order_by("-harvest_date", "-id")


def lot_get(*, scope: RegionScope, lot_id: Any) -> Lot:
    key = _uuid(lot_id)
    lot = (
        lots_in_scope(scope=scope)
        .select_related("product", "producer", "station", "village", "grade", "standard")
        .filter(uuid=key)
        .first()
        if key
        else None
    )
    if lot is None:
        raise NotFound()
    return lot


def lot_by_code(*, code: str) -> Lot:
    """A lot by its public traceability code (typed: normalised); unknown: NotFound
    with a message saying so. Public: no scope (the code is the capability)."""
    normal = codes.normalise(code)
    lot = (
        Lot.objects.select_related(
            "product", "producer", "village__parent__parent", "grade", "standard"
        )
        .filter(code=normal)
        .first()
        if normal
        else None
    )
    if lot is None:
        raise NotFound(f"no lot has the traceability code {str(code)[:40]!r}", code="unknown_lot")
    return lot


def lot_gradings(*, lot: Lot) -> QuerySet[LotGrading]:
    return lot.gradings.select_related("grade", "standard").prefetch_related("measurements")


@dataclass
class StoryStep:
    """One step of a lot's story: a stored LotEvent or a step derived from the lot's
    shipment. ``region`` is where it happened (a village or the county)."""

    event_id: str
    type: str
    occurred_at: dt.datetime
    recorded_at: dt.datetime | None
    region: Region | None
    source: str
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return str(LotEventType(self.type).label)


def _shipment_steps(lot: Lot) -> list[StoryStep]:
    if lot.shipment_id is None:
        return []
    s = (
        logistics_shipments.shipments_in_scope(scope=RegionScope.national())
        .select_related("station__region", "outbound_carrier")
        .filter(pk=lot.shipment_id)
        .first()
    )
    if s is None:
        return []
    county = Region.objects.filter(code=s.station.region_id[:6]).first()
    steps = []
    for type_, at, region in (
        (LotEventType.PICKED_UP, s.collected_at, s.station.region),
        (LotEventType.AT_COUNTY, s.at_county_at, county),
        (LotEventType.HANDED_OVER, s.handed_over_at, county),
    ):
        if at is None:
            continue
        details: dict[str, Any] = {}
        if type_ == LotEventType.HANDED_OVER and s.outbound_carrier is not None:
            details = {"carrier": s.outbound_carrier.name}
        steps.append(
            StoryStep(
                event_id=str(uuid.uuid5(SHIPMENT_EVENT_NS, f"{s.uuid}:{type_}")),
                type=type_,
                occurred_at=at,
                recorded_at=at,
                region=region,
                source="shipment",
                details=details,
            )
        )
    return steps


def lot_story(*, lot: Lot) -> list[StoryStep]:
    """The lot's steps in time order (ties: the order of the supply chain)."""
    own = [
        StoryStep(
            event_id=str(e.event_id),
            type=e.type,
            occurred_at=e.occurred_at,
            recorded_at=e.recorded_at,
            region=e.region,
            source=e.source,
            details=e.details or {},
        )
        for e in LotEvent.objects.filter(lot=lot).select_related("region")
    ]
    steps = own + _shipment_steps(lot)
    steps.sort(key=lambda s: (s.occurred_at, EVENT_ORDER.get(s.type, 99)))
    return steps


def lot_places(*, lot: Lot) -> dict[str, str]:
    """Village, township and county names of the lot (public)."""
    v = lot.village
    township = v.parent if v.parent_id else None
    county = township.parent if township is not None and township.parent_id else None
    return {
        "village": v.name,
        "township": township.name if township else "",
        "county": county.name if county else "",
        "county_code": county.code if county else "",
    }


# --- price tiers ------------------------------------------------------------------------------


def price_tiers_in_scope(*, scope: RegionScope) -> QuerySet[PriceTier]:
    """The tiers of the counties in ``scope``, and of the county a village or township
    scope lies in (a station operator reads the prices of its county)."""
    if scope.everything:
        return PriceTier.objects.all()
    counties = {p[:6] for p in scope.prefixes if len(p) > 6}
    return PriceTier.objects.filter(scope.q("county_id") | Q(county_id__in=sorted(counties)))


def price_tier_list(
    *, scope: RegionScope, county: str = "", product: str = ""
) -> QuerySet[PriceTier]:
    qs = price_tiers_in_scope(scope=scope).select_related(
        "grade__standard__product", "county", "created_by"
    )
    if county:
        if not is_ascii_digits(county):
            raise ApplicationError("county: a region code", code="invalid_filter")
        qs = qs.filter(county_id=county[:12])
    if product:
        qs = qs.filter(grade__standard__product__code=product[:40])
    return qs.order_by("county_id", "grade__standard__product__code", "grade__rank", "-valid_from")


def price_list_published(
    *, scope: RegionScope, county: str = "", product: str = "", at: dt.datetime | None = None
) -> list[PriceTier]:
    """The price in force per (county, grade, unit) at ``at`` (default now): the latest
    published tier with ``valid_from <= at``. What the storefront and the feeds read."""
    at = at or timezone.now()
    qs = price_tier_list(scope=scope, county=county, product=product).filter(
        published=True, valid_from__lte=at
    )
    current: dict[tuple[str, int, str], PriceTier] = {}
    for t in qs.order_by("-valid_from", "-id"):
        current.setdefault((t.county_id, t.grade_id, t.unit), t)
    return sorted(
        current.values(),
        key=lambda t: (t.county_id, t.grade.standard.product.code, t.grade.rank, t.unit),
    )


def price_tier_current(
    *, grade: Grade, county_code: str, unit: str = "", at: dt.datetime | None = None
) -> PriceTier | None:
    """The tier in force for one grade in one county (None: no price published)."""
    at = at or timezone.now()
    qs = PriceTier.objects.filter(
        grade=grade, county_id=county_code, published=True, valid_from__lte=at
    )
    if unit:
        qs = qs.filter(unit=unit)
    return qs.order_by("-valid_from", "-id").first()
