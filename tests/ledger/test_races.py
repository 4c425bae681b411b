"""Real threads on the same rows (meaningful on PostgreSQL, where rows are locked; on
SQLite's shared-cache test database an overlapping writer is refused as "locked" and
retried): a repeated idempotency key posts once, two sales cannot spend one payment
twice, two payout batches never pay the same amount twice."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
from django.db import connection

from cunzhan.core.errors import ApplicationError
from cunzhan.ledger import services
from cunzhan.ledger.models import Account, Transaction
from cunzhan.network.models import StationStatus
from tests.factories.regions import make_region_tree
from tests.factories.stations import make_station
from tests.ledger.conftest import COUNTY, VILLAGE
from tests.ledger.helpers import assert_invariants


def race(*fns: Callable[[], object]) -> list[str]:
    barrier = threading.Barrier(len(fns))
    outcomes: list[str] = []
    lock = threading.Lock()

    def work(fn: Callable[[], object]) -> None:
        result = "error"
        try:
            barrier.wait(timeout=10)
            for attempt in range(300):
                try:
                    fn()
                    result = "ok"
                    break
                except ApplicationError as exc:
                    result = exc.code
                    break
                except Exception as exc:
                    if "locked" not in str(exc) or attempt == 299:
                        result = f"crash: {exc}"
                        break
        finally:
            connection.close()
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=work, args=(fn,)) for fn in fns]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return sorted(outcomes)


def _pay(key: str, amount: int = 10_000):
    return lambda: services.payment_receive(
        county=COUNTY,
        idempotency_key=key,
        buyer_key="buyer:race",
        buyer_label="买家",
        amount_fen=amount,
        provider="sandbox",
    )


@pytest.mark.django_db(transaction=True)
def test_a_repeated_payment_key_from_two_threads_posts_once():
    make_region_tree()
    for i in range(5):
        outcomes = race(_pay(f"webhook-{i}"), _pay(f"webhook-{i}"))
        assert outcomes == ["ok", "ok"], outcomes
        assert Transaction.objects.filter(idempotency_key=f"webhook-{i}").count() == 1
    buyer = Account.objects.get(kind="buyer")
    assert buyer.balance_fen == -50_000
    assert_invariants()


@pytest.mark.django_db(transaction=True)
def test_two_sales_at_once_cannot_spend_one_payment_twice():
    make_region_tree()
    station = make_station(VILLAGE, StationStatus.ACTIVE)
    _pay("only-payment", 10_000)()

    def sale(key: str) -> Callable[[], object]:
        return lambda: services.sale_settle(
            county=COUNTY,
            idempotency_key=key,
            gross_fen=8_000,
            producer_key="producer:p",
            producer_label="农户",
            station=station,
            buyer_key="buyer:race",
        )

    outcomes = race(sale("sale-a"), sale("sale-b"))
    assert outcomes == ["not_paid", "ok"], outcomes
    assert Transaction.objects.filter(kind="sale").count() == 1
    assert Account.objects.get(kind="buyer").balance_fen == -2_000
    assert_invariants()


@pytest.mark.django_db(transaction=True)
def test_two_payout_batches_at_once_never_pay_the_same_amount_twice():
    from cunzhan.core.scope import RegionScope
    from cunzhan.ledger import payouts
    from cunzhan.ledger.models import PayoutBatch, PayoutLine
    from tests.ledger.factories import paid_sale

    make_region_tree()
    station = make_station(VILLAGE, StationStatus.ACTIVE)
    national = RegionScope.national()
    for round_ in range(3):
        for i in range(4):
            paid_sale(COUNTY, station, f"r{round_}-{i}", 1_000 + i, producer=f"producer:{i}")
        owed = sum(a.owed_fen for a in Account.objects.filter(kind__in=["producer", "station"]))
        outcomes = race(
            lambda: payouts.payout_batch_create(scope=national, county=COUNTY),
            lambda: payouts.payout_batch_create(scope=national, county=COUNTY),
        )
        assert outcomes == ["nothing_to_pay", "ok"], outcomes
        assert PayoutBatch.objects.count() == round_ + 1
        newest = PayoutBatch.objects.order_by("-id").first()
        assert newest.total_fen == owed
    paid = sum(PayoutLine.objects.values_list("amount_fen", flat=True))
    earned = (
        -sum(
            Account.objects.filter(kind__in=["producer", "station"]).values_list(
                "balance_fen", flat=True
            )
        )
        + paid
    )
    assert paid == earned  # everything earned was paid once: nothing owed, nothing twice
    assert_invariants()


@pytest.mark.django_db(transaction=True)
def test_two_fee_postings_at_once_book_each_fee_once():
    from cunzhan.logistics.models import StationFee
    from tests.ledger.factories import collected_fees

    make_region_tree()
    station = make_station(VILLAGE, StationStatus.ACTIVE)
    collected_fees(station, 4)
    total = sum(StationFee.objects.values_list("amount_fen", flat=True))
    outcomes = race(
        lambda: services.station_fees_post(county=COUNTY),
        lambda: services.station_fees_post(county=COUNTY),
    )
    assert outcomes == ["ok", "ok"], outcomes
    assert Transaction.objects.filter(kind="station_fees").count() == 1
    assert Account.objects.get(kind="station").balance_fen == -total
    assert set(StationFee.objects.values_list("status", flat=True)) == {"posted"}
    assert_invariants()
