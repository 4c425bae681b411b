"""Fulfilment: one upward shipment per station booked through logistics, the order
shipped when the county centre handed every one to the carrier, then delivered and
settled per lot."""

from __future__ import annotations

import pytest

from cunzhan.commerce import orders
from cunzhan.commerce.orders_models import OrderShipment, OrderState
from cunzhan.core.errors import ApplicationError
from cunzhan.core.scope import RegionScope
from cunzhan.ledger.models import Transaction
from cunzhan.logistics import shipments as logistics_shipments
from cunzhan.logistics.models import Shipment
from cunzhan.network.models import StationStatus
from tests.factories.commerce import make_producer
from tests.factories.orders import graded_lot, kiwi_special_price, pay, place
from tests.factories.stations import make_station

COUNTY = "520204"
NATIONAL = RegionScope.national()


def test_two_stations_two_shipments_then_shipped_and_delivered(kiwi, producer):
    other_station = make_station("520204106202", StationStatus.ACTIVE)
    other = make_producer(other_station, name="赵二", phone="13800001234")
    kiwi_special_price(kiwi, COUNTY, 1000)
    graded_lot(producer, kiwi, quantity=5, days_ago=4)
    graded_lot(other, kiwi, quantity=5, days_ago=2)
    order = place(COUNTY, 8)
    with pytest.raises(ApplicationError) as exc:
        orders.order_fulfil(scope=NATIONAL, order=order)
    assert exc.value.code == "wrong_state"  # not paid yet
    pay(order)
    order = orders.order_fulfil(scope=NATIONAL, order=order)
    assert order.state == OrderState.FULFILLING
    links = list(OrderShipment.objects.filter(order=order).select_related("shipment"))
    assert len(links) == 2
    assert {link.station_id for link in links} == {producer.station_id, other_station.pk}
    assert all(order.number in link.shipment.contents for link in links)
    assert all(link.shipment.destination == order.address for link in links)
    for i, link in enumerate(links):
        logistics_shipments.shipment_scan_in(scope=NATIONAL, shipment=link.shipment)
        assert orders.order_sync_shipments(order=order).state == OrderState.FULFILLING
        link.shipment.refresh_from_db()
        logistics_shipments.shipment_hand_over(
            scope=NATIONAL,
            shipment=link.shipment,
            carrier="ZTO",
            tracking_number=f"ZT99{i}0001",
        )
    handed = [s.handed_over_at for s in Shipment.objects.filter(order_link__order=order)]
    order = orders.order_sync_shipments(order=order)
    assert order.state == OrderState.SHIPPED
    # shipped with its last shipment (not when the order was next read)
    assert order.shipped_at == max(handed) and order.paid_at <= order.shipped_at
    order = orders.order_deliver(scope=NATIONAL, order=order)
    assert order.state == OrderState.DELIVERED
    assert sorted(Transaction.objects.filter(kind="sale").values_list("gross_fen", flat=True)) == [
        3000,
        5000,
    ]
