from __future__ import annotations

import csv
import math

import pytest
from django.conf import settings
from hypothesis import given
from hypothesis import strategies as st

from cunzhan.network import geo

coord = st.floats(min_value=-50, max_value=50, allow_nan=False, allow_infinity=False)
size = st.floats(min_value=0.01, max_value=20, allow_nan=False, allow_infinity=False)


def rect(x0, y0, x1, y1):
    return [[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]


@given(x0=coord, y0=coord, w=size, h=size, px=coord, py=coord)
def test_point_in_rectangle_matches_the_comparison(x0, y0, w, h, px, py):
    ring = rect(x0, y0, x0 + w, y0 + h)
    expected = x0 < px < x0 + w and y0 < py < y0 + h
    on_edge = px in (x0, x0 + w) or py in (y0, y0 + h)
    if not on_edge:
        assert geo.point_in_ring(px, py, ring) == expected


@given(
    cx=coord,
    cy=coord,
    r=size,
    n=st.integers(min_value=3, max_value=40),
    t=st.floats(min_value=0, max_value=0.98),
    a=st.floats(min_value=0, max_value=2 * math.pi),
)
def test_points_strictly_inside_a_regular_polygon_are_inside(cx, cy, r, n, t, a):
    ring = [
        [cx + r * math.cos(2 * math.pi * k / n), cy + r * math.sin(2 * math.pi * k / n)]
        for k in range(n)
    ]
    # the inscribed circle has radius r*cos(pi/n): any point closer than that is inside
    inner = r * math.cos(math.pi / n) * t
    assert geo.point_in_ring(cx + inner * math.cos(a), cy + inner * math.sin(a), ring)
    assert not geo.point_in_ring(cx + 1.01 * r / t if t else cx + 2 * r, cy, ring)


def test_holes_and_multipolygons():
    donut = {"type": "Polygon", "coordinates": [rect(0, 0, 10, 10), rect(4, 4, 6, 6)]}
    assert geo.point_in_geometry(1, 1, donut)
    assert not geo.point_in_geometry(5, 5, donut)
    assert not geo.point_in_geometry(11, 5, donut)
    multi = {
        "type": "MultiPolygon",
        "coordinates": [[rect(0, 0, 1, 1)], [rect(5, 5, 6, 6)]],
    }
    assert geo.point_in_geometry(5.5, 5.5, multi)
    assert not geo.point_in_geometry(3, 3, multi)
    assert geo.bbox([multi]) == (0, 0, 6, 6)
    with pytest.raises(ValueError, match="LineString"):
        geo.point_in_geometry(0, 0, {"type": "LineString", "coordinates": []})


@given(
    lon=st.floats(min_value=97, max_value=120),
    lat=st.floats(min_value=20, max_value=45),
    d=st.floats(min_value=0.1, max_value=30),
    b=st.floats(min_value=0, max_value=360),
)
def test_offset_point_lands_at_the_requested_distance(lon, lat, d, b):
    p = geo.offset_point((lon, lat), d, b)
    assert geo.haversine_km((lon, lat), p) == pytest.approx(d, rel=0.01)


def test_synthetic_point_is_deterministic_and_in_the_annulus():
    anchor = (104.9, 26.5)
    a = geo.synthetic_point(anchor=anchor, seed_key="520204106201", min_km=1.5, max_km=8)
    b = geo.synthetic_point(anchor=anchor, seed_key="520204106201", min_km=1.5, max_km=8)
    c = geo.synthetic_point(anchor=anchor, seed_key="520204106202", min_km=1.5, max_km=8)
    assert a == b
    assert a != c
    for p in (a, c):
        assert 1.5 * 0.99 <= geo.haversine_km(anchor, p) <= 8 * 1.01


def test_synthetic_point_respects_the_fence_and_falls_back_to_the_anchor():
    # a fence that only covers the east of the anchor: every point must be east of it
    fence = {"type": "Polygon", "coordinates": [rect(104.9, 26.3, 105.2, 26.7)]}
    for i in range(30):
        p = geo.synthetic_point(
            anchor=(104.9001, 26.5), seed_key=f"k{i}", min_km=1.5, max_km=8, fences=[fence]
        )
        assert geo.point_in_geometry(*p, fence)
    # a fence far away: nothing can land inside, the anchor is used
    far = {"type": "Polygon", "coordinates": [rect(110, 30, 111, 31)]}
    assert geo.synthetic_point(
        anchor=(104.9, 26.5), seed_key="x", min_km=1.5, max_km=8, fences=[far], attempts=20
    ) == (104.9, 26.5)


def test_projection_fits_the_view_box_and_keeps_the_aspect_ratio():
    box = (104.0, 25.0, 106.0, 27.0)
    proj = geo.Projection.fit(box, width=800, pad=10)
    x0, y0 = proj.xy(104.0, 27.0)
    x1, y1 = proj.xy(106.0, 25.0)
    assert (x0, y0) == (10, 10)
    assert x1 == pytest.approx(790)
    # 2 degrees of longitude at 26N are cos(26)=0.899 of 2 degrees of latitude
    assert (x1 - x0) / (y1 - y0) == pytest.approx(math.cos(math.radians(26)), rel=1e-3)
    assert proj.view_box == f"0 0 800 {proj.height:g}"
    path = geo.svg_path({"type": "Polygon", "coordinates": [rect(104, 25, 106, 27)]}, proj)
    assert path.startswith("M10 ") and path.endswith("Z")


# --- the real county outlines of 六盘水 -------------------------------------------------------


DATA = settings.DATA_DIR


def test_fence_index_follows_the_crosswalk():
    index = geo.fence_index(DATA)
    assert index["520204"] == ("520221",)  # 水城区 lies inside the former 水城县
    assert index["520281"] == ("520222",)  # 盘州市 = former 盘县
    assert index["520203"] == ("520203",)
    assert index["520201"] == ("520201", "520221")  # 钟山区 took five towns of 水城县
    assert geo.county_fences(DATA, "530102") == []


def test_a_broken_fence_file_is_named(tmp_path):
    folder = geo.fence_dir(tmp_path)
    folder.mkdir(parents=True)
    (folder / "999999.json").write_text('{"type": "Point", "coordinates": [1, 2]}')
    with pytest.raises(ValueError, match=r"999999\.json"):
        geo.load_fence(tmp_path, "999999")


def _lps_rows(name):
    with open(DATA / "cn" / "liupanshui" / name, encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_county_seats_lie_inside_their_outlines():
    for row in _lps_rows("lps_counties_2023.csv"):
        fences = geo.county_fences(DATA, row["code"])
        assert fences, row["code"]
        lon, lat = float(row["longitude_gcj02"]), float(row["latitude_gcj02"])
        assert geo.point_in_any(lon, lat, fences), row["name"]
        # and not inside a neighbour's (钟山 and 水城 share the old 水城县 outline)
        if row["code"] == "520203":
            assert not geo.point_in_any(lon, lat, geo.county_fences(DATA, "520281"))


def test_synthetic_village_points_are_inside_the_county_and_near_the_township():
    rows = [r for r in _lps_rows("lps_townships_2023.csv") if r["longitude_gcj02"]]
    assert len(rows) == 65
    for row in rows:
        anchor = (float(row["longitude_gcj02"]), float(row["latitude_gcj02"]))
        fences = geo.county_fences(DATA, row["county_code"])
        for v in range(3):
            key = f"{row['code']}{200 + v:03d}"
            p = geo.synthetic_point(
                anchor=anchor, seed_key=key, min_km=1.5, max_km=8.0, fences=fences
            )
            assert geo.point_in_any(p[0], p[1], fences), (row["name"], key)
            assert geo.haversine_km(anchor, p) <= 8.0 * 1.01
