from __future__ import annotations

import os

import pytest

os.environ.setdefault("CUNZHAN_TESTING", "1")

# CUNZHAN_TEST_CLOCK_SHIFT_DAYS=N runs the suite with the clock N days ahead (or behind,
# N < 0): the clock starts at the real now plus N days and ticks on. No test may depend on
# today's date; CI runs the date-sensitive tests (marker ``dates``) shifted (Makefile:
# test-shifted). time-machine moves every clock Python reads (datetime, date, time.time),
# in every thread, so the live server of the browser tests moves with it.
_SHIFT = os.environ.get("CUNZHAN_TEST_CLOCK_SHIFT_DAYS", "").strip()
_traveller = None


def pytest_configure(config):
    global _traveller
    if _SHIFT and int(_SHIFT):
        import datetime as dt

        import time_machine

        start = dt.datetime.now(dt.UTC) + dt.timedelta(days=int(_SHIFT))
        _traveller = time_machine.travel(start, tick=True)
        _traveller.start()


def pytest_report_header(config):
    if _SHIFT and int(_SHIFT):
        import datetime as dt

        return (
            f"clock shifted by {_SHIFT} days: now is {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC"
        )
    return None


def pytest_unconfigure(config):
    if _traveller is not None:
        _traveller.stop()


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


# A test is date-sensitive (marker ``dates``) when its module reads the clock: found from
# the source, so a new test that reads the clock is shifted in CI without a list to keep.
# Tests that rest on a fixture reading the clock carry the marker themselves (the access
# matrix's control tests: its world lives ten days before today).
_CLOCK_READS = ("timezone.now()", "localdate()", "date.today()", "datetime.now(")
_reads_clock: dict[str, bool] = {}


def _module_reads_clock(path) -> bool:
    key = str(path)
    if key not in _reads_clock:
        text = path.read_text(encoding="utf-8")
        _reads_clock[key] = any(needle in text for needle in _CLOCK_READS)
    return _reads_clock[key]


def pytest_collection_modifyitems(config, items):
    """Browser tests last: their live server shares the in-memory SQLite connection with
    the test thread, so a request still in flight when a browser test ends must not
    overlap another test's queries. Date-sensitive tests get the ``dates`` marker."""
    for item in items:
        if item.path.parent.name == "e2e":
            item.add_marker(pytest.mark.browser)
        if _module_reads_clock(item.path):
            item.add_marker(pytest.mark.dates)
    items.sort(key=lambda item: item.get_closest_marker("browser") is not None)
