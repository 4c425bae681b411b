"""The ledger's posting services: balanced transactions, idempotency, the sale split and
its rounding, refunds before and after settlement, assisted commissions, bad input."""

from __future__ import annotations

import datetime as dt

import pytest

from cunzhan.core.errors import ApplicationError
from cunzhan.ledger import services
from cunzhan.ledger.models import Account, AccountKind, Line, Transaction
from tests.ledger.conftest import COUNTY, OTHER_COUNTY
from tests.ledger.helpers import assert_invariants, summed

pytestmark = pytest.mark.django_db


def pay(key="pay-1", amount=10_000, buyer="buyer:b1"):
    return services.payment_receive(
        county=COUNTY,
        idempotency_key=key,
        buyer_key=buyer,
        buyer_label="张*",
        amount_fen=amount,
        provider="sandbox",
    )


def settle(station, key="sale-1", gross=10_000, buyer="buyer:b1", producer="producer:p1"):
    return services.sale_settle(
        county=COUNTY,
        idempotency_key=key,
        gross_fen=gross,
        producer_key=producer,
        producer_label="李四",
        station=station,
        buyer_key=buyer,
    )


def acct(kind, **kw) -> Account:
    return services.account_for(kind=kind, county=COUNTY, **kw)


# --- accounts ---


def test_account_for_is_one_account_per_party(station):
    a = acct(AccountKind.PRODUCER, owner_key="producer:1", label="王")
    b = acct(AccountKind.PRODUCER, owner_key="producer:1")
    assert a.pk == b.pk and a.currency == "CNY"
    s1 = acct(AccountKind.STATION, station=station)
    assert s1.pk == acct(AccountKind.STATION, station=station).pk and s1.label == station.name
    assert acct(AccountKind.PLATFORM).pk == acct(AccountKind.PLATFORM).pk
    assert acct(AccountKind.CARRIER, carrier="ZTO").carrier.code == "ZTO"


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"kind": "savings"}, "invalid_kind"),
        ({"kind": "producer"}, "invalid_owner_key"),
        ({"kind": "producer", "owner_key": "x" * 121}, "invalid_owner_key"),
        ({"kind": "platform", "owner_key": "p"}, "invalid_owner_key"),
        ({"kind": "station"}, "invalid_station"),
        ({"kind": "carrier", "carrier": "NOPE"}, "invalid_carrier"),
    ],
)
def test_account_for_bad_input(regions, kwargs, code):
    with pytest.raises(ApplicationError) as exc:
        services.account_for(county=COUNTY, **kwargs)
    assert exc.value.code == code
    assert Account.objects.count() == 0


def test_account_for_station_of_another_county_and_unknown_county(station):
    with pytest.raises(ApplicationError) as exc:
        services.account_for(kind="station", county=OTHER_COUNTY, station=station)
    assert exc.value.code == "station_not_in_county"
    with pytest.raises(ApplicationError) as exc:
        services.account_for(kind="platform", county="520204106")  # a township
    assert exc.value.code == "unknown_county"


# --- transaction_post ---


def test_transaction_post_balances_and_updates_balances(regions):
    a, b = acct(AccountKind.CASH), acct(AccountKind.PLATFORM)
    tx = services.transaction_post(
        county=COUNTY,
        kind="manual",
        memo="opening",
        idempotency_key="m-1",
        lines=[(a, 500), (b, -500)],
    )
    assert tx.lines.count() == 2
    a.refresh_from_db()
    b.refresh_from_db()
    assert (a.balance_fen, b.balance_fen) == (500, -500) == (summed(a), summed(b))
    assert_invariants()


