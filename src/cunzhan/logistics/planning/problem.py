"""A solver-independent vehicle-routing problem with integer data only.

Scaling for the platform (ADR 0008): distances in **metres**, durations and times in
**seconds** (times of day as seconds since the plan's midnight), loads in integer units
per dimension (the daily plan uses ``("kg", "pieces")``; grams are not needed).
Benchmark instances keep their own units multiplied by ``Convention.scale`` so that
every number the solver sees is an integer; the checker reports costs back in the
instance's own convention.

Locations are numbered depots first, then clients: ``location(client i) = len(depots) + i``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

#: No limit (fits in a signed 64-bit integer with room for sums).
UNLIMITED = 2**40

ConventionKind = Literal[
    "metres_seconds",  # the platform: integer metres and seconds, scale 1
    "rounded_euc_2d",  # VRPLIB EUC_2D: each arc = nint(euclidean)
    "truncated_1dec",  # Solomon / DIMACS: each arc truncated to one decimal
    "exact_2d",  # LKH-3 EXACT_2D: unrounded euclidean
    "explicit",  # explicit integer matrix in the file (already scaled)
]


@dataclass(frozen=True)
class Convention:
    """How the instance measures distance, and the factor from its units to our integers.

    ``integer value = instance value × scale``; costs are reported divided by ``scale``.
    """

    kind: ConventionKind
    scale: int = 1


@dataclass(frozen=True)
class Depot:
    ident: int
    tw_early: int = 0
    tw_late: int = UNLIMITED
    x: float = 0.0
    y: float = 0.0


@dataclass(frozen=True)
class Client:
    """A stop: ``delivery`` is dropped there, ``pickup`` collected there, per dimension."""

    ident: int
    delivery: tuple[int, ...]
    pickup: tuple[int, ...]
    service: int = 0
    tw_early: int = 0
    tw_late: int = UNLIMITED
    x: float = 0.0
    y: float = 0.0
    # an optional client may be left out (its ``prize`` is then forgone); the daily plan
    # makes every station optional with a prize above any route's cost, so the solver
    # serves all it can and names the rest instead of failing the whole plan
    required: bool = True
    prize: int = 0


@dataclass(frozen=True)
class VehicleType:
    count: int
    capacity: tuple[int, ...]
    depot: int = 0  # index into Problem.depots; routes start and end there
    tw_early: int = 0  # shift start
    tw_late: int = UNLIMITED  # shift end
    max_duration: int = UNLIMITED
    fixed_cost: int = 0
    unit_distance_cost: int = 1
    name: str = ""


@dataclass(frozen=True)
class Route:
    """One vehicle's trip: its type and the client *indices* (into Problem.clients) in order."""

    vehicle_type: int
    clients: tuple[int, ...]


@dataclass
class Problem:
    name: str
    depots: list[Depot]
    clients: list[Client]
    vehicle_types: list[VehicleType]
    distance: list[list[int]]
    duration: list[list[int]]
    convention: Convention = field(default_factory=lambda: Convention("metres_seconds"))
    dimensions: tuple[str, ...] = ("kg", "pieces")
    source_format: str = "platform"
    meta: dict[str, object] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.validate()

    @property
    def num_locations(self) -> int:
        return len(self.depots) + len(self.clients)

    def loc(self, client: int) -> int:
        """Location index of client ``client``."""
        return len(self.depots) + client

    def validate(self) -> None:
        """Raise ValueError naming the first inconsistency (shapes, types, signs)."""
        n = self.num_locations
        dims = len(self.dimensions)
        if not self.depots:
            raise ValueError(f"{self.name}: a problem needs at least one depot")
        if not self.vehicle_types:
            raise ValueError(f"{self.name}: a problem needs at least one vehicle type")
        for label, matrix in (("distance", self.distance), ("duration", self.duration)):
            if len(matrix) != n or any(len(row) != n for row in matrix):
                raise ValueError(f"{self.name}: {label} matrix is not {n}×{n}")
            for row in matrix:
                for value in row:
                    if not isinstance(value, int) or value < 0:
                        raise ValueError(
                            f"{self.name}: {label} matrix holds {value!r}, not an integer ≥ 0"
                        )
        for c in self.clients:
            if len(c.delivery) != dims or len(c.pickup) != dims:
                raise ValueError(f"{self.name}: client {c.ident} loads must have {dims} values")
            if c.tw_early > c.tw_late:
                raise ValueError(f"{self.name}: client {c.ident} window closes before it opens")
        for i, vt in enumerate(self.vehicle_types):
            if len(vt.capacity) != dims:
                raise ValueError(f"{self.name}: vehicle type {i} capacity must have {dims} values")
            if not 0 <= vt.depot < len(self.depots):
                raise ValueError(f"{self.name}: vehicle type {i} starts at unknown depot")
            if vt.count < 0:
                raise ValueError(f"{self.name}: vehicle type {i} has a negative count")
