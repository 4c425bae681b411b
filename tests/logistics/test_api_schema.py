"""The logistics API and its published schema agree (ADR 0032): a value the schema
refuses is 422 ``validation_error``; a schema-valid request that breaks a rule the
schema cannot state is 422 with the rule's code; a refusal because of an object's state
is 409; responses match their schema."""

from __future__ import annotations

import json
import typing

import pytest

from cunzhan.accounts.roles import Role
from cunzhan.config.api import api
from cunzhan.logistics import schemas
from cunzhan.logistics import statemachine as sm
from cunzhan.logistics.models import ExceptionStatus, ParcelException, ShipmentState
from cunzhan.network.models import StationStatus
from tests.factories.plans import booked_shipment, county_centre, planned_day, van
from tests.factories.stations import make_station
from tests.logistics.conftest import VILLAGE, row

API = "/api/v1/logistics"
COUNTY = "520204"


def post(client, url, body, content_type="application/json"):
    return client.post(url, json.dumps(body), content_type=content_type)


def patch(client, url, body):
    return client.patch(url, json.dumps(body), content_type="application/json")


def put(client, url, body):
    return client.put(url, json.dumps(body), content_type="application/json")


def schema():
    return json.loads(json.dumps(api.get_openapi_schema()))


def refused(r, code="validation_error", status=422):
    assert r.status_code == status, r.content
    assert r.json()["code"] == code, r.content
    return r.json()


@pytest.fixture
def manager(make_user, regions, api_client):
    return api_client(make_user(Role.COUNTY_MANAGER, regions=[COUNTY]))


def test_the_published_enums_are_the_models_values():
    assert typing.get_args(schemas.ParcelState) == sm.STATES
    assert typing.get_args(schemas.ScanType) == sm.EVENT_TYPES
    paths = schema()["paths"]

    def enum(path, name):
        params = paths[f"{API}{path}"]["get"]["parameters"]
        return next(p for p in params if p["name"] == name)["schema"]["enum"]

    assert enum("/shipments", "state") == ["", *ShipmentState.values]
    assert enum("/exceptions", "status") == ["", *ExceptionStatus.values]
    assert enum("/exceptions", "problem") == ["", *ParcelException.Problem.values]


def test_a_parcels_exceptions_and_the_queues_exceptions_are_two_schemas(station, manager):
    """Two classes named ExceptionOut were one component: the parcel detail's
    exceptions were checked against the queue's (created_at ... required)."""
    components = schema()["components"]["schemas"]
    detail = components["ParcelDetailOut"]["properties"]["exceptions"]["items"]["$ref"]
    assert detail == "#/components/schemas/ParcelExceptionOut"
    assert "created_at" in components["ExceptionOut"]["required"]
    assert "created_at" not in components["ParcelExceptionOut"]["required"]
    run = components["RunPickupOut"]["required"]
    assert run == ["shipments", "returns", "illegal"]
    assert components["PickupOut"]["required"] == ["parcels"]


@pytest.mark.parametrize(
    ("path", "query"),
    [
        ("/parcels", {"state": "shipped"}),
        ("/parcels", {"village": "Dv"}),
        ("/exceptions", {"problem": "lost"}),
        ("/exceptions", {"status": "visited"}),
        ("/exceptions", {"county": "52x"}),
        ("/shipments", {"state": "at_station"}),
        ("/fees", {"month": "2026-13"}),
        ("/plans", {"date": "0"}),
        ("/plans", {"county": "abc"}),
        ("/vehicles", {"county": "52x"}),
        ("/epcis", {"village": "x"}),
        ("/epcis", {"limit": "0"}),
        ("/epcis", {"since": "0"}),
    ],
)
def test_filters_outside_the_schema_are_422(station, manager, path, query):
    refused(manager.get(f"{API}{path}", query))


def test_epcis_export_is_documented_as_json_ld(station, manager):
    doc = schema()["paths"][f"{API}/epcis"]["get"]["responses"]["200"]
    assert list(doc["content"]) == ["application/ld+json"]
    r = manager.get(f"{API}/epcis")
    assert r.status_code == 200
    assert r["Content-Type"].startswith("application/ld+json")


