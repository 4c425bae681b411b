"""Simulation generators of the two-way logistics (issue 3 §4), through the real
services (``manifest_intake``, ``scan_events_record``, ``shipment_book`` …) so the data
is consistent, deterministic from the seed (``ctx.rng``) and idempotent (tracking
numbers and event ids are derived from seed-independent keys: running again adds
nothing, running with a later ``until`` adds the events that happened since).

``logistics.parcels`` — parcels DOWN announced on ``ctx.day`` for every active village
station of the county, and their events up to ``until``:

- Volume: about 1 parcel per 2.5 households a day (``parcels_per_household``, default
  0.4; households from the registry, 12 per village when it has none), Poisson-drawn
  per station; fewer on Sundays. ``unmatched_share`` (0.5 %) go to villages without a
  station (the county's queue for a person).
- Carrier mix, an ASSUMPTION for rural Guizhou (no public per-county figures): 中通 ZTO
  20 %, 圆通 YTO 16 %, 韵达 YUNDA 14 %, 极兔 JT 13 %, 申通 STO 9 % (the 通达系 and 极兔
  dominate e-commerce parcels), 邮政 EMS 18 % (strong in villages: it has served every
  township for decades), 京东 JD 5 %, 顺丰 SF 5 %.
- Weight: log-normal, median 900 g, σ 0.8 (about 80 % between 0.3 and 3 kg), 50 g to
  30 kg; size class from the weight (S < 1 kg, M < 3 kg, L < 10 kg, else XL), with a
  little noise. 2 % cash on delivery (20-300 yuan, whole yuan).
- Day (China time): manifest 00:30; received at the county centre 04:30-06:30 (the
  line-haul trucks); sorted before the 07:00 cut-off; loaded 07:30; at the station
  09:00-15:00 (by the station's place on the run); picked up after 0-6 days (40 %
  the same day, then decaying), 3 % never (left to aging), 1.5 % refused at the
  station and collected by the next day's run, then returned to the carrier at 17:00.

``logistics.shipments`` — shipments UP booked at the stations on ``ctx.day`` with a
harvest season (ASSUMPTION, from Guizhou's crop calendars): 猕猴桃 kiwifruit Sep-Oct,
茶叶 tea Mar-May, 刺梨 Rosa roxburghii Aug-Sep, 马铃薯 potatoes Jul-Oct, 核桃 walnuts
Sep-Oct, 腊肉 cured pork Dec-Jan, 生猪 (chilled pork) all year, 土鸡蛋 eggs all year.
About 0.12 bookings per station a day outside the seasons, up to ~0.6 in September.
Booked 08:00-18:00, collected by the next day's run, scanned in at the centre at 17:00,
handed over 18:00-20:00 to the outbound carrier (顺丰 and 京东 for fresh produce).

Parameters (``ctx.params``): ``until`` (ISO time or datetime; default the end of
``ctx.day``), ``parcels_per_household``, ``unmatched_share``, ``shipments_per_station``.
"""

from __future__ import annotations

import datetime as dt
import math
import random
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from django.db.models import Count

from cunzhan.core import simulation as core_simulation
from cunzhan.core.scope import RegionScope, prefix_q
from cunzhan.core.simulation import CHINA, SimulationContext, demo_cut, register
from cunzhan.core.validation import ascii_digits
from cunzhan.logistics import aging, services, shipments
from cunzhan.logistics import statemachine as sm
from cunzhan.logistics.models import Parcel, Shipment, ShipmentState, in_states
from cunzhan.network.models import Kind, Level, Region, Station, StationKind, StationStatus
from cunzhan.registry.models import Household, Person
from cunzhan.registry.simulation import PHONE_PREFIXES, person_name

CARRIER_SHARES = {
    "ZTO": 20,
    "YTO": 16,
    "YUNDA": 14,
    "JT": 13,
    "STO": 9,
    "EMS": 18,
    "JD": 5,
    "SF": 5,
}
TRACKING_PREFIX = {
    "ZTO": "78",
    "YTO": "YT",
    "YUNDA": "43",
    "JT": "JT",
    "STO": "77",
    "EMS": "98",
    "JD": "JD",
    "SF": "SF",
}
PICKUP_DELAY_WEIGHTS = [40, 24, 14, 8, 5, 3, 2]  # days 0..6 after arrival
NEVER_SHARE = 0.03
REFUSED_SHARE = 0.015
COD_SHARE = 0.02
BATCH = 8000

