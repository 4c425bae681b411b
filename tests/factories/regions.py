"""A small real-shaped region tree for unit tests that do not need the full import."""

from __future__ import annotations

from cunzhan.network.models import Kind, Level, Region

TREE = [
    ("52", "贵州省", Level.PROVINCE, Kind.PROVINCE, None),
    ("5202", "六盘水市", Level.PREFECTURE, Kind.PREFECTURE, "52"),
    ("520204", "水城区", Level.COUNTY, Kind.DISTRICT, "5202"),
    ("520204106", "玉舍镇", Level.TOWNSHIP, Kind.TOWN, "520204"),
    ("520204106201", "海坪村村民委员会", Level.VILLAGE, Kind.VILLAGE, "520204106"),
    ("520204106202", "玉舍村村民委员会", Level.VILLAGE, Kind.VILLAGE, "520204106"),
    ("520203", "六枝特区", Level.COUNTY, Kind.SPECIAL_DISTRICT, "5202"),
    ("520203101", "平寨镇", Level.TOWNSHIP, Kind.TOWN, "520203"),
    ("520203101201", "那玉村村民委员会", Level.VILLAGE, Kind.VILLAGE, "520203101"),
    ("53", "云南省", Level.PROVINCE, Kind.PROVINCE, None),
    ("5301", "昆明市", Level.PREFECTURE, Kind.PREFECTURE, "53"),
    ("530102", "五华区", Level.COUNTY, Kind.DISTRICT, "5301"),
    ("530102001", "华山街道", Level.TOWNSHIP, Kind.SUBDISTRICT, "530102"),
    ("530102001001", "光华社区居委会", Level.VILLAGE, Kind.COMMUNITY, "530102001"),
]


def make_region_tree() -> dict[str, Region]:
    out: dict[str, Region] = {}
    for code, name, level, kind, parent in TREE:
        out[code] = Region.objects.create(
            code=code,
            name=name,
            level=level,
            kind=kind,
            parent_id=parent,
            longitude=104.8 if level <= Level.TOWNSHIP else None,
            latitude=26.5 if level <= Level.TOWNSHIP else None,
            coord_source="real" if level <= Level.TOWNSHIP else "",
            is_poverty_county=code in {"520204", "520203"},
            poverty_exit_year={"520204": 2019, "520203": 2018}.get(code),
        )
    return out
