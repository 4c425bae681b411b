"""Simulator: assisted purchases (代购) for one county and day, through the services and
the real path of a commission (docs/adr/0016-assisted-purchase.md and its addendum).

Some of the villagers who receive a parcel that day (``logistics.parcels`` announced
them for the same county-day) also ask the station operator to order something: the
operator RECORDS the purchase (item, plausible price, the shop's order and tracking
number), THEN the shop's carrier announces the parcel (``manifest_intake``), the parcel
is scanned down to the station (``scan_events_record``), and the villager collects it
with the pickup code (``parcel_pick_up``: the hand-out a person does) — or refuses it
(about 4 %: it goes back, no commission) or has not come yet (about 6 %). The sweep then
links the parcels by tracking number and accrues the commission of those handed out.
So the purchase is recorded before its parcel exists, for the parcel's own recipient,
and paid only after the hand-out: the rules the service enforces.

Deterministic from the seed; a re-run of the same day records nothing twice (the shop's
tracking numbers are derived from the day, the station and a sequence).
"""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from typing import Any

from cunzhan.accounts import selectors as accounts_selectors
from cunzhan.commerce import assisted
from cunzhan.commerce.assisted_models import AssistedPurchase, Shop
from cunzhan.core.scope import RegionScope
from cunzhan.core.simulation import CHINA, SimulationContext, register
from cunzhan.core.validation import ascii_digits
from cunzhan.logistics import selectors as parcels
from cunzhan.logistics import services as logistics_services
from cunzhan.logistics import statemachine as sm
from cunzhan.network.models import Station, StationKind, StationStatus

ITEMS = [
    ("电饭煲", 159_00),
    ("化肥 50kg", 185_00),
    ("儿童书包", 69_00),
    ("手机壳", 19_90),
    ("保温水壶", 45_00),
    ("电动车头盔", 88_00),
    ("喷雾器", 120_00),
    ("老人手机", 199_00),
    ("洗衣粉 5kg", 39_90),
    ("蚊帐", 35_00),
]
SHOP_WEIGHTS = [(Shop.PINDUODUO, 40), (Shop.TAOBAO, 30), (Shop.JD, 18), (Shop.ALI1688, 7)]
SHOP_WEIGHTS.append((Shop.OTHER, 5))


def _yuan(fen: int) -> str:
    return f"{fen // 100}.{fen % 100:02d}"


CARRIER = "ZTO"  # the shops' carrier in the simulation (any carrier the county knows)
REFUSED_SHARE = 0.04
NOT_YET_SHARE = 0.06


def _at(day: dt.date, hour: float) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(0), tzinfo=CHINA) + dt.timedelta(hours=hour)


def _events(tn: str, station: Station, arrive: dt.datetime) -> list[dict[str, Any]]:
    steps = [
        (sm.RECEIVED_AT_COUNTY, arrive - dt.timedelta(hours=4), ""),
        (sm.SORTED, arrive - dt.timedelta(hours=3.5), ""),
        (sm.LOADED, arrive - dt.timedelta(hours=2), ""),
        (sm.AT_STATION, arrive, station.code),
    ]
    return [
        {
            "event_id": f"sim:dg:{tn}:{t}",
            "carrier": CARRIER,
            "tracking_number": tn,
            "type": t,
            "occurred_at": at,
            "station_code": code,
            "device": "sim",
        }
        for t, at, code in steps
    ]


