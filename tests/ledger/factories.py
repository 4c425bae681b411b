"""Ledger test data built through the services: station fees (upward shipments
collected, then the logistics fee sweep), payments and sales."""

from __future__ import annotations

from cunzhan.core.scope import RegionScope
from cunzhan.ledger import services
from cunzhan.ledger.models import PAYABLE_KINDS, Account, AccountKind
from cunzhan.ledger.simulation import demo_bank_details
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
    bank_ready(station.region_id[:6], station)


def bank_ready(county: str, station: Station | None = None) -> None:
    """Confirmed bank details (entered by one person, confirmed by another) for the
    county's cash account and every payee account it has (and ``station``'s)."""
    accounts = [services.account_for(kind=AccountKind.CASH, county=county)]
    if station is not None:
        accounts.append(
            services.account_for(kind=AccountKind.STATION, county=county, station=station)
        )
    accounts += list(Account.objects.filter(county_id=county, kind__in=PAYABLE_KINDS))
    demo_bank_details(county=county, accounts=accounts)


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
    tx = services.sale_settle(
        county=county,
        idempotency_key=f"sale-{key}",
        gross_fen=gross,
        producer_key=producer,
        producer_label="农户",
        station=station,
        buyer_key=f"buyer:{key}",
    )
    bank_ready(county)
    return tx
