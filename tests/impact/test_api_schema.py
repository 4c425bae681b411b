"""The impact API and its published schema agree (ADR 0032): a value the schema refuses
is 422 ``validation_error``; a schema-valid request that breaks a rule the schema cannot
state (a reversed range, a year after this one, an assignee outside the case's regions)
is 422 with the rule's code; a step refused for the case's state is 409."""

from __future__ import annotations

import json

import pytest
from django.utils import timezone

from cunzhan.accounts.roles import Role
from cunzhan.config.api import api

API = "/api/v1/impact"


def refused(r, code="validation_error", status=422):
    assert r.status_code == status, r.content
    assert r.json()["code"] == code, r.content


@pytest.fixture
def manager(regions, make_user, api_client):
    return api_client(make_user(Role.COUNTY_MANAGER, regions=["520204"]))


@pytest.mark.parametrize(
    ("path", "query"),
    [
        ("indicators/parcels_down/regions/0/values", {}),
        ("indicators/parcels_down/regions/520204/values", {"period_type": "fortnight"}),
        ("indicators/parcels_down/regions/520204/values", {"start": "0"}),
        ("indicators/parcels_down/regions/520204/values", {"start": "1990-01-01"}),
        ("indicators/parcels_down/regions/520204/rows", {"part": "x"}),
        ("indicators/parcels_down/regions/520204/export", {"format": "pdf"}),
        ("indicators/parcels_down/regions/520204/export", {"table": "rows"}),
        ("regions/CN/events", {}),
        ("regions/520204/events", {"kind": "orders"}),
        ("rollup", {"region": "\x1c"}),
        ("rollup", {"first": "2026-13"}),
        ("rollup", {"source": "wages"}),
        ("risk/cases", {"status": "proposed"}),
        ("risk/cases", {"region": "5x"}),
        ("risk/townships", {"region": "\U0010abcd"}),
        ("public/values", {"year": "0"}),
        ("public/values", {"region": "52x"}),
    ],
)
def test_values_outside_the_schema_are_422(manager, path, query):
    refused(manager.get(f"{API}/{path}", query))


@pytest.mark.parametrize(
    ("path", "query", "code"),
    [
        ("values", {"start": "2026-10-07", "end": "2026-10-01"}, "period_out_of_range"),
        ("values", {"start": "2000-01-01", "end": "2026-10-01"}, "period_out_of_range"),
        ("export", {"start": "2026-10-07", "end": "2026-10-01"}, "period_out_of_range"),
        ("children", {"period_type": "month", "period_start": "2026-10-05"}, "period_not_aligned"),
    ],
)
def test_ranges_that_break_a_rule_are_422(manager, path, query, code):
    r = manager.get(f"{API}/indicators/parcels_down/regions/520204/{path}", query)
    refused(r, code)


def test_a_period_type_finer_than_the_indicator_is_422(manager):
    r = manager.get(
        f"{API}/indicators/village_stations_active/regions/520204/values", {"period_type": "day"}
    )
    refused(r, "invalid_period")


def test_an_event_range_too_long_is_422(manager):
    r = manager.get(f"{API}/regions/520204/events", {"first": "2000-01-01"})
    refused(r, "period_out_of_range")


def test_a_rollup_range_too_long_is_422(manager):
    r = manager.get(f"{API}/rollup", {"first": "2000-01", "last": "2026-01"})
    refused(r, "period_out_of_range")


def test_a_public_year_after_this_one_is_422(regions, client):
    r = client.get(f"{API}/public/values", {"year": timezone.localdate().year + 1})
    refused(r, "period_out_of_range")


def test_exports_document_their_content_types():
    paths = json.loads(json.dumps(api.get_openapi_schema()))["paths"]
    for path in (
        f"{API}/indicators/{{indicator_code}}/regions/{{code}}/export",
        f"{API}/regions/{{code}}/events",
    ):
        content = paths[path]["get"]["responses"]["200"]["content"]
        assert "text/csv" in content and "application/vnd.apache.parquet" in content


def test_the_columnar_source_without_a_snapshot_is_422(manager, settings, tmp_path):
    settings.COLUMNAR_DIR = tmp_path / "columnar"
    r = manager.get(f"{API}/rollup", {"source": "columnar"})
    refused(r, "no_snapshot")
