from __future__ import annotations

from cunzhan.accounts.roles import Role


def test_missing_token_gets_the_error_shape(client):
    response = client.get("/api/v1/accounts/me")
    assert response.status_code == 401
    assert set(response.json()) == {"code", "message", "details"}


def test_invalid_body_gets_a_validation_error_naming_the_field(client, db):
    response = client.post(
        "/api/v1/accounts/token", {"username": "x"}, content_type="application/json"
    )
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "validation_error"
    assert any("password" in e["loc"] for e in body["details"]["errors"])


def test_malformed_json_is_not_a_500(client, db):
    response = client.post("/api/v1/accounts/token", "{not json", content_type="application/json")
    assert 400 <= response.status_code < 500
    assert "code" in response.json()


def test_unknown_region_code_is_a_404_in_the_error_shape(api_client, make_user):
    admin = make_user(Role.NETWORK_ADMIN)
    response = api_client(admin).get("/api/v1/network/regions/abc")
    assert response.status_code == 404
    assert response.json()["code"] == "unknown_region"
