"""Issue 12 §1: an assisted-purchase (代购) commission rests on facts the operator cannot
invent. The finding: an operator alone, in three API calls, recorded a ¥9,999,999
purchase, linked it to ANOTHER villager's parcel that was ALREADY picked up, and earned
¥499,999.95 commission. Each rule below has its test; the property test over operator
actions is in test_assisted_properties.py."""

from __future__ import annotations

import pytest

from cunzhan.accounts.roles import Role
from cunzhan.commerce import assisted
from cunzhan.commerce.assisted_models import (
    AssistedLimits,
    AssistedPurchase,
    AssistedStatus,
    ReviewState,
)
from cunzhan.core.audit import AuditEvent
from cunzhan.core.errors import ApplicationError, PermissionDenied
from cunzhan.core.scope import RegionScope
from cunzhan.ledger.models import Account, Transaction
from cunzhan.logistics import statemachine as sm
from cunzhan.logistics.models import Parcel
from tests.commerce.assisted_helpers import hand_out, parcel_to_station, scan

PHONE = "13812345678"
NEIGHBOUR = "13987654321"
COUNTY = "520204"


@pytest.fixture
def operator(make_user, station):
    return make_user(Role.STATION_OPERATOR, stations=[station.pk])


@pytest.fixture
def manager(make_user):
    return make_user(Role.COUNTY_MANAGER, regions=[COUNTY])


@pytest.fixture
def second_manager(make_user):
    return make_user(Role.COUNTY_MANAGER, regions=[COUNTY])


def op_scope(station) -> RegionScope:
    return RegionScope(prefixes=(station.region_id,), station_ids=(station.pk,))


def county() -> RegionScope:
    return RegionScope.for_regions([COUNTY])


def record(station, actor=None, scope=None, **kw) -> AssistedPurchase:
    args = {
        "villager_name": "张秀英",
        "villager_phone": PHONE,
        "item": "电饭煲 3L",
        "price": "199.90",
        "shop": "pinduoduo",
    }
    args.update(kw)
    return assisted.assisted_record(
        scope=scope or op_scope(station), station=station, actor=actor, **args
    )


def no_commission(station) -> None:
    assert not Transaction.objects.filter(kind="assisted").exists()
    assert not Account.objects.filter(kind="station", station=station).exclude(balance_fen=0)


# --- the finding, as the operator did it -------------------------------------------------------


def test_the_three_call_fabrication_is_refused(station, operator, api_client):
    """The finding, through the API: the huge price is refused; an ordinary purchase
    cannot be linked to another villager's parcel already picked up; nothing is paid."""
    neighbours = parcel_to_station(station, tracking_number="ZT0000001", phone=NEIGHBOUR)
    hand_out(station, neighbours)
    client = api_client(operator)
    body = {
        "station_id": station.pk,
        "villager_name": "张秀英",
        "villager_phone": PHONE,
        "item": "挖掘机",
        "price_yuan": "9999999",
        "shop": "taobao",
    }
    r = client.post("/api/v1/commerce/assisted", body, content_type="application/json")
    assert r.status_code == 422 and r.json()["code"] == "price_over_limit", r.content
    assert AssistedPurchase.objects.count() == 0
    r = client.post(
        "/api/v1/commerce/assisted",
        {**body, "price_yuan": "199"},
        content_type="application/json",
    )
    assert r.status_code == 201
    pid = r.json()["id"]
    for link in ({"tracking_number": "ZT0000001"}, {"parcel_id": str(neighbours.uuid)}):
        r = client.post(
            f"/api/v1/commerce/assisted/{pid}/link", link, content_type="application/json"
        )
        assert r.status_code == 422 and r.json()["code"] == "other_villager", r.content
    client.post("/api/v1/commerce/assisted/sweep", {}, content_type="application/json")
    assert AssistedPurchase.objects.get().status == AssistedStatus.RECORDED
    no_commission(station)


# --- the parcel: same villager, arriving after the record, waiting ------------------------------


def test_another_villagers_parcel_is_refused_by_link_and_by_sweep(station):
    p = record(station, tracking_number="ZT1000001")
    other = parcel_to_station(station, tracking_number="ZT1000001", phone=NEIGHBOUR)
    with pytest.raises(ApplicationError) as exc:
        assisted.assisted_link(scope=op_scope(station), purchase=p, parcel_id=other.uuid)
    assert exc.value.code == "other_villager" and exc.value.details == {"field": "parcel"}
    r = assisted.assisted_sweep(scope=county())
    assert (r.linked_tracking, r.linked_phone) == (0, 0)
    hand_out(station, other)
    assisted.assisted_sweep(scope=county())
    p.refresh_from_db()
    assert p.parcel_id is None and p.status == AssistedStatus.RECORDED
    no_commission(station)


