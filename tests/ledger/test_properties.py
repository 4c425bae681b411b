"""Property-based: random sequences of payments, settlements, refunds and returns,
assisted commissions, station-fee postings, rule changes and payout batches (paid or
failed) keep every transaction balanced and the sum of all accounts at zero; no payout
ever exceeds what is owed; no refund exceeds what was paid; a refused operation posts
nothing."""

from __future__ import annotations

from django.db import transaction
from django.db.models import Sum
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from cunzhan.core.errors import ApplicationError
from cunzhan.core.scope import RegionScope
from cunzhan.ledger import payouts, services
from cunzhan.ledger.models import PAYABLE_KINDS, Account, PayoutBatch, Transaction
from tests.ledger.conftest import COUNTY
from tests.ledger.factories import bank_ready, collected_fees
from tests.ledger.helpers import assert_invariants, summed

NATIONAL = RegionScope.national()
ALLOWED = {
    "not_paid",
    "refund_exceeds_paid",
    "nothing_to_pay",
    "payout_exceeds_owed",
    "zero_commission",
    "wrong_state",
    "invalid_rules",
}

amount = st.integers(min_value=1, max_value=60_000)
ops = st.one_of(
    st.tuples(st.just("pay"), st.integers(0, 2), amount),
    st.tuples(st.just("settle"), st.integers(0, 2), amount, st.integers(0, 2), st.booleans()),
    st.tuples(st.just("refund"), st.integers(0, 20), amount),
    st.tuples(st.just("assisted"), amount),
    st.tuples(st.just("fees"), st.integers(1, 2)),
    st.tuples(st.just("payout"), st.sampled_from(["all", "part", "over"]), st.integers(1, 100)),
    st.tuples(st.just("mark"), st.integers(0, 5), st.sampled_from(["paid", "failed"])),
    st.tuples(st.just("rules"), st.integers(0, 6_000), st.integers(0, 6_000)),
)


def _payables() -> dict[int, int]:
    """What is owed to each payable account, summed from its lines (not the cache)."""
    return {
        a.pk: max(0, -summed(a))
        for a in Account.objects.filter(county_id=COUNTY, kind__in=PAYABLE_KINDS)
    }


def _run(op: tuple, station, n: int, originals: list[str]) -> None:
    kind = op[0]
    if kind == "pay":
        _, buyer, amt = op
        services.payment_receive(
            county=COUNTY,
            idempotency_key=f"pay-{n}",
            buyer_key=f"buyer:{buyer}",
            buyer_label="买家",
            amount_fen=amt,
            provider="sandbox",
        )
        originals.append(f"pay-{n}")
    elif kind == "settle":
        _, buyer, gross, producer, with_station = op
        services.sale_settle(
            county=COUNTY,
            idempotency_key=f"sale-{n}",
            gross_fen=gross,
            producer_key=f"producer:{producer}",
            producer_label=f"农户{producer}",
            station=station if with_station else None,
            buyer_key=f"buyer:{buyer}",
        )
        originals.append(f"sale-{n}")
    elif kind == "refund":
        _, idx, amt = op
        if not originals:
            return
        services.sale_refund(
            county=COUNTY,
            idempotency_key=f"refund-{n}",
            original_idempotency_key=originals[idx % len(originals)],
            amount_fen=amt,
        )
    elif kind == "assisted":
        services.assisted_commission_accrue(
            county=COUNTY, idempotency_key=f"assisted-{n}", station=station, price_fen=op[1]
        )
    elif kind == "fees":
        collected_fees(station, op[1])
        services.station_fees_post(county=COUNTY)
    elif kind == "payout":
        _, mode, pct = op
        bank_ready(COUNTY)  # every payee's bank details confirmed: none held
        owed = _payables()
        if mode == "all":
            batch = payouts.payout_batch_create(scope=NATIONAL, county=COUNTY)
        else:
            target = {
                str(a.uuid): (owed[a.pk] * pct // 100 if mode == "part" else owed[a.pk] + pct)
                for a in Account.objects.filter(pk__in=[pk for pk, v in owed.items() if v])
            }
            target = {k: v for k, v in target.items() if v > 0}
            if not target:
                return
            batch = payouts.payout_batch_create(scope=NATIONAL, county=COUNTY, amounts=target)
            assert mode == "part", "a payout above what is owed was accepted"
        for line in batch.lines.all():
            assert line.amount_fen <= owed[line.account_id], "paid more than owed"
            assert _payables()[line.account_id] == owed[line.account_id] - line.amount_fen
    elif kind == "mark":
        batches = list(PayoutBatch.objects.order_by("id"))
        if not batches:
            return
        payouts.payout_batch_mark(scope=NATIONAL, batch=batches[op[1] % len(batches)], status=op[2])
    elif kind == "rules":
        services.settlement_rules_update(
            county=COUNTY, platform_fee_bp=op[1], station_commission_bp=op[2]
        )


@hsettings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(sequence=st.lists(ops, min_size=1, max_size=25))
def test_random_sequences_keep_the_ledger_sound(station, sequence):
    with transaction.atomic():
        sid = transaction.savepoint()
        try:
            originals: list[str] = []
            for n, op in enumerate(sequence):
                before = Transaction.objects.count()
                try:
                    with transaction.atomic():
                        _run(op, station, n, originals)
                except ApplicationError as exc:
                    assert exc.code in ALLOWED, (op, exc.code, exc.message)
                    assert Transaction.objects.count() == before, f"{op} refused, but posted"
                # buyers never owe: no sale settles more than was paid
                assert not Account.objects.filter(kind="buyer", balance_fen__gt=0).exists()
                # the provider never paid back more than it received
                assert not Account.objects.filter(
                    kind="provider_clearing", balance_fen__lt=0
                ).exists()
            # no original refunded beyond its amount
            for t in Transaction.objects.filter(kind__in=["payment", "sale"]):
                refunded = t.followers.filter(kind="refund").aggregate(s=Sum("gross_fen"))["s"]
                assert (refunded or 0) <= t.gross_fen
            assert_invariants()
        finally:
            transaction.savepoint_rollback(sid)
