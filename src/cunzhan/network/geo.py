"""Plane geometry for stations: point-in-polygon, synthetic points, SVG projection.

Everything here is pure Python on GeoJSON-shaped data (``{"type": "Polygon" |
"MultiPolygon", "coordinates": ...}``, longitude first), except the two loaders at
the bottom that read the county outlines (``county_fences/*.json``) and the code
crosswalk shipped in ``DATA_DIR``.

Coordinates are GCJ-02 throughout (the data's system). Distances of a few
kilometres are computed on a local equirectangular plane (error < 0.1 % at that
scale), which is all that placing a station near its township needs.
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from cunzhan.core.validation import is_ascii_digits

EARTH_RADIUS_KM = 6371.0088
KM_PER_DEG_LAT = math.pi * EARTH_RADIUS_KM / 180.0

Point = tuple[float, float]  # (longitude, latitude)
Ring = Sequence[Sequence[float]]
Geometry = dict[str, Any]


# --- point in polygon -------------------------------------------------------------------------


def point_in_ring(lon: float, lat: float, ring: Ring) -> bool:
    """Ray casting (even-odd rule): is the point inside the closed ring?

    The ring may or may not repeat its first vertex at the end. Points exactly on
    an edge may fall either way, as with any ray-casting test.
    """
    inside = False
    n = len(ring)
    if n < 3:
        return False
    j = n - 1
    for i in range(n):
        xi, yi = ring[i][0], ring[i][1]
        xj, yj = ring[j][0], ring[j][1]
        if (yi > lat) != (yj > lat):
            x_cross = xi + (lat - yi) * (xj - xi) / (yj - yi)
            if lon < x_cross:
                inside = not inside
        j = i
    return inside


def point_in_polygon(lon: float, lat: float, polygon: Sequence[Ring]) -> bool:
    """Inside the outer ring (``polygon[0]``) and outside every hole."""
    if not polygon or not point_in_ring(lon, lat, polygon[0]):
        return False
    return not any(point_in_ring(lon, lat, hole) for hole in polygon[1:])


def polygons_of(geometry: Geometry) -> list[Sequence[Ring]]:
    """The polygons of a GeoJSON Polygon or MultiPolygon geometry (or Feature)."""
    if geometry.get("type") == "Feature":
        geometry = geometry["geometry"]
    kind = geometry.get("type")
    if kind == "Polygon":
        return [geometry["coordinates"]]
    if kind == "MultiPolygon":
        return list(geometry["coordinates"])
    raise ValueError(f"not a Polygon or MultiPolygon geometry: {kind!r}")


def point_in_geometry(lon: float, lat: float, geometry: Geometry) -> bool:
    return any(point_in_polygon(lon, lat, poly) for poly in polygons_of(geometry))


def point_in_any(lon: float, lat: float, geometries: Iterable[Geometry]) -> bool:
    return any(point_in_geometry(lon, lat, g) for g in geometries)


def bbox(geometries: Iterable[Geometry]) -> tuple[float, float, float, float] | None:
    """(min_lon, min_lat, max_lon, max_lat) over the outer rings, or None when empty."""
    xs: list[float] = []
    ys: list[float] = []
    for g in geometries:
        for poly in polygons_of(g):
            for x, y, *_ in poly[0]:
                xs.append(x)
                ys.append(y)
    if not xs:
        return None
    return min(xs), min(ys), max(xs), max(ys)


# --- distances and synthetic points -----------------------------------------------------------


def haversine_km(a: Point, b: Point) -> float:
    lon1, lat1, lon2, lat2 = map(math.radians, (a[0], a[1], b[0], b[1]))
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * EARTH_RADIUS_KM * math.asin(math.sqrt(h))


def offset_point(origin: Point, distance_km: float, bearing_deg: float) -> Point:
    """The point ``distance_km`` from ``origin`` towards ``bearing_deg`` (0 = north)."""
    lon, lat = origin
    b = math.radians(bearing_deg)
    dlat = distance_km * math.cos(b) / KM_PER_DEG_LAT
    dlon = distance_km * math.sin(b) / (KM_PER_DEG_LAT * math.cos(math.radians(lat)))
    return lon + dlon, lat + dlat


def seeded_rng(key: str) -> random.Random:
    """A random stream fixed by ``key`` (same key, same numbers, on every machine)."""
    digest = hashlib.sha256(f"cunzhan-geo:{key}".encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


# Villages in mountainous Guizhou lie typically 1.5-8 km (straight line) from their
# township seat; a township seat typically 4-25 km from the county seat.
VILLAGE_FROM_TOWNSHIP_KM = (1.5, 8.0)
TOWNSHIP_FROM_COUNTY_KM = (4.0, 25.0)


def synthetic_point(
    *,
    anchor: Point,
    seed_key: str,
    min_km: float,
    max_km: float,
    fences: Sequence[Geometry] = (),
    attempts: int = 400,
) -> Point:
    """A deterministic point between ``min_km`` and ``max_km`` from ``anchor``, inside
    one of ``fences`` when any are given (rejection sampling, RNG seeded by ``seed_key``).

    The distance is drawn so that points are uniform over the annulus. If no candidate
    lands inside the fences (an anchor on a long thin strip of the county), the annulus
    is widened inwards to the anchor; if that fails too, the anchor itself is returned.
    Rounded to 6 decimals (about 0.1 m), as in the source data.
    """
    if not 0 <= min_km <= max_km:
        raise ValueError(f"need 0 <= min_km <= max_km, got {min_km}, {max_km}")
    rng = seeded_rng(seed_key)
    for lo in (min_km, 0.0):
        for _ in range(attempts):
            r = math.sqrt(rng.uniform(lo * lo, max_km * max_km))
            p = offset_point(anchor, r, rng.uniform(0.0, 360.0))
            if not fences or point_in_any(p[0], p[1], fences):
                return round(p[0], 6), round(p[1], 6)
    return round(anchor[0], 6), round(anchor[1], 6)


# --- projection for server-side SVG maps ------------------------------------------------------


@dataclass(frozen=True)
class Projection:
    """Equirectangular projection scaled by cos(mid-latitude), fitted to a viewBox."""

    min_lon: float
    max_lat: float
    kx: float
    ky: float
    pad: float
    width: float
    height: float

    @classmethod
    def fit(
        cls,
        box: tuple[float, float, float, float],
        *,
        width: float = 800.0,
        pad: float = 10.0,
        max_height: float = 1200.0,
    ) -> Projection:
        """Fit ``box`` (min_lon, min_lat, max_lon, max_lat) into ``width``; the height
        follows the aspect ratio (capped at ``max_height``)."""
        min_lon, min_lat, max_lon, max_lat = box
        coslat = math.cos(math.radians((min_lat + max_lat) / 2))
        w_units = max((max_lon - min_lon) * coslat, 1e-9)
        h_units = max(max_lat - min_lat, 1e-9)
        scale = (width - 2 * pad) / w_units
        height = h_units * scale + 2 * pad
        if height > max_height:
            scale = (max_height - 2 * pad) / h_units
            height = max_height
        return cls(
            min_lon=min_lon,
            max_lat=max_lat,
            kx=scale * coslat,
            ky=scale,
            pad=pad,
            width=width,
            height=round(height, 1),
        )

    def xy(self, lon: float, lat: float) -> tuple[float, float]:
        return (
            round(self.pad + (lon - self.min_lon) * self.kx, 1),
            round(self.pad + (self.max_lat - lat) * self.ky, 1),
        )

    @property
    def view_box(self) -> str:
        return f"0 0 {self.width:g} {self.height:g}"


def svg_path(geometry: Geometry, proj: Projection, *, min_step: float = 0.6) -> str:
    """An SVG path ``d`` for a Polygon/MultiPolygon (holes included; use fill-rule
    evenodd). Vertices closer than ``min_step`` px to the previous one are dropped."""
    parts: list[str] = []
    for poly in polygons_of(geometry):
        for ring in poly:
            pts: list[tuple[float, float]] = []
            for x, y, *_ in ring:
                p = proj.xy(x, y)
                if pts and abs(p[0] - pts[-1][0]) < min_step and abs(p[1] - pts[-1][1]) < min_step:
                    continue
                pts.append(p)
            if len(pts) < 3:
                continue
            parts.append(
                "M" + " L".join(f"{x:g} {y:g}" for x, y in pts) + " Z",
            )
    return " ".join(parts)


# --- the shipped county outlines --------------------------------------------------------------


def fence_dir(data_dir: Path) -> Path:
    return data_dir / "cn" / "liupanshui" / "county_fences"


@cache
def _load_geometry(path: str) -> Geometry:
    with open(path, encoding="utf-8") as fh:
        geometry = json.load(fh)
    polygons_of(geometry)  # validates the type
    return geometry


def load_fence(data_dir: Path, code: str) -> Geometry:
    """The outline stored under ``code`` (a 2016 code). Raises FileNotFoundError,
    or ValueError naming the file when it is not a polygon geometry."""
    path = fence_dir(data_dir) / f"{code}.json"
    try:
        return _load_geometry(str(path))
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"{path}: not a GeoJSON Polygon/MultiPolygon ({exc})") from exc


def _strip_year(code: str) -> str:
    return code.split("[", 1)[0].strip()


@cache
def fence_index(data_dir: Path) -> dict[str, tuple[str, ...]]:
    """Current (2023) unit code -> the fence files whose area it lies in.

    Derived from data: a fence file keyed by a code still in use covers that unit;
    a fence keyed by a withdrawn code covers each of the codes that replaced it in
    the crosswalk (``crosswalk/areacodes_result.csv``: ``新代码``). So 520281 盘州市 ->
    520222 (盘县), 520204 水城区 -> 520221 (水城县), and 520201 钟山区 -> 520201 and
    520221, because 钟山区 took five towns of the former 水城县 in 2020.
    """
    folder = fence_dir(data_dir)
    if not folder.is_dir():
        return {}
    fence_codes = sorted(p.stem for p in folder.glob("*.json") if is_ascii_digits(p.stem))
    index: dict[str, set[str]] = {code: {code} for code in fence_codes}
    crosswalk = data_dir / "cn" / "crosswalk" / "areacodes_result.csv"
    if crosswalk.is_file():
        wanted = set(fence_codes)
        with open(crosswalk, encoding="utf-8-sig", newline="") as fh:
            for row in csv.DictReader(fh):
                code = (row.get("代码") or "").strip()
                if code not in wanted or (row.get("状态") or "").strip() != "弃用":
                    continue
                for new in (row.get("新代码") or "").split(";"):
                    new = _strip_year(new)
                    if is_ascii_digits(new):
                        index.setdefault(new, set()).add(code)
    return {k: tuple(sorted(v)) for k, v in index.items()}


def county_fences(data_dir: Path, county_code: str) -> list[Geometry]:
    """The outlines that together contain the county ``county_code`` (6 digits), or []."""
    return [load_fence(data_dir, c) for c in fence_index(data_dir).get(county_code, ())]
