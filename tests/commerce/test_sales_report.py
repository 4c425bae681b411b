"""The sales report: by month, county, village and product, with the share sold by
registered-poor households (producer → registry household → poverty registration)."""

from __future__ import annotations

import pytest
from django.utils import timezone

from cunzhan.accounts.roles import Role
from cunzhan.commerce import orders
from cunzhan.commerce.orders_selectors import sales_report
from cunzhan.core.scope import RegionScope
from cunzhan.registry import services as registry_services
from tests.factories.commerce import make_producer
from tests.factories.orders import graded_lot, kiwi_special_price, pay, place

COUNTY = "520204"
NATIONAL = RegionScope.national()


@pytest.fixture
def sales(kiwi, producer, station):
    household = registry_services.household_create(
        scope=NATIONAL, village_code=station.region_id, address="海坪村 1 组"
    )
    registry_services.poverty_register(
        household=household, year_registered=2016, main_cause="illness"
    )
    poor = make_producer(station, kind="household", name="杨家", household=household)
    kiwi_special_price(kiwi, COUNTY, 1000)
    graded_lot(poor, kiwi, quantity=10, days_ago=5)  # older: taken first
    graded_lot(producer, kiwi, quantity=30, days_ago=1)
    paid = place(COUNTY, 25)  # 10 from the poor household, 15 from the person
    pay(paid)
    cancelled = place(COUNTY, 2)
    orders.order_cancel(scope=NATIONAL, order=cancelled)
    return household


def test_report_rows_and_poor_share(sales, make_user, api_client):
    from cunzhan.registry.models import PovertyRegistration

    assert PovertyRegistration.objects.filter(household=sales).exists()
    rows = sales_report(scope=NATIONAL)
    assert len(rows) == 1
    (row,) = rows
    assert row["month"] == timezone.localdate().strftime("%Y-%m")
    assert (row["county_code"], row["product"], row["quantity"]) == (COUNTY, "kiwifruit-red", 25)
    assert (row["total_fen"], row["poor_fen"], row["poor_share"]) == (25000, 10000, 0.4)
    user = make_user(Role.COUNTY_MANAGER, regions=[COUNTY])
    r = api_client(user).get("/api/v1/commerce/sales/report")
    assert r.status_code == 200 and r.json()[0]["poor_share"] == 0.4
    r = api_client(user).get("/api/v1/commerce/sales/report?month=2020-13")
    assert r.status_code == 422 and r.json()["code"] == "validation_error"
    other = make_user(Role.COUNTY_MANAGER, regions=["520203"])
    assert api_client(other).get("/api/v1/commerce/sales/report").json() == []


def test_report_and_buyer_pages(sales, make_user, client):
    client.force_login(make_user(Role.COUNTY_MANAGER, regions=[COUNTY]))
    r = client.get("/orders/report/")
    body = r.content.decode()
    assert r.status_code == 200 and "40.0%" in body and "¥250.00" in body
    r = client.post(
        "/orders/buyers/",
        {
            "county_code": COUNTY,
            "kind": "hospital",
            "organisation": "水城区人民医院",
            "contact_name": "刘医生",
            "contact_phone": "12",
            "address": "水城区 9 号",
        },
    )
    assert r.status_code == 400 and "手机号码格式不正确" in r.content.decode()
    r = client.post(
        "/orders/buyers/",
        {
            "county_code": COUNTY,
            "kind": "hospital",
            "organisation": "水城区人民医院",
            "contact_name": "刘医生",
            "contact_phone": "１３６１１１１２２２２",  # fullwidth digits
            "address": "水城区 9 号",
        },
    )
    assert r.status_code == 400 and "手机号码格式不正确" in r.content.decode()
    r = client.post(
        "/orders/buyers/",
        {
            "county_code": COUNTY,
            "kind": "hospital",
            "organisation": "水城区人民医院",
            "contact_name": "刘医生",
            "contact_phone": "13611112222",
            "address": "水城区 9 号",
        },
    )
    assert r.status_code == 302
    buyer_url = r["Location"]
    for qty in ("-4", "--4", "²", "１", "-٣"):
        r = client.post(
            buyer_url,
            {"product": "kiwifruit-red", "grade": "special", "quantity": qty, "delivery_date": ""},
        )
        assert r.status_code == 400, qty
    date = str(timezone.localdate())
    r = client.post(
        buyer_url,
        {"product": "kiwifruit-red", "grade": "special", "quantity": "5", "delivery_date": date},
    )
    assert r.status_code == 302 and r["Location"].startswith("/orders/")
    assert "13611112222" not in client.get(buyer_url).content.decode()
