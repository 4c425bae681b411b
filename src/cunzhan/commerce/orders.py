"""Every write of commerce orders (docs/adr/0015-commerce-orders.md).

An order is of one county's produce. Placing it prices each line from the county's
published price tier in force and reserves the stock at once: each line is allocated to
the lots of its product and grade in the county (graded or packed, oldest harvest
first, across several lots if needed) by decrementing ``Lot.quantity_available``. The
candidate lots of ALL lines are locked with ``select_for_update`` in one query ordered
by lot id (a fixed lock order: two orders never deadlock), and the quantities are read
again after the lock, so concurrent orders never oversell. Not enough stock: a clear
error naming the line, nothing reserved.

The money goes through the ledger (``cunzhan.ledger.services``): the provider's
payment (``payments.py``) is ``payment_receive``; delivery settles each allocation
with ``sale_settle`` (the producer's share of that lot; key ``sale:<alloc uuid>``);
cancelling a paid order refunds the payment and a return refunds the sales
(``sale_refund``, never more than paid).
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from cunzhan.commerce import selectors
from cunzhan.commerce.models import (
    Grade,
    Lot,
    LotEvent,
    LotEventType,
    LotStatus,
    Product,
)
from cunzhan.commerce.orders_models import (
    Channel,
    Order,
    OrderAllocation,
    OrderLine,
    OrderShipment,
    OrderState,
    Payment,
    PaymentStatus,
)
from cunzhan.commerce.orders_states import transition_check
from cunzhan.core.audit import audit_record
from cunzhan.core.errors import ApplicationError, Conflict, NotFound, Unprocessable
from cunzhan.core.scope import RegionScope, prefix_q
from cunzhan.core.validation import clean_phone, reject_nul
from cunzhan.ledger import services as ledger
from cunzhan.logistics import shipments as logistics_shipments
from cunzhan.logistics.models import ShipmentState
from cunzhan.network.models import Level, Region, StationStatus

CURRENCY = "CNY"
MAX_LINES = 50
MAX_LINE_QUANTITY = 1_000_000  # whole units; wholesale orders are large, not unbounded
SELLABLE = (LotStatus.GRADED, LotStatus.PACKED)


def _err(field: str, message: str, code: str) -> ApplicationError:
    """A value that breaks a rule (422, naming the field)."""
    return Unprocessable(message, code=code, details={"field": field})


def _text(value: Any, *, field: str, max_len: int, required: bool = True) -> str:
    value = str(value or "").strip()
    reject_nul(**{field: value})
    if required and not value:
        raise _err(field, _("%(f)s 不能为空") % {"f": field}, "required")
    if len(value) > max_len:
        raise _err(field, _("%(f)s 最多 %(n)s 个字符") % {"f": field, "n": max_len}, "too_long")
    return value


def quantity_check(value: Any, *, field: str = "quantity") -> int:
    """A whole, positive quantity (bool, float, text, 0 and negatives are refused)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise _err(field, _("%(f)s 必须是整数") % {"f": field}, "invalid_quantity")
    if value <= 0:
        raise _err(
            field,
            _("%(f)s 必须大于 0（收到 %(v)s）") % {"f": field, "v": value},
            "invalid_quantity",
        )
    if value > MAX_LINE_QUANTITY:
        raise _err(
            field,
            _("%(f)s 不能超过 %(n)s") % {"f": field, "n": MAX_LINE_QUANTITY},
            "invalid_quantity",
        )
    return value


def currency_check(currency: Any) -> None:
    if currency != CURRENCY:
        raise Unprocessable(
            _("只支持人民币（CNY），收到：%(c)s") % {"c": str(currency)[:10]},
            code="unsupported_currency",
            details={"field": "currency"},
        )


def _audit(action: str, order: Order, before: Any, after: Any, actor: Any, note: str = ""):
    audit_record(
        action=action,
        object_type="commerce.Order",
        object_id=order.uuid,
        object_repr=str(order),
        region_code=order.county_id,
        before=before,
        after=after,
        note=note,
        actor=actor if getattr(actor, "pk", None) else None,
    )


def _new_number() -> str:
    today = timezone.localdate().strftime("%y%m%d")
    return f"CZ{today}{secrets.randbelow(10**8):08d}"


