"""Property (issue 12): no sequence of operator-only actions yields an assisted-purchase
(代购) commission without a parcel that is the same villager's, announced after the
purchase was recorded, and handed out to them at the station.

The operator may record purchases (any villager, any price, any tracking number,
including those of parcels that already exist), mark them ordered with any tracking
number, link any parcel by tracking number or by id, cancel, sweep, and hand out
waiting parcels by their code. The world (not the operator) announces parcels for
villager A or B, and closes some by a bulk ``picked_up`` scan or a refusal. After every
sequence: each commission rests on those facts, the ledger holds exactly those
commissions, and no refusal wrote anything."""

from __future__ import annotations

import itertools

from django.db import transaction
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from cunzhan.commerce import assisted
from cunzhan.commerce.assisted_models import AssistedPurchase, ReviewState
from cunzhan.core.errors import ApplicationError
from cunzhan.core.scope import RegionScope
from cunzhan.ledger.models import Transaction
from cunzhan.logistics import statemachine as sm
from cunzhan.logistics.models import Parcel
from cunzhan.logistics.selectors import parcels_handed_out
from tests.commerce.assisted_helpers import hand_out, parcel_to_station, scan

PHONES = ["13811110001", "13922220002"]  # villagers A and B
PRICES = ["1", "199.90", "799", "1500", "2999.99", "3000.01", "9999999"]
_tn = itertools.count(1)

villager = st.integers(0, 1)
ops = st.one_of(
    st.tuples(st.just("record"), villager, st.sampled_from(PRICES), st.integers(-1, 6)),
    st.tuples(st.just("ordered"), st.integers(0, 6), st.integers(-1, 6)),
    st.tuples(st.just("link_tn"), st.integers(0, 6), st.integers(0, 6)),
    st.tuples(st.just("link_id"), st.integers(0, 6), st.integers(0, 6)),
    st.tuples(st.just("cancel"), st.integers(0, 6)),
    st.tuples(st.just("sweep")),
    st.tuples(st.just("hand_out"), st.integers(0, 6)),
    # the world
    st.tuples(st.just("parcel"), villager),
    st.tuples(st.just("bulk_picked_up"), st.integers(0, 6)),
    st.tuples(st.just("refused"), st.integers(0, 6)),
)


def _pick(items: list, i: int):
    return items[i % len(items)] if items else None


def _run(op: tuple, station, scope: RegionScope, state: dict) -> None:
    purchases: list[AssistedPurchase] = state["purchases"]
    parcels: list[Parcel] = state["parcels"]
    kind = op[0]

    def tracking(i: int) -> str:
        p = _pick(parcels, i) if i >= 0 else None
        return p.tracking_number if p is not None else ""

    if kind == "record":
        _, who, price, ti = op
        purchases.append(
            assisted.assisted_record(
                scope=scope,
                station=station,
                villager_name="村民",
                villager_phone=PHONES[who],
                item="货物",
                price=price,
                shop="taobao",
                tracking_number=tracking(ti),
            )
        )
    elif kind == "ordered" and purchases:
        assisted.assisted_mark_ordered(
            scope=scope,
            purchase=_pick(purchases, op[1]),
            shop_order_no="TB-1",
            tracking_number=tracking(op[2]),
        )
    elif kind == "link_tn" and purchases and parcels:
        assisted.assisted_link(
            scope=scope, purchase=_pick(purchases, op[1]), tracking_number=tracking(op[2])
        )
    elif kind == "link_id" and purchases and parcels:
        assisted.assisted_link(
            scope=scope, purchase=_pick(purchases, op[1]), parcel_id=_pick(parcels, op[2]).uuid
        )
    elif kind == "cancel" and purchases:
        assisted.assisted_cancel(scope=scope, purchase=_pick(purchases, op[1]))
    elif kind == "sweep":
        assisted.assisted_sweep(scope=scope)
    elif kind == "hand_out" and parcels:
        parcel = _pick(parcels, op[1])
        parcel.refresh_from_db()
        if parcel.state == sm.AT_STATION:
            hand_out(station, parcel)
    elif kind == "parcel":
        parcels.append(
            parcel_to_station(station, tracking_number=f"PQ{next(_tn):08d}", phone=PHONES[op[1]])
        )
    elif kind in ("bulk_picked_up", "refused") and parcels:
        parcel = _pick(parcels, op[1])
        parcel.refresh_from_db()
        if parcel.state == sm.AT_STATION:
            scan(parcel, sm.PICKED_UP if kind == "bulk_picked_up" else sm.REFUSED, station=station)


def _assert_every_commission_rests_on_facts(station) -> None:
    paid = list(AssistedPurchase.objects.filter(commission_fen__gt=0).select_related("parcel"))
    handed = parcels_handed_out(parcel_ids=[p.parcel_id for p in paid if p.parcel_id])
    for p in paid:
        parcel = p.parcel
        assert parcel is not None, p
        assert parcel.recipient_phone == p.villager_phone, (p, parcel)
        assert parcel.created_at > p.created_at, (p, parcel)
        assert parcel.state == sm.PICKED_UP, (p, parcel)
        assert handed.get(parcel.pk, (None,))[0] == station.pk, (p, parcel)
        assert p.review_state in (ReviewState.NONE, ReviewState.APPROVED)
        assert p.price_fen <= 300_000  # the county's default limit
    assert Transaction.objects.filter(kind="assisted").count() == len(paid)
    assert {str(t.idempotency_key) for t in Transaction.objects.filter(kind="assisted")} == {
        p.idempotency_key for p in paid
    }


@hsettings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    before=st.lists(villager, max_size=2),
    sequence=st.lists(ops, min_size=1, max_size=14),
)
def test_operator_actions_never_yield_an_unfounded_commission(station, before, sequence):
    scope = RegionScope(prefixes=(station.region_id,), station_ids=(station.pk,))
    with transaction.atomic():
        sid = transaction.savepoint()
        # parcels that exist before anything is recorded: some already picked up
        state: dict = {"purchases": [], "parcels": []}
        for who in before:
            parcel = parcel_to_station(
                station, tracking_number=f"PQ{next(_tn):08d}", phone=PHONES[who]
            )
            hand_out(station, parcel)
            state["parcels"].append(parcel)
        for op in sequence:
            try:
                with transaction.atomic():
                    _run(op, station, scope, state)
            except ApplicationError:
                pass  # refused: the savepoint rolled back whatever it started
        assisted.assisted_sweep(scope=scope)
        _assert_every_commission_rests_on_facts(station)
        transaction.savepoint_rollback(sid)
