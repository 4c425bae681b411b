"""Bank details and the bank file (issue 12 §1, "the bank payout file cannot be paid
from"): details are encrypted, masked, audited and take effect only when a second
county person confirms them; a payee without confirmed details is held with a reason;
the file is ISO 20022 pain.001.001.03 with the payee's bank account, holder, bank,
amounts and control totals, and never pays a batch twice."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest
from django.test import Client

from cunzhan.accounts.roles import Role
from cunzhan.core.errors import ApplicationError, PermissionDenied
from cunzhan.core.models import AuditEvent
from cunzhan.core.scope import RegionScope
from cunzhan.ledger import bank_details, bankfile, payouts, services
from cunzhan.ledger.models import Account, BankDetails, PayoutBatch
from tests.ledger.conftest import COUNTY
from tests.ledger.helpers import assert_invariants

pytestmark = pytest.mark.django_db
NS = {"p": "urn:iso:std:iso:20022:tech:xsd:pain.001.001.03"}
SCOPE = RegionScope.for_regions([COUNTY])
NATIONAL = RegionScope.national()
NUMBER = "6228 4800 1234 5678 901"
DIGITS = NUMBER.replace(" ", "")


def _sale(station, key: str, gross: int, producer: str) -> None:
    services.payment_receive(
        county=COUNTY,
        idempotency_key=f"pay-{key}",
        buyer_key=f"buyer:{key}",
        buyer_label="买家",
        amount_fen=gross,
        provider="sandbox",
    )
    services.sale_settle(
        county=COUNTY,
        idempotency_key=f"sale-{key}",
        gross_fen=gross,
        producer_key=producer,
        producer_label=f"农户{key}",
        station=station,
        buyer_key=f"buyer:{key}",
    )


@pytest.fixture
def people(make_user):
    return (
        make_user(Role.COUNTY_MANAGER, regions=[COUNTY]),
        make_user(Role.COUNTY_MANAGER, regions=[COUNTY]),
    )


def _confirmed(account: Account, people, number: str = NUMBER, holder: str = "") -> BankDetails:
    a, b = people
    d = bank_details.bank_details_submit(
        scope=SCOPE,
        account=account,
        holder_name=holder or f"{account.label}户",
        bank_name="贵州六盘水农村商业银行",
        account_number=number,
        actor=a,
    )
    return bank_details.bank_details_confirm(scope=SCOPE, details=d, actor=b)


def _cash(people) -> BankDetails:
    cash = services.account_for(kind="cash", county=COUNTY)
    return _confirmed(cash, people, "9550 8800 0000 0001", holder="六盘水市水城区电商服务中心")


def test_details_take_effect_only_when_a_second_person_confirms(station, people):
    a, b = people
    _cash(people)
    _sale(station, "x", 10_000, "producer:p1")
    producer = Account.objects.get(kind="producer")
    d = bank_details.bank_details_submit(
        scope=SCOPE,
        account=producer,
        holder_name="张三",
        bank_name="中国农业银行水城支行",
        account_number=NUMBER,
        actor=a,
    )
    assert d.status == "pending" and d.masked_number == "**** 8901"
    assert DIGITS not in d.number_encrypted and bank_details.bank_number(d) == DIGITS
    # not in force yet: the producer is held, the station too (no details at all)
    with pytest.raises(ApplicationError) as exc:
        payouts.payout_batch_create(scope=NATIONAL, county=COUNTY)
    assert exc.value.code == "payees_held"
    assert {h["account"] for h in exc.value.details["held"]} == {
        str(producer.uuid),
        str(Account.objects.get(kind="station").uuid),
    }
    # the one who entered them cannot confirm them
    with pytest.raises(ApplicationError) as exc:
        bank_details.bank_details_confirm(scope=SCOPE, details=d, actor=a)
    assert exc.value.code == "same_person"
    d = bank_details.bank_details_confirm(scope=SCOPE, details=d, actor=b)
    assert d.status == "confirmed" and d.decided_by == b
    with pytest.raises(ApplicationError) as exc:
        bank_details.bank_details_confirm(scope=SCOPE, details=d, actor=b)
    assert exc.value.code == "wrong_state"
    batch = payouts.payout_batch_create(scope=NATIONAL, county=COUNTY)
    assert [ln.account for ln in batch.lines.all()] == [producer]
    assert batch.lines.get().bank_details == d
    # the audit log has both steps, masked, never the number
    events = AuditEvent.objects.filter(object_type="ledger.BankDetails").order_by("id")
    assert [e.action for e in events] == ["create", "transition"] * 2
    assert all(DIGITS not in json.dumps([e.before, e.after], ensure_ascii=False) for e in events)
    assert "**** 8901" in json.dumps(events[2].after, ensure_ascii=False)


def test_payees_without_confirmed_details_are_held_with_a_reason(station, people):
    _cash(people)
    _sale(station, "x", 10_000, "producer:p1")
    _sale(station, "y", 5_000, "producer:p2")
    p1 = Account.objects.get(owner_key="producer:p1")
    p2 = Account.objects.get(owner_key="producer:p2")
    station_acct = Account.objects.get(kind="station")
    _confirmed(p1, people)
    batch = payouts.payout_batch_create(scope=NATIONAL, county=COUNTY)
    assert batch.line_count == 1 and batch.total_fen == 9_200
    held = {h["account"]: h for h in batch.held}
    assert set(held) == {str(p2.uuid), str(station_acct.uuid)}
    assert held[str(p2.uuid)]["reason"] == "no_bank_details"
    assert held[str(p2.uuid)]["owed_fen"] == 4_600 and held[str(p2.uuid)]["message"]
    p2.refresh_from_db()
    assert p2.owed_fen == 4_600  # still owed, paid once details are confirmed
    with pytest.raises(ApplicationError) as exc:
        payouts.payout_batch_create(scope=NATIONAL, county=COUNTY, amounts={str(p2.uuid): 100})
    assert exc.value.code == "no_bank_details"
    _confirmed(p2, people)
    second = payouts.payout_batch_create(scope=NATIONAL, county=COUNTY)
    assert {ln.account_id for ln in second.lines.all()} == {p2.pk}
    assert_invariants()


def test_a_county_without_a_confirmed_paying_account_makes_no_batch(station, people):
    _sale(station, "x", 10_000, "producer:p1")
    _confirmed(Account.objects.get(kind="producer"), people)
    with pytest.raises(ApplicationError) as exc:
        payouts.payout_batch_create(scope=NATIONAL, county=COUNTY)
    assert exc.value.code == "no_debtor_account"
    assert not PayoutBatch.objects.exists()


def test_bad_details_name_every_field_and_write_nothing(station, people):
    acct = services.account_for(kind="station", county=COUNTY, station=station)
    with pytest.raises(ApplicationError) as exc:
        bank_details.bank_details_submit(
            scope=SCOPE,
            account=acct,
            holder_name=" ",
            bank_name="x" * 121,
            account_number="6228-abc",
            actor=people[0],
        )
    assert exc.value.code == "invalid_bank_details"
    assert set(exc.value.details["errors"]) == {"holder_name", "bank_name", "account_number"}
    assert not BankDetails.objects.exists()
    platform = services.account_for(kind="platform", county=COUNTY)
    with pytest.raises(ApplicationError) as exc:
        bank_details.bank_details_submit(
            scope=SCOPE,
            account=platform,
            holder_name="平台",
            bank_name="银行",
            account_number=NUMBER,
            actor=people[0],
        )
    assert exc.value.code == "not_a_payee"


def test_only_county_payout_people_enter_or_confirm(station, people, make_user):
    acct = services.account_for(kind="station", county=COUNTY, station=station)
    operator = make_user(Role.STATION_OPERATOR, regions=[COUNTY], stations=[station.pk])
    auditor = make_user(Role.AUDITOR, regions=[COUNTY])
    for who in (operator, auditor, None):
        with pytest.raises(PermissionDenied):
            bank_details.bank_details_submit(
                scope=SCOPE,
                account=acct,
                holder_name="李四",
                bank_name="银行",
                account_number=NUMBER,
                actor=who,
            )
    d = bank_details.bank_details_submit(
        scope=SCOPE,
        account=acct,
        holder_name="李四",
        bank_name="银行",
        account_number=NUMBER,
        actor=people[0],
    )
    with pytest.raises(PermissionDenied):
        bank_details.bank_details_confirm(scope=SCOPE, details=d, actor=auditor)


def test_a_change_waits_for_confirmation_and_old_batches_keep_their_details(station, people):
    _cash(people)
    _sale(station, "x", 10_000, "producer:p1")
    _confirmed(Account.objects.get(kind="station"), people)
    producer = Account.objects.get(kind="producer")
    old = _confirmed(producer, people, "6228480000000001")
    first = payouts.payout_batch_create(scope=NATIONAL, county=COUNTY)
    new = bank_details.bank_details_submit(
        scope=SCOPE,
        account=producer,
        holder_name="张三",
        bank_name="另一家银行",
        account_number="6228480000000002",
        actor=people[0],
    )
    xml = bankfile.payout_batch_pain001(batch=first).decode()
    assert "6228480000000001" in xml and "6228480000000002" not in xml
    bank_details.bank_details_confirm(scope=SCOPE, details=new, actor=people[1])
    old.refresh_from_db()
    assert old.status == "superseded"
    assert bankfile.payout_batch_pain001(batch=first).decode() == xml


def test_pain001_file_carries_accounts_amounts_and_control_totals(station, people):
    debtor = _cash(people)
    _sale(station, "x", 10_001, "producer:p1")
    _sale(station, "y", 5_000, "producer:p2")
    for a in Account.objects.filter(kind__in=["producer", "station"]).order_by("pk"):
        _confirmed(a, people, f"62284800{a.pk:011d}")
    batch = payouts.payout_batch_create(scope=NATIONAL, county=COUNTY)
    body = bankfile.payout_batch_pain001(batch=batch)
    assert body.startswith(b'<?xml version="1.0" encoding="UTF-8"?>')
    root = ET.fromstring(body)  # noqa: S314 - our own output
    assert root.tag == "{" + NS["p"] + "}Document"
    hdr = root.find("p:CstmrCdtTrfInitn/p:GrpHdr", NS)
    pmt = root.find("p:CstmrCdtTrfInitn/p:PmtInf", NS)
    assert hdr is not None and pmt is not None
    assert hdr.findtext("p:MsgId", namespaces=NS) == batch.uuid.hex
    txs = pmt.findall("p:CdtTrfTxInf", NS)
    assert len(txs) == batch.line_count == 3
    for block in (hdr, pmt):
        assert block.findtext("p:NbOfTxs", namespaces=NS) == "3"
        assert block.findtext("p:CtrlSum", namespaces=NS) == bankfile.yuan(batch.total_fen)
    amounts = [tx.find("p:Amt/p:InstdAmt", NS) for tx in txs]
    assert all(a is not None and a.get("Ccy") == "CNY" for a in amounts)
    assert sum(round(float(a.text or "0") * 100) for a in amounts if a is not None) == (
        batch.total_fen
    )
    assert pmt.findtext("p:PmtMtd", namespaces=NS) == "TRF"
    assert pmt.findtext("p:DbtrAcct/p:Id/p:Othr/p:Id", namespaces=NS) == "9550880000000001"
    assert pmt.findtext("p:Dbtr/p:Nm", namespaces=NS) == debtor.holder_name
    by_number = {tx.findtext("p:CdtrAcct/p:Id/p:Othr/p:Id", namespaces=NS): tx for tx in txs}
    for ln in batch.lines.select_related("bank_details"):
        d = ln.bank_details
        tx = by_number[bankfile.bank_number(d)]
        assert tx.findtext("p:Cdtr/p:Nm", namespaces=NS) == d.holder_name
        assert tx.findtext("p:CdtrAgt/p:FinInstnId/p:Nm", namespaces=NS) == d.bank_name
        assert tx.findtext("p:Amt/p:InstdAmt", namespaces=NS) == bankfile.yuan(ln.amount_fen)
    e2e = [tx.findtext("p:PmtId/p:EndToEndId", namespaces=NS) for tx in txs]
    assert len(set(e2e)) == 3 and all(len(x or "") <= 35 for x in e2e)
    # the same bytes on every export; none once the batch is paid or failed
    assert bankfile.payout_batch_pain001(batch=batch) == body
    payouts.payout_batch_mark(scope=NATIONAL, batch=batch, status="paid")
    batch.refresh_from_db()
    with pytest.raises(ApplicationError) as exc:
        bankfile.payout_batch_pain001(batch=batch)
    assert exc.value.code == "wrong_state"


def test_pages_enter_confirm_hold_and_download(station, people, api_client):
    a, b = people
    _sale(station, "x", 10_000, "producer:p1")
    _cash(people)
    producer = Account.objects.get(kind="producer")
    ca, cb = Client(), Client()
    ca.force_login(a)
    cb.force_login(b)
    r = ca.post(
        f"/ledger/account/{producer.uuid}/bank",
        {"holder_name": "张三", "bank_name": "农行", "account_number": NUMBER},
    )
    assert r.status_code == 302
    page = ca.get(f"/ledger/account/{producer.uuid}/").content.decode()
    assert 'id="bank-pending"' in page and "**** 8901" in page and DIGITS not in page
    assert "bank-decide" not in page and "/decide" not in page  # not for the one who entered
    d = BankDetails.objects.get(account=producer)
    page = cb.get(f"/ledger/account/{producer.uuid}/").content.decode()
    assert f"/ledger/bank/{d.uuid}/decide" in page
    assert ca.post(f"/ledger/bank/{d.uuid}/decide", {"decision": "confirm"}).status_code == 302
    d.refresh_from_db()
    assert d.status == "pending"
    cb.post(f"/ledger/bank/{d.uuid}/decide", {"decision": "confirm"})
    d.refresh_from_db()
    assert d.status == "confirmed"
    r = ca.post(f"/ledger/county/{COUNTY}/payouts", {"note": "周结"})
    batch = PayoutBatch.objects.get()
    page = ca.get(r["Location"]).content.decode()
    assert 'id="payout-held"' in page  # the station: no bank details
    f = ca.get(f"/ledger/payout/{batch.uuid}/pain001.xml")
    assert f.status_code == 200 and f["Content-Type"] == "application/xml"
    assert DIGITS.encode() in f.content
    api = api_client(a).get(f"/api/v1/ledger/payouts/{batch.uuid}/pain001")
    assert api.status_code == 200 and api.content == f.content


def test_api_enters_confirms_lists_masked_and_shows_held(station, people, api_client):
    a, b = people
    _sale(station, "x", 10_000, "producer:p1")
    _cash(people)
    producer = Account.objects.get(kind="producer")
    ca, cb = api_client(a), api_client(b)
    url = f"/api/v1/ledger/accounts/{producer.uuid}/bank-details"
    # the form of each value is in the published schema (ADR 0032)
    for bad in (
        {"holder_name": "张三", "bank_name": "农行", "account_number": "12"},
        {"holder_name": " ", "bank_name": "农行", "account_number": NUMBER},
        {"holder_name": "张三", "bank_name": "", "account_number": NUMBER},
    ):
        r = ca.post(url, bad, content_type="application/json")
        assert (r.status_code, r.json()["code"]) == (422, "validation_error"), bad
    # an account that never receives money: its kind never changes, so 422 (not a 409)
    platform = Account.objects.get(kind="platform")
    r = ca.post(
        f"/api/v1/ledger/accounts/{platform.uuid}/bank-details",
        {"holder_name": "张三", "bank_name": "农行", "account_number": NUMBER},
        content_type="application/json",
    )
    assert (r.status_code, r.json()["code"]) == (422, "not_a_payee")
    r = ca.post(
        url,
        {"holder_name": "张三", "bank_name": "农行", "account_number": NUMBER},
        content_type="application/json",
    )
    assert r.status_code == 201, r.content
    body = r.json()
    assert body["status"] == "pending" and body["account_number_masked"] == "**** 8901"
    assert DIGITS not in r.content.decode()
    decide = f"/api/v1/ledger/bank-details/{body['id']}/decide"
    r = ca.post(decide, {"approve": True}, content_type="application/json")
    assert r.status_code == 403 and r.json()["code"] == "same_person"
    # the station is held (no details), the producer is not yet confirmed: all held
    r = ca.post("/api/v1/ledger/payouts", {"county_code": COUNTY}, content_type="application/json")
    # the payees' bank details are not confirmed yet: the state, a conflict
    assert r.status_code == 409 and r.json()["code"] == "payees_held"
    r = cb.post(decide, {"approve": True}, content_type="application/json")
    assert r.status_code == 200 and r.json()["status"] == "confirmed"
    again = cb.post(decide, {"approve": False}, content_type="application/json")
    assert again.status_code == 409 and again.json()["code"] == "wrong_state"
    listed = cb.get(url).json()
    assert [d["status"] for d in listed] == ["confirmed"] and DIGITS not in str(listed)
    r = ca.post("/api/v1/ledger/payouts", {"county_code": COUNTY}, content_type="application/json")
    assert r.status_code == 201
    held = r.json()["held"]
    assert [h["kind"] for h in held] == ["station"] and held[0]["reason"] == "no_bank_details"
