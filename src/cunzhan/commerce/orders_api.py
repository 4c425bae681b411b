"""Commerce orders API under /api/v1/commerce: the county's orders (buyers masked),
place an order for a channel, confirm delivery, cancel, refund a return; and the
payment provider's webhook (``/payments/{provider}/webhook``: no token — the HMAC
signature is the credential, see ``payments.py``).

Thin: validate, call one service or selector, render. Outside the caller's scope: 404.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any, Literal

from django.http import HttpRequest, HttpResponse
from django.http.request import RawPostDataException
from ninja import Field, Query, Router, Schema, Status
from ninja.pagination import paginate

from cunzhan.accounts.roles import Perm
from cunzhan.accounts.selectors import scope_for_user
from cunzhan.commerce import (
    marketplace,
    orders,
    orders_selectors,
    orders_states,
    payments,
    wholesale,
)
from cunzhan.commerce.api import mask_phone
from cunzhan.commerce.orders_models import Buyer, BuyerKind, Channel, Order, OrderState
from cunzhan.commerce.schema_rules import COUNTY_CODE, MONTH, PHONE, text
from cunzhan.core.api import ERROR_RESPONSES, Pagination, require, resolved_annotations
from cunzhan.core.errors import ApplicationError, NotFound

router = Router(tags=["commerce orders"])


class LineIn(Schema):
    """A product (its code) of one grade (its code); an unknown one: 422 naming the line."""

    product: str = Field(..., max_length=40)
    grade: str = Field(..., max_length=20)
    quantity: int = Field(..., ge=1, le=orders.MAX_LINE_QUANTITY)


Lines = Field(..., min_length=1, max_length=orders.MAX_LINES)
# the only currency
Currency = Literal["CNY"]


class OrderIn(Schema):
    channel: Channel = Channel.WHOLESALE
    county_code: str = Field(..., pattern=COUNTY_CODE)
    lines: list[LineIn] = Lines
    buyer_name: str = text(80)
    buyer_phone: str = Field(..., max_length=20, pattern=PHONE)
    address: str = text(200)
    currency: Currency = "CNY"
    note: str = Field("", max_length=200)


class AllocationOut(Schema):
    lot_code: str
    quantity: int


class OrderShipmentOut(Schema):
    id: uuid.UUID
    station_code: str
    state: str
    outbound_tracking: str


class OrderLineOut(Schema):
    product: str
    grade: str
    unit: str
    quantity: int
    unit_price_fen: int
    total_fen: int
    allocations: list[AllocationOut]


class OrderOut(Schema):
    id: uuid.UUID
    number: str
    channel: str
    county_code: str
    state: str
    buyer_name_masked: str
    buyer_phone_masked: str
    currency: str
    total_fen: int
    paid_fen: int
    refunded_fen: int
    note: str
    created_at: dt.datetime
    # an unpaid order expires then and its stock is released
    expires_at: dt.datetime | None = None
    # the staff actions the order's state allows (the state machine, orders_states.py)
    actions: list[str] = []


class OrderDetailOut(OrderOut):
    lines: list[OrderLineOut]
    shipments: list[OrderShipmentOut]


class OrderCancelIn(Schema):
    reason: str = Field("", max_length=200)


class ReturnIn(Schema):
    # at most what was paid and not yet refunded (else 422 refund_exceeds_paid)
    amount_fen: int = Field(..., ge=1)
    reason: str = Field("", max_length=200)


class WebhookOut(Schema):
    payment_ref: str
    status: str
    replay: bool


def _mask_name(name: str) -> str:
    return (name[:1] + "*" * max(len(name) - 1, 1)) if name else ""


def order_out(o: Order) -> dict[str, Any]:
    return {
        "id": o.uuid,
        "number": o.number,
        "channel": o.channel,
        "county_code": o.county_id,
        "state": o.state,
        "buyer_name_masked": _mask_name(o.buyer_name),
        "buyer_phone_masked": mask_phone(o.buyer_phone),
        "currency": o.currency,
        "total_fen": o.total_fen,
        "paid_fen": o.paid_fen,
        "refunded_fen": o.refunded_fen,
        "note": o.note,
        "created_at": o.created_at,
        "expires_at": o.expires_at,
        "actions": orders_states.actions_allowed(o),
    }


def order_detail_out(o: Order) -> dict[str, Any]:
    return {
        **order_out(o),
        "lines": [
            {
                "product": ln.product.code,
                "grade": ln.grade.code,
                "unit": ln.unit,
                "quantity": ln.quantity,
                "unit_price_fen": ln.unit_price_fen,
                "total_fen": ln.total_fen,
                "allocations": [
                    {"lot_code": a.lot.code, "quantity": a.quantity} for a in ln.allocations.all()
                ],
            }
            for ln in orders_selectors.order_lines(order=o)
        ],
        "shipments": [
            {
                "id": link.shipment.uuid,
                "station_code": link.station.code,
                "state": link.shipment.state,
                "outbound_tracking": link.shipment.outbound_tracking,
            }
            for link in o.shipments.select_related("shipment", "station")
        ],
    }


def raw_body(request: HttpRequest) -> bytes:
    """The request's raw body (a webhook's signature covers it). A form-encoded or
    multipart body was already parsed as a form: not a webhook body."""
    try:
        return request.body
    except RawPostDataException as exc:
        raise ApplicationError(
            "the webhook body must be JSON (application/json)", code="invalid_body"
        ) from exc


def _scope(request: HttpRequest, perm: str):
    user = require(request, perm)
    return user, scope_for_user(user)


@router.get("/orders", response={200: list[OrderOut], **ERROR_RESPONSES})
@paginate(Pagination)
@resolved_annotations
def orders_list(
    request: HttpRequest, state: OrderState | None = None, channel: Channel | None = None
):
    """The orders of the caller's counties, newest first (buyers masked)."""
    _, scope = _scope(request, Perm.VIEW_ORDERS)
    qs = orders_selectors.order_list(scope=scope, state=state or "", channel=channel or "")
    return [order_out(o) for o in qs[:500]]