def order_link(order: Order) -> str:
    """The public status link's key: the order number and its secret token."""
    return f"{order.number}-{order.access_token}"


@dataclass(frozen=True)
class LineRequest:
    product: Product
    grade: Grade
    quantity: int


def line_requests(rows: Iterable[Mapping[str, Any]]) -> list[LineRequest]:
    """``[{"product": code, "grade": code, "quantity": n}]`` -> checked requests (an
    unknown product or grade, a bad quantity: an error naming the line)."""
    rows = list(rows)
    if not rows:
        raise _err("lines", _("订单至少需要一行商品"), "no_lines")
    if len(rows) > MAX_LINES:
        raise _err("lines", _("订单最多 %(n)s 行") % {"n": MAX_LINES}, "too_many_lines")
    out: list[LineRequest] = []
    seen: set[tuple[int, int]] = set()
    for i, row in enumerate(rows, start=1):
        where = f"lines[{i}]"
        code = str(row.get("product") or "")[:40]
        product = Product.objects.filter(code=code, active=True).first()
        if product is None:
            raise _err(
                f"{where}.product",
                _("第 %(i)s 行：未知的产品 %(p)s") % {"i": i, "p": code},
                "unknown_product",
            )
        gcode = str(row.get("grade") or "")[:20]
        grade = Grade.objects.filter(
            standard__product=product, standard__active=True, code=gcode
        ).first()
        if grade is None:
            raise _err(
                f"{where}.grade",
                _("第 %(i)s 行：产品“%(p)s”没有等级 %(g)s")
                % {"i": i, "p": product.name, "g": gcode},
                "unknown_grade",
            )
        qty = quantity_check(row.get("quantity"), field=f"{where}.quantity")
        if (product.pk, grade.pk) in seen:
            raise _err(where, _("第 %(i)s 行与前面的行重复") % {"i": i}, "duplicate_line")
        seen.add((product.pk, grade.pk))
        out.append(LineRequest(product=product, grade=grade, quantity=qty))
    return out


def _county(county_code: Any) -> Region:
    county = Region.objects.filter(code=str(county_code)[:12], level=Level.COUNTY).first()
    if county is None:
        raise _err("county", _("未知的县：%(c)s") % {"c": str(county_code)[:12]}, "unknown_county")
    return county


def sellable_lots(*, county_code: str, grade: Grade) -> Any:
    """The lots a line of ``grade`` may be allocated to in a county, oldest first."""
    return Lot.objects.filter(
        prefix_q("village_id", county_code),
        grade=grade,
        status__in=SELLABLE,
        quantity_available__gt=0,
    ).order_by("harvest_date", "id")


def _candidate_lot_ids(county_code: str, grades: Iterable[Grade]) -> set[int]:
    """Every lot a line of these grades may take in the county, including the units
    that overdue unpaid orders still hold (they are released before allocating)."""
    grade_ids = {g.pk for g in grades}
    free = set(
        Lot.objects.filter(
            prefix_q("village_id", county_code),
            grade_id__in=grade_ids,
            status__in=SELLABLE,
            quantity_available__gt=0,
        ).values_list("id", flat=True)
    )
    held = set(
        OrderAllocation.objects.filter(
            line__order__county_id=county_code,
            line__order__state=OrderState.PENDING_PAYMENT,
            released=False,
            lot__grade_id__in=grade_ids,
        ).values_list("lot_id", flat=True)
    )
    return free | held


def _release_overdue(*, lot_ids: set[int], now: dt.datetime, exclude: int) -> int:
    """Expire the unpaid orders past their time that hold units of these lots, so a sweep
    that has not run yet does not keep stock from a buyer (orders locked in id order,
    then their lots in id order: the order ``order_cancel`` locks in)."""
    overdue = (
        Order.objects.filter(
            state=OrderState.PENDING_PAYMENT,
            expires_at__lte=now,
            lines__allocations__lot_id__in=lot_ids,
            lines__allocations__released=False,
        )
        .exclude(pk=exclude)
        .values_list("pk", flat=True)
        .distinct()
        .order_by("pk")
    )
    n = 0
    for order in Order.objects.select_for_update().filter(pk__in=list(overdue)).order_by("pk"):
        if order.state == OrderState.PENDING_PAYMENT:
            _expire(order, now=now)
            n += 1
    return n


