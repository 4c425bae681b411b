"""Browser: drill down the real region tree (贵州省) from the country to a village and read
the counts of stations, households and registered-poor households on every level."""

from __future__ import annotations

import pytest
from django.conf import settings

from cunzhan.accounts.roles import Role
from cunzhan.network.models import StationStatus
from cunzhan.network.regions_import import regions_import
from cunzhan.registry import services as registry_services
from tests.factories.registry import make_household
from tests.factories.stations import make_station

BIDE_TOWN = "520204106"  # 比德镇, 水城区
BIDE_VILLAGE = "520204106200"  # 比德村村民委员会
DAZHAI_VILLAGE = "520204106202"  # 大寨村村民委员会


@pytest.fixture
def guizhou(transactional_db):
    """The real tree of 贵州省, 4 live stations and 1 closed one in 比德镇, 5 households."""
    regions_import(provinces=["52"], data_dir=settings.DATA_DIR)
    make_station("520204", StationStatus.ACTIVE)  # county centre of 水城区
    make_station(BIDE_TOWN, StationStatus.ACTIVE)  # township depot
    make_station(BIDE_VILLAGE, StationStatus.ACTIVE)
    make_station(DAZHAI_VILLAGE, StationStatus.CLOSED)  # closed: not counted
    make_station(DAZHAI_VILLAGE, StationStatus.UNDER_REVIEW)
    for i, (village, poor) in enumerate(
        [(BIDE_VILLAGE, True), (BIDE_VILLAGE, True), (BIDE_VILLAGE, False), (DAZHAI_VILLAGE, True)]
    ):
        hh = make_household(village=village, number=f"{i + 1:04d}")
        if poor:
            registry_services.poverty_register(
                household=hh, year_registered=2015, main_cause="illness"
            )
    # one household in another county: counted at the prefecture, not under 水城区
    make_household(village="520203001001", number="0001")


def _row(page, code: str) -> dict[str, str]:
    """The region table's row for ``code`` as {column header: cell text}."""
    headers = [h.strip() for h in page.locator("#region-table thead th").all_inner_texts()]
    row = page.locator("#region-table tbody tr", has=page.locator(f"code:text-is('{code}')"))
    cells = [c.strip() for c in row.locator("td").all_inner_texts()]
    assert len(cells) == len(headers), (headers, cells)
    return dict(zip(headers, cells, strict=True))


def _footer(page) -> dict[str, str]:
    headers = [h.strip() for h in page.locator("#region-table thead th").all_inner_texts()]
    cells = [c.strip() for c in page.locator("#region-table tfoot th").all_inner_texts()]
    return dict(zip(headers, cells, strict=True))


def test_drill_down_from_the_country_to_a_village_with_counts(
    guizhou, browser, live_server, make_user
):
    make_user(Role.NETWORK_ADMIN, username="admin")
    # desktop viewport for this flow (the phone one is covered by the other flows)
    context = browser.new_context(
        base_url=live_server.url, locale="zh-CN", viewport={"width": 1280, "height": 900}
    )
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.goto("/login/")
    page.fill("#id_username", "admin")
    page.fill("#id_password", "pw-secret-1")
    page.click("button[type=submit]")
    page.wait_for_url(lambda url: "/login/" not in url)

    page.goto("/network/regions/")
    assert page.locator("h1").inner_text().strip() == "行政区划"
    province = _row(page, "52")
    assert province["名称"].startswith("贵州省")
    assert (province["服务站"], province["户数"], province["建档立卡户"]) == ("4", "5", "3")

    page.click("#region-table a:text-is('贵州省')")
    page.wait_for_url("**/network/regions/52/")
    prefecture = _row(page, "5202")
    assert prefecture["名称"] == "六盘水市"
    assert (prefecture["服务站"], prefecture["户数"], prefecture["建档立卡户"]) == ("4", "5", "3")
    # other prefectures are listed with zero counts
    assert _row(page, "5201")["户数"] == "0"

    page.click("#region-table a:text-is('六盘水市')")
    page.wait_for_url("**/network/regions/5202/")
    assert page.locator("#region-table tbody tr").count() == 4  # 4 counties
    shuicheng = _row(page, "520204")
    assert shuicheng["名称"].startswith("水城区") and "贫困县" in shuicheng["名称"]
    assert (shuicheng["服务站"], shuicheng["户数"], shuicheng["建档立卡户"]) == ("4", "4", "3")
    liuzhi = _row(page, "520203")
    assert (liuzhi["服务站"], liuzhi["户数"], liuzhi["建档立卡户"]) == ("0", "1", "0")
    assert _footer(page)["户数"] == "5"

    page.click("#region-table a:text-is('水城区')")
    page.wait_for_url("**/network/regions/520204/")
    # township-level units (the 本级 row holds the county centre on the county itself)
    assert page.locator("#region-table tbody tr:not(.own-level)").count() == 30
    town = _row(page, BIDE_TOWN)
    assert town["名称"] == "比德镇" and town["类型"] == "镇"
    # the county centre sits on the county itself, so the town shows the depot + 2 villages
    assert (town["服务站"], town["户数"], town["建档立卡户"]) == ("3", "4", "3")
    assert "原国家级贫困县" in page.locator("h1").inner_text()

    page.click("#region-table a:text-is('比德镇')")
    page.wait_for_url(f"**/network/regions/{BIDE_TOWN}/")
    assert "比德镇" in page.locator("h1").inner_text()
    crumbs = page.locator(".crumbs").inner_text()
    assert "全国" in crumbs and "贵州省" in crumbs and "六盘水市" in crumbs and "水城区" in crumbs
    bide = _row(page, BIDE_VILLAGE)
    assert bide["名称"] == "比德村村民委员会" and bide["类型"] == "村委会"
    assert (bide["服务站"], bide["户数"], bide["建档立卡户"], bide["未脱贫户"]) == (
        "1",
        "3",
        "2",
        "2",
    )
    dazhai = _row(page, DAZHAI_VILLAGE)
    # under review counts as live, the closed one does not
    assert (dazhai["服务站"], dazhai["户数"], dazhai["建档立卡户"]) == ("1", "1", "1")
    # a village is the last level: no link further down, but a link to its stations
    assert page.locator("#region-table a:text-is('比德村村民委员会')").count() == 0
    row = page.locator(
        "#region-table tbody tr", has=page.locator(f"code:text-is('{BIDE_VILLAGE}')")
    )
    row.locator("a", has_text="服务站").click()
    page.wait_for_url(f"**/network/stations/?region={BIDE_VILLAGE}")
    assert page.locator("#station-table tbody tr").count() == 1
    assert "运营中" in page.locator("#station-table tbody").inner_text()
    context.close()


def test_a_county_manager_sees_only_their_county(guizhou, page, login, make_user):
    """Phone viewport: the scoped browser of a 水城区 manager starts at their county."""
    make_user(Role.COUNTY_MANAGER, regions=["520204"], username="mgr")
    login("mgr")
    page.goto("/network/regions/")
    codes = page.locator("#region-table tbody code").all_inner_texts()
    assert codes == ["52"]
    page.goto("/network/regions/5202/")
    assert page.locator("#region-table tbody code").all_inner_texts() == ["520204"]
    response = page.goto("/network/regions/520203/")
    assert response is not None and response.status == 404
    page.goto(f"/network/regions/{BIDE_TOWN}/")
    assert _row(page, BIDE_VILLAGE)["户数"] == "3"
    # the table scrolls inside its wrapper instead of widening the page
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, width
