from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import reverse
from tests.factories.stations import make_station

from cunzhan.accounts.models import User
from cunzhan.accounts.roles import Role
from cunzhan.network.models import Region, RegionAlias, Station

pytestmark = pytest.mark.django_db

VILLAGE = "520204106201"
OTHER_COUNTY_VILLAGE = "520203101201"


def client_for(user) -> Client:
    c = Client()
    c.force_login(user)
    return c


@pytest.fixture
def manager(regions, make_user):
    return make_user(Role.COUNTY_MANAGER, regions=["520204"])


def apply_form(**over):
    data = {
        "region_code": VILLAGE,
        "kind": "village_station",
        "name": "海坪村服务站",
        "address": "村委会一楼",
        "applicant_name": "王小二",
        "applicant_phone": "13800000000",
        "premises_m2": "40",
        "committee_recommendation": "on",
        "recommendation_note": "同意",
        "deposit_yuan": "3000.50",
        "capabilities": ["parcels", "training_venue"],
        "opens_at": "08:00",
        "closes_at": "20:00",
        "open_days": ["1", "2", "3", "4", "5"],
    }
    data.update(over)
    return data


def test_onboarding_through_the_pages(manager):
    c = client_for(manager)
    r = c.get(reverse("network:station_apply"), {"region": VILLAGE})
    assert r.status_code == 200
    assert f'value="{VILLAGE}"' in r.text
    r = c.post(reverse("network:station_apply"), apply_form())
    assert r.status_code == 302
    station = Station.objects.get()
    assert r["Location"] == reverse("network:station", args=[station.pk])
    assert station.application.deposit_fen == 300050
    assert station.open_days == "12345"
    assert station.capabilities == ["parcels", "training_venue"]

    detail = c.get(r["Location"])
    assert "ZS-520204106201-01" in detail.text
    assert "合成坐标" in detail.text  # the village has no point in the data
    assert "¥3,000.50" in detail.text
    assert "提交审核" in detail.text

    url = lambda a: reverse("network:station_action", args=[station.pk, a])  # noqa: E731
    assert c.post(url("submit")).status_code == 302
    # rejecting without a note shows the error in the form
    r = c.post(url("reject"), {"note": ""})
    assert r.status_code == 400
    assert "驳回时须填写审核意见" in r.text
    assert c.post(url("approve"), {"note": "同意"}).status_code == 302
    r = c.post(url("activate"), {"operator_username": "haiping", "operator_display_name": "李四"})
    assert r.status_code == 200
    assert 'id="operator-credentials"' in r.text
    password = re.search(r"初始密码：<code>([^<]+)</code>", r.text).group(1)
    assert User.objects.get(username="haiping").check_password(password)
    assert r["Cache-Control"] == "no-store"
    # shown once: the detail page does not show it again
    again = c.get(reverse("network:station", args=[station.pk]))
    assert password not in again.text
    assert "运营中" in again.text

    assert c.post(url("suspend"), {"note": "检查"}).status_code == 302
    assert Station.objects.get().status == "suspended"
    assert c.post(url("reinstate")).status_code == 302
    assert c.post(url("close")).status_code == 302
    assert Station.objects.get().status == "closed"
    # an illegal transition is a message, not an error page
    r = c.post(url("suspend"), follow=True)
    assert "不能从" in r.text


def test_form_errors_are_shown_next_to_the_fields(manager):
    c = client_for(manager)
    r = c.post(
        reverse("network:station_apply"),
        apply_form(deposit_yuan="三千", premises_m2="2", committee_recommendation=""),
    )
    assert r.status_code == 400
    assert "保证金须是以元为单位的金额" in r.text
    assert not Station.objects.exists()
    # the service's rules come back on the field they concern
    r = c.post(reverse("network:station_apply"), apply_form(premises_m2="2"))
    assert r.status_code == 400
    assert "场地面积须在5到50000平方米之间" in r.text
    r = c.post(reverse("network:station_apply"), apply_form(kind="township_depot"))
    assert "乡镇服务站须设在乡级单位" in r.text
    r = c.post(reverse("network:station_apply"), apply_form(region_code=OTHER_COUNTY_VILLAGE))
    assert r.status_code == 400
    assert "不在您的管辖范围内" in r.text
    r = c.post(reverse("network:station_apply"), apply_form(committee_recommendation=""))
    assert "村级服务站须有村委会推荐" in r.text
    r = c.post(reverse("network:station_apply"), apply_form(closes_at="07:00"))
    assert "关门时间须晚于开门时间" in r.text
    assert not Station.objects.exists()


