"""Relapse-risk monitoring (ADR 0019): the rules at their boundaries against
hand-computed figures, the signal hooks, the scan's idempotency, the follow-up's
transitions and audit rows, and the indicator over the open cases."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from cunzhan.accounts.roles import Role
from cunzhan.core.errors import ApplicationError
from cunzhan.core.models import AuditEvent
from cunzhan.core.scope import RegionScope
from cunzhan.impact import risk
from cunzhan.impact.risk import Hit, RiskConfig
from cunzhan.impact.risk_models import CaseStatus, MonitoringLine, RiskCase, RiskCaseEvent
from cunzhan.registry import services as registry
from tests.factories.registry import make_household, make_person

V1 = "520204106201"
V2 = "520204106202"
OUT_V = "520203101201"
YEAR = 2023
LINE_2023 = 690_000  # fen per person and year, data/monitoring_lines.json
NATIONAL = RegionScope.national()


def household(village: str = V1, *, people: int = 2, registered: bool = True, exited=None):
    hh = make_household(village=village)
    for i in range(people):
        make_person(
            household=hh,
            name=f"成员{i}",
            relation="head" if i == 0 else "child",
            birth_year=1980 + i,
            with_id=False,
        )
    if registered:
        registry.poverty_register(
            household=hh, year_registered=2015, main_cause="illness", year_exited=exited
        )
    return hh


def income(hh, year: int, fen: int, source: str = "wages") -> None:
    registry.income_record_set(household=hh, year=year, source=source, amount_fen=fen)


def evaluations(year: int = YEAR, **kw):
    return {e.household_id: e for e in risk.risk_evaluate(county_code="520204", year=year, **kw)}


def codes(ev) -> set[str]:
    return {r["code"] for r in ev.reasons}


# --- the monitoring line ------------------------------------------------------------------


def test_the_lines_are_seeded_from_the_data_file(db):
    data = Path(__file__).resolve().parents[2] / "src/cunzhan/impact/data/monitoring_lines.json"
    lines = json.loads(data.read_text(encoding="utf-8"))["lines"]
    stored = {(m.year, m.region_prefix): m.amount_fen for m in MonitoringLine.objects.all()}
    assert stored == {(x["year"], x["region_prefix"]): x["amount_fen"] for x in lines}
    assert stored[(2023, "")] == LINE_2023
    assert stored[(2021, "")] == 600_000 and stored[(2024, "")] == 730_000


def test_a_province_line_overrides_the_national_one_and_years_carry_forward(regions):
    risk.monitoring_line_set(year=2023, region_prefix="52", amount_fen=700_000, source="test")
    assert risk.monitoring_line(year=2023, region_code=V1).amount_fen == 700_000
    assert risk.monitoring_line(year=2023, region_code="530102001001").amount_fen == LINE_2023
    MonitoringLine.objects.filter(year__gt=2024).delete()
    carried = risk.monitoring_line(year=2030, region_code="530102001001")
    assert (carried.year, carried.amount_fen) == (2024, 730_000)
    assert risk.monitoring_line(year=1999, region_code=V1) is None


# --- rule: income below the line ----------------------------------------------------------


def test_income_below_line_fires_one_fen_under_the_line_not_at_it(regions):
    at_line = household()
    income(at_line, YEAR, 2 * LINE_2023)  # 6,900.00 per person: not below
    under = household()
    income(under, YEAR, 2 * LINE_2023 - 2)  # 6,899.99 per person
    exited = household(exited=2019)
    income(exited, YEAR, LINE_2023 - 100)  # 2 people: 3,449.50 each
    no_data = household()  # no income record for the year: not evaluated
    income(no_data, YEAR - 1, 1)
    evs = evaluations()
    assert at_line.pk not in evs and no_data.pk not in evs
    reason = evs[under.pk].reasons[0]
    assert reason["code"] == "income_below_line"
    assert (reason["value"], reason["threshold"], reason["unit"]) == (
        LINE_2023 - 1,
        LINE_2023,
        "fen",
    )
    assert evs[under.pk].score == RiskConfig().score_below_line == 60
    assert evs[exited.pk].reasons[0]["value"] == (LINE_2023 - 100) // 2


def test_households_never_registered_are_not_evaluated(regions):
    plain = household(registered=False)
    income(plain, YEAR, 1)
    assert evaluations() == {}


# --- rule: a fall against last year -------------------------------------------------------


def test_income_fall_fires_above_the_share_not_at_it(regions):
    exactly = household(people=1)
    income(exactly, YEAR - 1, 2_000_000)
    income(exactly, YEAR, 1_600_000)  # -20.00 %: not more than 20 %
    more = household(people=1)
    income(more, YEAR - 1, 2_000_000)
    income(more, YEAR, 1_599_999)  # -20.00005 %
    no_last_year = household(people=1)
    income(no_last_year, YEAR, 1_000_000)
    evs = evaluations()
    assert exactly.pk not in evs and no_last_year.pk not in evs
    fall = evs[more.pk].reasons[0]
    assert fall["code"] == "income_fall" and fall["threshold"] == 0.2
    assert (fall["before_fen"], fall["now_fen"]) == (2_000_000, 1_599_999)
    assert evs[more.pk].score == 40
    # the share is a parameter
    evs = evaluations(config=RiskConfig(income_fall_bp=1000))
    assert exactly.pk in evs and codes(evs[exactly.pk]) == {"income_fall"}


def test_below_line_and_fall_add_up(regions):
    hh = household(people=2)
    income(hh, YEAR - 1, 2_000_000)
    income(hh, YEAR, 1_000_000)  # 5,000 per person, -50 %
    ev = evaluations()[hh.pk]
    assert codes(ev) == {"income_below_line", "income_fall"}
    assert ev.score == 100


def test_bad_parameters_are_refused(regions):
    with pytest.raises(ApplicationError) as exc:
        risk.risk_evaluate(county_code="520204", year=YEAR, config=RiskConfig(income_fall_bp=-1))
    assert exc.value.code == "invalid_risk_config" and "income_fall_bp" in exc.value.details
    with pytest.raises(ApplicationError) as exc:
        risk.risk_scan(county_code="520204", year=1990)
    assert exc.value.code == "invalid_year"
    with pytest.raises(ApplicationError) as exc:
        risk.risk_scan(county_code="5202", year=YEAR)
    assert exc.value.code == "county_not_found"


# --- rule: a falling sales trend ----------------------------------------------------------


def test_sales_windows_are_whole_months():
    first, middle, end = risk.sales_windows(dt.date(2026, 11, 15), 3)
    assert (first, middle, end) == (dt.date(2026, 5, 1), dt.date(2026, 8, 1), dt.date(2026, 11, 1))
    assert risk.sales_windows(dt.date(2026, 2, 3), 2) == (
        dt.date(2025, 10, 1),
        dt.date(2025, 12, 1),
        dt.date(2026, 2, 1),
    )


@pytest.fixture
def sales(regions):
    """Two household producers selling kiwifruit at ¥12.00 a unit, delivered on known
    days: A 10 units in June, 7 in September (-30 %); B 10 in June, 6 in September
    (-40 %). Orders take the oldest lot of the county, so each lot is sold whole
    before the next is recorded."""
    from cunzhan.commerce.orders_models import Order
    from tests.factories.commerce import make_producer, seed_catalogue
    from tests.factories.orders import deliver, graded_lot, kiwi_special_price, pay, place
    from tests.factories.stations import make_station

    products = seed_catalogue()
    kiwi = products["kiwifruit-red"]
    kiwi_special_price(kiwi, "520204", price_fen=1200)
    station = make_station(V1, "active")
    out = {}
    tz = dt.timezone(dt.timedelta(hours=8))
    for key, sold in (("A", (10, 7)), ("B", (10, 6))):
        hh = household()
        producer = make_producer(station, kind="household", name=f"农户{key}", household=hh)
        for units, day in zip(sold, (dt.date(2026, 6, 10), dt.date(2026, 9, 10)), strict=True):
            graded_lot(producer, kiwi, quantity=units, days_ago=1)
            order = place("520204", units)
            pay(order)
            deliver(order, at=dt.datetime.combine(day, dt.time(10), tzinfo=tz))
            assert Order.objects.get(pk=order.pk).delivered_at.date() == day
        out[key] = hh
    return out


def test_sales_falling_fires_above_the_share(sales):
    a, b = sales["A"], sales["B"]
    monthly = risk.household_sales(
        county_code="520204",
        household_ids=[a.pk, b.pk],
        first=dt.date(2026, 5, 1),
        last=dt.date(2026, 11, 1),
    )
    assert monthly[a.pk] == {dt.date(2026, 6, 1): 12_000, dt.date(2026, 9, 1): 8_400}
    evs = evaluations(year=2025, as_of=dt.date(2026, 11, 15))
    assert a.pk not in evs  # exactly -30 %
    reason = evs[b.pk].reasons[0]
    assert reason["code"] == "sales_falling"
    assert (reason["earlier_fen"], reason["recent_fen"], reason["value"]) == (12_000, 7_200, 0.4)
    assert evs[b.pk].score == 30
    # two months later the windows move: Jul-Sep earlier (September's sales), Oct-Dec
    # recent (nothing sold): both fall by 100 %, once the minimum is below ¥84
    later = dt.date(2027, 1, 15)
    assert evaluations(year=2025, as_of=later) == {}  # ¥84 and ¥72 earlier: under ¥100
    evs = evaluations(year=2025, as_of=later, config=RiskConfig(sales_min_fen=7_200))
    assert {codes(e).pop() for e in evs.values()} == {"sales_falling"}
    assert evs[a.pk].reasons[0]["earlier_fen"] == 8_400
    # below the minimum earlier sales: not evaluated
    strict = RiskConfig(sales_min_fen=12_001)
    evs = evaluations(year=2025, as_of=dt.date(2026, 11, 15), config=strict)
    assert evs == {}


# --- hooks --------------------------------------------------------------------------------


def test_a_registered_signal_adds_its_score_and_reason(regions):
    hh = household()
    income(hh, YEAR, 2 * LINE_2023 - 2)  # below the line: 60
    other = household()
    seen = {}

    def arrears(ctx):
        seen["ctx"] = (ctx.county_code, ctx.year, sorted(ctx.household_ids))
        return {
            hh.pk: Hit(25, {"code": "loan_arrears", "value": 95, "threshold": 90, "unit": "days"}),
            other.pk: Hit(10, {"code": "loan_arrears", "value": 91, "threshold": 90}),
            -1: Hit(99, {"code": "loan_arrears"}),  # not a household of the county: ignored
        }

    risk.register_risk_signal("finance.loan_arrears", "贷款逾期", arrears)
    try:
        assert "finance.loan_arrears" in [s.key for s in risk.risk_signals()]
        evs = evaluations()
        assert seen["ctx"] == ("520204", YEAR, sorted([hh.pk, other.pk]))
        assert evs[hh.pk].score == 85
        assert codes(evs[hh.pk]) == {"income_below_line", "loan_arrears"}
        arrears_reason = next(r for r in evs[hh.pk].reasons if r["code"] == "loan_arrears")
        assert arrears_reason == {
            "code": "loan_arrears",
            "value": 95,
            "threshold": 90,
            "unit": "days",
            "signal": "finance.loan_arrears",
            "score": 25,
        }
        assert -1 not in evs
        # the scan flags at the threshold: 10 alone is not enough, 85 is
        result = risk.risk_scan(county_code="520204", year=YEAR)
        assert result.flagged == 1 and result.opened == 1
        assert RiskCase.objects.get().household_id == hh.pk
    finally:
        risk.unregister_risk_signal("finance.loan_arrears")
    assert "finance.loan_arrears" not in [s.key for s in risk.risk_signals()]


# --- the scan -----------------------------------------------------------------------------


@pytest.fixture
def flagged(regions):
    """Two flagged households in 水城区 (V1, V2), one fine, one flagged in 六枝特区."""
    a = household(V1)
    income(a, YEAR, 500_000)  # 2,500 per person
    b = household(V2, people=1)
    income(b, YEAR - 1, 2_000_000)
    income(b, YEAR, 600_000)  # below the line and -70 %
    fine = household(V1)
    income(fine, YEAR, 3_000_000)
    out = household(OUT_V)
    income(out, YEAR, 100_000)
    return {"a": a, "b": b, "fine": fine, "out": out}


def test_scan_opens_cases_once_and_updates_them(flagged):
    r = risk.risk_scan(county_code="520204", year=YEAR)
    assert (r.evaluated, r.flagged, r.opened, r.updated, r.unchanged) == (3, 2, 2, 0, 0)
    case_b = RiskCase.objects.get(household=flagged["b"])
    assert (case_b.score, case_b.status, case_b.village_id) == (100, "open", V2)
    assert not RiskCase.objects.filter(household=flagged["out"]).exists()
    again = risk.risk_scan(county_code="520204", year=YEAR)
    assert (again.opened, again.updated, again.unchanged) == (0, 0, 2)
    assert RiskCase.objects.count() == 2
    # last year's income revised upwards: the fall grows, the open case is updated
    income(flagged["b"], YEAR - 1, 3_000_000, source="farming")
    income(flagged["a"], YEAR, 100_000, source="farming")
    third = risk.risk_scan(county_code="520204", year=YEAR)
    assert (third.opened, third.updated, third.unchanged) == (0, 2, 0)
    case_b.refresh_from_db()
    fall = next(r for r in case_b.reasons if r["code"] == "income_fall")
    assert fall["before_fen"] == 5_000_000
    assert list(case_b.events.values_list("kind", flat=True)) == ["flagged", "rescored"]
    scans = AuditEvent.objects.filter(object_type="impact.RiskScan", region_code="520204")
    assert scans.count() == 3
    assert scans.order_by("id").first().after["opened"] == 2
    assert AuditEvent.objects.filter(object_type="impact.RiskCase", action="create").count() == 2


def test_a_closed_case_is_not_reopened_until_the_household_is_flagged_again(flagged, make_user):
    officer = make_user(Role.REGISTRY_OFFICER, regions=["520204"])
    risk.risk_scan(county_code="520204", year=YEAR)
    case = RiskCase.objects.get(household=flagged["a"])
    case = risk.case_assign(case=case, assignee=officer, actor=officer, scope=NATIONAL)
    case = risk.case_visit(case=case, day=dt.date(2026, 1, 5), findings="务工中断", actor=officer)
    case = risk.case_close(case=case, outcome="stabilised", actor=officer)
    r = risk.risk_scan(county_code="520204", year=YEAR)
    assert r.opened == 0
    assert RiskCase.objects.filter(household=flagged["a"]).count() == 1
    # new evidence: a fall against last year (a reason the closed case did not have)
    income(flagged["a"], YEAR - 1, 2_000_000)
    r = risk.risk_scan(county_code="520204", year=YEAR)
    assert r.opened == 1
    cases = RiskCase.objects.filter(household=flagged["a"]).order_by("id")
    assert [c.status for c in cases] == ["closed", "open"]
    assert cases[1].score == 100
    # while the new case is open, a scan updates it and opens nothing
    r = risk.risk_scan(county_code="520204", year=YEAR)
    assert r.opened == 0 and r.unchanged == 2


def test_an_older_years_scan_never_rewrites_a_newer_case(flagged, make_user):
    """A's 2023 case is open: a scan of 2022 (where A was also poor, with a fall) leaves
    it as it is; a closed 2023 case is not reopened by 2022's figures."""
    income(flagged["a"], YEAR - 1, 100_000)
    income(flagged["a"], YEAR - 2, 5_000_000)  # 2022: far below the line and -98 %
    risk.risk_scan(county_code="520204", year=YEAR)
    case = RiskCase.objects.get(household=flagged["a"])
    before = (case.year, case.score, case.reasons)
    r = risk.risk_scan(county_code="520204", year=YEAR - 1)
    case.refresh_from_db()
    assert (case.year, case.score, case.reasons) == before and r.updated == 0
    officer = make_user(Role.REGISTRY_OFFICER, regions=["520204"])
    case = risk.case_assign(case=case, assignee=officer, actor=officer, scope=NATIONAL)
    case = risk.case_visit(case=case, day=dt.date(2026, 1, 5), findings="务工中断", actor=officer)
    risk.case_close(case=case, outcome="stabilised", actor=officer)
    risk.risk_scan(county_code="520204", year=YEAR - 1)
    assert RiskCase.objects.filter(household=flagged["a"]).count() == 1


