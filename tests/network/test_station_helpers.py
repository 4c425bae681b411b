"""Helpers (淘帮手) of a station: services, API and the station page."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from tests.factories.stations import make_station

from cunzhan.accounts.roles import Role
from cunzhan.core.errors import ApplicationError, NotFound, PermissionDenied
from cunzhan.core.models import AuditEvent
from cunzhan.core.scope import RegionScope
from cunzhan.network.models import StationHelper, StationStatus
from cunzhan.network.selectors import station_helpers
from cunzhan.network.services import station_helper_add, station_helper_end

pytestmark = pytest.mark.django_db

VILLAGE = "520204106201"
VILLAGE_2 = "520204106202"
OTHER_COUNTY_VILLAGE = "520203101201"
BASE = "/api/v1/network/stations"
NATIONAL = RegionScope.national()
IN_TWO_DAYS = dt.date.today() + dt.timedelta(days=2)


def today() -> dt.date:
    return timezone.localdate()


def days_ago(n: int) -> dt.date:
    return today() - dt.timedelta(days=n)


@pytest.fixture
def station(regions):
    return make_station(VILLAGE, StationStatus.ACTIVE)


@pytest.fixture
def manager(regions, make_user):
    return make_user(Role.COUNTY_MANAGER, regions=["520204"])


def add(station, **over):
    kwargs = {
        "scope": NATIONAL,
        "station": station,
        "name": "李帮手",
        "phone": "13900001111",
        "started_on": days_ago(30),
        "actor": None,
    }
    kwargs.update(over)
    return station_helper_add(**kwargs)


# --- services ---------------------------------------------------------------------------------


def test_add_and_end_are_audited(station, manager):
    scope = RegionScope.for_regions(["520204"])
    helper = add(station, scope=scope, name="  李帮手 ", phone="139 0000 1111", actor=manager)
    assert (helper.name, helper.phone, helper.ended_on) == ("李帮手", "13900001111", None)
    created = AuditEvent.objects.get(object_type="network.StationHelper", action="create")
    assert created.object_id == str(helper.pk) and created.actor == manager
    assert created.region_code == VILLAGE and created.after["name"] == "李帮手"

    ended = station_helper_end(scope=scope, helper=helper, ended_on=days_ago(1), actor=manager)
    assert ended.ended_on == days_ago(1)
    update = AuditEvent.objects.get(object_type="network.StationHelper", action="update")
    assert update.before == {"ended_on": None}
    assert update.after == {"ended_on": days_ago(1).isoformat()}


@pytest.mark.parametrize(
    ("over", "code", "field"),
    [
        ({"name": "  "}, "name_required", "name"),
        ({"name": "李" * 41}, "name_too_long", "name"),
        ({"phone": "12345"}, "invalid_phone", "phone"),
        ({"phone": "1390000111x"}, "invalid_phone", "phone"),
        ({"started_on": IN_TWO_DAYS}, "started_on_in_future", "started_on"),
    ],
)
def test_add_refuses_bad_input_naming_the_field(station, over, code, field):
    with pytest.raises(ApplicationError) as exc:
        add(station, **over)
    assert exc.value.code == code
    assert exc.value.details["field"] == field
    assert not StationHelper.objects.exists()
    assert not AuditEvent.objects.filter(object_type="network.StationHelper").exists()


def test_a_name_of_40_characters_and_no_phone_are_fine(station):
    helper = add(station, name="李" * 40, phone="")
    assert len(helper.name) == 40 and helper.phone == ""


@pytest.mark.parametrize("status", [StationStatus.SUSPENDED, StationStatus.CLOSED, "approved"])
def test_only_an_active_station_takes_on_helpers(regions, status):
    station = make_station(VILLAGE_2, status)
    with pytest.raises(ApplicationError) as exc:
        add(station)
    assert exc.value.code == "station_not_active"
    assert not StationHelper.objects.exists()


def test_end_refuses_before_start_in_the_future_and_twice(station):
    helper = add(station, started_on=days_ago(10))
    with pytest.raises(ApplicationError) as exc:
        station_helper_end(scope=NATIONAL, helper=helper, ended_on=days_ago(11))
    assert (exc.value.code, exc.value.details["field"]) == ("ended_before_start", "ended_on")
    with pytest.raises(ApplicationError) as exc:
        station_helper_end(scope=NATIONAL, helper=helper, ended_on=today() + dt.timedelta(days=3))
    assert (exc.value.code, exc.value.details["field"]) == ("ended_on_in_future", "ended_on")
    station_helper_end(scope=NATIONAL, helper=helper, ended_on=days_ago(10))  # same day: fine
    with pytest.raises(ApplicationError) as exc:
        station_helper_end(scope=NATIONAL, helper=helper, ended_on=days_ago(2))
    assert exc.value.code == "helper_already_ended"
    helper.refresh_from_db()
    assert helper.ended_on == days_ago(10)
    assert AuditEvent.objects.filter(object_type="network.StationHelper").count() == 2


def test_outside_the_scope_is_not_found_and_a_driver_is_refused(station, make_user):
    helper = add(station)
    other_county = RegionScope.for_regions(["520203"])
    with pytest.raises(NotFound):
        add(station, scope=other_county)
    with pytest.raises(NotFound):
        station_helper_end(scope=other_county, helper=helper, ended_on=today())
    with pytest.raises(NotFound):
        station_helpers(scope=other_county, station=station)
    driver = make_user(Role.DRIVER, regions=["520204"])
    with pytest.raises(PermissionDenied):
        add(station, scope=RegionScope.for_regions(["520204"]), actor=driver)
    assert StationHelper.objects.count() == 1


def test_selector_active_on_a_day(station):
    a = add(station, name="甲", started_on=days_ago(20))
    b = add(station, name="乙", started_on=days_ago(20))
    c = add(station, name="丙", started_on=days_ago(2))
    station_helper_end(scope=NATIONAL, helper=b, ended_on=days_ago(5))

    def names(day):
        return {h.name for h in station_helpers(scope=NATIONAL, station=station, active_on=day)}

    assert names(today()) == {"甲", "丙"}
    assert names(days_ago(5)) == {"甲"}  # 乙's end day is no longer worked
    assert names(days_ago(6)) == {"甲", "乙"}
    # the whole list: working ones first, then those who ended
    assert [h.pk for h in station_helpers(scope=NATIONAL, station=station)] == [a.pk, c.pk, b.pk]


# --- API --------------------------------------------------------------------------------------


def test_api_list_add_end(station, manager, api_client):
    client = api_client(manager)
    r = client.post(
        f"{BASE}/{station.pk}/helpers",
        {"name": "王帮手", "phone": "0858-1234567", "started_on": days_ago(3).isoformat()},
        content_type="application/json",
    )
    assert r.status_code == 201, r.content
    hid = r.json()["id"]
    assert r.json()["active"] is True and r.json()["phone"] == "0858-1234567"

    r = client.post(
        f"{BASE}/{station.pk}/helpers",
        {"name": "", "started_on": days_ago(1).isoformat()},
        content_type="application/json",
    )
    # a blank name breaks the published schema (ADR 0032)
    assert r.status_code == 422
    assert r.json()["code"] == "validation_error"
    assert r.json()["details"]["errors"][0]["loc"][-1] == "name"
    r = client.post(
        f"{BASE}/{station.pk}/helpers",
        {"name": "王", "phone": "12345", "started_on": days_ago(1).isoformat()},
        content_type="application/json",
    )
    assert (r.status_code, r.json()["code"]) == (422, "validation_error")
    r = client.post(
        f"{BASE}/{station.pk}/helpers",
        {"name": "王", "started_on": (today() + dt.timedelta(days=1)).isoformat()},
        content_type="application/json",
    )
    assert (r.status_code, r.json()["code"]) == (422, "started_on_in_future")
    # a date is YYYY-MM-DD text, as published (pydantic alone took 0 for 1970-01-01)
    r = client.post(
        f"{BASE}/{station.pk}/helpers",
        {"name": "王", "started_on": 0},
        content_type="application/json",
    )
    assert (r.status_code, r.json()["code"]) == (422, "validation_error")
    r = client.post(
        f"{BASE}/{station.pk}/helpers/{hid}/end", {"ended_on": 0}, content_type="application/json"
    )
    assert (r.status_code, r.json()["code"]) == (422, "validation_error")

    r = client.post(f"{BASE}/{station.pk}/helpers/{hid}/end", {}, content_type="application/json")
    assert r.status_code == 200 and r.json()["ended_on"] == today().isoformat()
    assert r.json()["active"] is False
    r = client.post(f"{BASE}/{station.pk}/helpers/{hid}/end", {}, content_type="application/json")
    # the helper's state forbids it: a conflict (ADR 0032)
    assert r.status_code == 409 and r.json()["code"] == "helper_already_ended"

    body = client.get(f"{BASE}/{station.pk}/helpers").json()
    assert body["station_code"] == station.code
    assert [(h["name"], h["active"]) for h in body["helpers"]] == [("王帮手", False)]


def test_api_operator_of_another_station_and_other_county(station, regions, make_user, api_client):
    other = make_station(VILLAGE_2, StationStatus.ACTIVE)
    helper = add(other)
    own = api_client(make_user(Role.STATION_OPERATOR, stations=[station.pk]))
    body = {"name": "张三", "started_on": days_ago(1).isoformat()}
    # its own station: allowed
    r = own.post(f"{BASE}/{station.pk}/helpers", body, content_type="application/json")
    assert r.status_code == 201
    # another station of the same county: not found, nothing written
    r = own.post(f"{BASE}/{other.pk}/helpers", body, content_type="application/json")
    assert r.status_code == 404
    r = own.post(f"{BASE}/{other.pk}/helpers/{helper.pk}/end", {}, content_type="application/json")
    assert r.status_code == 404
    assert own.get(f"{BASE}/{other.pk}/helpers").status_code == 404
    # a helper of another station through one's own station's URL: not found
    r = own.post(
        f"{BASE}/{station.pk}/helpers/{helper.pk}/end", {}, content_type="application/json"
    )
    assert r.status_code == 404
    helper.refresh_from_db()
    assert helper.ended_on is None
    assert StationHelper.objects.filter(station=other).count() == 1

    out = make_station(OTHER_COUNTY_VILLAGE, StationStatus.ACTIVE)
    cm = api_client(make_user(Role.COUNTY_MANAGER, regions=["520204"]))
    assert cm.get(f"{BASE}/{out.pk}/helpers").status_code == 404
    r = cm.post(f"{BASE}/{out.pk}/helpers", body, content_type="application/json")
    assert r.status_code == 404
    driver = api_client(make_user(Role.DRIVER, regions=["520204"]))
    r = driver.post(f"{BASE}/{station.pk}/helpers", body, content_type="application/json")
    assert r.status_code == 403
    assert not StationHelper.objects.filter(station=out).exists()


# --- the station page -------------------------------------------------------------------------


def client_for(user) -> Client:
    c = Client()
    c.force_login(user)
    return c


def test_page_add_and_end_through_post(station, manager):
    client = client_for(manager)
    page = reverse("network:station", args=[station.pk])
    html = client.get(page).content.decode()
    assert 'id="station-helpers"' in html and 'id="helper-add-form"' in html

    r = client.post(
        reverse("network:station_helper_add", args=[station.pk]),
        {"name": "赵帮手", "phone": "13900002222", "started_on": days_ago(4).isoformat()},
    )
    assert r.status_code == 302 and r["Location"] == page
    helper = StationHelper.objects.get(station=station)
    html = client.get(page).content.decode()
    assert "赵帮手" in html and "13900002222" in html  # the phone as the page shows phones
    end_url = reverse("network:station_helper_end", args=[station.pk, helper.pk])
    assert end_url in html

    r = client.post(end_url, {"ended_on": days_ago(1).isoformat()})
    assert r.status_code == 302
    helper.refresh_from_db()
    assert helper.ended_on == days_ago(1)
    html = client.get(page).content.decode()
    assert end_url not in html  # no end button for a helper who ended


def test_page_errors_are_shown(station, manager):
    client = client_for(manager)
    r = client.post(
        reverse("network:station_helper_add", args=[station.pk]),
        {"name": "赵帮手", "phone": "123", "started_on": days_ago(4).isoformat()},
    )
    assert r.status_code == 400
    html = r.content.decode()
    assert "手机号码格式不正确" in html and 'value="赵帮手"' in html
    r = client.post(
        reverse("network:station_helper_add", args=[station.pk]),
        {"name": "", "started_on": days_ago(4).isoformat()},
    )
    assert r.status_code == 400 and "请填写淘帮手的姓名" in r.content.decode()
    assert not StationHelper.objects.exists()

    helper = add(station, started_on=days_ago(3))
    end_url = reverse("network:station_helper_end", args=[station.pk, helper.pk])
    r = client.post(end_url, {"ended_on": days_ago(5).isoformat()})
    assert r.status_code == 400
    assert 'id="helper-end-error"' in r.content.decode()
    assert "不能早于开始日期" in r.content.decode()
    helper.refresh_from_db()
    assert helper.ended_on is None


def test_page_forms_only_for_editors_and_active_stations(station, regions, make_user):
    add(station)
    driver = client_for(make_user(Role.DRIVER, regions=["520204"]))
    html = driver.get(reverse("network:station", args=[station.pk])).content.decode()
    assert "李帮手" in html and 'id="helper-add-form"' not in html and "/end/" not in html
    r = driver.post(
        reverse("network:station_helper_add", args=[station.pk]),
        {"name": "x", "started_on": days_ago(1).isoformat()},
    )
    assert r.status_code == 403
    suspended = make_station(VILLAGE_2, StationStatus.SUSPENDED)
    cm = client_for(make_user(Role.COUNTY_MANAGER, regions=["520204"]))
    html = cm.get(reverse("network:station", args=[suspended.pk])).content.decode()
    assert 'id="helper-add-form"' not in html
    r = cm.post(
        reverse("network:station_helper_add", args=[suspended.pk]),
        {"name": "x", "started_on": days_ago(1).isoformat()},
    )
    assert r.status_code == 400 and "只有运营中的服务站可以登记淘帮手" in r.content.decode()
