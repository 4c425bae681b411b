"""The columnar snapshot: Parquet fact tables written from the database, and the DuckDB
rollup of parcels and sales by county and month equal to the same rollup on the
operational tables."""

from __future__ import annotations

import datetime as dt
import json

import pyarrow.parquet as pq
import pytest
from django.core.management import call_command
from django.utils import timezone

from cunzhan.accounts.roles import Role
from cunzhan.commerce import orders
from cunzhan.core.scope import RegionScope
from cunzhan.impact import columnar
from tests.factories.commerce import make_producer, seed_catalogue
from tests.factories.impact import deliver
from tests.factories.orders import graded_lot, kiwi_special_price, pay, place
from tests.impact.conftest import D1, D3, OUT_V, V1, V2

NATIONAL = RegionScope.national()
FIRST = dt.date(2026, 9, 1)


@pytest.fixture
def sold(small):
    """The parcels of ``small`` and, this month, a paid order of 7 kiwis at 10 yuan from
    V1, a cancelled one and an unpaid one (neither is a sale)."""
    kiwi = seed_catalogue()["kiwifruit-red"]
    kiwi_special_price(kiwi, "520204", 1000)
    graded_lot(make_producer(small["s1"]), kiwi, quantity=30, days_ago=3)
    pay(place("520204", 7))
    orders.order_cancel(scope=NATIONAL, order=place("520204", 2))
    place("520204", 1)
    return small


def month_end() -> dt.date:
    today = timezone.localdate()
    return dt.date(today.year + (today.month == 12), today.month % 12 + 1, 1)


def expected_cells() -> set[tuple[str, str]]:
    """The (county, month) cells of ``sold``: the parcels' months, and this month's sale
    (its own cell once this month is no longer 2026-11, the month of D3)."""
    this_month = timezone.localdate().strftime("%Y-%m")
    return {("520203", "2026-10"), ("520204", "2026-10"), ("520204", "2026-11")} | {
        ("520204", this_month)
    }


def _cells(rows: list[dict]) -> set[tuple[str, str]]:
    cells = [(r["county_code"], r["month"]) for r in rows]
    assert len(cells) == len(set(cells))  # one row per county and month
    return set(cells)


def test_snapshot_layout_and_facts(sold, tmp_path):
    manifest = columnar.snapshot_write(root=tmp_path)
    assert manifest["counties"]["520204"]["parcels"] == 7
    assert manifest["counties"]["520204"]["sales"] == 1
    assert manifest["counties"]["520203"]["parcels"] == 4
    assert json.loads((tmp_path / "manifest.json").read_text()) == manifest
    oct_ = tmp_path / "parcels" / "county=520204" / "month=2026-10" / "part-0.parquet"
    nov = tmp_path / "parcels" / "county=520204" / "month=2026-11" / "part-0.parquet"
    rows = pq.read_table(oct_).to_pylist()
    assert len(rows) == 6 and len(pq.read_table(nov).to_pylist()) == 1
    a1 = next(r for r in rows if r["village"] == V1 and r["picked_up_day"] == D1)
    assert (a1["county"], a1["carrier"], a1["weight_g"]) == ("520204", "ZTO", 500)
    assert a1["received_day"] == D1 and a1["at_station_day"] == D1
    assert a1["station"] == sold["s1"].code
    assert set(a1) == {f.name for f in columnar.PARCEL_SCHEMA}  # no names, no phones
    month = timezone.localdate().strftime("%Y-%m")
    (sale,) = pq.read_table(
        tmp_path / "sales" / "county=520204" / f"month={month}" / "part-0.parquet"
    ).to_pylist()
    assert (sale["village"], sale["quantity"], sale["amount_fen"], sale["product"]) == (
        V1,
        7,
        7000,
        "kiwifruit-red",
    )