# --- the follow-up ------------------------------------------------------------------------


@pytest.fixture
def case(flagged, make_user):
    risk.risk_scan(county_code="520204", year=YEAR)
    return RiskCase.objects.get(household=flagged["a"])


def test_follow_up_from_flag_to_close_is_audited(case, make_user):
    manager = make_user(Role.COUNTY_MANAGER, regions=["520204"])
    officer = make_user(Role.REGISTRY_OFFICER, regions=["520204106"])
    scope = RegionScope.for_regions(["520204"])
    c = risk.case_assign(case=case, assignee=officer, actor=manager, scope=scope)
    assert (c.status, c.assignee_id) == (CaseStatus.ASSIGNED, officer.pk)
    c = risk.case_visit(
        case=c, day=dt.date(2026, 11, 2), findings="家中主要劳动力患病", actor=officer
    )
    assert c.status == CaseStatus.VISITED
    c = risk.case_assistance(
        case=c,
        kind="health",
        day=dt.date(2026, 11, 3),
        amount_fen=150_000,
        note="医疗救助",
        actor=officer,
    )
    c = risk.case_close(case=c, outcome="risk_removed", note="已落实", actor=officer)
    assert (c.status, c.outcome) == (CaseStatus.CLOSED, "risk_removed") and c.closed_at
    kinds = list(RiskCaseEvent.objects.filter(case=c).values_list("kind", "actor__username"))
    assert kinds == [
        ("flagged", None),
        ("assigned", manager.username),
        ("visit", officer.username),
        ("assistance", officer.username),
        ("closed", officer.username),
    ]
    help_event = RiskCaseEvent.objects.get(case=c, kind="assistance")
    assert (help_event.assistance_kind, help_event.amount_fen) == ("health", 150_000)
    audits = AuditEvent.objects.filter(object_type="impact.RiskCase", object_id=str(c.uuid))
    assert list(audits.order_by("id").values_list("action", "actor_name", "note")) == [
        ("create", "system", "risk case opened by a scan"),
        ("update", manager.username, "risk case assigned"),
        ("update", officer.username, "risk case visit"),
        ("update", officer.username, "risk case assistance"),
        ("close", officer.username, "risk case closed"),
    ]
    assert all(a.region_code == V1 for a in audits)