def test_an_epcis_document_that_breaks_the_mapping_is_422(station, manager):
    doc = {
        "@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"],
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "epcisBody": {"eventList": [{"type": "AggregationEvent"}]},
    }
    refused(post(manager, f"{API}/events", doc, "application/ld+json"), "invalid_epcis")


def test_manifest_rules_outside_the_schema_are_422(station, manager):
    refused(post(manager, f"{API}/manifests", {"carrier": "", "rows": [row(0)]}))
    refused(post(manager, f"{API}/manifests", {"carrier": "ZTO", "rows": []}))
    refused(
        post(manager, f"{API}/manifests", {"carrier": "NOPE", "rows": [row(0)]}),
        "unknown_carrier",
    )
    refused(
        post(
            manager,
            f"{API}/manifests",
            {"carrier": "ZTO", "rows": [row(0, village_code="520204106299")]},
        ),
        "invalid_manifest",
    )
    r = manager.post(
        f"{API}/manifests/csv",
        {"carrier": "ZTO", "file": _file(b"\x89PNG\r\n\x1a\n\x00\x00")},
    )
    refused(r, "invalid_csv")


def _file(data: bytes):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile("m.csv", data, content_type="text/csv")


def test_resending_the_code_of_a_parcel_not_waiting_is_409(station, manager):
    r = post(manager, f"{API}/manifests", {"carrier": "ZTO", "rows": [row(0)]})
    pid = r.json()["parcels"][0]
    refused(manager.post(f"{API}/parcels/{pid}/resend-code"), "not_waiting", 409)


def test_pickup_needs_the_code_or_phone_and_name(station, manager):
    url = f"{API}/stations/{station.pk}/pickup"
    refused(post(manager, url, {"code": "", "phone_last4": "", "name": ""}), "invalid_code")
    refused(post(manager, url, {"phone_last4": "1234"}), "invalid_code")
    refused(post(manager, url, {"code": "12"}))


def test_exception_rules_and_state(station, manager, regions):
    bare = post(
        manager,
        f"{API}/manifests",
        {"carrier": "ZTO", "rows": [row(0), row(1, village_code="520204106202")]},
    )
    assert bare.status_code == 201, bare.content
    x = ParcelException.objects.get()
    url = f"{API}/exceptions/{x.pk}/resolve"
    refused(post(manager, url, {"note": " "}))
    refused(post(manager, url, {"note": "ok", "station_code": "NOPE"}), "invalid_station")
    x.problem = ParcelException.Problem.ILLEGAL_TRANSITION
    x.save()
    refused(post(manager, url, {"note": "ok", "station_code": station.code}), "invalid_station")
    assert post(manager, url, {"note": "ok"}).status_code == 200
    refused(post(manager, url, {"note": "again"}), "already_resolved", 409)


def test_vehicle_times_are_hh_mm_in_and_out(regions, manager):
    county_centre(COUNTY)
    body = {"county_code": COUNTY, "name": "车A", "capacity_kg": 900, "capacity_pieces": 90}
    r = post(manager, f"{API}/vehicles", body)
    assert r.status_code == 201, r.content
    assert (r.json()["shift_start"], r.json()["shift_end"]) == ("07:30", "18:30")
    published = schema()["components"]["schemas"]["VehicleOut"]["properties"]["shift_start"]
    assert "format" not in published and published["pattern"]
    url = f"{API}/vehicles/{r.json()['id']}"
    # a time zone on a shift gave a 500 (an aware time compared with a naive one)
    refused(patch(manager, url, {"shift_start": "07:30+08:00"}))
    refused(patch(manager, url, {"shift_start": "19:00"}), "invalid_vehicle")
    assert patch(manager, url, {"shift_start": "06:45"}).json()["shift_start"] == "06:45"


def test_vehicle_values_and_rules(regions, manager):
    county_centre(COUNTY)
    body = {"county_code": COUNTY, "name": "车A", "capacity_kg": 0, "capacity_pieces": 90}
    refused(post(manager, f"{API}/vehicles", body))
    refused(post(manager, f"{API}/vehicles", {**body, "capacity_kg": True}))
    refused(post(manager, f"{API}/vehicles", {**body, "capacity_kg": "900"}))
    other = make_station(VILLAGE, StationStatus.ACTIVE)
    refused(
        post(manager, f"{API}/vehicles", {**body, "capacity_kg": 900, "depot_id": other.pk}),
        "invalid_depot",
    )
    ok = post(manager, f"{API}/vehicles", {**body, "capacity_kg": 900})
    assert ok.status_code == 201
    refused(
        post(manager, f"{API}/vehicles", {**body, "capacity_kg": 900}), "duplicate_vehicle", 409
    )
    refused(patch(manager, f"{API}/vehicles/{ok.json()['id']}", {"name": ""}))


