"""Assisted purchase (代购): record → ordered → parcel arrives (linked by tracking number,
by phone, or picked by the operator) → picked up → the station's commission, once."""

from __future__ import annotations

import datetime as dt
import threading
import time

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse

from cunzhan.accounts.roles import Role
from cunzhan.commerce import assisted, assisted_selectors
from cunzhan.commerce.assisted_models import AssistedPurchase, AssistedStatus
from cunzhan.core.audit import AuditEvent
from cunzhan.core.errors import ApplicationError, NotFound
from cunzhan.core.scope import RegionScope
from cunzhan.ledger import services as ledger_services
from cunzhan.ledger.models import Account, Transaction
from cunzhan.network.models import StationStatus
from tests.commerce.assisted_helpers import hand_out, parcel_to_station
from tests.factories.regions import make_region_tree
from tests.factories.stations import make_station

OTHER_VILLAGE = "520204106202"  # same county 水城区, another village
PHONE = "13812345678"


@pytest.fixture
def other_station(regions):
    return make_station(OTHER_VILLAGE, StationStatus.ACTIVE)


@pytest.fixture
def operator(make_user, station):
    return make_user(Role.STATION_OPERATOR, stations=[station.pk])


def op_scope(station) -> RegionScope:
    return RegionScope(prefixes=(station.region_id,), station_ids=(station.pk,))


def record(station, **kw):
    args = {
        "villager_name": "张秀英",
        "villager_phone": PHONE,
        "item": "电饭煲 3L",
        "price": "199.90",
        "shop": "pinduoduo",
    }
    args.update(kw)
    return assisted.assisted_record(scope=op_scope(station), station=station, **args)


# --- record ---------------------------------------------------------------------------------


def test_record_stores_exact_fen_and_the_county_rate(station):
    ledger_services.settlement_rules_update(county="520204", assisted_commission_bp=650)
    p = record(station, price="1,299.5")
    assert p.price_fen == 129_950
    assert p.commission_bp == 650
    assert p.status == AssistedStatus.RECORDED
    assert p.phone_last4 == "5678" and p.phone_masked == "138****5678"
    assert AuditEvent.objects.filter(object_id=str(p.uuid), action="create").exists()
    ordered = record(station, shop_order_no="PDD-778899", tracking_number="zt0001")
    assert ordered.status == AssistedStatus.ORDERED and ordered.tracking_number == "ZT0001"


@pytest.mark.parametrize(
    ("kw", "code"),
    [
        ({"price": "0"}, "invalid_price"),
        ({"price": "-5"}, "invalid_price"),
        ({"price": "12.345"}, "invalid_price"),
        ({"price": "十二"}, "invalid_price"),
        ({"price": "NaN"}, "invalid_price"),
        ({"villager_phone": "12345"}, "invalid_phone"),
        ({"shop": "amazon"}, "invalid_shop"),
        ({"villager_name": "  "}, "required"),
        ({"item": ""}, "required"),
        ({"tracking_number": "坏 单号"}, "invalid_tracking"),
    ],
)
def test_record_refuses_bad_input_and_writes_nothing(station, kw, code):
    with pytest.raises(ApplicationError) as exc:
        record(station, **kw)
    assert exc.value.code == code
    assert exc.value.details and exc.value.details.get("field")
    assert AssistedPurchase.objects.count() == 0


def test_record_at_a_station_outside_the_scope_is_not_found(station, other_station):
    with pytest.raises(NotFound):
        assisted.assisted_record(
            scope=op_scope(station),
            station=other_station,
            villager_name="李",
            villager_phone=PHONE,
            item="x",
            price="1",
            shop="jd",
        )


# --- linking ----------------------------------------------------------------------------------


