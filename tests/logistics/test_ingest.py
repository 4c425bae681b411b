"""The bulk event path: JSON array / NDJSON bodies and their errors, and the set-based
apply checked against a clean derivation by the one state machine."""

from __future__ import annotations

import datetime as dt
import json
import random
from collections import Counter

import pytest

from cunzhan.accounts.roles import Role
from cunzhan.core.errors import ApplicationError
from cunzhan.core.scope import RegionScope
from cunzhan.logistics import services
from cunzhan.logistics import statemachine as sm
from cunzhan.logistics.models import Parcel, ParcelException, ScanEvent, SmsMessage
from cunzhan.network.models import StationStatus
from tests.factories.stations import make_station
from tests.logistics.conftest import BARE_VILLAGE, row

NATIONAL = RegionScope.national()
T0 = dt.datetime(2026, 11, 2, 8, tzinfo=dt.UTC)
URL = "/api/v1/logistics/events"


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


def ndjson(events) -> bytes:
    return "".join(json.dumps(e, ensure_ascii=False) + "\n" for e in events).encode()


@pytest.fixture
def manager(make_user, regions):
    return make_user(Role.COUNTY_MANAGER, regions=["520204"])


def announce(n, **kw):
    return services.manifest_intake(
        scope=NATIONAL, carrier_code="ZTO", rows=[row(i, **kw) for i in range(n)], occurred_at=T0
    )


# --- bodies -------------------------------------------------------------------------------


def test_ndjson_batch_is_applied_and_a_resend_reports_duplicates(station, manager, api_client):
    announce(2)
    c = api_client(manager)
    steps = [sm.RECEIVED_AT_COUNTY, sm.SORTED, sm.LOADED, sm.AT_STATION]
    events = [
        ev(f"ZT{n:010d}", t, i + 1, station.code if t == sm.AT_STATION else "")
        for n in range(2)
        for i, t in enumerate(steps)
    ]
    body = ndjson(events[:4]) + b"\n  \n" + ndjson(events[4:])  # blank lines are skipped
    r = c.post(URL, body, content_type="application/x-ndjson")
    assert r.status_code == 200, r.content
    out = r.json()
    assert out["applied"] == 8 and out["duplicate"] == 0
    assert [e["event_id"] for e in out["events"]] == [e["event_id"] for e in events]
    assert set(Parcel.objects.values_list("state", flat=True)) == {sm.AT_STATION}
    assert SmsMessage.objects.count() == 2
    again = c.post(URL, body, content_type="application/x-ndjson; charset=utf-8").json()
    assert again["duplicate"] == 8 and again["applied"] == 0
    assert ScanEvent.objects.count() == 2 + 8 and SmsMessage.objects.count() == 2


def test_a_malformed_ndjson_line_is_named_and_nothing_is_written(station, manager, api_client):
    announce(1)
    c = api_client(manager)
    good = ndjson([ev("ZT0000000000", sm.RECEIVED_AT_COUNTY, 1)])
    r = c.post(URL, good + b"\n" + b'{"event_id": "x",\n', content_type="application/x-ndjson")
    assert r.status_code == 422
    assert r.json()["details"] == {"line": 3} and "line 3" in r.json()["message"]
    r = c.post(URL, good + b"[1, 2]\n", content_type="application/x-ndjson")
    assert r.status_code == 422 and "line 2" in r.json()["message"]
    r = c.post(URL, good + b"\xff\xfe\n", content_type="application/x-ndjson")
    assert r.status_code == 422 and "line 2" in r.json()["message"]
    # a valid line with a bad field: the row (event) is named
    bad = ndjson([ev("ZT0000000000", sm.RECEIVED_AT_COUNTY, 1), ev("ZT0000000000", "flew", 2)])
    r = c.post(URL, bad, content_type="application/x-ndjson")
    assert r.status_code == 422
    assert r.json()["details"]["errors"][0]["row"] == 2
    assert ScanEvent.objects.count() == 1  # the announcement only


