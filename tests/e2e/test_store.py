"""Browser test of the storefront on a phone: browse, add to the cart, a refused phone
number at checkout, the sandbox pay page, the order "paid". Screenshots go to
$CUNZHAN_SCREENSHOTS (default the temporary directory) for a person to look at."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from cunzhan.commerce.orders_models import Order
from cunzhan.network.models import StationStatus
from tests.factories.commerce import make_producer, seed_catalogue
from tests.factories.orders import graded_lot, kiwi_special_price
from tests.factories.stations import make_station

SHOTS = Path(os.environ.get("CUNZHAN_SCREENSHOTS", tempfile.gettempdir()))


def test_buyer_checks_out_and_pays_on_a_phone(page, regions):
    kiwi = seed_catalogue()["kiwifruit-red"]
    station = make_station("520204106201", StationStatus.ACTIVE)
    producer = make_producer(station, name="王大山")
    kiwi_special_price(kiwi, "520204", 1280)
    graded_lot(producer, kiwi, quantity=20, days_ago=3)

    page.goto("/shop/")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    assert "王大山" not in page.content()
    page.screenshot(path=str(SHOTS / "store-home.png"), full_page=True)
    page.click(".listing a.title")
    assert "¥12.80" in page.inner_text("#price")
    page.fill("#qty", "3")
    page.click("#add-form button[type=submit]")
    page.wait_for_url("**/shop/cart/")
    assert "¥38.40" in page.inner_text("#cart-total")
    page.click("#to-checkout")
    page.fill("#buyer_name", "李小梅")
    page.fill("#buyer_phone", "1391234")
    page.fill("#address", "贵阳市云岩区中华北路 8 号")
    page.click("#checkout-form button[type=submit]")
    assert "手机号码格式不正确" in page.inner_text("#checkout-error")
    assert Order.objects.count() == 0
    page.fill("#buyer_phone", "13912345678")
    page.screenshot(path=str(SHOTS / "store-checkout.png"), full_page=True)
    page.click("#checkout-form button[type=submit]")
    page.wait_for_url("**/shop/pay/**")
    assert "¥38.40" in page.inner_text("#pay-amount")
    page.screenshot(path=str(SHOTS / "store-pay.png"), full_page=True)
    page.click("#pay-button")
    page.wait_for_url("**/shop/o/**")
    assert page.inner_text("#order-state") == "已付款"
    assert "13912345678" not in page.content()
    page.screenshot(path=str(SHOTS / "store-paid.png"), full_page=True)
    order = Order.objects.get()
    assert order.state == "paid" and order.paid_fen == 3840
