"""Simulator: produce lots and orders for one county and day, only through the services
(docs/adr/0018-commerce-simulator.md).

``commerce.sim`` — for ``ctx.day`` in ``ctx.county_code``:

1. Catalogue and prices: the seed catalogue if a product is missing; a county grade with
   no price tier in force at the day's start gets one (``price_tier_set``, valid from
   1 January of the day's year, the demo's base prices).
2. Producers at the first ``commerce_stations`` (default 4) active village stations: a
   cooperative at every other station, a household linked to the registry where the
   village has households, else a person (found again by name: registered once).
3. Lots: each producing station grows kiwifruit (the area's signature product) and
   1-2 other products (drawn once per station from the seed); on a day in the
   product's harvest season (``commerce/data/seasons.json``, the one calendar) it
   records a Poisson number of lots, grades them from 5 sample
   measurements (the station's quality drifts a little, a tenth of the lots are poor:
   most pass at various grades, some are rejected) and packs the graded ones.
4. Orders: a Poisson number (``orders_per_day``, default 5) of storefront orders of the
   stock in hand, priced by the tiers in force, 92 % paid through the sandbox provider's
   signed webhook (``payments.payment_webhook``, the production path), on every 7th day
   one wholesale purchase order (paid the same way).
5. Progress of the county's simulated orders (placed on earlier days): paid → fulfilled
   (shipments booked through logistics) → the shipments collected, scanned in and handed
   to the outbound carrier the next day (as ``logistics.shipments`` does) → shipped →
   delivered 2-5 days after placing (the sale settles in the ledger); unpaid orders
   expire the next day (``orders.order_expire``, the sweep's service; an order placed
   later the same day may already release an overdue one's stock), 3 % of paid ones
   cancelled before fulfilment (refunded), 5 % of delivered ones returned (half or
   all refunded).

A run cut at ``until`` (``ctx.until()``, as the demo's history up to its cut-off) makes
no step scheduled after it: a lot harvested later is not made, one graded or packed
later stays harvested or graded; an order placed later is not made, one paid later
stays unpaid; a shipment step or delivery due later waits. (The steps the services
stamp with the clock — a cancellation, a fulfilment, a refund — carry the run's real
time, as below, never a time ahead of it.) A day cut in its middle is final for what
it made: a later run of that day adds the lots harvested after the cut, but does not
grade or pack a lot the cut left half-done, pay an order it left unpaid, or place the
day's remaining orders. The demo cuts at :func:`~cunzhan.core.simulation.demo_cut`
(06:59 at the latest), before a day's first lot or order (from 08:00).

Deterministic from the seed (every draw comes from ``ctx.rng`` and is made whether or
not its object already exists); idempotent per (county, day): a lot or order carries a
``sim:`` marker in its note and is not made twice, and the progress steps only move
objects that are still in the earlier state.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import random
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from django.db.models import Sum
from django.utils import timezone

from cunzhan.commerce import orders, payments, services, wholesale
from cunzhan.commerce.demo import BASE_PRICE_FEN, SAMPLERS
from cunzhan.commerce.models import Grade, Lot, LotStatus, PriceTier, Producer, Product
from cunzhan.commerce.orders_models import Buyer, BuyerKind, Order, OrderAllocation, OrderState
from cunzhan.commerce.seed import catalogue_seed
from cunzhan.core.scope import RegionScope
from cunzhan.core.simulation import CHINA, SimulationContext, demo_cut, register
from cunzhan.logistics import shipments as logistics_shipments
from cunzhan.logistics.models import ShipmentState
from cunzhan.network.models import Station, StationKind, StationStatus
from cunzhan.registry.models import Household
from cunzhan.registry.simulation import PHONE_PREFIXES, person_name, register_income_link

SEASONS_FILE = Path(__file__).parent / "data" / "seasons.json"
MARK = "sim:"
SIGNATURE = "kiwifruit-red"  # 水城红心猕猴桃: grown at every producing station
PAY_SHARE = 0.92
POOR_SHARE = 0.1  # lots sampled with a strong bad drift
CANCEL_PAID_SHARE = 0.03
RETURN_SHARE = 0.05
WHOLESALE_EVERY = 7  # days (by the day's ordinal)
STOREFRONT_MAX_QTY = {"kg": 10, "head": 1}

# the live-pig sampler (the others come from the catalogue demo)
SAMPLERS_ALL: dict[str, Callable[[random.Random], dict[str, Any]]] = {
    **SAMPLERS,
    "live-pig": lambda r: {
        "weight_kg": round(r.uniform(98, 138), 1),
        "lean_pct": round(r.uniform(53, 64), 1),
        "backfat_mm": round(r.uniform(12, 27), 1),
    },
}
BUYERS = [
    ("水城区第一中学食堂", BuyerKind.SCHOOL),
    ("六盘水市人民医院膳食科", BuyerKind.HOSPITAL),
    ("合力超市六盘水店", BuyerKind.SUPERMARKET),
]
# the generators the demo runs over its own days (not for the registry's fixed demo day)
COMMERCE_DAY_GENERATORS = ("commerce.sim",)
CITIES = ["贵阳市云岩区", "广州市天河区", "深圳市南山区", "上海市浦东新区", "重庆市渝中区"]


@cache
def seasons() -> dict[str, dict[str, Any]]:
    """The harvest calendar: product code -> months, lots per station-day, quantity."""
    data: dict[str, dict[str, Any]] = json.loads(SEASONS_FILE.read_text("utf-8"))["products"]
    return data


def in_season(code: str, day: dt.date) -> bool:
    entry = seasons().get(code)
    return entry is not None and day.month in entry["months"]


def _at(day: dt.date, hour: float) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(0), tzinfo=CHINA) + dt.timedelta(hours=hour)


def _poisson(rng: random.Random, lam: float) -> int:
    if lam <= 0:
        return 0
    limit, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def _unit_hash(*parts: Any) -> int:
    return int.from_bytes(hashlib.sha256(":".join(map(str, parts)).encode()).digest()[:4], "big")


def _phone(rng: random.Random) -> str:
    return f"{rng.choice(PHONE_PREFIXES)}{rng.randrange(10**8):08d}"


def _marker_day(note: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(note.split(":")[2])
    except (IndexError, ValueError):
        return None


def _ensure_catalogue() -> dict[str, Product]:
    products = {p.code: p for p in Product.objects.filter(code__in=list(seasons()))}
    if len(products) < len(seasons()):
        products = {p.code: p for p in catalogue_seed() if p.code in seasons()}
    return products


def _ensure_prices(
    county: str, day: dt.date, products: dict[str, Product], national: RegionScope
) -> int:
    # the grades with a tier in force at the day's start (a demo's tiers from today do not
    # price a past day: such a day gets the year's tier, before them)
    start = _at(dt.date(day.year, 1, 1), 0)
    priced = set(
        PriceTier.objects.filter(county_id=county, published=True, valid_from__lte=_at(day, 0))
        .values_list("grade_id", flat=True)
        .distinct()
    )
    made = 0
    for code, product in sorted(products.items()):
        standard = product.standards.filter(active=True).first()
        if standard is None or code not in BASE_PRICE_FEN:
            continue
        for g in standard.grades.order_by("rank"):
            if g.pk in priced:
                continue
            services.price_tier_set(
                scope=national,
                grade=g,
                county_code=county,
                price_fen=BASE_PRICE_FEN[code] * (10 - g.rank) // 9,
                valid_from=start,
            )
            made += 1
    return made


def _stations(county: str, n: int) -> list[Station]:
    return list(
        Station.objects.filter(
            region__code__startswith=county,
            kind=StationKind.VILLAGE_STATION,
            status=StationStatus.ACTIVE,
        )
        .select_related("region")
        .order_by("code")[:n]
    )


def _producers(
    ctx: SimulationContext, station: Station, index: int, national: RegionScope
) -> list[Producer]:
    rng = random.Random(f"{ctx.seed}:commerce.producers:{station.code}")
    village = station.region.name.removesuffix("村民委员会").removesuffix("村委会")
    wanted: list[dict[str, Any]] = []
    if index % 2 == 0:
        wanted.append(
            {
                "kind": "cooperative",
                "name": f"{village}果蔬专业合作社",
                "members": [
                    {"name": person_name(rng, sex="male", birth_year=1970 + i)} for i in range(3)
                ],
            }
        )
    hh = Household.objects.filter(village=station.region).order_by("number").first()
    if hh is not None:
        wanted.append({"kind": "household", "name": f"{hh.number}户", "household": hh})
    else:
        wanted.append(
            {
                "kind": "person",
                "name": person_name(rng, sex="female", birth_year=rng.randint(1960, 1990)),
                "phone": _phone(rng),
            }
        )
    existing = {p.name: p for p in Producer.objects.filter(station=station)}
    out = []
    for w in wanted:
        p = existing.get(w["name"])
        if p is None:
            p = services.producer_register(scope=national, station=station, **w)
        out.append(p)
    return out


def _lots(
    ctx: SimulationContext,
    stations: list[Station],
    products: dict[str, Product],
    national: RegionScope,
) -> dict[str, int]:
    made = {"lots": 0, "graded": 0, "rejected": 0, "packed": 0}
    until = ctx.until()
    marked = set(
        Lot.objects.filter(
            station__in=stations, note__startswith=f"{MARK}{ctx.county_code}:{ctx.day}:"
        ).values_list("note", flat=True)
    )
    for index, station in enumerate(stations):
        # every producing station grows the area's signature kiwifruit and 1-2 others
        others = sorted(c for c in seasons() if c != SIGNATURE)
        grown = [
            SIGNATURE,
            *random.Random(f"{ctx.seed}:commerce.grown:{station.code}").sample(
                others, 1 + index % 2
            ),
        ]
        quality = random.Random(f"{ctx.seed}:commerce.quality:{station.code}").uniform(-0.15, 0.1)
        producers: list[Producer] | None = None
        rng = ctx.rng(f"commerce.lots:{station.code}")
        for code in sorted(grown):
            entry = seasons()[code]
            if ctx.day.month not in entry["months"] or code not in products:
                continue
            for i in range(_poisson(rng, float(entry["lots_per_station_day"]))):
                low, high = entry["quantity"]
                quantity = rng.randint(low, high)
                hour = rng.uniform(8, 17)
                who = rng.random()
                # a poor lot now and then (hail, a late picking): most of them are rejected
                drift = quality - (1.0 if rng.random() < POOR_SHARE else 0.0)
                samples = [_shift(SAMPLERS_ALL[code](rng), drift) for _ in range(5)]
                note = f"{MARK}{ctx.county_code}:{ctx.day}:{station.code}:{code}:{i}"
                if note in marked:
                    continue
                if producers is None:
                    producers = _producers(ctx, station, index, national)
                at = _at(ctx.day, hour)
                if until is not None and at > until:
                    continue  # harvested after the cut
                lot = services.lot_record(
                    scope=national,
                    producer=producers[int(who * len(producers))],
                    product=products[code],
                    harvest_date=ctx.day,
                    quantity=quantity,
                    note=note,
                    at=at,
                )
                made["lots"] += 1
                if until is not None and at + dt.timedelta(hours=1) > until:
                    continue
                services.lot_grade(
                    scope=national, lot=lot, samples=samples, at=at + dt.timedelta(hours=1)
                )
                lot.refresh_from_db()
                if lot.status == LotStatus.REJECTED:
                    made["rejected"] += 1
                    continue
                made["graded"] += 1
                if until is not None and at + dt.timedelta(hours=2) > until:
                    continue
                services.lot_pack(scope=national, lot=lot, at=at + dt.timedelta(hours=2))
                made["packed"] += 1
    return made


def _shift(sample: dict[str, Any], quality: float) -> dict[str, Any]:
    """A station's quality drift: bad quantities (defects, backfat, moisture, broken)
    go up when ``quality`` < 0, good ones down."""
    bad = ("defect_pct", "backfat_mm", "moisture_pct", "broken_pct")
    out = {}
    for k, v in sample.items():
        factor = 1 - quality if k in bad else 1 + quality / 5
        out[k] = round(v * factor, 1)
    return out


@dataclass
class _Stock:
    grade: Grade
    code: str
    available: int


def _stock(county: str, day: dt.date) -> list[_Stock]:
    """The county's sellable stock harvested by ``day``, per grade (by grade id)."""
    rows = (
        Lot.objects.filter(
            village__code__startswith=county,
            status__in=orders.SELLABLE,
            harvest_date__lte=day,
            quantity_available__gt=0,
            grade__isnull=False,
        )
        .values("grade_id", "product__code")
        .annotate(n=Sum("quantity_available"))
        .order_by("grade_id")
    )
    grades = Grade.objects.select_related("standard__product").in_bulk(
        [r["grade_id"] for r in rows]
    )
    return [_Stock(grades[r["grade_id"]], r["product__code"], r["n"]) for r in rows]


