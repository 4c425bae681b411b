"""Relapse-risk monitoring through the API and the pages: scoped lists and counts, a
case's detail (audited read), the follow-up steps and their errors, the county scan;
a county user never sees another county's cases (404)."""

from __future__ import annotations

import json

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from cunzhan.accounts.roles import Role
from cunzhan.core.models import AuditEvent
from cunzhan.impact import risk
from cunzhan.impact.risk_models import RiskCase
from cunzhan.registry import services as registry
from tests.factories.registry import make_household, make_person

V1 = "520204106201"
V2 = "520204106202"
OUT_V = "520203101201"
YEAR = 2023


def flagged_household(village: str, fen: int = 300_000):
    hh = make_household(village=village)
    make_person(household=hh, name="王秘密", with_id=False)
    registry.poverty_register(household=hh, year_registered=2015, main_cause="illness")
    registry.income_record_set(household=hh, year=YEAR, source="wages", amount_fen=fen)
    return hh


@pytest.fixture
def world(regions, make_user):
    a = flagged_household(V1)
    b = flagged_household(V2, 100_000)
    out = flagged_household(OUT_V)
    risk.risk_scan(county_code="520204", year=YEAR)
    risk.risk_scan(county_code="520203", year=YEAR)
    return {
        "a": RiskCase.objects.get(household=a),
        "b": RiskCase.objects.get(household=b),
        "out": RiskCase.objects.get(household=out),
        "cm": make_user(Role.COUNTY_MANAGER, regions=["520204"], username="cm"),
        "ro": make_user(Role.REGISTRY_OFFICER, regions=["520204"], username="ro"),
        "out_ro": make_user(Role.REGISTRY_OFFICER, regions=["520203"], username="out-ro"),
        "auditor": make_user(Role.AUDITOR, regions=["520204"], username="aud"),
        "op": make_user(Role.DRIVER, regions=["520204"], username="drv"),
    }


def post(client, url, body):
    return client.post(url, json.dumps(body), content_type="application/json")


API = "/api/v1/impact/risk"


def test_list_is_scoped_and_filtered(world, api_client):
    client = api_client(world["cm"])
    r = client.get(f"{API}/cases")
    assert r.status_code == 200
    body = r.json()
    assert body["count"] == 2
    assert {c["village_code"] for c in body["items"]} == {V1, V2}
    # highest score first: B (¥1,000 for one person) and A tie on the rule score
    first = body["items"][0]
    assert first["reasons"][0]["code"] == "income_below_line"
    assert first["reasons"][0]["label"] == "人均纯收入低于监测线"
    assert "王秘密" not in r.content.decode()  # no names
    assert client.get(f"{API}/cases", {"region": V2}).json()["count"] == 1
    assert client.get(f"{API}/cases", {"region": "520203"}).json()["count"] == 0
    assert client.get(f"{API}/cases", {"status": "closed"}).json()["count"] == 0
    # the statuses are an enum of the published schema
    bad = client.get(f"{API}/cases", {"status": "lost"})
    assert bad.status_code == 422 and bad.json()["code"] == "validation_error"
    bad = client.get(f"{API}/townships", {"region": "5x"})
    assert bad.status_code == 422 and bad.json()["code"] == "validation_error"
    towns = client.get(f"{API}/townships").json()
    assert towns == [
        {
            "code": "520204106",
            "name": "玉舍镇",
            "active": 2,
            "open": 2,
            "assigned": 0,
            "visited": 0,
            "closed": 0,
        }
    ]


@pytest.mark.parametrize("region", ["²", "١٢", "５２０２", "5202²"])
def test_a_region_of_unicode_digits_is_refused_like_any_other_bad_code(world, api_client, region):
    """The API's schema states the region's pattern (ASCII digits): 422 from ninja, naming
    the parameter (ADR 0032); the page refuses it with 400."""
    client = api_client(world["cm"])
    for url in (f"{API}/townships", f"{API}/cases"):
        r = client.get(url, {"region": region})
        assert r.status_code == 422, (url, r.content)
        assert r.json()["code"] == "validation_error"
        assert r.json()["details"]["errors"][0]["loc"][-1] == "region"
    # the schemathesis case, as it was sent
    assert client.get(f"{API}/townships?region=%C2%B2").status_code == 422
    assert login(world["cm"]).get(reverse("impact:risk"), {"region": region}).status_code == 400


