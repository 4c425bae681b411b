"""The order state machine (orders_states.py), enforced in the services: the table over
every pair of states, every action from every state through the real services, and a
property test over random action sequences (ledger balanced, producer paid only after
delivery, stock never negative nor oversold)."""

from __future__ import annotations

import datetime as dt
import itertools
import secrets

import pytest
import time_machine
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cunzhan.commerce import orders, orders_states, payments
from cunzhan.commerce.models import Lot
from cunzhan.commerce.orders_models import (
    Order,
    OrderAllocation,
    OrderState,
    Payment,
    PaymentStatus,
)
from cunzhan.core.errors import ApplicationError
from cunzhan.core.scope import RegionScope
from cunzhan.ledger.models import Line, Transaction
from tests.factories.orders import graded_lot, kiwi_special_price, pay, place, ship, signed_event

COUNTY = "520204"
NATIONAL = RegionScope.national()
S = OrderState

# Written out by hand (not read from the code): every move an order may make.
ALLOWED = {
    (S.PENDING_PAYMENT, S.PAID),
    (S.PENDING_PAYMENT, S.CANCELLED),
    (S.PENDING_PAYMENT, S.EXPIRED),
    (S.PAID, S.FULFILLING),
    (S.PAID, S.REFUNDED),
    (S.FULFILLING, S.SHIPPED),
    (S.SHIPPED, S.DELIVERED),
    (S.DELIVERED, S.RETURNED),
    (S.RETURNED, S.RETURNED),
    (S.CANCELLED, S.REFUNDED),
    (S.EXPIRED, S.PAID),
    (S.EXPIRED, S.REFUNDED),
    (S.REFUNDED, S.REFUNDED),
    # a second payment of a paid order: the state stays, the payment is paid back
    (S.PAID, S.PAID),
    (S.FULFILLING, S.FULFILLING),
    (S.SHIPPED, S.SHIPPED),
    (S.DELIVERED, S.DELIVERED),
}


@pytest.mark.parametrize(("from_state", "to_state"), list(itertools.product(S.values, S.values)))
def test_every_pair_of_states_is_allowed_or_refused(from_state, to_state):
    assert orders_states.transition_allowed(from_state, to_state) == (
        (from_state, to_state) in ALLOWED
    )


def test_no_state_reaches_delivered_but_shipped():
    into = [f for f in S.values if f != S.DELIVERED]
    assert [f for f in into if orders_states.transition_allowed(f, S.DELIVERED)] == [S.SHIPPED]


@pytest.fixture
def stock(kiwi, producer):
    kiwi_special_price(kiwi, COUNTY, 1200)
    return graded_lot(producer, kiwi, quantity=40, days_ago=3)


def _build(state: str) -> tuple[Order, Payment]:
    """An order brought to ``state`` through the services only; its first payment."""
    if state == S.EXPIRED:
        order = place(COUNTY, 3, at=timezone.now() - dt.timedelta(minutes=31))
    else:
        order = place(COUNTY, 3)
    payment = payments.payment_start(order=order) if state != S.EXPIRED else None
    if state == S.EXPIRED:
        orders.orders_expire_overdue()
        payment = Payment.objects.create(
            order=order, provider="sandbox", provider_ref="san_late", amount_fen=order.total_fen
        )
    elif state == S.CANCELLED:
        orders.order_cancel(scope=NATIONAL, order=order)
    elif state != S.PENDING_PAYMENT:
        body, sig = signed_event(payment)
        payments.payment_webhook(provider_code="sandbox", body=body, signature=sig)
        if state == S.REFUNDED:
            orders.order_cancel(scope=NATIONAL, order=order)
        elif state == S.FULFILLING:
            orders.order_fulfil(scope=NATIONAL, order=order)
        elif state in (S.SHIPPED, S.DELIVERED, S.RETURNED):
            ship(order)
            if state != S.SHIPPED:
                orders.order_deliver(scope=NATIONAL, order=order)
            if state == S.RETURNED:
                orders.order_return(scope=NATIONAL, order=order, amount_fen=1200)
    order.refresh_from_db()
    assert order.state == state
    payment.refresh_from_db()
    return order, payment


