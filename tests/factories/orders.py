"""Commerce orders for tests, built through the services: graded lots with a price in
their county, a placed order, a paid order (through the sandbox webhook)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from cunzhan.commerce import payments
from cunzhan.commerce import services as commerce_services
from cunzhan.commerce.models import Lot, Producer, Product
from cunzhan.commerce.orders import order_place
from cunzhan.commerce.orders_models import Order, Payment
from cunzhan.core.scope import RegionScope
from tests.factories.commerce import KIWI_SPECIAL

NATIONAL = RegionScope.national()


def graded_lot(producer: Producer, product: Product, *, quantity: int, days_ago: int) -> Lot:
    lot = commerce_services.lot_record(
        scope=NATIONAL,
        producer=producer,
        product=product,
        harvest_date=dt.date.today() - dt.timedelta(days=days_ago),
        quantity=quantity,
    )
    commerce_services.lot_grade(scope=NATIONAL, lot=lot, samples=KIWI_SPECIAL)
    lot.refresh_from_db()
    return lot


def kiwi_special_price(product: Product, county: str, price_fen: int = 1200) -> Any:
    grade = product.standards.get(active=True).grades.get(code="special")
    return commerce_services.price_tier_set(
        scope=NATIONAL,
        grade=grade,
        county_code=county,
        price_fen=price_fen,
        valid_from=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
    )


def place(county: str, quantity: int, **kw: Any) -> Order:
    return order_place(
        channel=kw.pop("channel", "storefront"),
        county_code=county,
        lines=[{"product": "kiwifruit-red", "grade": "special", "quantity": quantity}],
        buyer_name=kw.pop("buyer_name", "李买家"),
        buyer_phone=kw.pop("buyer_phone", "13900001111"),
        address=kw.pop("address", "贵阳市云岩区 1 号"),
        **kw,
    )


def signed_event(payment: Payment, **kw: Any) -> tuple[bytes, str]:
    provider = payments.SandboxProvider()
    body = provider.event_body(payment, **kw)
    return body, payments.sign(provider.secret(), body)


def pay(order: Order) -> Payment:
    payment = payments.payment_start(order=order)
    body, sig = signed_event(payment)
    payments.payment_webhook(provider_code="sandbox", body=body, signature=sig)
    payment.refresh_from_db()
    return payment


def ship(order: Order, at: dt.datetime | None = None) -> Order:
    """Fulfil a paid order and move its upward shipments through the county centre to
    the outbound carrier (the logistics scans delivery rests on): the order is shipped."""
    from cunzhan.commerce import orders

    order = orders.order_fulfil(scope=NATIONAL, order=order)
    hand_over(order, at=at)
    return orders.order_sync_shipments(order=order)


def hand_over(order: Order, at: dt.datetime | None = None) -> None:
    """Scan a fulfilling order's shipments in at the county centre and hand them to the
    outbound carrier (the order is not read again: it stays fulfilling until synced)."""
    from cunzhan.logistics import shipments as logistics_shipments

    for i, link in enumerate(order.shipments.select_related("shipment").order_by("id")):
        kw: dict[str, Any] = {"at": at} if at is not None else {}
        s = logistics_shipments.shipment_scan_in(scope=NATIONAL, shipment=link.shipment, **kw)
        logistics_shipments.shipment_hand_over(
            scope=NATIONAL,
            shipment=s,
            carrier="SF",
            tracking_number=f"SF{order.number[-8:]}{i:02d}",
            **kw,
        )


def deliver(order: Order, at: dt.datetime | None = None) -> Order:
    """Pay-and-ship is the caller's; this ships a paid order, then confirms delivery."""
    from cunzhan.commerce import orders

    return orders.order_deliver(scope=NATIONAL, order=ship(order, at=at), at=at)