def test_another_county_is_404_and_roles_without_the_permission_are_403(world, api_client):
    out = world["out"]
    client = api_client(world["cm"])
    for url in (
        f"{API}/cases/{out.uuid}",
        f"{API}/cases/{out.uuid}/visits",
    ):
        method = client.get if url.endswith(str(out.uuid)) else None
        r = method(url) if method else post(client, url, {"day": "2026-11-01", "findings": "x"})
        assert r.status_code == 404, url
    r = post(client, f"{API}/scan/520203", {})
    assert r.status_code == 404
    assert RiskCase.objects.get(pk=out.pk).status == "open"
    r = api_client(world["op"]).get(f"{API}/cases")
    assert r.status_code == 403
    # an auditor reads but does not act
    aud = api_client(world["auditor"])
    assert aud.get(f"{API}/cases/{world['a'].uuid}").status_code == 200
    r = post(aud, f"{API}/cases/{world['a'].uuid}/assign", {"assignee_id": world["ro"].pk})
    assert r.status_code == 403


def test_follow_up_through_the_api(world, api_client):
    client = api_client(world["cm"])
    case = world["a"]
    url = f"{API}/cases/{case.uuid}"
    r = client.get(url)
    assert r.status_code == 200
    assert r.json()["incomes"] == [
        {"year": YEAR, "total_fen": 300_000, "per_capita_fen": 300_000, "members": 1}
    ]
    assert AuditEvent.objects.filter(
        object_type="impact.RiskCase", action="read", personal_data=True, actor_name="cm"
    ).exists()
    r = post(client, f"{url}/visits", {"day": "2026-11-01", "findings": "x"})
    assert r.status_code == 409 and r.json()["code"] == "case_not_assigned"
    r = post(client, f"{url}/assign", {"assignee_id": world["out_ro"].pk})
    assert r.status_code == 422 and r.json()["code"] == "assignee_out_of_scope"
    r = post(client, f"{url}/assign", {"assignee_id": 0})
    assert r.status_code == 422 and r.json()["code"] == "validation_error"
    r = post(client, f"{url}/assign", {"assignee_id": 2**40})
    assert r.status_code == 422 and r.json()["code"] == "assignee_out_of_scope"
    r = post(client, f"{url}/assign", {"assignee_id": world["ro"].pk})
    assert r.status_code == 200 and r.json()["status"] == "assigned"
    assert r.json()["assignee_username"] == "ro"
    ro = api_client(world["ro"])
    r = post(ro, f"{url}/visits", {"day": "2026-11-02", "findings": ""})
    assert r.status_code == 422 and r.json()["code"] == "validation_error"
    r = post(ro, f"{url}/visits", {"day": "2099-01-01", "findings": "明天"})
    assert r.status_code == 422 and r.json()["code"] == "date_in_future"
    r = post(ro, f"{url}/close", {"outcome": "stabilised"})
    assert r.status_code == 409 and r.json()["code"] == "case_not_visited"
    r = post(ro, f"{url}/visits", {"day": "2026-11-02", "findings": "务工收入中断"})
    assert r.status_code == 200 and r.json()["status"] == "visited"
    r = post(
        ro,
        f"{url}/assistance",
        {"kind": "employment", "day": "2026-11-03", "amount_fen": 80_000, "note": "公益岗位"},
    )
    assert r.status_code == 200
    assert r.json()["events"][-1]["assistance_kind"] == "employment"
    assert r.json()["events"][-1]["amount_fen"] == 80_000
    r = post(ro, f"{url}/assistance", {"kind": "cash", "day": "2026-11-03"})
    assert r.status_code == 422 and r.json()["code"] == "validation_error"
    r = post(ro, f"{url}/close", {"outcome": ""})
    assert r.status_code == 422 and r.json()["code"] == "validation_error"
    r = post(ro, f"{url}/close", {"outcome": "other", "note": " "})
    assert r.status_code == 422 and r.json()["code"] == "required"
    r = post(ro, f"{url}/close", {"outcome": "stabilised", "note": "已就业"})
    assert r.status_code == 200 and r.json()["status"] == "closed"
    assert [e["kind"] for e in r.json()["events"]] == [
        "flagged",
        "assigned",
        "visit",
        "assistance",
        "closed",
    ]
    r = post(ro, f"{url}/close", {"outcome": "stabilised"})
    assert r.status_code == 409 and r.json()["code"] == "case_closed"
    r = post(ro, f"{url}/visits", {"day": "2026-11-04", "findings": "again"})
    assert r.status_code == 409 and r.json()["code"] == "case_closed"
    r = client.get(f"{API}/cases", {"status": "closed"})
    assert r.json()["count"] == 1


