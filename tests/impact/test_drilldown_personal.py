"""The drill-down lists one row per household (its number and its income): personal
data. It is audited like opening a household's record, and a role without the
register's permission sees village totals only (issue 12, §3)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client

from cunzhan.accounts import roles
from cunzhan.accounts.roles import Perm, Role
from cunzhan.core.models import AuditEvent
from cunzhan.core.scope import RegionScope
from cunzhan.impact.services import indicators_refresh
from cunzhan.registry import services as reg
from tests.impact.conftest import TODAY, V1, V2

API = "/api/v1/impact"
Y = dt.date(2025, 1, 1)


@pytest.fixture
def incomes(regions):
    national = RegionScope.national()
    households = []
    for village, amount in ((V1, 600_000), (V1, 700_000), (V2, 900_000)):
        hh = reg.household_create(scope=national, village_code=village, address="1组")
        reg.poverty_register(household=hh, year_registered=2014, main_cause="illness")
        reg.income_record_set(household=hh, year=2025, source="wages", amount_fen=amount)
        households.append(hh)
    indicators_refresh(county_code="520204", today=TODAY, since=Y)
    return households


def _rows_api(client) -> dict:
    r = client.get(
        f"{API}/indicators/poor_income_fen/regions/520204/rows",
        {"period_type": "year", "period_start": Y.isoformat()},
    )
    assert r.status_code == 200, r.content
    return r.json()


def _reads():
    return AuditEvent.objects.filter(
        action="read", object_type="impact.Indicator", personal_data=True
    )


def test_household_rows_by_api_are_an_audited_personal_data_read(incomes, make_user, api_client):
    officer = make_user(Role.REGISTRY_OFFICER, regions=["520204"])
    body = _rows_api(api_client(officer))
    assert body["total"] == 2_200_000 and len(body["rows"]) == 3
    assert {r["id"] for r in body["rows"]} == {str(h.uuid) for h in incomes}
    (event,) = _reads()
    assert event.actor_name == officer.username and event.object_id == "poor_income_fen"
    assert event.region_code == "520204"
    assert sorted(event.after["households"]) == sorted(str(h.uuid) for h in incomes)


def test_household_rows_page_is_an_audited_personal_data_read(incomes, make_user):
    auditor = make_user(Role.AUDITOR, regions=["520204"])
    c = Client()
    c.force_login(auditor)
    r = c.get(
        "/impact/r/520204/rows/",
        {"indicator": "poor_income_fen", "period_type": "year", "period_start": Y.isoformat()},
    )
    assert r.status_code == 200
    assert incomes[0].number in r.content.decode()
    assert _reads().filter(actor_name=auditor.username).count() == 1


def test_without_the_register_a_role_sees_village_totals_only(
    incomes, make_user, api_client, monkeypatch
):
    """A role that reads the dashboards but not the register (none ships today, but the
    rule must hold for any): no household's own figure, no household id."""
    monkeypatch.setitem(
        roles.ROLE_PERMS, Role.AUDITOR, roles.ROLE_PERMS[Role.AUDITOR] - {Perm.VIEW_REGISTRY}
    )
    viewer = make_user(Role.AUDITOR, regions=["520204"])
    body = _rows_api(api_client(viewer))
    assert body["total"] == 2_200_000
    assert [(r["kind"], r["region_code"], r["amount"]) for r in body["rows"]] == [
        ("village", V1, 1_300_000),
        ("village", V2, 900_000),
    ]
    text = str(body)
    assert not any(str(h.uuid) in text or h.number in text for h in incomes)
    assert not _reads().exists()
    c = Client()
    c.force_login(viewer)
    html = c.get(
        "/impact/r/520204/rows/",
        {"indicator": "poor_income_fen", "period_type": "year", "period_start": Y.isoformat()},
    ).content.decode()
    assert 'id="rows-aggregated"' in html and incomes[0].number not in html


def test_rows_that_are_not_households_are_not_audited(incomes, make_user, api_client):
    manager = api_client(make_user(Role.COUNTY_MANAGER, regions=["520204"]))
    r = manager.get(f"{API}/indicators/jobs/regions/520204/rows", {"period_type": "month"})
    assert r.status_code == 200
    assert not _reads().exists()
