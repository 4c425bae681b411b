"""Editing a station's details: who may change what, validation, real points, audit."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client
from django.urls import reverse
from tests.factories.stations import make_station

from cunzhan.accounts.roles import Role
from cunzhan.core.errors import ApplicationError, NotFound, PermissionDenied
from cunzhan.core.models import AuditEvent
from cunzhan.network.models import Region
from cunzhan.network.services import station_update

pytestmark = pytest.mark.django_db

VILLAGE = "520204106201"


@pytest.fixture
def station(regions):
    # a real point for 水城区's seat, so the distance rule applies where no fence is used
    Region.objects.filter(code="520204").update(longitude=104.95783, latitude=26.547904)
    return make_station(VILLAGE, "active")


@pytest.fixture
def operator(station, make_user):
    return make_user(Role.STATION_OPERATOR, stations=[station.pk])


def test_operator_changes_hours_days_services_and_phone_of_their_station(station, operator):
    updated = station_update(
        station=station,
        actor=operator,
        opens_at=dt.time(7, 30),
        closes_at=dt.time(21, 0),
        open_days="12345",
        capabilities=["parcels", "bill_payment"],
        phone="13912345678",
    )
    assert (updated.opens_at, updated.closes_at) == (dt.time(7, 30), dt.time(21, 0))
    assert updated.open_days == "12345"
    assert updated.capabilities == ["parcels", "bill_payment"]
    event = AuditEvent.objects.filter(object_type="network.Station", action="update").get()
    assert event.actor_name == operator.username
    assert event.before["open_days"] == "1234567" and event.after["open_days"] == "12345"
    assert "name" not in event.after  # only what changed


def test_operator_cannot_rename_nor_touch_another_station(station, operator, regions):
    with pytest.raises(PermissionDenied):
        station_update(station=station, actor=operator, name="新名字")
    other = make_station("520204106202", "active")
    with pytest.raises(NotFound):
        station_update(station=other, actor=operator, address="x")


def test_county_manager_renames_and_a_driver_cannot_edit(station, make_user):
    manager = make_user(Role.COUNTY_MANAGER, regions=["520204"])
    assert (
        station_update(station=station, actor=manager, name="海坪村服务站").name == "海坪村服务站"
    )
    driver = make_user(Role.DRIVER, regions=["520204"])
    with pytest.raises(PermissionDenied):
        station_update(station=station, actor=driver, address="x")


def test_invalid_details_are_refused_and_nothing_changes(station, operator):
    cases = [
        ({"opens_at": dt.time(20, 0), "closes_at": dt.time(8, 0)}, "closes_at"),
        ({"closes_at": dt.time(7, 0)}, "closes_at"),  # before the stored opening time
        ({"open_days": "089"}, "open_days"),
        ({"capabilities": ["teleport"]}, "capabilities"),
        ({"phone": "12345"}, "phone"),
        ({"longitude": 104.9}, "latitude"),
        ({"longitude": 0.0, "latitude": 0.0}, "longitude"),
    ]
    for kwargs, field in cases:
        with pytest.raises(ApplicationError) as exc:
            station_update(station=station, actor=operator, **kwargs)
        assert exc.value.details["field"] == field, kwargs
    station.refresh_from_db()
    assert station.opens_at == dt.time(8, 0) and station.open_days == "1234567"
    assert not AuditEvent.objects.filter(action="update").exists()


def test_a_surveyed_point_must_lie_in_the_county_and_becomes_real(station, operator):
    assert station.coord_synthetic
    with pytest.raises(ApplicationError) as exc:
        station_update(station=station, actor=operator, longitude=106.7, latitude=26.6)  # 贵阳
    assert exc.value.code == "location_outside_county"
    updated = station_update(station=station, actor=operator, longitude=104.85, latitude=26.45)
    assert (updated.longitude, updated.latitude, updated.coord_synthetic) == (104.85, 26.45, False)


def test_a_closed_station_cannot_be_edited(regions, make_user):
    closed = make_station(VILLAGE, "closed")
    manager = make_user(Role.COUNTY_MANAGER, regions=["520204"])
    with pytest.raises(ApplicationError) as exc:
        station_update(station=closed, actor=manager, address="x")
    assert exc.value.code == "station_closed"


def test_patch_api(station, operator, api_client):
    client = api_client(operator)
    url = f"/api/v1/network/stations/{station.pk}"
    ok = client.patch(
        url, {"opens_at": "09:00", "open_days": "67"}, content_type="application/json"
    )
    assert ok.status_code == 200
    assert ok.json()["opens_at"] == "09:00" and ok.json()["open_days"] == "67"
    bad = client.patch(url, {"name": "改名"}, content_type="application/json")
    assert bad.status_code == 403 and bad.json()["code"] == "permission_denied"
    # closing before opening: two values that must agree, 422 naming the field
    bad = client.patch(url, {"closes_at": "06:00"}, content_type="application/json")
    assert bad.status_code == 422
    assert bad.json()["details"]["field"] == "closes_at"
    # one value alone: in the published schema (ADR 0032)
    for body in (
        {"open_days": "0"},
        {"opens_at": "00:00:00Z"},
        {"opens_at": 0},
        {"capabilities": ["teleport"]},
        {"phone": "call me"},
        {"name": "  "},
    ):
        bad = client.patch(url, body, content_type="application/json")
        assert (bad.status_code, bad.json()["code"]) == (422, "validation_error"), body
    assert client.patch(url, {"phone": ""}, content_type="application/json").status_code == 200


def test_edit_page_saves_and_shows_errors_on_their_fields(station, operator):
    client = Client()
    client.force_login(operator)
    detail = client.get(reverse("network:station", args=[station.pk])).text
    assert reverse("network:station_edit", args=[station.pk]) in detail
    url = reverse("network:station_edit", args=[station.pk])
    page = client.get(url).text
    assert 'name="name"' in page and "disabled" in page.split('name="name"')[1].split(">")[0]
    form = {
        "capabilities": ["parcels"],
        "opens_at": "09:00",
        "closes_at": "08:00",
        "open_days": ["1", "2"],
    }
    bad = client.post(url, form)
    assert bad.status_code == 400
    assert "关门时间须晚于开门时间" in bad.text
    form["closes_at"] = "18:00"
    ok = client.post(url, form)
    assert ok.status_code == 302
    station.refresh_from_db()
    assert station.closes_at == dt.time(18, 0) and station.open_days == "12"
    assert station.name == "服务站 520204106201"  # the disabled name field is ignored