def test_transaction_post_same_key_same_lines_returns_it_other_lines_conflict(regions):
    a, b = acct(AccountKind.CASH), acct(AccountKind.PLATFORM)
    first = services.transaction_post(
        county=COUNTY, kind="manual", memo="", idempotency_key="k", lines=[(a, 5), (b, -5)]
    )
    again = services.transaction_post(
        county=COUNTY,
        kind="manual",
        memo="other memo",
        idempotency_key="k",
        lines=[(b, -5), (a, 5)],
    )
    assert again.pk == first.pk and Line.objects.count() == 2
    with pytest.raises(ApplicationError) as exc:
        services.transaction_post(
            county=COUNTY, kind="manual", memo="", idempotency_key="k", lines=[(a, 6), (b, -6)]
        )
    assert exc.value.code == "idempotency_conflict" and exc.value.status == 409
    a.refresh_from_db()
    assert a.balance_fen == 5


@pytest.mark.parametrize(
    ("lines", "code"),
    [
        (lambda a, b, o: [(a, 5), (b, -4)], "unbalanced"),
        (lambda a, b, o: [(a, 0), (b, 0)], "invalid_amount"),
        (lambda a, b, o: [(a, 1.5), (b, -1.5)], "invalid_amount"),
        (lambda a, b, o: [(a, True), (b, -1)], "invalid_amount"),
        (lambda a, b, o: [(a, 5), (a, -5)], "no_lines"),
        (lambda a, b, o: [], "no_lines"),
        (lambda a, b, o: [(a, 5), ("b", -5)], "invalid_line"),
        (lambda a, b, o: [(a, 5), (o, -5)], "account_county_mismatch"),
        (lambda a, b, o: [(a, 10**16), (b, -(10**16))], "invalid_amount"),
    ],
)
def test_transaction_post_bad_lines_post_nothing(regions, lines, code):
    a, b = acct(AccountKind.CASH), acct(AccountKind.PLATFORM)
    o = services.account_for(kind="platform", county=OTHER_COUNTY)
    with pytest.raises(ApplicationError) as exc:
        services.transaction_post(
            county=COUNTY, kind="manual", memo="", idempotency_key="bad", lines=lines(a, b, o)
        )
    assert exc.value.code == code
    assert Transaction.objects.count() == 0 and Line.objects.count() == 0
    assert set(Account.objects.values_list("balance_fen", flat=True)) == {0}


def test_currency_other_than_cny_is_refused(regions):
    a, b = acct(AccountKind.CASH), acct(AccountKind.PLATFORM)
    with pytest.raises(ApplicationError) as exc:
        services.transaction_post(
            county=COUNTY,
            kind="manual",
            memo="",
            idempotency_key="usd",
            lines=[(a, 5), (b, -5)],
            currency="USD",
        )
    assert exc.value.code == "unsupported_currency" and "CNY" in exc.value.message
    with pytest.raises(ApplicationError) as exc:
        services.payment_receive(
            county=COUNTY,
            idempotency_key="p",
            buyer_key="b",
            buyer_label="",
            amount_fen=100,
            provider="sandbox",
            currency="EUR",
        )
    assert exc.value.code == "unsupported_currency"
    assert Transaction.objects.count() == 0


def test_bad_key_kind_and_time(regions):
    a, b = acct(AccountKind.CASH), acct(AccountKind.PLATFORM)
    for kwargs, code in [
        ({"idempotency_key": ""}, "invalid_key"),
        ({"idempotency_key": "has space"}, "invalid_key"),
        ({"kind": "gift"}, "invalid_kind"),
        ({"occurred_at": dt.datetime(2026, 1, 1)}, "invalid_time"),  # naive
    ]:
        base = {"county": COUNTY, "kind": "manual", "memo": "", "idempotency_key": "ok"}
        with pytest.raises(ApplicationError) as exc:
            services.transaction_post(**{**base, **kwargs}, lines=[(a, 1), (b, -1)])
        assert exc.value.code == code
    assert Transaction.objects.count() == 0