def test_region_search_offers_regions_in_scope_only(manager):
    c = client_for(manager)
    r = c.get(reverse("network:region_search"), {"q": "海坪"}, HTTP_HX_REQUEST="true")
    assert f'<option value="{VILLAGE}">' in r.text
    r = c.get(reverse("network:region_search"), {"q": "5202"})
    assert "520204" in r.text and "520203" not in r.text
    r = c.get(reverse("network:region_search"), {"q": "那玉"})
    assert "<option" not in r.text
    for text in ("²", "５２０２", "5202٣"):  # digits, but not ASCII: a name that matches none
        r = c.get(reverse("network:region_search"), {"q": text})
        assert r.status_code == 200 and "<option" not in r.text, text


def test_station_list_filters_and_scope(manager):
    own = make_station(VILLAGE, "active")
    make_station("520204106", "proposed")
    other = make_station(OTHER_COUNTY_VILLAGE, "active")
    c = client_for(manager)
    r = c.get(reverse("network:stations"))
    assert r.status_code == 200
    assert own.code in r.text and "ZS-520204106-01" in r.text
    assert other.code not in r.text
    r = c.get(reverse("network:stations"), {"status": "proposed"})
    assert own.code not in r.text and "ZS-520204106-01" in r.text
    r = c.get(reverse("network:stations"), {"kind": "village_station", "region": "520204106"})
    assert own.code in r.text and "ZS-520204106-01" not in r.text
    # htmx asks for the rows only
    r = c.get(
        reverse("network:stations"),
        {"status": "active"},
        HTTP_HX_REQUEST="true",
        HTTP_HX_TARGET="station-results",
    )
    assert "<html" not in r.text and own.code in r.text
    r = c.get(reverse("network:stations"), {"region": "520203"})
    assert "不在您的管辖范围内" in r.text
    assert other.code not in r.text
    r = c.get(reverse("network:stations"), {"status": "bogus"})
    assert r.status_code == 200 and "errorlist" in r.text


def test_station_list_pages(manager):
    for v in range(203, 233):
        code = f"520204106{v:03d}"
        Region.objects.create(
            code=code, name=f"村{v}", level=5, kind="village", parent_id="520204106"
        )
        make_station(code)
    c = client_for(manager)
    r = c.get(reverse("network:stations"))
    assert "第 1 / 2 页" in r.text
    assert len(re.findall(r'<a href="/network/stations/\d+/">', r.text)) == 25
    r = c.get(reverse("network:stations"), {"page": 2})
    assert len(re.findall(r'<a href="/network/stations/\d+/">', r.text)) == 5


def test_out_of_scope_station_pages_are_404_and_actions_403(manager, make_user):
    other = make_station(OTHER_COUNTY_VILLAGE, "under_review")
    c = client_for(manager)
    assert c.get(reverse("network:station", args=[other.pk])).status_code == 404
    for action in ("submit", "approve", "reject", "activate", "suspend", "reinstate", "close"):
        r = c.post(reverse("network:station_action", args=[other.pk, action]), {"note": "x"})
        assert r.status_code == 404, action
    assert Station.objects.get(pk=other.pk).status == "under_review"
    own = make_station(VILLAGE, "under_review")
    driver = make_user(Role.DRIVER, regions=["520204"])
    d = client_for(driver)
    assert d.get(reverse("network:station", args=[own.pk])).status_code == 200
    assert "批准" not in d.get(reverse("network:station", args=[own.pk])).text
    r = d.post(reverse("network:station_action", args=[own.pk, "approve"]))
    assert r.status_code == 403
    assert d.get(reverse("network:station_apply")).status_code == 403
    assert Station.objects.get(pk=own.pk).status == "under_review"
    assert c.post(reverse("network:station_action", args=[own.pk, "fly"])).status_code == 404


def test_region_browser_counts_stations_and_links_to_them(manager):
    make_station(VILLAGE, "active")
    make_station("520204106202", "proposed")
    c = client_for(manager)
    r = c.get(reverse("network:region", args=["520204"]))
    assert r.status_code == 200
    assert "服务站" in r.text
    row = re.search(r"<tr>\s*<td><code>520204106</code>.*?</tr>", r.text, re.S).group(0)
    assert '<td class="num">2</td>' in row
    assert "/network/stations/?region=520204106" in row
    r = c.get(reverse("network:region", args=["520203"]))
    assert r.status_code == 404


