"""Commerce catalogue API under /api/v1/commerce: producers, products and grade
standards, lots (record, grade, pack, ship), price tiers, and the PUBLIC trace endpoints
(``/trace/{trace_code}``, ``/trace/{trace_code}/epcis``: no token, no personal data).

Thin: validate, call one service or selector, render. Outside the caller's scope: 404.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal

from django.http import HttpRequest, HttpResponse
from ninja import Field, Query, Router, Schema, Status
from ninja.pagination import paginate

from cunzhan.accounts.roles import Perm
from cunzhan.accounts.selectors import scope_for_user
from cunzhan.commerce import codes, epcis, grading, selectors, services
from cunzhan.commerce.models import (
    Aggregation,
    Grade,
    Lot,
    LotGrading,
    LotStatus,
    PriceTier,
    Producer,
    ProducerKind,
    Product,
    Unit,
)
from cunzhan.commerce.schema_rules import COUNTY_CODE, PHONE_OR_EMPTY, Moment, text
from cunzhan.core.api import ERROR_RESPONSES, Pagination, require, resolved_annotations
from cunzhan.core.errors import NotFound
from cunzhan.logistics import shipments as logistics_shipments
from cunzhan.network.models import Station
from cunzhan.registry.selectors import household_get

router = Router(tags=["commerce"])


# --- schemas ---------------------------------------------------------------------------------


class MemberIn(Schema):
    """A cooperative's member: a ``name`` or a registry ``household`` (or both)."""

    name: str = Field("", max_length=80)
    phone: str = Field("", max_length=20, pattern=PHONE_OR_EMPTY)
    household: uuid.UUID | None = None


class ProducerIn(Schema):
    station_id: int
    kind: ProducerKind
    name: str = text(80)
    phone: str = Field("", max_length=20, pattern=PHONE_OR_EMPTY)
    household: uuid.UUID | None = None
    credit_code: str = Field("", max_length=18)
    members: list[MemberIn] = Field(default_factory=list, max_length=500)


class MemberOut(Schema):
    id: int
    name: str
    phone_masked: str
    household: uuid.UUID | None


class ProducerOut(Schema):
    id: uuid.UUID
    kind: str
    name: str
    phone_masked: str
    station_id: int
    station_code: str
    village_code: str
    household: uuid.UUID | None
    credit_code: str
    members: int
    active: bool
    created_at: dt.datetime


class ProducerDetailOut(ProducerOut):
    member_list: list[MemberOut]


class CriterionOut(Schema):
    quantity: str
    label: str
    unit: str
    aggregation: str
    min: Decimal | None
    max: Decimal | None


class GradeOut(Schema):
    id: int
    rank: int
    code: str
    name: str
    criteria: list[CriterionOut]


class StandardOut(Schema):
    id: int
    name: str
    reference: str
    valid_from: dt.date
    grades: list[GradeOut]


class ProductOut(Schema):
    code: str
    name: str
    category: str
    default_unit: str
    description: str
    standard: StandardOut | None


# a measurement's bound: inside every physical range (grading.MAX_VALUE)
Bound = Field(None, gt=-grading.MAX_VALUE, lt=grading.MAX_VALUE)
if TYPE_CHECKING:
    Measured = str
else:  # a quantity the standards measure (grading.QUANTITIES)
    Measured = Literal[tuple(grading.QUANTITIES)]


class CriterionIn(Schema):
    """A criterion: ``min``/``max`` (at least one) inside the quantity's physical range."""

    quantity: Measured
    # empty: the quantity's usual aggregation
    aggregation: Aggregation | Literal[""] = ""
    min: Decimal | None = Bound
    max: Decimal | None = Bound


class GradeDefIn(Schema):
    code: str = text(20)
    name: str = text(30)
    criteria: list[CriterionIn] = Field(..., min_length=1, max_length=50)


class StandardIn(Schema):
    product: str = Field(..., max_length=40)
    name: str = text(120)
    reference: str = Field("", max_length=120)
    valid_from: dt.date
    grades: list[GradeDefIn] = Field(..., min_length=1, max_length=20)


class LotIn(Schema):
    producer: uuid.UUID
    product: str = Field(..., max_length=40)
    harvest_date: dt.date
    quantity: int = Field(..., ge=1, le=services.MAX_LOT_QUANTITY)
    # empty: the product's default unit
    unit: Unit | Literal[""] = ""
    note: str = Field("", max_length=200)