def _allocate(
    order: Order, lines: list[tuple[OrderLine, LineRequest]], *, now: dt.datetime
) -> None:
    """Reserve every line's quantity, oldest harvest first; all or nothing (the caller's
    transaction is rolled back by the error). Unpaid orders past their expiry that hold
    units of the candidate lots are expired first (their units count as available)."""
    candidate_ids = _candidate_lot_ids(order.county_id, [req.grade for _l, req in lines])
    _release_overdue(lot_ids=candidate_ids, now=now, exclude=order.pk)
    # one lock, in lot id order, over every lot any line may take
    locked = {
        lot.pk: lot
        for lot in Lot.objects.select_for_update().filter(pk__in=candidate_ids).order_by("id")
    }
    for line, req in lines:
        pool = sorted(
            (
                lot
                for lot in locked.values()
                if lot.grade_id == req.grade.pk
                and lot.status in SELLABLE
                and lot.quantity_available > 0
            ),
            key=lambda lot: (lot.harvest_date, lot.pk),
        )
        available = sum(lot.quantity_available for lot in pool)
        if available < req.quantity:
            raise Conflict(
                _("库存不足：%(p)s %(g)s 需要 %(n)s，可售 %(a)s")
                % {"p": req.product.name, "g": req.grade.name, "n": req.quantity, "a": available},
                code="insufficient_stock",
                details={
                    "product": req.product.code,
                    "grade": req.grade.code,
                    "requested": req.quantity,
                    "available": available,
                },
            )
        need = req.quantity
        for lot in pool:
            if need == 0:
                break
            take = min(need, lot.quantity_available)
            lot.quantity_available -= take
            lot.save(update_fields=["quantity_available", "updated_at"])
            # an expired order paid late is allocated again: its released row is reused
            OrderAllocation.objects.update_or_create(
                line=line, lot=lot, defaults={"quantity": take, "released": False}
            )
            need -= take


@transaction.atomic
def order_place(
    *,
    channel: str,
    county_code: str,
    lines: Iterable[Mapping[str, Any]],
    buyer_name: str,
    buyer_phone: str,
    address: str,
    currency: str = CURRENCY,
    note: str = "",
    buyer: Any = None,
    delivery_date: dt.date | None = None,
    marketplace: str = "",
    external_ref: str = "",
    actor: Any = None,
    at: dt.datetime | None = None,
) -> Order:
    """Place an order of a county's produce: price every line from the published tier
    in force, reserve the stock (see the module doc). Bad input or too little stock:
    an error, nothing written."""
    if channel not in Channel.values:
        raise _err("channel", _("未知的渠道：%(c)s") % {"c": str(channel)[:20]}, "invalid_channel")
    currency_check(currency)
    county = _county(county_code)
    requests = line_requests(lines)
    name = _text(buyer_name, field="buyer_name", max_len=80)
    phone = clean_phone(str(buyer_phone or ""), field="buyer_phone")
    addr = _text(address, field="address", max_len=200)
    note = _text(note, field="note", max_len=200, required=False)
    now = at or timezone.now()
    priced: list[tuple[LineRequest, Any]] = []
    for i, req in enumerate(requests, start=1):
        tier = selectors.price_tier_current(grade=req.grade, county_code=county.code, at=now)
        if tier is None:
            raise _err(
                f"lines[{i}]",
                _("%(p)s %(g)s 在%(c)s没有公布的价格")
                % {"p": req.product.name, "g": req.grade.name, "c": county.name},
                "no_price",
            )
        priced.append((req, tier))
    for _attempt in range(5):
        try:
            with transaction.atomic():
                order = Order.objects.create(
                    number=_new_number(),
                    access_token=secrets.token_urlsafe(18),
                    channel=channel,
                    county=county,
                    buyer_name=name,
                    buyer_phone=phone,
                    address=addr,
                    note=note,
                    buyer=buyer,
                    delivery_date=delivery_date,
                    marketplace=marketplace,
                    external_ref=external_ref,
                    created_by=actor if getattr(actor, "pk", None) else None,
                )
            break
        except IntegrityError:
            if (
                external_ref
                and Order.objects.filter(
                    marketplace=marketplace, external_ref=external_ref
                ).exists()
            ):  # the same marketplace order imported at the same moment
                raise Conflict(_("该平台订单已导入"), code="duplicate_external_ref") from None
            continue  # an order number drawn twice: draw again
    else:  # pragma: no cover
        raise ApplicationError("could not draw a unique order number", code="number_clash")
    made: list[tuple[OrderLine, LineRequest]] = []
    total = 0
    for req, tier in priced:
        line = OrderLine.objects.create(
            order=order,
            product=req.product,
            grade=req.grade,
            price_tier=tier,
            unit=tier.unit,
            quantity=req.quantity,
            unit_price_fen=tier.price_fen,
            total_fen=req.quantity * tier.price_fen,
        )
        total += line.total_fen
        made.append((line, req))
    _allocate(order, made, now=now)
    order.total_fen = total
    order.expires_at = now + unpaid_ttl(channel)
    order.save(update_fields=["total_fen", "expires_at", "updated_at"])
    _audit("create", order, None, {"state": order.state, "total_fen": total}, actor)
    return order


