"""Browser test of the county dashboard: a county manager opens 影响监测, sees the cards,
the series, the townships' bars and the map, switches indicator, and drills a number
down to its parcels. Screenshots go to $CUNZHAN_SCREENSHOTS (default the temporary
directory) for a person to look at."""

from __future__ import annotations

import datetime as dt
import os
import tempfile
from pathlib import Path

from django.utils import timezone

from cunzhan.accounts.roles import Role
from cunzhan.impact.services import indicators_refresh
from cunzhan.network.models import StationStatus
from tests.factories.impact import builtin_indicators, deliver
from tests.factories.stations import make_station

SHOTS = Path(os.environ.get("CUNZHAN_SCREENSHOTS", tempfile.gettempdir()))


def test_county_dashboard_drills_down_to_parcels(page, login, make_user, regions):
    builtin_indicators()
    today = timezone.localdate()
    s1 = make_station("520204106201", StationStatus.ACTIVE)
    s2 = make_station("520204106202", StationStatus.ACTIVE)
    for i in range(6):
        deliver(
            f"E{i}",
            village=(s1 if i % 3 else s2).region_id,
            station_code=(s1 if i % 3 else s2).code,
            # over the last four days, within this month (the 1st to the 3rd too)
            day=max(today - dt.timedelta(days=i % 4), today.replace(day=1)),
            then="picked_up" if i % 2 else "",
        )
    indicators_refresh(county_code="520204", since=today - dt.timedelta(days=30))
    make_user(Role.COUNTY_MANAGER, regions=["520204"], username="cm")
    login("cm")
    page.set_viewport_size({"width": 1280, "height": 900})

    page.goto("/impact/")
    page.wait_for_url("**/impact/r/520204/")
    assert "水城区" in page.inner_text("h1")
    page.click("a.button:has-text('月')")
    page.wait_for_url("**period_type=month**")
    card = page.locator("[data-indicator=parcels_down]")
    assert card.locator("b").inner_text() == "6"
    assert page.locator("#impact-series polyline").count() == 1
    assert "玉舍镇" in page.inner_text("#impact-children")
    assert page.locator("#impact-map path").count() == 1
    assert page.locator("#impact-map circle").count() == 1
    page.screenshot(path=str(SHOTS / "impact-county-dashboard.png"), full_page=True)

    # the pick-up rate card: 3 of 6, the legend colour of "below 85 %"
    rate = page.locator("[data-indicator=pickup_rate]")
    assert rate.locator("b").inner_text() == "50.0%"
    rate.locator("a").first.click()
    page.wait_for_url("**indicator=pickup_rate**")
    assert "取件率" in page.inner_text("#impact-series h2")

    # every number drills down: the township's bar number -> its parcels
    page.locator("#impact-children a.drill").first.click()
    page.wait_for_url("**/rows/**")
    assert page.inner_text("#rows-total") == "3"
    assert page.locator("tbody tr").count() == 3
    page.screenshot(path=str(SHOTS / "impact-drilldown.png"), full_page=True)
