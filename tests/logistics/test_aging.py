"""Aging per county: one reminder SMS after reminder_days, return_due after
return_days (through the scan-event service), idempotent; the overdue selector; the
management command and the API button."""

from __future__ import annotations

import datetime as dt
import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from cunzhan.accounts.roles import Role
from cunzhan.core.scope import RegionScope
from cunzhan.logistics import aging, county_settings
from cunzhan.logistics import statemachine as sm
from cunzhan.logistics.models import ParcelException, ParcelReminder, ScanEvent, SmsMessage
from tests.logistics.updown_helpers import NATIONAL, T0, event, parcel_at_station, post

DAY = dt.timedelta(days=1)


def test_reminder_once_then_return_due_once(station):
    p = parcel_at_station(station, 1)
    sms_before = SmsMessage.objects.filter(parcel=p).count()  # the pickup code
    # defaults: reminder after 3 days, return after 7
    r = aging.aging_run(scope=NATIONAL, at=T0 + 2 * DAY + dt.timedelta(hours=23))
    assert (r.reminders_sent, r.returns_due) == (0, 0)
    r = aging.aging_run(scope=NATIONAL, at=T0 + 3 * DAY)
    assert (r.reminders_sent, r.returns_due) == (1, 0) and r.counties == ["520204"]
    reminder = ParcelReminder.objects.get(parcel=p)
    assert reminder.days_waited == 3
    texts = list(SmsMessage.objects.filter(parcel=p).values_list("text", flat=True))
    assert len(texts) == sms_before + 1 and "等候3天" in texts[0]
    for days in (4, 5, 6):  # never twice
        assert aging.aging_run(scope=NATIONAL, at=T0 + days * DAY).reminders_sent == 0
    assert SmsMessage.objects.filter(parcel=p).count() == sms_before + 1
    r = aging.aging_run(scope=NATIONAL, at=T0 + 7 * DAY)
    assert (r.reminders_sent, r.returns_due) == (0, 1)
    p.refresh_from_db()
    assert p.state == sm.RETURN_DUE and p.pickup_code == ""
    ev = ScanEvent.objects.get(event_id=f"aging:return:{p.pk}")
    assert ev.type == sm.RETURN_DUE and ev.station_id == station.pk
    assert aging.aging_run(scope=NATIONAL, at=T0 + 8 * DAY).returns_due == 0
    assert ScanEvent.objects.filter(parcel=p, type=sm.RETURN_DUE).count() == 1
    # returns flow up: the next run collects it
    assert event(p, sm.COLLECTED, T0 + 8 * DAY, station) == "applied"
    assert not ParcelException.objects.filter(parcel=p).exists()


def test_a_parcel_first_seen_after_return_days_is_sent_back_without_reminder(station):
    p = parcel_at_station(station, 2)
    r = aging.aging_run(scope=NATIONAL, at=T0 + 10 * DAY)
    assert (r.reminders_sent, r.returns_due) == (0, 1)
    assert not ParcelReminder.objects.filter(parcel=p).exists()


def test_county_settings_drive_the_days(station):
    county_settings.county_settings_update(
        scope=NATIONAL, county_code="520204", reminder_days=1, return_days=2
    )
    p = parcel_at_station(station, 3)
    assert aging.aging_run(scope=NATIONAL, at=T0 + DAY).reminders_sent == 1
    assert aging.aging_run(scope=NATIONAL, at=T0 + 2 * DAY).returns_due == 1
    p.refresh_from_db()
    assert p.state == sm.RETURN_DUE


def test_picked_up_parcels_are_not_aged(station):
    p = parcel_at_station(station, 4)
    assert event(p, sm.PICKED_UP, T0 + DAY, station) == "applied"
    r = aging.aging_run(scope=NATIONAL, at=T0 + 30 * DAY)
    assert (r.reminders_sent, r.returns_due) == (0, 0)