def test_over_the_limit_and_wrong_content_type(station, manager, api_client):
    announce(1)
    c = api_client(manager)
    line = json.dumps(ev("ZT0000000000", sm.RECEIVED_AT_COUNTY, 1)).encode() + b"\n"
    r = c.post(URL, line * (services.MAX_BATCH + 1), content_type="application/x-ndjson")
    assert r.status_code == 422 and r.json()["code"] == "batch_too_large"
    assert "10001" in r.json()["message"]
    r = c.post(URL, line, content_type="text/csv")
    assert r.status_code == 415 and "application/x-ndjson" in r.json()["message"]
    r = c.post(URL, b'{"event_id": "x"}', content_type="application/json")
    assert r.status_code == 422
    r = c.post(URL, b"[]", content_type="application/json")
    assert r.status_code == 422 and r.json()["code"] == "invalid_batch"
    assert ScanEvent.objects.count() == 1


def test_body_parser_units():
    evs = services.event_batch_parse(
        body=b'{"a": 1}\r\n\r\n{"b": 2}', content_type="application/x-ndjson"
    )
    assert evs == [{"a": 1}, {"b": 2}]
    assert services.event_batch_parse(body=b'[{"a": 1}]', content_type="") == [{"a": 1}]
    with pytest.raises(ApplicationError) as e:
        services.event_batch_parse(body=b"{}\n\n{oops}\n", content_type="application/x-ndjson")
    assert e.value.details == {"line": 3}
    with pytest.raises(ApplicationError) as e:
        services.event_batch_parse(body=b"[1]", content_type="application/ld+json")
    assert e.value.code == "invalid_epcis"


def test_event_times_out_of_range_and_ids_with_a_newline_are_refused(station, regions):
    announce(1)
    tn = "ZT0000000000"
    bad = [
        ev(tn, sm.RECEIVED_AT_COUNTY, 1) | {"occurred_at": "9999-12-31T23:00:00-05:00"},
        ev(tn, sm.RECEIVED_AT_COUNTY, 1) | {"occurred_at": "0001-01-01T01:00:00+05:00"},
        ev(tn, sm.RECEIVED_AT_COUNTY, 1) | {"occurred_at": "1999-12-31T23:00:00+00:00"},
        ev(tn, sm.RECEIVED_AT_COUNTY, 1)
        | {"occurred_at": (dt.datetime.now(dt.UTC) + dt.timedelta(days=3)).isoformat()},
        ev(tn, sm.RECEIVED_AT_COUNTY, 1) | {"event_id": "x" * 64 + "\n"},
        ev(tn, sm.RECEIVED_AT_COUNTY, 1) | {"event_id": "ok\n"},
    ]
    for e in bad:
        with pytest.raises(ApplicationError) as exc:
            services.scan_events_record(scope=NATIONAL, events=[e])
        assert exc.value.code == "invalid_batch"
        field = exc.value.details["errors"][0]["field"]
        assert field == ("event_id" if "\n" in e["event_id"] else "occurred_at")
    assert ScanEvent.objects.count() == 1  # the announcement only
    ok = ev(tn, sm.RECEIVED_AT_COUNTY, 1) | {
        "occurred_at": (dt.datetime.now(dt.UTC) + dt.timedelta(hours=30)).isoformat()
    }
    assert services.scan_events_record(scope=NATIONAL, events=[ok])[0]["status"] == "applied"


# --- the set-based apply against a clean derivation ---------------------------------------


def _random_batch(rnd: random.Random, tns: list[str], stations: list[str]) -> list[dict]:
    """Plausible and implausible scans: mostly the normal path, some damage, refusals,
    misroutes, returns, late and repeated events."""
    events = []
    for n, tn in enumerate(tns):
        path = [sm.RECEIVED_AT_COUNTY, sm.SORTED, sm.LOADED, sm.AT_STATION]
        roll = rnd.random()
        if roll < 0.2:
            path += [sm.MISROUTED, sm.LOADED, sm.AT_STATION]
        elif roll < 0.35:
            path += [sm.REFUSED, sm.RETURNED]
        elif roll < 0.45:
            path = [*path[:2], sm.DAMAGED, sm.RETURNED]
        elif roll < 0.55:
            path += [sm.SORTED]  # illegal after at_station
        elif roll < 0.75:  # a hand-out is not a scan (ADR 0028): sent back instead
            path += [sm.RETURN_DUE]
        for i, t in enumerate(path):
            st = rnd.choice(stations) if t == sm.AT_STATION else ""
            events.append(ev(tn, t, 10 * i + rnd.randint(0, 5), st, eid=f"{tn}-{n}-{i}"))
    return events


