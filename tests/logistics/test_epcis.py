"""GS1 EPCIS 2.0 JSON-LD: the CBV mapping both ways, the export, the import through the
bulk endpoint and a round trip."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from cunzhan.accounts.roles import Role
from cunzhan.core.scope import RegionScope
from cunzhan.logistics import epcis, services
from cunzhan.logistics import statemachine as sm
from cunzhan.logistics.models import Parcel, ParcelException, ScanEvent, SmsMessage
from tests.factories.handout import hand_out
from tests.logistics.conftest import row

NATIONAL = RegionScope.national()
T0 = dt.datetime(2026, 11, 2, 8, tzinfo=dt.UTC)
URL = "/api/v1/logistics/events"


@pytest.fixture
def manager(make_user, regions):
    return make_user(Role.COUNTY_MANAGER, regions=["520204"])


def ev(tn, type_, minutes, station_code="", eid=None):
    return {
        "event_id": eid or f"{tn}-{type_}-{minutes}",
        "carrier": "ZTO",
        "tracking_number": tn,
        "type": type_,
        "occurred_at": (T0 + dt.timedelta(minutes=minutes)).isoformat(),
        "station_code": station_code,
        "device": "pda-1",
    }


def world(station):
    """Five parcels in different states, one with an illegal event."""
    services.manifest_intake(
        scope=NATIONAL, carrier_code="ZTO", rows=[row(i) for i in range(5)], occurred_at=T0
    )
    path = [sm.RECEIVED_AT_COUNTY, sm.SORTED, sm.LOADED, sm.AT_STATION]
    events = []
    for n in range(5):
        tn = f"ZT{n:010d}"
        steps = path[: n + 1]
        for i, t in enumerate(steps):
            events.append(ev(tn, t, i + 1, station.code if t == sm.AT_STATION else ""))
    events.append(ev("ZT0000000000", sm.LOADED, 30))  # illegal in received_at_county
    events.append(ev("ZT0000000002", sm.MISROUTED, 30))  # sorted -> sorted
    services.scan_events_record(scope=NATIONAL, events=events)
    # parcel 4 is handed out with its code (a hand-out is never a bare scan)
    assert hand_out(Parcel.objects.get(tracking_number="ZT0000000004"), at=T0 + MIN5) == "applied"


MIN5 = dt.timedelta(minutes=5)


def snapshot():
    return {
        p.tracking_number: (p.state, p.state_at, p.station_id, bool(p.pickup_code), p.shelf_slot)
        for p in Parcel.objects.all()
    }, sorted(
        ParcelException.objects.filter(status="open").values_list(
            "parcel__tracking_number", "problem", "event__event_id"
        )
    )


def test_every_event_type_maps_to_cbv_and_back():
    for t in sm.EVENT_TYPES:
        action, step, disp = epcis.EXPORT_MAP[t]
        assert action in ("ADD", "OBSERVE")
        assert epcis.event_type_for(step, disp) == t
        if not step.startswith("urn:"):  # the URN and GS1 web URI forms too
            assert epcis.event_type_for(f"urn:epcglobal:cbv:bizstep:{step}", disp) == t
            assert (
                epcis.event_type_for(
                    f"https://ref.gs1.org/cbv/BizStep-{step}",
                    f"https://ref.gs1.org/cbv/Disp-{disp}",
                )
                == t
            )
    assert epcis.event_type_for("receiving", "") == sm.RECEIVED_AT_COUNTY  # step alone
    assert epcis.event_type_for("inspecting", "") is None  # damaged or lost? not guessed
    assert epcis.event_type_for("urn:cunzhan:bizstep:lost") == sm.LOST
    assert epcis.event_type_for("urn:cunzhan:bizstep:flying") is None
    assert epcis.event_type_for("void_shipping", "in_transit") is None


def test_export_document(station, manager, api_client):
    world(station)
    c = api_client(manager)
    p = Parcel.objects.get(tracking_number="ZT0000000004")
    r = c.get(f"/api/v1/logistics/epcis?parcel={p.uuid}")
    assert r.status_code == 200 and r["Content-Type"].startswith("application/ld+json")
    doc = json.loads(r.content)
    assert doc["@context"][0] == "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"
    assert doc["type"] == "EPCISDocument" and doc["schemaVersion"] == "2.0"
    events = doc["epcisBody"]["eventList"]
    assert [e["bizStep"] for e in events] == [
        "commissioning",
        "receiving",
        "staging_outbound",
        "loading",
        "arriving",
        "dispensing",
    ]
    first, arrival = events[0], events[4]
    assert first["action"] == "ADD" and first["disposition"] == "active"
    assert arrival["type"] == "ObjectEvent" and arrival["action"] == "OBSERVE"
    assert arrival["epcList"] == ["urn:cunzhan:parcel:ZTO:ZT0000000004"]
    assert arrival["eventID"] == "urn:cunzhan:event:ZT0000000004-at_station-4"
    assert arrival["eventTime"] == "2026-11-02T08:04:00.000Z"
    assert arrival["eventTimeZoneOffset"] == "+08:00"
    assert arrival["readPoint"] == {"id": f"urn:cunzhan:station:{station.code}"}
    assert arrival["bizLocation"] == {"id": f"urn:cunzhan:region:{station.region_id}"}
    # filters, paging
    r = c.get("/api/v1/logistics/epcis?limit=5")
    assert len(json.loads(r.content)["epcisBody"]["eventList"]) == 5
    assert 'rel="next"' in r["Link"]
    nxt = r["GS1-Next-Page-Token"]
    r2 = c.get(f"/api/v1/logistics/epcis?limit=5&after={nxt}")
    ids2 = [e["eventID"] for e in json.loads(r2.content)["epcisBody"]["eventList"]]
    ids1 = [e["eventID"] for e in json.loads(r.content)["epcisBody"]["eventList"]]
    assert ids2 and not set(ids1) & set(ids2)
    since = (T0 + dt.timedelta(minutes=29)).isoformat()
    r = c.get("/api/v1/logistics/epcis", {"since": since})
    assert len(json.loads(r.content)["epcisBody"]["eventList"]) == 2
    r = c.get("/api/v1/logistics/epcis?village=520203")
    assert json.loads(r.content)["epcisBody"]["eventList"] == []
    for village in ("52a", "²", "５２０２"):
        r = c.get("/api/v1/logistics/epcis", {"village": village})
        assert r.status_code == 422 and r.json()["code"] == "validation_error", village
    assert c.get("/api/v1/logistics/epcis?limit=0").status_code == 422


def test_export_is_scoped(station, make_user, api_client):
    world(station)
    p = Parcel.objects.first()
    other = api_client(make_user(Role.COUNTY_MANAGER, regions=["520203"]))
    assert other.get(f"/api/v1/logistics/epcis?parcel={p.uuid}").status_code == 404
    doc = json.loads(other.get("/api/v1/logistics/epcis").content)
    assert doc["epcisBody"]["eventList"] == []


def test_round_trip_export_import_gives_the_same_states(station, manager, api_client):
    world(station)
    c = api_client(manager)
    before = snapshot()
    doc = json.loads(c.get("/api/v1/logistics/epcis?limit=10000").content)
    assert len(doc["epcisBody"]["eventList"]) == ScanEvent.objects.count()
    # a fresh state: the parcels as announced before any event
    ParcelException.objects.all().delete()
    SmsMessage.objects.all().delete()
    ScanEvent.objects.all().delete()
    Parcel.objects.update(state="", state_at=None, pickup_code="", shelf_slot="")
    assert snapshot() != before
    # the hand-out (dispensing) carries no proof: the whole document is refused, the
    # error names the event, nothing is written
    r = c.post(URL, json.dumps(doc).encode(), content_type="application/ld+json")
    assert r.status_code == 422 and r.json()["code"] == "pickup_proof_required", r.content
    (bad,) = r.json()["details"]["errors"]
    assert bad["type"] == sm.PICKED_UP and doc["epcisBody"]["eventList"][bad["row"] - 1][
        "eventID"
    ].endswith(bad["event_id"])
    assert ScanEvent.objects.count() == 0
    # without it the scans round-trip; the parcel is then handed out with its new code
    doc["epcisBody"]["eventList"] = [
        e for e in doc["epcisBody"]["eventList"] if e["bizStep"] != "dispensing"
    ]
    body = json.dumps(doc).encode()
    r = c.post(URL, body, content_type="application/ld+json")
    assert r.status_code == 200, r.content
    assert r.json()["illegal"] == len(before[1]) == 1
    assert hand_out(Parcel.objects.get(tracking_number="ZT0000000004"), at=T0 + MIN5) == "applied"
    assert snapshot() == before
    # the import is idempotent, and an EPCIS object sent as plain JSON is recognised
    again = c.post(URL, body, content_type="application/json").json()
    assert again["duplicate"] == len(doc["epcisBody"]["eventList"]) and again["applied"] == 0


def _carrier_doc(events):
    return {
        "@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"],
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": "2026-11-02T09:00:00Z",
        "epcisBody": {"eventList": events},
    }


def _obj(step, disp="", eid="urn:uuid:5b1c1b5e-1e3a-4a0b-9d1e-000000000001", **kw):
    e = {
        "type": "ObjectEvent",
        "eventID": eid,
        "eventTime": "2026-11-02T16:05:00.000+08:00",
        "eventTimeZoneOffset": "+08:00",
        "epcList": ["urn:cunzhan:parcel:ZTO:ZT0000000000"],
        "action": "OBSERVE",
        "bizStep": step,
        **kw,
    }
    if disp:
        e["disposition"] = disp
    return e


def test_a_carriers_document_is_imported(station, manager, api_client):
    services.manifest_intake(scope=NATIONAL, carrier_code="ZTO", rows=[row(0)], occurred_at=T0)
    c = api_client(manager)
    doc = _carrier_doc(
        [
            _obj("urn:epcglobal:cbv:bizstep:receiving", "urn:epcglobal:cbv:disp:in_progress"),
            _obj(
                "https://ref.gs1.org/cbv/BizStep-inspecting",
                "https://ref.gs1.org/cbv/Disp-damaged",
                eid="ni:///sha-256;" + "a" * 64 + "?ver=CBV2.0",  # too long: hashed
                eventTime="2026-11-02T09:00:00Z",
            ),
        ]
    )
    r = c.post(URL, json.dumps(doc), content_type="application/ld+json")
    assert r.status_code == 200, r.content
    ids = [e["event_id"] for e in r.json()["events"]]
    assert ids[0] == "urn:uuid:5b1c1b5e-1e3a-4a0b-9d1e-000000000001"
    assert ids[1].startswith("epcis:") and len(ids[1]) <= 64
    assert Parcel.objects.get().state == sm.DAMAGED


def test_unmappable_epcis_events_are_named_and_nothing_is_written(station, manager, api_client):
    services.manifest_intake(scope=NATIONAL, carrier_code="ZTO", rows=[row(0)], occurred_at=T0)
    c = api_client(manager)
    good = _obj("receiving", "in_progress")
    cases = [
        (_obj("void_shipping", "in_transit", eid="urn:uuid:bad"), "bizStep", "void_shipping"),
        ({**good, "eventID": "urn:uuid:agg", "type": "AggregationEvent"}, "type", "ObjectEvent"),
        (
            {**good, "eventID": "urn:uuid:sscc", "epcList": ["urn:epc:id:sscc:0614141.1"]},
            "epcList",
            "sscc",
        ),
        ({**good, "eventID": "urn:uuid:t", "eventTime": "yesterday"}, "eventTime", "ISO"),
    ]
    for bad, field, word in cases:
        r = c.post(URL, json.dumps(_carrier_doc([good, bad])), content_type="application/ld+json")
        assert r.status_code == 422, r.content
        body = r.json()
        assert body["code"] == "invalid_epcis"
        err = body["details"]["errors"][0]
        assert err["row"] == 2 and err["event"] == bad["eventID"] and err["field"] == field
        assert word in err["message"] and bad["eventID"] in body["message"]
    r = c.post(URL, json.dumps({"type": "EPCISDocument"}), content_type="application/ld+json")
    assert r.status_code == 422 and "epcisBody" in r.json()["message"]
    assert ScanEvent.objects.count() == 1  # the announcement only


def test_a_full_size_epcis_document_is_read_not_refused_by_the_body_cap(
    station, manager, api_client
):
    """A 10,000-event document is several MiB, above Django's default 2.5 MiB in-memory
    cap: the endpoint itself must read it (its own limit is services.MAX_BODY_BYTES)."""
    services.manifest_intake(scope=NATIONAL, carrier_code="ZTO", rows=[row(0)], occurred_at=T0)
    c = api_client(manager)
    events = [
        _obj("receiving", "in_progress", eid=f"urn:uuid:00000000-0000-4000-8000-{i:012d}")
        for i in range(services.MAX_BATCH)
    ]
    events[-1] = {**events[-1], "bizStep": "void_shipping"}  # unmappable: the batch fails
    body = json.dumps(_carrier_doc(events))
    assert len(body) > 2_621_440
    r = c.post(URL, body, content_type="application/ld+json")
    assert r.status_code == 422, r.content[:300]
    err = r.json()
    assert err["code"] == "invalid_epcis"
    assert err["details"]["errors"][0]["row"] == services.MAX_BATCH
    assert ScanEvent.objects.count() == 1  # nothing written
