from __future__ import annotations

import pytest

from cunzhan.network.models import StationStatus
from tests.factories.commerce import make_producer, seed_catalogue
from tests.factories.stations import make_station

VILLAGE = "520204106201"  # 水城区, has an active village station


@pytest.fixture
def catalogue(db):
    return seed_catalogue()


@pytest.fixture
def station(regions):
    return make_station(VILLAGE, StationStatus.ACTIVE)


@pytest.fixture
def kiwi(catalogue):
    return catalogue["kiwifruit-red"]


@pytest.fixture
def producer(station):
    return make_producer(station)
