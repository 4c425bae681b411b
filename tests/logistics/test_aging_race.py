"""Two aging runs (the daily job and the manager's button) and two fee sweeps at the same
moment, in real threads: one reminder, one return_due event, one fee per parcel."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable

import pytest
from django.db import connection

from cunzhan.logistics import aging, fees
from cunzhan.logistics import statemachine as sm
from cunzhan.logistics.models import ParcelReminder, ScanEvent, SmsMessage, StationFee
from cunzhan.network.models import StationStatus
from tests.factories.regions import make_region_tree
from tests.factories.stations import make_station
from tests.logistics.conftest import VILLAGE
from tests.logistics.updown_helpers import NATIONAL, T0, event, parcel_at_station

DAY = dt.timedelta(days=1)


def race(fn: Callable[[], object]) -> list[str]:
    barrier = threading.Barrier(2)
    outcomes: list[str] = []
    lock = threading.Lock()

    def work() -> None:
        try:
            barrier.wait(timeout=10)
            fn()
            result = "ok"
        except Exception as exc:
            result = repr(exc)
        finally:
            connection.close()
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=work) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return outcomes


@pytest.mark.django_db(transaction=True)
def test_two_aging_runs_at_once_remind_and_send_back_once():
    make_region_tree()
    station = make_station(VILLAGE, StationStatus.ACTIVE)
    reminded = [parcel_at_station(station, n) for n in range(5)]
    returned = [parcel_at_station(station, n, at=T0 - 5 * DAY) for n in range(5, 10)]
    sms_before = SmsMessage.objects.count()
    outcomes = race(lambda: aging.aging_run(scope=NATIONAL, at=T0 + 3 * DAY))
    assert outcomes == ["ok", "ok"], outcomes
    assert ParcelReminder.objects.count() == len(reminded)
    assert SmsMessage.objects.count() == sms_before + len(reminded)
    assert ScanEvent.objects.filter(type=sm.RETURN_DUE).count() == len(returned)


@pytest.mark.django_db(transaction=True)
def test_two_fee_sweeps_at_once_record_each_fee_once():
    make_region_tree()
    station = make_station(VILLAGE, StationStatus.ACTIVE)
    for n in range(20):
        event(parcel_at_station(station, n), sm.PICKED_UP, T0 + DAY, station)
    outcomes = race(lambda: fees.accrue(scope=NATIONAL))
    assert outcomes == ["ok", "ok"], outcomes
    assert StationFee.objects.count() == 20
    assert sum(StationFee.objects.values_list("amount_fen", flat=True)) == 20 * 50