def test_link_by_tracking_number(station):
    p = record(station)
    assisted.assisted_mark_ordered(
        scope=op_scope(station), purchase=p, shop_order_no="PDD-1", tracking_number=""
    )
    parcel = parcel_to_station(station, tracking_number="ZT7001", phone=PHONE)
    p = assisted.assisted_link(scope=op_scope(station), purchase=p, tracking_number="zt7001")
    assert p.status == AssistedStatus.ARRIVED and p.parcel_id == parcel.pk
    assert p.linked_by == "tracking"


def test_link_unknown_tracking_number_is_refused(station):
    p = record(station)
    with pytest.raises(ApplicationError) as exc:
        assisted.assisted_link(scope=op_scope(station), purchase=p, tracking_number="NOPE0001")
    assert exc.value.code == "unknown_tracking"
    p.refresh_from_db()
    assert p.status == AssistedStatus.RECORDED and p.parcel_id is None


def test_linking_a_parcel_of_another_station_is_refused(station, other_station):
    """The county manager sees both stations: the parcel exists but is not this station's."""
    county = RegionScope.for_regions(["520204"])
    p = record(station)
    elsewhere = parcel_to_station(other_station, tracking_number="ZT8001")
    for kw in ({"tracking_number": "ZT8001"}, {"parcel_id": elsewhere.uuid}):
        with pytest.raises(ApplicationError) as exc:
            assisted.assisted_link(scope=county, purchase=p, **kw)
        assert exc.value.code == "wrong_station"
    # the operator of the first station does not even see it
    with pytest.raises(ApplicationError) as exc:
        assisted.assisted_link(scope=op_scope(station), purchase=p, tracking_number="ZT8001")
    assert exc.value.code == "unknown_tracking"
    p.refresh_from_db()
    assert p.parcel_id is None


def test_a_parcel_links_to_one_purchase_only(station):
    a, b = record(station), record(station)
    parcel = parcel_to_station(station, tracking_number="ZT9001", phone=PHONE)
    assisted.assisted_link(scope=op_scope(station), purchase=a, parcel_id=parcel.uuid)
    with pytest.raises(ApplicationError) as exc:
        assisted.assisted_link(scope=op_scope(station), purchase=b, parcel_id=parcel.uuid)
    assert exc.value.code == "parcel_linked"


def test_sweep_links_by_tracking_and_by_unambiguous_phone_only(station):
    by_tn = record(station, villager_phone="13600000001", tracking_number="ZT5001")
    by_phone = record(station, villager_phone="13600000002")
    ambiguous = record(station, villager_phone="13600000003")
    parcel_to_station(station, tracking_number="ZT5001", phone="13600000001")
    only = parcel_to_station(station, phone="13600000002")
    twins = [parcel_to_station(station, phone="13600000003") for _ in range(2)]
    r = assisted.assisted_sweep(scope=RegionScope.for_regions(["520204"]))
    assert (r.linked_tracking, r.linked_phone) == (1, 1)
    for p in (by_tn, by_phone, ambiguous):
        p.refresh_from_db()
    assert by_tn.status == AssistedStatus.ARRIVED and by_tn.linked_by == "tracking"
    assert by_phone.parcel_id == only.pk and by_phone.linked_by == "phone"
    assert ambiguous.parcel_id is None and ambiguous.status == AssistedStatus.RECORDED
    # the operator picks from the waiting parcels: the villager's two come first
    candidates = assisted_selectors.assisted_parcel_candidates(
        scope=op_scope(station), purchase=ambiguous
    )
    assert {c.pk for c in candidates[:2]} == {t.pk for t in twins}
    assisted.assisted_link(scope=op_scope(station), purchase=ambiguous, parcel_id=twins[1].uuid)
    ambiguous.refresh_from_db()
    assert ambiguous.parcel_id == twins[1].pk and ambiguous.linked_by == "pick"


# --- pickup and commission --------------------------------------------------------------------


