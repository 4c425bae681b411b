"""Assisted purchase (代购) API under /api/v1/commerce/assisted, and a station's earnings
by source under /api/v1/commerce/stations/{station_id}/earnings (ADR 0016).

Thin: validate, call one service or selector, render. Outside the caller's scope: 404.
The villager's phone is masked in every output.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema, Status
from ninja.pagination import paginate

from cunzhan.accounts.roles import Perm
from cunzhan.accounts.selectors import scope_for_user
from cunzhan.commerce import assisted, assisted_selectors
from cunzhan.commerce.assisted_models import AssistedPurchase, AssistedStatus, Shop
from cunzhan.commerce.schema_rules import MONTH, PHONE, PRICE_YUAN, TRACKING_OR_EMPTY, text
from cunzhan.core.api import ERROR_RESPONSES, Pagination, require, resolved_annotations
from cunzhan.core.errors import NotFound
from cunzhan.network.models import Station

router = Router(tags=["commerce assisted purchase"])


Tracking = Field("", max_length=40, pattern=TRACKING_OR_EMPTY)


class AssistedIn(Schema):
    station_id: int
    villager_name: str = text(80)
    villager_phone: str = Field(..., max_length=20, pattern=PHONE)
    item: str = text(200)
    price_yuan: str = Field(
        ...,
        max_length=20,
        pattern=PRICE_YUAN,
        description="yuan as text, more than 0, at most 2 decimals",
    )
    shop: Shop
    shop_order_no: str = Field("", max_length=64)
    tracking_number: str = Tracking


class OrderedIn(Schema):
    shop_order_no: str = text(64)
    tracking_number: str = Tracking


class LinkIn(Schema):
    """The parcel: ``parcel_id`` (one of the waiting parcels) or ``tracking_number``."""

    tracking_number: str = Tracking
    parcel_id: uuid.UUID | None = None


class AssistedCancelIn(Schema):
    reason: str = Field("", max_length=200)


class ReviewIn(Schema):
    approve: bool
    note: str = Field("", max_length=200, description="required when rejecting")


class LimitsIn(Schema):
    max_price_fen: int | None = Field(
        None, ge=1, le=assisted.MAX_PRICE_FEN, description="the most one purchase may cost"
    )
    review_above_fen: int | None = Field(
        None,
        ge=0,
        le=assisted.MAX_PRICE_FEN,
        description="above this the county reviews the purchase (at most max_price_fen)",
    )
    shop_max_fen: dict[Shop, Annotated[int, Field(ge=1, le=assisted.MAX_PRICE_FEN)]] | None = Field(
        None, description="shop platform -> the most one purchase there may cost"
    )


class AnomalyOut(Schema):
    user_id: int
    username: str
    county_code: str
    villages: list[str]
    month: str
    month_fen: int
    month_count: int
    trailing_avg_fen: int
    peer_median_fen: int
    peers: int
    jump_fen: int
    reasons: list[str] = Field(..., description="trailing (own 3-month average), peers")


class LimitsOut(Schema):
    county_code: str
    county_name: str
    max_price_fen: int
    review_above_fen: int
    shop_max_fen: dict[str, int]


class AssistedOut(Schema):
    id: uuid.UUID
    station_id: int
    station_code: str
    station_name: str
    villager_name: str
    villager_phone_masked: str
    item: str
    price_fen: int
    shop: str
    shop_order_no: str
    tracking_number: str
    status: str
    commission_bp: int
    commission_fen: int | None
    parcel_id: uuid.UUID | None
    parcel_state: str | None
    linked_by: str
    review_state: str
    no_commission_reason: str
    created_at: dt.datetime
    ordered_at: dt.datetime | None
    arrived_at: dt.datetime | None
    picked_up_at: dt.datetime | None
    cancelled_at: dt.datetime | None


class CandidateOut(Schema):
    id: uuid.UUID
    carrier: str
    tracking_number: str
    recipient_name: str
    phone_last4: str
    same_phone: bool
    arrived_at: dt.datetime | None


class SweepOut(Schema):
    linked_tracking: int
    linked_phone: int
    picked_up: int
    commission_fen: int
    returned: int


class EarningsMonthOut(Schema):
    month: str
    down_count: int
    down_fen: int
    up_count: int
    up_fen: int
    fees_pending_fen: int
    fees_posted_fen: int
    assisted_count: int
    assisted_fen: int
    sales_fen: int
    total_fen: int


class EarningsOut(Schema):
    station_id: int
    station_code: str
    station_name: str
    months: list[EarningsMonthOut]


def assisted_out(p: AssistedPurchase) -> dict[str, Any]:
    return {
        "id": p.uuid,
        "station_id": p.station_id,
        "station_code": p.station.code,
        "station_name": p.station.name,
        "villager_name": p.villager_name,
        "villager_phone_masked": p.phone_masked,
        "item": p.item,
        "price_fen": p.price_fen,
        "shop": p.shop,
        "shop_order_no": p.shop_order_no,
        "tracking_number": p.tracking_number,
        "status": p.status,
        "commission_bp": p.commission_bp,
        "commission_fen": p.commission_fen,
        "parcel_id": p.parcel.uuid if p.parcel_id and p.parcel else None,
        "parcel_state": p.parcel.state if p.parcel_id and p.parcel else None,
        "linked_by": p.linked_by,
        "review_state": p.review_state,
        "no_commission_reason": p.no_commission_reason,
        "created_at": p.created_at,
        "ordered_at": p.ordered_at,
        "arrived_at": p.arrived_at,
        "picked_up_at": p.picked_up_at,
        "cancelled_at": p.cancelled_at,
    }


class _Mapped:
    def __init__(self, qs: Any) -> None:
        self.qs = qs

    def all(self) -> Any:
        return self.qs

    def __getitem__(self, key: slice) -> list[dict]:
        return [assisted_out(o) for o in self.qs[key]]


def _scope(request: HttpRequest, perm: str) -> tuple[Any, Any]:
    require(request, Perm.VIEW_COMMERCE)
    user = require(request, perm)
    return user, scope_for_user(user)


def _get(scope: Any, purchase_id: uuid.UUID) -> AssistedPurchase:
    return assisted_selectors.assisted_get(scope=scope, purchase_id=purchase_id)


@router.get("/assisted", response={200: list[AssistedOut], **ERROR_RESPONSES})
@paginate(Pagination)
@resolved_annotations
def assisted_list(
    request: HttpRequest,
    station_id: int | None = None,
    status: AssistedStatus | None = None,
    q: str = "",
):
    """Assisted purchases in the caller's scope, newest first."""
    _, scope = _scope(request, Perm.VIEW_COMMERCE)
    return _Mapped(
        assisted_selectors.assisted_list(
            scope=scope, station_id=station_id, status=status or "", q=q[:60]
        )
    )


