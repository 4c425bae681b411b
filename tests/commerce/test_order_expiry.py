"""Unpaid orders expire (settings.ORDER_UNPAID_TTL_MINUTES, default 30) and give their
stock back: when the next order needs it (the sweep need not have run), by the sweep
(idempotent) and its command; a payment arriving after the expiry is allocated again or
refunded; the storefront limits the unpaid orders and units per buyer session. The
clock is frozen (time_machine): nothing here depends on today's date."""

from __future__ import annotations

import datetime as dt
import json
from io import StringIO

import pytest
import time_machine
from django.core.management import call_command
from django.test import override_settings

from cunzhan.commerce import orders, payments
from cunzhan.commerce.orders_models import Order, OrderState, Payment, PaymentStatus
from cunzhan.core.errors import ApplicationError
from cunzhan.ledger.models import Transaction
from tests.factories.orders import graded_lot, kiwi_special_price, pay, place, signed_event

COUNTY = "520204"
T0 = dt.datetime(2026, 6, 1, 2, 0, tzinfo=dt.UTC)  # 10:00 in 水城区


@pytest.fixture
def clock():
    with time_machine.travel(T0, tick=False) as t:
        yield t


@pytest.fixture
def stock(clock, kiwi, producer):
    kiwi_special_price(kiwi, COUNTY, 1200)
    return graded_lot(producer, kiwi, quantity=20, days_ago=3)


def _available(lot) -> int:
    lot.refresh_from_db()
    return lot.quantity_available


def test_four_checkouts_no_longer_hold_the_whole_stock(stock, clock):
    held = [place(COUNTY, 5) for _ in range(4)]
    for o in held:
        payments.payment_start(order=o)
    assert _available(stock) == 0
    clock.shift(dt.timedelta(minutes=29))
    with pytest.raises(ApplicationError) as exc:
        place(COUNTY, 1)
    assert exc.value.code == "insufficient_stock"  # still within their 30 minutes
    clock.shift(dt.timedelta(minutes=2))
    # no sweep has run: placing the order expires the overdue ones holding the stock
    order = place(COUNTY, 20)
    assert order.state == OrderState.PENDING_PAYMENT
    assert _available(stock) == 0
    states = set(Order.objects.filter(pk__in=[o.pk for o in held]).values_list("state", flat=True))
    assert states == {OrderState.EXPIRED}
    assert not Payment.objects.filter(order__in=held, status=PaymentStatus.CREATED).exists()
    assert all(o.expires_at == T0 + dt.timedelta(minutes=30) for o in held)


@override_settings(ORDER_UNPAID_TTL_MINUTES=10)
def test_the_sweep_expires_once_and_releases_the_stock(stock, clock):
    a, b = place(COUNTY, 3), place(COUNTY, 4)
    paid = place(COUNTY, 2)
    pay(paid)
    clock.shift(dt.timedelta(minutes=9))
    assert orders.orders_expire_overdue().expired == 0
    clock.shift(dt.timedelta(minutes=1))
    out = StringIO()
    call_command("orders_expire", stdout=out)
    assert json.loads(out.getvalue()) == {"county": "all", "expired": 2, "released_units": 7}
    assert _available(stock) == 20 - 2
    assert {o.state for o in Order.objects.filter(pk__in=[a.pk, b.pk])} == {OrderState.EXPIRED}
    paid.refresh_from_db()
    assert paid.state == OrderState.PAID
    again = orders.orders_expire_overdue()
    assert (again.expired, again.released_units) == (0, 0)  # idempotent
    assert _available(stock) == 18
    with pytest.raises(ApplicationError) as exc:
        orders.order_expire(order=paid)
    assert exc.value.code == "wrong_state"


def test_an_order_is_not_expired_before_its_time(stock, clock):
    order = place(COUNTY, 1)
    with pytest.raises(ApplicationError) as exc:
        orders.order_expire(order=order)
    assert exc.value.code == "not_yet_expired"
    order.refresh_from_db()
    assert order.state == OrderState.PENDING_PAYMENT