def test_commission_accrues_once_on_pickup(station):
    p = record(station, price="199.90", tracking_number="ZT6001")  # default rate 500 bp
    parcel = parcel_to_station(station, tracking_number="ZT6001", phone=PHONE)
    scope = RegionScope.for_regions(["520204"])
    assert assisted.assisted_sweep(scope=scope).linked_tracking == 1
    # arrived but not picked up: nothing accrues
    assert assisted.assisted_sweep(scope=scope).picked_up == 0
    assert not Transaction.objects.filter(kind="assisted").exists()
    hand_out(station, parcel)
    r = assisted.assisted_sweep(scope=scope)
    assert (r.picked_up, r.commission_fen) == (1, 999)  # 19990 fen × 5 % = 999.5 → 999
    again = assisted.assisted_sweep(scope=scope)
    assert (again.picked_up, again.commission_fen) == (0, 0)
    p.refresh_from_db()
    assert p.status == AssistedStatus.PICKED_UP and p.commission_fen == 999
    txn = Transaction.objects.get(kind="assisted")
    assert txn.idempotency_key == f"assisted:{p.uuid}" and p.commission_txn == txn.uuid
    acct = Account.objects.get(kind="station", station=station)
    assert acct.balance_fen == -999  # the platform owes the station
    # the earnings report shows it in the pickup month
    rows = assisted_selectors.station_earnings(scope=scope, station=station, months=2)
    assert rows[0]["assisted_fen"] == 999 and rows[0]["assisted_count"] == 1
    assert rows[0]["total_fen"] == rows[0]["assisted_fen"] + rows[0]["down_fen"]


def test_linking_an_already_picked_up_parcel_is_refused(station):
    """Before issue 12 this completed the purchase and paid the commission at once."""
    p = record(station, price="50")
    parcel = parcel_to_station(station, tracking_number="ZT6101", phone=PHONE)
    hand_out(station, parcel)
    with pytest.raises(ApplicationError) as exc:
        assisted.assisted_link(scope=op_scope(station), purchase=p, tracking_number="ZT6101")
    assert exc.value.code == "parcel_picked_up"
    p.refresh_from_db()
    assert p.parcel_id is None and p.commission_fen is None
    assert not Transaction.objects.filter(kind="assisted").exists()


def test_cancel_before_pickup_and_not_after(station):
    p = record(station)
    p = assisted.assisted_cancel(scope=op_scope(station), purchase=p, reason="村民不要了")
    assert p.status == AssistedStatus.CANCELLED
    with pytest.raises(ApplicationError) as exc:
        assisted.assisted_cancel(scope=op_scope(station), purchase=p)
    assert exc.value.code == "invalid_status"
    with pytest.raises(ApplicationError) as exc:
        assisted.assisted_link(scope=op_scope(station), purchase=p, tracking_number="ZT0000")
    assert exc.value.code == "invalid_status"


def test_earnings_months_bounds(station):
    with pytest.raises(ApplicationError):
        assisted_selectors.station_earnings(scope=op_scope(station), station=station, months=0)
    rows = assisted_selectors.station_earnings(
        scope=op_scope(station),
        station=station,
        months=3,
        now=dt.datetime(2026, 1, 15, tzinfo=dt.UTC),
    )
    assert [r["month"] for r in rows] == ["2026-01", "2025-12", "2025-11"]


# --- API ------------------------------------------------------------------------------------


