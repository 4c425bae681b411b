"""Station fees booked from logistics once; payout batches that never pay an amount
twice; the bank file; statements."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
from django.utils import timezone

from cunzhan.core.errors import ApplicationError
from cunzhan.core.scope import RegionScope
from cunzhan.ledger import payouts, selectors, services
from cunzhan.ledger.models import Account, PayoutBatch, Transaction
from cunzhan.logistics.models import StationFee
from tests.ledger.conftest import COUNTY, OTHER_COUNTY
from tests.ledger.factories import collected_fees, paid_sale
from tests.ledger.helpers import assert_invariants

pytestmark = pytest.mark.django_db
NATIONAL = RegionScope.national()


def test_station_fees_are_booked_once_and_marked_posted(station, other_station):
    collected_fees(station, 3)
    collected_fees(other_station, 2)
    owed = StationFee.objects.filter(station=station, status="owed")
    assert owed.count() == 3
    per_fee = owed.first().amount_fen
    result = services.station_fees_post(county=COUNTY)
    assert (result.fees, result.fen, result.transactions) == (3, 3 * per_fee, 1)
    assert set(StationFee.objects.filter(station=station).values_list("status", flat=True)) == {
        "posted"
    }
    # the other county's fees are untouched
    assert StationFee.objects.filter(station=other_station, status="owed").count() == 2
    acct = Account.objects.get(kind="station", station=station)
    assert acct.balance_fen == -3 * per_fee
    again = services.station_fees_post(county=COUNTY)
    assert (again.fees, again.fen) == (0, 0)
    collected_fees(station, 1)
    assert services.station_fees_post(county=COUNTY).fees == 1
    acct.refresh_from_db()
    assert acct.balance_fen == -4 * per_fee
    assert_invariants()


def test_payout_batch_pays_what_is_owed_once(station):
    paid_sale(COUNTY, station, "a", 10_000)
    paid_sale(COUNTY, station, "b", 5_000, producer="producer:p2")
    batch = payouts.payout_batch_create(scope=NATIONAL, county=COUNTY)
    # producers 9200 + 4600, station 300 + 150
    assert batch.total_fen == 9_200 + 4_600 + 450 and batch.line_count == 3
    assert {a.kind: a.balance_fen for a in Account.objects.filter(kind="payouts_in_transit")} == {
        "payouts_in_transit": -batch.total_fen
    }
    for a in Account.objects.filter(kind__in=["producer", "station"]):
        assert a.balance_fen == 0
    with pytest.raises(ApplicationError) as exc:
        payouts.payout_batch_create(scope=NATIONAL, county=COUNTY)
    assert exc.value.code == "nothing_to_pay"
    rows = list(csv.reader(io.StringIO(payouts.payout_batch_csv(batch=batch).decode("utf-8-sig"))))
    assert rows[0][0] == "序号" and len(rows) == 4
    assert sum(int(r[6]) for r in rows[1:]) == batch.total_fen
    assert payouts.payout_batch_csv(batch=batch) == payouts.payout_batch_csv(batch=batch)
    payouts.payout_batch_mark(scope=NATIONAL, batch=batch, status="paid")
    assert Account.objects.get(kind="cash").balance_fen == -batch.total_fen
    assert Account.objects.get(kind="payouts_in_transit").balance_fen == 0
    with pytest.raises(ApplicationError) as exc:
        payouts.payout_batch_mark(scope=NATIONAL, batch=batch, status="failed")
    assert exc.value.code == "wrong_state"
    assert_invariants()


def test_failed_batch_gives_the_amounts_back_to_be_paid_again(station):
    paid_sale(COUNTY, station, "a", 10_000)
    first = payouts.payout_batch_create(scope=NATIONAL, county=COUNTY)
    payouts.payout_batch_mark(scope=NATIONAL, batch=first, status="failed", note="bank refused")
    producer = Account.objects.get(kind="producer")
    assert producer.owed_fen == 9_200
    second = payouts.payout_batch_create(scope=NATIONAL, county=COUNTY)
    assert second.total_fen == first.total_fen
    assert_invariants()


def test_payout_for_more_than_owed_posts_nothing(station):
    paid_sale(COUNTY, station, "a", 10_000)
    producer = Account.objects.get(kind="producer")
    st = Account.objects.get(kind="station")
    before = Transaction.objects.count()
    with pytest.raises(ApplicationError) as exc:
        payouts.payout_batch_create(
            scope=NATIONAL,
            county=COUNTY,
            amounts={str(producer.uuid): 9_201, str(st.uuid): 100},
        )
    assert exc.value.code == "payout_exceeds_owed"
    assert "9200" in exc.value.message
    assert [e["account"] for e in exc.value.details["errors"]] == [str(producer.uuid)]
    assert Transaction.objects.count() == before and PayoutBatch.objects.count() == 0
    for bad in ({str(producer.uuid): 0}, {str(producer.uuid): -5}, {"not-an-account": 5}):
        with pytest.raises(ApplicationError):
            payouts.payout_batch_create(scope=NATIONAL, county=COUNTY, amounts=bad)
    assert Transaction.objects.count() == before
    # a part of what is owed: the rest stays owed
    part = payouts.payout_batch_create(
        scope=NATIONAL, county=COUNTY, amounts={str(producer.uuid): 9_000}
    )
    producer.refresh_from_db()
    assert part.total_fen == 9_000 and producer.owed_fen == 200
    assert_invariants()


def test_payout_outside_the_scope_is_not_found(station):
    paid_sale(COUNTY, station, "a", 10_000)
    with pytest.raises(ApplicationError) as exc:
        payouts.payout_batch_create(scope=RegionScope.for_regions([OTHER_COUNTY]), county=COUNTY)
    assert exc.value.status == 404
    assert PayoutBatch.objects.count() == 0


def test_statement_opening_lines_closing(station):
    t0 = timezone.now() - dt.timedelta(days=10)
    for i, gross in enumerate((1_000, 2_000, 4_000)):
        services.payment_receive(
            county=COUNTY,
            idempotency_key=f"p{i}",
            buyer_key="buyer:x",
            buyer_label="买家",
            amount_fen=gross,
            provider="sandbox",
            occurred_at=t0 + dt.timedelta(days=3 * i),
        )
        services.sale_settle(
            county=COUNTY,
            idempotency_key=f"s{i}",
            gross_fen=gross,
            producer_key="producer:p1",
            producer_label="农户",
            station=station,
            buyer_key="buyer:x",
            occurred_at=t0 + dt.timedelta(days=3 * i, hours=1),
        )
    acct = selectors.account_by_owner(scope=NATIONAL, county=COUNTY, owner_key="producer:p1")
    st = selectors.statement(
        account=acct, start=t0 + dt.timedelta(days=2), end=t0 + dt.timedelta(days=5)
    )
    assert st.opening_fen == -920
    assert [ln.amount_fen for ln in st.lines] == [-1_840]
    assert st.closing_fen == -920 - 1_840 == st.lines[-1].balance_fen
    assert st.credits_fen == 1_840 and st.debits_fen == 0
    with pytest.raises(ApplicationError):
        selectors.statement(account=acct, start=t0, end=t0)
