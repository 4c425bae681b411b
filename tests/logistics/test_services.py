"""Manifest intake, scan events, pickup codes and hand-out, through the services."""

from __future__ import annotations

import datetime as dt

import pytest

from cunzhan.core.errors import ApplicationError
from cunzhan.core.scope import RegionScope
from cunzhan.logistics import services
from cunzhan.logistics import statemachine as sm
from cunzhan.logistics.models import Parcel, ParcelException, ScanEvent, SmsMessage
from tests.logistics.conftest import BARE_VILLAGE, row

NATIONAL = RegionScope.national()
T0 = dt.datetime(2026, 11, 2, 8, tzinfo=dt.UTC)


def announce(n=1, **kw):
    return services.manifest_intake(
        scope=NATIONAL, carrier_code="ZTO", rows=[row(i, **kw) for i in range(n)], occurred_at=T0
    )


def scan(tn, type_, minutes, eid=None, **kw):
    return {
        "event_id": eid or f"{tn}-{type_}-{minutes}",
        "carrier": "ZTO",
        "tracking_number": tn,
        "type": type_,
        "occurred_at": (T0 + dt.timedelta(minutes=minutes)).isoformat(),
        **kw,
    }


def to_station(tn, station):
    steps = [sm.RECEIVED_AT_COUNTY, sm.SORTED, sm.LOADED, sm.AT_STATION]
    evs = [scan(tn, t, i + 1) for i, t in enumerate(steps)]
    evs[-1]["station_code"] = station.code
    return services.scan_events_record(scope=NATIONAL, events=evs)


def test_manifest_creates_announced_parcels_matched_to_the_village_station(station):
    result = announce(3)
    assert len(result.created) == 3 and result.unmatched == []
    p = Parcel.objects.get(tracking_number="ZT0000000001")
    assert p.state == sm.ANNOUNCED and p.station == station and p.phone_last4 == "5678"
    assert ScanEvent.objects.filter(parcel=p, type=sm.ANNOUNCED).count() == 1


def test_unmatched_parcels_go_to_the_exception_queue(station):
    result = announce(2, village_code=BARE_VILLAGE)
    assert len(result.unmatched) == 2
    exc = ParcelException.objects.filter(problem="unmatched", status="open")
    assert exc.count() == 2 and all(e.parcel.station_id is None for e in exc)


def test_resending_a_manifest_creates_no_duplicates(station):
    announce(3)
    again = announce(3)
    assert again.created == [] and len(again.duplicates) == 3
    assert Parcel.objects.count() == 3 and ScanEvent.objects.count() == 3


def test_a_bad_row_names_row_and_field_and_writes_nothing(station):
    rows = [row(0), row(1, weight_g="heavy"), row(2, village_code="520204106299")]
    with pytest.raises(ApplicationError) as e:
        services.manifest_intake(scope=NATIONAL, carrier_code="ZTO", rows=rows)
    errors = e.value.details["errors"]
    assert {(x["row"], x["field"]) for x in errors} == {(2, "weight_g"), (3, "village_code")}
    assert Parcel.objects.count() == 0 and ScanEvent.objects.count() == 0


def test_a_village_outside_the_scope_is_unknown(station):
    scope = RegionScope.for_regions(["520203"])
    with pytest.raises(ApplicationError) as e:
        services.manifest_intake(scope=scope, carrier_code="ZTO", rows=[row(0)])
    assert e.value.details["errors"][0]["field"] == "village_code"
    assert Parcel.objects.count() == 0


def test_unknown_carrier_and_known_number_with_other_data(station):
    with pytest.raises(ApplicationError, match="unknown carrier"):
        services.manifest_intake(scope=NATIONAL, carrier_code="NOPE", rows=[row(0)])
    announce(1)
    with pytest.raises(ApplicationError, match="other data"):
        services.manifest_intake(scope=NATIONAL, carrier_code="ZTO", rows=[row(0, weight_g=9)])


def test_events_move_the_parcel_and_assign_a_code_shelf_and_sms(station):
    announce(2)
    statuses = to_station("ZT0000000000", station)
    assert [s["status"] for s in statuses] == ["applied"] * 4
    p = Parcel.objects.get(tracking_number="ZT0000000000")
    assert p.state == sm.AT_STATION and len(p.pickup_code) == 6 and p.pickup_code.isdigit()
    assert p.shelf_slot == "M-001"
    sms = SmsMessage.objects.get(parcel=p)
    assert p.pickup_code in sms.text and sms.phone == "13812345678"
    to_station("ZT0000000001", station)
    q = Parcel.objects.get(tracking_number="ZT0000000001")
    assert q.pickup_code != p.pickup_code and q.shelf_slot == "M-002"


def test_sending_events_again_reports_duplicates_and_changes_nothing(station):
    announce(1)
    to_station("ZT0000000000", station)
    count = ScanEvent.objects.count()
    again = to_station("ZT0000000000", station)
    assert [s["status"] for s in again] == ["duplicate"] * 4
    assert ScanEvent.objects.count() == count
    assert SmsMessage.objects.count() == 1


