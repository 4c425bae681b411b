"""The orders API and pages for county staff: place (wholesale), list masked, deliver,
cancel, return; bad input is a clear 422 (a rule of one value: the schema's
``validation_error`` naming the field), a state that forbids it 409; nothing written."""

from __future__ import annotations

import pytest

from cunzhan.accounts.roles import Role
from cunzhan.commerce.orders_models import Order, OrderState
from cunzhan.ledger.models import Transaction
from tests.factories.orders import graded_lot, kiwi_special_price, pay, place, ship

COUNTY = "520204"
BASE = "/api/v1/commerce/orders"


@pytest.fixture
def stock(kiwi, producer):
    kiwi_special_price(kiwi, COUNTY, 1200)
    return [graded_lot(producer, kiwi, quantity=40, days_ago=d) for d in (1, 4)]


@pytest.fixture
def manager(make_user, regions):
    return make_user(Role.COUNTY_MANAGER, regions=[COUNTY])


@pytest.fixture
def admin(make_user, regions):
    # every county is in the admin's scope: an unknown one is not hidden behind a 404
    return make_user(Role.NETWORK_ADMIN)


def _body(**kw):
    return {
        "channel": "wholesale",
        "county_code": COUNTY,
        "lines": [{"product": "kiwifruit-red", "grade": "special", "quantity": 50}],
        "buyer_name": "六盘水市第一中学食堂",
        "buyer_phone": "08588221234",
        "address": "钟山区 1 号",
        **kw,
    }


def test_manager_places_lists_and_delivers(stock, manager, api_client):
    c = api_client(manager)
    r = c.post(BASE, _body(), content_type="application/json")
    assert r.status_code == 201, r.content
    data = r.json()
    assert data["total_fen"] == 50 * 1200 and data["state"] == "pending_payment"
    assert [a["quantity"] for a in data["lines"][0]["allocations"]] == [40, 10]
    assert data["buyer_phone_masked"] == "085****1234"
    r = c.get(BASE)
    assert r.status_code == 200
    assert r.json()["items"][0]["number"] == data["number"]
    assert "08588221234" not in r.content.decode()
    order = Order.objects.get(number=data["number"])
    r = c.post(f"{BASE}/{order.uuid}/deliver", content_type="application/json")
    assert r.status_code == 409 and r.json()["code"] == "wrong_state"
    pay(order)
    # paid but not shipped: delivery is refused, nothing settled (finding: a paid order
    # "delivered" without being shipped paid the producer)
    r = c.post(f"{BASE}/{order.uuid}/deliver", content_type="application/json")
    assert r.status_code == 409 and r.json()["code"] == "wrong_state"
    assert not Transaction.objects.filter(kind="sale").exists()
    assert c.get(f"{BASE}/{order.uuid}").json()["actions"] == ["fulfil", "cancel"]
    ship(order)
    r = c.post(f"{BASE}/{order.uuid}/deliver", content_type="application/json")
    assert r.status_code == 200 and r.json()["state"] == "delivered"
    assert r.json()["actions"] == ["return"]
    r = c.post(
        f"{BASE}/{order.uuid}/return",
        {"amount_fen": 60001},
        content_type="application/json",
    )
    assert r.status_code == 422 and r.json()["code"] == "refund_exceeds_paid"
    r = c.post(f"{BASE}/{order.uuid}/return", {"amount_fen": 1200}, content_type="application/json")
    assert r.status_code == 200 and r.json()["refunded_fen"] == 1200


@pytest.mark.parametrize(
    ("change", "status", "code"),
    [
        (
            {"lines": [{"product": "kiwifruit-red", "grade": "special", "quantity": 0}]},
            422,
            "validation_error",
        ),
        (
            {"lines": [{"product": "kiwifruit-red", "grade": "special", "quantity": -5}]},
            422,
            "validation_error",
        ),
        (
            {"lines": [{"product": "kiwifruit-red", "grade": "special", "quantity": 81}]},
            409,
            "insufficient_stock",
        ),
        (
            {"lines": [{"product": "nope", "grade": "special", "quantity": 1}]},
            422,
            "unknown_product",
        ),
        ({"lines": []}, 422, "validation_error"),
        ({"currency": "USD"}, 422, "validation_error"),
        ({"channel": "telepathy"}, 422, "validation_error"),
        ({"buyer_phone": "123"}, 422, "validation_error"),
        ({"county_code": "52"}, 422, "validation_error"),
        ({"county_code": "999999"}, 422, "unknown_county"),
    ],
)
def test_bad_orders_are_refused(stock, admin, api_client, change, status, code):
    r = api_client(admin).post(BASE, _body(**change), content_type="application/json")
    assert r.status_code == status, r.content
    assert r.json()["code"] == code
    assert not Order.objects.exists()


def test_other_county_is_not_found(stock, make_user, api_client):
    other = make_user(Role.COUNTY_MANAGER, regions=["520203"])
    r = api_client(other).post(BASE, _body(), content_type="application/json")
    assert r.status_code == 404
    order = place(COUNTY, 1)
    r = api_client(other).get(f"{BASE}/{order.uuid}")
    assert r.status_code == 404


def test_order_pages_for_the_manager(stock, manager, client):
    order = place(COUNTY, 3)
    pay(order)
    client.force_login(manager)
    r = client.get("/orders/")
    assert r.status_code == 200 and order.number in r.content.decode()
    r = client.get(f"/orders/{order.uuid}/")
    body = r.content.decode()
    assert r.status_code == 200 and "139****1111" in body and "13900001111" not in body
    # paid, not shipped: no delivery button, and a forged POST is refused (nothing paid
    # to the producer)
    assert 'id="deliver"' not in body and 'id="fulfil"' in body
    r = client.post(f"/orders/{order.uuid}/deliver/", follow=True)
    assert "不能确认送达" in r.content.decode()
    order.refresh_from_db()
    assert order.state == OrderState.PAID
    assert not Transaction.objects.filter(kind="sale").exists()
    ship(order)
    body = client.get(f"/orders/{order.uuid}/").content.decode()
    assert 'id="deliver"' in body and 'id="fulfil"' not in body
    r = client.post(f"/orders/{order.uuid}/deliver/")
    assert r.status_code == 302
    order.refresh_from_db()
    assert order.state == OrderState.DELIVERED
    r = client.post(f"/orders/{order.uuid}/return/", {"amount": "999"}, follow=True)
    assert "超过可退金额" in r.content.decode()
    order.refresh_from_db()
    assert order.refunded_fen == 0
