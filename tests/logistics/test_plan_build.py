"""The daily plan built from the database: loads at the cut-off, the solver, the
independent checker, what is stored, and the clear errors."""

from __future__ import annotations

import datetime as dt

import pytest

from cunzhan.core.errors import ApplicationError, NotFound
from cunzhan.core.scope import RegionScope
from cunzhan.logistics import plans, runs
from cunzhan.logistics.models import DailyPlan, PlanItem, PlanStop, Vehicle
from cunzhan.logistics.planning.checker import check
from cunzhan.network.models import Station
from tests.factories.plans import (
    DAY,
    EARLY,
    NATIONAL,
    booked_shipment,
    county_centre,
    refused_parcel,
    sorted_parcels,
    van,
    village_stations,
)

COUNTY = "520204"
TOWNSHIP = "520204106"


@pytest.fixture
def small(regions):
    stations = village_stations(COUNTY, TOWNSHIP, 6)
    return stations


def build(**kw):
    kw.setdefault("time_limit", 1.0)
    return plans.plan_build(scope=NATIONAL, county_code=COUNTY, day=DAY, **kw)


def test_plan_is_feasible_stored_and_its_loads_are_the_cutoff_loads(small):
    van(COUNTY, "车1")
    van(COUNTY, "车2", capacity_kg=800, capacity_pieces=120)
    a, b, c, d, e, f = small
    sorted_parcels(a, 3, weight_g=1500)
    sorted_parcels(b, 2, weight_g=700)
    sorted_parcels(c, 1, weight_g=20_000)
    # sorted after the cut-off: tomorrow's load
    sorted_parcels(d, 4, at=EARLY + dt.timedelta(hours=3))
    ship = booked_shipment(e, pieces=3, weight_g=30_000)
    ret = refused_parcel(f)
    plan = build()
    assert plan.feasible and plan.violations == []
    stops = {s.station_id: s for s in PlanStop.objects.filter(route__plan=plan)}
    assert set(stops) == {a.pk, b.pk, c.pk, e.pk, f.pk}  # d has nothing before the cut-off
    assert (stops[a.pk].drop_pieces, stops[a.pk].drop_g) == (3, 4500)
    assert (stops[b.pk].drop_pieces, stops[b.pk].drop_g) == (2, 1400)
    assert (stops[e.pk].pickup_pieces, stops[e.pk].pickup_g, stops[e.pk].drop_pieces) == (
        3,
        30_000,
        0,
    )
    assert (stops[f.pk].pickup_pieces, stops[f.pk].pickup_g) == (1, 2000)
    # which parcels / shipments ride which stop
    items = PlanItem.objects.filter(stop__route__plan=plan)
    assert items.filter(kind="drop").count() == 6
    assert items.get(kind="shipment").shipment == ship
    assert items.get(kind="return").parcel == ret
    assert items.get(kind="return").stop.station == f
    # totals add up, times are in the windows and within the shifts
    routes = list(plan.routes.all())
    assert plan.total_metres == sum(r.metres for r in routes) > 0
    assert plan.total_cost_fen == sum(r.cost_fen for r in routes)
    for r in routes:
        assert r.cost_fen == round(r.metres * 150 / 1000) + 5000
        assert r.departs_at.astimezone(plans._tz()).time() >= dt.time(7, 30)
        assert r.returns_at.astimezone(plans._tz()).time() <= dt.time(18, 30)
        prev = r.departs_at
        for s in r.stops.all():
            assert prev <= s.arrives_at <= s.departs_at
            local = s.arrives_at.astimezone(plans._tz()).time()
            assert s.station.opens_at <= local <= s.station.closes_at
            prev = s.departs_at
    assert plan.unserved == []


def test_the_stored_routes_pass_the_independent_checker(small):
    van(COUNTY, "车1", capacity_pieces=5)
    van(COUNTY, "车2", capacity_pieces=5)
    for st in small[:4]:
        sorted_parcels(st, 2)
    plan = build()
    county = plan.county
    cutoff = plans.cutoff_at(county_code=COUNTY, day=DAY)
    loads = plans.loads_at_cutoff(county=county, cutoff=cutoff)
    vehicles = list(Vehicle.objects.filter(county=county).order_by("name", "id"))
    provider, _ = plans.distance_provider(county_code=COUNTY)
    built = plans.build_problem(
        county=county, day=DAY, cutoff=cutoff, vehicles=vehicles, loads=loads, provider=provider
    )
    index = {c.station.pk: i for i, c in enumerate(built.clients)}
    routes = [
        (vehicles.index(r.vehicle), [index[s.station_id] for s in r.stops.order_by("position")])
        for r in plan.routes.all()
    ]
    result = check(built.problem, routes)
    assert result.feasible, result.violations
    # 8 pieces, 5 per van: both vans are needed
    assert len(routes) == 2 and all(len(stops) == 2 for _, stops in routes)
    assert round(result.distance) == plan.total_metres


