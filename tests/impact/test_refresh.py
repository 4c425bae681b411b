"""Stored values against hand-computed fixtures, tree sums, the incremental refresh."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cunzhan.core.errors import ApplicationError
from cunzhan.impact.models import Indicator, IndicatorValue
from cunzhan.impact.services import indicator_define, indicators_refresh
from tests.factories.impact import deliver
from tests.impact.conftest import D1, D2, D3, OUT_V, TODAY, V1, V2


def cell(code: str, region: str, period_type: str, start: dt.date):
    v = IndicatorValue.objects.filter(
        indicator__code=code, region_code=region, period_type=period_type, period_start=start
    ).first()
    return (v.numerator, v.denominator, v.value) if v else None


def all_cells() -> dict[tuple, tuple]:
    return {
        (v.indicator_id, v.region_code, v.period_type, v.period_start): (
            v.numerator,
            v.denominator,
        )
        for v in IndicatorValue.objects.all()
    }


def refresh_both(**kw):
    for county in ("520204", "520203"):
        indicators_refresh(county_code=county, today=TODAY, **kw)


def test_values_match_the_hand_computed_fixture(small):
    refresh_both(since=dt.date(2026, 10, 1))
    # parcels down per day
    assert cell("parcels_down", V1, "day", D1)[0] == 3
    assert cell("parcels_down", V1, "day", D2)[0] == 1
    assert cell("parcels_down", V2, "day", D2)[0] == 2
    assert cell("parcels_down", "520204106", "day", D2)[0] == 3
    assert cell("parcels_down", "520204", "day", D1)[0] == 3
    # the week of D1 (Mon 5 Oct) holds D1 and D2; October holds both; D3 is November
    assert cell("parcels_down", "520204", "week", D1)[0] == 6
    assert cell("parcels_down", "520204", "month", dt.date(2026, 10, 1))[0] == 6
    assert cell("parcels_down", "520204", "month", dt.date(2026, 11, 1))[0] == 1
    assert cell("parcels_down", "520204", "quarter", dt.date(2026, 10, 1))[0] == 7
    # above the county: the other county's 4 parcels of D1 join at the prefecture
    assert cell("parcels_down", "5202", "day", D1)[0] == 7
    assert cell("parcels_down", "52", "year", dt.date(2026, 1, 1))[0] == 11
    assert cell("parcels_down", "", "year", dt.date(2026, 1, 1))[0] == 11
    # ratios: numerator and denominator apart, value = num * 100 / den
    assert cell("pickup_rate", V1, "day", D1) == (2, 3, pytest.approx(200 / 3))
    # V1 in October: picked up 2 (D1); down 4 -> 50 %
    assert cell("pickup_rate", V1, "month", dt.date(2026, 10, 1)) == (2, 4, 50.0)
    # county October: picked up 2 + 1 (B1) of 6 down
    assert cell("pickup_rate", "520204", "month", dt.date(2026, 10, 1)) == (3, 6, 50.0)
    # unclaimed: A3 due back on D2; October 1 of 6
    assert cell("unclaimed_rate", "520204", "month", dt.date(2026, 10, 1)) == (
        1,
        6,
        pytest.approx(100 / 6),
    )
    # a day with picked-up parcels and none down: a ratio without a value
    assert cell("pickup_rate", V1, "day", D3) == (1, 0, None)
    # nothing stored for empty cells
    assert cell("parcels_down", V2, "day", D1) is None
    # stock: active village stations, snapshot in the periods that hold today
    assert cell("village_stations_active", "520204", "month", dt.date(2026, 11, 1))[0] == 2
    assert cell("village_stations_active", "5202", "year", dt.date(2026, 1, 1))[0] == 3
    assert cell("village_stations_active", "520204", "day", TODAY) is None  # monthly only


def test_a_ratio_parent_is_never_an_average_of_ratios(small):
    refresh_both(since=dt.date(2026, 10, 1))
    q4 = dt.date(2026, 10, 1)
    v1 = cell("pickup_rate", V1, "quarter", q4)  # 3 of 4
    v2 = cell("pickup_rate", V2, "quarter", q4)  # 1 of 3
    township = cell("pickup_rate", "520204106", "quarter", q4)  # 4 of 7
    assert township[0] == v1[0] + v2[0] and township[1] == v1[1] + v2[1]
    assert township[2] == pytest.approx(township[0] * 100 / township[1])
    assert (v1[:2], v2[:2], township[:2]) == ((3, 4), (1, 3), (4, 7))
    assert township[2] != pytest.approx((v1[2] + v2[2]) / 2)


def _assert_tree_sums() -> None:
    """Every stored parent equals the sum of its stored children (numerator and
    denominator), for every indicator, period type and period."""
    cells = all_cells()
    parents: dict[tuple, list[int]] = {}
    child_len = {"": 2, "52": 4, "53": 4}
    for (ind, code, pt, ps), (num, den) in cells.items():
        if not code:
            continue
        parent = {2: "", 4: code[:2], 6: code[:4], 9: code[:6], 12: code[:9]}[len(code)]
        acc = parents.setdefault((ind, parent, pt, ps), [0, 0])
        acc[0] += num
        acc[1] += den or 0
    assert parents
    for key, (num, den) in parents.items():
        num_p, den_p = cells[key]
        assert (num_p, den_p or 0) == (num, den), key
    del child_len


def test_every_parent_is_the_sum_of_its_children(small):
    refresh_both(since=dt.date(2026, 10, 1))
    _assert_tree_sums()


@settings(max_examples=8, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    plan=st.lists(
        st.tuples(st.sampled_from([V1, V2, OUT_V]), st.integers(0, 40), st.booleans()),
        min_size=1,
        max_size=6,
    )
)
@pytest.mark.django_db(transaction=False)
def test_tree_sums_hold_for_any_activity(regions_once, plan):
    """Property: whatever parcels arrive where and when, parents = sum of children."""
    from django.db import transaction

    sid = transaction.savepoint()
    try:
        stations = regions_once
        for i, (village, offset, picked) in enumerate(plan):
            deliver(
                f"H{i}",
                village=village,
                station_code=stations[village],
                day=D1 + dt.timedelta(days=offset),
                then="picked_up" if picked else "",
            )
        refresh_both(since=dt.date(2026, 10, 1))
        _assert_tree_sums()
        expected = len(plan)
        assert cell("parcels_down", "", "year", dt.date(2026, 1, 1))[0] == expected
    finally:
        transaction.savepoint_rollback(sid)


@pytest.fixture
def regions_once(regions):
    from cunzhan.network.models import StationStatus
    from tests.factories.stations import make_station

    return {v: make_station(v, StationStatus.ACTIVE).code for v in (V1, V2, OUT_V)}


def test_a_late_event_changes_exactly_the_affected_cells(small):
    from django.utils import timezone

    from cunzhan.logistics.models import ScanEvent

    # the fixture's events were recorded an hour before the first refresh
    ScanEvent.objects.update(recorded_at=timezone.now() - dt.timedelta(hours=1))
    refresh_both(since=dt.date(2026, 10, 1))
    before = all_cells()
    # a parcel scanned at V2 on D1 arrives late; the next refresh is incremental
    deliver("LATE", village=V2, station_code=small["s2"].code, day=D1)
    result = indicators_refresh(county_code="520204", today=TODAY)
    after = all_cells()
    changed = {k for k in before.keys() | after.keys() if before.get(k) != after.get(k)}
    ids = {i.code: i.pk for i in Indicator.objects.all()}
    periods = {
        "day": D1,
        "week": D1,
        "month": dt.date(2026, 10, 1),
        "quarter": dt.date(2026, 10, 1),
        "year": dt.date(2026, 1, 1),
    }
    regions = [V2, "520204106", "520204", "5202", "52", ""]
    expected = {
        (ids[code], r, pt, ps)
        # the late parcel was received at the county and reached V2 the same day: it
        # also counts in the on-time rate
        for code in ("parcels_down", "pickup_rate", "unclaimed_rate", "on_time_rate")
        for r in regions
        for pt, ps in periods.items()
    }
    assert changed == expected
    assert after[(ids["parcels_down"], V2, "day", D1)] == (1, None)
    assert after[(ids["parcels_down"], "5202", "day", D1)] == (8, None)
    # only the periods holding D1 were recomputed (5 per flow indicator)
    assert result.periods["parcels_down"] == 5
    # nothing new since (the late event now an hour old too): the next refresh
    # recomputes no flow period, and a recomputation inside the margin changes nothing
    ScanEvent.objects.update(recorded_at=timezone.now() - dt.timedelta(hours=1))
    again = indicators_refresh(county_code="520204", today=TODAY)
    assert again.periods.get("parcels_down", 0) == 0
    assert all_cells() == after


def test_unknown_data_source_is_refused(db):
    with pytest.raises(ApplicationError) as exc:
        indicator_define(
            code="bad", name_zh="坏", name_en="Bad", numerator="orders.sales_fen", period_type="day"
        )
    assert exc.value.code == "unknown_data_source"
    assert "orders.sales_fen" in exc.value.message
    assert not Indicator.objects.filter(code="bad").exists()


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"period_type": "fortnight"}, "invalid_period"),
        ({"denominator": "network.stations_active.village_station"}, "mixed_source_kinds"),
        ({"factor": 0}, "invalid_factor"),
        (
            {"legend": [{"min": 5, "color": "#ffffff"}, {"min": 1, "color": "#000000"}]},
            "invalid_legend",
        ),
        ({"legend": [{"min": 0, "color": "red"}]}, "invalid_legend"),
    ],
)
def test_bad_definitions_are_refused(db, kwargs, code):
    base = {
        "code": "probe",
        "name_zh": "探针",
        "name_en": "Probe",
        "numerator": "logistics.parcels_down",
        "period_type": "day",
    }
    with pytest.raises(ApplicationError) as exc:
        indicator_define(**{**base, **kwargs})
    assert exc.value.code == code
    assert not Indicator.objects.filter(code="probe").exists()


def test_a_new_indicator_over_registered_sources_is_computed(small):
    indicator_define(
        code="return_share",
        name_zh="退回占比",
        name_en="Return share",
        numerator="logistics.parcels_unclaimed",
        denominator="logistics.parcels_picked_up",
        factor=100,
        period_type="month",
    )
    indicators_refresh(county_code="520204", today=TODAY, since=dt.date(2026, 10, 1))
    assert cell("return_share", "520204", "month", dt.date(2026, 10, 1)) == (
        1,
        3,
        pytest.approx(100 / 3),
    )
    assert cell("return_share", "520204", "day", D1) is None  # monthly: no day cells


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"county_code": "5202"}, "invalid_county"),
        ({"county_code": "520299"}, "unknown_county"),
        ({"county_code": "520204", "since": dt.date(1999, 1, 1)}, "period_out_of_range"),
        ({"county_code": "520204", "since": dt.date(2026, 12, 1)}, "period_out_of_range"),
    ],
)
def test_refresh_bad_input(regions, kwargs, code):
    with pytest.raises(ApplicationError) as exc:
        indicators_refresh(today=TODAY, **kwargs)
    assert exc.value.code == code
    assert not IndicatorValue.objects.exists()


def test_refresh_command(small, capsys):
    from django.core.management import call_command
    from django.core.management.base import CommandError

    call_command("indicators_refresh", "--county", "520204", "--since", "2026-10-01")
    assert "cells written" in capsys.readouterr().out
    assert IndicatorValue.objects.filter(region_code="520204").exists()
    with pytest.raises(CommandError, match="since"):
        call_command("indicators_refresh", "--county", "520204", "--since", "yesterday")
    with pytest.raises(CommandError, match="unknown county"):
        call_command("indicators_refresh", "--county", "520299")


def test_income_of_registered_households_per_year(regions):
    """Yearly income (fen) of registered households only; the e-commerce share is a
    ratio of two sums; a drill-down adds up to the stored amount."""
    from cunzhan.core.scope import RegionScope
    from cunzhan.impact import selectors
    from cunzhan.registry import services as reg

    national = RegionScope.national()
    poor = reg.household_create(scope=national, village_code=V1, address="1组")
    reg.poverty_register(household=poor, year_registered=2014, main_cause="illness")
    other = reg.household_create(scope=national, village_code=V2, address="2组")
    reg.income_record_set(household=poor, year=2025, source="farming", amount_fen=600_000)
    reg.income_record_set(
        household=poor, year=2025, source="business_ecommerce", amount_fen=200_000
    )
    reg.income_record_set(household=other, year=2025, source="wages", amount_fen=999_900)
    indicators_refresh(county_code="520204", today=TODAY, since=dt.date(2025, 1, 1))
    y = dt.date(2025, 1, 1)
    assert cell("poor_income_fen", V1, "year", y)[0] == 800_000
    assert cell("poor_income_fen", "520204", "year", y)[0] == 800_000  # not the other one
    assert cell("poor_income_ecommerce_share", "520204", "year", y) == (200_000, 800_000, 25.0)
    ind = Indicator.objects.get(code="poor_income_fen")
    out = selectors.drilldown(
        user=SimpleNamespace(can=lambda perm: True, is_authenticated=False),
        scope=RegionScope.for_regions(["520204"]),
        indicator=ind,
        region_code="520204",
        period_type="year",
        period_start=y,
    )
    assert out["total"] == 800_000 and len(out["rows"]) == 2