@pytest.mark.parametrize(
    ("scope", "region"),
    [
        (RegionScope.national(), ""),
        (RegionScope.national(), "5202"),
        (RegionScope.for_regions(["520204"]), ""),
        (RegionScope.for_regions(["520203"]), ""),
        (RegionScope.for_regions(["520204106"]), ""),
        (RegionScope.national(), V2),
    ],
)
def test_duckdb_rollup_equals_the_database_rollup(sold, tmp_path, scope, region):
    columnar.snapshot_write(root=tmp_path)
    end = month_end()
    db = columnar.rollup_database(scope=scope, region=region, first=FIRST, end=end)
    duck = columnar.rollup_columnar(scope=scope, region=region, first=FIRST, end=end, root=tmp_path)
    assert duck == db
    assert db  # every case has rows


def test_rollup_figures(sold, tmp_path):
    columnar.snapshot_write(root=tmp_path)
    rows = columnar.rollup_columnar(scope=NATIONAL, first=FIRST, end=month_end(), root=tmp_path)
    cells = {(r.county_code, r.month): r for r in rows}
    assert (cells["520204", "2026-10"].parcels, cells["520204", "2026-10"].weight_g) == (6, 3000)
    assert cells["520203", "2026-10"].parcels == 4
    this = timezone.localdate().strftime("%Y-%m")
    assert cells["520204", this].sales_fen == 7000 and cells["520204", this].sales_units == 7
    # a month range prunes the partitions: October only
    oct_ = columnar.rollup_columnar(
        scope=NATIONAL, first=dt.date(2026, 10, 1), end=dt.date(2026, 11, 1), root=tmp_path
    )
    assert {(r.county_code, r.month) for r in oct_} == {
        ("520204", "2026-10"),
        ("520203", "2026-10"),
    }


def test_command_rewrites_one_region(sold, tmp_path, capsys):
    from cunzhan.network.models import Region

    call_command("columnar_export", out=str(tmp_path))
    counties = Region.objects.filter(level=3).count()
    assert f"{counties} counties, 11 parcel rows, 1 sale rows" in capsys.readouterr().out
    before = json.loads((tmp_path / "manifest.json").read_text())["counties"]
    deliver("LATE", village=V1, station_code=sold["s1"].code, day=D3)
    deliver("LATE2", village=OUT_V, station_code=sold["s3"].code, day=D3)
    call_command("columnar_export", out=str(tmp_path), region="520204")
    after = json.loads((tmp_path / "manifest.json").read_text())["counties"]
    assert after["520204"]["parcels"] == 8
    assert after["520203"] == before["520203"]  # not rewritten: the late parcel waits
    rows = columnar.rollup_columnar(scope=NATIONAL, first=FIRST, end=month_end(), root=tmp_path)
    cells = {(r.county_code, r.month): r.parcels for r in rows}
    assert cells["520204", "2026-11"] == 2 and "520203" not in {
        c for c, m in cells if m == "2026-11"
    }
    assert not list(tmp_path.glob(".staging-*"))


def test_command_bad_region(sold, tmp_path):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="region"):
        call_command("columnar_export", out=str(tmp_path), region="12345")


# --- the API -------------------------------------------------------------------------------------


@pytest.fixture
def snapshot_dir(tmp_path, settings):
    settings.COLUMNAR_DIR = tmp_path / "columnar"
    return settings.COLUMNAR_DIR


def test_rollup_api_reads_the_snapshot_when_there_is_one(sold, snapshot_dir, make_user, api_client):
    admin = api_client(make_user(Role.NETWORK_ADMIN))
    q = {"first": "2026-09", "last": timezone.localdate().strftime("%Y-%m")}
    r = admin.get("/api/v1/impact/rollup", q)
    assert r.status_code == 200, r.content
    assert r.json()["source"] == "database" and r.json()["snapshot_built_at"] is None
    from_db = r.json()["rows"]
    columnar.snapshot_write()
    r = admin.get("/api/v1/impact/rollup", q)
    assert r.json()["source"] == "columnar" and r.json()["snapshot_built_at"]
    assert r.json()["rows"] == from_db and _cells(from_db) == expected_cells()
    # forced to the database
    r = admin.get("/api/v1/impact/rollup", {**q, "source": "database"})
    assert r.json()["source"] == "database" and r.json()["rows"] == from_db


