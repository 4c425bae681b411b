"""Schemathesis: requests generated from the OpenAPI schema never get a 5xx.

Runs against the WSGI app in-process, authenticated as a network admin (the role that
reaches every code path) over the small region tree.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from cunzhan.devtools.openapi import openapi_schema

schema = schemathesis.openapi.from_dict(openapi_schema())
STATUSES: list[int] = []


@pytest.fixture
def keep_db_connection():
    """Calling the WSGI app directly fires request_started/finished, whose handler closes
    the database connection; the test client disconnects it and so do we (PostgreSQL
    would otherwise lose the test transaction)."""
    from django.core import signals
    from django.db import close_old_connections

    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture
def admin_headers(db, regions, keep_db_connection):
    from cunzhan.accounts.roles import Role
    from cunzhan.accounts.services import api_token_create, user_create

    user, _ = user_create(username="fuzz-admin", role=Role.NETWORK_ADMIN, password="pw-secret-1")
    _, key = api_token_create(user=user)
    return {"Authorization": f"Bearer {key}"}


@pytest.mark.slow
@schema.parametrize()
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_no_server_errors(case, admin_headers):
    from cunzhan.config.wsgi import application

    response = case.call(app=application, headers=admin_headers)
    STATUSES.append(response.status_code)
    assert response.status_code < 500, (
        f"{case.method} {case.formatted_path} -> {response.status_code}: {response.text[:500]}"
    )


@pytest.mark.slow
def test_the_fuzz_run_reached_the_endpoints():
    """Guards the test above: it must have produced successful responses, not only 401/404s."""
    assert any(200 <= s < 300 for s in STATUSES), STATUSES[:50]