def test_api_record_list_link_and_mask(station, operator, api_client):
    client = api_client(operator)
    body = {
        "station_id": station.pk,
        "villager_name": "张秀英",
        "villager_phone": PHONE,
        "item": "化肥 50kg",
        "price_yuan": "19.90",
        "shop": "taobao",
    }
    r = client.post("/api/v1/commerce/assisted", body, content_type="application/json")
    assert r.status_code == 201, r.content
    out = r.json()
    assert out["price_fen"] == 1990 and out["commission_bp"] == 500
    assert out["villager_phone_masked"] == "138****5678"
    listed = client.get("/api/v1/commerce/assisted").json()
    assert listed["count"] == 1 and PHONE not in r.content.decode() + str(listed)
    bad = client.post(
        "/api/v1/commerce/assisted",
        {**body, "price_yuan": "0"},
        content_type="application/json",
    )
    # more than 0, at most two decimals: the schema's pattern
    assert bad.status_code == 422 and bad.json()["code"] == "validation_error"
    parcel_to_station(station, tracking_number="ZT4001")
    pid = out["id"]
    r = client.post(
        f"/api/v1/commerce/assisted/{pid}/ordered",
        {"shop_order_no": "TB-1"},
        content_type="application/json",
    )
    assert r.json()["status"] == "ordered"
    r = client.post(
        f"/api/v1/commerce/assisted/{pid}/link",
        {"tracking_number": "NOPE9999"},
        content_type="application/json",
    )
    assert r.status_code == 422 and r.json()["code"] == "unknown_tracking"
    r = client.post(
        f"/api/v1/commerce/assisted/{pid}/link",
        {"tracking_number": "ZT4001"},
        content_type="application/json",
    )
    assert r.status_code == 200 and r.json()["status"] == "arrived"
    earn = client.get(f"/api/v1/commerce/stations/{station.pk}/earnings?months=2")
    assert earn.status_code == 200 and len(earn.json()["months"]) == 2


def test_api_list_query_count_is_constant(
    station, operator, api_client, django_assert_max_num_queries
):
    for i in range(3):
        record(station, villager_phone=f"1360000{i:04d}")
    client = api_client(operator)
    with django_assert_max_num_queries(12):
        r = client.get("/api/v1/commerce/assisted?page_size=50")
    assert r.json()["count"] == 3
    for i in range(3, 15):
        record(station, villager_phone=f"1360000{i:04d}")
    with django_assert_max_num_queries(12):
        r = client.get("/api/v1/commerce/assisted?page_size=50")
    assert r.json()["count"] == 15


# --- pages ----------------------------------------------------------------------------------


def _login(user) -> Client:
    c = Client()
    c.force_login(user)
    return c


def test_pages_record_on_the_phone_and_see_the_purchase(
    station, operator, other_station, make_user
):
    c = _login(operator)
    r = c.get(reverse("commerce:assisted-create"))
    assert r.status_code == 200 and "5%" in r.content.decode()
    form = {
        "station": str(station.pk),
        "villager_name": "张秀英",
        "villager_phone": PHONE,
        "item": "电动车头盔",
        "price_yuan": "88.8",
        "shop": "jd",
    }
    bad = c.post(reverse("commerce:assisted-create"), {**form, "price_yuan": "-1"})
    assert bad.status_code == 400 and "价格必须大于 0" in bad.content.decode()
    r = c.post(reverse("commerce:assisted-create"), form)
    assert r.status_code == 302
    p = AssistedPurchase.objects.get()
    assert p.price_fen == 8880
    page = c.get(r["Location"]).content.decode()
    assert "电动车头盔" in page and "138****5678" in page and PHONE not in page
    listing = c.get(reverse("commerce:assisted")).content.decode()
    assert "电动车头盔" in listing and PHONE not in listing
    # another station's operator: not found
    other = _login(make_user(Role.STATION_OPERATOR, stations=[other_station.pk]))
    assert other.get(reverse("commerce:assisted-detail", args=[p.uuid])).status_code == 404
    assert "电动车头盔" not in other.get(reverse("commerce:assisted")).content.decode()
    earnings = c.get(reverse("commerce:earnings"))
    assert earnings.status_code == 200 and "代购佣金" in earnings.content.decode()
    assert other.get(reverse("commerce:earnings") + f"?station={station.pk}").status_code == 404