@router.post("/orders", response={201: OrderDetailOut, **ERROR_RESPONSES})
def order_create(request: HttpRequest, payload: OrderIn):
    """Place an order in one of the caller's counties (wholesale, or a marketplace order
    typed in): priced from the published tiers, stock reserved oldest harvest first."""
    user, scope = _scope(request, Perm.MANAGE_ORDERS)
    if not scope.contains_code(payload.county_code[:12]) or (
        not scope.everything and scope.station_ids is not None
    ):
        raise NotFound()
    order = orders.order_place(
        channel=payload.channel,
        county_code=payload.county_code,
        lines=[ln.dict() for ln in payload.lines],
        buyer_name=payload.buyer_name,
        buyer_phone=payload.buyer_phone,
        address=payload.address,
        currency=payload.currency,
        note=payload.note,
        actor=user,
    )
    return Status(201, order_detail_out(order))


@router.get("/orders/{order_id}", response={200: OrderDetailOut, **ERROR_RESPONSES})
def order_detail(request: HttpRequest, order_id: uuid.UUID):
    """One order; a fulfilling order whose shipments were all handed to the carrier
    is shipped from now on."""
    _, scope = _scope(request, Perm.VIEW_ORDERS)
    o = orders_selectors.order_get(scope=scope, order_id=order_id)
    return order_detail_out(orders.order_sync_shipments(order=o))


@router.post("/orders/{order_id}/cancel", response={200: OrderDetailOut, **ERROR_RESPONSES})
def order_cancel(request: HttpRequest, order_id: uuid.UUID, payload: OrderCancelIn):
    """Cancel before shipping: stock released, a paid order refunded."""
    user, scope = _scope(request, Perm.MANAGE_ORDERS)
    o = orders_selectors.order_get(scope=scope, order_id=order_id)
    return order_detail_out(
        orders.order_cancel(scope=scope, order=o, reason=payload.reason, actor=user)
    )


@router.post("/orders/{order_id}/fulfil", response={200: OrderDetailOut, **ERROR_RESPONSES})
def order_fulfil(request: HttpRequest, order_id: uuid.UUID):
    """Book the paid order's upward shipments (one per station) through logistics."""
    user, scope = _scope(request, Perm.MANAGE_ORDERS)
    o = orders_selectors.order_get(scope=scope, order_id=order_id)
    return order_detail_out(orders.order_fulfil(scope=scope, order=o, actor=user))


@router.post("/orders/{order_id}/ship", response={200: OrderDetailOut, **ERROR_RESPONSES})
def order_ship(request: HttpRequest, order_id: uuid.UUID):
    """The county centre handed the paid order to the outbound carrier."""
    user, scope = _scope(request, Perm.MANAGE_ORDERS)
    o = orders_selectors.order_get(scope=scope, order_id=order_id)
    return order_detail_out(orders.order_ship(scope=scope, order=o, actor=user))


