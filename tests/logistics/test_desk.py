"""The desks' services and reads (logistics/desk.py): scan forms, the exceptions queue,
the county's figures, the station's lists."""

from __future__ import annotations

import datetime as dt

import pytest

from cunzhan.core.errors import ApplicationError, NotFound
from cunzhan.core.models import AuditEvent
from cunzhan.core.scope import RegionScope
from cunzhan.logistics import desk, services
from cunzhan.logistics import statemachine as sm
from cunzhan.logistics.models import (
    ExceptionStatus,
    Parcel,
    ParcelException,
    ScanEvent,
    SmsMessage,
)
from cunzhan.network.models import StationStatus
from tests.factories.stations import make_station
from tests.logistics.conftest import BARE_VILLAGE, VILLAGE, row

NATIONAL = RegionScope.national()
COUNTY = RegionScope.for_regions(["520204"])
OTHER = RegionScope.for_regions(["520203"])
T0 = dt.datetime(2026, 11, 2, 8, tzinfo=dt.UTC)


def announce(*numbers, carrier="ZTO", **kw):
    return services.manifest_intake(
        scope=NATIONAL,
        carrier_code=carrier,
        rows=[row(n, **kw) for n in numbers],
        occurred_at=T0,
    )


def tn(n: int) -> str:
    return f"ZT{n:010d}"


def steps(n, types, station=None, carrier="ZTO"):
    return services.scan_events_record(
        scope=NATIONAL,
        events=[
            {
                "event_id": f"t-{carrier}-{n}-{t}",
                "carrier": carrier,
                "tracking_number": tn(n),
                "type": t,
                "occurred_at": T0 + dt.timedelta(minutes=i + 1),
                "station_code": station.code if station and t == sm.AT_STATION else "",
            }
            for i, t in enumerate(types)
        ],
    )


def test_receive_scan_applies_each_line_and_a_rescan_is_a_duplicate(station):
    announce(1, 2, 3)
    lines = f"{tn(1)}\n\n  ZTO {tn(2)}  \n"
    result = desk.desk_scan(scope=COUNTY, type_=sm.RECEIVED_AT_COUNTY, lines=lines, county="520204")
    assert [(r.line, r.status) for r in result] == [(1, "applied"), (3, "applied")]
    assert {p.state for p in Parcel.objects.filter(tracking_number__in=[tn(1), tn(2)])} == {
        sm.RECEIVED_AT_COUNTY
    }
    assert Parcel.objects.get(tracking_number=tn(3)).state == sm.ANNOUNCED
    events = ScanEvent.objects.count()
    again = desk.desk_scan(
        scope=COUNTY, type_=sm.RECEIVED_AT_COUNTY, lines=f"{tn(2)}\n{tn(2)}", county="520204"
    )
    assert [r.status for r in again] == ["duplicate", "duplicate"]
    assert ScanEvent.objects.count() == events


def test_an_unknown_tracking_number_stops_the_whole_batch_and_names_its_line(station):
    announce(1, 2)
    before = ScanEvent.objects.count()
    with pytest.raises(ApplicationError) as err:
        desk.desk_scan(
            scope=COUNTY,
            type_=sm.RECEIVED_AT_COUNTY,
            lines=f"{tn(1)}\nZT-NOPE-1\n{tn(2)}\nZT-NOPE-2",
            county="520204",
        )
    assert err.value.code == "unknown_tracking"
    assert "line 2" in err.value.message
    assert [e["line"] for e in err.value.details["errors"]] == [2, 4]
    assert ScanEvent.objects.count() == before
    assert set(Parcel.objects.values_list("state", flat=True)) == {sm.ANNOUNCED}


def test_a_parcel_outside_the_county_or_the_scope_is_unknown(station):
    announce(1)
    for scope, county in ((OTHER, "520203"), (COUNTY, "520203"), (NATIONAL, "520203")):
        with pytest.raises(ApplicationError) as err:
            desk.desk_scan(scope=scope, type_=sm.RECEIVED_AT_COUNTY, lines=tn(1), county=county)
        assert err.value.code == "unknown_tracking"
    assert Parcel.objects.get().state == sm.ANNOUNCED