def test_scan_through_the_api_is_idempotent(world, api_client):
    client = api_client(world["cm"])
    r = post(client, f"{API}/scan/520204", {"year": YEAR})
    assert r.status_code == 200
    assert {k: r.json()[k] for k in ("flagged", "opened", "unchanged")} == {
        "flagged": 2,
        "opened": 0,
        "unchanged": 2,
    }
    # a higher threshold for this scan only: nobody reaches it (open cases stay open)
    r = post(client, f"{API}/scan/520204", {"year": YEAR, "threshold": 1000})
    assert r.json()["flagged"] == 0
    r = post(client, f"{API}/scan/520204", {"year": 1999})
    assert r.status_code == 422 and r.json()["code"] == "validation_error"
    r = post(client, f"{API}/scan/520204", {"year": timezone.localdate().year + 1})
    assert r.status_code == 422 and r.json()["code"] == "invalid_year"
    r = post(client, f"{API}/scan/52x", {"year": YEAR})
    assert r.status_code == 422 and r.json()["code"] == "validation_error"
    assert RiskCase.objects.filter(village__code__startswith="520204").count() == 2


# --- pages --------------------------------------------------------------------------------


def login(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_queue_page_lists_the_townships_and_cases(world):
    client = login(world["cm"])
    r = client.get(reverse("impact:risk"))
    html = r.content.decode()
    assert r.status_code == 200
    assert "玉舍镇" in html and "海坪村村民委员会" in html and "玉舍村村民委员会" in html
    assert "那玉村" not in html and "王秘密" not in html
    assert html.count("data-case=") == 2
    assert reverse("impact:risk_scan", kwargs={"county_code": "520204"}) in html
    r = client.get(reverse("impact:risk"), {"region": V2})
    assert r.content.decode().count("data-case=") == 1
    r = client.get(reverse("impact:risk"), {"status": "nope"})
    assert r.status_code == 400


def test_case_page_and_its_forms(world):
    case = world["a"]
    client = login(world["cm"])
    url = reverse("impact:risk_case", kwargs={"case_id": case.uuid})
    html = client.get(url).content.decode()
    assert "人均纯收入低于监测线" in html and "¥3,000.00" in html and "¥6,900.00" in html
    assert "王秘密" not in html
    assert 'id="assign-form"' in html and ">ro · " in html
    r = client.post(reverse("impact:risk_visit", kwargs={"case_id": case.uuid}), {"day": ""})
    assert r.status_code == 400 and "assign the case" in r.content.decode()
    r = client.post(
        reverse("impact:risk_assign", kwargs={"case_id": case.uuid}),
        {"assignee": str(world["ro"].pk)},
    )
    assert r.status_code == 302 and r["Location"] == url
    r = client.post(
        reverse("impact:risk_visit", kwargs={"case_id": case.uuid}),
        {"day": "2026-11-02", "findings": "家中有病人"},
    )
    assert r.status_code == 302
    r = client.post(
        reverse("impact:risk_assistance", kwargs={"case_id": case.uuid}),
        {"kind": "health", "day": "2026-11-02", "amount_yuan": "1,500.50", "note": "医保"},
    )
    assert r.status_code == 302
    r = client.post(
        reverse("impact:risk_close", kwargs={"case_id": case.uuid}),
        {"outcome": "risk_removed", "note": ""},
    )
    assert r.status_code == 302
    html = client.get(url).content.decode()
    assert 'data-status="closed"' in html and "¥1,500.50" in html and "健康帮扶" in html
    assert 'id="visit-form"' not in html  # closed: no more forms
    # the auditor reads the page without forms; another county's user gets 404
    assert 'id="assign-form"' not in login(world["auditor"]).get(url).content.decode()
    assert login(world["out_ro"]).get(url).status_code == 404
    r = login(world["out_ro"]).post(
        reverse("impact:risk_close", kwargs={"case_id": case.uuid}), {"outcome": "other"}
    )
    assert r.status_code == 404


def test_scan_page_button(world):
    client = login(world["cm"])
    r = client.post(reverse("impact:risk_scan", kwargs={"county_code": "520204"}), {"year": "2023"})
    assert r.status_code == 302 and "region=520204" in r["Location"]
    assert (
        login(world["cm"])
        .post(reverse("impact:risk_scan", kwargs={"county_code": "520203"}), {"year": "2023"})
        .status_code
        == 404
    )
    before = AuditEvent.objects.filter(object_type="impact.RiskScan").count()
    r = client.post(reverse("impact:risk_scan", kwargs={"county_code": "520204"}), {"year": "1990"})
    assert r.status_code == 400
    assert AuditEvent.objects.filter(object_type="impact.RiskScan").count() == before


def test_the_pages_and_reasons_follow_the_readers_language(world):
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(world["cm"])
    html = client.get(reverse("impact:risk")).content.decode()
    assert "Monitored households by township" in html and "Scan the county" in html
    assert "Per-capita income below the monitoring line" in html
    url = reverse("impact:risk_case", kwargs={"case_id": world["a"].uuid})
    html = client.get(url).content.decode()
    assert "Per-capita net income ¥3,000.00, below the 2023 monitoring line of ¥6,900.00" in html
    assert "Why it was flagged" in html and "人均纯收入低于监测线" not in html
