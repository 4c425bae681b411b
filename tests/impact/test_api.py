"""The impact API: series, children, drill-down totals equal to the stored numbers,
scope, bad input."""

from __future__ import annotations

import datetime as dt

import pytest

from cunzhan.accounts.roles import Role
from cunzhan.impact.services import indicators_refresh
from tests.impact.conftest import D1, D2, TODAY, V1, V2

API = "/api/v1/impact"


@pytest.fixture
def refreshed(small):
    for county in ("520204", "520203"):
        indicators_refresh(county_code=county, today=TODAY, since=dt.date(2026, 10, 1))
    return small


@pytest.fixture
def manager(make_user, api_client):
    return api_client(make_user(Role.COUNTY_MANAGER, regions=["520204"]))


def test_indicators_are_listed(refreshed, manager):
    r = manager.get(f"{API}/indicators")
    assert r.status_code == 200
    codes = [i["code"] for i in r.json()]
    assert codes[:4] == ["parcels_down", "parcels_picked_up", "pickup_rate", "unclaimed_rate"]
    rate = next(i for i in r.json() if i["code"] == "pickup_rate")
    assert rate["denominator"] == "logistics.parcels_down" and rate["factor"] == 100


def test_series_fills_empty_periods_with_zero(refreshed, manager):
    r = manager.get(
        f"{API}/indicators/parcels_down/regions/520204/values",
        {"period_type": "day", "start": "2026-10-04", "end": "2026-10-07"},
    )
    assert r.status_code == 200, r.content
    body = r.json()
    assert body["region"]["name"] == "水城区"
    assert [(c["period_start"], c["numerator"]) for c in body["cells"]] == [
        ("2026-10-04", 0),
        ("2026-10-05", 3),
        ("2026-10-06", 3),
        ("2026-10-07", 0),
    ]


def test_children_of_a_township(refreshed, manager):
    r = manager.get(
        f"{API}/indicators/pickup_rate/regions/520204106/children",
        {"period_type": "month", "period_start": "2026-10-01"},
    )
    assert r.status_code == 200, r.content
    cells = {c["region_code"]: c for c in r.json()["children"]}
    assert (cells[V1]["numerator"], cells[V1]["denominator"], cells[V1]["value"]) == (2, 4, 50.0)
    assert (cells[V2]["numerator"], cells[V2]["denominator"]) == (1, 2)


@pytest.mark.parametrize(
    ("code", "indicator", "period_type", "start"),
    [
        ("520204", "parcels_down", "day", D1),
        ("520204106", "parcels_down", "week", D1),
        (V2, "parcels_down", "day", D2),
        ("520204", "pickup_rate", "month", dt.date(2026, 10, 1)),
        ("520204", "unclaimed_rate", "quarter", dt.date(2026, 10, 1)),
        ("520204", "village_stations_active", "month", dt.date(2026, 11, 1)),
    ],
)
def test_drilldown_total_equals_the_stored_number(
    refreshed, manager, code, indicator, period_type, start
):
    values = manager.get(
        f"{API}/indicators/{indicator}/regions/{code}/values",
        {"period_type": period_type, "start": start, "end": start},
    ).json()["cells"][0]
    rows = manager.get(
        f"{API}/indicators/{indicator}/regions/{code}/rows",
        {"period_type": period_type, "period_start": start},
    )
    assert rows.status_code == 200, rows.content
    body = rows.json()
    assert body["total"] == values["numerator"] == len(body["rows"])
    assert body["total"] > 0
    assert all(r["region_code"].startswith(code) for r in body["rows"])
    if values["denominator"] is not None:
        den = manager.get(
            f"{API}/indicators/{indicator}/regions/{code}/rows",
            {"period_type": period_type, "period_start": start, "part": "denominator"},
        ).json()
        assert den["total"] == values["denominator"]


