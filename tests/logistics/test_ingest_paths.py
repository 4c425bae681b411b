"""The ingest's PostgreSQL plumbing: array literals, the planner setting of a batch,
and a foreign key that fails at commit (docs/adr/0010-event-ingest.md)."""

from __future__ import annotations

import datetime as dt
import json
import types

import pytest
from django.db import connection, transaction

from cunzhan.core.errors import ApplicationError
from cunzhan.core.scope import RegionScope
from cunzhan.logistics import services
from cunzhan.logistics import statemachine as sm
from cunzhan.logistics.models import Parcel, ScanEvent
from tests.factories.regions import make_region_tree
from tests.factories.stations import make_station
from tests.logistics.conftest import VILLAGE, row

NATIONAL = RegionScope.national()
T0 = dt.datetime(2026, 11, 2, 8, tzinfo=dt.UTC)
AWKWARD = ["a", 'b"c', "d\\e", "NULL", "", " x ", "{,}", "村站"]


def test_array_literals():
    assert services._pg_array([1, 2, 3]) == "{1,2,3}"
    assert services._pg_array([]) == "{}"
    assert services._pg_array(["a", "b"]) == '{"a","b"}'
    assert services._pg_array(['b"c', "d\\e"]) == '{"b\\"c","d\\\\e"}'
    assert services._pg_array([1, None, "x"]) == '{1,NULL,"x"}'
    with pytest.raises(TypeError, match="bool"):
        services._pg_array([True])


@pytest.mark.django_db
def test_array_literals_read_back_as_the_values():
    if connection.vendor != "postgresql":  # SQLite gets a JSON array instead
        cond, params = services._in("x", AWKWARD, "text")
        assert "json_each" in cond and params == [json.dumps(AWKWARD)]
        return
    with connection.cursor() as cur:
        for values, sql_type in [
            (AWKWARD, "text"),
            ([7, None, 9], "bigint"),
            (["x", None], "text"),
            ([], "bigint"),
        ]:
            cur.execute(f"SELECT %s::{sql_type}[]", [services._pg_array(values)])
            assert cur.fetchone()[0] == values


def _event(i: int, parcel: Parcel, type_: str) -> dict:
    return {
        "event_id": f"p{i}",
        "carrier": "ZTO",
        "tracking_number": parcel.tracking_number,
        "type": type_,
        "occurred_at": (T0 + dt.timedelta(minutes=i)).isoformat(),
    }


def _setting() -> str:
    with connection.cursor() as cur:
        cur.execute("SELECT current_setting('random_page_cost')")
        return str(cur.fetchone()[0])


@pytest.mark.django_db
def test_a_batch_inside_a_callers_transaction_leaves_its_planner_setting():
    make_region_tree()
    make_station(VILLAGE, "active")
    services.manifest_intake(scope=NATIONAL, carrier_code="ZTO", rows=[row(0)], occurred_at=T0)
    parcel = Parcel.objects.get()
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cur:
                cur.execute("SET LOCAL random_page_cost = 2.5")
        statuses = services.scan_events_record(
            scope=NATIONAL, events=[_event(1, parcel, sm.RECEIVED_AT_COUNTY)]
        )
        assert statuses == [{"event_id": "p1", "status": services.APPLIED}]
        if connection.vendor == "postgresql":
            assert _setting() == "2.5"
    assert Parcel.objects.get().state == sm.RECEIVED_AT_COUNTY


@pytest.mark.django_db(transaction=True)
def test_a_foreign_key_failing_at_commit_is_a_conflict_and_writes_nothing():
    """The event's actor is checked at commit (a deferred foreign key): a user deleted
    while the batch ran answers 409, not a server error, and nothing is stored."""
    make_region_tree()
    make_station(VILLAGE, "active")
    services.manifest_intake(scope=NATIONAL, carrier_code="ZTO", rows=[row(0)], occurred_at=T0)
    parcel = Parcel.objects.get()
    before = ScanEvent.objects.count()
    gone = types.SimpleNamespace(pk=987_654)  # no such user
    with pytest.raises(ApplicationError) as err:
        services.scan_events_record(
            scope=NATIONAL, events=[_event(1, parcel, sm.RECEIVED_AT_COUNTY)], actor=gone
        )
    assert (err.value.code, err.value.status) == ("conflict", 409)
    assert ScanEvent.objects.count() == before
    assert Parcel.objects.get().state == sm.ANNOUNCED