def test_a_parcel_announced_before_the_purchase_is_refused(station):
    """The villager's own earlier parcel is not the delivery of a purchase recorded after."""
    earlier = parcel_to_station(station, tracking_number="ZT1000002", phone=PHONE)
    p = record(station, tracking_number="ZT1000002")
    with pytest.raises(ApplicationError) as exc:
        assisted.assisted_link(scope=op_scope(station), purchase=p, tracking_number="ZT1000002")
    assert exc.value.code == "parcel_before_purchase"
    bare = record(station)  # by phone: the only parcel for the phone, but older
    r = assisted.assisted_sweep(scope=county())
    assert (r.linked_tracking, r.linked_phone) == (0, 0)
    hand_out(station, earlier)
    assisted.assisted_sweep(scope=county())
    for x in (p, bare):
        x.refresh_from_db()
        assert x.parcel_id is None
    no_commission(station)


def test_an_already_picked_up_parcel_is_refused_and_a_late_tracking_number_does_not_help(
    station,
):
    p = record(station)
    parcel = parcel_to_station(station, tracking_number="ZT1000003", phone=PHONE)
    hand_out(station, parcel)
    with pytest.raises(ApplicationError) as exc:
        assisted.assisted_link(scope=op_scope(station), purchase=p, tracking_number="ZT1000003")
    assert exc.value.code == "parcel_picked_up"
    # naming the tracking number now, after the parcel existed, links nothing either
    assisted.assisted_mark_ordered(
        scope=op_scope(station), purchase=p, shop_order_no="PDD-9", tracking_number="ZT1000003"
    )
    r = assisted.assisted_sweep(scope=county())
    assert r.linked_tracking == 0
    no_commission(station)


def test_a_tracking_number_named_before_the_parcel_links_even_after_its_hand_out(station):
    """The ordinary case the cron must not lose: handed out before the sweep ran."""
    p = record(station, price="100", tracking_number="ZT1000004")
    hand_out(station, parcel_to_station(station, tracking_number="ZT1000004", phone=PHONE))
    r = assisted.assisted_sweep(scope=county())
    assert (r.linked_tracking, r.picked_up, r.commission_fen) == (1, 1, 500)
    p.refresh_from_db()
    assert p.status == AssistedStatus.PICKED_UP and p.commission_fen == 500


# --- held until the hand-out; a returned parcel earns nothing ---------------------------------


def test_commission_is_held_until_the_real_hand_out(station):
    """A bulk ``picked_up`` scan (no code, no phone and name) is refused by the ingest
    (ADR 0028); a parcel closed that way before the rule (no hand-out event) earns
    nothing, and the purchase stays held."""
    p = record(station, price="100", tracking_number="ZT2000001")
    parcel = parcel_to_station(station, tracking_number="ZT2000001", phone=PHONE)
    assisted.assisted_sweep(scope=county())
    with pytest.raises(ApplicationError) as exc:
        scan(parcel, sm.PICKED_UP, station=station)
    assert exc.value.code == "pickup_proof_required"
    # the state an older bulk scan left behind, without a hand-out
    Parcel.objects.filter(pk=parcel.pk).update(state=sm.PICKED_UP)
    parcel.refresh_from_db()
    assert parcel.state == sm.PICKED_UP
    r = assisted.assisted_sweep(scope=county())
    assert (r.picked_up, r.commission_fen) == (0, 0)
    p.refresh_from_db()
    assert p.status == AssistedStatus.ARRIVED and p.commission_fen is None
    no_commission(station)


def test_a_returned_parcel_earns_nothing(station):
    p = record(station, price="100", tracking_number="ZT2000002")
    parcel = parcel_to_station(station, tracking_number="ZT2000002", phone=PHONE)
    assisted.assisted_sweep(scope=county())
    scan(parcel, sm.REFUSED, station=station)
    r = assisted.assisted_sweep(scope=county())
    assert (r.returned, r.picked_up) == (1, 0)
    p.refresh_from_db()
    assert p.status == AssistedStatus.RETURNED and p.commission_fen == 0
    assert p.no_commission_reason == "returned"
    assert assisted.assisted_sweep(scope=county()).returned == 0  # once
    no_commission(station)


# --- limits -------------------------------------------------------------------------------------


def test_county_and_shop_limits(station, manager):
    with pytest.raises(ApplicationError) as exc:
        record(station, price="3000.01")  # the default county limit is ¥3,000
    assert exc.value.code == "price_over_limit" and exc.value.details["limit_fen"] == 300_000
    assisted.assisted_limits_update(
        scope=county(),
        county_code=COUNTY,
        max_price_fen=500_000,
        review_above_fen=100_000,
        shop_max_fen={"1688": 20_000},
        actor=manager,
    )
    record(station, price="3000.01", shop="jd")
    with pytest.raises(ApplicationError) as exc:
        record(station, price="200.01", shop="1688")
    assert exc.value.code == "price_over_shop_limit" and exc.value.details["shop"] == "1688"
    record(station, price="200", shop="1688")
    assert AuditEvent.objects.filter(object_type="commerce.AssistedLimits").count() == 1