def test_drilldown_shows_no_personal_data(refreshed, manager):
    body = manager.get(
        f"{API}/indicators/parcels_down/regions/520204/rows",
        {"period_type": "day", "period_start": D1},
    ).content.decode()
    assert "收件人" not in body and "13900001234" not in body
    assert "IMPA1" in body


def test_a_county_user_never_sees_another_county(refreshed, manager):
    for path in ("values", "children", "rows"):
        r = manager.get(f"{API}/indicators/parcels_down/regions/520203/{path}")
        assert r.status_code == 404
        assert "IMPC" not in r.content.decode()
    # the prefecture is above the county's scope: not visible either
    assert manager.get(f"{API}/indicators/parcels_down/regions/5202/values").status_code == 404


def test_roles_without_the_permission_are_refused(refreshed, make_user, api_client):
    driver = api_client(make_user(Role.DRIVER, regions=["520204"]))
    r = driver.get(f"{API}/indicators")
    assert r.status_code == 403 and r.json()["code"] == "permission_denied"


@pytest.mark.parametrize(
    ("path", "query", "code"),
    [
        # values the published schema refuses
        ("values", {"period_type": "fortnight"}, "validation_error"),
        ("values", {"start": "1990-01-01", "end": "1990-02-01"}, "validation_error"),
        (
            "rows",
            {"period_type": "day", "period_start": "2026-10-05", "part": "x"},
            "validation_error",
        ),
        # rules the schema cannot state
        ("values", {"start": "2026-10-07", "end": "2026-10-01"}, "period_out_of_range"),
        ("values", {"start": "2000-01-01", "end": "2026-10-01"}, "period_out_of_range"),
        ("children", {"period_type": "month", "period_start": "2026-10-05"}, "period_not_aligned"),
        (
            "rows",
            {"period_type": "day", "period_start": "2026-10-05", "part": "denominator"},
            "invalid_part",
        ),
    ],
)
def test_bad_input_is_a_clear_error(refreshed, manager, path, query, code):
    r = manager.get(f"{API}/indicators/parcels_down/regions/520204/{path}", query)
    assert r.status_code == 422, r.content
    assert r.json()["code"] == code
    assert r.json()["message"]


def test_stock_indicator_has_no_day_series(refreshed, manager):
    r = manager.get(
        f"{API}/indicators/village_stations_active/regions/520204/values", {"period_type": "day"}
    )
    assert r.status_code == 422 and r.json()["code"] == "invalid_period"


def test_unknown_indicator_and_region(refreshed, manager):
    assert manager.get(f"{API}/indicators/nope/regions/520204/values").status_code == 404
    r = manager.get(f"{API}/indicators/parcels_down/regions/52x/values")
    assert r.status_code == 422 and r.json()["code"] == "validation_error"


def test_jobs_count_operators_and_drivers_without_names(refreshed, make_user, manager):
    """Stock: the snapshot of who works the county's stations and vans, drill-down
    without names."""
    make_user(Role.STATION_OPERATOR, stations=[refreshed["s1"].pk], username="op-ada")
    make_user(Role.DRIVER, regions=["520204"], username="drv-bob")
    make_user(Role.DRIVER, regions=["520203"], username="drv-out")
    indicators_refresh(county_code="520204", today=dt.date.today(), indicator_codes=["jobs"])
    values = manager.get(
        f"{API}/indicators/jobs/regions/520204/values", {"period_type": "month"}
    ).json()["cells"][-1]
    rows = manager.get(f"{API}/indicators/jobs/regions/520204/rows", {"period_type": "month"})
    # the operators created when s1 and s2 were activated, ada and bob; not drv-out
    assert values["numerator"] == 4
    assert rows.json()["total"] == 4
    assert {r["label"] for r in rows.json()["rows"]} == {"station_operator", "driver"}
    assert "ada" not in rows.content.decode() and "bob" not in rows.content.decode()


