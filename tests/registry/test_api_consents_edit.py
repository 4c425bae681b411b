"""API: person PATCH, consents (list, grant, withdraw): validation, scope, permission."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.utils import timezone

from cunzhan.core.models import AuditEvent
from cunzhan.registry import services
from cunzhan.registry.models import Consent, Person
from tests.factories.registry import id_number, make_household, make_person

pytestmark = pytest.mark.django_db
BASE = "/api/v1/registry"


@pytest.fixture
def env(regions, make_user, api_client):
    hh = make_household(address="海坪1组")
    number = id_number(born=dt.date(1966, 4, 4), sex="female")
    person = make_person(
        household=hh, name="罗秀英", sex="female", birth_year=1966, id_number_value=number
    )
    out_person = make_person(household=make_household(village="520203101201"), name="外人")
    officer_user = make_user("registry_officer", regions=["520204"])
    return {
        "person": person,
        "number": number,
        "out_person": out_person,
        "officer_user": officer_user,
        "officer": api_client(officer_user),
        "reader": api_client(make_user("county_manager", regions=["520204"])),
    }


def _patch(client, url, body):
    return client.patch(url, json.dumps(body), content_type="application/json")


def _post(client, url, body):
    return client.post(url, json.dumps(body), content_type="application/json")


def test_patch_person_changes_given_fields_only(env):
    url = f"{BASE}/persons/{env['person'].uuid}"
    r = _patch(env["officer"], url, {"phone": "13911112222", "name": "罗秀芳"})
    assert r.status_code == 200, r.content
    body = r.json()
    assert body["name"] == "罗秀芳" and body["phone"] == "13911112222"
    assert body["sex"] == "female" and body["birth_year"] == 1966
    assert env["number"] not in r.content.decode()
    p = Person.objects.get(pk=env["person"].pk)
    assert p.id_masked == env["person"].id_masked  # no id_number: kept
    assert AuditEvent.objects.filter(object_type="registry.Person", action="update").count() == 1


def test_patch_person_new_id_number_sets_birth_year(env):
    new = id_number(born=dt.date(1967, 2, 3), sex="female")
    r = _patch(env["officer"], f"{BASE}/persons/{env['person'].uuid}", {"id_number": new})
    assert r.status_code == 200, r.content
    assert r.json()["birth_year"] == 1967
    assert r.json()["id_number_masked"].endswith(new[-2:])


@pytest.mark.parametrize(
    "body, field",
    [
        ({"sex": "x"}, "sex"),
        ({"relation": ""}, "relation"),
        ({"birth_year": 1800}, "birth_year"),
        ({"phone": "abc"}, "phone"),
        ({"name": "  "}, "name"),
        ({"id_number": "52020419660404123"}, "id_number"),
    ],
)
def test_patch_person_value_outside_the_schema_is_422(env, body, field):
    """A rule about one value alone is in the published schema (ADR 0032)."""
    r = _patch(env["officer"], f"{BASE}/persons/{env['person'].uuid}", body)
    assert r.status_code == 422, r.content
    assert r.json()["code"] == "validation_error"
    assert r.json()["details"]["errors"][0]["loc"][-1] == field
    assert Person.objects.get(pk=env["person"].pk).name == "罗秀英"


@pytest.mark.parametrize(
    "body, field",
    [
        ({"id_number": "520204196604041234"}, "id_number"),  # the check digit
        ({"birth_year": timezone.localdate().year + 1}, "birth_year"),  # the clock
        ({"birth_year": 1950, "id_number": id_number(born=dt.date(1966, 4, 4))}, "birth_year"),
    ],
)
def test_patch_person_rule_the_schema_cannot_state_is_422(env, body, field):
    r = _patch(env["officer"], f"{BASE}/persons/{env['person'].uuid}", body)
    assert r.status_code == 422, r.content
    assert r.json()["details"]["field"] == field
    assert Person.objects.get(pk=env["person"].pk).name == "罗秀英"


def test_patch_person_scope_and_permission(env):
    assert (
        _patch(
            env["officer"], f"{BASE}/persons/{env['out_person'].uuid}", {"name": "x"}
        ).status_code
        == 404
    )
    assert (
        _patch(env["reader"], f"{BASE}/persons/{env['person'].uuid}", {"name": "x"}).status_code
        == 403
    )
    assert Person.objects.get(pk=env["out_person"].pk).name == "外人"


def test_consents_grant_list_withdraw(env):
    person = env["person"]
    url = f"{BASE}/persons/{person.uuid}/consents"
    r = env["reader"].get(url)
    assert r.status_code == 200 and r.json()["consents"] == []
    r = _post(env["officer"], url, {"purpose": "sms", "method": "phone"})
    assert r.status_code == 201, r.content
    c = r.json()
    assert c["in_force"] and c["recorded_by"] == str(env["officer_user"])
    assert c["person_id"] == str(person.uuid)
    # again for the same purpose: the one in force, not a second
    r = _post(env["officer"], url, {"purpose": "sms", "method": "paper"})
    assert r.status_code == 201 and r.json()["id"] == c["id"]
    assert Consent.objects.filter(person=person).count() == 1
    listed = env["reader"].get(url).json()
    assert listed["person_name"] == "罗秀英" and [x["purpose"] for x in listed["consents"]] == [
        "sms"
    ]
    w = f"{BASE}/consents/{c['id']}/withdraw"
    assert _post(env["reader"], w, {}).status_code == 403
    r = _post(env["officer"], w, {})
    assert r.status_code == 200 and r.json()["in_force"] is False
    r = _post(env["officer"], w, {})
    # the consent's state forbids it: a conflict (ADR 0032)
    assert r.status_code == 409 and r.json()["code"] == "already_withdrawn"
    events = AuditEvent.objects.filter(object_type="registry.Consent", object_id=str(c["id"]))
    assert events.count() == 2 and all(e.personal_data for e in events)


def test_consent_bad_input(env):
    url = f"{BASE}/persons/{env['person'].uuid}/consents"
    # the purposes, methods and the form of a time are in the published schema
    for bad in (
        {"purpose": "marketing", "method": "paper"},
        {"purpose": "", "method": ""},
        {"purpose": "sms"},
        {"purpose": "sms", "method": "paper", "granted_at": 0},
        {"purpose": "sms", "method": "paper", "granted_at": "0001-01-01T00:00:00Z"},
    ):
        r = _post(env["officer"], url, bad)
        assert (r.status_code, r.json()["code"]) == (422, "validation_error"), bad
    # the clock is not: 422 naming the field
    future = (timezone.now() + dt.timedelta(days=3)).isoformat()
    r = _post(env["officer"], url, {"purpose": "sms", "method": "paper", "granted_at": future})
    assert r.status_code == 422 and r.json()["details"]["field"] == "granted_at"
    granted = timezone.now() - dt.timedelta(days=10)
    consent = services.consent_grant(
        person=env["person"], purpose="sms", method="paper", granted_at=granted
    )
    before = (granted - dt.timedelta(days=1)).isoformat()
    r = _post(env["officer"], f"{BASE}/consents/{consent.pk}/withdraw", {"withdrawn_at": before})
    assert r.status_code == 422 and r.json()["details"]["field"] == "withdrawn_at"
    consent.refresh_from_db()
    assert consent.withdrawn_at is None
    for bad in ("abc", "0", "99999999999999999999"):
        r = _post(env["officer"], f"{BASE}/consents/{bad}/withdraw", {})
        assert r.status_code in (400, 404, 422), bad


def test_consents_out_of_scope_404(env):
    out = env["out_person"]
    consent = services.consent_grant(person=out, purpose="sms", method="paper")
    assert env["officer"].get(f"{BASE}/persons/{out.uuid}/consents").status_code == 404
    r = _post(
        env["officer"], f"{BASE}/persons/{out.uuid}/consents", {"purpose": "sms", "method": "paper"}
    )
    assert r.status_code == 404
    assert _post(env["officer"], f"{BASE}/consents/{consent.pk}/withdraw", {}).status_code == 404
    consent.refresh_from_db()
    assert consent.withdrawn_at is None and Consent.objects.filter(person=out).count() == 1