@register("commerce.assisted", after=("logistics.parcels",))
def generate_assisted(ctx: SimulationContext) -> dict[str, Any]:
    if "logistics.parcels" not in ctx.results:
        # only with the day's parcels (``cunzhan simulate``): the demo's household step
        # runs the other generators without them
        return {"recorded": 0, "linked": 0, "picked_up": 0, "commission_fen": 0}
    share = float(ctx.params.get("assisted_share", 0.05))
    until = ctx.until() or _at(ctx.day, 24) - dt.timedelta(seconds=1)
    scope = RegionScope.for_regions([ctx.county_code])
    stations = list(
        Station.objects.filter(
            scope.q("region_id"),
            kind=StationKind.VILLAGE_STATION,
            status=StationStatus.ACTIVE,
        ).order_by("code")
    )
    operators = accounts_selectors.station_operators(station_ids=[s.pk for s in stations])
    system = RegionScope.national()
    # the day's recipients at each station: the villagers who may also order through it
    todays = sorted(ctx.shared.get("logistics.parcels:tracking", ()))
    villagers: dict[int, list[tuple[str, str, str]]] = defaultdict(list)
    for i in range(0, len(todays), 500):
        for station_id, tn, name, phone in (
            parcels.parcels_in_scope(scope=scope)
            .filter(
                tracking_number__in=todays[i : i + 500],
                station__isnull=False,
                direction="down",
                recipient_phone__regex=r"^1[3-9][0-9]{9}$",
            )
            .values_list("station_id", "tracking_number", "recipient_name", "recipient_phone")
        ):
            villagers[station_id].append((tn, name, phone))
    recorded = handed = refused = 0
    for st in stations:
        rows = sorted(villagers.get(st.pk, ()))
        if not rows:
            continue
        rng = ctx.rng(f"commerce.assisted:{st.code}")
        seq = 0
        for _tn, name, phone in rows:
            # every row draws the same numbers, taken or not: a re-run sees the same stream
            pick = rng.random() < share
            item, base = rng.choice(ITEMS)
            fen = max(100, int(base * math.exp(rng.gauss(0, 0.25))))
            shop = rng.choices([s for s, _ in SHOP_WEIGHTS], weights=[w for _, w in SHOP_WEIGHTS])
            order_no = f"SIM{rng.randrange(10**10):010d}"
            arrive = _at(ctx.day, 9 + rng.uniform(0, 6))
            fate = rng.random()
            wait_h = rng.uniform(0.3, 30)
            if not pick:
                continue
            seq += 1
            # unique per station and day: the village's whole code and the station's
            # number in it (the code's last six characters repeat across townships)
            digits = ascii_digits(st.code)
            tn = f"DG{ctx.day:%y%m%d}{digits}{seq:03d}"
            if AssistedPurchase.objects.filter(tracking_number=tn, station=st).exists():
                continue  # this day ran before
            # 1. the operator records the villager's order (the shop gives both numbers)
            assisted.assisted_record(
                scope=system,
                station=st,
                villager_name=name,
                villager_phone=phone,
                item=item,
                price=_yuan(fen),
                shop=shop[0],
                shop_order_no=order_no,
                tracking_number=tn,
                actor=operators.get(st.pk),
            )
            recorded += 1
            # 2. the shop's carrier announces the parcel and carries it to the station
            logistics_services.manifest_intake(
                scope=system,
                carrier_code=CARRIER,
                rows=[
                    {
                        "tracking_number": tn,
                        "recipient_name": name,
                        "phone": phone,
                        "village_code": st.region_id,
                        "weight_g": 1200,
                        "size_class": "M",
                    }
                ],
                occurred_at=min(arrive - dt.timedelta(hours=8), until),
            )
            events = [e for e in _events(tn, st, arrive) if e["occurred_at"] <= until]
            if events:
                logistics_services.scan_events_record(scope=system, events=events)
            if len(events) < 4:
                continue
            # 3. the villager collects it with the pickup code, refuses it, or not yet
            at = arrive + dt.timedelta(hours=wait_h)
            if at > until or fate < NOT_YET_SHARE:
                continue
            if fate < NOT_YET_SHARE + REFUSED_SHARE:
                logistics_services.scan_events_record(
                    scope=system,
                    events=[
                        {
                            "event_id": f"sim:dg:{tn}:refused",
                            "carrier": CARRIER,
                            "tracking_number": tn,
                            "type": sm.REFUSED,
                            "occurred_at": at,
                            "station_code": st.code,
                            "device": "sim",
                        }
                    ],
                )
                refused += 1
                continue
            code = (
                parcels.parcels_in_scope(scope=system)
                .filter(tracking_number=tn, station=st)
                .values_list("pickup_code", flat=True)
                .first()
            )
            if code:
                logistics_services.parcel_pick_up(
                    scope=system, station=st, code=code, at=at, device="sim"
                )
                handed += 1
    swept = assisted.assisted_sweep(scope=scope)
    return {
        "recorded": recorded,
        "handed_out": handed,
        "refused": refused,
        "linked": swept.linked_tracking + swept.linked_phone,
        "picked_up": swept.picked_up,
        "returned": swept.returned,
        "commission_fen": swept.commission_fen,
    }