# product -> (months in season, bookings weight in season, weight per piece in kg, pieces)
PRODUCTS: dict[str, tuple[frozenset[int], float, tuple[float, float], tuple[int, int]]] = {
    "红心猕猴桃": (frozenset({9, 10}), 0.30, (2.5, 5.0), (2, 30)),
    "茶叶": (frozenset({3, 4, 5}), 0.20, (0.5, 2.5), (1, 10)),
    "刺梨": (frozenset({8, 9}), 0.20, (5.0, 10.0), (2, 20)),
    "马铃薯": (frozenset({7, 8, 9, 10}), 0.12, (10.0, 25.0), (2, 20)),
    "核桃": (frozenset({9, 10}), 0.08, (2.5, 5.0), (1, 10)),
    "腊肉": (frozenset({12, 1}), 0.15, (1.0, 5.0), (1, 8)),
    "冷鲜猪肉": (frozenset(range(1, 13)), 0.05, (5.0, 15.0), (1, 6)),
    "土鸡蛋": (frozenset(range(1, 13)), 0.07, (1.5, 3.0), (1, 10)),
}
FRESH = {"红心猕猴桃", "刺梨", "冷鲜猪肉", "土鸡蛋"}
DESTINATIONS = [
    ("贵阳市", 20),
    ("广州市", 14),
    ("深圳市", 12),
    ("上海市", 10),
    ("杭州市", 9),
    ("重庆市", 9),
    ("成都市", 8),
    ("北京市", 8),
    ("昆明市", 5),
    ("长沙市", 5),
]


def _at(day: dt.date, hour: float) -> dt.datetime:
    """``day`` at ``hour`` (may exceed 24) China time."""
    return dt.datetime.combine(day, dt.time(0), tzinfo=CHINA) + dt.timedelta(hours=hour)


def _until(ctx: SimulationContext) -> dt.datetime:
    return ctx.until() or _at(ctx.day, 24) - dt.timedelta(seconds=1)


def _poisson(rng: random.Random, lam: float) -> int:
    if lam <= 0:
        return 0
    if lam > 50:
        return max(0, round(rng.gauss(lam, math.sqrt(lam))))
    limit, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def _stations(county: str) -> list[Station]:
    return list(
        Station.objects.filter(
            prefix_q("region_id", county),
            kind=StationKind.VILLAGE_STATION,
            status=StationStatus.ACTIVE,
        ).order_by("code")
    )


def _phone(rng: random.Random) -> str:
    return rng.choice(PHONE_PREFIXES) + f"{rng.randrange(10**8):08d}"


def _recipients(villages: list[str]) -> dict[str, list[tuple[str, str]]]:
    out: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for name, phone, village in (
        Person.objects.filter(household__village_id__in=villages)
        .exclude(phone="")
        .order_by("pk")
        .values_list("name", "phone", "household__village_id")
    ):
        out[village].append((name, phone))
    return out


def _send(scope: RegionScope, events: list[dict[str, Any]]) -> int:
    applied = 0
    events.sort(key=lambda e: (e["tracking_number"], e["occurred_at"]))
    for i in range(0, len(events), BATCH):
        statuses = services.scan_events_record(scope=scope, events=events[i : i + BATCH])
        applied += sum(1 for s in statuses if s["status"] != services.DUPLICATE)
    return applied