def test_rebuilding_replaces_an_unstarted_plan_and_refuses_a_started_one(small, make_user):
    van(COUNTY)
    sorted_parcels(small[0], 2)
    first = build()
    sorted_parcels(small[1], 1)
    second = build()
    assert not DailyPlan.objects.filter(pk=first.pk).exists()
    assert PlanStop.objects.filter(route__plan=second).count() == 2
    driver = make_user("driver", regions=[COUNTY])
    runs.run_start(scope=NATIONAL, route=second.routes.get(), actor=driver)
    with pytest.raises(ApplicationError) as exc:
        build()
    assert exc.value.code == "plan_started" and exc.value.status == 409
    assert DailyPlan.objects.get(pk=second.pk).status == "in_progress"


def test_no_vehicles_is_a_clear_error(small):
    county_centre(COUNTY)
    sorted_parcels(small[0], 1)
    with pytest.raises(ApplicationError) as exc:
        build()
    assert exc.value.code == "no_vehicles" and "水城区" in exc.value.message
    assert not DailyPlan.objects.exists()


def test_a_depot_without_coordinates_is_a_clear_error(small):
    v = van(COUNTY)
    Station.objects.filter(pk=v.depot_id).update(longitude=None, latitude=None)
    sorted_parcels(small[0], 1)
    with pytest.raises(ApplicationError) as exc:
        build()
    assert exc.value.code == "depot_without_coordinates"


def test_stations_that_cannot_be_planned_are_listed_with_the_reason(small):
    van(COUNTY, capacity_kg=100, capacity_pieces=10)
    a, b, c, d = small[:4]
    sorted_parcels(a, 2)  # fine
    sorted_parcels(b, 11)  # more pieces than any van
    sorted_parcels(c, 1)
    Station.objects.filter(pk=c.pk).update(longitude=None, latitude=None)
    sorted_parcels(d, 1)
    Station.objects.filter(pk=d.pk).update(open_days="67")  # closed on Tuesdays
    plan = build()
    reasons = {u["station_code"]: u["reason_code"] for u in plan.unserved}
    assert reasons == {b.code: "too_large", c.code: "no_coordinates", d.code: "closed"}
    too_large = next(u for u in plan.unserved if u["station_code"] == b.code)
    assert "11 pieces" in too_large["reason"] and too_large["drop_pieces"] == 11
    assert [s.station_id for s in PlanStop.objects.filter(route__plan=plan)] == [a.pk]
    assert plan.feasible


def test_what_the_fleet_cannot_carry_waits_for_the_next_plan(small):
    van(COUNTY, capacity_pieces=4)
    for st in small[:3]:
        sorted_parcels(st, 3)  # 9 pieces, one van of 4: only one station fits
    plan = build()
    assert plan.feasible
    assert PlanStop.objects.filter(route__plan=plan).count() == 1
    assert sorted(u["reason_code"] for u in plan.unserved) == ["fleet_full", "fleet_full"]


def test_an_empty_day_gives_an_empty_plan(small):
    van(COUNTY)
    plan = build()
    assert plan.feasible and plan.routes.count() == 0 and plan.total_metres == 0


def test_plan_build_outside_the_scope_is_not_found(small):
    van(COUNTY)
    with pytest.raises(NotFound):
        plans.plan_build(
            scope=RegionScope.for_regions(["520203"]), county_code=COUNTY, day=DAY, time_limit=1
        )


def test_time_limit_is_checked(small):
    van(COUNTY)
    with pytest.raises(ApplicationError) as exc:
        build(time_limit=0)
    assert exc.value.code == "invalid_plan"


def test_geojson_has_a_line_per_route_and_a_point_per_stop(small):
    van(COUNTY)
    sorted_parcels(small[0], 1)
    sorted_parcels(small[1], 1)
    plan = build()
    gj = plans.plan_geojson(plan=plan)
    lines = [f for f in gj["features"] if f["geometry"]["type"] == "LineString"]
    points = [f for f in gj["features"] if f["geometry"]["type"] == "Point"]
    assert len(lines) == 1 and len(points) == 2
    depot = Vehicle.objects.get().depot
    assert lines[0]["geometry"]["coordinates"][0] == [depot.longitude, depot.latitude]
    assert len(lines[0]["geometry"]["coordinates"]) == 4