# --- concurrency (meaningful on PostgreSQL) ---------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_sweeps_accrue_the_commission_once():
    make_region_tree()
    station = make_station("520204106201", StationStatus.ACTIVE)
    purchases = [record(station, tracking_number=f"ZR{i:04d}", price="100") for i in range(4)]
    for i in range(4):
        parcel = parcel_to_station(station, tracking_number=f"ZR{i:04d}")
        hand_out(station, parcel)
    scope = RegionScope.for_regions(["520204"])
    results: list[object] = []
    barrier = threading.Barrier(2)

    def sweep() -> None:
        try:
            barrier.wait(timeout=10)
            for attempt in range(200):
                try:
                    results.append(assisted.assisted_sweep(scope=scope))
                    break
                except Exception as exc:  # SQLite's shared-cache test db: "locked"
                    if "locked" not in str(exc) or attempt == 199:
                        results.append(exc)
                        break
                    time.sleep(0.02)  # answered at once: wait for the other writer
        finally:
            connection.close()

    threads = [threading.Thread(target=sweep) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert len(results) == 2 and not any(isinstance(x, Exception) for x in results), results
    picked = sum(r.picked_up for r in results)  # type: ignore[attr-defined]
    # PostgreSQL: the loser waits on the row lock and finds nothing left to do. SQLite's
    # shared-cache test db refuses an overlapping writer ("locked") and the sweep is
    # retried, so a completion committed before the refusal is not counted again.
    assert picked == 4 if connection.vendor == "postgresql" else 1 <= picked <= 4
    assert Transaction.objects.filter(kind="assisted").count() == 4
    for p in purchases:
        p.refresh_from_db()
        assert p.status == AssistedStatus.PICKED_UP and p.commission_fen == 500
    assert Account.objects.get(kind="station", station=station).balance_fen == -2000


def test_earnings_by_source_logistics_fees_assisted_and_sales(station):
    """Down fee (logistics records it when the parcel is handed out), the 代购
    commission and a sale's station commission (ledger) land in the same month."""
    from cunzhan.logistics import fees as logistics_fees

    scope = RegionScope.for_regions(["520204"])
    record(station, price="100", tracking_number="ZT3001")
    parcel = parcel_to_station(station, tracking_number="ZT3001")
    hand_out(station, parcel)
    logistics_fees.accrue(scope=scope)
    assisted.assisted_sweep(scope=scope)
    ledger_services.payment_receive(
        county="520204",
        idempotency_key="pay-e1",
        buyer_key="buyer:e1",
        buyer_label="买家",
        amount_fen=20_000,
        provider="sandbox",
    )
    ledger_services.sale_settle(
        county="520204",
        idempotency_key="sale-e1",
        gross_fen=20_000,
        producer_key="producer:e1",
        producer_label="农户",
        station=station,
        buyer_key="buyer:e1",
    )
    [now, *_] = assisted_selectors.station_earnings(scope=op_scope(station), station=station)
    assert now["down_count"] == 1 and now["down_fen"] == 50  # the county default
    assert now["assisted_fen"] == 500  # 5 % of ¥100
    assert now["sales_fen"] == 600  # 3 % of ¥200
    assert now["total_fen"] == 50 + 500 + 600


def test_sweep_command_is_idempotent_and_names_a_bad_county(station):
    import io
    import json

    from django.core.management import call_command
    from django.core.management.base import CommandError

    record(station, price="20", tracking_number="ZT3101")
    hand_out(station, parcel_to_station(station, tracking_number="ZT3101"))
    out = io.StringIO()
    call_command("assisted_sweep", "--county", "520204", stdout=out)
    first = json.loads(out.getvalue())
    assert (first["linked_tracking"], first["picked_up"], first["commission_fen"]) == (1, 1, 100)
    out = io.StringIO()
    call_command("assisted_sweep", stdout=out)
    assert json.loads(out.getvalue())["picked_up"] == 0
    with pytest.raises(CommandError, match="not a loaded county"):
        call_command("assisted_sweep", "--county", "999999")
