"""A station operator books an upward shipment on a phone (390 px wide): big inputs,
a clear error, then the booking in the station's list; the county scans it in."""

from __future__ import annotations

from cunzhan.accounts.roles import Role
from cunzhan.logistics.models import Shipment, ShipmentState
from cunzhan.network.models import StationStatus
from tests.factories.stations import make_station


def test_operator_books_an_upward_shipment_on_a_phone(page, login, make_user, regions):
    station = make_station("520204106201", StationStatus.ACTIVE)
    make_user(Role.STATION_OPERATOR, stations=[station.pk], username="op")
    login("op")
    page.goto(f"/logistics/stations/{station.pk}/ship/")
    assert page.viewport_size == {"width": 390, "height": 844}
    # the page fits the phone: no horizontal scrolling, inputs are big enough to tap
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    box = page.locator("#id_producer_name").bounding_box()
    assert box is not None and box["height"] >= 44 and box["width"] >= 300

    page.fill("#id_producer_name", "王大山")
    page.fill("#id_contents", "红心猕猴桃 5公斤/箱")
    page.fill("#id_pieces", "0")
    page.fill("#id_weight_kg", "62.5")
    page.fill("#id_destination", "广州市")
    page.click("#book-form button[type=submit]")
    assert page.locator(".has-error #id_pieces").count() == 1
    assert Shipment.objects.count() == 0

    page.fill("#id_pieces", "12")
    page.fill("#id_producer_phone", "13812345678")
    page.select_option("#id_outbound_carrier", "SF")
    page.click("#book-form button[type=submit]")
    page.wait_for_selector(".messages")
    assert "已预约" in page.inner_text(".messages")
    assert "红心猕猴桃" in page.inner_text("#recent")
    s = Shipment.objects.get()
    assert (s.station_id, s.pieces, s.weight_g, s.outbound_carrier_id is not None) == (
        station.pk,
        12,
        62_500,
        True,
    )
    assert s.state == ShipmentState.BOOKED
