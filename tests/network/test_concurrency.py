"""Two county managers decide the same application at the same moment: exactly one wins."""

from __future__ import annotations

import threading

import pytest
from django.db import OperationalError, connection
from tests.factories.concurrency import assert_one_winner
from tests.factories.stations import make_station

from cunzhan.accounts.roles import Role
from cunzhan.core.errors import ApplicationError
from cunzhan.network.models import StationApplication
from cunzhan.network.services import station_review


@pytest.mark.django_db(transaction=True)
def test_concurrent_approve_and_reject_one_wins(regions, make_user):
    station = make_station("520204106201", "under_review")
    managers = [make_user(Role.COUNTY_MANAGER, regions=["520204"]) for _ in range(2)]
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def decide(actor, approve: bool) -> None:
        try:
            barrier.wait()
            station_review(station=station, approve=approve, note="并发审核", actor=actor)
            outcomes.append("ok")
        except ApplicationError as exc:
            outcomes.append(exc.code)
        except OperationalError as exc:  # see assert_one_winner()
            outcomes.append("locked" if "locked" in str(exc) else repr(exc))
        finally:
            connection.close()

    threads = [
        threading.Thread(target=decide, args=(managers[0], True)),
        threading.Thread(target=decide, args=(managers[1], False)),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert_one_winner(outcomes, "illegal_transition")
    app = StationApplication.objects.get(station=station)
    station.refresh_from_db()
    # the record is consistent with whichever decision won
    assert (app.decision, station.status) in {
        ("approved", "under_review"),
        ("rejected", "closed"),
    }
