"""Distances and travel times through one provider interface (integer metres, seconds).

* :class:`HaversineProvider` (default): great-circle distance × a circuity factor (roads
  are longer than the straight line; about 1.4 in mountain counties such as 水城) at an
  average speed. Metres are rounded to the nearest metre, seconds rounded **up**, so a
  plan that keeps its windows on these integers keeps them on the estimates.
* :class:`OsrmProvider` (option): an OSRM-compatible HTTP ``/table/v1/driving`` service,
  ``annotations=distance,duration``; values rounded the same way.

Points are ``(lon, lat)`` in degrees (GCJ-02 like the rest of the platform, ADR 0007:
the offset is a few hundred metres, far below the circuity estimate's error).
"""

from __future__ import annotations

import json
import math
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

EARTH_RADIUS_M = 6_371_008.8

Point = tuple[float, float]  # (lon, lat) in degrees
Matrix = list[list[int]]


class DistanceProviderError(RuntimeError):
    """The provider could not give a matrix; the message says why."""


class DistanceProvider(Protocol):
    def matrices(self, points: Sequence[Point]) -> tuple[Matrix, Matrix]:
        """(metres, seconds) between every pair of points, integers, zero diagonal."""
        ...


def haversine_m(a: Point, b: Point) -> float:
    lon1, lat1, lon2, lat2 = map(math.radians, (a[0], a[1], b[0], b[1]))
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


@dataclass(frozen=True)
class HaversineProvider:
    circuity: float = 1.3
    speed_kmh: float = 30.0

    def __post_init__(self) -> None:
        if not self.circuity >= 1.0:
            raise ValueError("circuity must be at least 1 (roads are never shorter)")
        if not self.speed_kmh > 0:
            raise ValueError("average speed must be positive")

    def matrices(self, points: Sequence[Point]) -> tuple[Matrix, Matrix]:
        for p in points:
            if not (-180 <= p[0] <= 180 and -90 <= p[1] <= 90):
                raise ValueError(f"not a (lon, lat) point in degrees: {p!r}")
        speed = self.speed_kmh / 3.6  # m/s
        metres: Matrix = []
        seconds: Matrix = []
        for i, a in enumerate(points):
            road = [
                0.0 if i == j else haversine_m(a, b) * self.circuity for j, b in enumerate(points)
            ]
            metres.append([round(d) for d in road])
            seconds.append([math.ceil(d / speed) for d in road])
        return metres, seconds


@dataclass(frozen=True)
class OsrmProvider:
    """``base_url`` like ``http://127.0.0.1:5000`` (any OSRM-compatible table service)."""

    base_url: str
    profile: str = "driving"
    timeout: float = 30.0

    def matrices(self, points: Sequence[Point]) -> tuple[Matrix, Matrix]:
        if not self.base_url.startswith(("http://", "https://")):
            raise DistanceProviderError(f"OSRM URL must be http(s): {self.base_url!r}")
        coords = ";".join(f"{lon:.6f},{lat:.6f}" for lon, lat in points)
        url = (
            f"{self.base_url.rstrip('/')}/table/v1/{self.profile}/{coords}"
            "?annotations=distance,duration"
        )
        try:
            with urllib.request.urlopen(url, timeout=self.timeout) as resp:  # noqa: S310
                body = json.loads(resp.read().decode("utf-8"))
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise DistanceProviderError(f"OSRM table request failed: {exc}") from exc
        if body.get("code") != "Ok":
            raise DistanceProviderError(
                f"OSRM answered {body.get('code')!r}: {body.get('message')}"
            )
        n = len(points)
        try:
            dist = body["distances"]
            dur = body["durations"]
            if len(dist) != n or len(dur) != n:
                raise ValueError("wrong size")
            metres = [[0 if i == j else round(dist[i][j]) for j in range(n)] for i in range(n)]
            seconds = [[0 if i == j else math.ceil(dur[i][j]) for j in range(n)] for i in range(n)]
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            raise DistanceProviderError(
                f"OSRM table answer has no usable {n}×{n} distances/durations (an unreachable "
                "point gives null)"
            ) from exc
        return metres, seconds
