"""A NUL character anywhere in a request is refused with a clear message, never a 500:
422 from the API (a JSON string may hold one, ADR 0032), 400 from a page."""

from __future__ import annotations

import pytest

from cunzhan.accounts.roles import Role


@pytest.mark.parametrize(
    ("method", "path", "kwargs"),
    [
        ("get", "/api/v1/registry/households", {"data": {"q": "a\x00b"}}),
        ("get", "/api/v1/accounts/users", {"data": {"q": "a\x00b"}}),
        (
            "post",
            "/api/v1/registry/households",
            {
                "data": '{"village_code": "520204106201", "address": "a\\u0000b"}',
                "content_type": "application/json",
            },
        ),
        (
            "post",
            "/api/v1/accounts/token",
            {
                "data": '{"username": "a\\u0000", "password": "x"}',
                "content_type": "application/json",
            },
        ),
    ],
)
def test_api_refuses_nul(api_client, make_user, regions, method, path, kwargs):
    client = api_client(make_user(Role.NETWORK_ADMIN))
    response = getattr(client, method)(path, **kwargs)
    assert response.status_code == 422
    assert response.json()["code"] == "invalid_text"


def test_pages_refuse_nul(client, make_user, regions):
    client.force_login(make_user(Role.AUDITOR, regions=["5202"]))
    assert client.get("/audit/", {"actor": "a\x00b"}).status_code == 400
    assert client.post("/login/", {"username": "a\x00", "password": "x"}).status_code == 400
    assert client.get("/audit/", {"actor": "ab"}).status_code == 200


def test_service_level_guard_names_the_field():
    from cunzhan.core.errors import ApplicationError
    from cunzhan.core.validation import reject_nul

    with pytest.raises(ApplicationError) as exc:
        reject_nul(name="ok", address="x\x00y")
    assert exc.value.details == {"field": "address"}


@pytest.mark.parametrize("body", ["[null, null]", "3", '"text"', "null"])
def test_a_json_body_that_is_not_an_object_is_refused(api_client, make_user, regions, body):
    """ninja's schemas read attributes from whatever they are given: a list body passed
    as an object with no fields, and a close or a patch went through (ADR 0032)."""
    from tests.factories.stations import make_station

    from cunzhan.network.models import Station

    station = make_station("520204106201", "active")
    client = api_client(make_user(Role.NETWORK_ADMIN))
    response = client.post(
        f"/api/v1/network/stations/{station.pk}/close", data=body, content_type="application/json"
    )
    assert response.status_code == 400, response.content
    assert response.json()["code"] == "invalid_body"
    assert Station.objects.get(pk=station.pk).status == "active"
