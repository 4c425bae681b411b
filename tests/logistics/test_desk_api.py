"""The exceptions API (logistics/desk_api.py): list and resolve, roles and scope."""

from __future__ import annotations

import json

import pytest

from cunzhan.accounts.roles import Role
from cunzhan.core.models import AuditEvent
from cunzhan.core.scope import RegionScope
from cunzhan.logistics import services
from cunzhan.logistics.models import Parcel, ParcelException
from tests.logistics.conftest import BARE_VILLAGE, row

URL = "/api/v1/logistics/exceptions"


def post(client, url, body):
    return client.post(url, json.dumps(body), content_type="application/json")


@pytest.fixture
def unmatched(station):
    services.manifest_intake(
        scope=RegionScope.national(),
        carrier_code="ZTO",
        rows=[row(7, village_code=BARE_VILLAGE, recipient_name="王二")],
    )
    return ParcelException.objects.get(problem="unmatched")


def test_list_and_resolve_an_unmatched_parcel_with_a_station(
    unmatched, station, make_user, api_client
):
    manager = api_client(make_user(Role.COUNTY_MANAGER, regions=["520204"]))
    r = manager.get(URL)
    assert r.status_code == 200, r.content
    [item] = r.json()["items"]
    assert item["id"] == unmatched.pk and item["problem"] == "unmatched"
    assert item["recipient_name"] == "王二" and item["station_code"] is None
    assert manager.get(URL, {"problem": "illegal_transition"}).json()["count"] == 0
    assert manager.get(URL, {"county": "520203"}).json()["count"] == 0
    assert manager.get(URL, {"problem": "nope"}).status_code == 422
    for county in ("52a", "²", "５２０２", "5202٣"):  # digits, but not ASCII: no code
        r = manager.get(URL, {"county": county})
        assert r.status_code == 422 and r.json()["code"] == "validation_error", (county, r.content)

    resolve = f"{URL}/{unmatched.pk}/resolve"
    r = post(manager, resolve, {"note": "改派", "station_code": "NOPE"})
    assert r.status_code == 422 and r.json()["code"] == "invalid_station"
    r = post(manager, resolve, {"note": ""})
    assert r.status_code == 422
    unmatched.refresh_from_db()
    assert unmatched.status == "open"

    r = post(manager, resolve, {"note": "送邻村", "station_code": station.code})
    assert r.status_code == 200, r.content
    assert r.json()["status"] == "resolved" and r.json()["station_code"] == station.code
    assert Parcel.objects.get(tracking_number="ZT0000000007").station == station
    assert AuditEvent.objects.filter(object_type="logistics.ParcelException").count() == 1
    r = post(manager, resolve, {"note": "again"})
    assert r.status_code == 409 and r.json()["code"] == "already_resolved"
    assert manager.get(URL).json()["count"] == 0
    assert manager.get(URL, {"status": "resolved"}).json()["count"] == 1


def test_roles_and_scope(unmatched, make_user, api_client, station):
    auditor = api_client(make_user(Role.AUDITOR, regions=["520204"]))
    assert auditor.get(URL).json()["count"] == 1
    r = post(auditor, f"{URL}/{unmatched.pk}/resolve", {"note": "x"})
    assert r.status_code == 403
    operator = api_client(make_user(Role.STATION_OPERATOR, stations=[station.pk]))
    assert operator.get(URL).status_code == 403
    other = api_client(make_user(Role.COUNTY_MANAGER, regions=["520203"]))
    assert other.get(URL).json()["count"] == 0
    r = post(other, f"{URL}/{unmatched.pk}/resolve", {"note": "x"})
    assert r.status_code == 404
    r = post(other, f"{URL}/999999/resolve", {"note": "x"})
    assert r.status_code == 404
    unmatched.refresh_from_db()
    assert unmatched.status == "open"
