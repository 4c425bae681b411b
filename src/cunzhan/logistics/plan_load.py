"""A realistic day's load per village station (pure: no database), for the demo and the
county planning benchmark, until the simulator's generators take over.

Scale: about 1,000,000 parcels a day go down through rural village-level stations
nationally, spread over the 620,573 village-level units of the 2023 NBS codes (村委会
and 居委会): about 1.6 parcels per village and day on average, varying between villages
(a lognormal factor) and from day to day (Poisson). Shipments go up: about 0.15 a day per
station, ×2.5 in the harvest months (September to November); 1-3 pieces of 3-12 kg
(fruit, tea, konjac). Returns: about 2% of the downward flow waits at the station to go
back up.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass, field

__all__ = ["PARCELS_PER_VILLAGE_DAY", "StationLoad", "station_loads"]

NATIONAL_PARCELS_PER_DAY = 1_000_000
VILLAGE_UNITS = 620_573
PARCELS_PER_VILLAGE_DAY = NATIONAL_PARCELS_PER_DAY / VILLAGE_UNITS
SHIPMENTS_PER_STATION_DAY = 0.15
HARVEST_MONTHS = frozenset({9, 10, 11})
HARVEST_FACTOR = 2.5
RETURNS_PER_STATION_DAY = 0.04


@dataclass
class StationLoad:
    """One station's day: parcel weights (g) down, returns (g) and shipments up."""

    code: str
    parcels_g: list[int] = field(default_factory=list)
    returns_g: list[int] = field(default_factory=list)
    shipments: list[tuple[int, int]] = field(default_factory=list)  # (pieces, weight g)

    @property
    def drop_pieces(self) -> int:
        return len(self.parcels_g)

    @property
    def drop_g(self) -> int:
        return sum(self.parcels_g)

    @property
    def pickup_pieces(self) -> int:
        return len(self.returns_g) + sum(p for p, _ in self.shipments)

    @property
    def pickup_g(self) -> int:
        return sum(self.returns_g) + sum(w for _, w in self.shipments)


def _poisson(rng: random.Random, mean: float) -> int:
    # Knuth: fine for the small means used here
    limit, k, p = math.exp(-mean), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def _parcel_g(rng: random.Random) -> int:
    """A parcel's weight: most are light (clothes, small goods), a few heavy (appliances)."""
    return max(100, min(30_000, int(rng.lognormvariate(math.log(900), 0.9))))


def station_loads(
    codes: Sequence[str], day: dt.date, *, seed: int = 2018, scale: float = 1.0
) -> list[StationLoad]:
    """The day's load of each station ``code`` (deterministic from seed, code and day).

    ``scale`` multiplies the downward flow (e.g. a county that buys more online)."""
    harvest = HARVEST_FACTOR if day.month in HARVEST_MONTHS else 1.0
    out = []
    for code in codes:
        # the station's own level (stable across days) and the day's draw
        base = random.Random(hashlib.sha256(f"{seed}:{code}:level".encode()).digest())
        level = base.lognormvariate(-0.18, 0.6)  # mean ≈ 1
        rng = random.Random(hashlib.sha256(f"{seed}:{code}:{day.isoformat()}".encode()).digest())
        load = StationLoad(code=code)
        n = _poisson(rng, PARCELS_PER_VILLAGE_DAY * level * scale)
        load.parcels_g = [_parcel_g(rng) for _ in range(n)]
        load.returns_g = [_parcel_g(rng) for _ in range(_poisson(rng, RETURNS_PER_STATION_DAY))]
        for _ in range(_poisson(rng, SHIPMENTS_PER_STATION_DAY * harvest)):
            pieces = rng.randint(1, 3)
            load.shipments.append((pieces, pieces * rng.randint(3_000, 12_000)))
        out.append(load)
    return out