class LotOut(Schema):
    id: uuid.UUID
    code: str
    code_display: str
    product: str
    product_name: str
    producer: uuid.UUID
    producer_kind: str
    producer_name: str
    station_id: int
    station_code: str
    village_code: str
    harvest_date: dt.date
    status: str
    grade: str | None
    grade_name: str | None
    unit: str
    quantity: int
    quantity_available: int
    shipment: uuid.UUID | None
    trace_url: str
    created_at: dt.datetime


class GradeIn(Schema):
    samples: list[dict[Measured, Decimal | float | int | str]] = Field(
        ..., min_length=1, max_length=grading.MAX_SAMPLES
    )


class GradingOut(Schema):
    lot: LotOut
    grade: str | None
    grade_name: str | None
    rejected: bool
    sample_count: int
    values: dict[str, str]
    failures: list[dict[str, Any]]


class ShipIn(Schema):
    destination: str = text(200)
    pieces: int = Field(..., ge=1, le=logistics_shipments.MAX_PIECES)
    weight_g: int = Field(..., ge=1, le=logistics_shipments.MAX_WEIGHT_G)


class PriceIn(Schema):
    grade_id: int
    county_code: str = Field(..., pattern=COUNTY_CODE)
    price_fen: int = Field(..., ge=1, le=services.MAX_PRICE_FEN)
    # empty: the product's default unit
    unit: Unit | Literal[""] = ""
    # with its offset; default now
    valid_from: Moment | None = None


class PriceOut(Schema):
    id: int
    county_code: str
    county_name: str
    product: str
    grade_id: int
    grade: str
    grade_name: str
    unit: str
    price_fen: int
    currency: str
    valid_from: dt.datetime
    published: bool


class TraceStepOut(Schema):
    type: str
    label: str
    occurred_at: dt.datetime
    place: str | None
    details: dict[str, Any]


class TraceOut(Schema):
    code: str
    product: str
    grade: str | None
    harvest_date: dt.date
    quantity: int
    unit: str
    village: str
    township: str
    county: str
    producer_kind: str
    cooperative: str | None
    steps: list[TraceStepOut]


# --- rendering ---------------------------------------------------------------------------------


def mask_phone(phone: str) -> str:
    return f"{phone[:3]}****{phone[-4:]}" if len(phone) >= 7 else ("*" * len(phone))


def producer_out(p: Producer) -> dict[str, Any]:
    return {
        "id": p.uuid,
        "kind": p.kind,
        "name": p.name,
        "phone_masked": mask_phone(p.phone),
        "station_id": p.station_id,
        "station_code": p.station.code,
        "village_code": p.village_id,
        "household": p.household.uuid if p.household_id and p.household else None,
        "credit_code": p.credit_code,
        "members": p.members.count(),
        "active": p.active,
        "created_at": p.created_at,
    }


def lot_out(lot: Lot) -> dict[str, Any]:
    return {
        "id": lot.uuid,
        "code": lot.code,
        "code_display": codes.display(lot.code),
        "product": lot.product.code,
        "product_name": lot.product.name,
        "producer": lot.producer.uuid,
        "producer_kind": lot.producer.kind,
        "producer_name": lot.producer.name,
        "station_id": lot.station_id,
        "station_code": lot.station.code,
        "village_code": lot.village_id,
        "harvest_date": lot.harvest_date,
        "status": lot.status,
        "grade": lot.grade.code if lot.grade else None,
        "grade_name": lot.grade.name if lot.grade else None,
        "unit": lot.unit,
        "quantity": lot.quantity,
        "quantity_available": lot.quantity_available,
        "shipment": lot.shipment.uuid if lot.shipment_id and lot.shipment else None,
        "trace_url": f"/t/{lot.code}/",
        "created_at": lot.created_at,
    }


def product_out(p: Product) -> dict[str, Any]:
    s = selectors.standard_active(product=p)
    standard = None
    if s is not None:
        standard = {
            "id": s.pk,
            "name": s.name,
            "reference": s.reference,
            "valid_from": s.valid_from,
            "grades": [
                {
                    "id": g.pk,
                    "rank": g.rank,
                    "code": g.code,
                    "name": g.name,
                    "criteria": [
                        {
                            "quantity": c.quantity,
                            "label": str(grading.QUANTITIES[c.quantity].label),
                            "unit": grading.QUANTITIES[c.quantity].unit,
                            "aggregation": c.aggregation,
                            "min": c.min_value,
                            "max": c.max_value,
                        }
                        for c in g.criteria.all()
                    ],
                }
                for g in s.grades.all()
            ],
        }
    return {
        "code": p.code,
        "name": p.name,
        "category": p.category,
        "default_unit": p.default_unit,
        "description": p.description,
        "standard": standard,
    }