def test_illegal_steps_are_refused_with_a_code(case, make_user):
    manager = make_user(Role.COUNTY_MANAGER, regions=["520204"])
    scope = RegionScope.for_regions(["520204"])

    def refused(code, fn, **kw):
        with pytest.raises(ApplicationError) as exc:
            fn(**kw)
        assert exc.value.code == code, exc.value.message

    elsewhere = make_user(Role.REGISTRY_OFFICER, regions=["520203"])
    driver = make_user(Role.DRIVER, regions=["520204"])
    other_village = make_user(Role.REGISTRY_OFFICER, regions=[V2])
    for who in (elsewhere, driver, other_village, None):
        refused(
            "assignee_out_of_scope",
            risk.case_assign,
            case=case,
            assignee=who,
            actor=manager,
            scope=scope,
        )
    # an officer of the whole province holds the household but works outside the
    # manager's county: the manager may not hand the case to them
    province = make_user(Role.REGISTRY_OFFICER, regions=["52"])
    refused(
        "assignee_out_of_scope",
        risk.case_assign,
        case=case,
        assignee=province,
        actor=manager,
        scope=scope,
    )
    refused(
        "case_not_assigned",
        risk.case_visit,
        case=case,
        day="2026-11-01",
        findings="x",
        actor=manager,
    )
    c = risk.case_assign(case=case, assignee=manager, actor=manager, scope=scope)
    refused("case_not_visited", risk.case_close, case=c, outcome="stabilised", actor=manager)
    refused("required", risk.case_visit, case=c, day="2026-11-01", findings="  ", actor=manager)
    refused("invalid_date", risk.case_visit, case=c, day="11/01", findings="x", actor=manager)
    tomorrow = dt.date.today() + dt.timedelta(days=2)
    refused("date_in_future", risk.case_visit, case=c, day=tomorrow, findings="x", actor=manager)
    refused(
        "invalid_choice", risk.case_assistance, case=c, kind="cash", day="2026-11-01", actor=manager
    )
    refused(
        "invalid_amount",
        risk.case_assistance,
        case=c,
        kind="other",
        day="2026-11-01",
        amount_fen=-5,
        actor=manager,
    )
    c = risk.case_visit(case=c, day="2026-11-01", findings="已核实", actor=manager)
    refused("invalid_choice", risk.case_close, case=c, outcome="gone", actor=manager)
    refused("required", risk.case_close, case=c, outcome="other", note="", actor=manager)
    c = risk.case_close(case=c, outcome="not_confirmed", actor=manager)
    refused("case_closed", risk.case_close, case=c, outcome="stabilised", actor=manager)
    refused("case_closed", risk.case_visit, case=c, day="2026-11-01", findings="x", actor=manager)
    refused("case_closed", risk.case_assign, case=c, assignee=manager, actor=manager, scope=scope)
    refused(
        "case_closed", risk.case_assistance, case=c, kind="other", day="2026-11-01", actor=manager
    )
    # nothing half-written: one visit, one close
    kinds = list(c.events.values_list("kind", flat=True))
    assert kinds == ["flagged", "assigned", "visit", "closed"]