def test_rollup_api_scope_and_bad_input(sold, snapshot_dir, make_user, api_client):
    columnar.snapshot_write()
    other = api_client(make_user(Role.COUNTY_MANAGER, regions=["520203"]))
    r = other.get("/api/v1/impact/rollup", {"first": "2026-09"})
    assert r.status_code == 200
    assert {x["county_code"] for x in r.json()["rows"]} == {"520203"}
    for region in ("520204", "5202", V1):
        assert other.get("/api/v1/impact/rollup", {"region": region}).status_code == 404
    for params, code in (
        ({"first": "2026-13"}, "validation_error"),
        ({"last": "26-1x"}, "validation_error"),
        ({"first": "2026-11", "last": "2026-10"}, "period_out_of_range"),
        ({"first": "2000-01", "last": "2026-10"}, "period_out_of_range"),
        ({"source": "duck"}, "validation_error"),
        ({"region": "52a"}, "validation_error"),
    ):
        r = other.get("/api/v1/impact/rollup", params)
        assert r.status_code == 422 and r.json()["code"] == code, params


def test_a_range_inside_a_month_filters_the_days(sold, tmp_path):
    """Whole months are chosen by partition alone; a range that starts on D2 (6 October)
    must still drop D1's parcels from October's partition."""
    from tests.impact.conftest import D2

    columnar.snapshot_write(root=tmp_path)
    end = dt.date(2026, 11, 1)
    part = columnar.rollup_columnar(scope=NATIONAL, first=D2, end=end, root=tmp_path)
    assert part == columnar.rollup_database(scope=NATIONAL, first=D2, end=end)
    cells = {(r.county_code, r.month): r.parcels for r in part}
    # 水城区 in October: 6 in the whole month, 3 from D2 on; 六枝特区's 4 were all on D1
    assert cells[("520204", "2026-10")] == 3 and ("520203", "2026-10") not in cells


def test_a_parcel_that_never_reached_a_station_is_not_counted(sold, tmp_path):
    """Filed under the month it was received (it has no station day), it must not count
    in a whole-month rollup, as in the database's."""
    from cunzhan.logistics import services as logistics_services
    from tests.factories.impact import local

    logistics_services.manifest_intake(
        scope=NATIONAL,
        carrier_code="ZTO",
        rows=[
            {
                "tracking_number": "IMPNOSTATION",
                "recipient_name": "收件人",
                "phone": "13900001234",
                "village_code": V1,
                "weight_g": 700,
                "size_class": "S",
            }
        ],
    )
    logistics_services.scan_events_record(
        scope=NATIONAL,
        events=[
            {
                "event_id": "nostation-1",
                "carrier": "ZTO",
                "tracking_number": "IMPNOSTATION",
                "type": "received_at_county",
                "occurred_at": local(D1, 5),
                "station_code": "",
            }
        ],
    )
    columnar.snapshot_write(root=tmp_path)
    end = month_end()
    duck = columnar.rollup_columnar(scope=NATIONAL, first=FIRST, end=end, root=tmp_path)
    assert duck == columnar.rollup_database(scope=NATIONAL, first=FIRST, end=end)
    oct_ = {(r.county_code, r.month): r for r in duck}[("520204", "2026-10")]
    assert (oct_.parcels, oct_.weight_g) == (6, 3000)


def test_rollup_api_of_the_whole_country(sold, snapshot_dir, make_user, api_client):
    admin = api_client(make_user(Role.NETWORK_ADMIN))
    q = {"first": "2026-09", "last": timezone.localdate().strftime("%Y-%m")}
    whole = admin.get("/api/v1/impact/rollup", q).json()["rows"]
    for source in ("database", ""):
        if not source:
            columnar.snapshot_write()
        r = admin.get("/api/v1/impact/rollup", {**q, "region": "CN", "source": source})
        assert r.status_code == 200, r.content
        assert r.json()["rows"] == whole and _cells(whole) == expected_cells()
