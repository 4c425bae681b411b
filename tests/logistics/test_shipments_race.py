"""Two clerks hand two shipments to the same carrier under the same tracking number at
the same moment, and two clerks act on one shipment at once, in real threads: exactly
one succeeds each time, the other gets a clear error."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from cunzhan.core.errors import ApplicationError
from cunzhan.logistics import shipments
from cunzhan.logistics.models import Shipment, ShipmentState
from cunzhan.network.models import StationStatus
from tests.factories.regions import make_region_tree
from tests.factories.stations import make_station
from tests.logistics.conftest import VILLAGE
from tests.logistics.test_shipments import BOOK
from tests.logistics.updown_helpers import NATIONAL


def race(*fns) -> list[str]:
    barrier = threading.Barrier(len(fns))
    outcomes: list[str] = []
    lock = threading.Lock()

    def work(fn) -> None:
        try:
            barrier.wait(timeout=10)
            for attempt in range(200):  # SQLite's shared-cache test database: retry a lock
                try:
                    fn()
                    result = "ok"
                    break
                except ApplicationError as exc:
                    result = exc.code
                    break
                except Exception as exc:
                    if "locked" not in str(exc) or attempt == 199:
                        raise
        finally:
            connection.close()
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=work, args=(fn,)) for fn in fns]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return sorted(outcomes)


def _at_county(station) -> Shipment:
    s = shipments.shipment_book(scope=NATIONAL, station=station, **BOOK)
    return shipments.shipment_scan_in(scope=NATIONAL, shipment=s)


@pytest.mark.django_db(transaction=True)
def test_the_same_tracking_number_at_once_exactly_one_wins():
    make_region_tree()
    station = make_station(VILLAGE, StationStatus.ACTIVE)
    a, b = _at_county(station), _at_county(station)
    outcomes = race(
        lambda: shipments.shipment_hand_over(
            scope=NATIONAL, shipment=a, carrier="SF", tracking_number="SF555000111"
        ),
        lambda: shipments.shipment_hand_over(
            scope=NATIONAL, shipment=b, carrier="SF", tracking_number="SF555000111"
        ),
    )
    assert outcomes == ["duplicate_tracking", "ok"], outcomes
    assert Shipment.objects.filter(outbound_tracking="SF555000111").count() == 1
    assert Shipment.objects.filter(state=ShipmentState.AT_COUNTY).count() == 1


@pytest.mark.django_db(transaction=True)
def test_cancel_and_scan_in_at_once_exactly_one_wins():
    make_region_tree()
    station = make_station(VILLAGE, StationStatus.ACTIVE)
    s = shipments.shipment_book(scope=NATIONAL, station=station, **BOOK)
    outcomes = race(
        lambda: shipments.shipment_cancel(scope=NATIONAL, shipment=s),
        lambda: shipments.shipment_scan_in(scope=NATIONAL, shipment=s),
    )
    assert outcomes == ["ok", "wrong_state"], outcomes
    s.refresh_from_db()
    assert s.state in {ShipmentState.CANCELLED, ShipmentState.AT_COUNTY}
