"""Browser (phone 390×844): the driver's day — start, 装车, then per stop 到达 / 卸货 (one
parcel by its scanned tracking number, then the rest with one tap) / 揽收, finish — and
the parcels and shipments move through the state machine."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from cunzhan.logistics import plans
from cunzhan.logistics import statemachine as sm
from cunzhan.logistics.models import Parcel, Run, Shipment
from tests.factories.plans import (
    NATIONAL,
    booked_shipment,
    sorted_parcels,
    van,
    village_stations,
)
from tests.factories.regions import make_region_tree

COUNTY = "520204"


@pytest.fixture
def today_plan(transactional_db, make_user):
    make_region_tree()
    driver = make_user("driver", regions=[COUNTY], username="siji")
    v = van(COUNTY, "面包车")
    plans.vehicle_update(scope=NATIONAL, vehicle=v, driver_id=driver.pk)
    a, b = village_stations(COUNTY, "520204106", 2)
    today = timezone.localdate()
    # sorted and booked before today's cut-off, and before now: a test run at 00:30
    # must not sort the parcels after the driver loads them
    now = timezone.now() - dt.timedelta(minutes=2)
    drops = sorted_parcels(a, 3, at=min(plans.local_dt(today, 5 * 3600), now))
    ship = booked_shipment(b)
    from cunzhan.logistics.models import Shipment as S

    S.objects.filter(pk=ship.pk).update(created_at=min(plans.local_dt(today, 3600), now))
    plan = plans.plan_build(scope=NATIONAL, county_code=COUNTY, day=today, time_limit=1)
    route = plan.routes.get()
    order = [s.station_id for s in route.stops.order_by("position")]
    return {"drops": drops, "ship": ship, "a": a, "b": b, "order": order}


def test_driver_scans_his_route_on_a_phone(today_plan, page, login):
    login("siji")
    page.goto("/logistics/driver/")
    assert "面包车" in page.content()
    page.fill("#odo-start", "1200")
    page.click("#start")
    page.click("#load")
    page.wait_for_selector(".messages li:has-text('已装车 3 件')")
    assert {p.state for p in Parcel.objects.all()} == {sm.LOADED}

    pos_a = today_plan["order"].index(today_plan["a"].pk) + 1
    pos_b = today_plan["order"].index(today_plan["b"].pk) + 1
    stop_a = page.locator(f"#stop-{pos_a}")
    stop_a.locator("button[data-step=arrive]").click()
    page.wait_for_selector(".messages li:has-text('已到达')")
    first = today_plan["drops"][0]
    scan = page.locator(f"#stop-{pos_a} input[name=tracking_numbers]")
    scan.fill(first.tracking_number)
    scan.press("Enter")
    page.wait_for_selector(".messages li:has-text('已卸货 1 件')")
    first.refresh_from_db()
    assert first.state == sm.AT_STATION and first.pickup_code
    page.locator(f"#stop-{pos_a} button[data-step=drop]").click()
    page.wait_for_selector(".messages li:has-text('已卸货 2 件')")
    assert page.locator(f"#stop-{pos_a} button[data-step=drop]").is_disabled()

    page.locator(f"#stop-{pos_b} button[data-step=pickup]").click()
    page.wait_for_selector(".messages li:has-text('已揽收 1 票上行件')")
    assert Shipment.objects.get(pk=today_plan["ship"].pk).state == "collected"
    # the big buttons fit the phone: nothing wider than the viewport
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390

    page.fill("#odo-end", "1260.5")
    page.click("#finish")
    page.wait_for_url("**/logistics/runs/*/")
    assert "60.5 km" in page.content()  # km driven from the odometer
    assert {p.state for p in Parcel.objects.all()} == {sm.AT_STATION}
    run = Run.objects.get()
    assert run.status == "finished" and float(run.odometer_end_km) == 1260.5