def test_the_carrier_is_chosen_given_on_the_line_or_inferred(station):
    announce(1, carrier="ZTO")
    announce(1, carrier="YTO")  # the same number at two carriers
    announce(2, carrier="YTO")
    with pytest.raises(ApplicationError) as err:
        desk.desk_scan(scope=COUNTY, type_=sm.RECEIVED_AT_COUNTY, lines=tn(1))
    assert err.value.details["errors"][0]["problem"] == "ambiguous"
    assert ScanEvent.objects.filter(type=sm.RECEIVED_AT_COUNTY).count() == 0

    got = desk.desk_scan(
        scope=COUNTY, type_=sm.RECEIVED_AT_COUNTY, lines=f"{tn(1)}\n{tn(2)}", carrier="yto"
    )
    assert [(r.parcel.carrier.code, r.status) for r in got] == [("YTO", "applied")] * 2
    got = desk.desk_scan(scope=COUNTY, type_=sm.RECEIVED_AT_COUNTY, lines=f"zto {tn(1)}")
    assert got[0].parcel.carrier.code == "ZTO" and got[0].status == "applied"
    with pytest.raises(ApplicationError) as err:
        desk.desk_scan(scope=COUNTY, type_=sm.RECEIVED_AT_COUNTY, lines=tn(2), carrier="NOPE")
    assert err.value.code == "unknown_carrier"


def test_an_illegal_scan_is_stored_and_opens_an_exception(station):
    announce(1)
    got = desk.desk_scan(scope=COUNTY, type_=sm.SORTED, lines=tn(1))
    assert got[0].status == "illegal"
    p = Parcel.objects.get()
    assert p.state == sm.ANNOUNCED
    x = ParcelException.objects.get(parcel=p)
    assert x.problem == ParcelException.Problem.ILLEGAL_TRANSITION and x.status == "open"


def test_empty_and_oversized_forms_are_refused(station):
    with pytest.raises(ApplicationError) as err:
        desk.desk_scan(scope=COUNTY, type_=sm.SORTED, lines=" \n\n")
    assert err.value.code == "invalid_scan"
    with pytest.raises(ApplicationError) as err:
        desk.desk_scan(scope=COUNTY, type_=sm.PICKED_UP, lines=tn(1))
    assert err.value.code == "invalid_scan"
    with pytest.raises(ApplicationError) as err:
        desk.desk_scan(
            scope=COUNTY, type_=sm.SORTED, lines="\n".join(f"X{i:05d}" for i in range(2001))
        )
    assert err.value.code == "batch_too_large"


def test_arrival_at_the_station_assigns_code_and_shelf_and_sends_the_sms(station):
    announce(1, 2)
    steps(1, [sm.RECEIVED_AT_COUNTY, sm.SORTED, sm.LOADED])
    steps(2, [sm.RECEIVED_AT_COUNTY, sm.SORTED])
    op_scope = RegionScope(prefixes=(VILLAGE,), station_ids=(station.pk,))
    assert [
        p.tracking_number for p in desk.station_to_receive(scope=op_scope, station=station)
    ] == [tn(1)]
    with pytest.raises(ApplicationError):  # not loaded for this station? still a known parcel:
        desk.desk_scan(scope=op_scope, type_=sm.AT_STATION, lines="NOPE123", station=station)
    got = desk.desk_scan(scope=op_scope, type_=sm.AT_STATION, lines=tn(1), station=station)
    assert got[0].status == "applied"
    p = Parcel.objects.get(tracking_number=tn(1))
    assert p.state == sm.AT_STATION and len(p.pickup_code) == 6 and p.shelf_slot == "M-001"
    assert SmsMessage.objects.filter(parcel=p, text__contains=p.pickup_code).count() == 1
    assert list(desk.station_waiting(scope=op_scope, station=station)) == [p]