@register("logistics.parcels", after=("registry.households",))
def generate_parcels(ctx: SimulationContext) -> dict[str, Any]:
    county = ctx.county_code
    until = _until(ctx)
    day = ctx.day
    if _at(day, 0) > until:
        return {"parcels": 0, "events": 0}
    rate = float(ctx.params.get("parcels_per_household", 0.4))
    unmatched_share = float(ctx.params.get("unmatched_share", 0.005))
    stations = _stations(county)
    villages = [s.region_id for s in stations]
    households = dict(
        Household.objects.filter(village_id__in=villages)
        .values("village_id")
        .annotate(n=Count("pk"))
        .values_list("village_id", "n")
    )
    people = _recipients(villages)
    bare = list(
        Region.objects.filter(prefix_q("code", county), level=Level.VILLAGE, kind=Kind.VILLAGE)
        .exclude(code__in=villages)
        .order_by("code")
        .values_list("code", flat=True)[:200]
    )
    weekday = 0.75 if day.isoweekday() == 7 else 1.0
    carriers = list(CARRIER_SHARES)
    shares = list(CARRIER_SHARES.values())
    rows: dict[str, list[dict[str, Any]]] = defaultdict(list)
    plans: list[tuple[str, str, Station | None, random.Random, float]] = []
    seq: dict[str, int] = defaultdict(int)
    for st in stations:
        rng = ctx.rng(f"logistics.parcels:{st.code}")
        offset = rng.uniform(0, 6)  # the station's place on the run: hours after 09:00
        lam = households.get(st.region_id, 12) * rate * weekday
        for _ in range(_poisson(rng, lam)):
            village = st.region_id
            target: Station | None = st
            if bare and rng.random() < unmatched_share:
                village, target = rng.choice(bare), None
            carrier = rng.choices(carriers, weights=shares)[0]
            seq[carrier] += 1
            tn = f"{TRACKING_PREFIX[carrier]}{day:%y%m%d}{county[2:6]}{seq[carrier]:05d}"
            pool = people.get(village) or []
            if pool and rng.random() < 0.9:
                name, phone = rng.choice(pool)
            else:
                name = person_name(
                    rng, sex=rng.choice(["male", "female"]), birth_year=rng.randint(1955, 2004)
                )
                phone = _phone(rng)
            weight = int(min(30_000, max(50, rng.lognormvariate(math.log(900), 0.8))))
            size = (
                "S" if weight < 1000 else "M" if weight < 3000 else "L" if weight < 10_000 else "XL"
            )
            if rng.random() < 0.08:
                size = rng.choice(["S", "M", "L"])
            cod = rng.randint(20, 300) * 100 if rng.random() < COD_SHARE else 0
            rows[carrier].append(
                {
                    "tracking_number": tn,
                    "recipient_name": name,
                    "phone": phone,
                    "village_code": village,
                    "weight_g": weight,
                    "size_class": size,
                    "cod_fen": cod,
                }
            )
            plans.append((carrier, tn, target, rng, offset))
    # the day's parcels, for the later generators of this county-day (代购)
    ctx.shared["logistics.parcels:tracking"] = {tn for _c, tn, _t, _r, _o in plans}
    scope = RegionScope.for_regions([county])
    announced_at = _at(day, 0.5)
    if announced_at > until:
        return {"parcels": 0, "events": 0}
    created = 0
    for carrier in carriers:
        if rows[carrier]:
            result = services.manifest_intake(
                scope=scope, carrier_code=carrier, rows=rows[carrier], occurred_at=announced_at
            )
            created += len(result.created)
    line_haul = {c: ctx.rng(f"logistics.linehaul:{c}").uniform(4.5, 6.0) for c in carriers}
    events: list[dict[str, Any]] = []
    handouts: list[tuple[str, str, dt.datetime, str]] = []
    for carrier, tn, target, rng, offset in plans:
        timeline = _parcel_timeline(rng, day, line_haul[carrier], target, offset)
        for type_, at, station_code in timeline:
            if at > until:
                break
            if type_ == sm.PICKED_UP:  # the recipient comes with the SMS's code
                handouts.append((carrier, tn, at, station_code))
                continue
            events.append(
                {
                    "event_id": f"sim:{carrier}:{tn}:{type_}",
                    "carrier": carrier,
                    "tracking_number": tn,
                    "type": type_,
                    "occurred_at": at,
                    "station_code": station_code,
                    "device": "sim",
                }
            )
    applied = _send(scope, events) if events else 0
    applied += _hand_out(scope, handouts)
    return {"parcels": created, "planned": len(plans), "events": applied}


def _hand_out(scope: RegionScope, handouts: list[tuple[str, str, dt.datetime, str]]) -> int:
    """The recipients collect their parcels the way a person does: at the station, with
    the pickup code of the arrival SMS (``services.parcel_pick_up``, the hand-out path
    of the station's page and API) — never a bare ``picked_up`` scan. A parcel already
    handed out (a second run) is skipped; the event id is stable, so the run stays
    deterministic."""
    if not handouts:
        return 0
    waiting = {
        (c, tn): (code, sid)
        for c, tn, code, sid in Parcel.objects.filter(
            in_states(sm.AT_STATION),
            tracking_number__in=[tn for _c, tn, _a, _s in handouts],
        )
        .order_by()
        .values_list("carrier__code", "tracking_number", "pickup_code", "station_id")
    }
    stations = Station.objects.in_bulk({sid for _code, sid in waiting.values()})
    done = 0
    for carrier, tn, at, _station_code in sorted(handouts, key=lambda h: (h[2], h[1])):
        found = waiting.get((carrier, tn))
        if found is None or not found[0]:
            continue
        code, sid = found
        services.parcel_pick_up(
            scope=scope,
            station=stations[sid],
            code=code,
            at=at,
            device="sim",
            event_id=f"sim:{carrier}:{tn}:{sm.PICKED_UP}",
        )
        done += 1
    return done