@router.post("/orders/{order_id}/deliver", response={200: OrderDetailOut, **ERROR_RESPONSES})
def order_deliver(request: HttpRequest, order_id: uuid.UUID):
    """Delivery confirmed: the sales are settled per lot in the ledger."""
    user, scope = _scope(request, Perm.MANAGE_ORDERS)
    o = orders_selectors.order_get(scope=scope, order_id=order_id)
    return order_detail_out(orders.order_deliver(scope=scope, order=o, actor=user))


@router.post("/orders/{order_id}/return", response={200: OrderDetailOut, **ERROR_RESPONSES})
def order_return(request: HttpRequest, order_id: uuid.UUID, payload: ReturnIn):
    """A return after delivery: refund ``amount_fen`` (never more than paid)."""
    user, scope = _scope(request, Perm.MANAGE_ORDERS)
    o = orders_selectors.order_get(scope=scope, order_id=order_id)
    return order_detail_out(
        orders.order_return(
            scope=scope, order=o, amount_fen=payload.amount_fen, reason=payload.reason, actor=user
        )
    )


@router.post(
    "/payments/{provider}/webhook",
    auth=None,
    response={200: WebhookOut, **ERROR_RESPONSES},
)
def payment_webhook(request: HttpRequest, provider: str):
    """The provider's signed event (no token: header ``X-Cunzhan-Signature:
    sha256=<hex HMAC-SHA256 of the raw body>``). Replays answer ``replay: true``."""
    result = payments.payment_webhook(
        provider_code=provider,
        body=raw_body(request),
        signature=request.headers.get(payments.SIGNATURE_HEADER, ""),
    )
    return {
        "payment_ref": result.payment.provider_ref,
        "status": result.payment.status,
        "replay": result.replay,
    }


# --- wholesale ---------------------------------------------------------------------------


class BuyerIn(Schema):
    county_code: str = Field(..., pattern=COUNTY_CODE)
    kind: BuyerKind = BuyerKind.OTHER
    organisation: str = text(120)
    contact_name: str = text(80)
    contact_phone: str = Field(..., max_length=20, pattern=PHONE)
    address: str = text(200)


class BuyerOut(Schema):
    id: uuid.UUID
    county_code: str
    kind: str
    organisation: str
    contact_name_masked: str
    contact_phone_masked: str
    orders: int


class PurchaseOrderIn(Schema):
    lines: list[LineIn] = Lines
    # today or later, within a year (else 422 invalid_date)
    delivery_date: dt.date
    currency: Currency = "CNY"
    note: str = Field("", max_length=200)


def buyer_out(b: Buyer) -> dict[str, Any]:
    return {
        "id": b.uuid,
        "county_code": b.county_id,
        "kind": b.kind,
        "organisation": b.organisation,
        "contact_name_masked": _mask_name(b.contact_name),
        "contact_phone_masked": mask_phone(b.contact_phone),
        "orders": b.orders.count(),
    }


@router.get("/buyers", response={200: list[BuyerOut], **ERROR_RESPONSES})
@paginate(Pagination)
def buyers_list(request: HttpRequest):
    """Institutional buyers of the caller's counties."""
    _, scope = _scope(request, Perm.VIEW_ORDERS)
    return [buyer_out(b) for b in orders_selectors.buyer_list(scope=scope)[:500]]


@router.post("/buyers", response={201: BuyerOut, **ERROR_RESPONSES})
def buyer_create(request: HttpRequest, payload: BuyerIn):
    user, scope = _scope(request, Perm.MANAGE_ORDERS)
    b = wholesale.buyer_create(scope=scope, actor=user, **payload.dict())
    return Status(201, buyer_out(b))


@router.post("/buyers/{buyer_id}/orders", response={201: OrderDetailOut, **ERROR_RESPONSES})
def purchase_order_create(request: HttpRequest, buyer_id: uuid.UUID, payload: PurchaseOrderIn):
    """A wholesale purchase order of the buyer (large quantities, a delivery date), filled
    from several producers' lots oldest harvest first."""
    user, scope = _scope(request, Perm.MANAGE_ORDERS)
    b = orders_selectors.buyer_get(scope=scope, buyer_id=buyer_id)
    o = wholesale.purchase_order_place(
        scope=scope,
        buyer=b,
        lines=[ln.dict() for ln in payload.lines],
        delivery_date=payload.delivery_date,
        currency=payload.currency,
        note=payload.note,
        actor=user,
    )
    return Status(201, order_detail_out(o))


