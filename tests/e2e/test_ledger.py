"""A county manager settles the month in the browser: sets the county's rates, books
the station fees, creates a payout batch, downloads the bank file (pain.001; the payees'
bank details were confirmed by two people beforehand, ``bank_ready``), marks it paid,
and prints a producer's statement (the print stylesheet hides the navigation)."""

from __future__ import annotations

from cunzhan.accounts.roles import Role
from cunzhan.ledger.models import Account, PayoutBatch, SettlementRule
from cunzhan.network.models import StationStatus
from tests.factories.stations import make_station
from tests.ledger.factories import collected_fees, paid_sale


def test_county_manager_pays_out_and_prints_a_statement(page, login, make_user, regions):
    station = make_station("520204106201", StationStatus.ACTIVE)
    paid_sale("520204", station, "e2e", 20_000)
    collected_fees(station, 2)
    make_user(Role.COUNTY_MANAGER, regions=["520204"], username="cm")
    login("cm")
    page.goto("/ledger/")
    page.wait_for_url("**/ledger/county/520204/")
    page.fill("#id_platform_fee_bp", "600")
    page.click("#rules button[type=submit]")
    page.wait_for_selector(".messages")
    assert "结算规则已保存" in page.inner_text(".messages")
    assert SettlementRule.objects.get().platform_fee_bp == 600

    page.click("text=服务费入账")
    page.wait_for_selector(".messages")
    assert "已入账 2 笔服务费" in page.inner_text(".messages")

    page.click("text=生成付款批次")
    page.wait_for_url("**/ledger/payout/**")
    batch = PayoutBatch.objects.get()
    assert batch.total_fen == 18_400 + 600 + 2 * 100  # producer, commission, two up fees
    with page.expect_download() as info:
        page.click("#payout-file")
    with open(info.value.path(), encoding="utf-8") as f:
        content = f.read()
    # the bank file: ISO 20022 pain.001, the batch id as message id, control totals
    assert "urn:iso:std:iso:20022:tech:xsd:pain.001.001.03" in content
    assert f"<MsgId>{batch.uuid.hex}</MsgId>" in content
    assert f"<CtrlSum>{batch.total_fen // 100}.{batch.total_fen % 100:02d}</CtrlSum>" in content
    with page.expect_download() as info:
        page.click("text=下载付款明细")
    with open(info.value.path(), encoding="utf-8-sig") as f:
        assert f.read().startswith("序号,批次,收款方")
    page.click("button[value=paid]")
    page.wait_for_selector(".messages")
    batch.refresh_from_db()
    assert batch.status == "paid"

    producer = Account.objects.get(kind="producer")
    page.goto(f"/ledger/account/{producer.uuid}/")
    assert "期末余额" in page.inner_text("#statement-summary")
    page.emulate_media(media="print")
    assert not page.locator(".topbar").is_visible()
    assert page.locator("#statement-lines").is_visible()
