"""Facts of the real data (issue 2), after importing province 52 (贵州) from data/cn.

The import runs once per module (about 1.5 s on SQLite, 2 s on PostgreSQL) and
is removed again when the module is done.
"""

from __future__ import annotations

import pytest
from django.conf import settings
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from tests.network.conftest import import_guizhou

from cunzhan.core.scope import prefix_q
from cunzhan.network.models import Kind, Level, Region, RegionAlias
from cunzhan.network.regions_import import kind_for
from cunzhan.network.selectors import (
    region_descendant_counts,
    region_display_name,
    region_resolve,
)

pytestmark = pytest.mark.django_db


def test_the_import_report_counts_the_rows_of_guizhou(guizhou):
    assert guizhou.rows_in_files == {
        "provinces": 1,
        "cities": 9,
        "areas": 88,
        "streets": 1510,
        "villages": 17964,
    }
    assert guizhou.created == guizhou.total_rows == 19572
    assert Region.objects.count() == 19572
    assert guizhou.seconds < 30


def test_5202_has_4_counties_and_92_township_level_units(guizhou):
    counts = region_descendant_counts(code="5202")
    assert counts[Level.COUNTY] == 4
    assert counts[Level.TOWNSHIP] == 92
    assert counts[Level.VILLAGE] == 1152  # = liupanshui/lps_villages_2023.csv
    names = set(Region.objects.filter(parent_id="5202").values_list("name", flat=True))
    assert names == {"钟山区", "六枝特区", "水城区", "盘州市"}


def test_shuicheng_has_30_township_level_units_and_189_villages(guizhou):
    counts = region_descendant_counts(code="520204")
    assert counts == {Level.TOWNSHIP: 30, Level.VILLAGE: 189}


def test_three_of_the_four_counties_of_5202_are_poverty_counties(guizhou):
    poor = Region.objects.filter(parent_id="5202", is_poverty_county=True)
    assert {r.code: r.poverty_exit_year for r in poor} == {
        "520203": 2018,
        "520204": 2019,
        "520281": 2018,
    }
    assert not Region.objects.get(code="520201").is_poverty_county
    assert Region.objects.filter(is_poverty_county=True).count() == 66  # 贵州's 66


def test_520221_resolves_to_shuicheng_district_shown_with_its_former_name(guizhou):
    region, alias = region_resolve(code="520221")
    assert region.code == "520204"
    assert alias is not None and alias.name == "水城县"
    assert region_display_name(region, alias) == "水城区（原水城县）"
    # 盘县 -> 盘州市 (one successor), and the former name of a code still in use
    assert region_resolve(code="520222")[0].code == "520281"
    assert RegionAlias.objects.filter(code="520201", name="水城特区", region_id="520201").exists()


def test_kinds_follow_the_code_and_the_name(guizhou):
    kinds = dict(Region.objects.filter(parent_id="5202").values_list("code", "kind"))
    assert kinds == {
        "520201": Kind.DISTRICT,
        "520203": Kind.SPECIAL_DISTRICT,
        "520204": Kind.DISTRICT,
        "520281": Kind.COUNTY_CITY,
    }
    for region in Region.objects.filter(level=Level.TOWNSHIP):
        ttt = int(region.code[6:])
        expected = (
            Kind.SUBDISTRICT
            if ttt < 100
            else Kind.TOWN
            if ttt < 200
            else Kind.TOWNSHIP
            if ttt < 400
            else Kind.OTHER_TOWNSHIP
        )
        assert region.kind == expected, region
    assert Region.objects.get(code="520204106").kind == Kind.TOWN  # 比德镇
    villages = Region.objects.filter(prefix_q("code", "5202"), level=Level.VILLAGE)
    assert villages.filter(kind=Kind.VILLAGE).count() == 724
    assert villages.filter(kind=Kind.COMMUNITY).count() == 428
    assert Region.objects.get(code="52").kind == Kind.PROVINCE
    assert Region.objects.get(code="520204106001").kind == Kind.COMMUNITY  # 易福社区居民委员会
    assert Region.objects.get(code="520204106200").kind == Kind.VILLAGE  # 比德村村民委员会
    # 贵州 has no PPCC7x zones; the rule on one from 河北 and on the placeholders:
    assert kind_for("130171", "石家庄高新技术产业开发区") == Kind.ZONE
    assert kind_for("429021", "神农架林区", parent_is_placeholder=True) == Kind.SPECIAL_DISTRICT
    assert kind_for("610103", "碑林区") == Kind.DISTRICT
    assert kind_for("1101", "市辖区") == Kind.PLACEHOLDER
    assert kind_for("4290", "省直辖县级行政区划") == Kind.PLACEHOLDER