def test_transactions_and_lines_are_append_only(regions):
    a, b = acct(AccountKind.CASH), acct(AccountKind.PLATFORM)
    tx = services.transaction_post(
        county=COUNTY, kind="manual", memo="", idempotency_key="k", lines=[(a, 5), (b, -5)]
    )
    with pytest.raises(ValueError, match="append-only"):
        tx.memo = "changed"
        tx.save()
    with pytest.raises(ValueError, match="append-only"):
        tx.lines.first().delete()
    rev = services.transaction_reverse(transaction_uuid=tx.uuid, county=COUNTY)
    assert rev.original_id == tx.pk
    a.refresh_from_db()
    assert a.balance_fen == 0
    assert services.transaction_reverse(transaction_uuid=tx.uuid, county=COUNTY).pk == rev.pk
    assert_invariants()


# --- payments and sales ---


def test_payment_then_sale_splits_by_the_county_rules(station):
    services.settlement_rules_update(county=COUNTY, platform_fee_bp=500, station_commission_bp=300)
    p = pay(amount=10_000)
    assert p.gross_fen == 10_000
    s = settle(station, gross=9_999)
    # fee floor(9999*5%)=499, commission floor(9999*3%)=299, producer the rest 9201
    by_kind = {ln.account.kind: ln.amount_fen for ln in s.lines.select_related("account")}
    assert by_kind == {"buyer": 9_999, "producer": -9_201, "platform": -499, "station": -299}
    buyer = Account.objects.get(kind="buyer")
    assert buyer.balance_fen == -1  # one fen still held for the buyer
    assert_invariants()


def test_rounding_remainder_goes_to_the_producer():
    for gross in (1, 7, 33, 99, 101, 12_345, 10**9 + 7):
        sp = services.sale_split(gross_fen=gross, platform_fee_bp=333, station_commission_bp=1)
        assert sp.platform_fee_fen == gross * 333 // 10_000
        assert sp.station_commission_fen == gross // 10_000
        assert sp.producer_fen + sp.platform_fee_fen + sp.station_commission_fen == gross
        assert sp.producer_fen >= gross - gross * 334 / 10_000


def test_sale_without_payment_or_beyond_it_is_refused(station):
    with pytest.raises(ApplicationError) as exc:
        settle(station)
    assert exc.value.code == "not_paid"
    pay(amount=5_000)
    with pytest.raises(ApplicationError) as exc:
        settle(station, gross=5_001)
    assert exc.value.code == "not_paid"
    assert Transaction.objects.filter(kind="sale").count() == 0
    settle(station, gross=5_000)
    with pytest.raises(ApplicationError) as exc:
        settle(station, key="sale-2", gross=1)
    assert exc.value.code == "not_paid"
    assert_invariants()


def test_sale_replay_returns_the_same_even_after_the_rules_change(station):
    pay()
    first = settle(station)
    services.settlement_rules_update(county=COUNTY, platform_fee_bp=900)
    assert settle(station).pk == first.pk
    with pytest.raises(ApplicationError) as exc:
        settle(station, gross=9_000)
    assert exc.value.code == "idempotency_conflict"


def test_sale_of_a_cooperative_and_without_station(regions):
    pay()
    s = services.sale_settle(
        county=COUNTY,
        idempotency_key="coop-sale",
        gross_fen=10_000,
        producer_key="cooperative:c1",
        producer_label="合作社",
        station=None,
        buyer_key="buyer:b1",
    )
    kinds = {ln.account.kind: ln.amount_fen for ln in s.lines.select_related("account")}
    assert kinds == {"buyer": 10_000, "cooperative": -9_500, "platform": -500}


