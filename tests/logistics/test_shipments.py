"""Upward shipments: book at a station, cancel, collect, county scan-in, hand-over to
the outbound carrier (services and API; scope and roles; bad input)."""

from __future__ import annotations

import pytest

from cunzhan.accounts.roles import Role
from cunzhan.accounts.selectors import scope_for_user
from cunzhan.core.errors import ApplicationError, NotFound
from cunzhan.logistics import shipments
from cunzhan.logistics.models import Shipment, ShipmentState
from cunzhan.network.models import StationStatus
from tests.factories.stations import make_station
from tests.logistics.updown_helpers import NATIONAL, post

BOOK = {
    "producer_name": "王大山",
    "producer_phone": "138 1234 5678",
    "contents": "红心猕猴桃 5kg/箱",
    "pieces": 12,
    "weight_g": 62_000,
    "destination": "广州市天河区",
    "outbound_carrier": "SF",
}


def book(station, **kw):
    return shipments.shipment_book(scope=NATIONAL, station=station, **{**BOOK, **kw})


@pytest.fixture
def manager(make_user, regions):
    return make_user(Role.COUNTY_MANAGER, regions=["520204"])


@pytest.fixture
def operator(make_user, station):
    return make_user(Role.STATION_OPERATOR, stations=[station.pk])


def test_book_collect_scan_in_hand_over(station):
    s = book(station)
    assert s.state == ShipmentState.BOOKED and s.producer_phone == "13812345678"
    assert s.outbound_carrier is not None and s.outbound_carrier.code == "SF"
    s = shipments.shipment_collect(scope=NATIONAL, shipment=s)
    assert s.state == ShipmentState.COLLECTED and s.collected_at is not None
    s = shipments.shipment_scan_in(scope=NATIONAL, shipment=s)
    assert s.state == ShipmentState.AT_COUNTY and s.at_county_at is not None
    s = shipments.shipment_hand_over(
        scope=NATIONAL, shipment=s, carrier="sf", tracking_number="SF1234567890"
    )
    s.refresh_from_db()
    assert s.state == ShipmentState.HANDED_OVER
    assert (s.outbound_carrier.code, s.outbound_tracking) == ("SF", "SF1234567890")
    assert s.handed_over_at is not None


def test_scan_in_without_the_pickup_scan_sets_collected(station):
    s = shipments.shipment_scan_in(scope=NATIONAL, shipment=book(station))
    assert s.state == ShipmentState.AT_COUNTY and s.collected_at == s.at_county_at


@pytest.mark.parametrize(
    ("action", "start"),
    [
        ("cancel", ShipmentState.COLLECTED),
        ("collect", ShipmentState.AT_COUNTY),
        ("scan_in", ShipmentState.HANDED_OVER),
        ("hand_over", ShipmentState.BOOKED),
        ("hand_over", ShipmentState.CANCELLED),
    ],
)
def test_wrong_state_is_a_clear_error(station, action, start):
    s = book(station)
    Shipment.objects.filter(pk=s.pk).update(state=start)
    call = {
        "cancel": lambda: shipments.shipment_cancel(scope=NATIONAL, shipment=s),
        "collect": lambda: shipments.shipment_collect(scope=NATIONAL, shipment=s),
        "scan_in": lambda: shipments.shipment_scan_in(scope=NATIONAL, shipment=s),
        "hand_over": lambda: shipments.shipment_hand_over(
            scope=NATIONAL, shipment=s, carrier="SF", tracking_number="SF000111"
        ),
    }[action]
    with pytest.raises(ApplicationError) as e:
        call()
    assert e.value.code == "wrong_state" and e.value.status == 409
    assert repr(str(start)) in e.value.message
    s.refresh_from_db()
    assert s.state == start and s.outbound_tracking == ""


def test_cancel_only_while_booked(station):
    s = shipments.shipment_cancel(scope=NATIONAL, shipment=book(station))
    assert s.state == ShipmentState.CANCELLED
    with pytest.raises(ApplicationError, match="cancel"):
        shipments.shipment_cancel(scope=NATIONAL, shipment=s)