def test_aging_lists_the_oldest_first_and_return_due_clears_the_code(station):
    announce(1, 2, 3)
    for n in (1, 2, 3):
        steps(n, [sm.RECEIVED_AT_COUNTY, sm.SORTED, sm.LOADED, sm.AT_STATION], station)
    Parcel.objects.filter(tracking_number=tn(2)).update(state_at=T0 - dt.timedelta(days=2))
    Parcel.objects.filter(tracking_number=tn(3)).update(state_at=T0 + dt.timedelta(days=3))
    now = T0 + dt.timedelta(days=3, hours=1)  # default reminder: 3 days
    aging, days = desk.station_aging(scope=COUNTY, station=station, now=now)
    assert days == 3
    assert [p.tracking_number for p in aging] == [tn(2), tn(1)]
    figures = desk.station_figures(scope=COUNTY, station=station, now=now)
    assert figures["waiting"] == 3 and figures["aging"] == 2 and figures["to_receive"] == 0

    p = desk.parcel_return_due(
        scope=COUNTY, station=station, parcel_id=Parcel.objects.get(tracking_number=tn(2)).uuid
    )
    assert p.state == sm.RETURN_DUE and p.pickup_code == ""
    with pytest.raises(ApplicationError) as err:
        desk.parcel_return_due(scope=COUNTY, station=station, parcel_id=p.uuid)
    assert err.value.code == "not_waiting"
    with pytest.raises(NotFound):
        desk.parcel_return_due(
            scope=OTHER, station=station, parcel_id=Parcel.objects.get(tracking_number=tn(1)).uuid
        )


def test_county_figures_inbound_and_sorting(station):
    announce(1, 2, 3, 4)
    steps(1, [sm.RECEIVED_AT_COUNTY])
    steps(2, [sm.RECEIVED_AT_COUNTY, sm.SORTED])
    steps(3, [sm.RECEIVED_AT_COUNTY, sm.SORTED, sm.LOADED, sm.AT_STATION], station)
    now = T0 + dt.timedelta(hours=2)
    f = desk.county_figures(scope=COUNTY, county="520204", now=now)
    assert (f["announced"], f["at_centre"], f["sorted"], f["waiting"]) == (1, 1, 1, 1)
    assert f["today"]["announced"] == 4 and f["today"]["received"] == 3
    assert desk.county_figures(scope=OTHER, county="520204", now=now)["announced"] == 0

    rows = desk.inbound_by_carrier(scope=COUNTY, county="520204", now=now)
    assert rows == [
        {
            "carrier": "ZTO",
            "carrier_name": "中通快递",
            "today_announced": 4,
            "today_received": 3,
            "week_announced": 4,
            "week_received": 3,
            "missing": 0,
        }
    ]
    later = desk.inbound_by_carrier(scope=COUNTY, county="520204", now=T0 + dt.timedelta(days=2))
    assert later[0]["missing"] == 1  # announced two days ago, never received

    s = desk.sorting_groups(scope=COUNTY, county="520204")
    assert (s["to_sort"], s["sorted"], s["weight_g"]) == (1, 1, 2400)
    assert s["has_routes"] is False  # no plan today: grouped by township and station only
    [group] = s["groups"]
    assert group["code"] == "520204106" and group["stations"][0]["station"] == station


def _unmatched():
    announce(9, village_code=BARE_VILLAGE)
    p = Parcel.objects.get(tracking_number=tn(9))
    return p, ParcelException.objects.get(parcel=p, problem="unmatched")


