"""Commerce objects for tests, built through the services: the seed catalogue,
producers (person, household, cooperative) and lots."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils import timezone

from cunzhan.commerce import services
from cunzhan.commerce.models import Lot, Producer, Product
from cunzhan.commerce.seed import catalogue_seed
from cunzhan.core.scope import RegionScope
from cunzhan.network.models import Station

NATIONAL = RegionScope.national()

# samples of 红心猕猴桃 meeting each grade of the seed standard
KIWI_SPECIAL = [
    {"weight_g": 110, "brix": 16, "defect_pct": 1},
    {"weight_g": 105, "brix": 15.5, "defect_pct": 0},
    {"weight_g": 120, "brix": 15, "defect_pct": 2},
]
KIWI_FIRST = [
    {"weight_g": 95, "brix": 15.5, "defect_pct": 1},  # one fruit under 100 g: not 特级
    {"weight_g": 110, "brix": 15, "defect_pct": 0},
    {"weight_g": 120, "brix": 15, "defect_pct": 2},
]
KIWI_REJECTED = [
    {"weight_g": 55, "brix": 11, "defect_pct": 12},
    {"weight_g": 70, "brix": 12, "defect_pct": 3},
]


def seed_catalogue() -> dict[str, Product]:
    return {p.code: p for p in catalogue_seed()}


def make_producer(
    station: Station, *, kind: str = "person", name: str = "张大山", **kw: Any
) -> Producer:
    return services.producer_register(
        scope=NATIONAL,
        station=station,
        kind=kind,
        name=name,
        phone=kw.pop("phone", "13812345678"),
        **kw,
    )


def make_lot(
    producer: Producer,
    product: Product,
    *,
    quantity: int = 500,
    harvest_date: dt.date | None = None,
    **kw: Any,
) -> Lot:
    return services.lot_record(
        scope=NATIONAL,
        producer=producer,
        product=product,
        harvest_date=harvest_date or timezone.localdate() - dt.timedelta(days=1),
        quantity=quantity,
        **kw,
    )