def test_hand_over_unknown_carrier_and_duplicate_tracking(station):
    a = shipments.shipment_scan_in(scope=NATIONAL, shipment=book(station))
    b = shipments.shipment_scan_in(scope=NATIONAL, shipment=book(station))
    with pytest.raises(ApplicationError) as e:
        shipments.shipment_hand_over(
            scope=NATIONAL, shipment=a, carrier="NOPE", tracking_number="X12345"
        )
    assert e.value.code == "unknown_carrier"
    with pytest.raises(ApplicationError) as e:
        shipments.shipment_hand_over(scope=NATIONAL, shipment=a, carrier="SF", tracking_number="x")
    assert e.value.code == "invalid_tracking"
    shipments.shipment_hand_over(scope=NATIONAL, shipment=a, carrier="SF", tracking_number="SF777")
    with pytest.raises(ApplicationError) as e:
        shipments.shipment_hand_over(
            scope=NATIONAL, shipment=b, carrier="SF", tracking_number="SF777"
        )
    assert e.value.code == "duplicate_tracking" and e.value.status == 409
    b.refresh_from_db()
    assert b.state == ShipmentState.AT_COUNTY and b.outbound_tracking == ""
    # the same number at another carrier is another parcel
    shipments.shipment_hand_over(scope=NATIONAL, shipment=b, carrier="JD", tracking_number="SF777")
    b.refresh_from_db()
    assert b.state == ShipmentState.HANDED_OVER


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("producer_name", ""),
        ("producer_phone", "12"),
        ("contents", " "),
        ("destination", ""),
        ("pieces", 0),
        ("pieces", 1001),
        ("weight_g", 0),
        ("weight_g", True),
    ],
)
def test_book_bad_input_names_the_field(station, field, value):
    with pytest.raises(ApplicationError) as e:
        book(station, **{field: value})
    assert e.value.details == {"field": field}
    assert Shipment.objects.count() == 0


def test_book_needs_an_active_station_and_a_known_carrier(regions):
    proposed = make_station("520204106202", StationStatus.PROPOSED)
    with pytest.raises(ApplicationError) as e:
        book(proposed)
    assert e.value.code == "station_inactive"
    active = make_station("520204106201", StationStatus.ACTIVE)
    with pytest.raises(ApplicationError) as e:
        book(active, outbound_carrier="NOPE")
    assert e.value.code == "unknown_carrier"
    assert Shipment.objects.count() == 0


def test_operator_books_at_own_station_only(station, operator, regions):
    other = make_station("520204106202", StationStatus.ACTIVE)
    scope = scope_for_user(operator)
    s = shipments.shipment_book(scope=scope, station=station, actor=operator, **BOOK)
    assert s.booked_by == operator
    with pytest.raises(NotFound):
        shipments.shipment_book(scope=scope, station=other, actor=operator, **BOOK)
    other_s = book(other)
    assert list(shipments.shipment_list(scope=scope)) == [s]
    with pytest.raises(NotFound):
        shipments.shipment_cancel(scope=scope, shipment=other_s)


# --- API -------------------------------------------------------------------------------------


def test_api_book_list_and_county_flow(station, operator, manager, api_client):
    op = api_client(operator)
    r = post(op, "/api/v1/logistics/shipments", {**BOOK, "station_id": station.pk})
    assert r.status_code == 201, r.content
    sid = r.json()["id"]
    assert r.json()["state"] == "booked" and r.json()["station_code"] == station.code
    # the operator cannot scan in or hand over: a county centre job
    assert post(op, f"/api/v1/logistics/shipments/{sid}/scan-in", {}).status_code == 403
    mc = api_client(manager)
    r = mc.get(f"/api/v1/logistics/shipments?state=booked&station_id={station.pk}")
    assert r.status_code == 200 and [x["id"] for x in r.json()["items"]] == [sid]
    assert mc.get("/api/v1/logistics/shipments?state=nope").json()["code"] == "validation_error"
    r = post(
        mc,
        f"/api/v1/logistics/shipments/{sid}/hand-over",
        {"carrier": "SF", "tracking_number": "SF1234"},
    )
    assert r.status_code == 409 and r.json()["code"] == "wrong_state"
    assert post(mc, f"/api/v1/logistics/shipments/{sid}/scan-in", {}).status_code == 200
    assert post(op, f"/api/v1/logistics/shipments/{sid}/cancel", {}).json()["code"] == "wrong_state"
    r = post(
        mc,
        f"/api/v1/logistics/shipments/{sid}/hand-over",
        {"carrier": "YTO", "tracking_number": "YT9988776655"},
    )
    assert r.status_code == 200, r.content
    assert r.json()["state"] == "handed_over" and r.json()["outbound_carrier"] == "YTO"
    assert mc.get(f"/api/v1/logistics/shipments/{sid}").json()["outbound_tracking"] == (
        "YT9988776655"
    )


def test_api_bad_booking(station, operator, api_client):
    op = api_client(operator)
    r = post(op, "/api/v1/logistics/shipments", {**BOOK, "station_id": station.pk, "pieces": 0})
    assert r.status_code == 422 and r.json()["code"] == "validation_error"
    r = post(op, "/api/v1/logistics/shipments", {**BOOK, "station_id": 999_999})
    assert r.status_code == 404
    assert Shipment.objects.count() == 0