def unpaid_ttl(channel: str) -> dt.timedelta:
    """How long an unpaid order of this channel holds its stock (settings): a
    storefront or marketplace order ``ORDER_UNPAID_TTL_MINUTES``, a wholesale purchase
    order (an institution pays by transfer) ``ORDER_WHOLESALE_UNPAID_TTL_HOURS``."""
    if channel == Channel.WHOLESALE:
        return dt.timedelta(hours=settings.ORDER_WHOLESALE_UNPAID_TTL_HOURS)
    return dt.timedelta(minutes=settings.ORDER_UNPAID_TTL_MINUTES)


def _locked(order: Order) -> Order:
    return Order.objects.select_for_update().get(pk=order.pk)


def _check_scope(scope: RegionScope, order: Order) -> None:
    if not scope.contains_code(order.county_id) or (
        scope.station_ids is not None and not scope.everything
    ):
        raise NotFound()


def order_mark_paid(*, order: Order, payment: Payment, at: dt.datetime) -> Order:
    """Called by ``payments.payment_webhook`` inside its transaction, with the payment
    locked: post ``payment_receive`` to the ledger (idempotent by the payment's key) and
    mark the order paid. An order cancelled meanwhile stays cancelled and the money is
    refunded at once. An order that expired meanwhile is allocated again when the
    stock allows (it is paid after all), else the money is refunded at once. A second
    payment of an order already paid is refunded at once (the order keeps its state)."""
    locked = _locked(order)
    if locked.state == OrderState.PENDING_PAYMENT:
        target: str = OrderState.PAID
    elif locked.state == OrderState.EXPIRED:
        realloc = _reallocate(locked, now=timezone.now())
        target = OrderState.PAID if realloc else OrderState.REFUNDED
    elif locked.state in (OrderState.CANCELLED, OrderState.REFUNDED):
        target = OrderState.REFUNDED
    else:  # paid twice: the order keeps its state, the second payment is paid back
        target = locked.state
    transition_check(locked, action="pay", to=target)
    keep = target == OrderState.PAID and locked.state != OrderState.PAID
    before = {"state": locked.state}
    tx = ledger.payment_receive(
        county=locked.county_id,
        idempotency_key=payment.ledger_idempotency_key,
        buyer_key=locked.buyer_key,
        buyer_label=f"{locked.number}",
        amount_fen=payment.amount_fen,
        provider=payment.provider,
        occurred_at=at,
    )
    payment.status = PaymentStatus.PAID
    payment.paid_at = at
    payment.ledger_key = tx.idempotency_key
    payment.save(update_fields=["status", "paid_at", "ledger_key", "updated_at"])
    locked.paid_fen += payment.amount_fen
    locked.save(update_fields=["paid_fen", "updated_at"])
    if keep:
        locked.state = OrderState.PAID
        locked.paid_at = at
        locked.save(update_fields=["state", "paid_at", "updated_at"])
    else:
        # paid after a cancellation, after an expiry whose stock is gone, or a second
        # time: give it back at once
        _refund_payment(locked, payment, payment.amount_fen)
        locked.state = target
        locked.save(update_fields=["state", "updated_at"])
    _audit("transition", locked, before, {"state": locked.state, "paid_fen": locked.paid_fen}, None)
    return locked


