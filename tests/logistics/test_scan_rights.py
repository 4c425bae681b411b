"""Who may record which scan event, checked in the service (ADR 0028): every role ×
every event type; ``picked_up`` needs its proof (the hand-out), never a bare scan; a
driver scans only the parcels on his own runs; a refused batch names its events and
writes nothing."""

from __future__ import annotations

import datetime as dt
import json
import uuid

import pytest

from cunzhan.accounts.roles import Role
from cunzhan.accounts.selectors import scope_for_user
from cunzhan.core.errors import ApplicationError
from cunzhan.logistics import services
from cunzhan.logistics import statemachine as sm
from cunzhan.logistics.models import Parcel, ScanEvent
from tests.factories.plans import NATIONAL, planned_day, sorted_parcels

COUNTY = "520204"
AT = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
CENTRE = set(sm.EVENT_TYPES) - {sm.PICKED_UP}

# the matrix of docs/adr/0028, written out here on purpose (not imported)
EXPECTED: dict[str, set[str]] = {
    Role.NETWORK_ADMIN: CENTRE,
    Role.COUNTY_MANAGER: CENTRE,
    Role.STATION_OPERATOR: {sm.AT_STATION, sm.REFUSED, sm.RETURN_DUE, sm.DAMAGED, sm.MISROUTED},
    Role.DRIVER: {sm.LOADED, sm.AT_STATION, sm.COLLECTED},
    Role.REGISTRY_OFFICER: set(),
    Role.AUDITOR: set(),
    "system": CENTRE,
}


@pytest.fixture
def planned(regions, make_user):
    return planned_day(make_user, COUNTY)


def _ev(p: Parcel, type_: str, station_code: str = "") -> dict:
    return {
        "event_id": f"r-{uuid.uuid4().hex[:12]}",
        "carrier": p.carrier.code,
        "tracking_number": p.tracking_number,
        "type": type_,
        "occurred_at": AT,
        "station_code": station_code,
    }


def _actor(role: str, planned, make_user):
    if role == "system":
        return None
    if role == Role.DRIVER:
        return planned["driver"]
    if role == Role.STATION_OPERATOR:
        return make_user(role, stations=[planned["a"].pk])
    return make_user(role, regions=[COUNTY])


@pytest.mark.parametrize("role", list(EXPECTED))
def test_every_role_records_only_the_event_types_of_its_work(role, planned, make_user):
    actor = _actor(role, planned, make_user)
    parcel = planned["drops"][0]  # on the driver's run, bound for the operator's station
    station = planned["a"].code
    for type_ in sm.EVENT_TYPES:
        before = ScanEvent.objects.count()
        event = _ev(parcel, type_, station if type_ == sm.AT_STATION else "")
        try:
            statuses = services.scan_events_record(scope=NATIONAL, events=[event], actor=actor)
        except ApplicationError as exc:
            assert type_ not in EXPECTED[role], (role, type_, exc.code)
            expected_code = (
                "pickup_proof_required" if type_ == sm.PICKED_UP else "event_type_not_allowed"
            )
            assert exc.code == expected_code, (role, type_)
            (err,) = exc.details["errors"]
            assert (err["row"], err["event_id"], err["type"]) == (1, event["event_id"], type_)
            assert ScanEvent.objects.count() == before  # nothing written
        else:
            assert type_ in EXPECTED[role], (role, type_)
            assert statuses[0]["status"] in ("applied", "illegal")


def test_a_driver_touches_only_the_parcels_of_his_own_runs(planned):
    driver = planned["driver"]
    mine = planned["drops"][0]
    (stranger,) = sorted_parcels(planned["a"], 1)  # sorted after the plan: on no run
    before = ScanEvent.objects.count()
    with pytest.raises(ApplicationError) as err:
        services.scan_events_record(
            scope=NATIONAL,
            events=[_ev(mine, sm.LOADED), _ev(stranger, sm.LOADED)],
            actor=driver,
        )
    assert err.value.code == "parcel_not_on_run"
    assert [e["row"] for e in err.value.details["errors"]] == [2]
    assert stranger.tracking_number in err.value.details["errors"][0]["message"]
    assert ScanEvent.objects.count() == before
    statuses = services.scan_events_record(
        scope=NATIONAL, events=[_ev(mine, sm.LOADED)], actor=driver
    )
    assert statuses[0]["status"] == "applied"


def test_an_operator_scans_only_at_his_own_station(planned, make_user):
    operator = make_user(Role.STATION_OPERATOR, stations=[planned["a"].pk])
    parcel = planned["drops"][0]
    with pytest.raises(ApplicationError) as err:
        services.scan_events_record(
            scope=scope_for_user(operator),
            events=[_ev(parcel, sm.AT_STATION, planned["b"].code)],
            actor=operator,
        )
    assert err.value.code == "invalid_batch"
    assert err.value.details["errors"][0]["field"] == "station_code"


def test_the_bulk_endpoint_refuses_pickups_without_proof_naming_them(
    planned, make_user, api_client
):
    manager = api_client(make_user(Role.COUNTY_MANAGER, regions=[COUNTY]))
    a, b = planned["drops"][:2]
    before = ScanEvent.objects.count()
    body = [
        _ev(a, sm.LOADED),
        _ev(a, sm.PICKED_UP),
        _ev(b, sm.LOADED),
        _ev(b, sm.PICKED_UP),
    ]
    r = manager.post(
        "/api/v1/logistics/events",
        json.dumps(body, default=str),
        content_type="application/json",
    )
    assert r.status_code == 422, r.content
    out = r.json()
    assert out["code"] == "pickup_proof_required"
    assert [(e["row"], e["event_id"]) for e in out["details"]["errors"]] == [
        (2, body[1]["event_id"]),
        (4, body[3]["event_id"]),
    ]
    assert ScanEvent.objects.count() == before  # atomic: the loads were not written either
    # NDJSON: the same check
    r = manager.post(
        "/api/v1/logistics/events",
        "\n".join(json.dumps(e, default=str) for e in body),
        content_type="application/x-ndjson",
    )
    assert r.status_code == 422 and r.json()["code"] == "pickup_proof_required"


def test_a_driver_cannot_mark_a_parcel_lost_through_the_api(planned, api_client):
    driver = api_client(planned["driver"])
    p = planned["drops"][0]
    body = [_ev(p, sm.LOADED), _ev(p, sm.LOST)]
    r = driver.post(
        "/api/v1/logistics/events", json.dumps(body, default=str), content_type="application/json"
    )
    assert r.status_code == 403, r.content
    assert r.json()["code"] == "event_type_not_allowed"
    assert [e["row"] for e in r.json()["details"]["errors"]] == [2]
    assert not ScanEvent.objects.filter(parcel=p, type__in=[sm.LOADED, sm.LOST]).exists()
    assert Parcel.objects.get(pk=p.pk).state == sm.SORTED
