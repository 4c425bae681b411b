"""Two operators hand out the same parcel at once, in real threads: exactly one wins."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from django.db import connection

from cunzhan.core.errors import ApplicationError
from cunzhan.core.scope import RegionScope
from cunzhan.logistics import services
from cunzhan.logistics import statemachine as sm
from cunzhan.logistics.models import Parcel, ScanEvent
from tests.factories.regions import make_region_tree
from tests.factories.stations import make_station
from tests.logistics.conftest import VILLAGE, row

NATIONAL = RegionScope.national()
T0 = dt.datetime(2026, 11, 2, 8, tzinfo=dt.UTC)


@pytest.mark.django_db(transaction=True)
def test_two_threads_hand_out_the_same_parcel_exactly_one_succeeds():
    make_region_tree()
    station = make_station(VILLAGE, "active")
    services.manifest_intake(scope=NATIONAL, carrier_code="ZTO", rows=[row(0)], occurred_at=T0)
    steps = [sm.RECEIVED_AT_COUNTY, sm.SORTED, sm.LOADED, sm.AT_STATION]
    services.scan_events_record(
        scope=NATIONAL,
        events=[
            {
                "event_id": f"e{i}",
                "carrier": "ZTO",
                "tracking_number": "ZT0000000000",
                "type": t,
                "occurred_at": (T0 + dt.timedelta(minutes=i + 1)).isoformat(),
                "station_code": station.code if t == sm.AT_STATION else "",
            }
            for i, t in enumerate(steps)
        ],
    )
    code = Parcel.objects.get().pickup_code
    barrier = threading.Barrier(2)
    outcomes: list[str] = []
    lock = threading.Lock()

    def hand_out() -> None:
        try:
            barrier.wait(timeout=10)
            services.parcel_pick_up(scope=NATIONAL, station=station, code=code)
            result = "ok"
        except ApplicationError as exc:
            result = exc.code
        finally:
            connection.close()
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=hand_out) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(outcomes) == ["no_match", "ok"], outcomes
    assert Parcel.objects.get().state == sm.PICKED_UP
    assert ScanEvent.objects.filter(type=sm.PICKED_UP).count() == 1


@pytest.mark.django_db(transaction=True)
def test_the_same_batch_sent_twice_at_once_is_applied_once():
    """Two threads send the same batch (a retry racing the original): every event is
    stored once; one answer applies them, the other reports them as duplicates."""
    make_region_tree()
    station = make_station(VILLAGE, "active")
    services.manifest_intake(
        scope=NATIONAL, carrier_code="ZTO", rows=[row(i) for i in range(20)], occurred_at=T0
    )
    batch = [
        {
            "event_id": f"b-{i}-{t}",
            "carrier": "ZTO",
            "tracking_number": f"ZT{i:010d}",
            "type": t,
            "occurred_at": (T0 + dt.timedelta(minutes=k + 1)).isoformat(),
            "station_code": station.code if t == sm.AT_STATION else "",
        }
        for i in reversed(range(20))  # the reverse order: locks must still be taken by id
        for k, t in enumerate([sm.RECEIVED_AT_COUNTY, sm.SORTED, sm.LOADED, sm.AT_STATION])
    ]
    barrier = threading.Barrier(2)
    answers: list[list[str]] = []
    lock = threading.Lock()

    def send() -> None:
        try:
            barrier.wait(timeout=10)
            statuses = [
                s["status"] for s in services.scan_events_record(scope=NATIONAL, events=batch)
            ]
        finally:
            connection.close()
        with lock:
            answers.append(statuses)

    threads = [threading.Thread(target=send) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert sorted(set(a) for a in map(tuple, answers)) == [{"applied"}, {"duplicate"}], answers
    assert ScanEvent.objects.exclude(type=sm.ANNOUNCED).count() == 80
    assert set(Parcel.objects.values_list("state", flat=True)) == {sm.AT_STATION}
    codes = list(Parcel.objects.values_list("pickup_code", flat=True))
    assert len(set(codes)) == 20 and all(len(c) == 6 for c in codes)