def _reallocate(order: Order, *, now: dt.datetime) -> bool:
    """Allocate an expired order's lines again (a payment arrived after its expiry).
    True when the stock allowed it; False (nothing allocated) when it did not."""
    made = [
        (line, LineRequest(product=line.product, grade=line.grade, quantity=line.quantity))
        for line in order.lines.select_related("product", "grade").order_by("id")
    ]
    try:
        with transaction.atomic():
            _allocate(order, made, now=now)
    except ApplicationError as exc:
        if exc.code != "insufficient_stock":
            raise
        return False
    return True


def _refund_payment(order: Order, payment: Payment, amount: int) -> None:
    ledger.sale_refund(
        county=order.county_id,
        idempotency_key=f"refund:{payment.uuid}",
        original_idempotency_key=payment.ledger_idempotency_key,
        amount_fen=amount,
    )
    Order.objects.filter(pk=order.pk).update(refunded_fen=order.refunded_fen + amount)
    order.refunded_fen += amount


def _release(order: Order) -> None:
    allocs = list(
        OrderAllocation.objects.filter(line__order=order, released=False).order_by("lot_id")
    )
    lots = {
        lot.pk: lot
        for lot in Lot.objects.select_for_update()
        .filter(pk__in=[a.lot_id for a in allocs])
        .order_by("id")
    }
    for a in allocs:
        lot = lots[a.lot_id]
        lot.quantity_available += a.quantity
        lot.save(update_fields=["quantity_available", "updated_at"])
        a.released = True
        a.save(update_fields=["released", "updated_at"])


@transaction.atomic
def order_cancel(*, scope: RegionScope, order: Order, reason: str = "", actor: Any = None) -> Order:
    """Cancel before shipping: the reserved stock goes back to the lots and a paid order
    is refunded in full through the ledger (back to the buyer's provider)."""
    _check_scope(scope, order)
    locked = _locked(order)
    target = OrderState.REFUNDED if locked.state == OrderState.PAID else OrderState.CANCELLED
    transition_check(locked, action="cancel", to=target)
    reason = _text(reason, field="reason", max_len=200, required=False)
    before = {"state": locked.state}
    _release(locked)
    for payment in locked.payments.select_for_update().order_by("id"):
        if payment.status == PaymentStatus.PAID:
            _refund_payment(locked, payment, payment.amount_fen)
        elif payment.status == PaymentStatus.CREATED:
            payment.status = PaymentStatus.CANCELLED
            payment.save(update_fields=["status", "updated_at"])
    locked.state = target
    locked.cancelled_at = timezone.now()
    locked.save(update_fields=["state", "cancelled_at", "updated_at"])
    _audit("transition", locked, before, {"state": locked.state}, actor, note=reason)
    return locked


@transaction.atomic
def order_ship(*, scope: RegionScope, order: Order, actor: Any = None) -> Order:
    """The order is shipped: only a fulfilling order whose every upward shipment the
    county centre has handed to the outbound carrier (logistics' scans: the fact the
    shipping rests on), at the last hand-over. Otherwise ``shipments_not_handed_over``
    naming how many are still on their way."""
    _check_scope(scope, order)
    locked = _locked(order)
    transition_check(locked, action="ship", to=OrderState.SHIPPED)
    last = _handed_over_at(locked)
    locked.state = OrderState.SHIPPED
    locked.shipped_at = last
    locked.save(update_fields=["state", "shipped_at", "updated_at"])
    _audit("transition", locked, None, {"state": locked.state}, actor)
    return locked


def _handed_over_at(order: Order) -> dt.datetime:
    """When the last of the order's shipments was handed to the outbound carrier; an
    order with none, or one still on its way, is refused."""
    rows = list(order.shipments.values_list("shipment__state", "shipment__handed_over_at"))
    waiting = sum(1 for s, at in rows if s != ShipmentState.HANDED_OVER or at is None)
    if not rows or waiting:
        raise Conflict(
            _("订单的上行发运还没有全部交给承运商（%(n)s 件未交接）")
            % {"n": waiting if rows else 0},
            code="shipments_not_handed_over",
            details={"shipments": len(rows), "waiting": waiting},
        )
    return max(at for _s, at in rows if at is not None)


