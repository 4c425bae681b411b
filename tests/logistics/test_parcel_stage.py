"""The parcel's stage: computed by the database from its state, used by the indexes and
by ``in_states`` (docs/adr/0010-event-ingest.md, addendum "Stages")."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection

from cunzhan.core.scope import RegionScope
from cunzhan.logistics import services
from cunzhan.logistics import statemachine as sm
from cunzhan.logistics.models import Parcel, in_states
from tests.factories.regions import make_region_tree
from tests.factories.stations import make_station
from tests.logistics.conftest import VILLAGE, row

NATIONAL = RegionScope.national()
T0 = dt.datetime(2026, 11, 2, 8, tzinfo=dt.UTC)


def test_every_state_has_a_stage():
    assert set(sm.STAGE_OF) == {sm.NONE, *sm.STATES}
    assert sm.stages(sm.AT_STATION) == [sm.WAITING]
    assert sm.stages(sm.SORTED, sm.PICKED_UP, sm.LOADED) == [sm.INBOUND, sm.DONE]
    # the waiting stage is the at_station state alone: the unique pickup code and the
    # phone index are defined on it
    assert [s for s, k in sm.STAGE_OF.items() if k == sm.WAITING] == [sm.AT_STATION]


@pytest.mark.django_db
def test_the_database_computes_the_stage_of_every_state():
    make_region_tree()
    make_station(VILLAGE, "active")
    services.manifest_intake(
        scope=NATIONAL,
        carrier_code="ZTO",
        rows=[row(i) for i in range(len(sm.STAGE_OF))],
        occurred_at=T0,
    )
    parcels = list(Parcel.objects.order_by("pk"))
    for p, state in zip(parcels, sorted(sm.STAGE_OF), strict=True):
        Parcel.objects.filter(pk=p.pk).update(state=state)  # the column, not the events
    got = dict(Parcel.objects.values_list("state", "stage"))
    assert got == sm.STAGE_OF
    found = Parcel.objects.filter(in_states(sm.SORTED, sm.LOST)).values_list("state", flat=True)
    assert sorted(found) == [sm.LOST, sm.SORTED]
    assert Parcel.objects.filter(in_states(sm.AT_STATION)).get().state == sm.AT_STATION


@pytest.mark.django_db
def test_no_index_of_the_parcel_table_holds_the_state():
    with connection.cursor() as cur:
        found = connection.introspection.get_constraints(cur, Parcel._meta.db_table)
    indexed = {
        c for info in found.values() if info["index"] or info["unique"] for c in info["columns"]
    }
    assert "stage" in indexed
    assert "state" not in indexed


@pytest.mark.django_db
def test_a_state_change_within_a_stage_rewrites_no_index():
    """received -> sorted -> loaded stay in the inbound stage: PostgreSQL updates the
    row in place of its page (HOT), writing none of the table's indexes; arriving at the
    station changes the stage, so that update writes them (its counters are checked on
    PostgreSQL; the stages on both databases)."""
    make_region_tree()
    station = make_station(VILLAGE, "active")
    services.manifest_intake(scope=NATIONAL, carrier_code="ZTO", rows=[row(0)], occurred_at=T0)
    parcel = Parcel.objects.get()

    def counts() -> tuple[int, int]:
        if connection.vendor != "postgresql":
            return (0, 0)
        with connection.cursor() as cur:
            # this transaction's own counters (pg_stat_xact_*): no wait for the collector
            cur.execute(
                "SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_xact_user_tables "
                "WHERE relname = 'logistics_parcel'"
            )
            return cur.fetchone()

    def scan(i: int, type_: str) -> None:
        services.scan_events_record(
            scope=NATIONAL,
            events=[
                {
                    "event_id": f"e{i}",
                    "carrier": "ZTO",
                    "tracking_number": parcel.tracking_number,
                    "type": type_,
                    "occurred_at": (T0 + dt.timedelta(minutes=i)).isoformat(),
                    "station_code": station.code if type_ == sm.AT_STATION else "",
                }
            ],
        )

    upd0, hot0 = counts()
    for i, t in enumerate([sm.RECEIVED_AT_COUNTY, sm.SORTED, sm.LOADED], start=1):
        scan(i, t)
    upd1, hot1 = counts()
    assert Parcel.objects.get().stage == sm.INBOUND
    scan(4, sm.AT_STATION)
    upd2, hot2 = counts()
    assert Parcel.objects.get().stage == sm.WAITING
    if connection.vendor == "postgresql":
        assert (upd1 - upd0, hot1 - hot0) == (3, 3)
        assert (upd2 - upd1, hot2 - hot1) == (1, 0)
