"""The parcel API: manifests, event batches, parcels, hand-out; scope and roles."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from cunzhan.accounts.roles import Role
from cunzhan.logistics import statemachine as sm
from cunzhan.logistics.models import Parcel, ScanEvent
from tests.logistics.conftest import row

T0 = dt.datetime(2026, 11, 2, 8, tzinfo=dt.UTC)


def post(client, url, body):
    return client.post(url, json.dumps(body), content_type="application/json")


def ev(tn, type_, minutes, station_code=""):
    return {
        "event_id": f"{tn}-{type_}-{minutes}",
        "carrier": "ZTO",
        "tracking_number": tn,
        "type": type_,
        "occurred_at": (T0 + dt.timedelta(minutes=minutes)).isoformat(),
        "station_code": station_code,
        "device": "pda-1",
    }


@pytest.fixture
def manager(make_user, regions):
    return make_user(Role.COUNTY_MANAGER, regions=["520204"])


def arrive(client, station, tn="ZT0000000000"):
    steps = [sm.RECEIVED_AT_COUNTY, sm.SORTED, sm.LOADED, sm.AT_STATION]
    body = [
        ev(tn, t, i + 1, station.code if t == sm.AT_STATION else "") for i, t in enumerate(steps)
    ]
    return post(client, "/api/v1/logistics/events", body)


def test_manifest_events_list_detail_and_pickup(station, manager, api_client):
    c = api_client(manager)
    r = post(c, "/api/v1/logistics/manifests", {"carrier": "ZTO", "rows": [row(0), row(1)]})
    assert r.status_code == 201, r.content
    assert r.json()["created"] == 2 and r.json()["unmatched"] == []
    r = post(c, "/api/v1/logistics/manifests", {"carrier": "ZTO", "rows": [row(0), row(1)]})
    assert r.status_code == 201 and r.json()["created"] == 0
    assert len(r.json()["duplicates"]) == 2

    r = arrive(c, station)
    assert r.status_code == 200, r.content
    assert r.json()["applied"] == 4 and r.json()["duplicate"] == 0
    again = arrive(c, station).json()
    assert again["duplicate"] == 4 and [e["status"] for e in again["events"]] == ["duplicate"] * 4

    r = c.get("/api/v1/logistics/parcels?state=at_station")
    assert r.status_code == 200 and r.json()["count"] == 1
    item = r.json()["items"][0]
    assert item["station_code"] == station.code and item["shelf_slot"] == "M-001"
    assert c.get("/api/v1/logistics/parcels?carrier=zto").json()["count"] == 2

    detail = c.get(f"/api/v1/logistics/parcels/{item['id']}").json()
    assert [e["type"] for e in detail["events"]][-1] == sm.AT_STATION
    code = detail["pickup_code"]
    r = post(c, f"/api/v1/logistics/stations/{station.pk}/pickup", {"code": code})
    assert r.status_code == 200, r.content
    assert r.json()["parcels"][0]["state"] == sm.PICKED_UP
    r = post(c, f"/api/v1/logistics/stations/{station.pk}/pickup", {"code": code})
    assert r.status_code == 404 and r.json()["code"] == "no_match"


def test_bad_manifest_row_is_named_and_nothing_written(station, manager, api_client):
    c = api_client(manager)
    r = post(
        c,
        "/api/v1/logistics/manifests",
        {"carrier": "ZTO", "rows": [row(0), row(1, phone="1234567890123456")]},
    )
    assert r.status_code == 422
    assert r.json()["details"]["errors"] == [{"row": 2, "field": "phone", "message": "7-15 digits"}]
    assert Parcel.objects.count() == 0


def test_malformed_and_oversized_batches(station, manager, api_client):
    c = api_client(manager)
    r = c.post("/api/v1/logistics/events", "{not json", content_type="application/json")
    assert r.status_code in (400, 422)
    r = post(c, "/api/v1/logistics/events", {"event_id": "x"})
    assert r.status_code == 422
    big = [ev("ZT1", "sorted", 1)] * 10_001
    r = post(c, "/api/v1/logistics/events", big)
    assert r.status_code == 422 and r.json()["code"] == "batch_too_large"
    r = post(c, "/api/v1/logistics/events", [ev("ZT0000009999", "sorted", 1)])
    assert r.status_code == 422 and "unknown parcel" in r.json()["message"]
    assert ScanEvent.objects.count() == 0


def test_scope_and_roles(station, manager, make_user, api_client):
    c = api_client(manager)
    post(c, "/api/v1/logistics/manifests", {"carrier": "ZTO", "rows": [row(0)]})
    pid = Parcel.objects.get().uuid
    outsider = api_client(make_user(Role.COUNTY_MANAGER, regions=["520203"]))
    assert outsider.get(f"/api/v1/logistics/parcels/{pid}").status_code == 404
    assert outsider.get("/api/v1/logistics/parcels").json()["count"] == 0
    r = post(outsider, "/api/v1/logistics/events", [ev("ZT0000000000", "received_at_county", 1)])
    assert r.status_code == 422
    officer = api_client(make_user(Role.REGISTRY_OFFICER, regions=["520204"]))
    assert officer.get("/api/v1/logistics/parcels").status_code == 403
    operator = api_client(make_user(Role.STATION_OPERATOR, stations=[station.pk]))
    assert operator.get(f"/api/v1/logistics/parcels/{pid}").status_code == 200
    r = post(operator, "/api/v1/logistics/manifests", {"carrier": "ZTO", "rows": [row(5)]})
    assert r.status_code == 403


def test_resend_code(station, manager, api_client):
    from cunzhan.logistics.models import SmsMessage

    c = api_client(manager)
    post(c, "/api/v1/logistics/manifests", {"carrier": "ZTO", "rows": [row(0), row(1)]})
    pid = Parcel.objects.get(tracking_number="ZT0000000001").uuid
    r = post(c, f"/api/v1/logistics/parcels/{pid}/resend-code", {})
    assert r.status_code == 409 and r.json()["code"] == "not_waiting"
    arrive(c, station, "ZT0000000001")
    assert SmsMessage.objects.count() == 1
    r = post(c, f"/api/v1/logistics/parcels/{pid}/resend-code", {})
    assert r.status_code == 200 and r.json() == {"sent": True}
    assert SmsMessage.objects.count() == 2


def test_drivers_and_operators_scan_only_their_event_types(station, manager, make_user, api_client):
    m = api_client(manager)
    post(m, "/api/v1/logistics/manifests", {"carrier": "ZTO", "rows": [row(0), row(1)]})
    assert arrive(m, station).status_code == 200  # parcel 0 waits at the station
    parcel = Parcel.objects.get(tracking_number="ZT0000000000")
    assert parcel.pickup_code
    before = ScanEvent.objects.count()
    driver = api_client(make_user(Role.DRIVER, regions=["520204"]))
    operator = api_client(make_user(Role.STATION_OPERATOR, stations=[station.pk]))
    # a hand-out skips the code check: never through the bulk endpoint (ADR 0028)
    for client in (driver, operator, m):
        r = post(client, "/api/v1/logistics/events", [ev("ZT0000000000", sm.PICKED_UP, 30)])
        assert r.status_code == 422 and r.json()["code"] == "pickup_proof_required"
    r = post(
        operator,
        "/api/v1/logistics/events",
        [ev("ZT0000000001", sm.RECEIVED_AT_COUNTY, 5), ev("ZT0000000001", sm.SORTED, 6)],
    )
    assert r.status_code == 403 and r.json()["code"] == "event_type_not_allowed"
    assert [e["row"] for e in r.json()["details"]["errors"]] == [1, 2]
    assert ScanEvent.objects.count() == before
    parcel.refresh_from_db()
    assert parcel.state == sm.AT_STATION
    # a driver does not mark parcels lost (the county centre does)
    r = post(driver, "/api/v1/logistics/events", [ev("ZT0000000001", sm.LOST, 7)])
    assert r.status_code == 403 and r.json()["code"] == "event_type_not_allowed"
    r = post(m, "/api/v1/logistics/events", [ev("ZT0000000001", sm.LOST, 7)])
    assert r.status_code == 200 and r.json()["applied"] == 1
    assert Parcel.objects.get(tracking_number="ZT0000000001").state == sm.LOST
    # the pickup code is the hand-out secret: drivers do not read it
    url = f"/api/v1/logistics/parcels/{parcel.uuid}"
    assert driver.get(url).json()["pickup_code"] == ""
    assert operator.get(url).json()["pickup_code"] == parcel.pickup_code
    assert m.get(url).json()["pickup_code"] == parcel.pickup_code