def test_map_draws_outlines_and_stations(manager):
    RegionAlias.objects.create(code="520221", name="水城县", region_id="520204", valid_until=2020)
    Region.objects.filter(code="520204106").update(
        longitude=105.051313, latitude=26.526293, coord_source="real"
    )
    depot = make_station("520204106", "active")
    village = make_station(VILLAGE, "active")
    c = client_for(manager)
    r = c.get(reverse("network:map"), {"region": "520204"})
    assert r.status_code == 200
    svg = re.search(r"<svg class=\"map\".*?</svg>", r.text, re.S).group(0)
    assert svg.count("<path ") == 1  # 水城区 lies in the former 水城县 outline
    assert "水城区（原水城县）" in svg
    assert svg.count("<circle") == 2
    # the depot is on a real point (filled), the village synthetic (hollow)
    assert re.search(r'r="5.0" stroke="#0b57d0" fill="#0b57d0"', svg)
    assert re.search(r'r="3.5" stroke="#1a7f37" fill="#ffffff"', svg)
    assert f"/network/stations/{depot.pk}/" in svg and f"/network/stations/{village.pk}/" in svg
    assert "合成坐标" in r.text  # legend
    # default region is the manager's county; another county is 404
    assert '<svg class="map"' in c.get(reverse("network:map")).text
    assert c.get(reverse("network:map"), {"region": "520203"}).status_code == 404


def test_map_of_the_prefecture_draws_each_outline_once(regions, make_user):
    admin = make_user(Role.NETWORK_ADMIN)
    r = client_for(admin).get(reverse("network:map"), {"region": "5202"})
    svg = re.search(r"<svg class=\"map\".*?</svg>", r.text, re.S).group(0)
    assert svg.count("<path ") == 4  # 520201, 520203, 520221, 520222
    vb = re.search(r'viewBox="0 0 800 ([\d.]+)"', svg)
    assert vb and 400 < float(vb.group(1)) < 1200


def test_home_panels_per_role(regions, make_user):
    station = make_station(VILLAGE, "active")
    make_station("520204106", "under_review")
    manager = make_user(Role.COUNTY_MANAGER, regions=["520204"])
    r = client_for(manager).get(reverse("accounts:home"))
    assert "服务站网络" in r.text and "待审核申请" in r.text
    assert reverse("network:station_apply") in r.text
    op = make_user(Role.STATION_OPERATOR, stations=[station.pk])
    r = client_for(op).get(reverse("accounts:home"))
    assert station.name in r.text and "08:00–20:00" in r.text
    driver = make_user(Role.DRIVER, regions=["520204"])
    r = client_for(driver).get(reverse("accounts:home"))
    assert "我负责区域的服务站" in r.text
    admin = make_user(Role.NETWORK_ADMIN)
    r = client_for(admin).get(reverse("accounts:home"))
    assert "全国服务站网络" in r.text


def test_region_browser_totals_add_up_with_the_units_own_stations(manager):
    make_station("520204106", "active")  # the township's depot, on the unit itself
    make_station(VILLAGE, "active")
    make_station("520204106202", "active")
    page = client_for(manager).get(reverse("network:region", args=["520204106"])).text
    own = re.search(r'<tr class="own-level">.*?</tr>', page, re.S).group(0)
    assert "本级" in own and '<td class="num">1</td>' in own
    body = page.split("<tbody>")[1].split("</tbody>")[0]
    station_col = [
        int(m)
        for m in re.findall(
            r'<tr[^>]*>\s*<td><code>\d+</code>.*?<td class="num">(\d+)</td>', body, re.S
        )
    ]
    total = int(re.search(r'<tfoot>.*?<th class="num">(\d+)</th>', page, re.S).group(1))
    assert total == 3
    assert sum(station_col) == total


def test_apply_form_defaults_to_a_village_station_or_the_kind_of_the_linked_region(manager):
    c = client_for(manager)
    blank = c.get(reverse("network:station_apply")).text
    assert re.search(r'<option value="village_station" selected>', blank)
    township = c.get(reverse("network:station_apply") + "?region=520204106").text
    assert re.search(r'<option value="township_depot" selected>', township)
    assert 'value="520204106"' in township


def test_opening_days_read_as_a_person_would_say_them():
    from cunzhan.network.forms import open_days_label

    assert open_days_label("1234567") == "每天"
    assert open_days_label("135") == "周一、周三、周五"
    assert open_days_label("12345") == "周一、周二、周三、周四、周五"