def test_refund_before_settlement_and_never_more_than_paid(station):
    pay(amount=10_000)
    r = services.sale_refund(
        county=COUNTY, idempotency_key="r1", original_idempotency_key="pay-1", amount_fen=4_000
    )
    assert r.original.idempotency_key == "pay-1"
    with pytest.raises(ApplicationError) as exc:
        services.sale_refund(
            county=COUNTY, idempotency_key="r2", original_idempotency_key="pay-1", amount_fen=6_001
        )
    assert exc.value.code == "refund_exceeds_paid"
    services.sale_refund(
        county=COUNTY, idempotency_key="r2", original_idempotency_key="pay-1", amount_fen=6_000
    )
    assert Account.objects.get(kind="buyer").balance_fen == 0
    assert Account.objects.get(kind="provider_clearing").balance_fen == 0
    assert_invariants()


def test_refund_after_settlement_reverses_the_split_exactly_in_parts(station):
    pay(amount=9_999)
    settle(station, gross=9_999)
    with pytest.raises(ApplicationError) as exc:  # the payment's money was settled
        services.sale_refund(
            county=COUNTY, idempotency_key="rp", original_idempotency_key="pay-1", amount_fen=1
        )
    assert exc.value.code == "refund_exceeds_paid"
    for i, part in enumerate((3_333, 3_333, 3_333)):
        services.sale_refund(
            county=COUNTY,
            idempotency_key=f"r{i}",
            original_idempotency_key="sale-1",
            amount_fen=part,
        )
    with pytest.raises(ApplicationError) as exc:
        services.sale_refund(
            county=COUNTY, idempotency_key="r9", original_idempotency_key="sale-1", amount_fen=1
        )
    assert exc.value.code == "refund_exceeds_paid"
    # fully refunded: producer, platform and station are back at zero, the money went back
    for kind in ("producer", "platform", "station", "provider_clearing", "buyer"):
        assert Account.objects.get(kind=kind).balance_fen == 0, kind
    assert_invariants()


def test_refund_bad_input(station):
    pay()
    for kwargs, code in [
        ({"original_idempotency_key": "nope"}, "unknown_original"),
        ({"amount_fen": 0}, "invalid_amount"),
        ({"amount_fen": -5}, "invalid_amount"),
        ({"county": OTHER_COUNTY}, "unknown_original"),
    ]:
        base = {
            "county": COUNTY,
            "idempotency_key": "r",
            "original_idempotency_key": "pay-1",
            "amount_fen": 5,
        }
        with pytest.raises(ApplicationError) as exc:
            services.sale_refund(**{**base, **kwargs})
        assert exc.value.code == code
    assert Transaction.objects.filter(kind="refund").count() == 0


def test_assisted_commission(station):
    services.settlement_rules_update(county=COUNTY, assisted_commission_bp=250)
    tx = services.assisted_commission_accrue(
        county=COUNTY, idempotency_key="a1", station=station, price_fen=12_345
    )
    st = Account.objects.get(kind="station")
    assert st.balance_fen == -(12_345 * 250 // 10_000) == -308
    assert (
        services.assisted_commission_accrue(
            county=COUNTY, idempotency_key="a1", station=station, price_fen=12_345
        ).pk
        == tx.pk
    )
    with pytest.raises(ApplicationError) as exc:
        services.assisted_commission_accrue(
            county=COUNTY, idempotency_key="a2", station=station, price_fen=3
        )
    assert exc.value.code == "zero_commission"
    assert_invariants()


def test_settlement_rules_validation_lists_every_field(regions):
    with pytest.raises(ApplicationError) as exc:
        services.settlement_rules_update(
            county=COUNTY, platform_fee_bp=-1, station_commission_bp="x", colour=3
        )
    fields = {e["field"] for e in exc.value.details["errors"]}
    assert fields == {"platform_fee_bp", "station_commission_bp", "colour"}
    with pytest.raises(ApplicationError) as exc:
        services.settlement_rules_update(
            county=COUNTY, platform_fee_bp=6_000, station_commission_bp=5_000
        )
    assert exc.value.code == "invalid_rules"
    rule = services.settlement_rules(county=COUNTY)
    assert (rule.platform_fee_bp, rule.station_commission_bp) == (500, 300)
