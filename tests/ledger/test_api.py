"""The ledger API: who sees what, the writes of county managers, bad input."""

from __future__ import annotations

import csv
import io
import uuid

import pytest
from django.test import Client

from cunzhan.accounts.roles import Role
from cunzhan.ledger.models import Account, PayoutBatch
from tests.ledger.conftest import COUNTY, OTHER_COUNTY
from tests.ledger.factories import collected_fees, paid_sale

pytestmark = pytest.mark.django_db
API = "/api/v1/ledger"


@pytest.fixture
def books(station, other_station):
    paid_sale(COUNTY, station, "a", 10_000)
    paid_sale(OTHER_COUNTY, other_station, "b", 7_000, producer="producer:other")
    return station


def _json(client: Client, method: str, url: str, body=None):
    import json

    return client.generic(method, url, json.dumps(body or {}), content_type="application/json")


def test_county_manager_sees_the_county_and_pays_out(books, make_user, api_client):
    c = api_client(make_user(Role.COUNTY_MANAGER, regions=[COUNTY]))
    r = c.get(f"{API}/accounts", {"county": COUNTY})
    assert r.status_code == 200
    items = r.json()["items"]
    kinds = {i["kind"]: i for i in items}
    assert kinds["producer"]["owed_fen"] == 9_200
    assert kinds["buyer"]["label"] == "买**"  # 买家甲, masked
    assert all(i["county_code"] == COUNTY for i in items)
    r = _json(c, "POST", f"{API}/payouts", {"county_code": COUNTY})
    assert r.status_code == 201, r.content
    batch = r.json()
    assert batch["total_fen"] == 9_200 + 300 and batch["status"] == "exported"
    r = c.get(f"{API}/payouts/{batch['id']}/csv")
    assert r.status_code == 200 and r["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert len(rows) == 3 and sum(int(x[6]) for x in rows[1:]) == 9_500
    r = _json(c, "POST", f"{API}/payouts", {"county_code": COUNTY})
    # nothing is owed now: the county's state, a conflict (ADR 0032)
    assert r.status_code == 409 and r.json()["code"] == "nothing_to_pay"
    r = _json(c, "POST", f"{API}/payouts/{batch['id']}/mark", {"status": "paid"})
    assert r.status_code == 200 and r.json()["status"] == "paid"
    r = _json(c, "POST", f"{API}/payouts/{batch['id']}/mark", {"status": "failed"})
    assert r.status_code == 409 and r.json()["code"] == "wrong_state"
    # the other county, named in the body: 422 like an unknown one (a 404 is for the path)
    for county in (OTHER_COUNTY, "999999"):
        r = _json(c, "POST", f"{API}/payouts", {"county_code": county})
        assert r.status_code == 422 and r.json()["code"] == "unknown_county"
        assert r.json()["details"]["field"] == "county_code"


def test_payout_above_owed_is_a_clear_error(books, make_user, api_client):
    c = api_client(make_user(Role.COUNTY_MANAGER, regions=[COUNTY]))
    producer = Account.objects.get(kind="producer", county_id=COUNTY)
    r = _json(
        c, "POST", f"{API}/payouts", {"county_code": COUNTY, "amounts": {str(producer.uuid): 9_201}}
    )
    assert r.status_code == 422
    body = r.json()
    assert body["code"] == "payout_exceeds_owed" and "9200" in body["message"]
    # an account id that names no payable account of the county: owed nothing, also 422
    r = _json(
        c, "POST", f"{API}/payouts", {"county_code": COUNTY, "amounts": {str(uuid.uuid4()): 1}}
    )
    assert r.status_code == 422 and r.json()["code"] == "payout_exceeds_owed"
    assert PayoutBatch.objects.count() == 0


def test_payout_values_are_in_the_schema(books, make_user, api_client):
    """ADR 0032: account ids, positive amounts, payable kinds, a county code and the
    two marks are in the published schema: 422 validation_error, never a 400."""
    c = api_client(make_user(Role.COUNTY_MANAGER, regions=[COUNTY]))
    producer = str(Account.objects.get(kind="producer", county_id=COUNTY).uuid)
    for body in (
        {"county_code": COUNTY, "amounts": {"not-an-id": 5}},
        {"county_code": COUNTY, "amounts": {producer: 0}},
        {"county_code": COUNTY, "kinds": ["platform"]},
        {"county_code": "52"},
    ):
        r = _json(c, "POST", f"{API}/payouts", body)
        assert (r.status_code, r.json()["code"]) == (422, "validation_error"), body
    batch = _json(c, "POST", f"{API}/payouts", {"county_code": COUNTY}).json()
    r = _json(c, "POST", f"{API}/payouts/{batch['id']}/mark", {"status": "exported"})
    assert (r.status_code, r.json()["code"]) == (422, "validation_error")
    assert PayoutBatch.objects.get().status == "exported"


def test_list_filters_are_in_the_schema(books, make_user, api_client):
    c = api_client(make_user(Role.COUNTY_MANAGER, regions=[COUNTY]))
    assert c.get(f"{API}/accounts", {"kind": "producer"}).json()["count"] == 1
    assert c.get(f"{API}/transactions", {"kind": "sale"}).json()["count"] >= 1
    for url, q in (
        (f"{API}/accounts", {"kind": "province"}),
        (f"{API}/transactions", {"kind": "x"}),
    ):
        r = c.get(url, q)
        assert (r.status_code, r.json()["code"]) == (422, "validation_error"), url


def test_openapi_documents_the_files_and_a_ledger_line_of_its_own(client):
    schema = client.get("/api/v1/openapi.json").json()
    paths = schema["paths"]
    csv_ok = paths["/api/v1/ledger/payouts/{payout_id}/csv"]["get"]["responses"]["200"]
    assert list(csv_ok["content"]) == ["text/csv"]
    xml_ok = paths["/api/v1/ledger/payouts/{payout_id}/pain001"]["get"]["responses"]["200"]
    assert list(xml_ok["content"]) == ["application/xml"]
    # commerce's order line and the ledger's line are two components
    components = schema["components"]["schemas"]
    assert "account_id" in components["LedgerLineOut"]["properties"]
    assert "account_id" not in components["OrderLineOut"]["properties"]
    assert "LineOut" not in components


def test_station_operator_sees_only_their_station(books, make_user, api_client):
    op = make_user(Role.STATION_OPERATOR, stations=[books.pk])
    c = api_client(op)
    items = c.get(f"{API}/accounts").json()["items"]
    assert [i["kind"] for i in items] == ["station"]
    r = c.get(f"{API}/stations/{books.pk}/statement")
    assert r.status_code == 200
    assert r.json()["closing_fen"] == -300 and r.json()["station_code"] == books.code
    producer = Account.objects.get(kind="producer", county_id=COUNTY)
    assert c.get(f"{API}/accounts/{producer.uuid}").status_code == 404
    assert c.get(f"{API}/rules/{COUNTY}").status_code == 404
    assert c.get(f"{API}/payouts").json()["items"] == []
    assert _json(c, "POST", f"{API}/payouts", {"county_code": COUNTY}).status_code == 403


def test_auditor_reads_but_does_not_write(books, make_user, api_client):
    c = api_client(make_user(Role.AUDITOR, regions=[COUNTY]))
    assert c.get(f"{API}/transactions", {"county": COUNTY}).json()["count"] == 2
    assert c.get(f"{API}/rules/{COUNTY}").json()["platform_fee_bp"] == 500
    assert _json(c, "PUT", f"{API}/rules/{COUNTY}", {"platform_fee_bp": 1}).status_code == 403
    assert _json(c, "POST", f"{API}/fees/{COUNTY}/post").status_code == 403
    assert _json(c, "POST", f"{API}/payouts", {"county_code": COUNTY}).status_code == 403
    driver = api_client(make_user(Role.DRIVER, regions=[COUNTY]))
    assert driver.get(f"{API}/accounts").status_code == 403


def test_rules_put_and_bad_values(books, make_user, api_client):
    c = api_client(make_user(Role.COUNTY_MANAGER, regions=[COUNTY]))
    r = _json(c, "PUT", f"{API}/rules/{COUNTY}", {"platform_fee_bp": 800})
    assert r.status_code == 200 and r.json()["platform_fee_bp"] == 800 and r.json()["saved"]
    # one value out of range: in the published schema
    r = _json(c, "PUT", f"{API}/rules/{COUNTY}", {"platform_fee_bp": 10_001})
    assert r.status_code == 422 and r.json()["code"] == "validation_error"
    assert r.json()["details"]["errors"][0]["loc"][-1] == "platform_fee_bp"
    # two values that must agree (with the saved ones): 422 naming the rule
    r = _json(
        c, "PUT", f"{API}/rules/{COUNTY}", {"platform_fee_bp": 6000, "station_commission_bp": 6000}
    )
    assert r.status_code == 422 and r.json()["code"] == "invalid_rules"
    assert r.json()["details"]["errors"][0]["field"] == "station_commission_bp"


def test_fee_posting_through_the_api(station, make_user, api_client):
    collected_fees(station, 2)
    c = api_client(make_user(Role.COUNTY_MANAGER, regions=[COUNTY]))
    r = _json(c, "POST", f"{API}/fees/{COUNTY}/post")
    assert r.status_code == 200 and r.json()["fees"] == 2
    assert _json(c, "POST", f"{API}/fees/{COUNTY}/post").json()["fees"] == 0


def test_statement_bad_period(books, make_user, api_client):
    c = api_client(make_user(Role.COUNTY_MANAGER, regions=[COUNTY]))
    producer = Account.objects.get(kind="producer", county_id=COUNTY)
    # not a date: the schema's (typed dates)
    for q in ({"start": "2026-13-01"}, {"end": "Scunthorpe"}):
        r = c.get(f"{API}/accounts/{producer.uuid}/statement", q)
        assert r.status_code == 422 and r.json()["code"] == "validation_error", q
    # dates that must agree with each other, or years the platform cannot mean: 422
    for q in (
        {"start": "2026-05-02", "end": "2026-05-01"},
        {"start": "1900-01-01", "end": "1900-01-02"},
        {"start": "9999-12-30", "end": "9999-12-31"},
        {"start": "2020-01-01", "end": "2026-01-01"},
    ):
        for url in (
            f"{API}/accounts/{producer.uuid}/statement",
            f"{API}/stations/{books.pk}/statement",
        ):
            r = c.get(url, q)
            assert r.status_code == 422 and r.json()["code"] == "invalid_period", (url, q)
    r = c.get(f"{API}/accounts/{producer.uuid}/statement")
    assert r.status_code == 200 and r.json()["closing_fen"] == -9_200


def test_producer_statement_by_owner_key(books, make_user, api_client):
    c = api_client(make_user(Role.COUNTY_MANAGER, regions=[COUNTY]))
    r = c.get(f"{API}/producers/producer:p1/statement")
    assert r.status_code == 200, r.content
    body = r.json()
    assert body["account"]["owner_key"] == "producer:p1" and body["closing_fen"] == -9_200
    assert [ln["kind"] for ln in body["lines"]] == ["sale"]
    # the other county's producer is not found, nor is an unknown key
    assert c.get(f"{API}/producers/producer:other/statement").status_code == 404
    assert c.get(f"{API}/producers/producer:nobody/statement").status_code == 404
    # a producer selling in two counties: the county must be named
    admin = api_client(make_user(Role.NETWORK_ADMIN))
    from cunzhan.ledger import services

    services.account_for(kind="producer", county=OTHER_COUNTY, owner_key="producer:p1")
    r = admin.get(f"{API}/producers/producer:p1/statement")
    assert r.status_code == 422 and r.json()["code"] == "ambiguous_owner"
    r = admin.get(f"{API}/producers/producer:p1/statement", {"county": COUNTY})
    assert r.status_code == 200 and r.json()["closing_fen"] == -9_200
