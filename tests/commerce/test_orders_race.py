"""Concurrent orders on the same lots, in real threads: never oversold."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from cunzhan.commerce.models import Lot
from cunzhan.commerce.orders_models import OrderAllocation
from cunzhan.core.errors import ApplicationError
from tests.factories.orders import graded_lot, kiwi_special_price, place

COUNTY = "520204"


@pytest.mark.django_db(transaction=True)
def test_two_orders_race_for_the_last_stock_exactly_one_gets_it(regions, kiwi, producer):
    kiwi_special_price(kiwi, COUNTY, 1000)
    lots = [graded_lot(producer, kiwi, quantity=6, days_ago=d) for d in (1, 3)]
    barrier = threading.Barrier(2)
    outcomes: list[str] = []
    lock = threading.Lock()

    def order() -> None:
        try:
            barrier.wait(timeout=10)
            place(COUNTY, 8)  # 8 of 12: only one of the two can be served
            result = "ok"
        except ApplicationError as exc:
            result = exc.code
        except Exception as exc:  # SQLite's shared-cache lock: the loser is refused
            result = "locked" if "locked" in str(exc) else repr(exc)
        finally:
            connection.close()
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=order) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    allowed = (
        {"insufficient_stock", "locked"}
        if connection.vendor == "sqlite"
        else {"insufficient_stock"}
    )
    assert sorted(outcomes)[-1] == "ok" and len(outcomes) == 2, outcomes
    assert sorted(outcomes)[0] in allowed, outcomes
    fresh = {lot.pk: Lot.objects.get(pk=lot.pk).quantity_available for lot in lots}
    assert sum(fresh.values()) == 4
    assert sum(OrderAllocation.objects.values_list("quantity", flat=True)) == 8
    # the older lot went first
    assert fresh[lots[1].pk] == 0 and fresh[lots[0].pk] == 4
