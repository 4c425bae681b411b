"""Wholesale buyers and purchase orders; the marketplace feed (CSV, JSON) and order
import by API and by signed webhook (replay = same order, clear errors)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json

import pytest
from django.conf import settings
from django.utils import timezone

from cunzhan.accounts.roles import Role
from cunzhan.commerce import payments
from cunzhan.commerce.orders_models import Buyer, Order, OrderState
from cunzhan.ledger.models import Transaction
from cunzhan.network.models import StationStatus
from tests.factories.commerce import make_producer
from tests.factories.orders import graded_lot, kiwi_special_price
from tests.factories.stations import make_station

COUNTY = "520204"
HEADER = "HTTP_X_CUNZHAN_SIGNATURE"


@pytest.fixture
def stock(kiwi, producer):
    kiwi_special_price(kiwi, COUNTY, 1000)
    other = make_producer(
        make_station("520204106202", StationStatus.ACTIVE), name="赵二", phone="13800001234"
    )
    return [
        graded_lot(producer, kiwi, quantity=300, days_ago=5),
        graded_lot(other, kiwi, quantity=400, days_ago=2),
    ]


@pytest.fixture
def manager_client(make_user, regions, api_client):
    return api_client(make_user(Role.COUNTY_MANAGER, regions=[COUNTY]))


def _buyer(c, **kw):
    body = {
        "county_code": COUNTY,
        "kind": "school",
        "organisation": "水城区第一中学",
        "contact_name": "陈老师",
        "contact_phone": "13600001111",
        "address": "水城区 3 号",
        **kw,
    }
    return c.post("/api/v1/commerce/buyers", body, content_type="application/json")


def test_buyer_and_purchase_order_from_several_producers(stock, manager_client):
    r = _buyer(manager_client)
    assert r.status_code == 201, r.content
    buyer = r.json()
    assert buyer["contact_phone_masked"] == "136****1111"
    r = _buyer(manager_client)
    assert r.status_code == 409 and r.json()["code"] == "duplicate_buyer"
    # the phone's pattern is in the schema
    r = _buyer(manager_client, organisation="x", contact_phone="1")
    assert r.status_code == 422 and r.json()["code"] == "validation_error"
    assert ["body", "payload", "contact_phone"] in [e["loc"] for e in r.json()["details"]["errors"]]
    url = f"/api/v1/commerce/buyers/{buyer['id']}/orders"
    date = str(timezone.localdate() + dt.timedelta(days=7))
    lines = [{"product": "kiwifruit-red", "grade": "special", "quantity": 500}]
    r = manager_client.post(
        url, {"lines": lines, "delivery_date": "2020-01-01"}, content_type="application/json"
    )
    assert r.status_code == 422 and r.json()["code"] == "invalid_date"
    r = manager_client.post(
        url, {"lines": lines, "delivery_date": date}, content_type="application/json"
    )
    assert r.status_code == 201, r.content
    data = r.json()
    assert data["channel"] == "wholesale" and data["total_fen"] == 500_000
    assert [a["quantity"] for a in data["lines"][0]["allocations"]] == [300, 200]
    order = Order.objects.get()
    assert order.buyer == Buyer.objects.get() and str(order.delivery_date) == date
    r = manager_client.post(
        url,
        {"lines": [{**lines[0], "quantity": 201}], "delivery_date": date},
        content_type="application/json",
    )
    assert r.status_code == 409 and r.json()["code"] == "insufficient_stock"
    assert Order.objects.count() == 1


def test_feed_json_and_csv(stock, client, producer):
    r = client.get("/api/v1/commerce/feed")
    assert r.status_code == 200
    (row,) = r.json()
    assert (row["product"], row["grade"], row["price_fen"], row["available"]) == (
        "kiwifruit-red",
        "special",
        1000,
        700,
    )
    assert row["county_code"] == COUNTY and sorted(row["trace_codes"]) == sorted(
        lot.code for lot in stock
    )
    assert producer.name not in r.content.decode()
    r = client.get("/api/v1/commerce/feed.csv")
    assert r.status_code == 200 and r["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.content.decode())))
    assert rows[0]["price_fen"] == "1000" and rows[0]["available"] == "700"


def _mp_order(**kw):
    return {
        "order_id": "PDD-0001",
        "county_code": COUNTY,
        "lines": [{"product": "kiwifruit-red", "grade": "special", "quantity": 3}],
        "buyer_name": "周一",
        "buyer_phone": "13700001111",
        "address": "广州市 1 号",
        "amount_fen": 3000,
        "currency": "CNY",
        **kw,
    }


def test_marketplace_import_by_api_replay_is_the_same_order(stock, manager_client):
    url = "/api/v1/commerce/marketplaces/pdd/orders"
    r = manager_client.post(url, _mp_order(), content_type="application/json")
    assert r.status_code == 200, r.content
    assert r.json()["created"] is True and r.json()["order"]["state"] == "paid"
    again = manager_client.post(url, _mp_order(), content_type="application/json")
    assert again.json()["created"] is False
    assert again.json()["order"]["id"] == r.json()["order"]["id"]
    assert Order.objects.count() == 1
    assert Transaction.objects.filter(kind="payment").count() == 1
    for change, code in (
        ({"order_id": "PDD-2", "amount_fen": 2999}, "amount_mismatch"),
        ({"order_id": "PDD-3", "currency": "USD"}, "validation_error"),  # the schema's enum
        (
            {"order_id": "PDD-4", "lines": [{"product": "x", "grade": "y", "quantity": 1}]},
            "unknown_product",
        ),
    ):
        r = manager_client.post(url, _mp_order(**change), content_type="application/json")
        assert r.status_code == 422 and r.json()["code"] == code, r.content
    r = manager_client.post(
        "/api/v1/commerce/marketplaces/nosuch/orders", _mp_order(), content_type="application/json"
    )
    assert r.status_code == 404
    assert Order.objects.count() == 1


def test_marketplace_webhook_signed_per_marketplace(stock, client):
    url = "/api/v1/commerce/marketplaces/jd/webhook"
    data = _mp_order(order_id="JD-9", timestamp=int(timezone.now().timestamp()))
    body = json.dumps(data).encode()
    good = payments.sign(settings.MARKETPLACE_SECRETS["jd"].encode(), body)
    wrong_key = payments.sign(settings.MARKETPLACE_SECRETS["pdd"].encode(), body)
    r = client.post(url, body, content_type="application/json")
    assert r.status_code == 401 and r.json()["code"] == "unsigned"
    r = client.post(url, body, content_type="application/json", **{HEADER: wrong_key})
    assert r.status_code == 401 and r.json()["code"] == "bad_signature"
    stale = json.dumps({**data, "timestamp": data["timestamp"] - 3600}).encode()
    r = client.post(
        url,
        stale,
        content_type="application/json",
        **{HEADER: payments.sign(settings.MARKETPLACE_SECRETS["jd"].encode(), stale)},
    )
    assert r.status_code == 422 and r.json()["code"] == "stale_timestamp"
    assert not Order.objects.exists()
    r = client.post(url, body, content_type="application/json", **{HEADER: good})
    assert r.status_code == 200 and r.json()["created"] is True
    r = client.post(url, body, content_type="application/json", **{HEADER: good})
    assert r.status_code == 200 and r.json()["created"] is False
    order = Order.objects.get()
    assert order.state == OrderState.PAID and order.marketplace == "jd"
