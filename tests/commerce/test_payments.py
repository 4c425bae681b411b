"""The payment webhook: signature, staleness, currency, replays (also two at once on
PostgreSQL), and the order paid once with one ledger payment."""

from __future__ import annotations

import datetime as dt
import json
import threading

import pytest
from django.db import connection
from django.utils import timezone

from cunzhan.commerce import payments
from cunzhan.commerce.orders_models import OrderState, Payment, PaymentEvent
from cunzhan.core.errors import ApplicationError
from cunzhan.ledger.models import Transaction
from tests.factories.orders import graded_lot, kiwi_special_price, place, signed_event

COUNTY = "520204"
HEADER = "HTTP_X_CUNZHAN_SIGNATURE"
URL = "/api/v1/commerce/payments/sandbox/webhook"


@pytest.fixture
def payment(kiwi, producer):
    kiwi_special_price(kiwi, COUNTY, 1500)
    graded_lot(producer, kiwi, quantity=10, days_ago=2)
    return payments.payment_start(order=place(COUNTY, 4))


def test_signed_event_pays_the_order_once(payment, client):
    body, sig = signed_event(payment)
    r = client.post(URL, body, content_type="application/json", **{HEADER: sig})
    assert r.status_code == 200, r.content
    assert r.json() == {"payment_ref": payment.provider_ref, "status": "paid", "replay": False}
    r = client.post(URL, body, content_type="application/json", **{HEADER: sig})
    assert r.json()["replay"] is True
    payment.refresh_from_db()
    order = payment.order
    order.refresh_from_db()
    assert order.state == OrderState.PAID and order.paid_fen == 6000
    assert Transaction.objects.filter(kind="payment").count() == 1
    assert PaymentEvent.objects.count() == 1
    # another event id for the same payment: still paid once
    body2, sig2 = signed_event(payment)
    r = client.post(URL, body2, content_type="application/json", **{HEADER: sig2})
    assert r.status_code == 200 and r.json()["replay"] is True
    order.refresh_from_db()
    assert order.paid_fen == 6000
    assert Transaction.objects.filter(kind="payment").count() == 1


def _post(client, body: bytes, sig: str | None):
    extra = {HEADER: sig} if sig is not None else {}
    return client.post(URL, body, content_type="application/json", **extra)


def test_unsigned_bad_signature_and_stale_are_refused(payment, client):
    """The signature is the webhook's credential: missing or wrong, 401; a signed event
    out of its time, 422."""
    body, sig = signed_event(payment)
    cases = [
        (body, None, "unsigned", 401),
        (body, "sha256=" + "0" * 64, "bad_signature", 401),
        (body + b" ", sig, "bad_signature", 401),  # the body was changed after signing
    ]
    old_body, old_sig = signed_event(payment, at=timezone.now() - dt.timedelta(minutes=6))
    cases.append((old_body, old_sig, "stale_timestamp", 422))
    for b, s, code, status in cases:
        r = _post(client, b, s)
        assert r.status_code == status, (code, r.content)
        assert r.json()["code"] == code
    assert not PaymentEvent.objects.exists()
    payment.refresh_from_db()
    assert payment.status == "created"


def _signed(data: dict) -> tuple[bytes, str]:
    body = json.dumps(data).encode()
    return body, payments.sign(payments.SandboxProvider().secret(), body)


def test_other_currency_wrong_amount_unknown_payment_are_refused(payment, client):
    base = json.loads(payments.SandboxProvider().event_body(payment))
    # a body that is not an event: 400; an event that does not agree with the stored
    # payment: 422
    for change, code, status in (
        ({"currency": "USD"}, "unsupported_currency", 422),
        ({"amount_fen": 1}, "amount_mismatch", 422),
        ({"payment_ref": "san_nope"}, "unknown_payment", 422),
        ({"amount_fen": "6000"}, "invalid_body", 400),
        ({"type": "payment.failed"}, "unsupported_event", 422),
    ):
        body, sig = _signed({**base, **change})
        r = _post(client, body, sig)
        assert r.status_code == status, (code, r.content)
        assert r.json()["code"] == code
    r = client.post(
        "/api/v1/commerce/payments/nosuch/webhook", b"{}", content_type="application/json"
    )
    assert r.status_code == 404
    assert not PaymentEvent.objects.exists()


def test_cancelled_order_paid_late_is_refunded(payment):
    from cunzhan.commerce import orders
    from cunzhan.core.scope import RegionScope

    orders.order_cancel(scope=RegionScope.national(), order=payment.order)
    body, sig = signed_event(payment)
    payments.payment_webhook(provider_code="sandbox", body=body, signature=sig)
    order = payment.order
    order.refresh_from_db()
    assert order.state == OrderState.REFUNDED
    assert order.refunded_fen == order.paid_fen == 6000
    assert Transaction.objects.filter(kind="refund").count() == 1


@pytest.mark.django_db(transaction=True)
def test_two_threads_replay_the_same_event_it_pays_once(regions, kiwi, producer):
    kiwi_special_price(kiwi, COUNTY, 1500)
    graded_lot(producer, kiwi, quantity=10, days_ago=2)
    payment = payments.payment_start(order=place(COUNTY, 4))
    body, sig = signed_event(payment)
    barrier = threading.Barrier(2)
    outcomes: list[str] = []
    lock = threading.Lock()

    def deliver() -> None:
        try:
            barrier.wait(timeout=10)
            res = payments.payment_webhook(provider_code="sandbox", body=body, signature=sig)
            result = "replay" if res.replay else "ok"
        except ApplicationError as exc:
            result = exc.code
        except Exception as exc:  # SQLite's shared-cache lock: the loser is refused
            result = "locked" if "locked" in str(exc) else repr(exc)
        finally:
            connection.close()
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=deliver) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    allowed = {"replay", "locked"} if connection.vendor == "sqlite" else {"replay"}
    assert len(outcomes) == 2 and outcomes.count("ok") == 1, outcomes
    assert next(o for o in outcomes if o != "ok") in allowed, outcomes
    assert PaymentEvent.objects.count() == 1
    assert Transaction.objects.filter(kind="payment").count() == 1
    p = Payment.objects.get(pk=payment.pk)
    assert p.status == "paid" and p.order.paid_fen == 6000
