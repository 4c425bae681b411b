"""Browser (phone viewport): a county manager onboards a village station end to end —
application form with the htmx region search, submit, approve, activate — and the new
operator logs in with the one-time password shown on the page. Plus form errors."""

from __future__ import annotations

import re

import pytest
from django.conf import settings

from cunzhan.accounts.models import User
from cunzhan.accounts.roles import Role
from cunzhan.core.models import AuditEvent
from cunzhan.network.models import Station, StationStatus
from cunzhan.network.regions_import import regions_import

BIDE_VILLAGE = "520204106200"  # 比德村村民委员会, 比德镇, 水城区


@pytest.fixture
def guizhou(transactional_db):
    regions_import(provinces=["52"], data_dir=settings.DATA_DIR)


def _pick_region(page, text: str, code: str) -> None:
    """Type a name into the region field, wait for htmx to fill the suggestions, and take
    the one for ``code`` (what choosing it from the browser's list does)."""
    page.fill("#id_region_code", text)
    option = page.locator(f"#region-options option[value='{code}']")
    option.wait_for(state="attached")
    assert "比德村村民委员会" in (option.text_content() or "")
    page.fill("#id_region_code", option.get_attribute("value") or "")


def test_county_manager_onboards_a_village_station_and_the_operator_logs_in(
    guizhou, page, login, make_user
):
    make_user(Role.COUNTY_MANAGER, regions=["520204"], username="mgr")
    login("mgr")
    page.click("a.button:text-is('申请新服务站')")  # from the home panel
    page.wait_for_url("**/network/stations/apply/")

    _pick_region(page, "比德村", BIDE_VILLAGE)
    page.select_option("#id_kind", "village_station")
    page.fill("#id_name", "比德村电商服务站")
    page.fill("#id_address", "比德村村委会旁")
    page.fill("#id_applicant_name", "王小二")
    page.fill("#id_applicant_phone", "13800001111")
    page.fill("#id_premises_m2", "45")
    page.check("#id_committee_recommendation")
    page.fill("#id_recommendation_note", "村两委会议同意")
    page.fill("#id_deposit_yuan", "3000.50")
    page.check("input[name=capabilities][value=assisted_purchase]")
    page.check("input[name=capabilities][value=produce_collection]")
    page.fill("#id_opens_at", "09:00")
    page.fill("#id_closes_at", "18:30")
    page.uncheck("input[name=open_days][value='7']")
    page.click("button:text-is('提交申请')")

    page.wait_for_url(re.compile(r"/network/stations/\d+/$"))
    assert "申请已创建" in page.locator(".messages").inner_text()
    assert page.locator("h1").inner_text().startswith("比德村电商服务站")
    assert page.locator("#station-status").inner_text() == "申请中"
    body = page.locator("main").inner_text()
    assert "¥3,000.50" in body and "45 m²" in body
    assert "09:00–18:30" in body and "周日" not in body
    for cap in ("快递收发", "代购", "农产品收购"):
        assert cap in body
    assert "缴费" not in body

    page.click("button:text-is('提交审核')")
    page.wait_for_selector("#station-status:text-is('审核中')")

    page.fill("#review-form #id_note", "场地与推荐材料齐全")
    page.click("#review-form button:text-is('批准')")
    page.wait_for_selector(".messages li:has-text('申请已批准')")
    assert "场地与推荐材料齐全" in page.locator("main").inner_text()

    page.fill("#id_operator_username", "bide-op")
    page.fill("#id_operator_display_name", "王小二")
    page.click("#activate-form button[type=submit]")
    credentials = page.locator("#operator-credentials")
    credentials.wait_for()
    assert page.locator("#station-status").inner_text() == "运营中"
    codes = credentials.locator("code").all_inner_texts()
    assert codes[0] == "bide-op"
    password = codes[1]
    assert len(password) >= 10

    station = Station.objects.get(region_id=BIDE_VILLAGE)
    assert station.status == StationStatus.ACTIVE
    assert station.application.deposit_fen == 300_050
    assert station.open_days == "123456"
    assert User.objects.get(username="bide-op").role == Role.STATION_OPERATOR
    assert AuditEvent.objects.filter(object_type="network.Station", actor_name="mgr").count() >= 3

    # the password is shown once: reloading the station page does not show it again
    page.goto(f"/network/stations/{station.pk}/")
    assert page.locator("#operator-credentials").count() == 0
    assert password not in page.content()

    page.click("form.logout button[type=submit]")
    page.wait_for_url("**/login/**")
    login("bide-op", password)
    # a one-time password: the operator first chooses their own, nothing else is reachable
    page.wait_for_url("**/account/password/")
    assert page.locator("#password-change-required").is_visible()
    page.fill("#id_old_password", password)
    page.fill("#id_new_password1", "Bide-zhan-2026")
    page.fill("#id_new_password2", "Bide-zhan-2026")
    page.click("#change-password button[type=submit]")
    page.wait_for_url(lambda url: "/account/password/" not in url)
    assert not User.objects.get(username="bide-op").password_change_required
    main = page.locator("main").inner_text()
    assert "我的服务站：比德村电商服务站" in main
    assert "运营中" in main and "09:00–18:30" in main
    # the operator sees their station and no action buttons on it
    page.click("main a.button:text-is('比德村电商服务站')")
    page.wait_for_url(f"**/network/stations/{station.pk}/")
    assert page.locator("#station-actions").count() == 0


def test_application_form_errors_are_shown_on_their_fields(guizhou, page, login, make_user):
    make_user(Role.COUNTY_MANAGER, regions=["520204"], username="mgr")
    login("mgr")
    page.goto("/network/stations/apply/")
    # a village station without the committee's recommendation, a bad deposit
    _pick_region(page, "比德村", BIDE_VILLAGE)
    page.select_option("#id_kind", "village_station")
    page.fill("#id_name", "比德村服务站")
    page.fill("#id_applicant_name", "王小二")
    page.fill("#id_applicant_phone", "13800001111")
    page.fill("#id_premises_m2", "30")
    page.fill("#id_deposit_yuan", "三千")
    page.click("button:text-is('提交申请')")
    deposit = page.locator(".field.has-error", has=page.locator("#id_deposit_yuan"))
    assert "保证金须是以元为单位的金额" in deposit.locator(".errorlist").inner_text()
    # values typed so far are kept
    assert page.input_value("#id_region_code") == BIDE_VILLAGE
    assert page.input_value("#id_name") == "比德村服务站"

    page.fill("#id_deposit_yuan", "2000")
    page.click("button:text-is('提交申请')")
    rec = page.locator(".field.has-error", has=page.locator("#id_committee_recommendation"))
    assert "村级服务站须有村委会推荐" in rec.locator(".errorlist").inner_text()

    # a village in another county (六枝特区) is outside the manager's scope
    page.check("#id_committee_recommendation")
    page.fill("#id_region_code", "520203001001")
    page.click("button:text-is('提交申请')")
    region = page.locator(".field.has-error", has=page.locator("#id_region_code"))
    assert "不在您的管辖范围内" in region.locator(".errorlist").inner_text()
    # the search offers nothing outside scope either
    _pick_region(page, "比德村", BIDE_VILLAGE)
    assert page.locator("#region-options option").count() >= 1
    with page.expect_response(lambda r: "/regions/search/" in r.url and "%E9%9D%92" in r.url):
        page.fill("#id_region_code", "青龙社区")  # 六枝特区: exists, but not in scope
    page.wait_for_function("document.querySelectorAll('#region-options option').length === 0")
    assert not Station.objects.exists()
