"""Browser tests of the commerce catalogue: a station operator grades a lot on a phone
(a rejected value, then the grade), and the public trace page a buyer opens from the QR
code (no login, no personal data). Screenshots go to $CUNZHAN_SCREENSHOTS (default
the temporary directory) for a person to look at."""

from __future__ import annotations

import datetime as dt
import os
import tempfile
from pathlib import Path

from cunzhan.accounts.roles import Role
from cunzhan.commerce import services
from cunzhan.commerce.models import Lot
from cunzhan.logistics import shipments as logistics_shipments
from cunzhan.network.models import StationStatus
from tests.factories.commerce import NATIONAL, make_lot, make_producer, seed_catalogue
from tests.factories.stations import make_station

SHOTS = Path(os.environ.get("CUNZHAN_SCREENSHOTS", tempfile.gettempdir()))


def _fill_sample(page, i: int, values: dict[str, object]) -> None:
    for key, value in values.items():
        page.fill(f"input[name=s{i}_{key}]", str(value))


def test_operator_records_and_grades_a_lot_on_a_phone(page, login, make_user, regions):
    catalogue = seed_catalogue()
    station = make_station("520204106201", StationStatus.ACTIVE)
    make_user(Role.STATION_OPERATOR, stations=[station.pk], username="op")
    producer = make_producer(station, name="王大山")
    login("op")

    page.goto("/commerce/lots/new/")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.select_option("#id_producer", str(producer.uuid))
    page.select_option("#id_product", "kiwifruit-red")
    page.fill("#id_harvest_date", str(dt.date.today()))
    page.fill("#id_quantity", "0")
    page.click("#lot-form button[type=submit]")
    assert "必须大于 0" in page.inner_text("#field-quantity")
    assert Lot.objects.count() == 0
    page.fill("#id_quantity", "480")
    page.click("#lot-form button[type=submit]")
    page.wait_for_url("**/grade/")
    lot = Lot.objects.get()
    assert lot.product == catalogue["kiwifruit-red"]

    # the sample form fits the phone; a sugar reading of 48 °Brix is refused
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    box = page.locator("input[name=s1_brix]").bounding_box()
    assert box is not None and box["height"] >= 40
    _fill_sample(page, 1, {"weight_g": 110, "brix": 48, "defect_pct": 1})
    page.click("#grade-form button[type=submit]")
    assert "超出物理范围" in page.inner_text("#grade-error")
    lot.refresh_from_db()
    assert lot.status == "harvested"

    # three good samples and one fruit of 95 g: 一级, and why not 特级
    _fill_sample(page, 1, {"weight_g": 110, "brix": 16, "defect_pct": 1})
    _fill_sample(page, 2, {"weight_g": 95, "brix": 15.5, "defect_pct": 0})
    _fill_sample(page, 3, {"weight_g": 120, "brix": 15, "defect_pct": 2})
    page.click("#grade-form button[type=submit]")
    page.wait_for_selector("#grading-result")
    assert page.get_attribute("#grading-result", "data-grade") == "first"
    assert "一级" in page.inner_text("#grading-result")
    failures = page.inner_text("#failures")
    assert "特级" in failures and "95" in failures and "≥ 100" in failures
    page.screenshot(path=str(SHOTS / "commerce-grade.png"), full_page=True)
    lot.refresh_from_db()
    assert lot.grade is not None and lot.grade.code == "first"

    page.click("text=查看批次")
    page.click("button:has-text('已包装')")
    page.wait_for_selector("#ship-form")
    lot.refresh_from_db()
    assert lot.status == "packed"
    assert [li.get_attribute("data-type") for li in page.query_selector_all("#story li")] == [
        "harvested",
        "graded",
        "packed",
    ]
    page.screenshot(path=str(SHOTS / "commerce-lot.png"), full_page=True)
    page.goto("/commerce/lots/")
    assert page.locator("#lots").is_hidden()  # a phone gets cards, not the wide table
    assert "一级" in page.inner_text("#lot-cards")
    page.screenshot(path=str(SHOTS / "commerce-lots.png"), full_page=True)


def test_public_trace_page_on_a_phone(page, regions):
    catalogue = seed_catalogue()
    station = make_station("520204106201", StationStatus.ACTIVE)
    producer = make_producer(station, name="李小花", phone="13987654321")
    lot = make_lot(producer, catalogue["kiwifruit-red"], quantity=360)
    services.lot_grade(
        scope=NATIONAL,
        lot=lot,
        samples=[{"weight_g": 110, "brix": 16, "defect_pct": 1}] * 3,
    )
    services.lot_pack(scope=NATIONAL, lot=lot)
    lot = services.lot_ship(
        scope=NATIONAL, lot=lot, destination="广州", pieces=36, weight_g=360_000
    )
    s = logistics_shipments.shipment_collect(scope=NATIONAL, shipment=lot.shipment)
    logistics_shipments.shipment_scan_in(scope=NATIONAL, shipment=s)

    page.goto(f"/t/{lot.code}/")  # no login
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    text = page.inner_text("body")
    assert "红心猕猴桃" in text and "特级" in text and "水城区" in text
    assert [li.get_attribute("data-type") for li in page.query_selector_all("#story li")] == [
        "harvested",
        "graded",
        "packed",
        "picked_up",
        "at_county",
    ]
    html = page.content()
    for personal in ("李小花", "13987654321", station.name):
        assert personal not in html
    qr = page.locator(".qr img")
    qr.wait_for()
    assert page.evaluate("document.querySelector('.qr img').naturalWidth") > 0
    page.screenshot(path=str(SHOTS / "commerce-trace.png"), full_page=True)

    # a typed code in lower case finds the lot; an unknown one says so
    page.goto("/t/")
    page.fill("input[name=code]", lot.code.lower())
    page.click("form.lookup button")
    page.wait_for_url(f"**/t/{lot.code}/")
    response = page.goto("/t/AAAAABBBBB/")
    assert response is not None and response.status == 404
    assert "未找到该溯源码" in page.inner_text("h1")
    page.screenshot(path=str(SHOTS / "commerce-trace-404.png"), full_page=True)