def _pay(order: Order, payment: Payment) -> None:
    if payment.status == PaymentStatus.PAID:  # a second payment at the provider
        payment = Payment.objects.create(
            order=order,
            provider="sandbox",
            provider_ref=f"san_{secrets.token_hex(6)}",
            amount_fen=order.total_fen,
        )
    body, sig = signed_event(payment)
    payments.payment_webhook(provider_code="sandbox", body=body, signature=sig)


ACTIONS = {
    "pay": _pay,
    "fulfil": lambda o, p: orders.order_fulfil(scope=NATIONAL, order=o),
    "ship": lambda o, p: orders.order_ship(scope=NATIONAL, order=o),
    "deliver": lambda o, p: orders.order_deliver(scope=NATIONAL, order=o),
    "cancel": lambda o, p: orders.order_cancel(scope=NATIONAL, order=o),
    "return": lambda o, p: orders.order_return(scope=NATIONAL, order=o, amount_fen=1200),
    "expire": lambda o, p: orders.order_expire(order=o, now=timezone.now() + dt.timedelta(hours=1)),
}

# (state, action) -> the state it leads to; absent: refused, nothing changes
RESULTS = {
    (S.PENDING_PAYMENT, "pay"): S.PAID,
    (S.PENDING_PAYMENT, "cancel"): S.CANCELLED,
    (S.PENDING_PAYMENT, "expire"): S.EXPIRED,
    (S.PAID, "pay"): S.PAID,
    (S.PAID, "fulfil"): S.FULFILLING,
    (S.PAID, "cancel"): S.REFUNDED,
    (S.FULFILLING, "pay"): S.FULFILLING,
    (S.SHIPPED, "pay"): S.SHIPPED,
    (S.SHIPPED, "deliver"): S.DELIVERED,
    (S.DELIVERED, "pay"): S.DELIVERED,
    (S.DELIVERED, "return"): S.RETURNED,
    (S.RETURNED, "pay"): S.RETURNED,
    (S.RETURNED, "return"): S.RETURNED,
    (S.CANCELLED, "pay"): S.REFUNDED,
    (S.REFUNDED, "pay"): S.REFUNDED,
    (S.EXPIRED, "pay"): S.PAID,  # the stock is still there: allocated again
}


def _sales(order: Order) -> int:
    return Transaction.objects.filter(
        kind="sale", idempotency_key__startswith=f"sale:{order.uuid}"
    ).count()


@pytest.mark.parametrize(("state", "action"), list(itertools.product(S.values, ACTIONS)))
def test_every_action_from_every_state_through_the_services(stock, state, action):
    order, payment = _build(state)
    before = (order.state, order.paid_fen, order.refunded_fen, _sales(order))
    expected = RESULTS.get((state, action))
    if expected is None:
        with pytest.raises(ApplicationError) as exc:
            ACTIONS[action](order, payment)
        assert exc.value.code in ("wrong_state", "shipments_not_handed_over")
        order.refresh_from_db()
        assert (order.state, order.paid_fen, order.refunded_fen, _sales(order)) == before
    else:
        ACTIONS[action](order, payment)
        order.refresh_from_db()
        assert order.state == expected
        if action == "pay" and state != S.PENDING_PAYMENT and expected != S.PAID:
            # a late or second payment is paid back at once
            assert order.paid_fen - order.refunded_fen == before[1] - before[2]
    # the producer is paid only for delivered goods
    assert (_sales(order) > 0) == (order.state in (S.DELIVERED, S.RETURNED))


def test_a_fulfilling_order_ships_only_when_every_shipment_is_handed_over(stock):
    order, _p = _build(S.FULFILLING)
    link = order.shipments.select_related("shipment").get()
    from cunzhan.logistics import shipments as logistics_shipments

    s = logistics_shipments.shipment_scan_in(scope=NATIONAL, shipment=link.shipment)
    with pytest.raises(ApplicationError) as exc:
        orders.order_ship(scope=NATIONAL, order=order)
    assert exc.value.code == "shipments_not_handed_over"
    assert exc.value.details == {"shipments": 1, "waiting": 1}
    logistics_shipments.shipment_hand_over(
        scope=NATIONAL, shipment=s, carrier="SF", tracking_number="SF0000111122"
    )
    order = orders.order_ship(scope=NATIONAL, order=order)
    assert order.state == S.SHIPPED
    s.refresh_from_db()
    assert order.shipped_at == s.handed_over_at


