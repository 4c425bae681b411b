"""The bulk path posts exactly what the per-call services post, recognises their
postings (and its own) on replay, and refuses bad input as a whole."""

from __future__ import annotations

import pytest
from django.db import transaction

from cunzhan.core.errors import ApplicationError
from cunzhan.ledger import bulk, services
from cunzhan.ledger.models import Account, Line, Transaction
from tests.ledger.conftest import COUNTY, OTHER_COUNTY
from tests.ledger.helpers import assert_invariants

pytestmark = pytest.mark.django_db


def rows(station, n=30, prefix="o"):
    return [
        bulk.SaleRow(
            payment_key=f"{prefix}{i}:pay",
            sale_key=f"{prefix}{i}:sale",
            buyer_key=f"buyer:{i % 7}",
            buyer_label="买家",
            producer_key=f"producer:{i % 4}" if i % 5 else "cooperative:c1",
            producer_label=f"农户{i % 4}",
            station=station if i % 3 else None,
            gross_fen=1_000 + 37 * i,
        )
        for i in range(n)
    ]


def balances() -> dict[str, int]:
    return dict(Account.objects.values_list("key", "balance_fen"))


def test_bulk_equals_the_per_call_path(station):
    data = rows(station)
    sid = transaction.savepoint()
    result = bulk.sales_post_bulk(county=COUNTY, sales=data)
    assert (result.transactions, result.skipped) == (60, 0)
    assert result.gross_fen == sum(r.gross_fen for r in data)
    got = balances()
    lines = Line.objects.count()
    created = {
        a.key: (a.kind, a.owner_key, a.station_id, a.currency) for a in Account.objects.all()
    }
    assert created[f"{COUNTY}:station:{station.pk}"] == ("station", "", station.pk, "CNY")
    assert created[f"{COUNTY}:cooperative:cooperative:c1"][:2] == ("cooperative", "cooperative:c1")
    assert_invariants()
    transaction.savepoint_rollback(sid)  # the same sales again, one call at a time
    assert Transaction.objects.count() == 0
    for r in data:
        services.payment_receive(
            county=COUNTY,
            idempotency_key=r.payment_key,
            buyer_key=r.buyer_key,
            buyer_label=r.buyer_label,
            amount_fen=r.gross_fen,
            provider=r.provider,
        )
        services.sale_settle(
            county=COUNTY,
            idempotency_key=r.sale_key,
            gross_fen=r.gross_fen,
            producer_key=r.producer_key,
            producer_label=r.producer_label,
            station=r.station,
            buyer_key=r.buyer_key,
        )
    assert balances() == got and Line.objects.count() == lines
    assert {
        a.key: (a.kind, a.owner_key, a.station_id, a.currency) for a in Account.objects.all()
    } == created
    # the per-call postings are recognised by the bulk path: all skipped
    again = bulk.sales_post_bulk(county=COUNTY, sales=data)
    assert (again.transactions, again.skipped) == (0, 60)
    assert balances() == got


def test_bulk_replay_skips_and_conflict_posts_nothing(station):
    data = rows(station, 10)
    bulk.sales_post_bulk(county=COUNTY, sales=data)
    before = balances()
    assert bulk.sales_post_bulk(county=COUNTY, sales=data).skipped == 20
    changed = [
        *rows(station, 10, prefix="new"),
        data[0].__class__(**{**vars(data[0]), "gross_fen": 5}),
    ]
    with pytest.raises(ApplicationError) as exc:
        bulk.sales_post_bulk(county=COUNTY, sales=changed)
    assert exc.value.code == "idempotency_conflict"
    assert (
        balances() == before
        and not Transaction.objects.filter(idempotency_key__startswith="new").exists()
    )


def test_bulk_bad_rows_are_listed_and_nothing_is_posted(station, other_station):
    data = rows(station, 5)
    bad = [
        *data,
        bulk.SaleRow("x:pay", "x:sale", "b", "", "producer:1", "", station, 0),
        bulk.SaleRow("y:pay", "y:sale", "b", "", "producer:1", "", other_station, 100),
        bulk.SaleRow("o1:pay", "z:sale", "b", "", "producer:1", "", station, 100),
        bulk.SaleRow("w:pay", "w:sale", "b", "", "producer:1", "", station, 100, provider="Bad!"),
    ]
    with pytest.raises(ApplicationError) as exc:
        bulk.sales_post_bulk(county=COUNTY, sales=bad)
    assert exc.value.code == "invalid_rows"
    assert [(e["row"], e["code"]) for e in exc.value.details["errors"]] == [
        (6, "invalid_amount"),
        (7, "station_not_in_county"),
        (8, "duplicate_key"),
        (9, "invalid_provider"),
    ]
    assert Transaction.objects.count() == 0
    with pytest.raises(ApplicationError) as exc:
        bulk.sales_post_bulk(county=OTHER_COUNTY, sales=data)
    assert exc.value.code == "invalid_rows"


def test_bulk_sale_needs_the_buyer_to_hold_the_money(station):
    services.payment_receive(
        county=COUNTY,
        idempotency_key="p:pay",
        buyer_key="buyer:1",
        buyer_label="",
        amount_fen=1_000,
        provider="sandbox",
    )
    services.sale_settle(
        county=COUNTY,
        idempotency_key="p:sale",
        gross_fen=1_000,
        producer_key="producer:1",
        producer_label="",
        station=station,
        buyer_key="buyer:1",
    )
    # the payment is a replay (skipped), so the new sale has nothing to spend
    row = bulk.SaleRow("p:pay", "p:sale2", "buyer:1", "", "producer:1", "", station, 1_000)
    with pytest.raises(ApplicationError) as exc:
        bulk.sales_post_bulk(county=COUNTY, sales=[row])
    assert exc.value.code == "not_paid"
    assert Transaction.objects.count() == 2
