"""Station fees: down when a parcel leaves the station's hands (handed out or collected
back up), up when a shipment is collected; amounts from the county settings; recorded by
an idempotent sweep, never twice; the summary per station and month (API)."""

from __future__ import annotations

import datetime as dt

from cunzhan.accounts.roles import Role
from cunzhan.core.scope import RegionScope
from cunzhan.logistics import aging, county_settings, fees, shipments
from cunzhan.logistics import statemachine as sm
from cunzhan.logistics.models import StationFee
from cunzhan.network.models import StationStatus
from tests.factories.stations import make_station
from tests.logistics.test_shipments import BOOK
from tests.logistics.updown_helpers import NATIONAL, T0, event, parcel_at_station

DAY = dt.timedelta(days=1)


def test_down_up_and_never_twice(station):
    picked = parcel_at_station(station, 1)
    waiting = parcel_at_station(station, 2)
    refused = parcel_at_station(station, 3)
    event(picked, sm.PICKED_UP, T0 + DAY, station)
    event(refused, sm.REFUSED, T0 + DAY, station)
    s = shipments.shipment_book(scope=NATIONAL, station=station, **BOOK)
    booked_only = shipments.shipment_book(scope=NATIONAL, station=station, **BOOK)
    shipments.shipment_collect(scope=NATIONAL, shipment=s, at=T0 + DAY)

    r = fees.accrue(scope=NATIONAL, until=T0 + 2 * DAY)
    assert (r.down, r.up, r.down_fen, r.up_fen) == (1, 1, 50, 100)  # the defaults
    assert fees.accrue(scope=NATIONAL, until=T0 + 2 * DAY).down == 0  # never twice
    # a refusal earns the fee when the run takes the parcel back up
    event(refused, sm.COLLECTED, T0 + 2 * DAY, station)
    r = fees.accrue(scope=NATIONAL, until=T0 + 3 * DAY)
    assert (r.down, r.up) == (1, 0)
    assert set(StationFee.objects.values_list("parcel_id", flat=True)) == {
        picked.pk,
        refused.pk,
        None,
    }
    assert not StationFee.objects.filter(parcel=waiting).exists()
    assert not StationFee.objects.filter(shipment=booked_only).exists()
    # later steps of the shipment add nothing
    shipments.shipment_scan_in(scope=NATIONAL, shipment=s)
    assert fees.accrue(scope=NATIONAL).up == 0
    assert StationFee.objects.count() == 3
    assert StationFee.objects.filter(status="owed").count() == 3


def test_until_and_amount_at_the_time(station):
    p = parcel_at_station(station, 4)
    event(p, sm.PICKED_UP, T0 + 2 * DAY, station)
    assert fees.accrue(scope=NATIONAL, until=T0 + DAY).down == 0  # not yet handled then
    county_settings.county_settings_update(scope=NATIONAL, county_code="520204", fee_down_fen=80)
    fees.accrue(scope=NATIONAL, until=T0 + 3 * DAY)
    county_settings.county_settings_update(scope=NATIONAL, county_code="520204", fee_down_fen=10)
    fee = StationFee.objects.get(parcel=p)
    assert (fee.amount_fen, fee.direction, fee.month) == (80, "down", "2026-11")


def test_scope_limits_the_sweep(station):
    p = parcel_at_station(station, 5)
    event(p, sm.PICKED_UP, T0 + DAY, station)
    assert fees.accrue(scope=RegionScope.for_regions(["520203"])).down == 0
    assert fees.accrue(scope=RegionScope.for_regions(["520204"])).down == 1


def test_aging_sweeps_fees(station):
    p = parcel_at_station(station, 6)
    event(p, sm.PICKED_UP, T0 + DAY, station)
    assert aging.aging_run(scope=NATIONAL, at=T0 + 2 * DAY).fees.down == 1


def test_summary_and_api_per_station_and_month(station, regions, make_user, api_client):
    other = make_station("520204106202", StationStatus.ACTIVE)
    # a month earlier (scan times must not lie days ahead of the clock)
    for n, st, at in ((1, station, T0), (2, station, T0 - 30 * DAY), (3, other, T0)):
        p = parcel_at_station(st, n, at=at, village_code=st.region_id)
        event(p, sm.PICKED_UP, at + dt.timedelta(hours=2), st)
    fees.accrue(scope=NATIONAL, until=T0 + 10 * DAY)
    rows = fees.fee_summary(scope=NATIONAL)
    assert [(r["station_code"], r["month"], r["down_count"], r["total_fen"]) for r in rows] == [
        (station.code, "2026-11", 1, 50),
        (other.code, "2026-11", 1, 50),
        (station.code, "2026-10", 1, 50),
    ]
    op = make_user(Role.STATION_OPERATOR, stations=[station.pk])
    r = api_client(op).get("/api/v1/logistics/fees")
    assert r.status_code == 200
    assert {x["station_code"] for x in r.json()} == {station.code}
    manager = make_user(Role.COUNTY_MANAGER, regions=["520204"])
    r = api_client(manager).get("/api/v1/logistics/fees?month=2026-11")
    assert [x["owed_fen"] for x in r.json()] == [50, 50]
    assert api_client(manager).get("/api/v1/logistics/fees?month=11-2026").status_code == 422
    outsider = make_user(Role.COUNTY_MANAGER, regions=["520203"])
    assert api_client(outsider).get("/api/v1/logistics/fees").json() == []


def test_an_illegal_event_earns_no_fee_until_it_is_applied(station, make_user):
    from cunzhan.logistics import desk
    from cunzhan.logistics.models import ParcelException

    waiting = parcel_at_station(station, 1)
    late = parcel_at_station(station, 3)
    # a picked_up dated before the parcel reached the station: illegal, no fee
    event(late, sm.PICKED_UP, T0 - DAY, station)
    assert ParcelException.objects.filter(parcel=late, status="open").exists()
    fees.accrue(scope=NATIONAL, until=T0 + 2 * DAY)
    assert StationFee.objects.count() == 0
    # a person closes the exception: the event is still not applied, still no fee
    x = ParcelException.objects.get(parcel=late, status="open")
    desk.exception_resolve_with_station(
        scope=NATIONAL,
        exception_id=x.pk,
        note="scanned by mistake",
        actor=make_user(Role.COUNTY_MANAGER, regions=["520204"]),
    )
    fees.accrue(scope=NATIONAL, until=T0 + 2 * DAY)
    assert StationFee.objects.count() == 0
    # the real hand-out earns it, once
    event(late, sm.PICKED_UP, T0 + DAY, station)
    fees.accrue(scope=NATIONAL, until=T0 + 2 * DAY)
    fees.accrue(scope=NATIONAL, until=T0 + 2 * DAY)
    assert list(StationFee.objects.values_list("parcel_id", flat=True)) == [late.pk]
    assert not StationFee.objects.filter(parcel=waiting).exists()