# grams per unit for the booking's weight estimate (the station weighs at collection)
UNIT_GRAMS = {"kg": 1000, "box": 5000, "bag": 10000, "head": 50000, "piece": 500}


@transaction.atomic
def order_fulfil(*, scope: RegionScope, order: Order, actor: Any = None) -> Order:
    """Book the paid order's upward shipments through the logistics services: one per
    station whose lots it takes (contents: the order number and the lots' codes,
    destination: the delivery address), linked to the order, which is then
    ``fulfilling``. It becomes ``shipped`` when the county centre has handed every one
    of them to the outbound carrier (:func:`order_sync_shipments`)."""
    _check_scope(scope, order)
    locked = _locked(order)
    transition_check(locked, action="fulfil", to=OrderState.FULFILLING)
    groups: dict[int, list[OrderAllocation]] = {}
    for a in (
        OrderAllocation.objects.filter(line__order=locked, released=False)
        .select_related("lot__station", "lot__producer")
        .order_by("lot__station_id", "lot_id")
    ):
        groups.setdefault(a.lot.station_id, []).append(a)
    inactive = sorted(
        allocs[0].lot.station.name
        for allocs in groups.values()
        if allocs[0].lot.station.status != StationStatus.ACTIVE
    )
    if inactive:
        raise Conflict(
            _("服务站未在运营，不能预约上行：%(s)s") % {"s": "、".join(inactive)},
            code="station_inactive",
            details={"stations": inactive},
        )
    national = RegionScope.national()  # the order's scope was checked above
    for allocs in groups.values():
        station = allocs[0].lot.station
        producers = {a.lot.producer.name for a in allocs}
        shipment = logistics_shipments.shipment_book(
            scope=national,
            station=station,
            producer_name=allocs[0].lot.producer.name
            if len(producers) == 1
            else _("%(n)s 个生产者") % {"n": len(producers)},
            contents=(
                _("订单 %(o)s：") % {"o": locked.number}
                + ", ".join(f"{a.lot.code}×{a.quantity}" for a in allocs)
            )[:200],
            pieces=len(allocs),
            weight_g=min(
                sum(a.quantity * UNIT_GRAMS.get(a.lot.unit, 1000) for a in allocs),
                logistics_shipments.MAX_WEIGHT_G,
            ),
            destination=locked.address,
            actor=actor,
        )
        OrderShipment.objects.create(order=locked, shipment=shipment, station=station)
    locked.state = OrderState.FULFILLING
    locked.save(update_fields=["state", "updated_at"])
    _audit("transition", locked, None, {"state": locked.state}, actor)
    return locked


def order_sync_shipments(*, order: Order) -> Order:
    """A fulfilling order whose shipments were all handed to the outbound carrier is
    ``shipped``, at the last hand-over (read from logistics; logistics does not know
    about orders)."""
    if order.state != OrderState.FULFILLING:
        return order
    rows = list(order.shipments.values_list("shipment__state", "shipment__handed_over_at"))
    if not rows or any(s != ShipmentState.HANDED_OVER for s, _at in rows):
        return order
    with transaction.atomic():
        locked = _locked(order)
        if locked.state != OrderState.FULFILLING:
            return locked
        transition_check(locked, action="ship", to=OrderState.SHIPPED)
        locked.state = OrderState.SHIPPED
        # shipped when the last of its shipments was handed to the carrier
        locked.shipped_at = _handed_over_at(locked)
        locked.save(update_fields=["state", "shipped_at", "updated_at"])
        _audit("transition", locked, None, {"state": locked.state}, None)
        return locked