def price_out(t: PriceTier) -> dict[str, Any]:
    return {
        "id": t.pk,
        "county_code": t.county_id,
        "county_name": t.county.name,
        "product": t.grade.standard.product.code,
        "grade_id": t.grade_id,
        "grade": t.grade.code,
        "grade_name": t.grade.name,
        "unit": t.unit,
        "price_fen": t.price_fen,
        "currency": "CNY",
        "valid_from": t.valid_from,
        "published": t.published,
    }


def trace_out(lot: Lot) -> dict[str, Any]:
    places = selectors.lot_places(lot=lot)
    return {
        "code": lot.code,
        "product": lot.product.name,
        "grade": lot.grade.name if lot.grade else None,
        "harvest_date": lot.harvest_date,
        "quantity": lot.quantity,
        "unit": lot.unit,
        "village": places["village"],
        "township": places["township"],
        "county": places["county"],
        "producer_kind": lot.producer.kind,
        "cooperative": lot.producer.name if lot.producer.kind == ProducerKind.COOPERATIVE else None,
        "steps": [
            {
                "type": s.type,
                "label": s.label,
                "occurred_at": s.occurred_at,
                "place": s.region.name if s.region else None,
                "details": public_details(s.details),
            }
            for s in selectors.lot_story(lot=lot)
        ],
    }


PUBLIC_DETAIL_KEYS = ("standard", "grade", "samples", "rejected", "quantity", "unit", "carrier")


def public_details(details: dict[str, Any]) -> dict[str, Any]:
    """Only the keys that are never personal data."""
    return {k: details[k] for k in PUBLIC_DETAIL_KEYS if k in details}


class _Mapped:
    def __init__(self, qs: Any, fn: Any) -> None:
        self.qs = qs
        self.fn = fn

    def all(self) -> Any:
        return self.qs

    def __getitem__(self, key: slice) -> list[dict]:
        return [self.fn(o) for o in self.qs[key]]


def _scope(request: HttpRequest, perm: str) -> tuple[Any, Any]:
    require(request, Perm.VIEW_COMMERCE)
    user = require(request, perm)
    return user, scope_for_user(user)


# --- producers -------------------------------------------------------------------------------


@router.get("/producers", response={200: list[ProducerOut], **ERROR_RESPONSES})
@paginate(Pagination)
@resolved_annotations
def producers_list(
    request: HttpRequest, station_id: int | None = None, kind: ProducerKind | None = None
):
    """Producers in the caller's scope (station operators: their stations)."""
    _, scope = _scope(request, Perm.VIEW_COMMERCE)
    qs = selectors.producer_list(scope=scope, station_id=station_id, kind=kind or "")
    return _Mapped(qs.prefetch_related("members").select_related("household"), producer_out)


@router.post("/producers", response={201: ProducerDetailOut, **ERROR_RESPONSES})
def producer_register(request: HttpRequest, payload: ProducerIn):
    """Register a producer at a station: ``person``, ``household`` (with the registry
    household's id) or ``cooperative`` (with ``members``: a name or a household each)."""
    user, scope = _scope(request, Perm.EDIT_PRODUCERS)
    station = Station.objects.filter(pk=payload.station_id).first()
    if station is None:
        raise NotFound()
    household = (
        household_get(scope=scope, household_id=payload.household) if payload.household else None
    )
    p = services.producer_register(
        scope=scope,
        station=station,
        kind=payload.kind,
        name=payload.name,
        phone=payload.phone,
        household=household,
        credit_code=payload.credit_code,
        members=[m.dict() for m in payload.members],
        actor=user,
    )
    return Status(201, producer_detail_out(p))


def producer_detail_out(p: Producer) -> dict[str, Any]:
    return {
        **producer_out(p),
        "member_list": [
            {
                "id": m.pk,
                "name": m.name,
                "phone_masked": mask_phone(m.phone),
                "household": m.household.uuid if m.household else None,
            }
            for m in selectors.producer_members(producer=p)
        ],
    }


@router.get("/producers/{producer_id}", response={200: ProducerDetailOut, **ERROR_RESPONSES})
def producer_detail(request: HttpRequest, producer_id: uuid.UUID):
    _, scope = _scope(request, Perm.VIEW_COMMERCE)
    return producer_detail_out(selectors.producer_get(scope=scope, producer_id=producer_id))


