"""Pickup-code guessing is limited (ADR 0028): failures per station and per parcel in a
sliding window, then the hand-out is refused — even with the right code — until the
window has passed; every failure and every hand-out by phone and name is audited."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.utils import timezone

from cunzhan.accounts.roles import Role
from cunzhan.core.errors import ApplicationError
from cunzhan.core.models import AuditEvent
from cunzhan.logistics import services
from cunzhan.logistics import statemachine as sm
from cunzhan.logistics.models import Parcel, PickupFailure
from tests.logistics.updown_helpers import NATIONAL, parcel_at_station


def _wrong_code(right: str) -> str:
    return "000000" if right != "000000" else "111111"


def _try(station, **kw) -> str:
    try:
        services.parcel_pick_up(scope=NATIONAL, station=station, **kw)
    except ApplicationError as exc:
        return exc.code
    return "ok"


@pytest.fixture
def manager(make_user, regions):
    return make_user(Role.COUNTY_MANAGER, regions=["520204"])


@pytest.fixture
def now():
    start = timezone.now().replace(microsecond=0)
    with time_machine.travel(start, tick=False) as traveller:
        yield traveller


def test_the_201st_guess_is_refused_and_the_right_code_waits_for_the_window(station, now):
    p = parcel_at_station(station, 1, at=timezone.now() - dt.timedelta(hours=1))
    wrong = _wrong_code(p.pickup_code)
    answers = [_try(station, code=wrong) for _ in range(201)]
    # the first failures are answered "no match", then the station is locked
    assert answers[0] == "no_match"
    assert answers[200] == "pickup_locked"
    assert answers.count("no_match") == services.PICKUP_MAX_FAILURES_STATION
    # failures are recorded and audited; refusals are audited, not counted
    assert PickupFailure.objects.count() == services.PICKUP_MAX_FAILURES_STATION
    assert (
        AuditEvent.objects.filter(action="pickup_failed").count()
        == services.PICKUP_MAX_FAILURES_STATION
    )
    assert AuditEvent.objects.filter(action="pickup_locked").count() == 181
    # the right code is refused too, with a clear message and the time to come back
    with pytest.raises(ApplicationError) as err:
        services.parcel_pick_up(scope=NATIONAL, station=station, code=p.pickup_code)
    assert err.value.code == "pickup_locked" and err.value.status == 429
    assert "retry_at" in err.value.details
    assert Parcel.objects.get(pk=p.pk).state == sm.AT_STATION
    # still locked just before the window ends, open after it
    now.shift(services.PICKUP_WINDOW - dt.timedelta(seconds=1))
    assert _try(station, code=p.pickup_code) == "pickup_locked"
    now.shift(dt.timedelta(seconds=2))
    assert _try(station, code=p.pickup_code) == "ok"
    assert Parcel.objects.get(pk=p.pk).state == sm.PICKED_UP


def test_a_parcel_is_locked_after_wrong_names_for_its_phone(station, now):
    p = parcel_at_station(station, 2, at=timezone.now() - dt.timedelta(hours=1))
    other = parcel_at_station(
        station, 3, at=timezone.now() - dt.timedelta(hours=1), phone="13800009999"
    )
    last4 = p.phone_last4
    for n in range(services.PICKUP_MAX_FAILURES_PARCEL):
        assert _try(station, phone_last4=last4, name=f"李{n}") == "no_match"
    # the guesses counted against this parcel: even its code is refused now
    assert PickupFailure.objects.filter(parcel=p).count() == services.PICKUP_MAX_FAILURES_PARCEL
    assert _try(station, code=p.pickup_code) == "pickup_locked"
    assert _try(station, phone_last4=last4, name=p.recipient_name) == "pickup_locked"
    # the station is not locked: another recipient collects as usual
    assert _try(station, code=other.pickup_code) == "ok"
    now.shift(services.PICKUP_WINDOW + dt.timedelta(seconds=1))
    assert _try(station, code=p.pickup_code) == "ok"


def test_a_hand_out_by_phone_and_name_is_audited(station):
    p = parcel_at_station(station, 4)
    handed = services.parcel_pick_up(
        scope=NATIONAL, station=station, phone_last4=p.phone_last4, name=p.recipient_name
    )
    assert [h.pk for h in handed] == [p.pk]
    (entry,) = AuditEvent.objects.filter(action="pickup_by_phone_name")
    assert entry.object_id == str(p.uuid) and entry.personal_data
    assert entry.after["recipient_name"] == p.recipient_name
    assert entry.after["station"] == station.code
    # a hand-out by code is not (the code is the proof)
    q = parcel_at_station(station, 5)
    services.parcel_pick_up(scope=NATIONAL, station=station, code=q.pickup_code)
    assert AuditEvent.objects.filter(action="pickup_by_phone_name").count() == 1


def test_the_limits_hold_on_the_api_with_a_clear_answer(station, manager, api_client):
    p = parcel_at_station(station, 6)
    c = api_client(manager)
    url = f"/api/v1/logistics/stations/{station.pk}/pickup"
    wrong = _wrong_code(p.pickup_code)
    codes = [
        c.post(url, {"code": wrong}, content_type="application/json").status_code
        for _ in range(services.PICKUP_MAX_FAILURES_STATION + 1)
    ]
    assert codes[:-1] == [404] * services.PICKUP_MAX_FAILURES_STATION and codes[-1] == 429
    r = c.post(url, {"code": p.pickup_code}, content_type="application/json")
    assert r.status_code == 429 and r.json()["code"] == "pickup_locked"
    assert r.json()["details"]["retry_at"]


def test_a_retried_hand_out_with_its_key_is_the_same_hand_out(station):
    """A device retries a hand-out that went through (the answer was lost): the same key
    gives the same parcels, writes no second event and counts no failed attempt; the
    event id carries the hand-out prefix the commissions recognise."""
    p = parcel_at_station(station, 1, at=timezone.now() - dt.timedelta(hours=1))
    first = services.parcel_pick_up(
        scope=NATIONAL, station=station, code=p.pickup_code, event_id="dev-7:req-1"
    )
    again = services.parcel_pick_up(
        scope=NATIONAL, station=station, code=p.pickup_code, event_id="dev-7:req-1"
    )
    assert [x.pk for x in first] == [x.pk for x in again] == [p.pk]
    events = p.events.filter(type=sm.PICKED_UP)
    assert list(events.values_list("event_id", flat=True)) == ["pickup:dev-7:req-1"]
    assert PickupFailure.objects.count() == 0
    # another key for the same code is a new attempt: nothing waits any more
    assert _try(station, code=p.pickup_code, event_id="dev-7:req-2") == "no_match"