@pytest.mark.parametrize(
    "kw, field",
    [
        ({"max_price_fen": 0}, "max_price_fen"),
        ({"max_price_fen": "lots"}, "max_price_fen"),
        ({"review_above_fen": 400_000}, "review_above_fen"),  # above the default ¥3,000
        ({"shop_max_fen": {"ebay": 100}}, "shop_max_fen"),
        ({"shop_max_fen": {"jd": -5}}, "shop_max_fen"),
    ],
)
def test_limits_refuse_bad_values_and_save_nothing(station, manager, kw, field):
    with pytest.raises(ApplicationError) as exc:
        assisted.assisted_limits_update(scope=county(), county_code=COUNTY, actor=manager, **kw)
    assert exc.value.details["field"] == field
    assert not AssistedLimits.objects.exists()


def test_limits_of_another_county_are_not_found(station, manager):
    from cunzhan.core.errors import NotFound

    with pytest.raises(NotFound):
        assisted.assisted_limits_update(
            scope=county(), county_code="520203", max_price_fen=1, actor=manager
        )


# --- county review --------------------------------------------------------------------------


def test_above_the_threshold_the_county_reviews_before_the_commission(
    station, operator, manager, second_manager
):
    p = record(station, actor=operator, price="1500", tracking_number="ZT3000001")
    assert p.review_state == ReviewState.PENDING
    hand_out(station, parcel_to_station(station, tracking_number="ZT3000001", phone=PHONE))
    r = assisted.assisted_sweep(scope=county())
    assert (r.linked_tracking, r.picked_up) == (1, 0)  # handed out, held for the review
    no_commission(station)
    # the operator cannot review (not a county role), nor can the recorder
    with pytest.raises(PermissionDenied):
        assisted.assisted_review(scope=op_scope(station), purchase=p, approve=True, actor=operator)
    mine = record(station, actor=manager, scope=county(), price="1200")
    with pytest.raises(ApplicationError) as exc:
        assisted.assisted_review(scope=county(), purchase=mine, approve=True, actor=manager)
    assert exc.value.code == "same_person"
    p = assisted.assisted_review(
        scope=county(), purchase=p, approve=True, note="发票已核", actor=manager
    )
    assert p.review_state == ReviewState.APPROVED and p.reviewed_by == manager
    assert p.status == AssistedStatus.PICKED_UP and p.commission_fen == 7500
    assert Transaction.objects.filter(kind="assisted").count() == 1
    with pytest.raises(ApplicationError) as exc:
        assisted.assisted_review(
            scope=county(), purchase=p, approve=False, note="再看看", actor=second_manager
        )
    assert exc.value.code == "not_pending"
    assert AuditEvent.objects.filter(
        object_type="commerce.AssistedPurchase", object_id=str(p.uuid), actor=manager
    ).exists()


def test_a_rejected_purchase_never_earns(station, operator, manager):
    p = record(station, actor=operator, price="1500", tracking_number="ZT3000002")
    with pytest.raises(ApplicationError) as exc:  # a rejection says why
        assisted.assisted_review(scope=county(), purchase=p, approve=False, actor=manager)
    assert exc.value.code == "required"
    assisted.assisted_review(
        scope=county(), purchase=p, approve=False, note="价格不实", actor=manager
    )
    hand_out(station, parcel_to_station(station, tracking_number="ZT3000002", phone=PHONE))
    assisted.assisted_sweep(scope=county())
    p.refresh_from_db()
    assert p.status == AssistedStatus.PICKED_UP and p.commission_fen == 0
    assert p.no_commission_reason == "rejected"
    no_commission(station)


def test_api_review_queue_and_decision(station, operator, manager, api_client):
    p = record(station, actor=operator, price="1500")
    record(station, actor=operator, price="15")
    op = api_client(operator)
    assert op.get("/api/v1/commerce/assisted/reviews").status_code == 403
    r = op.post(
        f"/api/v1/commerce/assisted/{p.uuid}/review",
        {"approve": True},
        content_type="application/json",
    )
    assert r.status_code == 403
    mgr = api_client(manager)
    queue = mgr.get("/api/v1/commerce/assisted/reviews").json()
    assert [x["id"] for x in queue["items"]] == [str(p.uuid)]
    r = mgr.post(
        f"/api/v1/commerce/assisted/{p.uuid}/review",
        {"approve": False, "note": "无店铺订单"},
        content_type="application/json",
    )
    assert r.status_code == 200 and r.json()["review_state"] == "rejected"
    assert mgr.get("/api/v1/commerce/assisted/reviews").json()["count"] == 0
