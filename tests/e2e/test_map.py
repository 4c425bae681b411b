"""Browser (phone viewport): the station map draws the county outlines shipped with the
data and one dot per station as an inline SVG (no tile server), linked to the stations."""

from __future__ import annotations

import pytest
from django.conf import settings

from cunzhan.accounts.roles import Role
from cunzhan.network.models import Station, StationStatus
from cunzhan.network.regions_import import regions_import
from tests.factories.stations import make_station


@pytest.fixture
def stations(transactional_db):
    regions_import(provinces=["52"], data_dir=settings.DATA_DIR)
    made = [
        make_station("520204", StationStatus.ACTIVE),  # 水城区 county centre
        make_station("520204106", StationStatus.ACTIVE),  # 比德镇 depot
        make_station("520204106200", StationStatus.ACTIVE),  # 比德村
        make_station("520204106202", StationStatus.PROPOSED),  # 大寨村: no point until active
        make_station("520203", StationStatus.ACTIVE),  # 六枝特区 county centre
    ]
    return made


def test_station_map_draws_outlines_and_dots(stations, page, login, make_user):
    make_user(Role.DRIVER, regions=["520204"], username="driver")
    login("driver")
    page.goto("/network/map/")  # defaults to the user's county
    svg = page.locator("svg#station-map")
    svg.wait_for()
    assert "水城区" in page.locator("h1").inner_text()
    assert svg.locator("path").count() >= 1  # the county outline
    mapped = Station.objects.filter(region__code__startswith="520204", longitude__isnull=False)
    assert mapped.count() >= 3
    dots = svg.locator("circle")
    assert dots.count() == mapped.count()
    assert svg.locator("circle[fill='#c8102e']").count() == 1  # one county centre
    # every dot sits inside the drawing
    x0, y0, w, h = (float(v) for v in (svg.get_attribute("viewBox") or "").split())
    for i in range(dots.count()):
        cx, cy = float(dots.nth(i).get_attribute("cx")), float(dots.nth(i).get_attribute("cy"))
        assert x0 <= cx <= x0 + w and y0 <= cy <= y0 + h
    box = svg.bounding_box()
    assert box is not None and box["width"] <= 390 and box["height"] > 100
    assert "个服务站" in page.locator("main").inner_text()
    # the station in 六枝特区 is outside the driver's scope and not drawn
    liuzhi = Station.objects.get(region_id="520203")
    assert liuzhi.longitude is not None
    assert svg.locator(f"a[href$='/network/stations/{liuzhi.pk}/']").count() == 0

    # a dot links to its station
    depot = Station.objects.get(region_id="520204106")
    svg.locator(f"a[href$='/network/stations/{depot.pk}/']").click()
    page.wait_for_url(f"**/network/stations/{depot.pk}/")
    assert page.locator("h1").inner_text().startswith(depot.name)
    # and the station page links back to the map
    page.click("a:text-is('在地图上查看')")
    page.wait_for_url("**/network/map/?region=520204")
    assert page.locator("svg#station-map circle").count() == mapped.count()


def test_prefecture_map_for_the_admin(stations, page, login, make_user):
    make_user(Role.NETWORK_ADMIN, username="admin")
    login("admin")
    page.goto("/network/map/?region=5202")
    svg = page.locator("svg#station-map")
    svg.wait_for()
    labels = svg.locator("text").all_text_contents()
    assert len(labels) >= 4 and any(label.startswith("六枝") for label in labels)
    mapped = Station.objects.filter(longitude__isnull=False).count()
    assert svg.locator("circle").count() == mapped
    # an unknown code is a 404 page, not a 500
    response = page.goto("/network/map/?region=999999")
    assert response is not None and response.status == 404