def test_resolve_an_unmatched_parcel_with_a_station_of_its_township(station, make_user):
    p, x = _unmatched()
    assert p.station is None
    far = make_station("520203101201", StationStatus.ACTIVE)
    assert desk.exception_station_choices(scope=NATIONAL, parcel=p) == [station]
    for code in (far.code, "NOPE"):
        with pytest.raises(ApplicationError) as err:
            desk.exception_resolve_with_station(
                scope=COUNTY, exception_id=x.pk, note="改派", station_code=code
            )
        assert err.value.code == "invalid_station"
    with pytest.raises(ApplicationError) as err:
        desk.exception_resolve_with_station(scope=COUNTY, exception_id=x.pk, note="  ")
    assert err.value.code == "note_required"
    with pytest.raises(NotFound):
        desk.exception_resolve_with_station(scope=OTHER, exception_id=x.pk, note="x")
    x.refresh_from_db()
    p.refresh_from_db()
    assert x.status == "open" and p.station is None
    assert not AuditEvent.objects.filter(object_type="logistics.ParcelException").exists()

    user = make_user("county_manager", regions=["520204"])
    desk.exception_resolve_with_station(
        scope=COUNTY, exception_id=x.pk, note="送邻村海坪", station_code=station.code, actor=user
    )
    x.refresh_from_db()
    p.refresh_from_db()
    assert x.status == ExceptionStatus.RESOLVED and x.note == "送邻村海坪" and x.resolved_by == user
    assert p.station == station
    audit = AuditEvent.objects.get(object_type="logistics.ParcelException")
    assert audit.before["station_id"] is None and audit.after["station_id"] == station.pk
    assert audit.actor == user and audit.region_code == BARE_VILLAGE
    with pytest.raises(ApplicationError) as err:
        desk.exception_resolve_with_station(scope=COUNTY, exception_id=x.pk, note="again")
    assert err.value.code == "already_resolved"
    # the parcel now goes on like any other: to the station, a pickup code
    steps(9, [sm.RECEIVED_AT_COUNTY, sm.SORTED, sm.LOADED, sm.AT_STATION], station)
    assert Parcel.objects.get(pk=p.pk).pickup_code


def test_a_station_is_not_given_to_a_parcel_past_the_centre_nor_for_an_illegal_scan(station):
    p, x = _unmatched()
    Parcel.objects.filter(pk=p.pk).update(state=sm.LOADED)
    with pytest.raises(ApplicationError) as err:
        desk.exception_resolve_with_station(
            scope=COUNTY, exception_id=x.pk, note="x", station_code=station.code
        )
    assert err.value.code == "invalid_state"
    announce(1)
    desk.desk_scan(scope=COUNTY, type_=sm.SORTED, lines=tn(1))
    illegal = ParcelException.objects.get(problem="illegal_transition")
    with pytest.raises(ApplicationError) as err:
        desk.exception_resolve_with_station(
            scope=COUNTY, exception_id=illegal.pk, note="x", station_code=station.code
        )
    assert err.value.code == "invalid_station"
    desk.exception_resolve_with_station(scope=COUNTY, exception_id=illegal.pk, note="误扫")
    assert list(desk.exception_list(scope=COUNTY)) == [x]
    assert list(desk.exception_list(scope=COUNTY, status="resolved")) == [illegal]
    assert list(desk.exception_list(scope=OTHER)) == []
    assert list(desk.exception_list(scope=COUNTY, problem="unmatched", county="520204")) == [x]
    with pytest.raises(ApplicationError):
        desk.exception_list(scope=COUNTY, problem="nope")


def test_sorting_orders_stations_by_todays_route_when_a_plan_exists(station, monkeypatch):
    """The planning models live in another module (ADR 0011): stand-ins with their shape."""
    other = make_station(BARE_VILLAGE, StationStatus.ACTIVE)
    announce(1)
    announce(2, village_code=BARE_VILLAGE)
    steps(1, [sm.RECEIVED_AT_COUNTY])
    steps(2, [sm.RECEIVED_AT_COUNTY])

    class _QS(list):
        def first(self):
            return self[0] if self else None

        def values_list(self, *fields):
            return self

    class Plan:
        objects = type("M", (), {"filter": staticmethod(lambda **kw: _QS(["plan"]))})

    class Stop:
        rows = _QS([(other.pk, 1, "黔A·1号车", 2), (station.pk, 2, "黔A·2号车", 1)])
        objects = type("M", (), {"filter": staticmethod(lambda **kw: Stop.rows)})

    models = {"DailyPlan": Plan, "PlanStop": Stop}
    monkeypatch.setattr(desk.apps, "get_model", lambda app, name: models[name])
    s = desk.sorting_groups(scope=COUNTY, county="520204")
    assert s["has_routes"] is True
    rows = s["groups"][0]["stations"]
    assert [(d["station"], d["route"]) for d in rows] == [
        (other, "1 · 黔A·1号车 · #2"),
        (station, "2 · 黔A·2号车 · #1"),
    ]

    def missing(app, name):
        raise LookupError(name)

    monkeypatch.setattr(desk.apps, "get_model", missing)
    assert desk.sorting_groups(scope=COUNTY, county="520204")["has_routes"] is False