# --- marketplaces --------------------------------------------------------------------------


class FeedRowOut(Schema):
    product: str
    product_name: str
    grade: str
    grade_name: str
    county_code: str
    county_name: str
    unit: str
    price_fen: int
    currency: str
    available: int
    trace_codes: list[str]


class MarketplaceOrderIn(Schema):
    order_id: str = text(64)
    county_code: str = Field(..., pattern=COUNTY_CODE)
    lines: list[LineIn] = Lines
    buyer_name: str = text(80)
    buyer_phone: str = Field(..., max_length=20, pattern=PHONE)
    address: str = text(200)
    # the total the marketplace charged: it must equal the order's (else 422)
    amount_fen: int = Field(..., ge=1)
    currency: Currency = "CNY"


class ImportOut(Schema):
    created: bool
    order: OrderDetailOut


@router.get("/feed", auth=None, response={200: list[FeedRowOut], **ERROR_RESPONSES})
def feed_json(request: HttpRequest):
    """The product feed for marketplaces (public, no personal data): product, grade,
    price, available quantity, county and the lots' trace codes."""
    return marketplace.feed_rows()


@router.get(
    "/feed.csv",
    auth=None,
    # the 200 is CSV, not JSON: documented by hand
    response=ERROR_RESPONSES,
    openapi_extra={
        "responses": {
            200: {"description": "OK", "content": {"text/csv": {"schema": {"type": "string"}}}}
        }
    },
)
def feed_csv(request: HttpRequest):
    """The product feed as CSV (trace codes space-separated)."""
    return HttpResponse(
        marketplace.feed_csv(marketplace.feed_rows()), content_type="text/csv; charset=utf-8"
    )


@router.post(
    "/marketplaces/{marketplace_code}/orders", response={200: ImportOut, **ERROR_RESPONSES}
)
def marketplace_order_import(
    request: HttpRequest, marketplace_code: str, payload: MarketplaceOrderIn
):
    """Import a marketplace's order into one of the caller's counties (paid at the
    marketplace); the same order id again returns the same order (``created: false``)."""
    user, scope = _scope(request, Perm.MANAGE_ORDERS)

    def county_check(code: str) -> None:
        if not scope.contains_code(code) or (
            not scope.everything and scope.station_ids is not None
        ):
            raise NotFound()

    o, created = marketplace.order_import(
        marketplace=marketplace_code,
        data={**payload.dict(), "lines": [ln.dict() for ln in payload.lines]},
        county_check=county_check,
        actor=user,
    )
    county_check(o.county_id)
    return {"created": created, "order": order_detail_out(o)}


@router.post(
    "/marketplaces/{marketplace_code}/webhook",
    auth=None,
    response={200: ImportOut, **ERROR_RESPONSES},
)
def marketplace_webhook(request: HttpRequest, marketplace_code: str):
    """A marketplace's order, signed with its own secret (``X-Cunzhan-Signature:
    sha256=<hex>``, body with ``timestamp``); a replay returns the same order."""
    o, created = marketplace.order_webhook(
        marketplace=marketplace_code,
        body=raw_body(request),
        signature=request.headers.get(payments.SIGNATURE_HEADER, ""),
    )
    return {"created": created, "order": order_detail_out(o)}


# --- report --------------------------------------------------------------------------------


class SalesRowOut(Schema):
    month: str
    county_code: str
    county_name: str
    village_code: str
    village_name: str
    product: str
    product_name: str
    quantity: int
    total_fen: int
    poor_fen: int
    poor_share: float


@router.get("/sales/report", response={200: list[SalesRowOut], **ERROR_RESPONSES})
def sales_report(request: HttpRequest, month: str | None = Query(None, pattern=MONTH)):
    """Sales by month (``YYYY-MM``; default every month), county, village and product in
    the caller's counties, with the part sold by registered-poor households
    (``poor_fen``, ``poor_share``)."""
    _, scope = _scope(request, Perm.VIEW_ORDERS)
    return orders_selectors.sales_report(scope=scope, month=month or "")