@router.post(
    "/producers/{producer_id}/members", response={201: ProducerDetailOut, **ERROR_RESPONSES}
)
def producer_member_add(request: HttpRequest, producer_id: uuid.UUID, payload: MemberIn):
    """Add a member (a person or a registry household) to a cooperative."""
    user, scope = _scope(request, Perm.EDIT_PRODUCERS)
    p = selectors.producer_get(scope=scope, producer_id=producer_id)
    services.producer_member_add(
        scope=scope,
        cooperative=p,
        name=payload.name,
        phone=payload.phone,
        household=str(payload.household or ""),
        actor=user,
    )
    return Status(201, producer_detail_out(p))


# --- products ----------------------------------------------------------------------------------


@router.get("/products", response={200: list[ProductOut], **ERROR_RESPONSES})
def products_list(request: HttpRequest):
    """Products with their active grade standard (grades from the highest, criteria)."""
    _scope(request, Perm.VIEW_COMMERCE)
    return [product_out(p) for p in selectors.product_list()]


@router.post("/standards", response={201: ProductOut, **ERROR_RESPONSES})
def standard_create(request: HttpRequest, payload: StandardIn):
    """A new grade standard for a product (network admins): grades from the highest,
    each with criteria (``quantity``, ``aggregation`` each/mean/max/min — default the
    quantity's usual one —, ``min``/``max`` inside the quantity's physical range). It
    replaces the product's active standard; lots graded before keep theirs."""
    user, _ = _scope(request, Perm.MANAGE_PRODUCTS)
    product = selectors.product_get(product_code=payload.product)
    services.standard_create(
        product=product,
        name=payload.name,
        reference=payload.reference,
        valid_from=payload.valid_from,
        grades=[
            {
                "code": g.code,
                "name": g.name,
                "criteria": [
                    {
                        "quantity": c.quantity,
                        "aggregation": c.aggregation,
                        "min": c.min,
                        "max": c.max,
                    }
                    for c in g.criteria
                ],
            }
            for g in payload.grades
        ],
        actor=user,
    )
    return Status(201, product_out(product))


# --- lots --------------------------------------------------------------------------------------


def _lot_qs_out(qs: Any) -> Any:
    return _Mapped(qs.select_related("shipment"), lot_out)


@router.get("/lots", response={200: list[LotOut], **ERROR_RESPONSES})
@paginate(Pagination)
@resolved_annotations
def lots_list(
    request: HttpRequest,
    station_id: int | None = None,
    product: str = "",
    status: LotStatus | None = None,
):
    """Lots in the caller's scope, newest harvest first."""
    _, scope = _scope(request, Perm.VIEW_COMMERCE)
    return _lot_qs_out(
        selectors.lot_list(scope=scope, station_id=station_id, product=product, status=status or "")
    )


@router.post("/lots", response={201: LotOut, **ERROR_RESPONSES})
def lot_record(request: HttpRequest, payload: LotIn):
    """Record a harvested lot (quantity > 0 whole units); it gets its trace code."""
    user, scope = _scope(request, Perm.EDIT_PRODUCERS)
    producer = selectors.producer_get(scope=scope, producer_id=payload.producer)
    product = selectors.product_get(product_code=payload.product)
    lot = services.lot_record(
        scope=scope,
        producer=producer,
        product=product,
        harvest_date=payload.harvest_date,
        quantity=payload.quantity,
        unit=payload.unit,
        note=payload.note,
        actor=user,
    )
    return Status(201, lot_out(lot))


@router.get("/lots/{lot_id}", response={200: LotOut, **ERROR_RESPONSES})
def lot_detail(request: HttpRequest, lot_id: uuid.UUID):
    _, scope = _scope(request, Perm.VIEW_COMMERCE)
    return lot_out(selectors.lot_get(scope=scope, lot_id=lot_id))


def grading_out(g: LotGrading, lot: Lot) -> dict[str, Any]:
    last = lot.events.filter(type="graded").order_by("-occurred_at", "-id").first()
    return {
        "lot": lot_out(lot),
        "grade": g.grade.code if g.grade else None,
        "grade_name": g.grade.name if g.grade else None,
        "rejected": g.grade is None,
        "sample_count": g.sample_count,
        "values": (last.details or {}).get("values", {}) if last else {},
        "failures": g.failures,
    }


