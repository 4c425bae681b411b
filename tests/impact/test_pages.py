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
