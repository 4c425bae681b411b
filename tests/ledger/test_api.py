"""The ledger API: who sees what, the writes of county managers, bad input."""

from __future__ import annotations

import csv
import io

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
    assert r.status_code == 400 and r.json()["code"] == "nothing_to_pay"
    r = _json(c, "POST", f"{API}/payouts/{batch['id']}/mark", {"status": "paid"})
    assert r.status_code == 200 and r.json()["status"] == "paid"
    r = _json(c, "POST", f"{API}/payouts/{batch['id']}/mark", {"status": "failed"})
    assert r.status_code == 409 and r.json()["code"] == "wrong_state"
    # the other county: not found
    r = _json(c, "POST", f"{API}/payouts", {"county_code": OTHER_COUNTY})
    assert r.status_code == 404


def test_payout_above_owed_is_a_clear_error(books, make_user, api_client):
    c = api_client(make_user(Role.COUNTY_MANAGER, regions=[COUNTY]))
    producer = Account.objects.get(kind="producer", county_id=COUNTY)
    r = _json(
        c, "POST", f"{API}/payouts", {"county_code": COUNTY, "amounts": {str(producer.uuid): 9_201}}
    )
    assert r.status_code == 400
    body = r.json()
    assert body["code"] == "payout_exceeds_owed" and "9200" in body["message"]
    assert PayoutBatch.objects.count() == 0


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
    r = _json(c, "PUT", f"{API}/rules/{COUNTY}", {"platform_fee_bp": 10_001})
    assert r.status_code == 400 and r.json()["code"] == "invalid_rules"
    assert r.json()["details"]["errors"][0]["field"] == "platform_fee_bp"


def test_fee_posting_through_the_api(station, make_user, api_client):
    collected_fees(station, 2)
    c = api_client(make_user(Role.COUNTY_MANAGER, regions=[COUNTY]))
    r = _json(c, "POST", f"{API}/fees/{COUNTY}/post")
    assert r.status_code == 200 and r.json()["fees"] == 2
    assert _json(c, "POST", f"{API}/fees/{COUNTY}/post").json()["fees"] == 0


def test_statement_bad_period(books, make_user, api_client):
    c = api_client(make_user(Role.COUNTY_MANAGER, regions=[COUNTY]))
    producer = Account.objects.get(kind="producer", county_id=COUNTY)
    for q in ({"start": "2026-13-01"}, {"start": "2026-05-02", "end": "2026-05-01"}):
        r = c.get(f"{API}/accounts/{producer.uuid}/statement", q)
        assert r.status_code == 400 and r.json()["code"] == "invalid_period"
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
    assert r.status_code == 400 and r.json()["code"] == "ambiguous_owner"
    r = admin.get(f"{API}/producers/producer:p1/statement", {"county": COUNTY})
    assert r.status_code == 200 and r.json()["closing_fen"] == -9_200
