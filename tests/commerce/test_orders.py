"""Orders: pricing from the tier in force, allocation oldest harvest first across lots,
stock reserved and released, bad input, cancel/deliver/return through the ledger."""

from __future__ import annotations

import pytest

from cunzhan.commerce import orders
from cunzhan.commerce.models import LotEvent
from cunzhan.commerce.orders_models import Order, OrderAllocation, OrderState
from cunzhan.core.errors import ApplicationError
from cunzhan.core.scope import RegionScope
from cunzhan.ledger.models import Transaction
from tests.factories.orders import deliver, graded_lot, kiwi_special_price, pay, place

COUNTY = "520204"
NATIONAL = RegionScope.national()


@pytest.fixture
def stock(kiwi, producer):
    kiwi_special_price(kiwi, COUNTY, 1200)
    new = graded_lot(producer, kiwi, quantity=30, days_ago=1)
    old = graded_lot(producer, kiwi, quantity=20, days_ago=5)
    return {"new": new, "old": old}


def test_place_prices_from_the_tier_and_allocates_oldest_harvest_first(stock):
    order = place(COUNTY, 25)
    assert order.state == OrderState.PENDING_PAYMENT
    assert order.total_fen == 25 * 1200
    line = order.lines.get()
    assert (line.unit_price_fen, line.quantity, line.total_fen) == (1200, 25, 30000)
    allocs = {a.lot_id: a.quantity for a in OrderAllocation.objects.filter(line=line)}
    assert allocs == {stock["old"].pk: 20, stock["new"].pk: 5}
    stock["old"].refresh_from_db()
    stock["new"].refresh_from_db()
    assert (stock["old"].quantity_available, stock["new"].quantity_available) == (0, 25)


def test_not_enough_stock_is_refused_and_nothing_is_reserved(stock):
    with pytest.raises(ApplicationError) as exc:
        place(COUNTY, 51)
    assert exc.value.code == "insufficient_stock"
    assert exc.value.details["available"] == 50
    assert not Order.objects.exists()
    stock["old"].refresh_from_db()
    assert stock["old"].quantity_available == 20


@pytest.mark.parametrize(
    ("line", "code"),
    [
        ({"product": "kiwifruit-red", "grade": "special", "quantity": 0}, "invalid_quantity"),
        ({"product": "kiwifruit-red", "grade": "special", "quantity": -3}, "invalid_quantity"),
        ({"product": "kiwifruit-red", "grade": "special", "quantity": 1.5}, "invalid_quantity"),
        ({"product": "kiwifruit-red", "grade": "special", "quantity": "2"}, "invalid_quantity"),
        ({"product": "no-such", "grade": "special", "quantity": 1}, "unknown_product"),
        ({"product": "kiwifruit-red", "grade": "nope", "quantity": 1}, "unknown_grade"),
    ],
)
def test_bad_lines_are_refused_naming_the_field(stock, line, code):
    with pytest.raises(ApplicationError) as exc:
        orders.order_place(
            channel="storefront",
            county_code=COUNTY,
            lines=[line],
            buyer_name="李",
            buyer_phone="13900001111",
            address="某地",
        )
    assert exc.value.code == code
    assert exc.value.details["field"].startswith("lines[1]")
    assert not Order.objects.exists()


def test_other_currency_bad_phone_and_no_price_are_refused(stock, kiwi):
    with pytest.raises(ApplicationError) as exc:
        place(COUNTY, 1, currency="USD")
    assert exc.value.code == "unsupported_currency"
    with pytest.raises(ApplicationError) as exc:
        place(COUNTY, 1, buyer_phone="12345")
    assert exc.value.code == "invalid_phone"
    with pytest.raises(ApplicationError) as exc:
        place("520203", 1)  # 六枝特区: no price published there
    assert exc.value.code == "no_price"
    assert not Order.objects.exists()


def test_cancel_before_payment_releases_the_stock(stock):
    order = place(COUNTY, 25)
    orders.order_cancel(scope=NATIONAL, order=order)
    order.refresh_from_db()
    assert order.state == OrderState.CANCELLED
    stock["old"].refresh_from_db()
    stock["new"].refresh_from_db()
    assert (stock["old"].quantity_available, stock["new"].quantity_available) == (20, 30)
    with pytest.raises(ApplicationError) as exc:
        orders.order_cancel(scope=NATIONAL, order=order)
    assert exc.value.code == "wrong_state"


def test_cancel_after_payment_refunds_it(stock):
    order = place(COUNTY, 3)
    pay(order)
    order = orders.order_cancel(scope=NATIONAL, order=order)
    assert order.state == OrderState.REFUNDED
    assert order.refunded_fen == order.paid_fen == 3600
    assert Transaction.objects.filter(kind="refund").count() == 1


def test_deliver_settles_each_lot_and_records_the_delivered_event(stock):
    order = place(COUNTY, 25)
    pay(order)
    order = deliver(order)
    assert order.state == OrderState.DELIVERED
    sales = Transaction.objects.filter(kind="sale")
    assert sales.count() == 2
    assert sorted(s.gross_fen for s in sales) == [5 * 1200, 20 * 1200]
    assert LotEvent.objects.filter(type="delivered").count() == 2
    # a return: never more than paid
    with pytest.raises(ApplicationError) as exc:
        orders.order_return(scope=NATIONAL, order=order, amount_fen=30001)
    assert exc.value.code == "refund_exceeds_paid"
    order = orders.order_return(scope=NATIONAL, order=order, amount_fen=25000)
    assert order.state == OrderState.RETURNED
    assert order.refunded_fen == 25000
    with pytest.raises(ApplicationError) as exc:
        orders.order_return(scope=NATIONAL, order=order, amount_fen=5001)
    assert exc.value.code == "refund_exceeds_paid"
    order = orders.order_return(scope=NATIONAL, order=order, amount_fen=5000)
    assert order.refunded_fen == order.paid_fen


def test_deliver_before_payment_is_refused(stock):
    order = place(COUNTY, 1)
    with pytest.raises(ApplicationError) as exc:
        orders.order_deliver(scope=NATIONAL, order=order)
    assert exc.value.code == "wrong_state"


def test_out_of_scope_cancel_is_not_found(stock):
    order = place(COUNTY, 1)
    with pytest.raises(ApplicationError) as exc:
        orders.order_cancel(scope=RegionScope.for_regions(["520203"]), order=order)
    assert exc.value.code == "not_found"
