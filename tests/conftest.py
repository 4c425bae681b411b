from __future__ import annotations

import os

import pytest

os.environ.setdefault("CUNZHAN_TESTING", "1")


@pytest.fixture
def regions(db):
    from tests.factories.regions import make_region_tree

    return make_region_tree()


@pytest.fixture
def make_user(db):
    """make_user(role, regions=[...], stations=[...]) -> User (password 'pw-secret-1')."""
    from cunzhan.accounts.services import user_create

    counter = {"n": 0}

    def _make(role: str, *, regions=(), stations=(), username: str | None = None):
        counter["n"] += 1
        user, _ = user_create(
            username=username or f"{role}-{counter['n']}",
            role=role,
            password="pw-secret-1",
            region_codes=list(regions),
            station_ids=list(stations),
        )
        return user

    return _make


@pytest.fixture
def api_client(db):
    """api_client(user) -> a django test Client that sends the user's bearer token."""
    from django.test import Client

    from cunzhan.accounts.services import api_token_create

    def _make(user):
        _, key = api_token_create(user=user)
        return Client(HTTP_AUTHORIZATION=f"Bearer {key}")

    return _make


def pytest_collection_modifyitems(config, items):
    """Browser tests last: their live server shares the in-memory SQLite connection with
    the test thread, so a request still in flight when a browser test ends must not
    overlap another test's queries."""
    for item in items:
        if item.path.parent.name == "e2e":
            item.add_marker(pytest.mark.browser)
    items.sort(key=lambda item: item.get_closest_marker("browser") is not None)
