"""Browser test of the public transparency page: no login, yearly aggregates, a village
of fewer than 5 households shown as "<5" and its township (the only other village
shown) suppressed with it, no drill-down link, no personal data."""

from __future__ import annotations

import datetime as dt
import os
import tempfile
from pathlib import Path

from cunzhan.core.scope import RegionScope
from cunzhan.impact.services import indicators_refresh
from tests.factories.impact import builtin_indicators
from tests.factories.registry import make_person

SHOTS = Path(os.environ.get("CUNZHAN_SCREENSHOTS", tempfile.gettempdir()))


def test_public_page_suppresses_small_villages(page, regions):
    from cunzhan.registry import services as reg

    builtin_indicators()
    national = RegionScope.national()
    for village, n in (("520204106201", 3), ("520204106202", 6)):
        for i in range(n):
            hh = reg.household_create(scope=national, village_code=village, address=f"{i}组")
            reg.poverty_register(household=hh, year_registered=2014, main_cause="illness")
            make_person(household=hh, name=f"公开测试户主{i}")
    indicators_refresh(
        county_code="520204",
        since=dt.date.today(),
        indicator_codes=["households_registered_poor"],
    )
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto("/open/r/520204106/?indicator=households_registered_poor")
    children = page.inner_text("#pub-children")
    # 3 shows "<5"; the 6 is withheld, or the township's 9 minus it would give the 3 away;
    # the township's 9 pins neither and is shown (ADR 0030)
    assert "<5" in children and "隐去" in children and "6" not in children
    card = page.locator("[data-indicator=households_registered_poor] b")
    assert card.inner_text() == "9"
    html = page.content()
    assert "/rows/" not in html and "公开测试户主" not in html
    page.screenshot(path=str(SHOTS / "impact-open-township.png"), full_page=True)
    page.click("#pub-children a:has-text('玉舍村')")
    page.wait_for_url("**/open/r/520204106202/**")
    # withheld alike on the village's own page
    assert page.locator("[data-indicator=households_registered_poor] b").inner_text() == "隐去"
