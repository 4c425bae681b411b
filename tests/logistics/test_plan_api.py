"""The daily plan API: vehicles, build/read a plan, GeoJSON, a run by the driver; roles."""

from __future__ import annotations

import pytest

from cunzhan.logistics import statemachine as sm
from cunzhan.logistics.models import Parcel
from tests.factories.plans import DAY, county_centre, sorted_parcels, village_stations

COUNTY = "520204"
API = "/api/v1/logistics"


@pytest.fixture
def county(regions, make_user):
    county_centre(COUNTY)
    stations = village_stations(COUNTY, "520204106", 3)
    for st in stations:
        sorted_parcels(st, 2)
    return {
        "manager": make_user("county_manager", regions=[COUNTY]),
        "driver": make_user("driver", regions=[COUNTY]),
        "auditor": make_user("auditor", regions=[COUNTY]),
        "stations": stations,
    }


def test_manager_adds_a_van_builds_a_plan_and_the_driver_runs_it(county, api_client):
    m = api_client(county["manager"])
    r = m.post(
        f"{API}/vehicles",
        {
            "county_code": COUNTY,
            "name": "面包车1",
            "capacity_kg": 900,
            "capacity_pieces": 150,
            "driver_id": county["driver"].pk,
        },
        content_type="application/json",
    )
    assert r.status_code == 201, r.content
    assert r.json()["depot_code"] == county_centre(COUNTY).code
    bad = m.patch(
        f"{API}/vehicles/{r.json()['id']}",
        {"shift_start": "19:00"},
        content_type="application/json",
    )
    assert bad.status_code == 422 and bad.json()["code"] == "invalid_vehicle"

    r = m.post(
        f"{API}/plans",
        {"county_code": COUNTY, "date": DAY.isoformat(), "time_limit": 1},
        content_type="application/json",
    )
    assert r.status_code == 201, r.content
    plan = r.json()
    assert plan["feasible"] and len(plan["routes"]) == 1
    route = plan["routes"][0]
    assert [s["drop_pieces"] for s in route["stops"]] == [2, 2, 2]
    assert plan["total_metres"] == route["metres"] > 0

    d = api_client(county["driver"])
    assert d.get(f"{API}/plans/{plan['id']}").status_code == 200
    gj = d.get(f"{API}/plans/{plan['id']}/geojson").json()
    assert gj["type"] == "FeatureCollection" and len(gj["features"]) == 4
    # the driver may not build plans or add vans
    assert (
        d.post(
            f"{API}/plans",
            {"county_code": COUNTY, "date": DAY.isoformat()},
            content_type="application/json",
        ).status_code
        == 403
    )

    r = d.post(
        f"{API}/routes/{route['id']}/start", {"odometer_km": 100}, content_type="application/json"
    )
    assert r.status_code == 201, r.content
    run_id = r.json()["id"]
    r = d.post(f"{API}/runs/{run_id}/load", {}, content_type="application/json")
    assert r.json() == {"sent": 6, "applied": 6, "illegal": 0}
    first = route["stops"][0]
    r = d.post(f"{API}/runs/{run_id}/stops/{first['id']}/arrive")
    assert r.status_code == 200 and r.json()["arrived_at"]
    r = d.post(f"{API}/runs/{run_id}/stops/{first['id']}/drop", {}, content_type="application/json")
    assert r.json()["applied"] == 2
    assert Parcel.objects.filter(state=sm.AT_STATION).count() == 2
    r = d.post(f"{API}/runs/{run_id}/stops/{first['id']}/pickup")
    assert r.json() == {"shipments": 0, "returns": 0, "illegal": 0}
    r = d.post(
        f"{API}/runs/{run_id}/finish", {"odometer_km": 130.5}, content_type="application/json"
    )
    body = r.json()
    assert body["status"] == "finished" and body["actual_km"] == 30.5
    assert (body["drops_planned"], body["drops_done"]) == (6, 2)

    # rebuilding after a run started: 409
    r = m.post(
        f"{API}/plans",
        {"county_code": COUNTY, "date": DAY.isoformat(), "time_limit": 1},
        content_type="application/json",
    )
    assert r.status_code == 409 and r.json()["code"] == "plan_started"
    # the auditor reads, but cannot drive
    a = api_client(county["auditor"])
    assert a.get(f"{API}/runs/{run_id}").status_code == 200
    assert (
        a.post(f"{API}/runs/{run_id}/load", {}, content_type="application/json").status_code == 403
    )


def test_building_without_vehicles_says_so(county, api_client):
    r = api_client(county["manager"]).post(
        f"{API}/plans",
        {"county_code": COUNTY, "date": DAY.isoformat(), "time_limit": 1},
        content_type="application/json",
    )
    assert r.status_code == 422 and r.json()["code"] == "no_vehicles"


def test_station_operator_sees_no_plans(county, api_client, make_user):
    op = make_user("station_operator", stations=[county["stations"][0].pk])
    assert api_client(op).get(f"{API}/plans").status_code == 403
    assert api_client(op).get(f"{API}/vehicles").status_code == 403