def test_no_new_payment_for_an_expired_order(stock, clock):
    order = place(COUNTY, 1)
    clock.shift(dt.timedelta(minutes=31))
    with pytest.raises(ApplicationError) as exc:
        payments.payment_start(order=order)
    assert exc.value.code == "order_expired"


def _late_webhook(payment: Payment) -> None:
    body, sig = signed_event(payment)
    payments.payment_webhook(provider_code="sandbox", body=body, signature=sig)


def test_a_payment_after_the_expiry_is_allocated_again_when_stock_allows(stock, clock):
    order = place(COUNTY, 5)
    payment = payments.payment_start(order=order)
    clock.shift(dt.timedelta(minutes=31))
    orders.orders_expire_overdue()
    assert _available(stock) == 20
    _late_webhook(payment)
    order.refresh_from_db()
    assert order.state == OrderState.PAID and order.refunded_fen == 0
    assert _available(stock) == 15
    assert order.lines.get().allocations.get().released is False


def test_a_payment_after_the_expiry_is_refunded_when_the_stock_is_gone(stock, clock):
    order = place(COUNTY, 5)
    payment = payments.payment_start(order=order)
    clock.shift(dt.timedelta(minutes=31))
    other = place(COUNTY, 20)  # takes everything (expiring the first order)
    pay(other)
    _late_webhook(payment)
    order.refresh_from_db()
    assert order.state == OrderState.REFUNDED
    assert order.paid_fen == order.refunded_fen == 5 * 1200
    assert Transaction.objects.filter(kind="refund").count() == 1
    assert _available(stock) == 0  # nothing oversold


# -- the storefront's limits per buyer session ----------------------------------------


@pytest.fixture
def listing(stock):
    return f"{COUNTY}-{stock.grade_id}"


def _checkout(client, listing: str, qty: int):
    client.post("/shop/cart/", {"action": "add", "listing": listing, "quantity": str(qty)})
    return client.post(
        "/shop/checkout/",
        {"buyer_name": "王小二", "buyer_phone": "13900002222", "address": "贵阳市 2 号"},
    )


def test_a_session_holds_at_most_two_unpaid_orders(listing, client, clock):
    assert _checkout(client, listing, 2).status_code == 302
    assert _checkout(client, listing, 2).status_code == 302
    r = _checkout(client, listing, 2)
    assert r.status_code == 400 and "2 个未付款的订单" in r.content.decode()
    assert Order.objects.count() == 2
    # paying one frees a place
    pay_ref = Order.objects.order_by("id").first().payments.get().provider_ref
    assert client.post(f"/shop/pay/{pay_ref}/").status_code == 302
    assert _checkout(client, listing, 2).status_code == 302
    # and an expired one no longer counts
    clock.shift(dt.timedelta(minutes=31))
    assert _checkout(client, listing, 2).status_code == 302


@override_settings(STORE_MAX_UNPAID_UNITS=6)
def test_a_session_holds_at_most_so_many_unpaid_units(listing, client, clock):
    assert _checkout(client, listing, 4).status_code == 302
    r = _checkout(client, listing, 3)
    assert r.status_code == 400 and "最多 6 件" in r.content.decode()
    assert Order.objects.count() == 1


def test_the_status_page_says_until_when_and_drops_the_pay_link(listing, client, clock):
    r = _checkout(client, listing, 1)
    order = Order.objects.get()
    link = f"/shop/o/{orders.order_link(order)}/"
    body = client.get(link).content.decode()
    assert 'id="pay-link"' in body and "2026-06-01 10:30" in body
    clock.shift(dt.timedelta(minutes=31))
    orders.orders_expire_overdue()
    body = client.get(link).content.decode()
    assert 'id="pay-link"' not in body and "超时未付款已关闭" in body
    assert r.status_code == 302
