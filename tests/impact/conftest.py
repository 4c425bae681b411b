from __future__ import annotations

import datetime as dt

import pytest

from cunzhan.network.models import StationStatus
from tests.factories.impact import deliver
from tests.factories.stations import make_station

V1 = "520204106201"
V2 = "520204106202"
OUT_V = "520203101201"
D1 = dt.date(2026, 10, 5)  # a Monday
D2 = dt.date(2026, 10, 6)
D3 = dt.date(2026, 11, 2)
TODAY = dt.date(2026, 11, 10)


@pytest.fixture
def small(regions):
    """Two villages of 水城区 and one of 六枝特区, parcels on known days:

    V1: 3 down on D1 (2 picked up D1, 1 due back D2), 1 down on D2 (picked up D3)
    V2: 2 down on D2 (1 picked up D2), 1 down on D3
    OUT_V: 4 down on D1
    """
    s1 = make_station(V1, StationStatus.ACTIVE)
    s2 = make_station(V2, StationStatus.ACTIVE)
    s3 = make_station(OUT_V, StationStatus.ACTIVE)
    deliver("A1", village=V1, station_code=s1.code, day=D1, then="picked_up")
    deliver("A2", village=V1, station_code=s1.code, day=D1, then="picked_up")
    deliver("A3", village=V1, station_code=s1.code, day=D1, then="return_due", then_day=D2)
    deliver("A4", village=V1, station_code=s1.code, day=D2, then="picked_up", then_day=D3)
    deliver("B1", village=V2, station_code=s2.code, day=D2, then="picked_up")
    deliver("B2", village=V2, station_code=s2.code, day=D2)
    deliver("B3", village=V2, station_code=s2.code, day=D3)
    for i in range(4):
        deliver(f"C{i}", village=OUT_V, station_code=s3.code, day=D1)
    return {"s1": s1, "s2": s2, "s3": s3}
