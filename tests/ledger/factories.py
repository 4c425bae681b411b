"""Ledger test data built through the services: station fees (upward shipments
collected, then the logistics fee sweep), payments and sales."""

from __future__ import annotations

from cunzhan.core.scope import RegionScope
from cunzhan.ledger import services
from cunzhan.logistics import fees as logistics_fees
from cunzhan.logistics import shipments
from cunzhan.network.models import Station


def collected_fees(station: Station, n: int, tag: str = "农户") -> None:
    """``n`` shipments collected from ``station`` and their up fees accrued (owed)."""
    national = RegionScope.national()
    for _ in range(n):
        s = shipments.shipment_book(
            scope=national,
            station=station,
            producer_name=tag,
            contents="刺梨",
            pieces=1,
            weight_g=5_000,
            destination="贵阳",
        )
        shipments.shipment_collect(scope=national, shipment=s)
    logistics_fees.accrue(scope=RegionScope.for_regions([station.region_id[:6]]))


def paid_sale(
    county: str, station: Station | None, key: str, gross: int, producer: str = "producer:p1"
):
    services.payment_receive(
        county=county,
        idempotency_key=f"pay-{key}",
        buyer_key=f"buyer:{key}",
        buyer_label="买家甲",
        amount_fen=gross,
        provider="sandbox",
    )
    return services.sale_settle(
        county=county,
        idempotency_key=f"sale-{key}",
        gross_fen=gross,
        producer_key=producer,
        producer_label="农户",
        station=station,
        buyer_key=f"buyer:{key}",
    )
