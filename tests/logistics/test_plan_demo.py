"""The demo's plan for 水城区 (520204): the real village network with a day's load,
checked by the independent checker (windows, capacities in kg and pieces, shift length)."""

from __future__ import annotations

import datetime as dt

import pytest

from cunzhan.devtools.demo import demo_build
from cunzhan.logistics import plans
from cunzhan.logistics.models import DailyPlan, PlanItem, PlanStop, Shipment, Vehicle
from cunzhan.logistics.plan_demo import plan_demo
from cunzhan.logistics.planning.checker import check

COUNTY = "520204"
DAY = dt.date(2026, 11, 3)


@pytest.mark.slow
@pytest.mark.django_db
def test_the_demo_plan_of_shuicheng_respects_windows_capacities_and_shifts():
    demo_build(only_counties=[COUNTY], households_per_village=1, echo=lambda _m: None)
    vans = list(Vehicle.objects.filter(county_id=COUNTY).order_by("name", "id"))
    assert 2 <= len(vans) <= 4
    assert all(800 <= v.capacity_kg <= 1500 and 120 <= v.capacity_pieces <= 200 for v in vans)
    assert vans[0].driver is not None and vans[0].driver.username == f"driver-{COUNTY}"
    # a day with its own load (the demo builds today's)
    plan = plan_demo(county_code=COUNTY, day=DAY, time_limit=5, echo=lambda _m: None)
    assert plan is not None and plan.date == DAY
    plan = DailyPlan.objects.get(pk=plan.pk)
    assert plan.feasible, plan.violations
    stops = PlanStop.objects.filter(route__plan=plan)
    assert stops.count() >= 50  # most of the ~100 stations have something that day
    assert PlanItem.objects.filter(stop__route__plan=plan, kind="shipment").exists()
    assert Shipment.objects.filter(station__region__code__startswith=COUNTY).exists()

    # rebuild the problem from the database and let the checker judge the stored routes
    county = plan.county
    cutoff = plans.cutoff_at(county_code=COUNTY, day=DAY)
    loads = plans.loads_at_cutoff(county=county, cutoff=cutoff)
    vehicles = list(Vehicle.objects.filter(county=county, active=True).order_by("name", "id"))
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
    served = {c for _, stops_ in routes for c in stops_}
    left = {u["station_id"] for u in plan.unserved}
    assert len(served) + len(left) == len(built.clients) + len(built.unserved)
    # and in plain terms: every stop in its window, every route inside its shift
    tz = plans._tz()
    for r in plan.routes.select_related("vehicle"):
        assert r.departs_at.astimezone(tz).time() >= r.vehicle.shift_start
        assert r.returns_at.astimezone(tz).time() <= r.vehicle.shift_end
        kg = sum(s.drop_g for s in r.stops.all()) / 1000
        assert kg <= r.vehicle.capacity_kg
        assert sum(s.drop_pieces for s in r.stops.all()) <= r.vehicle.capacity_pieces
        for s in r.stops.select_related("station"):
            assert s.station.opens_at <= s.arrives_at.astimezone(tz).time() <= s.station.closes_at
