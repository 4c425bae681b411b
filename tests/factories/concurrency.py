"""Helpers for tests that race two threads on the same row."""

from __future__ import annotations

from django.db import connection


def expected_loser(business_code: str) -> str:
    """What the losing thread sees.

    PostgreSQL: the row lock makes it wait, then the service's own check refuses it
    with ``business_code``. SQLite: the test database is an in-memory database in
    shared-cache mode, where a second writer is refused at once ("database table is
    locked") instead of waiting as it does on a file database (WAL, busy timeout).
    Either way exactly one write wins, which the tests assert on the data.
    """
    return "locked" if connection.vendor == "sqlite" else business_code
