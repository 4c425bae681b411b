from __future__ import annotations

import pytest

from cunzhan.network.models import StationStatus
from tests.factories.stations import make_station

COUNTY = "520204"
VILLAGE = "520204106201"
OTHER_COUNTY = "520203"
OTHER_VILLAGE = "520203101201"


@pytest.fixture
def station(regions):
    return make_station(VILLAGE, StationStatus.ACTIVE)


@pytest.fixture
def other_station(regions):
    return make_station(OTHER_VILLAGE, StationStatus.ACTIVE)
