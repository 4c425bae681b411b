"""Online sales (all, poverty counties, registered-poor households), poverty counties
over a yearly sales threshold, on-time delivery and households exited: stored values
against hand-computed fixtures, drill-down totals equal to the numbers, tree sums."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import pytest

from cunzhan.core.errors import ApplicationError
from cunzhan.core.scope import RegionScope
from cunzhan.impact import selectors
from cunzhan.impact.models import Indicator, IndicatorValue
from cunzhan.impact.services import indicator_define, indicators_refresh
from cunzhan.network.models import Region, StationStatus
from tests.factories.impact import local
from tests.impact.conftest import D1, D2, OUT_V, TODAY, V1, V2
from tests.impact.test_refresh import _assert_tree_sums, cell

NATIONAL = RegionScope.national()
OCT = dt.date(2026, 10, 1)
Y2026 = dt.date(2026, 1, 1)


def refresh_both(since: dt.date = OCT, codes: list[str] | None = None) -> None:
    for county in ("520204", "520203"):
        indicators_refresh(county_code=county, today=TODAY, since=since, indicator_codes=codes)


# a reader of the register (household rows are listed to such users only)
REGISTER_READER = SimpleNamespace(can=lambda perm: True, is_authenticated=False)


def drill(code: str, region: str, pt: str, ps: dt.date, scope=None, part="numerator"):
    return selectors.drilldown(
        user=REGISTER_READER,
        scope=scope or RegionScope.for_regions([region[:6]]),
        indicator=Indicator.objects.get(code=code),
        region_code=region,
        period_type=pt,
        period_start=ps,
        part=part,
    )


# --- online sales -----------------------------------------------------------------------------


@pytest.fixture
def sales(regions):
    """水城区 (kiwi at ¥12.00) and 六枝特区 (¥10.00), both poverty counties:

    A: a person's lot of 10 in V1 (oldest), B: a registered-poor household's lot of 10 in V1
    O1: 4 from A, delivered D1 09:00            -> V1 D1 4,800
    O2: 6 from A + 2 from B, delivered D2        -> V1 D2 7,200 + 2,400 (poor)
    O3: 3 from B, paid, not delivered            -> not a sale
    O4: 5 of 六枝's lot C in OUT_V, delivered D1 -> OUT_V D1 5,000
    """
    from cunzhan.registry import services as reg
    from tests.factories.commerce import make_producer, seed_catalogue
    from tests.factories.orders import deliver, graded_lot, kiwi_special_price, pay, place
    from tests.factories.stations import make_station

    kiwi = seed_catalogue()["kiwifruit-red"]
    kiwi_special_price(kiwi, "520204", 1200)
    kiwi_special_price(kiwi, "520203", 1000)
    s1 = make_station(V1, StationStatus.ACTIVE)
    s3 = make_station(OUT_V, StationStatus.ACTIVE)
    poor = reg.household_create(scope=NATIONAL, village_code=V1, address="1组")
    reg.poverty_register(household=poor, year_registered=2014, main_cause="illness")
    person = make_producer(s1, name="种植户甲")
    household = make_producer(s1, kind="household", name="建档户乙", household=poor)
    other = make_producer(s3, name="种植户丙")
    graded_lot(person, kiwi, quantity=10, days_ago=10)
    graded_lot(household, kiwi, quantity=10, days_ago=5)
    graded_lot(other, kiwi, quantity=10, days_ago=5)

    def delivered(county: str, qty: int, at: dt.datetime):
        order = place(county, qty)
        pay(order)
        return deliver(order, at=at)

    o1 = delivered("520204", 4, local(D1, 9))
    o2 = delivered("520204", 8, local(D2, 23))  # 23:00 local is D2, 15:00 UTC
    o3 = place("520204", 3)
    pay(o3)
    o4 = delivered("520203", 5, local(D1, 0))  # local midnight: D1 (16:00 UTC the day before)
    return {"o1": o1, "o2": o2, "o3": o3, "o4": o4, "household": poor}


def test_sales_match_the_hand_computed_fixture(sales):
    refresh_both()
    assert cell("online_sales_fen", V1, "day", D1)[0] == 4_800
    assert cell("online_sales_fen", V1, "day", D2)[0] == 9_600
    assert cell("online_sales_fen", OUT_V, "day", D1)[0] == 5_000
    assert cell("online_sales_fen", "520204", "month", OCT)[0] == 14_400
    assert cell("online_sales_fen", "5202", "day", D1)[0] == 9_800
    assert cell("online_sales_fen", "", "year", Y2026)[0] == 19_400
    # the registered-poor household's 2 units of O2 (O3 is not delivered)
    assert cell("online_sales_registered_poor_fen", V1, "day", D2)[0] == 2_400
    assert cell("online_sales_registered_poor_fen", V1, "day", D1) is None
    assert cell("online_sales_registered_poor_fen", "", "year", Y2026)[0] == 2_400
    # both test counties are poverty counties
    assert cell("online_sales_poverty_counties_fen", "5202", "year", Y2026)[0] == 19_400
    _assert_tree_sums()


def test_sales_of_poverty_counties_only(sales):
    Region.objects.filter(code="520203").update(is_poverty_county=False)
    refresh_both()
    assert cell("online_sales_poverty_counties_fen", "5202", "year", Y2026)[0] == 14_400
    assert cell("online_sales_poverty_counties_fen", OUT_V, "day", D1) is None
    assert cell("online_sales_fen", "5202", "year", Y2026)[0] == 19_400


def test_registered_poor_sales_count_their_households(sales):
    refresh_both()
    v = IndicatorValue.objects.get(
        indicator__code="online_sales_registered_poor_fen",
        region_code="520204",
        period_type="month",
        period_start=OCT,
    )
    assert v.households == 1
    # a source not over households stores no household count
    v = IndicatorValue.objects.get(
        indicator__code="online_sales_fen",
        region_code="520204",
        period_type="month",
        period_start=OCT,
    )
    assert v.households is None


@pytest.mark.parametrize(
    "code,region,pt,ps,total",
    [
        ("online_sales_fen", "520204", "month", OCT, 14_400),
        ("online_sales_fen", V1, "day", D2, 9_600),
        ("online_sales_registered_poor_fen", "520204", "year", Y2026, 2_400),
        ("online_sales_poverty_counties_fen", "520203", "day", D1, 5_000),
    ],
)
def test_sales_drilldown_equals_the_indicator(sales, code, region, pt, ps, total):
    refresh_both()
    out = drill(code, region, pt, ps)
    assert out["total"] == total == cell(code, region, pt, ps)[0]
    # an order number and the lot, never the buyer
    html = repr(out["rows"])
    assert "李买家" not in html and "13900001111" not in html and "建档户乙" not in html


def test_a_county_user_sees_only_its_sales_rows(sales):
    refresh_both()
    from cunzhan.core.errors import NotFound

    mine = RegionScope.for_regions(["520204"])
    out = drill("online_sales_fen", "520204", "day", D1, scope=mine)
    assert out["total"] == 4_800
    assert {r["region_code"] for r in out["rows"]} == {V1}
    with pytest.raises(NotFound):
        drill("online_sales_fen", "520203", "day", D1, scope=mine)


def test_a_late_return_rewrites_the_delivery_day(sales):
    from django.utils import timezone

    from cunzhan.commerce import orders as order_services
    from cunzhan.commerce.orders_models import Order, OrderAllocation

    refresh_both()
    # the first refresh's watermark lies an hour back; the return comes after it
    from cunzhan.impact.models import IndicatorRefresh

    IndicatorRefresh.objects.update(started_at=timezone.now() - dt.timedelta(hours=1))
    OrderAllocation.objects.update(updated_at=timezone.now() - dt.timedelta(hours=2))
    Order.objects.update(updated_at=timezone.now() - dt.timedelta(hours=2))
    order_services.order_return(scope=NATIONAL, order=sales["o2"], amount_fen=1_000)
    result = indicators_refresh(county_code="520204", today=TODAY)
    assert cell("online_sales_fen", V1, "day", D2)[0] == 8_600
    assert cell("online_sales_fen", V1, "day", D1)[0] == 4_800
    assert cell("online_sales_fen", "", "year", Y2026)[0] == 18_400
    # the return's 1,000 came off the first allocation (the person's lot A)
    assert cell("online_sales_registered_poor_fen", V1, "day", D2)[0] == 2_400
    # only the five periods holding D2 were recomputed
    assert result.periods["online_sales_fen"] == 5
    assert drill("online_sales_fen", V1, "day", D2)["total"] == 8_600
    _assert_tree_sums()


# --- poverty counties with a year's sales over a threshold --------------------------------------


def test_counties_over_the_threshold(sales):
    """The threshold is lowered in the test (¥100M in the indicator): 水城区 sold 14,400
    fen in 2026, 六枝特区 5,000."""
    Indicator.objects.filter(code="poverty_counties_sales_over_100m").update(threshold=10_000)
    refresh_both()
    code = "poverty_counties_sales_over_100m"
    assert cell(code, "520204", "year", Y2026)[0] == 1
    assert cell(code, "520203", "year", Y2026) is None
    assert cell(code, "5202", "year", Y2026)[0] == 1
    assert cell(code, "52", "year", Y2026)[0] == 1
    assert cell(code, "", "year", Y2026)[0] == 1
    assert cell(code, V1, "year", Y2026) is None  # counted at county level and up only
    out = drill(code, "5202", "year", Y2026, scope=NATIONAL)
    assert out["total"] == 1 and [r["region_code"] for r in out["rows"]] == ["520204"]
    # both counties reach 5,000; the prefecture counts 2 (the sum of its counties)
    Indicator.objects.filter(code=code).update(threshold=5_000)
    refresh_both()
    assert cell(code, "5202", "year", Y2026)[0] == 2
    assert cell(code, "", "year", Y2026)[0] == 2
    assert drill(code, "5202", "year", Y2026, scope=NATIONAL)["total"] == 2
    # a county's own drill-down lists only itself
    assert drill(code, "520204", "year", Y2026)["total"] == 1
    _assert_tree_sums()


def test_a_partial_refresh_keeps_count_over_with_its_base(sales):
    """Refreshing only the base recounts the counties over the threshold, and asking
    for the count alone recomputes its base first."""
    code = "poverty_counties_sales_over_100m"
    refresh_both()
    assert cell(code, "5202", "year", Y2026) is None  # ¥100M: nobody
    Indicator.objects.filter(code=code).update(threshold=5_000)
    refresh_both(codes=["online_sales_poverty_counties_fen"])
    assert cell(code, "5202", "year", Y2026)[0] == 2
    Indicator.objects.filter(code=code).update(threshold=10_000)
    refresh_both(codes=[code])
    assert cell(code, "5202", "year", Y2026)[0] == 1


def test_a_non_poverty_county_is_not_counted(sales):
    Indicator.objects.filter(code="poverty_counties_sales_over_100m").update(threshold=5_000)
    Region.objects.filter(code="520203").update(is_poverty_county=False)
    refresh_both()
    assert cell("poverty_counties_sales_over_100m", "5202", "year", Y2026)[0] == 1


def test_the_real_threshold_is_100m_yuan(db):
    ind = Indicator.objects.get(code="poverty_counties_sales_over_100m")
    assert ind.threshold == 100_000_000 * 100 and ind.base == "online_sales_poverty_counties_fen"


def test_count_over_definitions_are_checked(db):
    with pytest.raises(ApplicationError) as exc:
        indicator_define(
            code="x",
            name_zh="x",
            name_en="x",
            numerator="",
            aggregation="count_over",
            base="nope",
            threshold=1,
            period_type="year",
        )
    assert exc.value.code == "unknown_indicator"
    with pytest.raises(ApplicationError) as exc:
        indicator_define(
            code="x",
            name_zh="x",
            name_en="x",
            numerator="",
            aggregation="count_over",
            base="online_sales_fen",
            threshold=-1,
            period_type="year",
        )
    assert exc.value.code == "invalid_threshold"
    with pytest.raises(ApplicationError) as exc:
        indicator_define(
            code="x", name_zh="x", name_en="x", numerator="commerce.sales_fen", aggregation="avg"
        )
    assert exc.value.code == "invalid_aggregation"
    ok = indicator_define(
        code="counties_sales_1m",
        name_zh="网络销售额过百万元的县",
        name_en="Counties with sales over ¥1M",
        numerator="",
        aggregation="count_over",
        base="online_sales_fen",
        threshold=100_000_000,
        period_type="year",
    )
    assert ok.numerator == "impact.counties_over" and ok.is_count_over


# --- on-time delivery ---------------------------------------------------------------------------


def _parcel(tn: str, village: str, station: str, received: dt.datetime, arrived: dt.datetime):
    from cunzhan.logistics import services as logistics_services

    tn = f"OT{tn}"
    logistics_services.manifest_intake(
        scope=NATIONAL,
        carrier_code="ZTO",
        rows=[
            {
                "tracking_number": tn,
                "recipient_name": "收件人",
                "phone": "13900001234",
                "village_code": village,
                "weight_g": 500,
                "size_class": "S",
            }
        ],
    )
    steps = [
        ("received_at_county", received),
        ("sorted", received + dt.timedelta(minutes=5)),
        ("loaded", received + dt.timedelta(minutes=10)),
        ("at_station", arrived),
    ]
    logistics_services.scan_events_record(
        scope=NATIONAL,
        events=[
            {
                "event_id": f"ot-{tn}-{i}",
                "carrier": "ZTO",
                "tracking_number": tn,
                "type": t,
                "occurred_at": at,
                "station_code": station if t == "at_station" else "",
            }
            for i, (t, at) in enumerate(steps)
        ],
    )


@pytest.fixture
def arrivals(regions):
    """Cut-off 07:00 (the default). V1: P1 received D1 06:00, at station D1 11:00 (on
    time); P2 received D1 09:00 (after the cut-off), at station D2 08:00 (on time: next
    day); P3 received D1 06:00, at station D2 10:00 (late). V2: P4 received D1 09:00, at
    station D3 (late, dated D3). OUT_V: P5 on time on D1."""
    from tests.factories.stations import make_station

    s1 = make_station(V1, StationStatus.ACTIVE).code
    s2 = make_station(V2, StationStatus.ACTIVE).code
    s3 = make_station(OUT_V, StationStatus.ACTIVE).code
    d3 = D2 + dt.timedelta(days=1)
    _parcel("P1", V1, s1, local(D1, 6), local(D1, 11))
    _parcel("P2", V1, s1, local(D1, 9), local(D2, 8))
    _parcel("P3", V1, s1, local(D1, 6), local(D2, 10))
    _parcel("P4", V2, s2, local(D1, 9), local(d3, 8))
    _parcel("P5", OUT_V, s3, local(D1, 6), local(D1, 12))
    return d3


def test_on_time_rate_matches_the_hand_computed_fixture(arrivals):
    refresh_both()
    assert cell("on_time_rate", V1, "day", D1) == (1, 1, 100.0)
    assert cell("on_time_rate", V1, "day", D2) == (1, 2, 50.0)
    assert cell("on_time_rate", V2, "day", arrivals) == (0, 1, 0.0)
    assert cell("on_time_rate", "520204", "week", D1) == (2, 4, 50.0)
    assert cell("on_time_rate", "5202", "month", OCT) == (3, 5, 60.0)
    _assert_tree_sums()
    on_time = drill("on_time_rate", "520204", "week", D1)
    measured = drill("on_time_rate", "520204", "week", D1, part="denominator")
    assert (on_time["total"], measured["total"]) == (2, 4)
    assert {r["label"] for r in on_time["rows"]} == {"ZTO OTP1", "ZTO OTP2"}


def test_on_time_follows_the_county_cut_off(arrivals):
    """With a 10:00 cut-off, P2 (received 09:00) was due the same day: late."""
    from cunzhan.logistics.models import CountyLogisticsSettings

    CountyLogisticsSettings.objects.create(county_id="520204", cutoff=dt.time(10, 0))
    refresh_both()
    assert cell("on_time_rate", V1, "day", D2) == (0, 2, 0.0)
    assert drill("on_time_rate", V1, "day", D2)["total"] == 0


# --- households exited --------------------------------------------------------------------------


@pytest.fixture
def exits(regions):
    from cunzhan.registry import services as reg

    plan = [(V1, 2025), (V1, 2025), (V1, 2024), (V1, None), (V2, 2025), (OUT_V, 2025)]
    out = []
    for i, (village, year) in enumerate(plan):
        hh = reg.household_create(scope=NATIONAL, village_code=village, address=f"{i}组")
        reg.poverty_register(
            household=hh, year_registered=2014, main_cause="illness", year_exited=year
        )
        out.append(hh)
    return out


def test_households_exited_per_year(exits):
    refresh_both(since=dt.date(2024, 1, 1), codes=["households_exited"])
    y25, y24 = dt.date(2025, 1, 1), dt.date(2024, 1, 1)
    assert cell("households_exited", V1, "year", y25)[0] == 2
    assert cell("households_exited", V2, "year", y25)[0] == 1
    assert cell("households_exited", "520204", "year", y25)[0] == 3
    assert cell("households_exited", "520204", "year", y24)[0] == 1
    assert cell("households_exited", "", "year", y25)[0] == 4
    v = IndicatorValue.objects.get(
        indicator__code="households_exited",
        region_code="5202",
        period_type="year",
        period_start=y25,
    )
    assert v.households == 4
    out = drill("households_exited", "520204", "year", y25)
    assert out["total"] == 3 and {r["detail"] for r in out["rows"]} == {"2014–2025"}
    _assert_tree_sums()


def test_a_late_exit_is_picked_up(exits):
    from django.utils import timezone

    from cunzhan.impact.models import IndicatorRefresh
    from cunzhan.registry import services as reg
    from cunzhan.registry.models import PovertyRegistration

    refresh_both(since=dt.date(2024, 1, 1), codes=["households_exited"])
    IndicatorRefresh.objects.update(started_at=timezone.now() - dt.timedelta(hours=1))
    PovertyRegistration.objects.update(updated_at=timezone.now() - dt.timedelta(hours=2))
    reg.poverty_exit(household=exits[3], year_exited=2025)
    indicators_refresh(county_code="520204", today=TODAY, indicator_codes=["households_exited"])
    assert cell("households_exited", V1, "year", dt.date(2025, 1, 1))[0] == 3
    assert cell("households_exited", "", "year", dt.date(2025, 1, 1))[0] == 5


def test_every_built_in_of_the_issue_has_an_indicator(db):
    """Issue 5 §1's built-ins."""
    sources = set(Indicator.objects.values_list("numerator", flat=True))
    for key in (
        "commerce.sales_fen",
        "commerce.sales_fen.poverty_counties",
        "commerce.sales_fen.registered_poor",
        "impact.counties_over",
        "logistics.parcels_down",
        "logistics.shipments_up",
        "network.stations_active.village_station",
        "network.stations_active.township_depot",
        "network.stations_active.county_centre",
        "impact.jobs_all",
        "network.station_helpers",
        "accounts.jobs.station_operator",
        "accounts.jobs.driver",
        "logistics.parcels_on_time",
        "logistics.parcels_unclaimed",
        "registry.income_fen",
        "registry.households_exited",
        "impact.households_at_risk",
    ):
        assert key in sources, key