def test_a_plan_date_the_platform_cannot_mean_is_422(regions, manager):
    van(COUNTY)
    r = post(
        manager, f"{API}/plans", {"county_code": COUNTY, "date": "0604-12-26", "time_limit": 1}
    )
    refused(r)
    r = post(manager, f"{API}/plans", {"county_code": COUNTY, "date": 0, "time_limit": 1})
    refused(r)


def test_a_run_refused_for_its_state_is_409(regions, make_user, api_client):
    day = planned_day(make_user)
    driver = api_client(day["driver"])
    route = day["route"]
    r = post(driver, f"{API}/routes/{route.pk}/start", {"odometer_km": True})
    refused(r)
    r = post(driver, f"{API}/routes/{route.pk}/start", {})
    assert r.status_code == 201, r.content
    run = r.json()["id"]
    refused(post(driver, f"{API}/routes/{route.pk}/start", {}), "run_started", 409)
    refused(post(driver, f"{API}/runs/{run}/load", {"tracking_numbers": ["NOPE1"]}), "not_on_route")
    assert post(driver, f"{API}/runs/{run}/finish", {}).status_code == 200
    refused(post(driver, f"{API}/runs/{run}/load", {}), "run_finished", 409)
    refused(post(driver, f"{API}/runs/{run}/finish", {}), "run_finished", 409)
    stop = day["stop_a"].pk
    refused(driver.post(f"{API}/runs/{run}/stops/{stop}/arrive"), "run_finished", 409)


def test_shipment_rules_and_states(regions, manager):
    station = make_station(VILLAGE, StationStatus.ACTIVE)
    body = {
        "station_id": station.pk,
        "producer_name": "王五",
        "contents": "猕猴桃",
        "pieces": 2,
        "weight_g": 12000,
        "destination": "贵阳",
    }
    refused(post(manager, f"{API}/shipments", {**body, "pieces": 0}))
    refused(post(manager, f"{API}/shipments", {**body, "producer_name": ""}))
    refused(
        post(manager, f"{API}/shipments", {**body, "outbound_carrier": "NOPE"}), "unknown_carrier"
    )
    s = booked_shipment(station)
    url = f"{API}/shipments/{s.uuid}"
    refused(post(manager, f"{url}/hand-over", {"carrier": "ZTO", "tracking_number": "0" * 59}))
    refused(
        post(manager, f"{url}/hand-over", {"carrier": "ZTO", "tracking_number": "ZT12345"}),
        "wrong_state",
        409,
    )
    assert manager.post(f"{url}/cancel").status_code == 200
    refused(manager.post(f"{url}/collect"), "wrong_state", 409)
    type(station).objects.filter(pk=station.pk).update(status=StationStatus.SUSPENDED)
    refused(post(manager, f"{API}/shipments", body), "station_inactive", 409)


def test_county_settings_values_and_rules(regions, manager):
    url = f"{API}/settings/{COUNTY}"
    refused(put(manager, url, {"fee_up_fen": 100_001}))
    refused(put(manager, url, {"cutoff": "07:00+08:00"}))
    refused(put(manager, f"{API}/settings/52x", {}))
    refused(put(manager, url, {"reminder_days": 10, "return_days": 5}), "invalid_settings")
    r = put(manager, url, {"cutoff": "06:30", "fee_up_fen": 50})
    assert r.status_code == 200 and r.json()["cutoff"] == "06:30"


def test_plan_builds_are_bounded_by_the_setting(settings):
    from cunzhan.logistics.plan_api import PlanIn

    limit = PlanIn.model_json_schema()["properties"]["time_limit"]
    assert limit["maximum"] <= settings.CUNZHAN_PLAN_MAX_TIME_LIMIT_S
