"""Vehicles: validated as a whole, depot = the county's centre, drivers of the county."""

from __future__ import annotations

import pytest

from cunzhan.core.errors import ApplicationError, NotFound
from cunzhan.core.scope import RegionScope
from cunzhan.logistics import plans
from cunzhan.logistics.models import Vehicle
from tests.factories.plans import NATIONAL, county_centre, van

COUNTY = "520204"


def test_create_defaults_to_the_county_centre_and_update_validates(regions, make_user):
    v = van(COUNTY, plate="贵B12345")
    assert v.depot == county_centre(COUNTY) and v.active
    driver = make_user("driver", regions=[COUNTY])
    v = plans.vehicle_update(scope=NATIONAL, vehicle=v, driver_id=driver.pk, capacity_kg=1200)
    assert v.driver == driver and Vehicle.objects.get().capacity_kg == 1200


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"capacity_kg": 0}, "invalid_vehicle"),
        ({"capacity_pieces": -1}, "invalid_vehicle"),
        ({"shift_start": "18:00", "shift_end": "08:00"}, "invalid_vehicle"),
        ({"shift_start": "soon"}, "invalid_vehicle"),
        ({"name": ""}, "invalid_vehicle"),
        ({"cost_per_km_fen": 0}, "invalid_vehicle"),
    ],
)
def test_bad_vehicle_is_refused_and_nothing_changes(regions, change, code):
    v = van(COUNTY)
    with pytest.raises(ApplicationError) as exc:
        plans.vehicle_update(scope=NATIONAL, vehicle=v, **change)
    assert exc.value.code == code
    v.refresh_from_db()
    assert v.capacity_kg == 1000 and v.name == "车1"


def test_depot_must_be_the_centre_of_the_county(regions):
    other = county_centre("520203")
    with pytest.raises(ApplicationError) as exc:
        plans.vehicle_create(
            scope=NATIONAL,
            county_code=COUNTY,
            name="车X",
            capacity_kg=900,
            capacity_pieces=100,
            depot_id=other.pk,
        )
    assert exc.value.code == "invalid_depot"


def test_driver_of_another_county_is_refused(regions, make_user):
    v = van(COUNTY)
    stranger = make_user("driver", regions=["520203"])
    manager = make_user("county_manager", regions=[COUNTY])
    for user in (stranger, manager):
        with pytest.raises(ApplicationError) as exc:
            plans.vehicle_update(scope=NATIONAL, vehicle=v, driver_id=user.pk)
        assert exc.value.code == "invalid_driver"


def test_duplicate_name_and_out_of_scope(regions):
    v = van(COUNTY)
    with pytest.raises(ApplicationError) as exc:
        van(COUNTY)
    assert exc.value.code == "duplicate_vehicle"
    with pytest.raises(NotFound):
        plans.vehicle_update(scope=RegionScope.for_regions(["520203"]), vehicle=v, name="x")
    with pytest.raises(NotFound):
        plans.vehicle_get(scope=RegionScope.for_regions(["520203"]), vehicle_id=v.pk)