def test_the_refusal_is_a_translated_sentence(stock, settings):
    from django.utils import translation

    order, _p = _build(S.PAID)
    with translation.override("en"), pytest.raises(ApplicationError) as exc:
        orders.order_deliver(scope=NATIONAL, order=order)
    assert exc.value.details == {"state": "paid", "action": "deliver", "to": "delivered"}
    assert "订单" not in exc.value.message and "delivery" in exc.value.message.lower()


# -- the property test ---------------------------------------------------------------

STEP = st.one_of(
    st.tuples(st.just("place"), st.integers(1, 7)),
    st.tuples(
        st.sampled_from(["pay", "fulfil", "ship", "deliver", "cancel", "return", "pay_again"]),
        st.integers(0, 3),
    ),
    st.tuples(st.just("wait"), st.integers(1, 40)),  # minutes; then the sweep may run
    st.tuples(st.just("sweep"), st.just(0)),
)


def _invariants(lots: dict[int, int]) -> None:
    # every ledger transaction balances to zero
    assert not (
        Line.objects.values("transaction_id").annotate(s=Sum("amount_fen")).exclude(s=0).exists()
    )
    # a sale (the producer's payout) only for an order delivered (or returned after)
    for order in Order.objects.all():
        settled = Transaction.objects.filter(
            kind="sale", idempotency_key__startswith=f"sale:{order.uuid}"
        ).exists()
        assert settled == (order.state in (S.DELIVERED, S.RETURNED)), order.state
        assert order.refunded_fen <= order.paid_fen
        if order.state in (S.CANCELLED, S.EXPIRED):
            assert order.paid_fen == 0
        if order.state == S.REFUNDED:
            assert order.refunded_fen == order.paid_fen
    # stock: never negative, never more allocated than the lot had
    for lot in Lot.objects.filter(pk__in=lots):
        held = (
            OrderAllocation.objects.filter(lot=lot, released=False).aggregate(n=Sum("quantity"))[
                "n"
            ]
            or 0
        )
        assert lot.quantity_available >= 0
        assert lot.quantity_available + held == lots[lot.pk]


def _do(step: str, arg: int, placed: list[Order], traveller) -> None:
    if step == "place":
        placed.append(place(COUNTY, arg))
        return
    if step == "wait":
        traveller.shift(dt.timedelta(minutes=arg))
        return
    if step == "sweep":
        orders.orders_expire_overdue()
        return
    if not placed:
        return
    order = Order.objects.get(pk=placed[arg % len(placed)].pk)
    if step == "pay":
        pay(order)
    elif step == "pay_again":  # a payment the provider confirms late (or twice)
        p = Payment.objects.create(
            order=order,
            provider="sandbox",
            provider_ref=f"san_{secrets.token_hex(6)}",
            amount_fen=order.total_fen,
        )
        body, sig = signed_event(p)
        payments.payment_webhook(provider_code="sandbox", body=body, signature=sig)
    elif step == "fulfil":
        orders.order_fulfil(scope=NATIONAL, order=order)
    elif step == "ship":
        ship(order) if order.state == S.PAID else orders.order_ship(scope=NATIONAL, order=order)
    elif step == "deliver":
        orders.order_deliver(scope=NATIONAL, order=order)
    elif step == "cancel":
        orders.order_cancel(scope=NATIONAL, order=order)
    elif step == "return":
        orders.order_return(scope=NATIONAL, order=order, amount_fen=600)


@pytest.mark.django_db(transaction=False)
@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps=st.lists(STEP, min_size=1, max_size=12))
def test_random_action_sequences_keep_the_books_and_the_stock(kiwi, producer, steps):
    start = dt.datetime(2026, 5, 4, 9, 0, tzinfo=dt.UTC)
    with time_machine.travel(start, tick=False) as t, transaction.atomic():
        kiwi_special_price(kiwi, COUNTY, 1200)
        a = graded_lot(producer, kiwi, quantity=6, days_ago=5)
        b = graded_lot(producer, kiwi, quantity=5, days_ago=2)
        lots = {a.pk: 6, b.pk: 5}
        placed: list[Order] = []
        for step, arg in steps:
            try:
                with transaction.atomic():
                    _do(step, arg, placed, t)
            except ApplicationError:
                pass  # refused: the savepoint is rolled back, nothing half-written
            _invariants(lots)
        transaction.set_rollback(True)
