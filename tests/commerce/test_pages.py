"""Commerce pages: the operator's phone pages (register a producer, record a lot, grade
it), the county manager's products and prices, and the public trace page."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client

from cunzhan.accounts.roles import Role
from cunzhan.commerce import codes, services
from cunzhan.commerce.models import Lot, PriceTier, Producer
from tests.factories.commerce import KIWI_SPECIAL, NATIONAL, make_lot, make_producer


@pytest.fixture
def operator(make_user, station):
    return make_user(Role.STATION_OPERATOR, stations=[station.pk])


@pytest.fixture
def web(operator):
    c = Client()
    c.force_login(operator)
    return c


def grade_form(samples):
    data = {"rows": str(len(samples))}
    for i, s in enumerate(samples, start=1):
        for k, v in s.items():
            data[f"s{i}_{k}"] = str(v)
    return data


def test_operator_registers_a_producer_and_records_a_lot(web, station, catalogue):
    r = web.post(
        "/commerce/producers/new/",
        {"station": station.pk, "kind": "person", "name": "王小二", "phone": "13812345678"},
    )
    assert r.status_code == 302, r.content.decode()[:2000]
    p = Producer.objects.get()
    assert r["Location"] == f"/commerce/producers/{p.uuid}/"
    page = web.get(r["Location"]).content.decode()
    assert "王小二" in page and "138****5678" in page and "13812345678" not in page
    r = web.post(
        "/commerce/lots/new/",
        {
            "producer": str(p.uuid),
            "product": "kiwifruit-red",
            "harvest_date": str(dt.date.today()),
            "quantity": "250",
        },
    )
    lot = Lot.objects.get()
    assert r.status_code == 302 and r["Location"] == f"/commerce/lots/{lot.uuid}/grade/"
    assert lot.quantity == 250 and lot.unit == "kg"


def test_a_zero_quantity_is_shown_on_the_form(web, producer, catalogue):
    r = web.post(
        "/commerce/lots/new/",
        {
            "producer": str(producer.uuid),
            "product": "potato",
            "harvest_date": str(dt.date.today()),
            "quantity": "0",
        },
    )
    assert r.status_code == 400
    assert "quantity 必须大于 0" in r.content.decode()
    assert not Lot.objects.exists()


def test_a_bad_phone_is_shown_on_the_producer_form(web, station):
    r = web.post(
        "/commerce/producers/new/",
        {"station": station.pk, "kind": "person", "name": "王", "phone": "123"},
    )
    assert r.status_code == 400 and "手机号码格式不正确" in r.content.decode()


def test_grade_page_assigns_the_grade(web, producer, kiwi):
    lot = make_lot(producer, kiwi)
    url = f"/commerce/lots/{lot.uuid}/grade/"
    page = web.get(url).content.decode()
    assert 'name="s5_brix"' in page and "可溶性固形物" in page
    r = web.post(url, grade_form(KIWI_SPECIAL))
    assert r.status_code == 200
    html = r.content.decode()
    assert 'data-grade="special"' in html and "特级" in html
    lot.refresh_from_db()
    assert lot.grade.code == "special"


def test_grade_page_lists_the_failing_criteria(web, producer, kiwi):
    lot = make_lot(producer, kiwi)
    samples = [{"weight_g": 50, "brix": 10, "defect_pct": 20}]
    html = web.post(f"/commerce/lots/{lot.uuid}/grade/", grade_form(samples)).content.decode()
    assert "未达任何等级" in html and 'id="failures"' in html
    assert "≥ 60" in html and "≤ 10" in html  # 二级's required values
    lot.refresh_from_db()
    assert lot.status == "rejected"


def test_grade_page_refuses_a_physically_impossible_value(web, producer, kiwi):
    lot = make_lot(producer, kiwi)
    samples = [{"weight_g": 100, "brix": 60, "defect_pct": 1}]
    r = web.post(f"/commerce/lots/{lot.uuid}/grade/", grade_form(samples))
    assert r.status_code == 400
    html = r.content.decode()
    assert 'id="grade-error"' in html and "超出物理范围" in html and "°Brix" in html
    assert 'value="60"' in html  # what was typed stays in the form
    lot.refresh_from_db()
    assert lot.status == "harvested"


def test_lot_page_pack_and_lists(web, producer, kiwi):
    lot = make_lot(producer, kiwi)
    services.lot_grade(scope=NATIONAL, lot=lot, samples=KIWI_SPECIAL)
    r = web.post(f"/commerce/lots/{lot.uuid}/pack/")
    assert r.status_code == 302
    lot.refresh_from_db()
    assert lot.status == "packed"
    page = web.get(f"/commerce/lots/{lot.uuid}/").content.decode()
    assert f"/t/{lot.code}/qr.svg" in page and 'id="ship-form"' in page
    r = web.post(
        f"/commerce/lots/{lot.uuid}/ship/",
        {"destination": "广州", "pieces": "10", "weight_kg": "500"},
    )
    assert r.status_code == 302
    lot.refresh_from_db()
    assert lot.status == "shipped" and lot.shipment.weight_g == 500_000
    assert codes.display(lot.code) in web.get("/commerce/lots/").content.decode()
    assert "张大山" in web.get("/commerce/producers/").content.decode()


def test_manager_sees_products_and_sets_prices(make_user, kiwi, regions):
    manager = make_user(Role.COUNTY_MANAGER, regions=["520204"])
    c = Client()
    c.force_login(manager)
    html = c.get("/commerce/products/").content.decode()
    for name in ("红心猕猴桃", "刺梨", "茶叶", "马铃薯", "核桃", "生猪", "特级", "可溶性固形物"):
        assert name in html
    grade = kiwi.standards.get(active=True).grades.get(code="special")
    r = c.post("/commerce/prices/", {"county": "520204", "grade": grade.pk, "price_yuan": "12.80"})
    assert r.status_code == 302, r.content.decode()[:3000]
    assert PriceTier.objects.get().price_fen == 1280
    html = c.get("/commerce/prices/").content.decode()
    assert "¥12.80" in html and "当前价格" in html


def test_operator_cannot_post_prices(web, kiwi):
    grade = kiwi.standards.get(active=True).grades.first()
    r = web.post("/commerce/prices/", {"county": "520204", "grade": grade.pk, "price_yuan": "1"})
    assert r.status_code == 403


# --- public trace page --------------------------------------------------------------------------


def test_trace_page_is_public_and_shows_no_personal_data(station, catalogue):
    producer = make_producer(station, name="张大山", phone="13912345678")
    lot = make_lot(producer, catalogue["kiwifruit-red"])
    services.lot_grade(scope=NATIONAL, lot=lot, samples=KIWI_SPECIAL)
    r = Client().get(f"/t/{lot.code}/")
    assert r.status_code == 200
    html = r.content.decode()
    assert "红心猕猴桃" in html and "特级" in html and "水城区" in html
    assert station.region.name in html  # the village
    for personal in ("张大山", "13912345678", "5678", station.name):
        assert personal not in html
    assert f"/t/{lot.code}/qr.svg" in html and f"/api/v1/commerce/trace/{lot.code}/epcis" in html


def test_trace_page_redirects_a_typed_code_and_404s_an_unknown_one(producer, kiwi):
    lot = make_lot(producer, kiwi)
    r = Client().get(f"/t/{lot.code[:5].lower()}-{lot.code[5:].lower()}/")
    assert r.status_code == 302 and r["Location"] == f"/t/{lot.code}/"
    r = Client().get("/t/?code=" + lot.code.lower())
    assert r.status_code == 302
    r = Client().get("/t/NOSUCHCODE/")
    assert r.status_code == 404
    assert "未找到该溯源码" in r.content.decode() and "NOSUCHCODE" in r.content.decode()
    assert Client().get("/t/?code=bad!").status_code == 404


def test_qr_is_an_svg_of_the_trace_url(producer, kiwi):
    lot = make_lot(producer, kiwi)
    r = Client().get(f"/t/{lot.code}/qr.svg")
    assert r.status_code == 200 and r["Content-Type"] == "image/svg+xml"
    assert r.content.startswith(b"<svg") and b"path" in r.content
    assert Client().get("/t/ZZZZZZZZZZ/qr.svg").status_code == 404


def test_trace_page_reads_a_fixed_handful_of_rows(station, catalogue):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from cunzhan.logistics import shipments as logistics_shipments

    producer = make_producer(station)
    lot = make_lot(producer, catalogue["kiwifruit-red"])
    services.lot_grade(scope=NATIONAL, lot=lot, samples=KIWI_SPECIAL)
    services.lot_pack(scope=NATIONAL, lot=lot)
    lot = services.lot_ship(scope=NATIONAL, lot=lot, destination="广州", pieces=1, weight_g=9000)
    logistics_shipments.shipment_collect(scope=NATIONAL, shipment=lot.shipment)
    client = Client()
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(f"/t/{lot.code}/").status_code == 200
    # the lot with its product, grade, producer and places; its events; its shipment;
    # the county's name
    assert len(ctx.captured_queries) <= 4, [q["sql"][:120] for q in ctx.captured_queries]