@transaction.atomic
def order_deliver(
    *, scope: RegionScope, order: Order, actor: Any = None, at: dt.datetime | None = None
) -> Order:
    """Delivery confirmed: only a ``shipped`` order (every shipment handed to the
    outbound carrier — see ``orders_states``), never a paid order nobody shipped. The
    order is delivered, each allocation's sale is settled in the ledger (the producer's
    share of that lot, the station's commission, the platform's fee; key derived from
    the allocation) and each lot gets a ``delivered`` event (once per order)."""
    _check_scope(scope, order)
    locked = _locked(order)
    transition_check(locked, action="deliver", to=OrderState.DELIVERED)
    _handed_over_at(locked)  # the facts the shipped state rests on, read again
    now = at or timezone.now()
    allocs = list(
        OrderAllocation.objects.filter(line__order=locked, released=False)
        .select_related("line", "lot__producer", "lot__station")
        .order_by("id")
    )
    for a in allocs:
        key = f"sale:{locked.uuid}:{a.lot_id}:{a.pk}"
        ledger.sale_settle(
            county=locked.county_id,
            idempotency_key=key,
            gross_fen=a.quantity * a.line.unit_price_fen,
            producer_key=f"producer:{a.lot.producer.uuid}",
            producer_label=a.lot.producer.name,
            station=a.lot.station,
            buyer_key=locked.buyer_key,
            occurred_at=now,
        )
        a.settled_key = key
        a.save(update_fields=["settled_key", "updated_at"])
        LotEvent.objects.get_or_create(
            lot=a.lot,
            type=LotEventType.DELIVERED,
            source_ref=f"order:{locked.uuid}",
            defaults={
                "occurred_at": now,
                "region_id": locked.county_id,
                "source": "orders",
                "details": {"quantity": a.quantity},
            },
        )
    before = {"state": locked.state}
    locked.state = OrderState.DELIVERED
    locked.delivered_at = now
    locked.save(update_fields=["state", "delivered_at", "updated_at"])
    _audit("transition", locked, before, {"state": locked.state}, actor)
    return locked


@transaction.atomic
def order_return(
    *, scope: RegionScope, order: Order, amount_fen: Any, reason: str = "", actor: Any = None
) -> Order:
    """A return after delivery: refund ``amount_fen`` of the settled sales through the
    ledger (spread over the allocations' sales in order), never more than paid and not
    yet refunded (``refund_exceeds_paid``)."""
    _check_scope(scope, order)
    locked = _locked(order)
    transition_check(locked, action="return", to=OrderState.RETURNED)
    if isinstance(amount_fen, bool) or not isinstance(amount_fen, int) or amount_fen <= 0:
        raise _err("amount_fen", _("退款金额必须是大于 0 的整数（分）"), "invalid_amount")
    left = locked.paid_fen - locked.refunded_fen
    if amount_fen > left:
        raise Unprocessable(
            _("退款 %(a)s 分超过可退金额 %(l)s 分") % {"a": amount_fen, "l": left},
            code="refund_exceeds_paid",
            details={"amount_fen": amount_fen, "refundable_fen": left},
        )
    reason = _text(reason, field="reason", max_len=200, required=False)
    seq = locked.refunded_fen  # makes each return's keys distinct and replay-stable
    need = amount_fen
    allocs = OrderAllocation.objects.filter(line__order=locked).exclude(settled_key="")
    for a in allocs.select_related("line").order_by("id"):
        if need == 0:
            break
        room = a.quantity * a.line.unit_price_fen - a.refunded_fen
        if room <= 0:
            continue
        take = min(room, need)
        ledger.sale_refund(
            county=locked.county_id,
            idempotency_key=f"return:{locked.uuid}:{a.pk}:{seq}",
            original_idempotency_key=a.settled_key,
            amount_fen=take,
        )
        a.refunded_fen += take
        a.save(update_fields=["refunded_fen", "updated_at"])
        need -= take
    if need:  # paid but never settled (cannot happen for a delivered order)
        raise Unprocessable(
            _("没有可退的已结算销售"), code="refund_exceeds_paid", details={"left_fen": need}
        )
    locked.refunded_fen += amount_fen
    locked.state = OrderState.RETURNED
    locked.save(update_fields=["refunded_fen", "state", "updated_at"])
    _audit(
        "transition",
        locked,
        None,
        {"state": locked.state, "refunded_fen": locked.refunded_fen},
        actor,
        note=reason,
    )
    return locked


