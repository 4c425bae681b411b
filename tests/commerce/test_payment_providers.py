"""Payment providers come from settings (ADR 0015, production posture ADR): the sandbox
provider — our own pay page that marks an order paid with no money moving — is refused
unless ``PAYMENTS_SANDBOX_ENABLED``; refused means 404 and nothing written: no payment
event, the order still unpaid, no ledger posting. A checkout with no provider places no
order (it would hold stock it can never be paid for). A deploy check errors when the
sandbox is enabled with DEBUG off."""

from __future__ import annotations

import pytest
from django.core import checks
from django.test import override_settings

from cunzhan.commerce import payments
from cunzhan.commerce.orders_models import Order, OrderState, PaymentEvent, PaymentStatus
from cunzhan.core.errors import NotFound
from cunzhan.ledger.models import Transaction
from tests.factories.orders import graded_lot, kiwi_special_price, place, signed_event

COUNTY = "520204"
WEBHOOK = "/api/v1/commerce/payments/sandbox/webhook"

# what production looks like: DEBUG off, the sandbox not enabled, no provider configured
PRODUCTION = {"DEBUG": False, "PAYMENTS_SANDBOX_ENABLED": False, "PAYMENT_PROVIDERS": []}


@pytest.fixture
def stock(kiwi, producer):
    tier = kiwi_special_price(kiwi, COUNTY, 1280)
    graded_lot(producer, kiwi, quantity=12, days_ago=2)
    return f"{COUNTY}-{tier.grade_id}"


@pytest.fixture
def open_payment(stock):
    """An order awaiting payment with a sandbox payment open (started while the sandbox
    was on, e.g. before the switch to production)."""
    return payments.payment_start(order=place(COUNTY, 4))


def _nothing_posted(payment) -> None:
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.CREATED
    assert payment.order.state == OrderState.PENDING_PAYMENT
    assert not PaymentEvent.objects.exists()
    assert not Transaction.objects.exists()


def test_production_refuses_the_sandbox_pay_page(open_payment, client):
    url = f"/shop/pay/{open_payment.provider_ref}/"
    with override_settings(**PRODUCTION):
        assert client.get(url).status_code == 404
        assert client.post(url).status_code == 404
    _nothing_posted(open_payment)


def test_production_refuses_the_sandbox_webhook(open_payment, client):
    body, sig = signed_event(open_payment)
    with override_settings(**PRODUCTION):
        r = client.post(
            WEBHOOK, body, content_type="application/json", HTTP_X_CUNZHAN_SIGNATURE=sig
        )
    assert r.status_code == 404
    assert r.json()["code"] == "provider_disabled"
    _nothing_posted(open_payment)


def test_sandbox_refused_even_when_listed_but_not_enabled(open_payment):
    """Naming the sandbox in PAYMENT_PROVIDERS is not enough: it must be enabled."""
    body, sig = signed_event(open_payment)
    with override_settings(PAYMENTS_SANDBOX_ENABLED=False, PAYMENT_PROVIDERS=["sandbox"]):
        with pytest.raises(NotFound) as exc:
            payments.payment_webhook(provider_code="sandbox", body=body, signature=sig)
        assert exc.value.code == "provider_disabled"
        with pytest.raises(NotFound):
            payments.provider_default()
    _nothing_posted(open_payment)


def test_provider_not_in_settings_is_refused(open_payment):
    body, sig = signed_event(open_payment)
    with (
        override_settings(PAYMENTS_SANDBOX_ENABLED=True, PAYMENT_PROVIDERS=[]),
        pytest.raises(NotFound) as exc,
    ):
        payments.payment_webhook(provider_code="sandbox", body=body, signature=sig)
    assert exc.value.code == "provider_disabled"
    with pytest.raises(NotFound) as exc:
        payments.provider_get("alipay-made-up")
    assert exc.value.code == "unknown_provider"
    _nothing_posted(open_payment)


def test_checkout_without_a_provider_places_no_order(stock, client):
    client.post("/shop/cart/", {"action": "add", "listing": stock, "quantity": "5"})
    with override_settings(**PRODUCTION):
        r = client.post(
            "/shop/checkout/",
            {"buyer_name": "王小二", "buyer_phone": "13900002222", "address": "贵阳市 2 号"},
        )
    assert r.status_code == 400
    assert "暂不能在线付款" in r.content.decode()
    assert not Order.objects.exists()  # no stock held by an order nobody can pay


def test_status_page_offers_no_pay_link_to_a_disabled_provider(open_payment, client):
    from cunzhan.commerce.orders import order_link

    url = f"/shop/o/{order_link(open_payment.order)}/"
    assert f"/shop/pay/{open_payment.provider_ref}/" in client.get(url).content.decode()
    with override_settings(**PRODUCTION):
        r = client.get(url)
    assert r.status_code == 200
    assert "/shop/pay/" not in r.content.decode()


def test_tests_run_with_the_sandbox_enabled(settings):
    """The suite (and `make demo`) pay through the sandbox: it is on there."""
    assert settings.PAYMENTS_SANDBOX_ENABLED is True
    assert payments.provider_default().code == "sandbox"


def _deploy_errors() -> list[str]:
    return [
        m.id or ""
        for m in checks.run_checks(include_deployment_checks=True)
        if m.level >= checks.ERROR
    ]


def test_deploy_check_errors_when_the_sandbox_is_on_with_debug_off(db):
    with override_settings(DEBUG=False, PAYMENTS_SANDBOX_ENABLED=True):
        assert "commerce.E001" in _deploy_errors()
    with override_settings(DEBUG=False, PAYMENTS_SANDBOX_ENABLED=False):
        assert "commerce.E001" not in _deploy_errors()
    with override_settings(DEBUG=True, PAYMENTS_SANDBOX_ENABLED=True):  # the demo
        assert "commerce.E001" not in _deploy_errors()


def test_check_errors_on_an_unknown_provider_in_settings(db):
    with override_settings(PAYMENT_PROVIDERS=["sandbox", "no-such-pay"]):
        msgs = [m for m in checks.run_checks() if m.id == "commerce.E002"]
    assert msgs and "no-such-pay" in msgs[0].msg