@router.post("/lots/{lot_id}/grade", response={200: GradingOut, **ERROR_RESPONSES})
def lot_grade(request: HttpRequest, lot_id: uuid.UUID, payload: GradeIn):
    """Grade the lot from sample measurements (``samples``: one object per sample,
    quantity -> value, e.g. ``{"weight_g": 96, "brix": 15.2, "defect_pct": 1}``). The
    highest grade whose criteria all hold; none: ``rejected`` with ``failures`` per
    grade (criterion, measured, required). A value outside its physical range: 400."""
    user, scope = _scope(request, Perm.EDIT_PRODUCERS)
    lot = selectors.lot_get(scope=scope, lot_id=lot_id)
    g = services.lot_grade(scope=scope, lot=lot, samples=payload.samples, actor=user)
    return grading_out(g, selectors.lot_get(scope=scope, lot_id=lot_id))


@router.post("/lots/{lot_id}/pack", response={200: LotOut, **ERROR_RESPONSES})
def lot_pack(request: HttpRequest, lot_id: uuid.UUID):
    user, scope = _scope(request, Perm.EDIT_PRODUCERS)
    lot = selectors.lot_get(scope=scope, lot_id=lot_id)
    services.lot_pack(scope=scope, lot=lot, actor=user)
    return lot_out(selectors.lot_get(scope=scope, lot_id=lot_id))


@router.post("/lots/{lot_id}/ship", response={200: LotOut, **ERROR_RESPONSES})
def lot_ship(request: HttpRequest, lot_id: uuid.UUID, payload: ShipIn):
    """Book the packed lot's upward shipment at its station (logistics)."""
    user, scope = _scope(request, Perm.EDIT_PRODUCERS)
    lot = selectors.lot_get(scope=scope, lot_id=lot_id)
    services.lot_ship(
        scope=scope,
        lot=lot,
        destination=payload.destination,
        pieces=payload.pieces,
        weight_g=payload.weight_g,
        actor=user,
    )
    return lot_out(selectors.lot_get(scope=scope, lot_id=lot_id))


# --- prices ------------------------------------------------------------------------------------


@router.get("/prices", response={200: list[PriceOut], **ERROR_RESPONSES})
def prices_published(
    request: HttpRequest,
    county: str | None = Query(None, pattern=COUNTY_CODE),
    product: str = "",
):
    """The prices in force now per county (its code), grade and unit (integer fen, CNY):
    what the channels publish."""
    _, scope = _scope(request, Perm.VIEW_COMMERCE)
    return [
        price_out(t)
        for t in selectors.price_list_published(
            scope=scope, county=county or "", product=product[:40]
        )
    ]


@router.post("/prices", response={201: PriceOut, **ERROR_RESPONSES})
def price_set(request: HttpRequest, payload: PriceIn):
    """Set a grade's price in a county from ``valid_from`` (default now)."""
    user, scope = _scope(request, Perm.MANAGE_PRICES)
    grade: Grade = selectors.grade_get(grade_id=payload.grade_id)
    t = services.price_tier_set(
        scope=scope,
        grade=grade,
        county_code=payload.county_code,
        price_fen=payload.price_fen,
        unit=payload.unit,
        valid_from=payload.valid_from,
        actor=user,
    )
    return Status(201, price_out(t))


# --- public trace --------------------------------------------------------------------------------


@router.get("/trace/{trace_code}", auth=None, response={200: TraceOut, **ERROR_RESPONSES})
def trace(request: HttpRequest, trace_code: str):
    """PUBLIC (no token): a lot's story by its traceability code; places by name, no
    personal data. Unknown code: 404 ``unknown_lot``."""
    return trace_out(selectors.lot_by_code(code=trace_code))


@router.get(
    "/trace/{trace_code}/epcis",
    auth=None,
    # the 200 is JSON-LD, not application/json: documented by hand
    response=ERROR_RESPONSES,
    openapi_extra={
        "responses": {
            200: {
                "description": "OK",
                "content": {"application/ld+json": {"schema": {"type": "object"}}},
            }
        }
    },
)
def trace_epcis(request: HttpRequest, trace_code: str):
    """PUBLIC (no token): the lot's story as a GS1 EPCIS 2.0 JSON-LD ``EPCISDocument``
    (``application/ld+json``)."""
    doc = epcis.lot_document(lot=selectors.lot_by_code(code=trace_code))
    return HttpResponse(
        json.dumps(doc, ensure_ascii=False), content_type="application/ld+json; charset=utf-8"
    )