def _expire(order: Order, *, now: dt.datetime) -> None:
    """``order`` is locked and unpaid: release its stock, close its open payments, mark
    it expired (audited)."""
    transition_check(order, action="expire", to=OrderState.EXPIRED)
    _release(order)
    for payment in order.payments.select_for_update().filter(status=PaymentStatus.CREATED):
        payment.status = PaymentStatus.CANCELLED
        payment.save(update_fields=["status", "updated_at"])
    order.state = OrderState.EXPIRED
    order.cancelled_at = now
    order.save(update_fields=["state", "cancelled_at", "updated_at"])
    _audit(
        "transition",
        order,
        {"state": OrderState.PENDING_PAYMENT},
        {"state": order.state},
        None,
        note=_("超时未付款，库存已释放"),
    )


@transaction.atomic
def order_expire(*, order: Order, now: dt.datetime | None = None) -> Order:
    """Expire one unpaid order past its time (``not_yet_expired`` before it)."""
    now = now or timezone.now()
    locked = _locked(order)
    transition_check(locked, action="expire", to=OrderState.EXPIRED)
    if locked.expires_at is None or locked.expires_at > now:
        when = (
            timezone.localtime(locked.expires_at).strftime("%Y-%m-%d %H:%M")
            if locked.expires_at
            else "—"
        )
        raise Conflict(
            _("订单尚未到期，到期时间：%(t)s") % {"t": when},
            code="not_yet_expired",
            details={"expires_at": locked.expires_at.isoformat() if locked.expires_at else None},
        )
    _expire(locked, now=now)
    return locked


@dataclass(frozen=True)
class ExpirySweep:
    expired: int
    released_units: int


def orders_expire_overdue(
    *, scope: RegionScope | None = None, now: dt.datetime | None = None, batch: int = 500
) -> ExpirySweep:
    """The sweep: every unpaid order past its expiry (in the scope) expires and its stock
    goes back to the lots. Idempotent: an order already expired, paid or cancelled is
    left alone; one transaction per order (a long sweep holds no lock for long)."""
    now = now or timezone.now()
    qs = Order.objects.filter(state=OrderState.PENDING_PAYMENT, expires_at__lte=now)
    if scope is not None:
        qs = qs.filter(scope.q("county_id"))
    expired = units = 0
    while True:
        ids = list(qs.order_by("id").values_list("id", flat=True)[:batch])
        if not ids:
            break
        for pk in ids:
            with transaction.atomic():
                order = Order.objects.select_for_update().filter(pk=pk).first()
                if order is None or order.state != OrderState.PENDING_PAYMENT:
                    continue
                held = sum(
                    OrderAllocation.objects.filter(line__order=order, released=False).values_list(
                        "quantity", flat=True
                    )
                )
                _expire(order, now=now)
                expired += 1
                units += held
        if len(ids) < batch:
            break
    return ExpirySweep(expired=expired, released_units=units)


def store_unpaid_check(
    *, order_ids: Iterable[Any], units: int, now: dt.datetime | None = None
) -> None:
    """The storefront's limits per buyer session (settings): at most
    ``STORE_MAX_UNPAID_ORDERS`` unpaid orders not yet expired, and at most
    ``STORE_MAX_UNPAID_UNITS`` units held by them together with the new one's ``units``.
    Over a limit: ``too_many_unpaid_orders`` / ``too_many_unpaid_units`` (429)."""
    now = now or timezone.now()
    ids = [str(i) for i in order_ids][:100]
    open_ = Order.objects.filter(uuid__in=ids, state=OrderState.PENDING_PAYMENT, expires_at__gt=now)
    count = open_.count()
    limit = settings.STORE_MAX_UNPAID_ORDERS
    if count >= limit:
        raise ApplicationError(
            _("您已有 %(n)s 个未付款的订单（最多 %(m)s 个），请先付款或等待其超时关闭")
            % {"n": count, "m": limit},
            code="too_many_unpaid_orders",
            details={"unpaid_orders": count, "limit": limit},
            status=429,
        )
    held = sum(OrderLine.objects.filter(order__in=open_).values_list("quantity", flat=True))
    cap = settings.STORE_MAX_UNPAID_UNITS
    if held + units > cap:
        raise ApplicationError(
            _("未付款订单合计最多 %(m)s 件（已占 %(h)s 件，本单 %(u)s 件）")
            % {"m": cap, "h": held, "u": units},
            code="too_many_unpaid_units",
            details={"held": held, "requested": units, "limit": cap},
            status=429,
        )
