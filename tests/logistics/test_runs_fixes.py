"""Runs: defects found in review — the driver's drop vs the station's receive, taps
repeated after an illegal answer, returns waiting at the station, locks, bad input."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client

from cunzhan.core.errors import ApplicationError
from cunzhan.logistics import plans, runs, services
from cunzhan.logistics import statemachine as sm
from cunzhan.logistics.models import (
    Parcel,
    ParcelException,
    PlanItem,
    ScanEvent,
)
from tests.factories.plans import (
    DAY,
    EARLY,
    NATIONAL,
    booked_shipment,
    county_centre,
    planned_day,
    sorted_parcels,
    van,
    village_stations,
)

COUNTY = "520204"


@pytest.fixture
def planned(regions, make_user):
    return planned_day(make_user, COUNTY)


def _event(p: Parcel, type_: str, at: dt.datetime, station_code: str = "") -> dict:
    return {
        "event_id": f"t-{p.tracking_number}-{type_}",
        "carrier": p.carrier.code,
        "tracking_number": p.tracking_number,
        "type": type_,
        "occurred_at": at,
        "station_code": station_code,
    }


def _operator(make_user, station) -> Client:
    c = Client()
    c.force_login(make_user("station_operator", regions=[COUNTY], stations=[station.pk]))
    return c


# --- 1. the driver's drop and the station's receive ---------------------------------------


def test_parcels_received_by_the_operator_first_count_as_dropped(planned, make_user):
    d = planned["driver"]
    run = runs.run_start(scope=NATIONAL, route=planned["route"], actor=d)
    runs.run_load(scope=NATIONAL, run=run, actor=d)
    first = planned["drops"][0]
    op = _operator(make_user, planned["a"])
    r = op.post(f"/logistics/stations/{planned['a'].pk}/receive/", {"lines": first.tracking_number})
    assert r.status_code == 200
    assert Parcel.objects.get(pk=first.pk).state == sm.AT_STATION
    result = runs.run_drop(scope=NATIONAL, run=run, stop=planned["stop_a"], actor=d)
    assert (result.sent, result.applied, result.illegal) == (2, 2, 0)
    stop = PlanItem.objects.get(parcel=first).stop
    assert stop.dropped == 3
    assert (
        not ScanEvent.objects.filter(event_id__startswith="run", type=sm.AT_STATION)
        .filter(parcel=first)
        .exists()
    )
    assert not ParcelException.objects.exists()


def test_the_receive_page_reports_parcels_the_driver_dropped_as_already_received(
    planned, make_user
):
    d = planned["driver"]
    run = runs.run_start(scope=NATIONAL, route=planned["route"], actor=d)
    first, second, third = planned["drops"]
    runs.run_load(scope=NATIONAL, run=run, actor=d)
    runs.run_drop(
        scope=NATIONAL,
        run=run,
        stop=planned["stop_a"],
        actor=d,
        tracking_numbers=[first.tracking_number, second.tracking_number],
    )
    events = ScanEvent.objects.count()
    op = _operator(make_user, planned["a"])
    url = f"/logistics/stations/{planned['a'].pk}/receive/"
    r = op.post(url, {"lines": first.tracking_number})
    assert r.status_code == 200
    assert "已在本站" in r.content.decode() and first.tracking_number in r.content.decode()
    assert ScanEvent.objects.count() == events
    # a stale one-tap form naming a dropped parcel and one still loaded
    r = op.post(url, {"action": "all", "parcel": [str(second.uuid), str(third.uuid)]})
    assert r.status_code == 200 and "已在本站" in r.content.decode()
    assert Parcel.objects.get(pk=third.pk).state == sm.AT_STATION
    assert ScanEvent.objects.count() == events + 1
    assert not ParcelException.objects.exists()


def test_a_drop_tap_repeated_after_an_illegal_load_does_not_lock_the_stop(planned):
    d = planned["driver"]
    bad, *good = planned["drops"]
    # damaged at the centre after the plan was built: loading it is illegal
    services.scan_events_record(
        scope=NATIONAL,
        events=[_event(bad, sm.DAMAGED, EARLY + dt.timedelta(minutes=30))],
        actor=None,
    )
    run = runs.run_start(scope=NATIONAL, route=planned["route"], actor=d)
    first = runs.run_drop(
        scope=NATIONAL,
        run=run,
        stop=planned["stop_a"],
        actor=d,
        tracking_numbers=[bad.tracking_number],
    )
    assert first.illegal == 1 and first.applied == 0
    again = runs.run_drop(scope=NATIONAL, run=run, stop=planned["stop_a"], actor=d)
    assert again.applied == 2
    assert all(Parcel.objects.get(pk=p.pk).state == sm.AT_STATION for p in good)
    assert runs.run_drop(scope=NATIONAL, run=run, stop=planned["stop_a"], actor=d).sent == 0
    assert ScanEvent.objects.filter(parcel=bad, type=sm.AT_STATION).count() == 0
    assert ScanEvent.objects.filter(parcel=bad, type=sm.LOADED).count() == 1


def test_a_load_tap_repeated_after_an_illegal_answer_sends_nothing_again(planned):
    d = planned["driver"]
    bad = planned["drops"][0]
    services.scan_events_record(
        scope=NATIONAL, events=[_event(bad, sm.DAMAGED, EARLY + dt.timedelta(minutes=30))]
    )
    run = runs.run_start(scope=NATIONAL, route=planned["route"], actor=d)
    assert runs.run_load(scope=NATIONAL, run=run, actor=d).as_dict() == {
        "sent": 3,
        "applied": 2,
        "illegal": 1,
    }
    again = runs.run_load(scope=NATIONAL, run=run, actor=d)
    assert again.as_dict() == {"sent": 0, "applied": 0, "illegal": 0}
    assert ParcelException.objects.filter(parcel=bad).count() == 1


# --- 2. a damaged parcel waits at the station only when damaged there ---------------------


def test_only_parcels_damaged_at_their_station_wait_there_for_the_pickup(regions, make_user):
    driver = make_user("driver", regions=[COUNTY])
    v = van(COUNTY)
    plans.vehicle_update(scope=NATIONAL, vehicle=v, driver_id=driver.pk)
    (b,) = village_stations(COUNTY, "520204106", 1)
    centre = county_centre(COUNTY)
    at_centre, on_van = sorted_parcels(b, 2)
    at_centre_events = [
        _event(at_centre, sm.DAMAGED, EARLY + dt.timedelta(minutes=30), centre.code)
    ]
    on_van_events = [
        _event(on_van, sm.LOADED, EARLY + dt.timedelta(minutes=20), centre.code),
        _event(on_van, sm.DAMAGED, EARLY + dt.timedelta(minutes=40)),
    ]
    services.scan_events_record(scope=NATIONAL, events=at_centre_events + on_van_events)
    (here,) = sorted_parcels(b, 1)
    services.scan_events_record(
        scope=NATIONAL,
        events=[
            _event(here, sm.LOADED, EARLY + dt.timedelta(minutes=20), centre.code),
            _event(here, sm.AT_STATION, EARLY + dt.timedelta(minutes=40), b.code),
            _event(here, sm.DAMAGED, EARLY + dt.timedelta(minutes=50), b.code),
        ],
    )
    assert {p.state for p in Parcel.objects.filter(pk__in=[at_centre.pk, on_van.pk, here.pk])} == {
        sm.DAMAGED
    }
    assert set(plans.returns_waiting_at([b.pk])) == {here}
    plan = plans.plan_build(scope=NATIONAL, county_code=COUNTY, day=DAY, time_limit=1)
    stop = plan.routes.get().stops.get()
    assert set(stop.items.filter(kind="return").values_list("parcel_id", flat=True)) == {here.pk}
    run = runs.run_start(scope=NATIONAL, route=stop.route, actor=driver)
    picked = runs.run_pickup(scope=NATIONAL, run=run, stop=stop, actor=driver)
    assert picked["returns"] == 1
    assert Parcel.objects.get(pk=here.pk).state == sm.COLLECTED
    for p in (at_centre, on_van):
        assert Parcel.objects.get(pk=p.pk).state == sm.DAMAGED
        assert not PlanItem.objects.filter(parcel=p).exists()


# --- 3. / 4. locks ----------------------------------------------------------------------


def _locked_tables(queries) -> set[str]:
    return {
        t
        for q in queries
        if "FOR UPDATE" in q["sql"]
        for t in (
            "logistics_planstop",
            "logistics_dailyplan",
            "logistics_planroute",
            "logistics_run",
        )
        if f'FROM "{t}"' in q["sql"]
    }


def test_pickup_locks_the_stop_and_adds_each_late_item_once(planned):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    d = planned["driver"]
    run = runs.run_start(scope=NATIONAL, route=planned["route"], actor=d)
    late = booked_shipment(planned["b"], pieces=1, weight_g=3000)
    with CaptureQueriesContext(connection) as ctx:
        runs.run_pickup(scope=NATIONAL, run=run, stop=planned["stop_b"], actor=d)
    runs.run_pickup(scope=NATIONAL, run=run, stop=planned["stop_b"], actor=d)
    assert PlanItem.objects.filter(shipment=late).count() == 1
    if connection.features.has_select_for_update:
        assert "logistics_planstop" in _locked_tables(ctx.captured_queries)
    else:  # SQLite: one writer at a time; the lock is asked all the same
        assert any(
            "logistics_planstop" in q["sql"] and q["sql"].startswith("SELECT")
            for q in ctx.captured_queries
        )


def test_run_start_locks_the_plan_and_answers_409_when_the_route_was_rebuilt_away(planned):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    d = planned["driver"]
    route = planned["route"]
    with CaptureQueriesContext(connection) as ctx:
        runs.run_start(scope=NATIONAL, route=route, actor=d)
    if connection.features.has_select_for_update:
        assert {"logistics_dailyplan", "logistics_planroute"} <= _locked_tables(
            ctx.captured_queries
        )
    else:
        assert any("logistics_dailyplan" in q["sql"] for q in ctx.captured_queries)
    # a route deleted by a rebuild (which holds the plan's lock) is a clear 409, not a 500
    gone = plans.plan_build(
        scope=NATIONAL, county_code=COUNTY, day=DAY + dt.timedelta(days=1), time_limit=1
    )
    stale = gone.routes.first()
    assert stale is not None
    gone.delete()
    with pytest.raises(ApplicationError) as exc:
        runs.run_start(scope=NATIONAL, route=stale, actor=d)
    assert exc.value.status == 409 and exc.value.code == "plan_rebuilt"


# --- 5. one rule for collecting shipments ------------------------------------------------


def test_the_pickup_collects_shipments_by_the_rule_of_shipment_collect(planned, monkeypatch):
    from cunzhan.logistics import shipments
    from cunzhan.logistics.models import Shipment

    d = planned["driver"]
    cancelled = booked_shipment(planned["b"], pieces=1, weight_g=2000)
    shipments.shipment_cancel(scope=NATIONAL, shipment=cancelled)
    calls = []
    real = shipments.shipments_collect_many

    def spy(**kw):
        calls.append(set(kw["shipment_ids"]))
        return real(**kw)

    monkeypatch.setattr(shipments, "shipments_collect_many", spy)
    run = runs.run_start(scope=NATIONAL, route=planned["route"], actor=d)
    picked = runs.run_pickup(scope=NATIONAL, run=run, stop=planned["stop_b"], actor=d)
    assert picked["shipments"] == 1 and calls == [{planned["ship"].pk}]
    assert Shipment.objects.get(pk=cancelled.pk).state == "cancelled"
    # the bulk rule is the single one's: only from the states shipment_collect allows
    assert real(shipment_ids=[cancelled.pk, planned["ship"].pk], at=EARLY) == set()
    assert shipments.COLLECT_FROM == ("booked",)


# --- 6. bad input and races: clear errors, no 500 ---------------------------------------


@pytest.mark.parametrize("reading", ["NaN", "nan", "sNaN", "inf", "-Infinity", "Infinity"])
def test_a_non_finite_odometer_reading_is_refused(planned, reading):
    d = planned["driver"]
    with pytest.raises(ApplicationError) as exc:
        runs.run_start(scope=NATIONAL, route=planned["route"], actor=d, odometer_km=reading)
    assert exc.value.code == "invalid_run" and "odometer" in exc.value.message


def test_the_driver_page_answers_a_nan_odometer_with_a_message(planned):
    from cunzhan.logistics.models import Run

    c = Client()
    c.force_login(planned["driver"])
    url = f"/logistics/routes/{planned['route'].pk}/start/"
    r = c.post(url, {"odometer_km": "NaN"}, follow=True)
    assert r.status_code == 200 and "odometer" in r.content.decode()
    assert not Run.objects.exists()


def test_vehicle_pages_refuse_a_driver_id_that_is_not_a_number(regions, make_user):
    from cunzhan.logistics.models import Vehicle

    v = van(COUNTY)
    manager = make_user("county_manager", regions=[COUNTY])
    c = Client()
    c.force_login(manager)
    form = {
        "name": "车9",
        "capacity_kg": "800",
        "capacity_pieces": "100",
        "shift_start": "07:30",
        "shift_end": "18:30",
        "driver_id": "abc",
        "county": COUNTY,
        "active": "on",
    }
    r = c.post("/logistics/vehicles/", form)
    assert r.status_code == 400 and "driver" in r.content.decode()
    r = c.post(f"/logistics/vehicles/{v.pk}/", {**form, "name": v.name})
    assert r.status_code == 400 and "driver" in r.content.decode()
    assert Vehicle.objects.count() == 1 and Vehicle.objects.get().driver_id is None
    for bad in ("abc", "99999999999999999999999"):
        with pytest.raises(ApplicationError) as exc:
            plans.vehicle_update(scope=NATIONAL, vehicle=v, driver_id=bad)
        assert exc.value.code == "invalid_driver"
        with pytest.raises(ApplicationError) as exc:
            plans.vehicle_update(scope=NATIONAL, vehicle=v, depot_id=bad)
        assert exc.value.code == "invalid_depot"


def test_the_same_vehicle_name_added_at_the_same_moment_is_a_409(regions, monkeypatch):
    van(COUNTY, name="车7")
    # the other request's insert lands between our check and our insert
    monkeypatch.setattr(plans, "_name_taken", lambda *a, **k: False)
    with pytest.raises(ApplicationError) as exc:
        van(COUNTY, name="车7")
    assert exc.value.status == 409 and exc.value.code == "duplicate_vehicle"


def test_two_first_plans_of_a_day_at_the_same_moment_give_a_409(planned, monkeypatch):
    from cunzhan.logistics.models import DailyPlan

    # the other build stored the day's first plan after our read: we see none
    monkeypatch.setattr(plans, "_existing_plan", lambda county, day: None)
    with pytest.raises(ApplicationError) as exc:
        plans.plan_build(scope=NATIONAL, county_code=COUNTY, day=DAY, time_limit=1)
    assert exc.value.status == 409 and exc.value.code == "plan_conflict"
    assert DailyPlan.objects.get().routes.get() == planned["route"]


# --- 7. no query per plan or per stop ---------------------------------------------------


def _queries_on(ctx, table: str) -> int:
    return sum(1 for q in ctx.captured_queries if f'"{table}"' in q["sql"])


def test_plan_lists_and_the_run_report_do_not_query_per_plan_or_per_stop(
    planned, make_user, api_client
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    plans.plan_build(
        scope=NATIONAL, county_code=COUNTY, day=DAY + dt.timedelta(days=1), time_limit=1
    )
    manager = make_user("county_manager", regions=[COUNTY])
    c = Client()
    c.force_login(manager)
    with CaptureQueriesContext(connection) as page:
        r = c.get("/logistics/plans/")
    assert r.status_code == 200
    assert _queries_on(page, "logistics_planroute") <= 1  # one joined count, not one per plan
    api = api_client(manager)
    with CaptureQueriesContext(connection) as listed:
        r = api.get("/api/v1/logistics/plans")
    assert r.status_code == 200 and sorted(p["routes"] for p in r.json()) == [1, 1]
    assert _queries_on(listed, "logistics_planroute") <= 1
    with CaptureQueriesContext(connection) as report:
        out = runs.run_report(route=planned["route"])
    assert len(out["stops"]) == 2 and out["drops_planned"] == 3
    assert _queries_on(report, "logistics_planitem") == 1
