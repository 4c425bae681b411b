"""The public storefront: browse, listing, cart, checkout (validation), the sandbox pay
page to "paid", the status link (its token is required; the buyer masked)."""

from __future__ import annotations

import pytest

from cunzhan.commerce.orders import order_link
from cunzhan.commerce.orders_models import Order, OrderState
from tests.factories.orders import graded_lot, kiwi_special_price

COUNTY = "520204"


@pytest.fixture
def listing(kiwi, producer):
    tier = kiwi_special_price(kiwi, COUNTY, 1280)
    graded_lot(producer, kiwi, quantity=12, days_ago=2)
    return f"{COUNTY}-{tier.grade_id}"


def test_browse_listing_and_producer_stays_private(listing, client, producer):
    r = client.get("/shop/")
    body = r.content.decode()
    assert r.status_code == 200 and "¥12.80" in body and "水城区" in body
    assert producer.name not in body
    r = client.get("/shop/?county=520203")
    assert "¥12.80" not in r.content.decode()
    for county in ("²", "５２０２０４"):  # digits, but not ASCII: no county
        r = client.get("/shop/", {"county": county})
        assert r.status_code == 200 and "¥12.80" not in r.content.decode(), county
    r = client.get(f"/shop/p/{listing}/")
    assert r.status_code == 200 and "可售：12" in r.content.decode()
    assert client.get("/shop/p/520204-999999/").status_code == 404


def test_cart_refuses_bad_quantities(listing, client):
    for qty in ("0", "-2", "--2", "abc", "13", "²", "５", "-٣"):
        r = client.post("/shop/cart/", {"action": "add", "listing": listing, "quantity": qty})
        assert r.status_code == 400, qty
    r = client.post("/shop/cart/", {"action": "add", "listing": "520204-0", "quantity": "1"})
    assert r.status_code == 400
    assert "购物车是空的" in client.get("/shop/cart/").content.decode()


def test_checkout_pay_and_status(listing, client):
    client.post("/shop/cart/", {"action": "add", "listing": listing, "quantity": "5"})
    r = client.post(
        "/shop/checkout/", {"buyer_name": "王", "buyer_phone": "1390000", "address": "x"}
    )
    assert r.status_code == 400 and "手机号码格式不正确" in r.content.decode()
    assert not Order.objects.exists()
    r = client.post(
        "/shop/checkout/",
        {"buyer_name": "王小二", "buyer_phone": "13900002222", "address": "贵阳市 2 号"},
    )
    assert r.status_code == 302 and r["Location"].startswith("/shop/pay/")
    order = Order.objects.get()
    assert order.total_fen == 5 * 1280 and order.state == OrderState.PENDING_PAYMENT
    r = client.get(r["Location"])
    assert r.status_code == 200 and "¥64.00" in r.content.decode()
    r = client.post(f"/shop/pay/{order.payments.get().provider_ref}/")
    assert r.status_code == 302
    order.refresh_from_db()
    assert order.state == OrderState.PAID and order.paid_fen == 6400
    r = client.get(r["Location"])
    body = r.content.decode()
    assert r.status_code == 200 and "已付款" in body
    assert "13900002222" not in body and "王小二" not in body
    wrong = f"{order.number}-nottoken"
    assert client.get(f"/shop/o/{wrong}/").status_code == 404
    assert client.get(f"/shop/o/{order_link(order)}/").status_code == 200