def test_overdue_parcels_selector(station):
    old = parcel_at_station(station, 5, at=T0 - 8 * DAY)
    mid = parcel_at_station(station, 6, at=T0 - 4 * DAY)
    parcel_at_station(station, 7, at=T0 - 1 * DAY)  # not overdue yet
    at = T0 + dt.timedelta(hours=1)
    rows = aging.overdue_parcels(scope=NATIONAL, at=at)
    assert [(o.parcel.pk, o.days_waited, o.return_due) for o in rows] == [
        (old.pk, 8, True),
        (mid.pk, 4, False),
    ]
    assert not any(o.reminder_sent for o in rows)
    aging.aging_run(scope=NATIONAL, at=at)  # sends old back, reminds mid
    rows = aging.overdue_parcels(scope=NATIONAL, station=station, at=at)
    assert [(o.parcel.pk, o.reminder_sent) for o in rows] == [(mid.pk, True)]
    assert aging.overdue_parcels(scope=RegionScope.for_regions(["520203"]), at=at) == []


def test_command(station):
    p = parcel_at_station(station, 8)
    out = StringIO()
    at = (T0 + 7 * DAY).isoformat()
    call_command("logistics_age", "--county", "520204", "--at", at, stdout=out)
    assert json.loads(out.getvalue())["returns_due"] == 1
    out = StringIO()
    call_command("logistics_age", "--at", at, stdout=out)
    assert json.loads(out.getvalue())["returns_due"] == 0
    p.refresh_from_db()
    assert p.state == sm.RETURN_DUE
    with pytest.raises(CommandError, match="time zone"):
        call_command("logistics_age", "--at", "2026-11-09T08:00")
    with pytest.raises(CommandError, match="ISO"):
        call_command("logistics_age", "--at", "yesterday")
    with pytest.raises(CommandError, match="unknown county"):
        call_command("logistics_age", "--county", "999999")


def test_api_run_aging_now(station, make_user, api_client):
    parcel_at_station(station, 9, at=T0 - 10 * DAY)
    manager = make_user(Role.COUNTY_MANAGER, regions=["520204"])
    r = post(api_client(manager), "/api/v1/logistics/aging/520204/run", {})
    assert r.status_code == 200, r.content
    assert r.json()["returns_due"] == 1
    other = make_user(Role.COUNTY_MANAGER, regions=["520203"])
    assert post(api_client(other), "/api/v1/logistics/aging/520204/run", {}).status_code == 404
    driver = make_user(Role.DRIVER, regions=["520204"])
    assert post(api_client(driver), "/api/v1/logistics/aging/520204/run", {}).status_code == 403


def test_a_live_run_sends_back_at_the_time_of_writing_and_spares_a_hand_out(station, monkeypatch):
    """A hand-out that happens while a live run is going (after it read the overdue
    list) must leave the parcel picked up, not send it back from the recipient's hands."""
    from cunzhan.logistics import services
    from cunzhan.logistics.models import Parcel

    old = parcel_at_station(station, 5, at=T0)  # waited far more than 7 days by now
    handed = parcel_at_station(station, 6, at=T0)
    started = dt.datetime.now(dt.UTC)
    real_waiting = aging._waiting
    calls = {"n": 0}

    def waiting_then_hand_out(scope):
        calls["n"] += 1
        if calls["n"] == 2:  # the run read its list; now someone hands parcel 6 out
            services.parcel_pick_up(scope=NATIONAL, station=station, code=handed.pickup_code)
        return real_waiting(scope)

    monkeypatch.setattr(aging, "_waiting", waiting_then_hand_out)
    r = aging.aging_run(scope=NATIONAL, county_code="520204")
    assert r.returns_due == 1
    ev = ScanEvent.objects.get(parcel=old, type=sm.RETURN_DUE)
    assert ev.occurred_at >= started  # the time of writing, not a fixed start time
    assert Parcel.objects.get(pk=handed.pk).state == sm.PICKED_UP
    assert not ScanEvent.objects.filter(parcel=handed, type=sm.RETURN_DUE).exists()