@router.post("/assisted", response={201: AssistedOut, **ERROR_RESPONSES})
def assisted_record(request: HttpRequest, payload: AssistedIn):
    """Record a villager's order from an outside shop; the county's commission rate is
    fixed on the purchase and shown. ``price_yuan``: yuan, at most two decimals, > 0."""
    user, scope = _scope(request, Perm.EDIT_ASSISTED)
    station = Station.objects.filter(pk=payload.station_id).first()
    if station is None:
        raise NotFound()
    p = assisted.assisted_record(
        scope=scope,
        station=station,
        villager_name=payload.villager_name,
        villager_phone=payload.villager_phone,
        item=payload.item,
        price=payload.price_yuan,
        shop=payload.shop,
        shop_order_no=payload.shop_order_no,
        tracking_number=payload.tracking_number,
        actor=user,
    )
    return Status(201, assisted_out(_get(scope, p.uuid)))


@router.post("/assisted/sweep", response={200: SweepOut, **ERROR_RESPONSES})
def assisted_sweep(request: HttpRequest):
    """Link arrived parcels and accrue the commission of those picked up, in the
    caller's scope (idempotent)."""
    _, scope = _scope(request, Perm.EDIT_ASSISTED)
    r = assisted.assisted_sweep(scope=scope)
    return r.__dict__


@router.get("/assisted/reviews", response={200: list[AssistedOut], **ERROR_RESPONSES})
@paginate(Pagination)
def assisted_reviews(request: HttpRequest):
    """Purchases above the county's threshold waiting for its review, oldest first."""
    _, scope = _scope(request, Perm.REVIEW_ASSISTED)
    return _Mapped(assisted_selectors.assisted_review_queue(scope=scope))


@router.get("/assisted/anomalies", response={200: list[AnomalyOut], **ERROR_RESPONSES})
def assisted_anomalies(request: HttpRequest, month: str | None = Query(None, pattern=MONTH)):
    """Operators whose assisted-purchase commission jumps in ``month`` (YYYY-MM, default
    this month): at least twice their own 3-month average, or three times the median of
    the county's other operators, and at least ¥50 above it (ADR 0016, issue 12)."""
    _, scope = _scope(request, Perm.REVIEW_ASSISTED)
    return assisted_selectors.assisted_commission_anomalies(scope=scope, month=month or "")


def _limits_out(limits: Any, county: Any) -> dict[str, Any]:
    return {
        "county_code": limits.county_id,
        "county_name": county.name,
        "max_price_fen": limits.max_price_fen,
        "review_above_fen": limits.review_above_fen,
        "shop_max_fen": dict(limits.shop_max_fen or {}),
    }


@router.get("/assisted/limits/{county_code}", response={200: LimitsOut, **ERROR_RESPONSES})
def assisted_limits(request: HttpRequest, county_code: str):
    """The county's limits on one purchase (the defaults if it has set none)."""
    _, scope = _scope(request, Perm.VIEW_COMMERCE)
    county = assisted_selectors.county_get(scope=scope, county_code=county_code)
    return _limits_out(assisted.assisted_limits(county_code=county.code), county)


