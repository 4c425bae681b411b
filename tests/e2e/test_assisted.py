"""Browser (phone viewport): an assisted purchase (代购) from record to pickup. The
operator records the villager's order on the phone page, the parcel arrives through the
logistics services, the operator links it by its tracking number, hands it out by its
pickup code on the station page, syncs, and sees the commission. Screenshots go to
$CUNZHAN_SCREENSHOTS (default: the temp dir)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

from cunzhan.accounts.roles import Role
from cunzhan.commerce.assisted_models import AssistedPurchase, AssistedStatus
from cunzhan.ledger.models import Transaction
from cunzhan.logistics import statemachine as sm
from cunzhan.logistics.models import Parcel
from cunzhan.network.models import StationStatus
from tests.commerce.assisted_helpers import parcel_to_station
from tests.factories.regions import make_region_tree
from tests.factories.stations import make_station

SHOTS = Path(os.environ.get("CUNZHAN_SCREENSHOTS", tempfile.gettempdir()))


@pytest.fixture
def station(transactional_db):
    make_region_tree()
    return make_station("520204106201", StationStatus.ACTIVE)


def test_assisted_purchase_from_record_to_pickup(station, page, login, make_user):
    make_user(Role.STATION_OPERATOR, stations=[station.pk], username="dg-op")
    login("dg-op")

    # record on the phone page: the county's rate is shown; a bad price is refused
    page.goto("/commerce/assisted/new/")
    assert "5%" in page.locator("#commission-rate").inner_text()
    page.fill("#id_villager_name", "张秀英")
    page.fill("#id_villager_phone", "13812345678")
    page.fill("#id_item", "电饭煲 3L")
    page.fill("#id_price_yuan", "12.345")
    page.select_option("#id_shop", "pinduoduo")
    page.click("#assisted-form button[type=submit]")
    assert "两位小数" in page.locator("#field-price_yuan").inner_text()
    assert AssistedPurchase.objects.count() == 0
    page.fill("#id_price_yuan", "199.90")
    page.fill("#id_shop_order_no", "PDD-2026-0001")
    page.fill("#id_tracking_number", "ZT2026112901")
    page.screenshot(path=str(SHOTS / "assisted-record.png"), full_page=True)
    page.click("#assisted-form button[type=submit]")
    page.wait_for_url("**/commerce/assisted/*-*/")
    assert page.locator("#assisted-status").get_attribute("data-status") == "ordered"
    facts = page.locator("#assisted-facts").inner_text()
    assert "¥199.90" in facts and "138****5678" in facts and "13812345678" not in facts
    p = AssistedPurchase.objects.get()
    assert p.price_fen == 19_990

    # the parcel arrives at the station through the logistics services
    parcel = parcel_to_station(station, tracking_number="ZT2026112901", phone="13812345678")
    assert parcel.state == sm.AT_STATION

    # link it by the tracking number (pre-filled from the shop)
    page.reload()
    page.click("#link-form button[type=submit]")
    page.locator("#linked-parcel").wait_for()
    assert page.locator("#assisted-status").get_attribute("data-status") == "arrived"

    # hand-out by pickup code on the station page (logistics)
    page.goto(f"/logistics/stations/{station.pk}/")
    page.click("#tap-handout")
    page.fill("#id_code", Parcel.objects.get(pk=parcel.pk).pickup_code)
    page.click("#handout-confirm")
    page.locator("#handed").wait_for()
    assert Parcel.objects.get(pk=parcel.pk).state == sm.PICKED_UP

    # sync: the commission accrues (5 % of ¥199.90, rounded down to whole fen)
    page.goto("/commerce/assisted/")
    page.click("#assisted-sweep button[type=submit]")
    assert "¥9.99" in page.locator(".messages").inner_text()
    page.screenshot(path=str(SHOTS / "assisted-list.png"), full_page=True)
    page.click(f"a[href='/commerce/assisted/{p.uuid}/']")
    assert page.locator("#assisted-status").get_attribute("data-status") == "picked_up"
    assert page.locator("#commission").inner_text() == "¥9.99"
    page.screenshot(path=str(SHOTS / "assisted-picked-up.png"), full_page=True)
    p.refresh_from_db()
    assert p.status == AssistedStatus.PICKED_UP
    assert Transaction.objects.filter(kind="assisted").count() == 1

    # the station's earnings show it
    page.goto("/commerce/earnings/")
    assert "¥9.99" in page.locator("#earnings tbody tr").first.inner_text()
    page.screenshot(path=str(SHOTS / "assisted-earnings.png"), full_page=True)