def _sandbox() -> payments.SandboxProvider:
    """The sandbox provider, refused (NotFound) unless enabled: a simulation never pays
    through it where the sandbox is off (production)."""
    provider = payments.provider_get(payments.SandboxProvider.code)
    assert isinstance(provider, payments.SandboxProvider)
    return provider


def _pay(order: Order, at: dt.datetime, event_id: str) -> None:
    """Pay as the buyer would: the sandbox provider signs its event, the webhook applies it."""
    provider = _sandbox()
    payment = payments.payment_start(order=order, provider=provider, at=at)
    body = provider.event_body(payment, event_id=event_id, at=at)
    payments.payment_webhook(
        provider_code=provider.code,
        body=body,
        signature=payments.sign(provider.secret(), body),
        now=at,
    )


def _orders(ctx: SimulationContext) -> dict[str, int]:
    county = ctx.county_code
    made = {"orders": 0, "paid": 0, "wholesale": 0}
    _sandbox()  # where the sandbox is off (production) no simulated order is placed at all
    until = ctx.until()
    rng = ctx.rng("commerce.orders")
    lam = float(ctx.params.get("orders_per_day", 5))
    prefix = f"{MARK}{county}:{ctx.day}:"
    if Order.objects.filter(county_id=county, note__startswith=prefix).exists():
        return made  # the day's orders were placed by an earlier run
    stock = {row.grade.pk: row for row in _stock(county, ctx.day)}
    count = _poisson(rng, lam)
    wholesale_today = ctx.day.toordinal() % WHOLESALE_EVERY == 0
    for i in range(count + (1 if wholesale_today else 0)):
        is_wholesale = i == count
        n_lines = 1 if is_wholesale else rng.choice((1, 1, 1, 2))
        picks = []
        options = sorted(
            (
                row
                for row in stock.values()
                if row.available > 0 and (is_wholesale or row.code != "live-pig")
            ),
            key=lambda r: r.grade.pk,
        )
        for _ in range(n_lines):
            if not options:
                break
            pick = rng.choice(options)
            grade, code, available = pick.grade, pick.code, pick.available
            cap = (
                max(1, available // 4)
                if is_wholesale
                else STOREFRONT_MAX_QTY.get(grade.standard.product.default_unit, 10)
            )
            qty = min(available, rng.randint(1, max(1, cap)))
            picks.append((grade, code, qty))
        hour = rng.uniform(8, 22)
        pays = rng.random() < PAY_SHARE
        name = person_name(
            rng, sex=rng.choice(("male", "female")), birth_year=rng.randint(1960, 2002)
        )
        phone = _phone(rng)
        city = rng.choice(CITIES)
        street = f"{city}{rng.randint(1, 300)}号{rng.randint(1, 30)}栋{rng.randint(101, 2801)}室"
        buyer_org, buyer_kind = BUYERS[rng.randrange(len(BUYERS))]
        note = f"{prefix}{'w' if is_wholesale else 's'}{i}"
        merged: dict[int, tuple[Grade, str, int]] = {}
        for grade, code, qty in picks:
            if grade.pk in merged:
                continue  # one line per grade
            merged[grade.pk] = (grade, code, qty)
        if not merged:
            continue
        lines = [
            {"product": code, "grade": grade.code, "quantity": qty}
            for grade, code, qty in merged.values()
        ]
        at = _at(ctx.day, hour)
        if until is not None and at > until:
            continue  # placed after the cut
        national = RegionScope.national()
        if is_wholesale:
            buyer = Buyer.objects.filter(county_id=county, organisation=buyer_org).first()
            if buyer is None:
                buyer = wholesale.buyer_create(
                    scope=national,
                    county_code=county,
                    organisation=buyer_org,
                    contact_name=name,
                    contact_phone=phone,
                    address=f"六盘水市{buyer_org}",
                    kind=buyer_kind,
                )
            delivery = max(ctx.day + dt.timedelta(days=3), timezone.localdate())
            order = wholesale.purchase_order_place(
                scope=national, buyer=buyer, lines=lines, delivery_date=delivery, note=note
            )
            made["wholesale"] += 1
        else:
            order = orders.order_place(
                channel="storefront",
                county_code=county,
                lines=lines,
                buyer_name=name,
                buyer_phone=phone,
                address=street,
                note=note,
                at=at,
            )
        made["orders"] += 1
        for grade, _code, qty in merged.values():
            stock[grade.pk].available -= qty
        if (pays or is_wholesale) and (until is None or at + dt.timedelta(minutes=3) <= until):
            _pay(order, at + dt.timedelta(minutes=3), event_id=f"evt_{note}")
            made["paid"] += 1
    return made


def _move_shipments(
    order: Order, day: dt.date, scope: RegionScope, until: dt.datetime | None
) -> int:
    moved = 0
    for link in order.shipments.select_related("shipment").order_by("id"):
        s = link.shipment
        tracking = f"SFU{_unit_hash(order.number, s.pk) % 10**10:010d}"
        steps: list[tuple[str, Callable[..., Any], dt.datetime, dict[str, Any]]] = [
            (ShipmentState.BOOKED, logistics_shipments.shipment_collect, _at(day, 10), {}),
            (ShipmentState.COLLECTED, logistics_shipments.shipment_scan_in, _at(day, 17), {}),
            (
                ShipmentState.AT_COUNTY,
                logistics_shipments.shipment_hand_over,
                _at(day, 18.5),
                {"carrier": "SF", "tracking_number": tracking},
            ),
        ]
        for from_state, action, when, extra in steps:
            if until is not None and when > until:
                break
            if s.state == from_state:
                s = action(scope=scope, shipment=s, at=when, **extra)
                moved += 1
    return moved


def _progress(ctx: SimulationContext) -> dict[str, int]:
    """Bring the county's simulated orders placed before ``ctx.day`` to the state their
    schedule gives for ``ctx.day`` (each step at its own scheduled day, so running a day
    again, or the days in another order, changes nothing):

    - age 1: unpaid → expired (past its time); paid → cancelled (3 %) or fulfilled;
    - age 2: the shipments collected, scanned in and handed over → shipped;
    - age 3-5 (per order): delivered; the day after, 5 % returned."""
    county = ctx.county_code
    scope = RegionScope.for_regions([county])
    out = {
        "fulfilled": 0,
        "shipped": 0,
        "delivered": 0,
        "cancelled": 0,
        "expired": 0,
        "returned": 0,
    }
    until = ctx.until()
    live = Order.objects.filter(
        county_id=county,
        note__startswith=f"{MARK}{county}:",
        state__in=(
            OrderState.PENDING_PAYMENT,
            OrderState.PAID,
            OrderState.FULFILLING,
            OrderState.SHIPPED,
            OrderState.DELIVERED,
        ),
    ).order_by("note")
    for order in live:
        placed = _marker_day(order.note)
        if placed is None or placed >= ctx.day:
            continue
        h = _unit_hash(ctx.seed, order.note)
        age = (ctx.day - placed).days
        deliver_age = 3 + (h >> 10) % 3
        returns = ((h >> 12) % 1000) < RETURN_SHARE * 1000
        if order.state == OrderState.DELIVERED and not (returns and age >= deliver_age + 1):
            continue
        while True:
            if order.state == OrderState.PENDING_PAYMENT:
                # unpaid past its time: the expiry the sweep (orders-expire) applies
                when = _at(ctx.day, 0)
                if order.expires_at is None or order.expires_at > when:
                    break
                if until is not None and when > until:
                    break
                order = orders.order_expire(order=order, now=when)
                out["expired"] += 1
                break
            elif order.state == OrderState.PAID:
                if (h % 1000) < CANCEL_PAID_SHARE * 1000:
                    order = orders.order_cancel(scope=scope, order=order, reason="买家取消")
                    out["cancelled"] += 1
                else:
                    order = orders.order_fulfil(scope=scope, order=order)
                    out["fulfilled"] += 1
            elif order.state == OrderState.FULFILLING and age >= 2:
                _move_shipments(order, placed + dt.timedelta(days=2), scope, until)
                order = orders.order_sync_shipments(order=order)
                if order.state != OrderState.SHIPPED:
                    break
                out["shipped"] += 1
            elif order.state == OrderState.SHIPPED and age >= deliver_age:
                when = _at(placed + dt.timedelta(days=deliver_age), 15)
                if until is not None and when > until:
                    break
                order = orders.order_deliver(scope=scope, order=order, at=when)
                out["delivered"] += 1
            elif order.state == OrderState.DELIVERED and returns and age >= deliver_age + 1:
                amount = order.total_fen if (h >> 20) % 2 else max(1, order.total_fen // 2)
                order = orders.order_return(
                    scope=scope, order=order, amount_fen=amount, reason="质量问题"
                )
                out["returned"] += 1
                break
            else:
                break
    return out


@register("commerce.sim", after=("logistics.shipments", "registry.households"))
def generate_commerce(ctx: SimulationContext) -> dict[str, Any]:
    national = RegionScope.national()
    products = _ensure_catalogue()
    prices = _ensure_prices(ctx.county_code, ctx.day, products, national)
    stations = _stations(ctx.county_code, int(ctx.params.get("commerce_stations", 4)))
    progress = _progress(ctx)
    lots = _lots(ctx, stations, products, national)
    placed = _orders(ctx)
    return {"prices": prices, **lots, **placed, **progress}


@register_income_link
def household_sales(county: str, year: int) -> dict[int, int]:
    """The registry's income generator asks: each household producer's delivered sales
    in ``year`` (China time), fen, less what was refunded."""
    out: dict[int, int] = {}
    for household, quantity, price, refunded in OrderAllocation.objects.filter(
        released=False,
        line__order__county_id=county,
        line__order__delivered_at__gte=_at(dt.date(year, 1, 1), 0),
        line__order__delivered_at__lt=_at(dt.date(year + 1, 1, 1), 0),
        lot__producer__household__isnull=False,
    ).values_list(
        "lot__producer__household_id", "quantity", "line__unit_price_fen", "refunded_fen"
    ):
        out[household] = out.get(household, 0) + max(0, quantity * price - refunded)
    return out


# the demo's commerce runs in these counties (as its logistics); in another selection of
# counties, the first one
DEMO_COUNTIES = ("520204",)
DEMO_DAYS = 5  # the demo's simulated days (as its logistics)
HARVEST_DAYS = 5  # and the last days of the latest kiwifruit season: stock in cold store


def demo_days(
    today: dt.date, days: int = DEMO_DAYS, harvest_days: int = HARVEST_DAYS
) -> list[dt.date]:
    """The demo's days: the last ``harvest_days`` in-season days of kiwifruit before
    ``today`` (the fruit keeps in cold store: the demo has graded stock to sell out of
    season) if today is not in season, then the last ``days`` days up to ``today``."""
    recent = [today - dt.timedelta(days=back) for back in range(days - 1, -1, -1)]
    extra: list[dt.date] = []
    probe = recent[0] - dt.timedelta(days=1)
    for _ in range(366):
        if len(extra) == harvest_days or in_season("kiwifruit-red", recent[-1]):
            break
        if in_season("kiwifruit-red", probe):
            extra.append(probe)
        probe -= dt.timedelta(days=1)
    return sorted(extra) + recent


def demo_commerce_sim(
    *,
    seed: int,
    county_codes: list[str],
    today: dt.date | None = None,
    until: dt.datetime | None = None,
    echo: Callable[[str], None] | None = None,
) -> dict[str, dict[str, int]]:
    """The demo's lots and orders: :func:`generate_commerce` over :func:`demo_days` in
    the demo counties among ``county_codes`` (before the catalogue demo, whose prices and
    lots then leave these stations as they are), up to ``until`` (when ``today`` is not
    given: :func:`~cunzhan.core.simulation.demo_cut`, before the day's first lot)."""
    from cunzhan.core import simulation as core_simulation

    if today is None:
        until = until or demo_cut()
        today = until.astimezone(CHINA).date()
    params = {"until": until} if until is not None else {}
    codes = [c for c in county_codes if c in DEMO_COUNTIES] or county_codes[:1]
    out: dict[str, dict[str, int]] = {}
    for code in codes:
        totals: dict[str, int] = {}
        for day in demo_days(today):
            ctx = core_simulation.run(
                seed=seed,
                county_code=code,
                day=day,
                only=list(COMMERCE_DAY_GENERATORS),
                params=params,
            )
            for k, v in ctx.results["commerce.sim"].items():
                totals[k] = totals.get(k, 0) + int(v)
        out[code] = totals
        if echo is not None:
            echo(
                f"  {code}: commerce of {len(demo_days(today))} days ready "
                f"({totals.get('lots', 0)} lots, {totals.get('orders', 0)} orders, "
                f"{totals.get('delivered', 0)} delivered)"
            )
    return out
