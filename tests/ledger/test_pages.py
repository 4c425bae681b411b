"""The ledger pages: a county's home, the printable statement, a payout batch and its
bank file, and the forms of the county manager."""

from __future__ import annotations

import pytest
from django.test import Client

from cunzhan.accounts.roles import Role
from cunzhan.ledger.models import Account, PayoutBatch, SettlementRule
from tests.ledger.conftest import COUNTY
from tests.ledger.factories import collected_fees, paid_sale

pytestmark = pytest.mark.django_db


def _login(user) -> Client:
    c = Client()
    c.force_login(user)
    return c


def test_county_home_rules_fees_and_payout(station, make_user):
    paid_sale(COUNTY, station, "a", 10_000)
    collected_fees(station, 1)
    c = _login(make_user(Role.COUNTY_MANAGER, regions=[COUNTY]))
    r = c.get("/ledger/", follow=True)
    assert r.redirect_chain[-1][0] == f"/ledger/county/{COUNTY}/"
    page = r.content.decode()
    assert "李四" not in page and "农户" in page and "¥92.00" in page
    r = c.post(f"/ledger/county/{COUNTY}/rules", {"platform_fee_bp": "650"})
    assert r.status_code == 302 and SettlementRule.objects.get().platform_fee_bp == 650
    r = c.post(f"/ledger/county/{COUNTY}/rules", {"platform_fee_bp": "abc"}, follow=True)
    assert "platform_fee_bp" in r.content.decode()
    assert SettlementRule.objects.get().platform_fee_bp == 650
    c.post(f"/ledger/county/{COUNTY}/fees")
    assert Account.objects.get(kind="station").balance_fen < -300
    r = c.post(f"/ledger/county/{COUNTY}/payouts", {"note": "十一月"})
    batch = PayoutBatch.objects.get()
    assert r.status_code == 302 and r["Location"] == f"/ledger/payout/{batch.uuid}/"
    page = c.get(r["Location"]).content.decode()
    assert "十一月" in page and "下载银行付款文件" in page
    csv = c.get(f"/ledger/payout/{batch.uuid}/csv")
    assert csv.status_code == 200 and "农户".encode() in csv.content
    r = c.post(f"/ledger/payout/{batch.uuid}/mark", {"status": "paid"})
    batch.refresh_from_db()
    assert batch.status == "paid"
    # a second batch: nothing owed any more, a clear message, no batch
    r = c.post(f"/ledger/county/{COUNTY}/payouts", follow=True)
    assert PayoutBatch.objects.count() == 1
    assert "没有应付款项" in r.content.decode()


def test_statement_page_is_printable(station, make_user):
    paid_sale(COUNTY, station, "a", 10_000)
    producer = Account.objects.get(kind="producer")
    c = _login(make_user(Role.AUDITOR, regions=[COUNTY]))
    page = c.get(f"/ledger/account/{producer.uuid}/").content.decode()
    assert '<style media="print">' in page and "data-print" in page  # js/cunzhan.js prints
    assert "-¥92.00" in page  # closing: owed to the producer
    r = c.get(f"/ledger/account/{producer.uuid}/", {"start": "2026-02-30"})
    assert r.status_code == 400
    # the auditor may not pay out
    assert c.post(f"/ledger/county/{COUNTY}/payouts").status_code == 403


def test_station_operator_lands_on_their_statement(station, make_user):
    paid_sale(COUNTY, station, "a", 10_000)
    c = _login(make_user(Role.STATION_OPERATOR, stations=[station.pk]))
    r = c.get("/ledger/", follow=True)
    assert r.redirect_chain[-1][0] == f"/ledger/station/{station.pk}/"
    assert "-¥3.00" in r.content.decode()
    assert c.get(f"/ledger/county/{COUNTY}/").status_code == 404
    producer = Account.objects.get(kind="producer")
    assert c.get(f"/ledger/account/{producer.uuid}/").status_code == 404


def test_home_page_panel_shows_what_is_owed(station, make_user):
    paid_sale(COUNTY, station, "a", 10_000)
    manager = _login(make_user(Role.COUNTY_MANAGER, regions=[COUNTY])).get("/").content.decode()
    assert "应付生产者与服务站" in manager and "¥95.00" in manager  # 92 + 3
    operator = _login(make_user(Role.STATION_OPERATOR, stations=[station.pk]))
    assert "¥3.00" in operator.get("/").content.decode()
    driver = _login(make_user(Role.DRIVER, regions=[COUNTY])).get("/").content.decode()
    assert "应付生产者与服务站" not in driver


def test_producer_statement_page_by_owner_key(station, make_user):
    paid_sale(COUNTY, station, "a", 10_000)
    c = _login(make_user(Role.COUNTY_MANAGER, regions=[COUNTY]))
    r = c.get("/ledger/producer/producer:p1/")
    assert r.status_code == 200 and "-¥92.00" in r.content.decode()
    assert c.get("/ledger/producer/producer:nobody/").status_code == 404