def test_same_event_id_with_other_content_is_an_error(station):
    announce(1)
    services.scan_events_record(
        scope=NATIONAL, events=[scan("ZT0000000000", sm.RECEIVED_AT_COUNTY, 1, eid="x1")]
    )
    with pytest.raises(ApplicationError, match="already used"):
        services.scan_events_record(
            scope=NATIONAL, events=[scan("ZT0000000000", sm.SORTED, 1, eid="x1")]
        )


def test_illegal_transition_opens_an_exception_and_late_event_resolves_it(station):
    announce(1)
    r = services.scan_events_record(scope=NATIONAL, events=[scan("ZT0000000000", sm.SORTED, 5)])
    assert r[0]["status"] == "illegal"
    p = Parcel.objects.get()
    assert p.state == sm.ANNOUNCED
    exc = ParcelException.objects.get(problem="illegal_transition")
    assert exc.status == "open" and "sorted" in exc.detail
    late = services.scan_events_record(
        scope=NATIONAL, events=[scan("ZT0000000000", sm.RECEIVED_AT_COUNTY, 2)]
    )
    assert late[0]["status"] == "applied"
    p.refresh_from_db()
    exc.refresh_from_db()
    assert p.state == sm.SORTED and exc.status == "resolved"


def test_a_bad_batch_writes_nothing(station):
    announce(1)
    events = [
        scan("ZT0000000000", sm.RECEIVED_AT_COUNTY, 1),
        scan("ZT9999999999", sm.SORTED, 2),
        {"event_id": "", "type": "flying"},
    ]
    with pytest.raises(ApplicationError) as e:
        services.scan_events_record(scope=NATIONAL, events=events)
    fields = {x["field"] for x in e.value.details["errors"]}
    assert {"event_id", "type", "occurred_at"} <= fields
    assert ScanEvent.objects.count() == 1  # only the announcement
    with pytest.raises(ApplicationError, match="unknown parcel"):
        services.scan_events_record(scope=NATIONAL, events=events[:2])
    assert ScanEvent.objects.count() == 1


def test_batch_over_the_limit():
    with pytest.raises(ApplicationError, match="at most"):
        services.scan_events_record(scope=NATIONAL, events=[{}] * (services.MAX_BATCH + 1))


def test_pickup_by_code_and_by_phone_and_name(station):
    announce(2)
    to_station("ZT0000000000", station)
    to_station("ZT0000000001", station)
    p = Parcel.objects.get(tracking_number="ZT0000000000")
    got = services.parcel_pick_up(scope=NATIONAL, station=station, code=p.pickup_code)
    assert [x.pk for x in got] == [p.pk]
    p.refresh_from_db()
    assert p.state == sm.PICKED_UP
    with pytest.raises(ApplicationError) as e:
        services.parcel_pick_up(scope=NATIONAL, station=station, code=p.pickup_code)
    assert e.value.code == "no_match"
    with pytest.raises(ApplicationError):
        services.parcel_pick_up(scope=NATIONAL, station=station, phone_last4="5678", name="李四")
    got = services.parcel_pick_up(scope=NATIONAL, station=station, phone_last4="5678", name="张三")
    assert [x.tracking_number for x in got] == ["ZT0000000001"]
    assert Parcel.objects.filter(state=sm.PICKED_UP).count() == 2


def test_pickup_outside_scope_is_not_found(station):
    announce(1)
    to_station("ZT0000000000", station)
    code = Parcel.objects.get().pickup_code
    scope = RegionScope.for_regions(["520203"])
    with pytest.raises(ApplicationError) as e:
        services.parcel_pick_up(scope=scope, station=station, code=code)
    assert e.value.status == 404
    assert Parcel.objects.get().state == sm.AT_STATION


def test_resend_code(station):
    announce(1)
    to_station("ZT0000000000", station)
    services.pickup_code_resend(scope=NATIONAL, parcel=Parcel.objects.get())
    assert SmsMessage.objects.count() == 2


@pytest.mark.parametrize("one_batch", [True, False])
def test_a_misrouted_parcel_is_sorted_again_for_its_own_villages_station(station, one_batch):
    from cunzhan.network.models import StationStatus
    from tests.factories.stations import make_station

    wrong = make_station("520204106202", StationStatus.ACTIVE)  # the neighbour village
    announce(1)
    tn = "ZT0000000000"
    evs = [scan(tn, t, i + 1) for i, t in enumerate([sm.RECEIVED_AT_COUNTY, sm.SORTED])]
    evs += [scan(tn, sm.LOADED, 3), scan(tn, sm.AT_STATION, 4, station_code=wrong.code)]
    misroute = [scan(tn, sm.MISROUTED, 5, station_code=wrong.code)]
    if one_batch:
        services.scan_events_record(scope=NATIONAL, events=evs + misroute)
    else:
        services.scan_events_record(scope=NATIONAL, events=evs)
        p = Parcel.objects.get()
        assert (p.state, p.station_id) == (sm.AT_STATION, wrong.pk) and p.pickup_code
        services.scan_events_record(scope=NATIONAL, events=misroute)
    p = Parcel.objects.get()
    assert p.state == sm.SORTED
    assert p.station_id == station.pk  # its own village's station, for the next run
    assert p.pickup_code == "" and p.shelf_slot == ""
