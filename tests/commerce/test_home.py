"""The commerce panel on the home page and the navigation entry."""

from __future__ import annotations

from django.test import Client

from cunzhan.accounts.roles import Role
from tests.factories.commerce import make_lot


def _home(user) -> str:
    c = Client()
    c.force_login(user)
    return c.get("/").content.decode()


def test_operator_and_manager_see_lots_to_grade(make_user, station, producer, kiwi):
    make_lot(producer, kiwi)
    make_lot(producer, kiwi)
    op = make_user(Role.STATION_OPERATOR, stations=[station.pk])
    html = _home(op)
    assert "待分级批次" in html and "/commerce/lots/?status=harvested" in html
    assert "/commerce/lots/new/" in html
    manager = make_user(Role.COUNTY_MANAGER, regions=["520204"])
    assert "待分级批次" in _home(manager)
    # the navigation entry for the commerce roles only
    assert 'href="/commerce/lots/"' in _home(manager)
    driver = make_user(Role.DRIVER, regions=["520204"])
    html = _home(driver)
    assert "待分级批次" not in html and 'href="/commerce/lots/"' not in html


def test_the_panel_counts_only_the_callers_lots(make_user, station, producer, kiwi, regions):
    from cunzhan.network.models import StationStatus
    from tests.factories.commerce import make_producer
    from tests.factories.stations import make_station

    other = make_station("520203101201", StationStatus.ACTIVE)  # 六枝特区
    make_lot(make_producer(other, name="外县农户"), kiwi)
    make_lot(producer, kiwi)
    manager = make_user(Role.COUNTY_MANAGER, regions=["520204"])
    html = _home(manager)
    start = html.index("农产品</h2>")
    panel = html[start : start + 600]
    assert "<b>1</b><span>待分级批次" in panel