# --- the indicator ------------------------------------------------------------------------


def test_households_at_risk_indicator_counts_open_cases(case, make_user):
    from cunzhan.impact.models import IndicatorValue
    from cunzhan.impact.services import indicators_refresh
    from cunzhan.impact.sources import source_get

    today = dt.date.today()
    indicators_refresh(county_code="520204", since=today)
    cell = IndicatorValue.objects.get(
        indicator__code="households_at_risk",
        region_code="520204",
        period_type="month",
        period_start=today.replace(day=1),
    )
    assert cell.numerator == 2
    township = IndicatorValue.objects.get(
        indicator__code="households_at_risk",
        region_code=V2,
        period_type="month",
        period_start=today.replace(day=1),
    )
    assert township.numerator == 1
    rows = source_get("impact.households_at_risk").rows(
        RegionScope.for_regions(["520204"]), "520204", today, today
    )
    assert sorted(r["label"] for r in rows) == sorted(
        RiskCase.objects.values_list("household__number", flat=True)
    )
    assert not any("成员" in str(r) for r in rows)  # no names
    # a county user of 六枝特区 sees none of them
    assert (
        source_get("impact.households_at_risk").rows(
            RegionScope.for_regions(["520203"]), "520204", today, today
        )
        == []
    )


def test_the_demo_scans_last_year(regions):
    from cunzhan.impact.demo import demo_risk

    last_year = dt.date.today().year - 1
    hh = household()
    income(hh, last_year, 100_000)
    lines: list[str] = []
    assert demo_risk(county_codes=["520204", "520203"], echo=lines.append) == 1
    assert RiskCase.objects.get().household_id == hh.pk
    assert lines[0] == f"  relapse risk 520204 {last_year}: 1 of 1 flagged"
    assert demo_risk(county_codes=["520204"], echo=lines.append) == 0  # idempotent


