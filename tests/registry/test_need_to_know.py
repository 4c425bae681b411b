"""A station operator sees what station work needs (names and household numbers for
hand-out, producers and enrolment), never the register's phones, birth years, ID
numbers, poverty status or incomes (issue 12, §3)."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from cunzhan.accounts.roles import Role
from cunzhan.registry import services
from tests.factories.registry import make_household, make_person

PHONE = "13812345678"


@pytest.fixture
def village(regions):
    hh = make_household(number="HH-77")
    head = make_person(household=hh, name="杨德福", phone=PHONE, birth_year=1961)
    services.poverty_register(household=hh, year_registered=2015, main_cause="illness")
    services.income_record_set(household=hh, year=2024, source="wages", amount_fen=1234567)
    outside = make_household(village="520203101201")
    make_person(household=outside, name="外村人")
    return {"hh": hh, "head": head}


def _login(user) -> Client:
    c = Client()
    c.force_login(user)
    return c


SECRETS = (PHONE, "12345.67", "12,345.67", "1234567", "id_number_masked")


def test_operator_is_refused_the_register_api(village, make_user, api_client):
    operator = api_client(make_user(Role.STATION_OPERATOR, regions=["520204"]))
    hh = village["hh"]
    assert operator.get("/api/v1/registry/households").status_code == 403
    assert operator.get(f"/api/v1/registry/households/{hh.uuid}").status_code == 403
    assert (
        operator.get(f"/api/v1/registry/persons/{village['head'].uuid}/consents").status_code == 403
    )


def test_operator_is_refused_the_register_pages(village, make_user):
    c = _login(make_user(Role.STATION_OPERATOR, regions=["520204"]))
    assert c.get(reverse("registry:households")).status_code == 403
    assert c.get(reverse("registry:household", args=[village["hh"].uuid])).status_code == 403
    home = c.get("/").content.decode()
    assert reverse("registry:households") + '"' not in home  # no link to a 403
    assert reverse("registry:residents") in home


def test_operator_finds_names_in_the_directory_api(village, make_user, api_client):
    operator = api_client(make_user(Role.STATION_OPERATOR, regions=["520204"]))
    r = operator.get("/api/v1/registry/residents", {"q": "杨德"})
    assert r.status_code == 200
    body = r.content.decode()
    data = r.json()
    assert data["count"] == 1
    item = data["items"][0]
    assert item["number"] == "HH-77" and item["id"] == str(village["hh"].uuid)
    assert item["members"] == [
        {"id": str(village["head"].uuid), "name": "杨德福", "relation": "head"}
    ]
    for secret in (*SECRETS, "1961", "poverty", "income", "phone", "illness"):
        assert secret not in body, secret
    assert "外村人" not in operator.get("/api/v1/registry/residents").content.decode()


def test_operator_finds_names_in_the_directory_page(village, make_user):
    c = _login(make_user(Role.STATION_OPERATOR, regions=["520204"]))
    r = c.get(reverse("registry:residents"), {"q": "杨德"})
    html = r.content.decode()
    assert r.status_code == 200 and "杨德福" in html and "HH-77" in html
    for secret in (*SECRETS, "1961", "¥", "因病"):
        assert secret not in html, secret
    # no link into the register the operator cannot open
    assert reverse("registry:household", args=[village["hh"].uuid]) not in html


def test_registry_officer_still_reads_the_register(village, make_user, api_client):
    officer = api_client(make_user(Role.REGISTRY_OFFICER, regions=["520204"]))
    r = officer.get(f"/api/v1/registry/households/{village['hh'].uuid}")
    assert r.status_code == 200
    assert r.json()["members"][0]["phone"] == PHONE
    assert r.json()["incomes"][0]["amount_fen"] == 1234567
    c = _login(make_user(Role.REGISTRY_OFFICER, regions=["520204"]))
    html = c.get(reverse("registry:residents")).content.decode()
    assert reverse("registry:household", args=[village["hh"].uuid]) in html
