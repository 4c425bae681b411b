"""Demo data for the catalogue, through the services: the seed products and standards,
then per county a few village stations with a cooperative and a household producer,
lots of the local products graded from plausible sample measurements (some reach
特级, some are rejected), and price tiers per grade. Deterministic from the seed;
a station that already has producers is left as it is (running the demo twice adds
nothing)."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable
from typing import Any

from django.utils import timezone

from cunzhan.commerce import services
from cunzhan.commerce.models import Producer, Product
from cunzhan.commerce.seed import catalogue_seed
from cunzhan.core.scope import RegionScope
from cunzhan.network.models import Station, StationKind, StationStatus
from cunzhan.registry.models import Household

STATIONS_PER_COUNTY = 3
# product -> a sample generator: one dict of measurements per sample, around the grades
SAMPLERS: dict[str, Callable[[random.Random], dict[str, Any]]] = {
    "kiwifruit-red": lambda r: {
        "weight_g": round(r.uniform(70, 135), 1),
        "brix": round(r.uniform(12.5, 17.5), 1),
        "defect_pct": round(r.uniform(0, 6), 1),
    },
    "roxburgh-rose": lambda r: {
        "diameter_mm": round(r.uniform(27, 42), 1),
        "vitamin_c_mg": round(r.uniform(1200, 2600)),
        "defect_pct": round(r.uniform(0, 6), 1),
    },
    "green-tea": lambda r: {
        "moisture_pct": round(r.uniform(5.5, 7.6), 1),
        "broken_pct": round(r.uniform(1, 6), 1),
    },
    "potato": lambda r: {
        "weight_g": round(r.uniform(120, 320)),
        "defect_pct": round(r.uniform(0, 8), 1),
    },
    "walnut": lambda r: {
        "diameter_mm": round(r.uniform(29, 38), 1),
        "kernel_pct": round(r.uniform(42, 56), 1),
        "moisture_pct": round(r.uniform(6, 8.5), 1),
    },
}
BASE_PRICE_FEN = {
    "kiwifruit-red": 1600,
    "roxburgh-rose": 600,
    "green-tea": 36000,
    "potato": 300,
    "walnut": 2400,
    "live-pig": 280000,
}


def demo_commerce(
    *, seed: int, county_codes: list[str], echo: Callable[[str], None] = print
) -> dict[str, int]:
    national = RegionScope.national()
    products = {p.code: p for p in catalogue_seed()}
    made = {"producers": 0, "lots": 0, "prices": 0}
    today = timezone.localdate()
    for county in county_codes:
        rnd = random.Random(f"{seed}-commerce-{county}")
        _prices(county, products, national, made)
        stations = Station.objects.filter(
            region__code__startswith=county,
            kind=StationKind.VILLAGE_STATION,
            status=StationStatus.ACTIVE,
        ).order_by("code")[:STATIONS_PER_COUNTY]
        for station in stations:
            if Producer.objects.filter(station=station).exists():
                continue
            village = station.region
            coop = services.producer_register(
                scope=national,
                station=station,
                kind="cooperative",
                name=f"{village.name.removesuffix('村民委员会')}种植专业合作社",
                members=[{"name": f"社员{i}"} for i in range(1, 4)],
            )
            producers = [coop]
            hh = Household.objects.filter(village=village).order_by("number").first()
            if hh is not None:
                producers.append(
                    services.producer_register(
                        scope=national,
                        station=station,
                        kind="household",
                        name=f"{hh.number}户",
                        household=hh,
                    )
                )
            made["producers"] += len(producers)
            for i, code in enumerate(rnd.sample(sorted(SAMPLERS), 3)):
                producer = producers[i % len(producers)]
                lot = services.lot_record(
                    scope=national,
                    producer=producer,
                    product=products[code],
                    harvest_date=today - dt.timedelta(days=rnd.randint(0, 6)),
                    quantity=rnd.randint(40, 800),
                )
                samples = [SAMPLERS[code](rnd) for _ in range(5)]
                services.lot_grade(scope=national, lot=lot, samples=samples)
                made["lots"] += 1
        echo(f"  {county}: produce lots ready")
    return made


def _prices(
    county: str, products: dict[str, Product], national: RegionScope, made: dict[str, int]
) -> None:
    from cunzhan.commerce.models import PriceTier

    if PriceTier.objects.filter(county_id=county).exists():
        return
    start = timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)  # local
    for code, product in products.items():
        standard = product.standards.filter(active=True).first()
        if standard is None or code not in BASE_PRICE_FEN:
            continue
        for g in standard.grades.order_by("rank"):
            services.price_tier_set(
                scope=national,
                grade=g,
                county_code=county,
                price_fen=BASE_PRICE_FEN[code] * (10 - g.rank) // 9,
                valid_from=start,
            )
            made["prices"] += 1
