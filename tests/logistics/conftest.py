from __future__ import annotations

import pytest

from cunzhan.network.models import StationStatus
from tests.factories.stations import make_station

VILLAGE = "520204106201"  # has an active village station
BARE_VILLAGE = "520204106202"  # has none


@pytest.fixture
def station(regions):
    return make_station(VILLAGE, StationStatus.ACTIVE)


def row(n: int, **kw):
    base = {
        "tracking_number": f"ZT{n:010d}",
        "recipient_name": "张三",
        "phone": "13812345678",
        "village_code": VILLAGE,
        "weight_g": 1200,
        "size_class": "M",
        "cod_fen": 0,
    }
    base.update(kw)
    return base