def _parcel_timeline(
    rng: random.Random, day: dt.date, line_haul: float, station: Station | None, offset: float
) -> list[tuple[str, dt.datetime, str]]:
    received = line_haul + rng.uniform(0, 0.5)
    sorted_ = min(received + rng.uniform(0.15, 0.6), 6.9)
    out = [
        (sm.RECEIVED_AT_COUNTY, _at(day, received), ""),
        (sm.SORTED, _at(day, max(sorted_, received + 0.05)), ""),
    ]
    if station is None:  # unmatched: waits at the centre for a person
        return out
    arrive = 9 + offset
    out += [
        (sm.LOADED, _at(day, 7.5 + rng.uniform(0, 0.4)), ""),
        (sm.AT_STATION, _at(day, arrive), station.code),
    ]
    fate = rng.random()
    delay = rng.choices(range(len(PICKUP_DELAY_WEIGHTS)), weights=PICKUP_DELAY_WEIGHTS)[0]
    if delay == 0:
        hour = arrive + rng.uniform(0.3, max(0.5, 20 - arrive))
    else:
        hour = delay * 24 + rng.uniform(8, 20)
    if fate < NEVER_SHARE:
        return out  # never collected by its recipient: aging sends it back
    if fate < NEVER_SHARE + REFUSED_SHARE:
        refused = _at(day, hour)
        next_run = _at(refused.astimezone(CHINA).date() + dt.timedelta(days=1), arrive - 0.1)
        return [
            *out,
            (sm.REFUSED, refused, station.code),
            (sm.COLLECTED, next_run, station.code),
            (sm.RETURNED, _at(next_run.astimezone(CHINA).date(), 17), ""),
        ]
    return [*out, (sm.PICKED_UP, _at(day, hour), station.code)]


@register("logistics.shipments", after=("logistics.parcels",))
def generate_shipments(ctx: SimulationContext) -> dict[str, Any]:
    county = ctx.county_code
    until = _until(ctx)
    day = ctx.day
    base = float(ctx.params.get("shipments_per_station", 0.12))
    scope = RegionScope.for_regions([county])
    month = day.month
    in_season = {p: v for p, v in PRODUCTS.items() if month in v[0]}
    season_weight = sum(v[1] for v in in_season.values())
    lam = base * (1 + 4 * season_weight)
    products = list(in_season)
    weights = [in_season[p][1] for p in products]
    dests = [d for d, _ in DESTINATIONS]
    dest_w = [w for _, w in DESTINATIONS]
    booked = moved = 0
    for st in _stations(county):
        rng = ctx.rng(f"logistics.shipments:{st.code}")
        offset = rng.uniform(0, 6)
        for i in range(_poisson(rng, lam)):
            product = rng.choices(products, weights=weights)[0]
            _months, _w, (low, high), (pmin, pmax) = PRODUCTS[product]
            pieces = rng.randint(pmin, pmax)
            per_piece = rng.uniform(low, high)
            at = _at(day, 8) + dt.timedelta(seconds=rng.randrange(10 * 3600) + i)
            fresh = product in FRESH
            carrier = rng.choices(
                ["SF", "JD", "EMS", "ZTO", "YTO"],
                weights=[45, 25, 15, 10, 5] if fresh else [15, 10, 30, 25, 20],
            )[0]
            name = person_name(
                rng,
                sex="male" if rng.random() < 0.7 else "female",
                birth_year=rng.randint(1955, 1995),
            )
            phone = _phone(rng)
            destination = rng.choices(dests, weights=dest_w)[0]
            scan_in = _at(day + dt.timedelta(days=1), 17 + rng.uniform(0, 0.5))
            hand_over = _at(day + dt.timedelta(days=1), 18 + rng.uniform(0, 2))
            digits = ascii_digits(st.code)
            tracking = f"{TRACKING_PREFIX[carrier]}U{day:%y%m%d}{digits}{i:02d}"
            tracking = "".join(ch for ch in tracking if ch.isalnum())[:40]
            if at > until:
                continue
            s = Shipment.objects.filter(station=st, created_at=at, producer_name=name).first()
            if s is None:
                s = shipments.shipment_book(
                    scope=scope,
                    station=st,
                    producer_name=name,
                    producer_phone=phone,
                    contents=f"{product} {pieces}件",
                    pieces=pieces,
                    weight_g=max(1, round(pieces * per_piece * 1000)),
                    destination=destination,
                    outbound_carrier=carrier,
                    at=at,
                )
                booked += 1
            collected = _at(day + dt.timedelta(days=1), 9 + offset + 0.05)
            steps: list[tuple[dt.datetime, str, Callable[..., Shipment], dict[str, Any]]] = [
                (collected, ShipmentState.BOOKED, shipments.shipment_collect, {}),
                (
                    scan_in,
                    ShipmentState.COLLECTED,
                    shipments.shipment_scan_in,
                    {},
                ),
                (
                    hand_over,
                    ShipmentState.AT_COUNTY,
                    shipments.shipment_hand_over,
                    {"carrier": carrier, "tracking_number": tracking},
                ),
            ]
            for when, from_state, action, extra in steps:
                if when > until:
                    break
                if s.state == from_state:
                    s = action(scope=scope, shipment=s, at=when, **extra)
                    moved += 1
    return {"booked": booked, "moved": moved, "in_season": products}


