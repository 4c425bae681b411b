"""A station operator records a helper (淘帮手) on the station page and ends it."""

from __future__ import annotations

import os

from cunzhan.accounts.roles import Role
from cunzhan.network.models import StationHelper, StationStatus
from tests.factories.stations import make_station


def test_operator_adds_and_ends_a_helper(page, login, make_user, regions):
    station = make_station("520204106201", StationStatus.ACTIVE)
    make_user(Role.STATION_OPERATOR, stations=[station.pk], username="op")
    login("op")
    page.goto(f"/network/stations/{station.pk}/")
    section = page.locator("#station-helpers")
    assert "还没有登记淘帮手" in section.inner_text()

    # a bad phone is refused in the form, the name typed is kept
    page.fill("#helper-add-form [name=name]", "李帮手")
    page.fill("#helper-add-form [name=phone]", "12345")
    page.click("#helper-add-form button[type=submit]")
    assert "手机号码格式不正确" in page.locator("#helper-add-form .errorlist").inner_text()
    assert page.input_value("#helper-add-form [name=name]") == "李帮手"

    page.fill("#helper-add-form [name=phone]", "13900001111")
    page.click("#helper-add-form button[type=submit]")
    assert "淘帮手已登记" in page.inner_text(".messages")
    helper = StationHelper.objects.get(station=station)
    row = page.locator(f"#helper-{helper.pk}")
    assert "李帮手" in row.inner_text() and "13900001111" in row.inner_text()
    assert "在岗 1 人" in section.inner_text()
    if os.environ.get("CUNZHAN_SCREENSHOTS"):
        page.screenshot(path=os.environ["CUNZHAN_SCREENSHOTS"] + "/helpers.png", full_page=True)

    row.locator("button[type=submit]").click()
    assert "工作已结束" in page.inner_text(".messages")
    helper.refresh_from_db()
    assert helper.ended_on is not None
    assert "在岗 0 人" in page.locator("#station-helpers").inner_text()
    assert page.locator(f"#helper-{helper.pk} button").count() == 0