def _check_against_clean_derivation():
    for p in Parcel.objects.all():
        evs = list(p.events.values_list("occurred_at", "event_id", "type"))
        d = sm.derive_state(sm.Event(*e) for e in evs)
        assert p.state == d.state, p.tracking_number
        if d.last_event_id:
            assert p.state_at == p.events.get(event_id=d.last_event_id).occurred_at
        # the stored order key is that of the last event other than the announcement
        later = sorted((at, eid) for at, eid, t in evs if t != sm.ANNOUNCED)
        assert (p.last_event_at, p.last_event_id) == (later[-1] if later else (None, ""))
        open_illegal = set(
            ParcelException.objects.filter(
                parcel=p, problem="illegal_transition", status="open"
            ).values_list("event__event_id", flat=True)
        )
        assert open_illegal == {i.event_id for i in d.illegal}, p.tracking_number
        if p.state == sm.AT_STATION:
            assert p.pickup_code and p.shelf_slot
            last = p.events.get(event_id=d.last_event_id)
            assert last.station_id is None or p.station_id == last.station_id
        elif p.state != sm.PICKED_UP:
            assert p.pickup_code == "" and p.shelf_slot == ""
    waiting = Parcel.objects.filter(state=sm.AT_STATION)
    codes = Counter(waiting.values_list("station_id", "pickup_code"))
    slots = Counter(waiting.values_list("station_id", "shelf_slot"))
    assert max(codes.values(), default=1) == 1 and max(slots.values(), default=1) == 1
    # every parcel waiting at a station was sent its current pickup code
    for p in waiting:
        assert SmsMessage.objects.filter(parcel=p, text__contains=p.pickup_code).exists()


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_set_based_apply_equals_a_clean_derivation_in_any_batching(seed, station, regions):
    other = make_station(BARE_VILLAGE, StationStatus.ACTIVE)
    announce(30)
    rnd = random.Random(seed)
    tns = [f"ZT{n:010d}" for n in range(30)]
    events = _random_batch(rnd, tns, [station.code, other.code])
    rnd.shuffle(events)
    events += rnd.sample(events, 15)  # repeats, possibly in the same batch
    i = 0
    while i < len(events):  # random batch sizes, out of order
        k = rnd.randint(1, 40)
        services.scan_events_record(scope=NATIONAL, events=events[i : i + k])
        i += k
    _check_against_clean_derivation()
    # a second pass changes nothing
    before = list(Parcel.objects.order_by("pk").values_list("state", "pickup_code", "shelf_slot"))
    statuses = services.scan_events_record(scope=NATIONAL, events=events[:200])
    assert {s["status"] for s in statuses} == {"duplicate"}
    after = list(Parcel.objects.order_by("pk").values_list("state", "pickup_code", "shelf_slot"))
    assert before == after