def test_parents_are_the_codes_one_level_up(guizhou):
    for code in ("5202", "520204", "520204106", "520204106200"):
        r = Region.objects.get(code=code)
        assert r.parent_id == {4: "52", 6: "5202", 9: "520204", 12: "520204106"}[len(code)]


def test_county_and_township_points_are_real_and_agree_with_the_liupanshui_seed(guizhou):
    import csv

    seed = settings.DATA_DIR / "cn" / "liupanshui" / "lps_townships_2023.csv"
    with open(seed, encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 92
    with_point = 0
    for row in rows:
        region = Region.objects.get(code=row["code"])
        if row["longitude_gcj02"]:
            with_point += 1
            assert region.coord_source == "real"
            assert region.longitude == pytest.approx(float(row["longitude_gcj02"]))
            assert region.latitude == pytest.approx(float(row["latitude_gcj02"]))
        else:
            assert region.longitude is None and region.coord_source == ""
    assert with_point == 65
    shuicheng = Region.objects.get(code="520204")  # no 2023 point: taken from 水城县 520221
    assert (shuicheng.longitude, shuicheng.latitude) == (104.95783, 26.547904)
    assert Region.objects.get(code="520204106200").longitude is None  # villages: none


def test_a_second_run_changes_nothing(guizhou):
    again = import_guizhou()
    assert (again.created, again.updated, again.withdrawn) == (0, 0, 0)
    assert again.unchanged == 19572
    assert (again.aliases_created, again.aliases_updated, again.aliases_deleted) == (0, 0, 0)


codes_strategy = st.sets(
    st.sampled_from([2, 4, 6, 9, 12]).flatmap(
        lambda n: st.text(alphabet="0123456789", min_size=n, max_size=n)
    ),
    min_size=1,
    max_size=25,
)


@hsettings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(codes=codes_strategy, data=st.data())
def test_prefix_range_query_equals_startswith(codes, data):
    """For random sets of codes (added to whatever is imported), the indexed range query
    and the descendant counts equal a Python startswith filter over the whole table."""
    from django.db import transaction

    prefix = data.draw(
        st.one_of(
            st.sampled_from(sorted(codes)),
            st.sampled_from(sorted(codes)).map(lambda c: c[: max(1, len(c) // 2)]),
            st.text(alphabet="0123456789", min_size=1, max_size=12),
            st.sampled_from(["9", "99", "0", "00"]),
        )
    )
    with transaction.atomic():
        sid = transaction.savepoint()
        existing = set(Region.objects.filter(code__in=codes).values_list("code", flat=True))
        Region.objects.bulk_create(
            Region(code=c, name=c, level={2: 1, 4: 2, 6: 3, 9: 4, 12: 5}[len(c)], kind="x")
            for c in codes - existing
        )
        try:
            table = list(Region.objects.values_list("code", "level", "withdrawn_in"))
            got = set(
                Region.objects.filter(prefix_q("code", prefix)).values_list("code", flat=True)
            )
            assert got == {c for c, _, _ in table if c.startswith(prefix)}
            expected: dict[int, int] = {}
            for c, level, withdrawn in table:
                if c.startswith(prefix) and c != prefix and not withdrawn:
                    expected[level] = expected.get(level, 0) + 1
            assert region_descendant_counts(code=prefix) == expected
        finally:
            transaction.savepoint_rollback(sid)