def test_the_risk_scan_command(flagged):
    from io import StringIO

    from django.core.management import CommandError, call_command

    out = StringIO()
    call_command("risk_scan", county=["520204"], year=YEAR, stdout=out)
    assert out.getvalue().strip() == (
        f"520204 {YEAR}: 3 households evaluated, 2 flagged, 2 cases opened, 0 updated, 0 unchanged"
    )
    out = StringIO()
    call_command("risk_scan", county=["520204"], year=YEAR, threshold=101, stdout=out)
    assert "0 flagged" in out.getvalue()
    with pytest.raises(CommandError, match="county '5202' not found"):
        call_command("risk_scan", county=["5202"], year=YEAR)


def test_a_rescan_costs_the_same_queries_however_many_cases(flagged, django_assert_num_queries):
    risk.risk_scan(county_code="520204", year=YEAR)
    for i in range(5):  # five more flagged households
        income(household(V2), YEAR, 1_000 + i)
    risk.risk_scan(county_code="520204", year=YEAR)
    assert RiskCase.objects.count() == 7
    with django_assert_num_queries(15):
        r = risk.risk_scan(county_code="520204", year=YEAR)
    assert r.unchanged == 7


def test_the_queue_page_pages_by_fifty(regions, make_user):
    from django.test import Client

    for i in range(53):
        hh = household(V1 if i % 2 else V2, people=1)
        income(hh, YEAR, 100_000 + i)
    assert risk.risk_scan(county_code="520204", year=YEAR).flagged == 53
    client = Client()
    client.force_login(make_user(Role.COUNTY_MANAGER, regions=["520204"]))
    first = client.get("/impact/risk/").content.decode()
    assert first.count("data-case=") == 50
    assert 'id="risk-total">共 53 户<' in first and "page=2" in first
    second = client.get("/impact/risk/", {"page": 2}).content.decode()
    assert second.count("data-case=") == 3
    shown = {part.split('"', 1)[0] for part in (first + second).split('data-case="')[1:]}
    assert len(shown) == 53  # every case on exactly one page
    # the filter survives paging
    v2 = client.get("/impact/risk/", {"region": V2}).content.decode()
    assert v2.count("data-case=") == 27 and "page=2" not in v2
