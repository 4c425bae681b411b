"""Simulator: assisted purchases (代购) for one county and day, through the services.

Some of the day's parcels (those ``logistics.parcels`` announced for the same county-day)
that reached a village station are the shops' deliveries of
orders the operator placed for a villager: for each, an assisted purchase is recorded
with the parcel's tracking number (recipient, phone, a plausible item and price), then
the sweep links the parcels and accrues the commission of those already picked up.
Deterministic from the seed; a re-run of the same day records nothing twice (a
parcel's tracking number is claimed once).
"""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Any

from cunzhan.commerce import assisted
from cunzhan.commerce.assisted_models import AssistedPurchase, Shop
from cunzhan.core.scope import RegionScope
from cunzhan.core.simulation import SimulationContext, register
from cunzhan.logistics import selectors as parcels
from cunzhan.logistics import statemachine as sm
from cunzhan.logistics.models import in_states
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


@register("commerce.assisted", after=("logistics.parcels",))
def generate_assisted(ctx: SimulationContext) -> dict[str, Any]:
    if "logistics.parcels" not in ctx.results:
        # only with the day's parcels (``cunzhan simulate``): the demo's household step
        # runs the other generators without them, and must not pick up older parcels
        return {"recorded": 0, "linked": 0, "picked_up": 0, "commission_fen": 0}
    share = float(ctx.params.get("assisted_share", 0.05))
    scope = RegionScope.for_regions([ctx.county_code])
    stations = list(
        Station.objects.filter(
            scope.q("region_id"),
            kind=StationKind.VILLAGE_STATION,
            status=StationStatus.ACTIVE,
        ).order_by("code")
    )
    recorded = 0
    system = RegionScope.national()
    # the day's parcels only (a parcel of an earlier day had its draw that day)
    todays = sorted(ctx.shared.get("logistics.parcels:tracking", ()))
    arrived: dict[int, list[tuple[str, str, str]]] = defaultdict(list)
    for i in range(0, len(todays), 500):
        for station_id, tn, name, phone in (
            parcels.parcels_in_scope(scope=scope)
            .filter(
                in_states(sm.AT_STATION, sm.PICKED_UP),
                tracking_number__in=todays[i : i + 500],
                station__isnull=False,
                direction="down",
                recipient_phone__regex=r"^1[3-9]\d{9}$",
            )
            .values_list("station_id", "tracking_number", "recipient_name", "recipient_phone")
        ):
            arrived[station_id].append((tn, name, phone))
    claimed = (
        set(
            AssistedPurchase.objects.filter(tracking_number__in=todays).values_list(
                "tracking_number", flat=True
            )
        )
        if todays
        else set()
    )
    for st in stations:
        rows = sorted(arrived.get(st.pk, ()))
        if not rows:
            continue
        rng = ctx.rng(f"commerce.assisted:{st.code}")
        for tn, name, phone in rows:
            # every row draws the same numbers, taken or not: a re-run sees the same stream
            pick = rng.random() < share
            item, base = rng.choice(ITEMS)
            fen = max(100, int(base * math.exp(rng.gauss(0, 0.25))))
            shop = rng.choices([s for s, _ in SHOP_WEIGHTS], weights=[w for _, w in SHOP_WEIGHTS])
            order_no = f"SIM{rng.randrange(10**10):010d}"
            if not pick or tn in claimed:
                continue
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
            )
            claimed.add(tn)
            recorded += 1
    swept = assisted.assisted_sweep(scope=scope)
    return {
        "recorded": recorded,
        "linked": swept.linked_tracking + swept.linked_phone,
        "picked_up": swept.picked_up,
        "commission_fen": swept.commission_fen,
    }
