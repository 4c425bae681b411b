"""Runs: the driver's scans move the parcels through the state machine; shipments are
collected; planned vs actual."""

from __future__ import annotations

import pytest

from cunzhan.core.errors import ApplicationError, PermissionDenied
from cunzhan.logistics import runs
from cunzhan.logistics import statemachine as sm
from cunzhan.logistics.models import (
    DailyPlan,
    Parcel,
    ParcelException,
    PlanItem,
    ScanEvent,
    Shipment,
)
from tests.factories.plans import (
    DAY,
    NATIONAL,
    booked_shipment,
    planned_day,
)

COUNTY = "520204"


@pytest.fixture
def planned(regions, make_user):
    return planned_day(make_user, COUNTY)


def test_a_whole_run_moves_parcels_and_shipments_and_reports_planned_vs_actual(planned):
    d = planned["driver"]
    run = runs.run_start(scope=NATIONAL, route=planned["route"], actor=d, odometer_km="1000.0")
    assert DailyPlan.objects.get().status == "in_progress"
    loaded = runs.run_load(scope=NATIONAL, run=run, actor=d)
    assert loaded.as_dict() == {"sent": 3, "applied": 3, "illegal": 0}
    assert {p.state for p in Parcel.objects.filter(pk__in=[p.pk for p in planned["drops"]])} == {
        sm.LOADED
    }
    # a second tap sends nothing again
    assert runs.run_load(scope=NATIONAL, run=run, actor=d).sent == 0

    stop_a = planned["stop_a"]
    runs.run_arrive(scope=NATIONAL, run=run, stop=stop_a, actor=d)
    first = planned["drops"][0]
    one = runs.run_drop(
        scope=NATIONAL, run=run, stop=stop_a, actor=d, tracking_numbers=[first.tracking_number]
    )
    assert one.applied == 1
    first.refresh_from_db()
    assert first.state == sm.AT_STATION and first.station_id == stop_a.station_id
    assert first.pickup_code  # the recipient is told by SMS
    rest = runs.run_drop(scope=NATIONAL, run=run, stop=stop_a, actor=d)
    assert rest.applied == 2
    stop_a.refresh_from_db()
    assert stop_a.dropped == 3 and stop_a.arrived_at is not None

    stop_b = planned["stop_b"]
    picked = runs.run_pickup(scope=NATIONAL, run=run, stop=stop_b, actor=d)
    assert picked == {"shipments": 1, "returns": 1, "illegal": 0}
    ship = Shipment.objects.get(pk=planned["ship"].pk)
    assert ship.state == "collected" and ship.collected_at is not None
    ret = Parcel.objects.get(pk=planned["ret"].pk)
    assert ret.state == sm.COLLECTED
    assert ScanEvent.objects.filter(parcel=ret, type=sm.COLLECTED, station=stop_b.station).exists()

    runs.run_finish(scope=NATIONAL, run=run, actor=d, odometer_km="1042.5")
    assert DailyPlan.objects.get().status == "done"
    report = runs.run_report(route=planned["route"])
    assert report["actual_km"] == pytest.approx(42.5)
    assert report["planned_km"] == round(planned["route"].metres / 1000, 1)
    assert (report["drops_planned"], report["drops_done"]) == (3, 3)
    assert (report["pickups_planned"], report["pickups_done"]) == (3, 3)  # 2 pieces + 1 return
    assert report["visited"] == 2
    assert all(s["late_min"] is not None for s in report["stops"])
    assert not ParcelException.objects.exists()
    with pytest.raises(ApplicationError) as exc:
        runs.run_load(scope=NATIONAL, run=run, actor=d)
    assert exc.value.code == "run_finished"


def test_dropping_a_parcel_not_scanned_at_loading_records_both_scans(planned):
    d = planned["driver"]
    run = runs.run_start(scope=NATIONAL, route=planned["route"], actor=d)
    result = runs.run_drop(scope=NATIONAL, run=run, stop=planned["stop_a"], actor=d)
    assert result.applied == 3 and result.illegal == 0
    p = Parcel.objects.get(pk=planned["drops"][0].pk)
    assert p.state == sm.AT_STATION
    assert list(p.events.order_by("occurred_at").values_list("type", flat=True))[-2:] == [
        sm.LOADED,
        sm.AT_STATION,
    ]


def test_a_parcel_that_is_not_on_the_stop_is_refused(planned):
    d = planned["driver"]
    run = runs.run_start(scope=NATIONAL, route=planned["route"], actor=d)
    with pytest.raises(ApplicationError) as exc:
        runs.run_drop(
            scope=NATIONAL, run=run, stop=planned["stop_a"], actor=d, tracking_numbers=["NOPE1"]
        )
    assert exc.value.code == "not_on_route" and "NOPE1" in exc.value.message
    assert not PlanItem.objects.filter(done_at__isnull=False).exists()


def test_a_shipment_booked_after_the_plan_is_collected_too(planned):
    d = planned["driver"]
    run = runs.run_start(scope=NATIONAL, route=planned["route"], actor=d)
    late = booked_shipment(planned["stop_b"].station, pieces=1, weight_g=5000)
    picked = runs.run_pickup(scope=NATIONAL, run=run, stop=planned["stop_b"], actor=d)
    assert picked["shipments"] == 2
    assert Shipment.objects.get(pk=late.pk).state == "collected"
    assert PlanItem.objects.get(shipment=late).planned is False


def test_another_driver_cannot_drive_the_route_and_a_run_starts_once(planned, make_user):
    other = make_user("driver", regions=[COUNTY])
    with pytest.raises(PermissionDenied):
        runs.run_start(scope=NATIONAL, route=planned["route"], actor=other)
    auditor = make_user("auditor", regions=[COUNTY])
    with pytest.raises(PermissionDenied):
        runs.run_start(scope=NATIONAL, route=planned["route"], actor=auditor)
    runs.run_start(scope=NATIONAL, route=planned["route"], actor=planned["driver"])
    with pytest.raises(ApplicationError) as exc:
        runs.run_start(scope=NATIONAL, route=planned["route"], actor=planned["driver"])
    assert exc.value.code == "run_started"


def test_odometer_must_not_go_backwards(planned):
    d = planned["driver"]
    run = runs.run_start(scope=NATIONAL, route=planned["route"], actor=d, odometer_km=500)
    with pytest.raises(ApplicationError) as exc:
        runs.run_finish(scope=NATIONAL, run=run, actor=d, odometer_km=499)
    assert exc.value.code == "invalid_run"
    with pytest.raises(ApplicationError):
        runs.run_finish(scope=NATIONAL, run=run, actor=d, odometer_km="abc")


def test_driver_routes_prefers_his_own_vehicle(planned, make_user):
    mine = runs.driver_routes(scope=NATIONAL, user=planned["driver"], day=DAY)
    assert mine == [planned["route"]]
    other = make_user("driver", regions=[COUNTY])
    assert runs.driver_routes(scope=NATIONAL, user=other, day=DAY) == []
    manager = make_user("county_manager", regions=[COUNTY])
    assert runs.driver_routes(scope=NATIONAL, user=manager, day=DAY) == [planned["route"]]
