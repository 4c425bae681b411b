"""Helpers for tests that race two threads on the same row."""

from __future__ import annotations

from django.db import connection


def assert_one_winner(outcomes: list[str], business_code: str) -> None:
    """Exactly one thread succeeded; the other was refused cleanly.

    PostgreSQL: the row lock makes the loser wait, then the service's own check
    refuses it with ``business_code``. SQLite: the test database is an in-memory
    database in shared-cache mode, where a writer that overlaps another is refused at
    once ("database table is locked") instead of waiting as on a file database (WAL,
    busy timeout); one that comes after sees ``business_code``. The tests also check
    the data: one write won.
    """
    allowed = {business_code, "locked"} if connection.vendor == "sqlite" else {business_code}
    assert sorted(outcomes)[-1] == "ok" and len(outcomes) == 2, outcomes
    loser = sorted(outcomes)[0]
    assert loser in allowed, outcomes