def test_one_batch_equals_many_small_ones(station, regions):
    other = make_station(BARE_VILLAGE, StationStatus.ACTIVE)
    announce(20)
    rnd = random.Random(7)
    events = _random_batch(rnd, [f"ZT{n:010d}" for n in range(20)], [station.code, other.code])
    services.scan_events_record(scope=NATIONAL, events=events)
    one = list(Parcel.objects.order_by("pk").values_list("state", "station_id", "state_at"))
    exc_one = sorted(
        ParcelException.objects.filter(status="open").values_list("event__event_id", flat=True)
    )
    _check_against_clean_derivation()
    # the same events, one at a time, onto fresh parcels of the same shape
    ParcelException.objects.all().delete()
    SmsMessage.objects.all().delete()
    ScanEvent.objects.exclude(type=sm.ANNOUNCED).delete()
    Parcel.objects.update(
        state=sm.ANNOUNCED,
        pickup_code="",
        shelf_slot="",
        station=station,
        last_event_at=None,
        last_event_id="",
    )
    for e in reversed(events):
        services.scan_events_record(scope=NATIONAL, events=[e])
    many = list(Parcel.objects.order_by("pk").values_list("state", "station_id", "state_at"))
    exc_many = sorted(
        ParcelException.objects.filter(status="open").values_list("event__event_id", flat=True)
    )
    assert one == many and exc_one == exc_many
    _check_against_clean_derivation()


def test_in_order_and_late_events_in_one_batch_equal_a_clean_derivation(
    station, regions, monkeypatch
):
    """Parcels whose new events all come after their last one are applied to the stored
    state without reading the history; a late event or an open exception falls back to
    the full derivation, in the same batch. Both give what a clean derivation gives."""
    other = make_station(BARE_VILLAGE, StationStatus.ACTIVE)
    announce(40)
    tns = [f"ZT{n:010d}" for n in range(40)]
    first = []
    for tn in tns:
        first += [
            ev(tn, sm.RECEIVED_AT_COUNTY, 10),
            ev(tn, sm.SORTED, 20),
            ev(tn, sm.LOADED, 30),
        ]
    first += [ev(tn, sm.RETURN_DUE, 25) for tn in tns[30:]]  # illegal: exceptions open
    services.scan_events_record(scope=NATIONAL, events=first)
    rnd = random.Random(11)
    second = []
    for n, tn in enumerate(tns):
        st = rnd.choice([station.code, other.code])
        second += [ev(tn, sm.AT_STATION, 40, st), ev(tn, sm.RETURN_DUE, 50)]
        if 10 <= n < 20:  # odd: late (sorts before what is stored); even: in order
            second.append(ev(tn, sm.MISROUTED, 15 if n % 2 else 35))
        elif 20 <= n < 25:  # late and illegal
            second.append(ev(tn, sm.RETURN_DUE, 5))
    second += rnd.sample(second, 10) + first[:5]  # repeats and stored duplicates
    rnd.shuffle(second)
    full: list[int] = []
    derive_state = sm.derive_state

    def spy(events):
        full.append(1)
        return derive_state(events)

    monkeypatch.setattr(sm, "derive_state", spy)
    statuses = services.scan_events_record(scope=NATIONAL, events=second)
    # 5 + 5 late, 10 with an open exception: the full derivation; the 20 others not
    assert len(full) == 20
    assert Counter(s["status"] for s in statuses)["duplicate"] == 15
    monkeypatch.undo()
    _check_against_clean_derivation()
    assert Parcel.objects.filter(state=sm.RETURN_DUE).count() >= 15


def test_the_migration_fills_the_last_event_key(station, regions):
    import importlib

    from django.apps import apps

    migration = importlib.import_module("cunzhan.logistics.migrations.0006_fast_last_event")
    announce(3)
    services.scan_events_record(
        scope=NATIONAL,
        events=[
            ev("ZT0000000000", sm.RECEIVED_AT_COUNTY, 10),
            ev("ZT0000000000", sm.SORTED, 20, eid="b"),
            ev("ZT0000000000", sm.LOADED, 20, eid="a"),  # same time: the id decides
            ev("ZT0000000001", sm.RETURN_DUE, 5),  # illegal, still the last event
        ],
    )
    keys = list(Parcel.objects.order_by("pk").values_list("last_event_at", "last_event_id"))
    assert keys[0] == (T0 + dt.timedelta(minutes=20), "b")
    assert keys[1][1] == "ZT0000000001-return_due-5" and keys[2] == (None, "")
    Parcel.objects.update(last_event_at=None, last_event_id="")
    migration.fill_last_event(apps, None)
    assert list(Parcel.objects.order_by("pk").values_list("last_event_at", "last_event_id")) == keys
