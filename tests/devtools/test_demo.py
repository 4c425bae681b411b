"""The demo: built through the services from the real data, deterministic, idempotent."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.management import call_command
from django.utils import timezone

from cunzhan.accounts.models import User
from cunzhan.accounts.roles import Role
from cunzhan.core.errors import ApplicationError
from cunzhan.devtools.demo import DEMO_PASSWORD, demo_build
from cunzhan.impact.models import IndicatorValue
from cunzhan.logistics.models import Parcel
from cunzhan.network.models import Kind, Region, Station, StationKind, StationStatus
from cunzhan.registry.models import Household


@pytest.mark.slow
@pytest.mark.django_db
def test_demo_for_one_county_is_complete_and_idempotent():
    # the history stops at yesterday's cut-off on both builds, whatever the hour now
    yesterday = timezone.localdate() - dt.timedelta(days=1)
    until = dt.datetime.combine(yesterday, dt.time(6, 59), tzinfo=timezone.get_current_timezone())
    report = demo_build(
        only_counties=["520201"],
        households_per_village=1,
        history_days=3,
        until=until,
        echo=lambda _m: None,
    )
    zhongshan = Station.objects.filter(region__code__startswith="520201")
    townships = Region.objects.filter(parent_id="520201", level=4).exclude(kind=Kind.OTHER_TOWNSHIP)
    assert zhongshan.filter(kind=StationKind.COUNTY_CENTRE).count() == 1
    assert zhongshan.filter(kind=StationKind.TOWNSHIP_DEPOT).count() == townships.count() == 17
    villages = Region.objects.filter(code__startswith="520201", level=5, kind=Kind.VILLAGE)
    n_village_stations = zhongshan.filter(kind=StationKind.VILLAGE_STATION).count()
    # 钟山 is not a poverty county: a minority of its 村委会 get a station
    assert 0 < n_village_stations < villages.count() * 0.6
    statuses = set(zhongshan.values_list("status", flat=True))
    assert StationStatus.ACTIVE in statuses
    assert statuses <= {StationStatus.ACTIVE, StationStatus.UNDER_REVIEW, StationStatus.PROPOSED}
    # active stations went through the whole onboarding workflow and have their operator;
    # the others are applications still waiting (the county's review queue)
    for station in zhongshan:
        operator = User.objects.filter(assignments__station=station, role=Role.STATION_OPERATOR)
        if station.status == StationStatus.ACTIVE:
            assert station.application.decision == "approved"
            assert operator.exists()
        else:
            assert station.kind == StationKind.VILLAGE_STATION
            assert station.application.decision == "pending"
            assert not operator.exists()
    applicants = {s.application.applicant_name for s in zhongshan}
    assert len(applicants) > zhongshan.count() // 2  # plausible, varied names
    assert not any("负责人" in name for name in applicants)
    roles = {User.objects.get(username=u).role for u, _r, _w in report.logins}
    assert roles == set(Role.values)
    assert User.objects.get(username="admin").check_password(DEMO_PASSWORD)
    households = Household.objects.filter(village__code__startswith="520201").count()
    assert households > 0
    # the history: the simulator's days (its first county of the selection), parcels on
    # each of them, and the indicators refreshed over them
    parcels = Parcel.objects.filter(village__code__startswith="520201")
    assert len({p.tracking_number[2:8] for p in parcels}) == 3
    days = set(
        IndicatorValue.objects.filter(region_code="520201", period_type="day").values_list(
            "period_start", flat=True
        )
    )
    # the three simulated days end at yesterday's 06:59: the two whole days before it have
    # their day cells (the cut day has nothing delivered yet). Not a count of days: cells
    # on other days (records with fixed dates, within 14 days of today only in some
    # months) made a count pass or fail by the calendar
    assert {yesterday - dt.timedelta(days=2), yesterday - dt.timedelta(days=1)} <= days

    again = demo_build(
        only_counties=["520201"],
        households_per_village=1,
        history_days=3,
        import_regions=False,
        until=until,
        echo=lambda _m: None,
    )
    assert again.stations_created == 0 and again.users_created == 0
    assert Station.objects.filter(region__code__startswith="520201").count() == zhongshan.count()
    assert Household.objects.filter(village__code__startswith="520201").count() == households
    assert Parcel.objects.filter(village__code__startswith="520201").count() == parcels.count()


@pytest.mark.django_db
def test_demo_without_regions_says_what_to_do():
    with pytest.raises(ApplicationError) as exc:
        demo_build(import_regions=False, echo=lambda _m: None)
    assert "regions import" in exc.value.message


@pytest.mark.django_db
def test_demo_command_rejects_a_county_outside_liupanshui(regions):
    Region.objects.filter(code="5202").update(name="六盘水市")
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="530102"):
        call_command("demo", "--no-import", "--county", "530102")


@pytest.mark.django_db
def test_demo_refuses_where_the_sandbox_is_off(regions):
    """The demo pays through the sandbox and prints its logins' password: never on a
    production database. Refused before anything is written (ADR 0023)."""
    from django.core.management.base import CommandError
    from django.test import override_settings

    users = User.objects.count()
    with (
        override_settings(DEBUG=False, PAYMENTS_SANDBOX_ENABLED=False),
        pytest.raises(CommandError, match="CUNZHAN_PAYMENTS_SANDBOX_ENABLED"),
    ):
        call_command("demo", "--no-import", "--county", "520204", "--days", "1")
    assert User.objects.count() == users
    assert not Station.objects.exists() and not Household.objects.exists()