def test_jobs_count_operators_drivers_and_helpers(refreshed, make_user, manager):
    """2 operators (s1, s2) + 1 driver + 3 helpers of which 1 ended = 5 jobs in 水城区,
    2 of them helpers; a helper in 六枝特区 is not counted; the drill-down counts the
    same rows, without names or phones."""
    from django.utils import timezone

    from cunzhan.core.scope import RegionScope
    from cunzhan.network.services import station_helper_add, station_helper_end

    today = timezone.localdate()
    national = RegionScope.national()

    def helper(station, name):
        return station_helper_add(
            scope=national,
            station=station,
            name=name,
            phone="13900005555",
            started_on=today - dt.timedelta(days=40),
        )

    helper(refreshed["s1"], "帮手甲")
    gone = helper(refreshed["s1"], "帮手乙")
    station_helper_end(scope=national, helper=gone, ended_on=today - dt.timedelta(days=3))
    helper(refreshed["s2"], "帮手丙")
    helper(refreshed["s3"], "帮手外")  # 六枝特区
    make_user(Role.DRIVER, regions=["520204"], username="drv-bob")
    codes = ["jobs", "jobs_station_helpers", "jobs_station_operators", "jobs_drivers"]
    indicators_refresh(county_code="520204", today=today, indicator_codes=codes)

    def number(code, region="520204"):
        cells = manager.get(
            f"{API}/indicators/{code}/regions/{region}/values", {"period_type": "month"}
        ).json()["cells"]
        return cells[-1]["numerator"]

    def rows(code, region="520204"):
        r = manager.get(f"{API}/indicators/{code}/regions/{region}/rows", {"period_type": "month"})
        assert r.status_code == 200, r.content
        return r

    assert number("jobs_station_operators") == 2 and number("jobs_drivers") == 1
    assert number("jobs_station_helpers") == 2
    assert number("jobs") == 5
    assert number("jobs", V1) == 2  # s1's operator and its one working helper
    assert number("jobs", V2) == 2
    everything = rows("jobs")
    assert everything.json()["total"] == 5 == len(everything.json()["rows"])
    labels = sorted(r["label"] for r in everything.json()["rows"])
    assert labels == ["driver", "helper", "helper", "station_operator", "station_operator"]
    helpers = rows("jobs_station_helpers").json()
    assert helpers["total"] == 2
    assert sorted(r["detail"] for r in helpers["rows"]) == sorted(
        [refreshed["s1"].code, refreshed["s2"].code]
    )
    text = everything.content.decode() + rows("jobs_station_helpers").content.decode()
    assert "帮手" not in text and "13900005555" not in text and "bob" not in text


def test_the_whole_country_is_region_cn_for_a_national_scope(refreshed, make_user, api_client):
    admin = api_client(make_user(Role.NETWORK_ADMIN))
    q = {"period_type": "day", "start": D1.isoformat(), "end": D1.isoformat()}
    r = admin.get(f"{API}/indicators/parcels_down/regions/CN/values", q)
    assert r.status_code == 200
    body = r.json()
    assert body["region"] == {"code": "CN", "name": "全国", "level": 0}
    assert [c["numerator"] for c in body["cells"]] == [7]  # 3 in 水城区 + 4 in 六枝特区
    kids = admin.get(
        f"{API}/indicators/parcels_down/regions/CN/children",
        {"period_type": "day", "period_start": D1.isoformat()},
    ).json()["children"]
    assert {c["region_code"]: c["numerator"] for c in kids}["52"] == 7
    rows = admin.get(
        f"{API}/indicators/parcels_down/regions/CN/rows",
        {"period_type": "day", "period_start": D1.isoformat()},
    ).json()
    assert rows["total"] == 7 == len(rows["rows"])


def test_region_cn_is_not_found_below_a_national_scope(refreshed, manager):
    r = manager.get(f"{API}/indicators/parcels_down/regions/CN/values")
    assert r.status_code == 404
