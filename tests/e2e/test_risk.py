"""Browser test of relapse-risk monitoring (防返贫监测): a county manager opens the queue,
scans the county, opens the flagged household's case, assigns it to the township's
registry officer, records the visit and the assistance, and closes it. Screenshots go
to $CUNZHAN_SCREENSHOTS (default the temporary directory)."""

from __future__ import annotations

import datetime as dt
import os
import tempfile
from pathlib import Path

from cunzhan.accounts.roles import Role
from cunzhan.core.models import AuditEvent
from cunzhan.impact.risk_models import RiskCase
from cunzhan.registry import services as registry
from tests.factories.impact import builtin_indicators
from tests.factories.registry import make_household, make_person

SHOTS = Path(os.environ.get("CUNZHAN_SCREENSHOTS", tempfile.gettempdir()))


def test_follow_up_from_flag_to_close(page, login, make_user, regions):
    builtin_indicators()  # the indicators and the monitoring lines (flushed by earlier tests)
    last_year = dt.date.today().year - 1
    hh = make_household(village="520204106201")
    make_person(household=hh, name="赵某", with_id=False)
    make_person(household=hh, name="赵某某", relation="child", birth_year=2010, with_id=False)
    registry.poverty_register(household=hh, year_registered=2015, main_cause="illness")
    registry.income_record_set(
        household=hh, year=last_year - 1, source="wages", amount_fen=2_400_000
    )
    registry.income_record_set(household=hh, year=last_year, source="wages", amount_fen=900_000)
    make_user(Role.COUNTY_MANAGER, regions=["520204"], username="cm")
    officer = make_user(Role.REGISTRY_OFFICER, regions=["520204106"], username="ro-yushe")
    login("cm")
    page.set_viewport_size({"width": 1280, "height": 900})

    page.click("nav.nav a:has-text('防返贫监测')")
    page.wait_for_url("**/impact/risk/")
    assert page.inner_text("nav.nav a.active") == "防返贫监测"  # not also 影响监测
    assert page.locator("[data-case]").count() == 0
    page.click("#risk-scan button[type=submit]")
    page.wait_for_url("**/impact/risk/?region=520204")
    assert "新增 1 件" in page.inner_text(".messages")
    row = page.locator("[data-case]")
    assert row.count() == 1
    assert row.locator(".risk-score").inner_text() == "100"
    assert "玉舍镇" in page.inner_text("#risk-townships")
    assert "赵某" not in page.content()  # no names in the queue
    page.screenshot(path=str(SHOTS / "risk-queue.png"), full_page=True)

    row.locator("a").first.click()
    page.wait_for_url("**/impact/risk/c/**")
    assert page.get_attribute("#case-status", "data-status") == "open"
    reasons = page.inner_text("#case-reasons")
    assert "人均纯收入低于监测线" in reasons and "¥4,500.00" in reasons
    assert "收入较上年大幅下降" in reasons and "62.5%" in reasons

    page.select_option("#id_assignee", label=f"{officer.username} · 建档立卡专员")
    page.click("#assign-form button")
    page.wait_for_selector("#case-status[data-status=assigned]")
    assert page.inner_text("#case-assignee") == "ro-yushe"

    page.fill("#id_findings", "户主务工受伤，半年无工资收入")
    page.click("#visit-form button")
    page.wait_for_selector("#case-status[data-status=visited]")
    page.screenshot(path=str(SHOTS / "risk-case-open.png"), full_page=True)

    page.select_option("#id_kind", "employment")
    page.fill("#id_amount", "800")
    page.fill("#id_help_note", "安排公益性岗位")
    page.click("#assistance-form button")
    page.wait_for_selector("[data-event=assistance]")
    assert "¥800.00" in page.inner_text("#case-history")

    page.select_option("#id_outcome", "stabilised")
    page.fill("#id_close_note", "已上岗，收入稳定")
    page.click("#close-form button")
    page.wait_for_selector("#case-status[data-status=closed]")
    assert page.locator("#risk-forms").count() == 0
    history = [page.locator("[data-event]").nth(i).get_attribute("data-event") for i in range(5)]
    assert history == ["flagged", "assigned", "visit", "assistance", "closed"]
    page.screenshot(path=str(SHOTS / "risk-case-closed.png"), full_page=True)

    case = RiskCase.objects.get(household=hh)
    assert (case.status, case.outcome, case.assignee_id) == ("closed", "stabilised", officer.pk)
    notes = list(
        AuditEvent.objects.filter(object_type="impact.RiskCase", object_id=str(case.uuid))
        .exclude(action="read")
        .order_by("id")
        .values_list("note", flat=True)
    )
    assert notes == [
        "risk case opened by a scan",
        "risk case assigned",
        "risk case visit",
        "risk case assistance",
        "risk case closed",
    ]
