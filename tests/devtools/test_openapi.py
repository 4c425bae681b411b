"""The committed OpenAPI schema must match the code (regenerate with `make openapi`)."""

from __future__ import annotations

from cunzhan.devtools.openapi import SCHEMA_PATH, openapi_text


def test_committed_openapi_schema_matches_the_code():
    committed = SCHEMA_PATH.read_text(encoding="utf-8")
    assert committed == openapi_text(), (
        "docs/openapi.json is out of date: run `make openapi` and commit it"
    )


def test_schema_is_served(client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    assert response.json()["info"]["title"] == "cunzhan API"