@router.put("/assisted/limits/{county_code}", response={200: LimitsOut, **ERROR_RESPONSES})
def assisted_limits_update(request: HttpRequest, county_code: str, payload: LimitsIn):
    """Set the county's most per purchase, its review threshold, the most per shop."""
    user, scope = _scope(request, Perm.EDIT_SETTLEMENT_RULES)
    shops = payload.shop_max_fen
    limits = assisted.assisted_limits_update(
        scope=scope,
        county_code=county_code,
        max_price_fen=payload.max_price_fen,
        review_above_fen=payload.review_above_fen,
        shop_max_fen=None if shops is None else {str(k.value): v for k, v in shops.items()},
        actor=user,
    )
    return _limits_out(limits, limits.county)


@router.get("/assisted/{purchase_id}", response={200: AssistedOut, **ERROR_RESPONSES})
def assisted_detail(request: HttpRequest, purchase_id: uuid.UUID):
    _, scope = _scope(request, Perm.VIEW_COMMERCE)
    return assisted_out(_get(scope, purchase_id))


@router.get(
    "/assisted/{purchase_id}/parcels", response={200: list[CandidateOut], **ERROR_RESPONSES}
)
def assisted_candidates(request: HttpRequest, purchase_id: uuid.UUID):
    """Parcels waiting at the purchase's station that no purchase claims (the villager's
    phone first): what the operator picks from when matching is ambiguous."""
    _, scope = _scope(request, Perm.EDIT_ASSISTED)
    p = _get(scope, purchase_id)
    return [
        {
            "id": x.uuid,
            "carrier": x.carrier.code,
            "tracking_number": x.tracking_number,
            "recipient_name": x.recipient_name,
            "phone_last4": x.phone_last4,
            "same_phone": x.recipient_phone == p.villager_phone,
            "arrived_at": x.state_at,
        }
        for x in assisted_selectors.assisted_parcel_candidates(scope=scope, purchase=p)
    ]


@router.post("/assisted/{purchase_id}/ordered", response={200: AssistedOut, **ERROR_RESPONSES})
def assisted_ordered(request: HttpRequest, purchase_id: uuid.UUID, payload: OrderedIn):
    """The order is placed at the shop: its order number (and tracking number, if known)."""
    user, scope = _scope(request, Perm.EDIT_ASSISTED)
    p = assisted.assisted_mark_ordered(
        scope=scope,
        purchase=_get(scope, purchase_id),
        shop_order_no=payload.shop_order_no,
        tracking_number=payload.tracking_number,
        actor=user,
    )
    return assisted_out(_get(scope, p.uuid))


@router.post("/assisted/{purchase_id}/link", response={200: AssistedOut, **ERROR_RESPONSES})
def assisted_link(request: HttpRequest, purchase_id: uuid.UUID, payload: LinkIn):
    """Link the inbound parcel: by ``tracking_number`` or by ``parcel_id`` (one of the
    waiting parcels). A parcel of another station is refused (``wrong_station``)."""
    user, scope = _scope(request, Perm.EDIT_ASSISTED)
    p = assisted.assisted_link(
        scope=scope,
        purchase=_get(scope, purchase_id),
        tracking_number=payload.tracking_number,
        parcel_id=payload.parcel_id,
        actor=user,
    )
    return assisted_out(_get(scope, p.uuid))


@router.post("/assisted/{purchase_id}/review", response={200: AssistedOut, **ERROR_RESPONSES})
def assisted_review(request: HttpRequest, purchase_id: uuid.UUID, payload: ReviewIn):
    """The county's decision on a purchase above its threshold: ``approve`` true lets
    its commission accrue (at the hand-out), false means none; a rejection needs a
    ``note``. Never by the person who recorded it (``same_person``)."""
    user, scope = _scope(request, Perm.REVIEW_ASSISTED)
    p = assisted.assisted_review(
        scope=scope,
        purchase=_get(scope, purchase_id),
        approve=payload.approve,
        note=payload.note,
        actor=user,
    )
    return assisted_out(_get(scope, p.uuid))


@router.post("/assisted/{purchase_id}/cancel", response={200: AssistedOut, **ERROR_RESPONSES})
def assisted_cancel(request: HttpRequest, purchase_id: uuid.UUID, payload: AssistedCancelIn):
    user, scope = _scope(request, Perm.EDIT_ASSISTED)
    p = assisted.assisted_cancel(
        scope=scope, purchase=_get(scope, purchase_id), reason=payload.reason, actor=user
    )
    return assisted_out(_get(scope, p.uuid))


@router.get("/stations/{station_id}/earnings", response={200: EarningsOut, **ERROR_RESPONSES})
def station_earnings(
    request: HttpRequest,
    station_id: int,
    months: int = Query(12, ge=1, le=assisted_selectors.MAX_MONTHS),
):
    """A station's earnings per month by source (fen): logistics fees down and up (and
    of them pending — owed, not yet posted to the ledger — and posted), assisted-purchase
    commission, sales commission (net of refunds)."""
    require(request, Perm.VIEW_LEDGER)
    scope = scope_for_user(request.auth)  # type: ignore[attr-defined]
    station = assisted_selectors.station_get(scope=scope, station_id=station_id)
    rows = assisted_selectors.station_earnings(scope=scope, station=station, months=months)
    return {
        "station_id": station.pk,
        "station_code": station.code,
        "station_name": station.name,
        "months": rows,
    }
