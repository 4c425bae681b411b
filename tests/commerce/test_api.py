"""The commerce API: producers, lots, grading, prices, and the public trace endpoints
(no token, no personal data, EPCIS 2.0 structure)."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.test import Client

from cunzhan.accounts.roles import Role
from cunzhan.commerce import services
from cunzhan.commerce.models import Lot
from cunzhan.logistics import shipments as logistics_shipments
from tests.factories.commerce import KIWI_REJECTED, KIWI_SPECIAL, NATIONAL, make_lot, make_producer

API = "/api/v1/commerce"


@pytest.fixture
def operator(make_user, station):
    return make_user(Role.STATION_OPERATOR, stations=[station.pk])


@pytest.fixture
def client(api_client, operator):
    return api_client(operator)


def post(client, url, body):
    return client.post(url, json.dumps(body, default=str), content_type="application/json")


def test_register_record_grade_through_the_api(client, station, catalogue):
    r = post(
        client,
        f"{API}/producers",
        {"station_id": station.pk, "kind": "person", "name": "王小二", "phone": "13812345678"},
    )
    assert r.status_code == 201, r.content
    producer = r.json()
    assert producer["phone_masked"] == "138****5678"
    r = post(
        client,
        f"{API}/lots",
        {
            "producer": producer["id"],
            "product": "kiwifruit-red",
            "harvest_date": str(dt.date.today()),
            "quantity": 300,
        },
    )
    assert r.status_code == 201, r.content
    lot = r.json()
    assert lot["status"] == "harvested" and lot["quantity_available"] == 300
    assert lot["trace_url"] == f"/t/{lot['code']}/"
    r = post(client, f"{API}/lots/{lot['id']}/grade", {"samples": KIWI_SPECIAL})
    assert r.status_code == 200, r.content
    body = r.json()
    assert body["grade"] == "special" and body["grade_name"] == "特级"
    assert body["rejected"] is False and body["values"]["brix:mean"] == "15.5"
    r = client.get(f"{API}/lots", {"status": "graded"})
    assert [x["code"] for x in r.json()["items"]] == [lot["code"]]


def test_rejection_lists_the_failing_criteria(client, producer, kiwi):
    lot = make_lot(producer, kiwi)
    r = post(client, f"{API}/lots/{lot.uuid}/grade", {"samples": KIWI_REJECTED})
    assert r.status_code == 200
    body = r.json()
    assert body["rejected"] is True and body["grade"] is None
    last = body["failures"][-1]
    assert last["grade"] == "second"
    assert {c["quantity"]: (c["measured"], c["min"], c["max"]) for c in last["failed"]} == {
        "weight_g": ("55", "60", None),
        "brix": ("11.5", "12", None),
        "defect_pct": ("12", None, "10"),
    }


@pytest.mark.parametrize(
    "samples, code",
    [
        ([{"weight_g": 100, "brix": 50, "defect_pct": 1}], "out_of_physical_range"),
        ([{"weight_g": -1, "brix": 15, "defect_pct": 1}], "out_of_physical_range"),
        ([{"weight_g": 100, "brix": 15, "defect_pct": 120}], "out_of_physical_range"),
        ([{"weight_g": 100, "brix": 15}], "missing_measurement"),
        # rules of one value alone are in the schema
        ([], "validation_error"),
        ([{"weight_g": 100, "brix": 15, "defect_pct": 1, "colour": 3}], "validation_error"),
    ],
)
def test_bad_measurements_are_422_and_write_nothing(client, producer, kiwi, samples, code):
    lot = make_lot(producer, kiwi)
    r = post(client, f"{API}/lots/{lot.uuid}/grade", {"samples": samples})
    assert r.status_code == 422, r.content
    assert r.json()["code"] == code
    lot.refresh_from_db()
    assert lot.status == "harvested" and not lot.gradings.exists()


@pytest.mark.parametrize("quantity", [0, -3])
def test_zero_or_negative_quantity_is_422(client, producer, catalogue, quantity):
    r = post(
        client,
        f"{API}/lots",
        {
            "producer": str(producer.uuid),
            "product": "potato",
            "harvest_date": str(dt.date.today()),
            "quantity": quantity,
        },
    )
    assert r.status_code == 422
    assert r.json()["code"] == "validation_error"
    assert [e["loc"] for e in r.json()["details"]["errors"]] == [["body", "payload", "quantity"]]
    assert not Lot.objects.exists()


def test_products_list_the_standards(client, catalogue):
    r = client.get(f"{API}/products")
    assert r.status_code == 200
    kiwi = next(p for p in r.json() if p["code"] == "kiwifruit-red")
    assert [g["name"] for g in kiwi["standard"]["grades"]] == ["特级", "一级", "二级"]
    brix = next(c for c in kiwi["standard"]["grades"][0]["criteria"] if c["quantity"] == "brix")
    assert brix["aggregation"] == "mean" and brix["unit"] == "°Brix"


def test_prices_set_by_the_county_manager_and_read_by_the_channels(
    api_client, make_user, client, kiwi
):
    manager = make_user(Role.COUNTY_MANAGER, regions=["520204"])
    mc = api_client(manager)
    grade = kiwi.standards.get(active=True).grades.get(code="first")
    r = post(mc, f"{API}/prices", {"grade_id": grade.pk, "county_code": "520204", "price_fen": 980})
    assert r.status_code == 201, r.content
    assert r.json()["currency"] == "CNY" and r.json()["unit"] == "kg"
    # the operator cannot set prices but reads them
    r = post(
        client, f"{API}/prices", {"grade_id": grade.pk, "county_code": "520204", "price_fen": 1}
    )
    assert r.status_code == 403
    r = client.get(f"{API}/prices", {"product": "kiwifruit-red"})
    assert [(p["grade"], p["price_fen"]) for p in r.json()] == [("first", 980)]
    # another county: not found
    r = post(mc, f"{API}/prices", {"grade_id": grade.pk, "county_code": "520203", "price_fen": 9})
    assert r.status_code == 404


def test_a_driver_has_no_commerce_access(api_client, make_user, catalogue, regions):
    driver = make_user(Role.DRIVER, regions=["520204"])
    assert api_client(driver).get(f"{API}/lots").status_code == 403


# --- public trace ---------------------------------------------------------------------------------


def _shipped_lot(station, catalogue, *, kind="person", name="张大山"):
    producer = make_producer(station, kind=kind, name=name, phone="13912345678")
    lot = make_lot(producer, catalogue["kiwifruit-red"])
    services.lot_grade(scope=NATIONAL, lot=lot, samples=KIWI_SPECIAL)
    services.lot_pack(scope=NATIONAL, lot=lot)
    lot = services.lot_ship(scope=NATIONAL, lot=lot, destination="广州", pieces=5, weight_g=50_000)
    s = logistics_shipments.shipment_collect(scope=NATIONAL, shipment=lot.shipment)
    s = logistics_shipments.shipment_scan_in(scope=NATIONAL, shipment=s)
    logistics_shipments.shipment_hand_over(
        scope=NATIONAL, shipment=s, carrier="SF", tracking_number="SF0000000001"
    )
    return lot


def test_trace_json_is_public_and_has_no_personal_data(station, catalogue):
    lot = _shipped_lot(station, catalogue)
    r = Client().get(f"{API}/trace/{lot.code}")
    assert r.status_code == 200
    text = r.content.decode()
    body = r.json()
    assert body["village"] and body["county"] == "水城区" and body["township"]
    assert body["cooperative"] is None and body["producer_kind"] == "person"
    assert [s["type"] for s in body["steps"]] == [
        "harvested",
        "graded",
        "packed",
        "picked_up",
        "at_county",
        "handed_over",
    ]
    for personal in ("张大山", "13912345678", "5678", "SF0000000001"):
        assert personal not in text


def test_trace_shows_a_cooperative_by_name(station, catalogue):
    lot = _shipped_lot(station, catalogue, kind="cooperative", name="米箩猕猴桃合作社")
    body = Client().get(f"{API}/trace/{lot.code}").json()
    assert body["cooperative"] == "米箩猕猴桃合作社"


def test_trace_unknown_code_is_404(db):
    r = Client().get(f"{API}/trace/ZZZZZZZZZZ")
    assert r.status_code == 404 and r.json()["code"] == "unknown_lot"
    r = Client().get(f"{API}/trace/ZZZZZZZZZZ/epcis")
    assert r.status_code == 404


EPCIS_ACTIONS = {"ADD", "OBSERVE", "DELETE"}
CBV_STEPS = {"commissioning", "inspecting", "packing", "departing", "receiving", "shipping"}
CBV_DISPOSITIONS = {"active", "conformant", "non_conformant", "in_progress", "in_transit"}


def test_epcis_document_is_structurally_valid(station, catalogue):
    """The EPCIS 2.0 JSON-LD rules the document must meet: the context, the document
    type and schema version, an ISO creation date; each ObjectEvent with an event id,
    event time and its time zone offset, an action, a CBV bizStep and disposition, and
    what it is about (a quantityList of the lot's class) and where (bizLocation)."""
    lot = _shipped_lot(station, catalogue)
    r = Client().get(f"{API}/trace/{lot.code}/epcis")
    assert r.status_code == 200
    assert r["Content-Type"].startswith("application/ld+json")
    doc = json.loads(r.content)
    assert doc["@context"][0] == "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"
    assert doc["type"] == "EPCISDocument" and doc["schemaVersion"] == "2.0"
    dt.datetime.fromisoformat(doc["creationDate"].replace("Z", "+00:00"))
    events = doc["epcisBody"]["eventList"]
    assert len(events) == 6
    ids = set()
    for ev in events:
        assert ev["type"] == "ObjectEvent"
        assert ev["eventID"].startswith("urn:cunzhan:event:")
        ids.add(ev["eventID"])
        t = dt.datetime.fromisoformat(ev["eventTime"].replace("Z", "+00:00"))
        assert t.tzinfo is not None
        assert ev["eventTimeZoneOffset"] == "+08:00"
        assert ev["action"] in EPCIS_ACTIONS
        assert ev["bizStep"] in CBV_STEPS
        assert ev["disposition"] in CBV_DISPOSITIONS
        assert ev["epcList"] == []
        [q] = ev["quantityList"]
        assert q == {"epcClass": f"urn:cunzhan:lot:{lot.code}", "quantity": 500, "uom": "KGM"}
        assert ev["bizLocation"]["id"].startswith("urn:cunzhan:region:")
    assert len(ids) == 6  # unique event ids
    assert events[0]["action"] == "ADD" and events[0]["bizStep"] == "commissioning"
    assert [e["cunzhan:eventType"] for e in events][-1] == "handed_over"
    times = [e["eventTime"] for e in events]
    assert times == sorted(times)
    text = r.content.decode()
    assert "张大山" not in text and "13912345678" not in text
    # the same ids on a second read (derived events are stable)
    again = json.loads(Client().get(f"{API}/trace/{lot.code}/epcis").content)
    assert [e["eventID"] for e in again["epcisBody"]["eventList"]] == [e["eventID"] for e in events]


def test_epcis_marks_a_rejected_grading_non_conformant(station, catalogue):
    producer = make_producer(station)
    lot = make_lot(producer, catalogue["kiwifruit-red"])
    services.lot_grade(scope=NATIONAL, lot=lot, samples=KIWI_REJECTED)
    doc = json.loads(Client().get(f"{API}/trace/{lot.code}/epcis").content)
    graded = doc["epcisBody"]["eventList"][1]
    assert graded["bizStep"] == "inspecting" and graded["disposition"] == "non_conformant"


STANDARD = {
    "product": "potato",
    "name": "马铃薯分级（县标）",
    "valid_from": "2026-09-01",
    "grades": [
        {"code": "A", "name": "A级", "criteria": [{"quantity": "weight_g", "min": 250}]},
        {
            "code": "B",
            "name": "B级",
            "criteria": [
                {"quantity": "weight_g", "min": 150},
                {"quantity": "defect_pct", "aggregation": "max", "max": 5},
            ],
        },
    ],
}


def test_a_network_admin_replaces_a_standard(api_client, make_user, client, catalogue, producer):
    from cunzhan.commerce.models import GradeStandard

    old = GradeStandard.objects.get(product__code="potato", active=True)
    old_lot = make_lot(producer, catalogue["potato"])
    admin = make_user(Role.NETWORK_ADMIN)
    r = post(api_client(admin), f"{API}/standards", STANDARD)
    assert r.status_code == 201, r.content
    grades = r.json()["standard"]["grades"]
    assert [g["name"] for g in grades] == ["A级", "B级"]
    assert grades[0]["criteria"][0]["aggregation"] == "each"  # the quantity's default
    old.refresh_from_db()
    assert not old.active
    old_lot.refresh_from_db()
    assert old_lot.standard == old  # lots keep the standard they were recorded with
    lot = make_lot(producer, catalogue["potato"])
    g = services.lot_grade(
        scope=NATIONAL, lot=lot, samples=[{"weight_g": 200, "defect_pct": 1}] * 2
    )
    assert g.grade.code == "B"
    # an operator may not; a bound outside the physical range writes nothing
    assert post(client, f"{API}/standards", STANDARD).status_code == 403
    bad = {
        **STANDARD,
        "grades": [
            {"code": "X", "name": "X", "criteria": [{"quantity": "defect_pct", "max": 150}]}
        ],
    }
    r = post(api_client(admin), f"{API}/standards", bad)
    assert r.status_code == 422 and r.json()["code"] == "invalid_standard"
    assert GradeStandard.objects.filter(product__code="potato").count() == 2
