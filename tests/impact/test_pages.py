"""The dashboard and drill-down pages."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client

from cunzhan.accounts.roles import Role
from cunzhan.impact.services import indicators_refresh
from tests.impact.conftest import D1, TODAY


@pytest.fixture
def page(small, make_user):
    for county in ("520204", "520203"):
        indicators_refresh(county_code=county, today=TODAY, since=dt.date(2026, 10, 1))
    client = Client()
    client.force_login(make_user(Role.COUNTY_MANAGER, regions=["520204"]))
    return client


def test_home_sends_a_county_user_to_the_county(page):
    r = page.get("/impact/")
    assert r.status_code == 302 and r["Location"] == "/impact/r/520204/"


def test_county_dashboard(page):
    r = page.get(
        "/impact/r/520204/",
        {"indicator": "parcels_down", "period_type": "week", "period_start": D1.isoformat()},
    )
    assert r.status_code == 200
    html = r.content.decode()
    # the card, the series, the township bar, every number a link to its rows
    assert 'data-indicator="pickup_rate"' in html
    assert "玉舍镇" in html
    assert (
        "/impact/r/520204/rows/?indicator=parcels_down&amp;period_type=week&amp;period_start=2026-10-05"
        in html
    )
    assert "<polyline" in html
    assert "六枝" not in html  # the other county is never shown


def test_drilldown_page_total(page):
    r = page.get(
        "/impact/r/520204/rows/",
        {"indicator": "parcels_down", "period_type": "day", "period_start": D1.isoformat()},
    )
    assert r.status_code == 200
    html = r.content.decode()
    assert 'id="rows-total">3<' in html
    assert html.count("IMPA") == 3


def test_bad_period_is_a_clear_400(page):
    r = page.get("/impact/r/520204/", {"period_type": "month", "period_start": "2026-10-05"})
    assert r.status_code == 400
    assert "2026-10-01" in r.content.decode()


def test_other_county_is_404(page):
    assert page.get("/impact/r/520203/").status_code == 404
    assert page.get("/impact/r/520203/rows/").status_code == 404


@pytest.fixture
def national(small, make_user):
    for county in ("520204", "520203"):
        indicators_refresh(county_code=county, today=TODAY, since=dt.date(2026, 10, 1))
    client = Client()
    client.force_login(make_user(Role.NETWORK_ADMIN))
    return client


WEEK = {"indicator": "parcels_down", "period_type": "week", "period_start": D1.isoformat()}


def test_national_dashboard_shows_provinces_and_the_national_total(national):
    home = national.get("/impact/").content.decode()
    assert 'href="/impact/r/CN/"' in home and 'href="/impact/r/52/"' in home
    r = national.get("/impact/r/CN/", WEEK)
    assert r.status_code == 200
    html = r.content.decode()
    # D1's week (D1 and D2): 6 parcels in 水城区 and 4 in 六枝特区 reached their stations
    card = html.split('data-indicator="parcels_down"', 1)[1].split("</div>", 1)[0]
    assert ">10</a></b>" in card
    assert "贵州省" in html
    assert "/impact/r/CN/rows/?indicator=parcels_down" in html
    # each province is drawn at the mean of its county seats
    mapsvg = html.split('id="impact-map"', 1)[1].split("</section>", 1)[0]
    assert "贵州省: 10</title></circle>" in mapsvg
    # D1 alone: 3 + 4
    rows = national.get("/impact/r/CN/rows/", {**WEEK, "period_type": "day"})
    assert rows.status_code == 200 and 'id="rows-total">7<' in rows.content.decode()


def test_prefecture_map_fills_the_county_outlines(national):
    r = national.get("/impact/r/5202/", WEEK)
    html = r.content.decode()
    mapsvg = html.split('id="impact-map"', 1)[1].split("</section>", 1)[0]
    # both counties of the test tree have shipped outlines (水城区 through the crosswalk:
    # the 2016 fence of 水城县), drawn over the outline of 六盘水市 itself
    assert mapsvg.count('class="area"') == 2
    assert mapsvg.count("<path") == 3 and "<circle" not in mapsvg
    assert "六枝特区: 4" in mapsvg and "水城区: 6" in mapsvg
    assert 'href="/impact/r/CN/' in html  # the breadcrumb starts at the country


def test_national_page_is_404_below_a_national_scope(page):
    assert page.get("/impact/r/CN/").status_code == 404
    assert page.get("/impact/r/CN/rows/").status_code == 404
    assert 'href="/impact/r/CN/"' not in page.get("/impact/r/520204/").content.decode()


def test_a_ratio_without_data_is_a_gap_not_a_zero(page):
    """pickup_rate of 水城区 per day, 30 days to D3 (2 Nov): values on 5 and 6 Oct and on
    2 Nov only; every other day has no parcel down (no value): one line over the two
    October days, a lone dot on 2 Nov, no dot and no zero for the empty days."""
    import re

    d3 = dt.date(2026, 11, 2)
    r = page.get(
        "/impact/r/520204/",
        {"indicator": "pickup_rate", "period_type": "day", "period_start": d3.isoformat()},
    )
    html = r.content.decode()
    series = html.split('id="impact-series"')[1].split("</section>")[0]
    assert series.count("<polyline") == 1
    assert len(re.findall(r"<circle ", series)) == 3
    assert "—" not in series.split("<title>")[0]
    # the township table: a village without parcels that day shows "—", not 0.0%
    r = page.get(
        "/impact/r/520204106/",
        {"indicator": "pickup_rate", "period_type": "day", "period_start": D1.isoformat()},
    )
    children = r.content.decode().split('id="impact-children"')[1].split("</section>")[0]
    assert 'class="drill">—<' in children and 'class="drill">0.0%<' not in children


def test_series_segments_break_at_missing_periods():
    from cunzhan.impact.views import series_segments

    pts = [
        {"x": i, "y": i, "missing": m}
        for i, m in enumerate([False, False, True, False, True, False, False, False])
    ]
    assert series_segments(pts) == ["0,0 1,1", "5,5 6,6 7,7"]
    assert series_segments([]) == []
