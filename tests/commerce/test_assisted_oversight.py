"""The county's oversight of assisted purchase (代购, issue 12): operators whose
commissions jump (selector, API, page reachable from the county role's navigation) and
the review queue on the page. Dates are fixed: the selector takes ``now`` and a month,
and the purchases' recording times are set relative to that month."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from django.test import Client
from django.urls import reverse

from cunzhan.accounts.roles import Role
from cunzhan.commerce import assisted, assisted_selectors
from cunzhan.commerce.assisted_models import AssistedPurchase, ReviewState
from cunzhan.core.errors import ApplicationError
from cunzhan.core.scope import RegionScope

CHINA = ZoneInfo("Asia/Shanghai")
NOW = dt.datetime(2026, 6, 20, 12, tzinfo=CHINA)
COUNTY = "520204"


def _record(station, actor, when: dt.datetime, price: str = "600") -> AssistedPurchase:
    p = assisted.assisted_record(
        scope=RegionScope.national(),
        station=station,
        villager_name="张秀英",
        villager_phone="13812345678",
        item="喷雾器",
        price=price,
        shop="jd",
        actor=actor,
    )
    # recorded in the month under test (test data only: the service stamps server time)
    AssistedPurchase.objects.filter(pk=p.pk).update(created_at=when)
    return p


@pytest.fixture
def people(make_user, station):
    return {
        "jumper": make_user(Role.STATION_OPERATOR, stations=[station.pk], username="jumper"),
        "steady": make_user(Role.STATION_OPERATOR, stations=[station.pk], username="steady"),
        "newbie": make_user(Role.STATION_OPERATOR, stations=[station.pk], username="newbie"),
        "manager": make_user(Role.COUNTY_MANAGER, regions=[COUNTY], username="mgr"),
        "far": make_user(Role.COUNTY_MANAGER, regions=["520203"], username="far-mgr"),
    }


@pytest.fixture
def history(station, people):
    """¥600 at 5 % = ¥30 a purchase. jumper and steady: one a month for three months;
    this month jumper records five (¥150), steady one, newbie one."""
    for months_back in (1, 2, 3):
        when = NOW - dt.timedelta(days=30 * months_back)
        _record(station, people["jumper"], when)
        _record(station, people["steady"], when)
    for i in range(5):
        _record(station, people["jumper"], NOW - dt.timedelta(hours=i + 1))
    _record(station, people["steady"], NOW - dt.timedelta(hours=1))
    _record(station, people["newbie"], NOW - dt.timedelta(hours=1))
    # a cancelled purchase counts for nothing
    cancelled = _record(station, people["steady"], NOW - dt.timedelta(hours=2), price="2999")
    assisted.assisted_cancel(scope=RegionScope.national(), purchase=cancelled)


def test_anomalies_flag_the_jump_against_own_history_and_county_peers(history):
    rows = assisted_selectors.assisted_commission_anomalies(
        scope=RegionScope.for_regions([COUNTY]), month="2026-06", now=NOW
    )
    assert [r["username"] for r in rows] == ["jumper"]
    [a] = rows
    assert (a["month_fen"], a["month_count"], a["trailing_avg_fen"]) == (15_000, 5, 3_000)
    assert a["peer_median_fen"] == 3_000 and a["peers"] == 2
    assert a["reasons"] == ["trailing", "peers"] and a["jump_fen"] == 12_000
    # the default month is ``now``'s; a month without the burst flags nobody
    assert (
        assisted_selectors.assisted_commission_anomalies(
            scope=RegionScope.for_regions([COUNTY]), now=NOW
        )
        == rows
    )
    assert (
        assisted_selectors.assisted_commission_anomalies(
            scope=RegionScope.for_regions([COUNTY]), month="2026-05", now=NOW
        )
        == []
    )


def test_anomalies_are_scoped_and_the_month_is_checked(history):
    assert (
        assisted_selectors.assisted_commission_anomalies(
            scope=RegionScope.for_regions(["520203"]), month="2026-06", now=NOW
        )
        == []
    )
    with pytest.raises(ApplicationError) as exc:
        assisted_selectors.assisted_commission_anomalies(
            scope=RegionScope.national(), month="2026-13"
        )
    assert exc.value.code == "invalid_filter"


def test_api_anomalies_for_the_county_only(history, people, api_client):
    r = api_client(people["manager"]).get("/api/v1/commerce/assisted/anomalies?month=2026-06")
    assert r.status_code == 200 and [x["username"] for x in r.json()] == ["jumper"]
    r = api_client(people["far"]).get("/api/v1/commerce/assisted/anomalies?month=2026-06")
    assert r.status_code == 200 and r.json() == []
    r = api_client(people["jumper"]).get("/api/v1/commerce/assisted/anomalies")
    assert r.status_code == 403
    r = api_client(people["manager"]).get("/api/v1/commerce/assisted/anomalies?month=june")
    assert r.status_code == 422 and r.json()["code"] == "validation_error"


def _login(user) -> Client:
    c = Client()
    c.force_login(user)
    return c


def test_oversight_page_from_the_navigation_reviews_and_explains_the_rule(station, people, history):
    mgr = _login(people["manager"])
    url = reverse("commerce:assisted-oversight")
    home = mgr.get(reverse("accounts:home")).content.decode()
    assert f'href="{url}"' in home  # in the county role's navigation
    page = mgr.get(url + "?month=2026-06").content.decode()
    assert 'data-user="jumper"' in page and 'data-user="steady"' not in page
    assert "中位数" in page and "¥3,000.00" in page  # the rule and the county's limit
    # a purchase above the threshold waits in the queue; reject needs a note
    big = _record(station, people["jumper"], NOW, price="1500")
    assert big.review_state == ReviewState.PENDING
    page = mgr.get(url).content.decode()
    assert f'data-purchase="{big.uuid}"' in page
    review = reverse("commerce:assisted-review", args=[big.uuid])
    r = mgr.post(review, {"decision": "reject", "note": ""}, follow=True)
    assert "不能为空" in r.content.decode()
    big.refresh_from_db()
    assert big.review_state == ReviewState.PENDING
    mgr.post(review, {"decision": "reject", "note": "价格不实"})
    big.refresh_from_db()
    assert big.review_state == ReviewState.REJECTED and big.reviewed_by == people["manager"]
    # operators neither see the page nor review
    op = _login(people["steady"])
    assert op.get(url).status_code == 403
    assert f'href="{url}"' not in op.get(reverse("accounts:home")).content.decode()
    assert op.post(review, {"decision": "approve"}).status_code == 403


def test_oversight_page_in_english(people, history):
    mgr = _login(people["manager"])
    mgr.post(reverse("set_language"), {"language": "en", "next": "/"})
    page = mgr.get(reverse("commerce:assisted-oversight") + "?month=2026-06").content.decode()
    assert "Assisted-purchase oversight" in page and "median" in page