def simulate_days(
    *,
    seed: int,
    county_code: str,
    days: int,
    until: dt.datetime,
    params: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The last ``days`` days up to ``until`` (China time) for one county: the demo's
    logistics. Events after ``until`` are not recorded."""
    last = until.astimezone(CHINA).date()
    totals: dict[str, int] = defaultdict(int)
    for back in range(days - 1, -1, -1):
        day = last - dt.timedelta(days=back)
        ctx = core_simulation.run(
            seed=seed,
            county_code=county_code,
            day=day,
            only=["logistics.parcels", "logistics.shipments"],
            params={**(params or {}), "until": until},
        )
        totals["parcels"] += ctx.results["logistics.parcels"]["parcels"]
        totals["events"] += ctx.results["logistics.parcels"]["events"]
        totals["shipments"] += ctx.results["logistics.shipments"]["booked"]
    return dict(totals)


# the demo's logistics runs in these counties only (keeps the demo build fast); in
# another selection of counties, the first one
DEMO_COUNTIES = ("520204",)
DEMO_DAYS = 5  # parcels of 5 days: some have waited the reminder days
# 1 parcel per ~2.9 households a day (the low end of 2-3): keeps the demo build fast
DEMO_PARAMS = {"parcels_per_household": 0.35}
# the generators that simulate a day of parcels and shipments (the demo runs them for its
# own days, not for the registry's fixed demo day)
DAY_GENERATORS = ("logistics.parcels", "logistics.shipments")


def demo_logistics(
    *,
    seed: int,
    county_codes: list[str],
    days: int = DEMO_DAYS,
    until: dt.datetime | None = None,
    params: dict[str, Any] | None = None,
    echo: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """The demo's logistics: the last ``days`` days up to today's cut-off (07:00 China
    time, or now before it) in the demo counties among ``county_codes`` — parcels
    sorted at the centre awaiting today's run, parcels waiting at the stations (some
    overdue and reminded), shipments booked for today's run and older ones handed
    over — then aging and the fee sweep at that time."""
    if until is None:
        until = demo_cut()
    codes = [c for c in county_codes if c in DEMO_COUNTIES] or county_codes[:1]
    params = DEMO_PARAMS if params is None else params
    out: dict[str, Any] = {}
    for code in codes:
        totals = simulate_days(seed=seed, county_code=code, days=days, until=until, params=params)
        result = aging.aging_run(scope=RegionScope.for_regions([code]), county_code=code, at=until)
        out[code] = {**totals, **result.as_dict()}
        if echo is not None:
            echo(
                f"  {code}: logistics of {days} days ready ({totals.get('parcels', 0)} parcels, "
                f"{totals.get('shipments', 0)} shipments)"
            )
    return out
